# SPDX-License-Identifier: MIT
#
# The command-line tool `canarygate` on every exit path: each test runs the
# built program once (expect_run.cmake) and checks its exit code and output.
# The fixture cli_fixtures writes the policy and snapshots they read
# (make_cli_fixtures.cpp). Label `cli`.
if(NOT TARGET canarygate_cli)
    return()
endif()

add_executable(make_cli_fixtures cli/make_cli_fixtures.cpp)
target_link_libraries(make_cli_fixtures PRIVATE canarygate::json)

set(cli_dir "${CMAKE_CURRENT_BINARY_DIR}/cli")
set(cli_expected "${CMAKE_CURRENT_SOURCE_DIR}/cli/expected")
file(MAKE_DIRECTORY "${cli_dir}")
add_test(NAME cli_fixtures COMMAND make_cli_fixtures "${cli_dir}")
set_tests_properties(cli_fixtures PROPERTIES FIXTURES_SETUP canarygate_cli LABELS cli)

# canarygate_cli_test(<name> <exit code> [STDOUT regex] [STDERR regex]
#                     [STDOUT_FILE file] [STDERR_EMPTY] ARGS args...)
function(canarygate_cli_test name code)
    cmake_parse_arguments(PARSE_ARGV 2 arg "STDERR_EMPTY" "STDOUT;STDERR;STDOUT_FILE" "ARGS")
    # add_test would split a ;-list into arguments: pass it joined by '|'.
    string(REPLACE ";" "|" args "${arg_ARGS}")
    set(defines -DPROGRAM=$<TARGET_FILE:canarygate_cli> "-DARGS=${args}"
        -DEXPECT_CODE=${code} -DWORKDIR=${cli_dir})
    if(DEFINED arg_STDOUT)
        list(APPEND defines "-DEXPECT_STDOUT=${arg_STDOUT}")
    endif()
    if(DEFINED arg_STDERR)
        list(APPEND defines "-DEXPECT_STDERR=${arg_STDERR}")
    endif()
    if(DEFINED arg_STDOUT_FILE)
        list(APPEND defines "-DEXPECT_STDOUT_FILE=${arg_STDOUT_FILE}")
    endif()
    if(arg_STDERR_EMPTY)
        list(APPEND defines -DEXPECT_STDERR_EMPTY=1)
    endif()
    add_test(NAME cli_${name}
        COMMAND "${CMAKE_COMMAND}" ${defines} -P "${CMAKE_CURRENT_SOURCE_DIR}/cli/expect_run.cmake")
    set_tests_properties(cli_${name} PROPERTIES FIXTURES_REQUIRED canarygate_cli LABELS cli
        TIMEOUT 300)
endfunction()

# Every command answers --help; --version; the wrong command line.
canarygate_cli_test(version 0 STDOUT "^canarygate [0-9]+\\.[0-9]+\\.[0-9]+\n$" ARGS --version)
canarygate_cli_test(help 0 STDOUT "judge.*merge.*inspect.*validate.*plan.*simulate.*replay.*calibrate"
    ARGS --help)
foreach(command IN ITEMS judge merge inspect validate plan simulate replay calibrate)
    canarygate_cli_test(help_${command} 0 STDOUT "Usage: .*${command}" ARGS ${command} --help)
endforeach()
canarygate_cli_test(no_command 4 STDERR "A subcommand is required" ARGS)
canarygate_cli_test(unknown_command 4 STDERR "^canarygate: unknown command 'frobnicate' \\(commands: judge, merge" ARGS frobnicate)
canarygate_cli_test(unknown_option 4 STDERR "--bogus" ARGS judge --policy policy.json --bogus pass.snap)
canarygate_cli_test(bad_option_value 4 STDERR "--share" ARGS judge --policy policy.json --share 2 pass.snap)

# judge: one exit code per verdict; the README quotes the pass and fail output.
canarygate_cli_test(judge_pass 0 STDOUT_FILE "${cli_expected}/judge_pass.txt" STDERR_EMPTY
    ARGS judge --policy policy.json pass.snap)
