# SPDX-License-Identifier: MIT
#
# Checks of the library's build rather than its behaviour (label `build`),
# switched on per preset: they do not depend on the compiler's code
# generation, so one preset runs each.
#   CANARYGATE_CHECK_HEADERS       every public header compiles on its own
#   CANARYGATE_CHECK_LAYERS        a header includes only its own layer and those below
#   CANARYGATE_CHECK_NO_EXCEPTIONS every public header compiles with -fno-exceptions,
#                                  and a program built so aborts with the message
#   CANARYGATE_CHECK_FORMAT        the tree is formatted as .clang-format says
#   CANARYGATE_CHECK_DOCS          the README quotes its compiled examples verbatim;
#                                  no page links to files users do not have
# Included by tests/CMakeLists.txt.
option(CANARYGATE_CHECK_HEADERS "Test that every public header compiles on its own" ON)
option(CANARYGATE_CHECK_LAYERS "Test the include rule between layers" ON)
option(CANARYGATE_CHECK_NO_EXCEPTIONS "Test the headers without exceptions" OFF)
option(CANARYGATE_CHECK_FORMAT "Test that the tree is clang-formatted" OFF)
option(CANARYGATE_CHECK_DOCS "Test the README's code blocks against the examples" ON)

# --- Every public header compiles on its own ------------------------------------
# canarygate_add_header_check(<test name> [<compile option>...]): an object
# library with one translation unit per public header (of canarygate and of
# every component), compiled without optimisation or debug information (the
# check is about what a header includes, not about code generation, and this
# keeps it several times faster than CMake's own header verification), and a
# test that builds it.
function(canarygate_add_header_check test_name)
    get_target_property(core_headers canarygate HEADER_SET)
    get_target_property(json_headers canarygate_json HEADER_SET)
    get_target_property(testing_headers canarygate_testing HEADER_SET)
    set(sources "")
    foreach(header IN LISTS core_headers json_headers testing_headers)
        file(RELATIVE_PATH relative "${PROJECT_SOURCE_DIR}/include" "${header}")
        string(MAKE_C_IDENTIFIER "${relative}" stem)
        set(source "${CMAKE_CURRENT_BINARY_DIR}/${test_name}/${stem}.cpp")
        # The test-framework adapters need their framework first (and say
        # so if it is missing: the test adapters_need_their_framework).
        set(framework "")
        if(relative STREQUAL "canarygate/testing/doctest.hpp")
            set(framework "#include <doctest/doctest.h>\n")
        elseif(relative STREQUAL "canarygate/testing/catch2.hpp")
            set(framework "#include <catch2/catch.hpp>\n")
        endif()
        file(CONFIGURE OUTPUT "${source}" CONTENT "${framework}#include <${relative}>\n")
        list(APPEND sources "${source}")
    endforeach()
    add_library(${test_name}_headers OBJECT EXCLUDE_FROM_ALL ${sources})
    target_link_libraries(${test_name}_headers PRIVATE canarygate::testing doctest::doctest Catch2::Catch2)
    if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
        target_compile_options(${test_name}_headers PRIVATE -fsyntax-only ${ARGN})
    endif()
    add_test(NAME ${test_name}
        COMMAND "${CMAKE_COMMAND}" --build "${PROJECT_BINARY_DIR}" --target ${test_name}_headers --config $<CONFIG>)
    # RUN_SERIAL: a build uses every core and must not share the build tree.
    set_tests_properties(${test_name} PROPERTIES LABELS build RUN_SERIAL TRUE)
endfunction()

if(CANARYGATE_CHECK_HEADERS)
    canarygate_add_header_check(header_self_containment)
endif()

# Each adapter, included without its framework, stops the build with a
# message that says what to include.
foreach(adapter IN ITEMS doctest catch2)
    set(source "${CMAKE_CURRENT_BINARY_DIR}/adapter_without_framework/${adapter}.cpp")
    file(CONFIGURE OUTPUT "${source}" CONTENT "#include <canarygate/testing/${adapter}.hpp>\n")
    list(APPEND canarygate_adapter_sources "${source}")
