# SPDX-License-Identifier: MIT
#
# The C++ side of the policy-file checks (tests/policy/policy.cmake), run as
# `cmake -DMODE=... -P run_checks.cmake`:
#
#   MODE=reader  POLICY_TOOL EXAMPLES TESTS WORK_DIR
#     - every TESTS/invalid/*.json and TESTS/invalid-reader-only/*.json:
#       `policy_tool canonical` exits 1 and its message starts with the path
#       the directory's expected.json names, and ": " ("(document)" for the
#       document itself);
#     - every TESTS/invalid-flags/*.json: `policy_tool flag FILE
#       chat-rollout-policy` likewise (expected.json: {"path": ...});
#     - every EXAMPLES/*.json policy document reads, and its canonical text is
#       the file, byte for byte (minimal.json, written by hand with the
#       defaults left out, only reads; its canonical text reads back to
#       itself); the flag file's "rollout" variant is canary.json and its
#       "rollback" variant canary.json with "action": "roll_back";
#     - every TESTS/valid/*.json reads, and its canonical text reads back to
#       itself.
#   MODE=flagd   NODE POLICY_TOOL ECOSYSTEM_DIR EXAMPLES TESTS WORK_DIR
#     - check_flagd.mjs (flagd-core) passes and writes the variants it
#       resolves; the canonical text of each equals canarygate's reading of
#       the same variant of EXAMPLES/flags.json, byte for byte.
cmake_minimum_required(VERSION 3.25)

set(flag_key "chat-rollout-policy")
set(failures 0)

macro(fail message)
    message(SEND_ERROR "FAIL ${message}")
    math(EXPR failures "${failures} + 1")
endmacro()

