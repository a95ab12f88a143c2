# SPDX-License-Identifier: MIT
#
# Runs a policy test built with a broken policy (the cost gate's limit 5x
# instead of 1.2x) and checks that it fails, and that its output explains
# why: the claim refuted, the cost regression injected, the cost gate's
# evidence against its limit of 5. Used by the CTest tests
# example_policy_test_broken_<framework> (examples/CMakeLists.txt).
#   cmake -DPROGRAM=<test program> -P expect_broken_policy.cmake
cmake_minimum_required(VERSION 3.25)
execute_process(COMMAND "${PROGRAM}" RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
message("${output}")
if(status EQUAL 0)
    message(FATAL_ERROR "the policy test passed with a broken policy")
endif()
foreach(expected IN ITEMS
        "halts by canary 10 % in at least 95 % of seeds: REFUTED"
        "injected into the candidate: cost x 1.6"
        "cost ln E [-0-9.]+/[0-9.]+, ratio 1\\.[0-9]+ \\(limit 5\\)")
    if(NOT output MATCHES "${expected}")
        message(FATAL_ERROR "the failing policy test does not explain itself: no '${expected}'")
    endif()
endforeach()
# The two cost tests fail; the good candidate's still passes.
if(NOT output MATCHES "test cases: *3 \\| *1 passed \\| *2 failed")
    message(FATAL_ERROR "expected 3 test cases, 1 passed and 2 failed")
endif()
message(STATUS "the broken policy fails its tests, and says why")
