# SPDX-License-Identifier: MIT
#
# The tree is formatted as .clang-format says: every C++ file of include/,
# tests/, benchmarks/, examples/ and fuzz/, except the generated tables
# (tests/generated/; bucket_tables.hpp switches clang-format off itself).
# Fix with: clang-format -i <the files listed>.
#   cmake -DCLANG_FORMAT=<clang-format> -DSOURCE_DIR=<repository> -P check_format.cmake
cmake_minimum_required(VERSION 3.25)
if(NOT CLANG_FORMAT OR NOT EXISTS "${CLANG_FORMAT}")
    message(FATAL_ERROR "check_format: clang-format not found ('${CLANG_FORMAT}'); install the Debian "
                        "package clang-format and re-run cmake")
endif()
set(files "")
foreach(dir IN ITEMS include tests benchmarks examples fuzz)
    file(GLOB_RECURSE found "${SOURCE_DIR}/${dir}/*.hpp" "${SOURCE_DIR}/${dir}/*.cpp")
    list(APPEND files ${found})
endforeach()
list(FILTER files EXCLUDE REGEX "/tests/generated/")
list(SORT files)
list(LENGTH files count)
set(unformatted "")
foreach(file IN LISTS files)
    execute_process(COMMAND "${CLANG_FORMAT}" --dry-run --Werror "--style=file" "${file}"
        RESULT_VARIABLE result OUTPUT_QUIET ERROR_QUIET)
    if(NOT result EQUAL 0)
        file(RELATIVE_PATH relative "${SOURCE_DIR}" "${file}")
        list(APPEND unformatted "${relative}")
    endif()
endforeach()
if(unformatted)
    list(JOIN unformatted "\n  " listing)
    message(FATAL_ERROR "check_format: not formatted (clang-format -i them):\n  ${listing}")
endif()
message(STATUS "check_format: ${count} files are formatted")
