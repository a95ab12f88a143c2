# SPDX-License-Identifier: MIT
#
# Policy files (integration/json_policy.hpp) against the real peers from
# npm: the JSON Schema (schema/policy.schema.json) under a real validator,
# and flag files under flagd's own evaluator.
#
#   policy_schema_check   ajv (draft 2020-12, strict) compiles the schema; it
#                         accepts every example (and every variant of the
#                         example flag file) and tests/policy/valid/*, refuses
#                         every tests/policy/invalid/* and accepts every
#                         tests/policy/invalid-reader-only/* (check_schema.mjs)
#   policy_flagd_check    @openfeature/flagd-core loads examples/policies/flags.json
#                         with its schema validation on, refuses the files in
#                         tests/policy/invalid-flags/, and resolves the flag to
#                         the same policy canarygate reads (check_flagd.mjs,
#                         then policy_tool compares the canonical texts)
#   policy_reader_agrees  policy_tool refuses every invalid document at the path
#                         its directory's expected.json names, reads every
#                         example and valid document, and writes the canonical
#                         examples byte for byte (run_checks.cmake)
#
# The npm packages come from the ecosystem checks (rollout/ecosystem/
# ecosystem.cmake, fixture canarygate_npm): without them (no rollout layer, or
# -DCANARYGATE_ECOSYSTEM_TESTS=OFF) there is nothing to check against.
if(NOT TARGET rollout_conformance)
    return()
endif()

add_executable(policy_tool policy/policy_tool.cpp)
target_link_libraries(policy_tool PRIVATE canarygate::json)

# Beside node_modules, so that the scripts' imports resolve there.
foreach(file IN ITEMS check_schema.mjs check_flagd.mjs)
    configure_file("${CMAKE_CURRENT_SOURCE_DIR}/policy/${file}"
                   "${canarygate_ecosystem_dir}/${file}" COPYONLY)
endforeach()

get_filename_component(canarygate_policy_root "${CMAKE_CURRENT_SOURCE_DIR}/.." ABSOLUTE)
set(canarygate_policy_tests "${CMAKE_CURRENT_SOURCE_DIR}/policy")
set(canarygate_policy_examples "${canarygate_policy_root}/examples/policies")

add_test(NAME policy_schema_check
    COMMAND "${CANARYGATE_NODE}" check_schema.mjs
            "${canarygate_policy_root}/schema/policy.schema.json"
            "${canarygate_policy_examples}"
            "${canarygate_policy_tests}/valid"
            "${canarygate_policy_tests}/invalid"
            "${canarygate_policy_tests}/invalid-reader-only"
    WORKING_DIRECTORY "${canarygate_ecosystem_dir}")

add_test(NAME policy_flagd_check
    COMMAND "${CMAKE_COMMAND}"
            -DMODE=flagd
            "-DNODE=${CANARYGATE_NODE}"
            "-DPOLICY_TOOL=$<TARGET_FILE:policy_tool>"
            "-DECOSYSTEM_DIR=${canarygate_ecosystem_dir}"
            "-DEXAMPLES=${canarygate_policy_examples}"
            "-DTESTS=${canarygate_policy_tests}"
            "-DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/policy"
            -P "${canarygate_policy_tests}/run_checks.cmake")

add_test(NAME policy_reader_agrees
    COMMAND "${CMAKE_COMMAND}"
            -DMODE=reader
            "-DPOLICY_TOOL=$<TARGET_FILE:policy_tool>"
            "-DEXAMPLES=${canarygate_policy_examples}"
            "-DTESTS=${canarygate_policy_tests}"
            "-DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/policy"
            -P "${canarygate_policy_tests}/run_checks.cmake")

set_tests_properties(policy_schema_check policy_flagd_check PROPERTIES
    FIXTURES_REQUIRED canarygate_npm LABELS ecosystem TIMEOUT 300)
# Needs no npm package, but lives and dies with the other two.
set_tests_properties(policy_reader_agrees PROPERTIES LABELS ecosystem TIMEOUT 300)