endforeach()
add_test(NAME adapters_need_their_framework
    COMMAND "${CMAKE_COMMAND}" "-DCOMPILER=${CMAKE_CXX_COMPILER}"
            "-DINCLUDE_DIR=${PROJECT_SOURCE_DIR}/include" "-DSOURCES=${canarygate_adapter_sources}"
            -P "${CMAKE_CURRENT_SOURCE_DIR}/build/expect_adapter_error.cmake")
set_tests_properties(adapters_need_their_framework PROPERTIES LABELS build)

# --- Layers ----------------------------------------------------------------------
if(CANARYGATE_CHECK_LAYERS)
    add_test(NAME layering
        COMMAND "${CMAKE_COMMAND}" "-DINCLUDE_DIR=${PROJECT_SOURCE_DIR}/include"
                -P "${CMAKE_CURRENT_SOURCE_DIR}/build/check_layers.cmake")
    set_tests_properties(layering PROPERTIES LABELS build)
    # The checker itself, on a tree holding the upward includes the flat
    # layout had (metrics.hpp and attribution.hpp -> snapshot.hpp,
    # calibration.hpp -> testing/, a detail header -> snapshot.hpp) and one
    # violation of every other kind: it must find each of the 8.
    add_test(NAME layering_detects_violations
        COMMAND "${CMAKE_COMMAND}" "-DINCLUDE_DIR=${CMAKE_CURRENT_SOURCE_DIR}/build/bad_layers/include"
                -DEXPECT_VIOLATIONS=8 -P "${CMAKE_CURRENT_SOURCE_DIR}/build/check_layers.cmake")
    set_tests_properties(layering_detects_violations PROPERTIES LABELS build)
endif()

# --- Without exceptions ------------------------------------------------------------
if(CANARYGATE_CHECK_NO_EXCEPTIONS)
    # Every public header, alone, compiled with -fno-exceptions.
    canarygate_add_header_check(headers_without_exceptions -fno-exceptions)

    # A program built without exceptions: records, judges, and reports a bad
    # configuration by aborting with the message (what an exception would carry).
    add_executable(no_exceptions_program build/no_exceptions_program.cpp)
    target_link_libraries(no_exceptions_program PRIVATE canarygate::canarygate)
    target_compile_options(no_exceptions_program PRIVATE -fno-exceptions)
    add_test(NAME no_exceptions_runs COMMAND no_exceptions_program)
    set_tests_properties(no_exceptions_runs PROPERTIES LABELS build
        PASS_REGULAR_EXPRESSION "decision: fail \\(fail: cost ratio")
    add_test(NAME no_exceptions_aborts_with_message
        COMMAND "${CMAKE_COMMAND}" "-DPROGRAM=$<TARGET_FILE:no_exceptions_program>"
                -P "${CMAKE_CURRENT_SOURCE_DIR}/build/expect_abort.cmake")
    set_tests_properties(no_exceptions_aborts_with_message PROPERTIES LABELS build)
endif()

# --- Formatting ----------------------------------------------------------------------
if(CANARYGATE_CHECK_FORMAT)
    find_program(CANARYGATE_CLANG_FORMAT NAMES clang-format-14 clang-format
        DOC "clang-format (Debian package clang-format), for the test formatting")
    mark_as_advanced(CANARYGATE_CLANG_FORMAT)
    add_test(NAME formatting
        COMMAND "${CMAKE_COMMAND}" "-DCLANG_FORMAT=${CANARYGATE_CLANG_FORMAT}" "-DSOURCE_DIR=${PROJECT_SOURCE_DIR}"
                -P "${CMAKE_CURRENT_SOURCE_DIR}/build/check_format.cmake")
    set_tests_properties(formatting PROPERTIES LABELS build)
endif()

# --- Documentation -----------------------------------------------------------------
if(CANARYGATE_CHECK_DOCS)
    find_package(Python3 3.9 REQUIRED COMPONENTS Interpreter)
    add_test(NAME readme_examples
        COMMAND Python3::Interpreter "${CMAKE_CURRENT_SOURCE_DIR}/build/check_readme.py" "${PROJECT_SOURCE_DIR}")
    set_tests_properties(readme_examples PROPERTIES LABELS build)
endif()
