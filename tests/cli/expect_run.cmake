# SPDX-License-Identifier: MIT
#
# Runs one command of the command-line tool and checks how it ended:
#   cmake -DPROGRAM=... -DARGS="a|b" -DEXPECT_CODE=N [-DEXPECT_STDOUT=regex]
#         [-DEXPECT_STDERR=regex] [-DEXPECT_STDOUT_FILE=path] [-DWORKDIR=dir]
#         -P expect_run.cmake
# The exit code must be N; stdout and stderr must match their regular
# expressions; with EXPECT_STDOUT_FILE, stdout must equal the file byte for
# byte (the README's examples quote such files, tests/build/check_readme.py).
# Whatever the command printed goes to the test's log.
string(REPLACE "|" ";" ARGS "${ARGS}")
if(NOT WORKDIR)
    set(WORKDIR ".")
endif()
execute_process(COMMAND "${PROGRAM}" ${ARGS}
    WORKING_DIRECTORY "${WORKDIR}"
    RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("$ canarygate ${ARGS}\n--- stdout\n${out}--- stderr\n${err}--- exit code ${code}")
if(NOT code STREQUAL EXPECT_CODE)
    message(FATAL_ERROR "exit code ${code}, expected ${EXPECT_CODE}")
endif()
if(DEFINED EXPECT_STDOUT AND NOT out MATCHES "${EXPECT_STDOUT}")
    message(FATAL_ERROR "stdout does not match: ${EXPECT_STDOUT}")
endif()
if(DEFINED EXPECT_STDERR AND NOT err MATCHES "${EXPECT_STDERR}")
    message(FATAL_ERROR "stderr does not match: ${EXPECT_STDERR}")
endif()
if(DEFINED EXPECT_STDERR_EMPTY AND NOT err STREQUAL "")
    message(FATAL_ERROR "stderr is not empty")
endif()
if(DEFINED EXPECT_STDOUT_FILE)
    file(READ "${EXPECT_STDOUT_FILE}" expected)
    if(NOT out STREQUAL expected)
        message(FATAL_ERROR "stdout differs from ${EXPECT_STDOUT_FILE}")
    endif()
endif()
