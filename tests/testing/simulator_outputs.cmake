# SPDX-License-Identifier: MIT
#
# The simulator's machine and picture outputs: runs canarygate_simulate with
# a few seeds, --json and --svg; reads the JSON (every case, both judges,
# rates with intervals, the detailed seed's steps); renders the SVG to PNG
# with rsvg-convert (librsvg, Debian's librsvg2-bin), which must succeed
# without a warning; and checks the PNG's signature and size.
#
#   cmake -DSIMULATOR=<canarygate_simulate> -DWORK_DIR=<dir> -P simulator_outputs.cmake
cmake_minimum_required(VERSION 3.25)
foreach(var SIMULATOR WORK_DIR)
    if(NOT ${var})
        message(FATAL_ERROR "simulator_outputs.cmake: -D${var}=... is required")
    endif()
endforeach()
find_program(RSVG_CONVERT rsvg-convert)
if(NOT RSVG_CONVERT)
    message(FATAL_ERROR "rsvg-convert not found: install librsvg2-bin (scripts/install-deps does)")
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

execute_process(
    COMMAND "${SIMULATOR}" --seeds 3 --json "${WORK_DIR}/simulate.json"
            --svg "${WORK_DIR}/timeline.svg" --quiet
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "canarygate_simulate exited ${rc}\n${out}\n${err}")
endif()
if(NOT out STREQUAL "")
    message(FATAL_ERROR "--quiet printed to stdout:\n${out}")
endif()

# The JSON: every default case with both judges' rates and intervals.
file(READ "${WORK_DIR}/simulate.json" json)
string(JSON cases_len LENGTH "${json}" cases)
if(cases_len LESS 12)
    message(FATAL_ERROR "simulate.json has ${cases_len} cases, expected at least 12")
endif()
set(names "")
math(EXPR last "${cases_len} - 1")
foreach(i RANGE ${last})
    string(JSON name GET "${json}" cases ${i} name)
    list(APPEND names "${name}")
    foreach(judge canarygate naive)
        string(JSON runs GET "${json}" cases ${i} ${judge} runs)
        if(NOT runs EQUAL 3)
            message(FATAL_ERROR "case ${name}, ${judge}: runs = ${runs}, expected 3")
        endif()
        string(JSON lo GET "${json}" cases ${i} ${judge} rolled_back ci95 0)
        string(JSON hi GET "${json}" cases ${i} ${judge} rolled_back ci95 1)
        if(lo GREATER hi)
            message(FATAL_ERROR "case ${name}, ${judge}: interval [${lo}, ${hi}]")
        endif()
    endforeach()
endforeach()
foreach(expected good noisy_good cost_1.25 latency_2x refusals_3x longer_answers thumbs_down_2.5x
        error_burst shadow_cost_1.4 routing_bug boundary_cost_1.2)
    if(NOT expected IN_LIST names)
        message(FATAL_ERROR "simulate.json lacks the case ${expected} (has: ${names})")
    endif()
endforeach()
string(JSON steps LENGTH "${json}" detail canarygate steps)
if(steps LESS 2)
    message(FATAL_ERROR "the detailed seed has ${steps} steps")
endif()
string(JSON met GET "${json}" all_expectations_met)
if(NOT met)
    message(FATAL_ERROR "all_expectations_met is ${met}")
endif()

# The SVG, rendered by a real renderer.
execute_process(
    COMMAND "${RSVG_CONVERT}" --format=png --output "${WORK_DIR}/timeline.png"
            "${WORK_DIR}/timeline.svg"
    RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
    message(FATAL_ERROR "rsvg-convert failed (${rc}): ${err}")
endif()
file(READ "${WORK_DIR}/timeline.png" signature LIMIT 8 HEX)
if(NOT signature STREQUAL "89504e470d0a1a0a")
    message(FATAL_ERROR "timeline.png is not a PNG (signature ${signature})")
endif()
file(SIZE "${WORK_DIR}/timeline.png" png_size)
if(png_size LESS 20000)
    message(FATAL_ERROR "timeline.png is only ${png_size} bytes: nothing drawn?")
endif()
message(STATUS "simulator outputs: ${cases_len} cases in JSON, timeline.png ${png_size} bytes")