canarygate_cli_test(judge_fail 1 STDOUT_FILE "${cli_expected}/judge_fail.txt"
    ARGS judge --policy policy.json fail.snap)
canarygate_cli_test(judge_continue 2 STDOUT "^verdict: keep_going\n"
    ARGS judge --policy policy.json continue.snap)
canarygate_cli_test(judge_no_regression_detected 2 STDOUT "^verdict: no_regression_detected\n"
    ARGS judge --policy policy.json --at-max-duration continue.snap)
canarygate_cli_test(judge_invalid_split 2 STDOUT "^verdict: invalid\n.*MISMATCH"
    ARGS judge --policy policy.json split.snap)
canarygate_cli_test(judge_json 0 STDOUT "\"decision\": \"pass\"" ARGS judge --policy policy.json --json pass.snap)
canarygate_cli_test(judge_flag_rollout 0 STDOUT "^verdict: pass\n"
    ARGS judge --policy flags.json --flag chat-rollout-policy pass.snap)
# Replicas merged exactly: the same report, byte for byte, as the whole.
canarygate_cli_test(judge_replicas 0 STDOUT_FILE "${cli_expected}/judge_pass.txt"
    ARGS judge --policy policy.json pass-baseline.snap pass-candidate.json)
# Evidence carried between runs: the second run (no new snapshot) is the
# gates' second check, on the totals the first one saw.
canarygate_cli_test(judge_evidence_first 0 STDOUT "\"check\": 1,"
    ARGS judge --policy policy.json --evidence evidence.json --json pass.snap)
canarygate_cli_test(judge_evidence_second 0 STDOUT "\"check\": 2,.*\"decision\": \"pass\""
    ARGS judge --policy policy.json --evidence evidence.json --json)
set_tests_properties(cli_judge_evidence_second PROPERTIES DEPENDS cli_judge_evidence_first)
# Bad input: exit 3 and one line that names the file and what is wrong.
canarygate_cli_test(judge_corrupt_snapshot 3 STDERR "^canarygate: corrupt.snap: not a valid binary snapshot: .*CRC"
    ARGS judge --policy policy.json corrupt.snap)
canarygate_cli_test(judge_missing_snapshot 3 STDERR "^canarygate: missing.snap: cannot open: No such file"
    ARGS judge --policy policy.json missing.snap)
canarygate_cli_test(judge_missing_arm 3 STDERR "no arm 'candidate' \\(arms: baseline\\)"
    ARGS judge --policy policy.json pass-baseline.snap)
canarygate_cli_test(judge_invalid_policy 3
    STDERR "^canarygate: bad-policy.json: policy.gates\\[1\\].multiplier: must be >= 1 when worse is increase, got 0.8\n$"
    ARGS judge --policy bad-policy.json pass.snap)
canarygate_cli_test(judge_flag_file_without_flag 3 STDERR "flags.json: is a flagd flag file; name the policy flag with --flag"
    ARGS judge --policy flags.json pass.snap)
canarygate_cli_test(judge_stage_out_of_range 3 STDERR "--stage 7: the policy has stages 0 to 0"
    ARGS judge --policy policy.json --stage 7 pass.snap)

canarygate_cli_test(judge_directory 3 STDERR "^canarygate: \\.: is not a regular file\n$"
    ARGS judge --policy policy.json .)
canarygate_cli_test(judge_two_model_versions 3 STDERR "arm 'candidate' has 2 model versions"
    ARGS judge --policy policy.json pass.snap other-version.json)
canarygate_cli_test(judge_no_shadow_policy 3 STDERR "--shadow: the policy has no shadow_policy"
    ARGS judge --policy policy.json --shadow pass.snap)
canarygate_cli_test(judge_share_out_of_range 4 STDERR "--share.*must be a number in \\(0, 1\\), got 1"
    ARGS judge --policy policy.json --share 1 pass.snap)
canarygate_cli_test(judge_negative_stage 4 STDERR "--stage" ARGS judge --policy policy.json --stage -1 pass.snap)
canarygate_cli_test(judge_state_and_evidence 4 STDERR "excludes"
    ARGS judge --policy policy.json --state s.json --evidence e.json pass.snap)

