# SPDX-License-Identifier: MIT
#
# The shadow stage's alerting rules (examples/prometheus/shadow_alerts.yml),
# checked and unit-tested by promtool:
#   prometheus_shadow_rules_check  `promtool check rules` (syntax, PromQL,
#                                  templates; duplicate rules are fatal)
#   prometheus_shadow_rules_test   `promtool test rules` on
#                                  examples/prometheus/shadow_alerts_test.yml
# Nothing to compile. Included by tests/CMakeLists.txt right after
# prometheus.cmake, whose CANARYGATE_PROMTOOL_EXECUTABLE it reuses: when
# promtool is missing the tests still run and FAIL with instructions, as
# prometheus_promtool_check does.

set(canarygate_shadow_rules_dir "${PROJECT_SOURCE_DIR}/examples/prometheus")
if(NOT CANARYGATE_PROMTOOL_EXECUTABLE)
    message(STATUS "promtool not found: the tests prometheus_shadow_rules_check and "
                   "prometheus_shadow_rules_test will fail (install the Debian package prometheus)")
endif()

# The test script, written into the build tree (a script in this directory
# would run at configure time, see prometheus.cmake). MODE is `check` or
# `test`; promtool's own output goes to the test log as it is.
file(CONFIGURE OUTPUT "${CMAKE_CURRENT_BINARY_DIR}/prometheus_shadow_rules.cmake"
    CONTENT [==[
if(NOT PROMTOOL OR NOT EXISTS "${PROMTOOL}")
    message(FATAL_ERROR
        "prometheus_shadow_rules_${MODE}: promtool not found (CANARYGATE_PROMTOOL_EXECUTABLE = "
        "'${PROMTOOL}'). Install the Debian package 'prometheus', which provides "
        "/usr/bin/promtool, or set CANARYGATE_PROMTOOL_EXECUTABLE, then re-run cmake.")
endif()
if(MODE STREQUAL "check")
    # --lint-fatal: a lint problem (a duplicated rule) fails too, with exit 3.
    set(arguments check rules --lint=all --lint-fatal "${FILE}")
elseif(MODE STREQUAL "test")
    set(arguments test rules "${FILE}")
else()
    message(FATAL_ERROR "prometheus_shadow_rules: MODE = '${MODE}' (expected check or test)")
endif()
execute_process(COMMAND "${PROMTOOL}" ${arguments} RESULT_VARIABLE promtool_result)
if(NOT promtool_result EQUAL 0)
    list(JOIN arguments " " command_line)
    message(FATAL_ERROR "promtool ${command_line} failed (exit ${promtool_result}): see its "
                        "output above")
endif()
]==] @ONLY)

# Run from the rules' directory: the test file names the rules file by a
# relative path (`rule_files: [shadow_alerts.yml]`). Labels: `unit` like
# prometheus_promtool_check, and `prometheus` to select these two alone
# (ctest -L prometheus).
add_test(NAME prometheus_shadow_rules_check
    COMMAND "${CMAKE_COMMAND}"
        "-DPROMTOOL=${CANARYGATE_PROMTOOL_EXECUTABLE}" -DMODE=check
        "-DFILE=${canarygate_shadow_rules_dir}/shadow_alerts.yml"
        -P "${CMAKE_CURRENT_BINARY_DIR}/prometheus_shadow_rules.cmake"
    WORKING_DIRECTORY "${canarygate_shadow_rules_dir}")
add_test(NAME prometheus_shadow_rules_test
    COMMAND "${CMAKE_COMMAND}"
        "-DPROMTOOL=${CANARYGATE_PROMTOOL_EXECUTABLE}" -DMODE=test
        "-DFILE=${canarygate_shadow_rules_dir}/shadow_alerts_test.yml"
        -P "${CMAKE_CURRENT_BINARY_DIR}/prometheus_shadow_rules.cmake"
    WORKING_DIRECTORY "${canarygate_shadow_rules_dir}")
set_tests_properties(prometheus_shadow_rules_check prometheus_shadow_rules_test
    PROPERTIES LABELS "unit;prometheus")
