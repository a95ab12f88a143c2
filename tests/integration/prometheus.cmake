# SPDX-License-Identifier: MIT
#
# Prometheus text exposition (include/canarygate/integration/prometheus.hpp): format and
# histogram invariants checked by a parser in the tests, classic bucket
# derivation and its error bound, option validation, and `promtool check
# metrics` on a realistic exposition. Included by tests/CMakeLists.txt.

# Prints the exposition of a realistic baseline / candidate / shadow snapshot.
add_executable(prometheus_dump "${CMAKE_CURRENT_LIST_DIR}/prometheus_dump.cpp")
target_include_directories(prometheus_dump PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}")
target_link_libraries(prometheus_dump PRIVATE canarygate::canarygate)

# promtool comes with Debian's `prometheus` package. When it is missing the
# test still runs and FAILS with instructions: a missing linter must never
# pass for a clean exposition.
find_program(CANARYGATE_PROMTOOL_EXECUTABLE promtool
    DOC "promtool (Debian package prometheus), for the test prometheus_promtool_check")
mark_as_advanced(CANARYGATE_PROMTOOL_EXECUTABLE)
if(NOT CANARYGATE_PROMTOOL_EXECUTABLE)
    message(STATUS "promtool not found: the test prometheus_promtool_check will fail "
                   "(install the Debian package prometheus)")
endif()

# The test script, written into the build tree: this directory's *.cmake files
# are included by tests/CMakeLists.txt, so a script here would run at
# configure time. For each bucket preset: dump to a file (kept for reading
# after a failure), then feed it to `promtool check metrics` on stdin, which
# must exit 0 (3 = lint problems, 1 = parse error).
file(CONFIGURE OUTPUT "${CMAKE_CURRENT_BINARY_DIR}/prometheus_promtool_check.cmake"
    CONTENT [==[
if(NOT PROMTOOL OR NOT EXISTS "${PROMTOOL}")
    message(FATAL_ERROR
        "prometheus_promtool_check: promtool not found (CANARYGATE_PROMTOOL_EXECUTABLE = "
        "'${PROMTOOL}'). Install the Debian package 'prometheus', which provides "
        "/usr/bin/promtool, or set CANARYGATE_PROMTOOL_EXECUTABLE, then re-run cmake.")
endif()
foreach(preset IN ITEMS vllm opentelemetry powers_of_two)
    set(exposition "${WORK_DIR}/prometheus_exposition_${preset}.txt")
    execute_process(COMMAND "${DUMP}" ${preset}
        OUTPUT_FILE "${exposition}" ERROR_VARIABLE dump_error RESULT_VARIABLE dump_result)
    file(SIZE "${exposition}" exposition_size)
    if(NOT dump_result EQUAL 0 OR exposition_size EQUAL 0)
        message(FATAL_ERROR "prometheus_dump ${preset} failed (exit ${dump_result}, "
                            "${exposition_size} bytes): ${dump_error}")
    endif()
    execute_process(COMMAND "${PROMTOOL}" check metrics
        INPUT_FILE "${exposition}"
        OUTPUT_VARIABLE promtool_output ERROR_VARIABLE promtool_output
        RESULT_VARIABLE promtool_result)
    message(STATUS "promtool check metrics < ${exposition} (${exposition_size} bytes): "
                   "exit ${promtool_result}")
    if(NOT promtool_result EQUAL 0)
        message(FATAL_ERROR "promtool check metrics rejected the '${preset}' exposition "
                            "(exit ${promtool_result}; 3 = lint problems, 1 = parse error):\n"
                            "${promtool_output}")
    endif()
endforeach()
]==] @ONLY)

add_test(NAME prometheus_promtool_check
    COMMAND "${CMAKE_COMMAND}"
        "-DDUMP=$<TARGET_FILE:prometheus_dump>"
        "-DPROMTOOL=${CANARYGATE_PROMTOOL_EXECUTABLE}"
        "-DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}"
        -P "${CMAKE_CURRENT_BINARY_DIR}/prometheus_promtool_check.cmake")
set_tests_properties(prometheus_promtool_check PROPERTIES LABELS "unit;prometheus")