# merge, inspect
canarygate_cli_test(merge 0 STDERR "merged 2 file\\(s\\): 2 arm\\(s\\)"
    ARGS merge -o merged.snap pass-baseline.snap pass-candidate.json)
canarygate_cli_test(merge_judged 0 STDOUT_FILE "${cli_expected}/judge_pass.txt"
    ARGS judge --policy policy.json merged.snap)
set_tests_properties(cli_merge_judged PROPERTIES DEPENDS cli_merge)
canarygate_cli_test(merge_unwritable 3 STDERR "^canarygate: no/such/dir/out.snap: cannot write: No such file"
    ARGS merge -o no/such/dir/out.snap pass.snap)
canarygate_cli_test(merge_corrupt 3 STDERR "corrupt.snap" ARGS merge -o never.snap pass.snap corrupt.snap)
canarygate_cli_test(inspect 0 STDOUT "arm 'candidate' model 'sha256:c1'\n.*  requests = 40000\n.*more counters are 0.*latency_ns: 40000 values.*p99 +[0-9.e+]+ +in \\([0-9.e+]+, [0-9.e+]+\\]"
    ARGS inspect pass.snap)
canarygate_cli_test(inspect_corrupt 3 STDERR "corrupt.snap" ARGS inspect corrupt.snap)

# validate
canarygate_cli_test(validate 0 STDOUT "policy.json: valid policy: 1 stages, 3 gates, action run, canonical form"
    ARGS validate policy.json)
canarygate_cli_test(validate_canonical 0 STDOUT_FILE "${cli_dir}/policy.json" ARGS validate --canonical policy.json)
canarygate_cli_test(validate_invalid 3 STDERR "policy.gates\\[1\\].multiplier: must be >= 1" ARGS validate bad-policy.json)
canarygate_cli_test(validate_not_canonical 3 STDERR "compact-policy.json: valid, but not in canonical form"
    ARGS validate --check-canonical compact-policy.json)
canarygate_cli_test(validate_compact 0 STDOUT "compact-policy.json: valid policy: 1 stages, 3 gates, action run\n"
    ARGS validate compact-policy.json)
canarygate_cli_test(validate_flag 0 STDOUT "flag 'chat-rollout-policy' is valid: 2 variant\\(s\\), default 'rollout'"
    ARGS validate --flag chat-rollout-policy flags.json)
canarygate_cli_test(validate_missing_flag 3 STDERR "has no flag 'other' \\(flags: chat-rollout-policy\\)"
    ARGS validate --flag other flags.json)

# plan, simulate, replay, calibrate: a few seeds each (they run the simulator).
canarygate_cli_test(plan 0 STDOUT "canary 50 %" ARGS plan --policy policy.json --requests-per-minute 600)
canarygate_cli_test(simulate 0 STDOUT "cost=1.6 .*rates: share of seeds"
    ARGS simulate --policy policy.json --seeds 2 --inject cost=1.6)
canarygate_cli_test(simulate_json 0 STDOUT "^{\n  \"seeds\": 1,\n  \"scenarios\": \\[\n.*\"name\": \"error=3\""
    ARGS simulate --policy policy.json --seeds 1 --inject error=3 --json -)
canarygate_cli_test(simulate_bad_inject 4 STDERR "--inject: 'speed=2': expected SIGNAL=FACTOR"
    ARGS simulate --policy policy.json --seeds 1 --inject speed=2)
canarygate_cli_test(replay 0 STDOUT "requests.jsonl: 6000 requests.*as recorded"
    ARGS replay --policy policy.json --seeds 2 requests.jsonl)
canarygate_cli_test(replay_bad_log 3 STDERR "bad-requests.jsonl: .*line 1"
    ARGS replay --policy policy.json bad-requests.jsonl)
canarygate_cli_test(calibrate_bad_log 3 STDERR "bad-requests.jsonl: .*line 1"
    ARGS calibrate --splits 2 bad-requests.jsonl)
canarygate_cli_test(calibrate 0 STDOUT "A/A splits.*latency_p99"
    ARGS calibrate --policy policy.json --splits 5 requests.jsonl)
