# SPDX-License-Identifier: MIT
#
# Preprocesses each source (one testing-kit adapter included without its test
# framework) and expects the preprocessor to stop with the adapter's message,
# which names the header to include first. Used by the CTest test
# adapters_need_their_framework (tests/build_checks.cmake).
#   cmake -DCOMPILER=c++ -DINCLUDE_DIR=include -DSOURCES="a.cpp;b.cpp" -P expect_adapter_error.cmake
cmake_minimum_required(VERSION 3.25)
foreach(source IN LISTS SOURCES)
    get_filename_component(adapter "${source}" NAME_WE)
    if(adapter STREQUAL "doctest")
        set(expected "include <doctest/doctest.h> before it")
    else()
        set(expected "include Catch2 \\(<catch2/catch.hpp>\\) before it")
    endif()
    execute_process(
        COMMAND "${COMPILER}" -std=c++20 -E "-I${INCLUDE_DIR}" "${source}"
        RESULT_VARIABLE status
        OUTPUT_VARIABLE output
        ERROR_VARIABLE output)
    if(status EQUAL 0)
        message(FATAL_ERROR "canarygate/testing/${adapter}.hpp compiled without its framework")
    endif()
    if(NOT output MATCHES "${expected}")
        message(FATAL_ERROR "canarygate/testing/${adapter}.hpp failed without its framework, "
                            "but not with its message (expected '${expected}'):\n${output}")
    endif()
    message(STATUS "${adapter}.hpp without its framework: refused with its message")
endforeach()
