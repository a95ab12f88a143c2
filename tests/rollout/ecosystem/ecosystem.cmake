# SPDX-License-Identifier: MIT
#
# The router against the real peers, from npm: flagd's evaluator
# (@openfeature/flagd-core) and Unleash's client specification and Node SDK
# (versions pinned by package-lock.json). `npm ci` installs them into the
# build tree (the fixture test ecosystem_npm_ci, label `ecosystem`); the
# checks are conformance.cpp. Node and npm are needed (scripts/install-deps
# installs Debian's if there are none); -DCANARYGATE_ECOSYSTEM_TESTS=OFF
# leaves these tests out.
option(CANARYGATE_ECOSYSTEM_TESTS "Check the router against flagd-core and Unleash from npm" ON)
if(NOT CANARYGATE_ECOSYSTEM_TESTS)
    return()
endif()
find_program(CANARYGATE_NODE node)
find_program(CANARYGATE_NPM npm)
if(NOT CANARYGATE_NODE OR NOT CANARYGATE_NPM)
    message(FATAL_ERROR "The router's conformance tests need node and npm (Debian: nodejs npm); "
                        "install them or configure with -DCANARYGATE_ECOSYSTEM_TESTS=OFF")
endif()
if(NOT TARGET nlohmann_json::nlohmann_json)
    message(FATAL_ERROR "The router's conformance tests need nlohmann-json (Debian: nlohmann-json3-dev)")
endif()

set(canarygate_ecosystem_dir "${CMAKE_CURRENT_BINARY_DIR}/ecosystem")
foreach(file IN ITEMS package.json package-lock.json flagd_fractional.js unleash_normalized.js)
    configure_file("${CMAKE_CURRENT_SOURCE_DIR}/rollout/ecosystem/${file}"
                   "${canarygate_ecosystem_dir}/${file}" COPYONLY)
endforeach()

add_executable(rollout_conformance rollout/ecosystem/conformance.cpp)
target_link_libraries(rollout_conformance PRIVATE canarygate::canarygate nlohmann_json::nlohmann_json)

add_test(NAME ecosystem_npm_ci
    COMMAND "${CANARYGATE_NPM}" ci --ignore-scripts --no-audit --no-fund --loglevel=error
    WORKING_DIRECTORY "${canarygate_ecosystem_dir}")
set_tests_properties(ecosystem_npm_ci PROPERTIES FIXTURES_SETUP canarygate_npm LABELS ecosystem TIMEOUT 600)
foreach(check IN ITEMS flagd unleash)
    add_test(NAME test_${check}_conformance
        COMMAND rollout_conformance ${check} "${CANARYGATE_NODE}" "${canarygate_ecosystem_dir}")
    set_tests_properties(test_${check}_conformance PROPERTIES
        FIXTURES_REQUIRED canarygate_npm LABELS ecosystem TIMEOUT 600)
endforeach()
