# SPDX-License-Identifier: MIT
#
# The include rule between layers: a header in include/canarygate/<layer>/
# includes only headers of its own layer and of the layers below, and a
# detail/ header only from its own layer; Boost enters at stats/ (the recorder
# side, core to window, builds without it) and nlohmann-json only in
# integration/. Top-level headers (umbrellas, forwarding headers, version.hpp)
# may include anything.
#
#   cmake -DINCLUDE_DIR=<dir holding canarygate/> [-DEXPECT_VIOLATIONS=<n>] -P check_layers.cmake
#
# Fails listing every violation; with EXPECT_VIOLATIONS, succeeds exactly when
# that many are found (the test of the checker itself).
cmake_minimum_required(VERSION 3.25)
if(NOT INCLUDE_DIR)
    message(FATAL_ERROR "check_layers.cmake: -DINCLUDE_DIR=... is required")
endif()
file(REAL_PATH "${INCLUDE_DIR}" INCLUDE_DIR)

# Bottom up, as in docs/architecture.md.
set(layers core record window stats gates rollout integration testing)
set(boost_from stats)      # the first layer that may include Boost
set(nlohmann_only integration)

function(layer_rank name out)
    list(FIND layers "${name}" rank)
    set(${out} ${rank} PARENT_SCOPE)
endfunction()
layer_rank(${boost_from} boost_rank)

file(GLOB_RECURSE headers RELATIVE "${INCLUDE_DIR}" "${INCLUDE_DIR}/canarygate/*.hpp")
list(SORT headers)
set(violations "")
set(checked 0)
foreach(header IN LISTS headers)
    # canarygate/<layer>/... ; top-level headers are exempt.
    if(NOT header MATCHES "^canarygate/([^/]+)/")
        continue()
    endif()
    set(layer "${CMAKE_MATCH_1}")
    layer_rank("${layer}" rank)
    if(rank EQUAL -1)
        list(APPEND violations "${header}: '${layer}' is not a layer (${layers})")
        continue()
    endif()
    math(EXPR checked "${checked} + 1")
    file(STRINGS "${INCLUDE_DIR}/${header}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
    foreach(line IN LISTS lines)
        if(NOT line MATCHES "#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"]")
            continue()
        endif()
        set(included "${CMAKE_MATCH_1}")
        if(included MATCHES "^canarygate/")
            if(NOT included MATCHES "^canarygate/([^/]+)/")
                list(APPEND violations "${header}: includes the top-level header ${included} (an umbrella or forwarding header)")
                continue()
            endif()
            set(target_layer "${CMAKE_MATCH_1}")
            layer_rank("${target_layer}" target_rank)
            if(target_rank EQUAL -1)
                list(APPEND violations "${header}: includes ${included}, which is in no layer")
            elseif(target_rank GREATER rank)
                list(APPEND violations "${header}: includes ${included}: layer ${layer} may not include the higher layer ${target_layer}")
            elseif(included MATCHES "/detail/" AND NOT target_layer STREQUAL layer)
                list(APPEND violations "${header}: includes ${included}: a detail header is private to its layer (${target_layer})")
            endif()
        elseif(included MATCHES "^boost/" AND rank LESS boost_rank)
            list(APPEND violations "${header}: includes <${included}>: layers below ${boost_from} build without Boost")
        elseif(included MATCHES "^nlohmann/" AND NOT layer STREQUAL nlohmann_only)
            list(APPEND violations "${header}: includes <${included}>: nlohmann-json belongs to the ${nlohmann_only} layer")
        endif()
    endforeach()
endforeach()

list(LENGTH violations count)
foreach(v IN LISTS violations)
    message(STATUS "layering violation: ${v}")
endforeach()
if(DEFINED EXPECT_VIOLATIONS)
    if(NOT count EQUAL EXPECT_VIOLATIONS)
        message(FATAL_ERROR "check_layers: expected ${EXPECT_VIOLATIONS} violations, found ${count}")
    endif()
    message(STATUS "check_layers: found the ${count} expected violations")
elseif(count GREATER 0)
    message(FATAL_ERROR "check_layers: ${count} layering violation(s) in ${INCLUDE_DIR} (see above)")
elseif(checked EQUAL 0)
    message(FATAL_ERROR "check_layers: no layer header found under ${INCLUDE_DIR}/canarygate")
else()
    message(STATUS "check_layers: ${checked} headers follow the layering rule")
endif()
