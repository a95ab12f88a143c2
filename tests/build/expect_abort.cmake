# SPDX-License-Identifier: MIT
#
# Runs a program built without exceptions with the argument `bad-config`: it
# must stop with a non-zero status and write the configuration error, naming
# the field and the value, to stderr (what the exception would have carried).
#   cmake -DPROGRAM=<no_exceptions_program> -P expect_abort.cmake
cmake_minimum_required(VERSION 3.25)
execute_process(COMMAND "${PROGRAM}" bad-config
    RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "exit: ${result}\nstdout: ${out}\nstderr: ${err}")
if(result EQUAL 0)
    message(FATAL_ERROR "the program exited 0 on a bad configuration")
endif()
set(expected "canarygate: fatal error: canarygate::policy_config: alpha_fail = 1.5 must be in (0, 1)")
string(FIND "${err}" "${expected}" at)
if(at EQUAL -1)
    message(FATAL_ERROR "stderr lacks '${expected}'")
endif()