# Runs policy_tool with ARGN; sets <prefix>_rc, <prefix>_out, <prefix>_err.
function(policy_tool prefix)
    execute_process(COMMAND "${POLICY_TOOL}" ${ARGN}
        RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    set(${prefix}_rc "${rc}" PARENT_SCOPE)
    set(${prefix}_out "${out}" PARENT_SCOPE)
    set(${prefix}_err "${err}" PARENT_SCOPE)
endfunction()

# The .json files of `dir` but its expected.json, sorted.
function(documents out dir)
    file(GLOB files RELATIVE "${dir}" "${dir}/*.json")
    list(REMOVE_ITEM files expected.json)
    list(SORT files)
    set(${out} "${files}" PARENT_SCOPE)
endfunction()

# Reads `text` back (canonical), expecting the same text: the canonical form
# is a fixed point.
function(check_fixed_point label text)
    set(file "${WORK_DIR}/fixed-point.json")
    file(WRITE "${file}" "${text}")
    policy_tool(again canonical "${file}")
    if(NOT again_rc EQUAL 0 OR NOT again_out STREQUAL text)
        fail("${label}: the canonical text does not read back to itself (exit ${again_rc}: ${again_err})")
    endif()
endfunction()

# Every document of `dir` is refused at the path its expected.json names.
# `kind` is canonical (policy documents) or flag (flag files, whose manifest
# entries are objects with the path under "path").
function(check_refusals dir kind)
    file(READ "${dir}/expected.json" manifest)
    string(JSON count LENGTH "${manifest}")
    documents(files "${dir}")
    list(LENGTH files present)
    if(NOT present EQUAL count OR present EQUAL 0)
        fail("${dir}: ${present} documents but ${count} entries in expected.json")
    endif()
    set(ok 0)
    foreach(name IN LISTS files)
        if(kind STREQUAL "flag")
            string(JSON path ERROR_VARIABLE missing GET "${manifest}" "${name}" path)
            set(args flag "${dir}/${name}" "${flag_key}")
        else()
            string(JSON path ERROR_VARIABLE missing GET "${manifest}" "${name}")
            set(args canonical "${dir}/${name}")
        endif()
        if(missing)
            fail("${dir}/${name}: not in expected.json")
            continue()
        endif()
        policy_tool(run ${args})
        string(FIND "${run_err}" "${path}: " at)
        if(NOT run_rc EQUAL 1)
            fail("${dir}/${name}: exit ${run_rc}, expected 1 (refused at ${path}); stderr: ${run_err}")
        elseif(NOT at EQUAL 0)
            string(STRIP "${run_err}" run_err)
            fail("${dir}/${name}: refused at another path than ${path}: ${run_err}")
        else()
            math(EXPR ok "${ok} + 1")
        endif()
    endforeach()
    message(STATUS "${ok} of ${present} documents in ${dir} refused at the expected path")
endfunction()

if(MODE STREQUAL "reader")
    file(MAKE_DIRECTORY "${WORK_DIR}")
    check_refusals("${TESTS}/invalid" canonical)
    check_refusals("${TESTS}/invalid-reader-only" canonical)
    check_refusals("${TESTS}/invalid-flags" flag)

    # Written by hand for the docs with the defaults left out: it reads, but
    # is not in canonical form.
    set(non_canonical minimal.json)
    documents(examples "${EXAMPLES}")
    file(READ "${EXAMPLES}/canary.json" canary)
    foreach(name IN LISTS examples)
        file(READ "${EXAMPLES}/${name}" text)
        string(JSON flags_type ERROR_VARIABLE not_flags TYPE "${text}" flags)
        string(JSON format_type ERROR_VARIABLE no_format TYPE "${text}" format)
        if(NOT not_flags AND no_format)
            # A flag file: its variants are the canary example and its roll-back.
            string(REPLACE "\"action\": \"run\"" "\"action\": \"roll_back\"" rollback "${canary}")
            foreach(variant IN ITEMS default rollout rollback)
                set(expected "${canary}")
                if(variant STREQUAL "rollback")
                    set(expected "${rollback}")
                endif()
                if(variant STREQUAL "default")
                    policy_tool(run flag "${EXAMPLES}/${name}" "${flag_key}")
                else()
                    policy_tool(run flag "${EXAMPLES}/${name}" "${flag_key}" "${variant}")
                endif()
                if(NOT run_rc EQUAL 0)
                    fail("${name} (${variant} variant): exit ${run_rc}: ${run_err}")
                elseif(NOT run_out STREQUAL expected)
                    file(WRITE "${WORK_DIR}/${name}.${variant}.actual" "${run_out}")
                    fail("${name}: the ${variant} variant is not canary.json (rollback: with \"action\": \"roll_back\"); see ${WORK_DIR}/${name}.${variant}.actual")
                else()
                    message(STATUS "ok   ${name}: the ${variant} variant is canary.json (rollback: with roll_back)")
                endif()
            endforeach()
            continue()
        endif()
        policy_tool(run canonical "${EXAMPLES}/${name}")
        if(NOT run_rc EQUAL 0)
            fail("${name}: exit ${run_rc}: ${run_err}")
        elseif(name IN_LIST non_canonical)
            check_fixed_point("${name}" "${run_out}")
            message(STATUS "ok   ${name} reads (not canonical by design)")
        elseif(NOT run_out STREQUAL text)
            file(WRITE "${WORK_DIR}/${name}.canonical" "${run_out}")
            fail("${name} is not in canonical form: compare it with ${WORK_DIR}/${name}.canonical")
        else()
            message(STATUS "ok   ${name} is canonical")
        endif()
    endforeach()

    documents(valid "${TESTS}/valid")
    foreach(name IN LISTS valid)
        policy_tool(run canonical "${TESTS}/valid/${name}")
        if(NOT run_rc EQUAL 0)
            fail("valid/${name}: exit ${run_rc}: ${run_err}")
        else()
            check_fixed_point("valid/${name}" "${run_out}")
            message(STATUS "ok   valid/${name} reads")
        endif()
    endforeach()
elseif(MODE STREQUAL "flagd")
    file(REMOVE "${WORK_DIR}/resolved-rollout.json" "${WORK_DIR}/resolved-rollback.json")
    execute_process(
        COMMAND "${NODE}" check_flagd.mjs "${EXAMPLES}/flags.json" "${WORK_DIR}" "${TESTS}/invalid-flags"
        WORKING_DIRECTORY "${ECOSYSTEM_DIR}"
        RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        fail("check_flagd.mjs: exit ${rc}")
    endif()
    foreach(variant IN ITEMS rollout rollback)
        set(resolved "${WORK_DIR}/resolved-${variant}.json")
        if(NOT EXISTS "${resolved}")
            fail("check_flagd.mjs wrote no ${resolved}")
            continue()
        endif()
        policy_tool(flagd canonical "${resolved}")
        policy_tool(ours flag "${EXAMPLES}/flags.json" "${flag_key}" ${variant})
        if(NOT flagd_rc EQUAL 0 OR NOT ours_rc EQUAL 0)
            fail("${variant}: canarygate refuses flagd's value (${flagd_rc}: ${flagd_err}) or the flag file (${ours_rc}: ${ours_err})")
        elseif(NOT flagd_out STREQUAL ours_out)
            file(WRITE "${WORK_DIR}/resolved-${variant}.canonical" "${flagd_out}")
            fail("${variant}: flagd resolves to another policy than canarygate reads: compare ${WORK_DIR}/resolved-${variant}.canonical with `policy_tool flag flags.json ${flag_key} ${variant}`")
        else()
            message(STATUS "ok   flagd's ${variant} variant is canarygate's, byte for byte in canonical form")
        endif()
    endforeach()
else()
    message(FATAL_ERROR "run_checks.cmake: MODE must be reader or flagd, got '${MODE}'")
endif()

if(failures GREATER 0)
    message(FATAL_ERROR "${failures} check(s) failed")
endif()
