# SPDX-License-Identifier: MIT
#
# CTest fixture of the find_package consumer test: installs the build tree
# BUILD_DIR into a fresh PREFIX and checks the install tree.
#
#   cmake -DBUILD_DIR=<build> -DPREFIX=<prefix> -DCONFIG=<config> -DVERSION=<x.y.z>
#         -DCMAKEDIR=<rel> -DPKGCONFIGDIR=<rel> -DINCLUDEDIR=<rel>
#         -DSOURCE_INCLUDE_DIR=<source tree>/include
#         [-DPKG_CONFIG=<pkg-config>] -P install_and_check.cmake
cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS BUILD_DIR PREFIX VERSION CMAKEDIR PKGCONFIGDIR INCLUDEDIR SOURCE_INCLUDE_DIR)
    if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
        message(FATAL_ERROR "install_and_check.cmake: -D${var}=... is required")
    endif()
endforeach()

file(REMOVE_RECURSE "${PREFIX}")
set(config_args "")
if(CONFIG)
    set(config_args --config "${CONFIG}")
endif()
execute_process(
    COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" ${config_args}
    COMMAND_ECHO STDOUT
    RESULT_VARIABLE result)
if(NOT result EQUAL 0)
    message(FATAL_ERROR "cmake --install failed: ${result}")
endif()

# Every public header of the source tree, and the package files.
file(GLOB_RECURSE headers RELATIVE "${SOURCE_INCLUDE_DIR}" "${SOURCE_INCLUDE_DIR}/canarygate/*.hpp")
list(TRANSFORM headers PREPEND "${INCLUDEDIR}/")
set(missing "")
foreach(file IN ITEMS
        "${CMAKEDIR}/canarygateConfig.cmake"
        "${CMAKEDIR}/canarygateConfigVersion.cmake"
        "${CMAKEDIR}/canarygateTargets.cmake"
        "${CMAKEDIR}/canarygateJsonTargets.cmake"
        "${PKGCONFIGDIR}/canarygate.pc"
        "${INCLUDEDIR}/canarygate/canarygate.hpp"
        ${headers})
    if(NOT EXISTS "${PREFIX}/${file}")
        list(APPEND missing "${file}")
    endif()
endforeach()
if(missing)
    message(FATAL_ERROR "missing from the install tree ${PREFIX}: ${missing}")
endif()

# The .pc file must be valid and point into this (relocated) prefix.
# The command-line tool, when this build has it: installed into bin/ and
# runnable from there.
if(CLI_BINDIR)
    set(cli "${PREFIX}/${CLI_BINDIR}/canarygate")
    execute_process(COMMAND "${cli}" --version
        OUTPUT_VARIABLE cli_version OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE result)
    if(NOT result EQUAL 0 OR NOT cli_version STREQUAL "canarygate ${VERSION}")
        message(FATAL_ERROR "${cli} --version: '${cli_version}' (exit ${result}), expected 'canarygate ${VERSION}'")
    endif()
endif()

if(PKG_CONFIG)
    set(ENV{PKG_CONFIG_PATH} "${PREFIX}/${PKGCONFIGDIR}")
    execute_process(COMMAND "${PKG_CONFIG}" --modversion canarygate
        OUTPUT_VARIABLE pc_version OUTPUT_STRIP_TRAILING_WHITESPACE
        RESULT_VARIABLE result)
    if(NOT result EQUAL 0 OR NOT pc_version STREQUAL VERSION)
        message(FATAL_ERROR "pkg-config --modversion canarygate: '${pc_version}' (exit ${result}), expected ${VERSION}")
    endif()
    execute_process(COMMAND "${PKG_CONFIG}" --cflags canarygate
        OUTPUT_VARIABLE pc_cflags OUTPUT_STRIP_TRAILING_WHITESPACE
        RESULT_VARIABLE result)
    string(REGEX MATCH "-I([^ ]+)" match "${pc_cflags}")
    set(pc_include "${CMAKE_MATCH_1}")
    if(pc_include)
        file(REAL_PATH "${pc_include}" pc_include)
    endif()
    file(REAL_PATH "${PREFIX}/${INCLUDEDIR}" expected_include)
    if(NOT result EQUAL 0 OR NOT pc_include STREQUAL expected_include)
        message(FATAL_ERROR "pkg-config --cflags canarygate: '${pc_cflags}', expected -I${expected_include}")
    endif()
    message(STATUS "pkg-config: canarygate ${pc_version}, ${pc_cflags}")
else()
    message(STATUS "pkg-config not found: only checked that canarygate.pc exists")
endif()
