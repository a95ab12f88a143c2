# SPDX-License-Identifier: MIT
#
# Consumer tests (label `consumer`): a program built against an installed
# canarygate through find_package (with and without the json component), and
# one that adds the source tree with add_subdirectory. Included by
# tests/CMakeLists.txt.
# Both consumers are built with this build's generator, compiler and flags.
set(canarygate_consumer_dir "${CMAKE_CURRENT_BINARY_DIR}/consumer")
set(canarygate_consumer_options
    "-DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}"
    "-DCMAKE_CXX_FLAGS=${CMAKE_CXX_FLAGS}"
    "-DCMAKE_BUILD_TYPE=$<CONFIG>"
    "-DCMAKE_COMPILE_WARNING_AS_ERROR=${CMAKE_COMPILE_WARNING_AS_ERROR}")
if(Boost_DIR)
    list(APPEND canarygate_consumer_options "-DBoost_DIR=${Boost_DIR}")
endif()
if(nlohmann_json_DIR)
    list(APPEND canarygate_consumer_options "-Dnlohmann_json_DIR=${nlohmann_json_DIR}")
endif()

# (a) install into a fresh prefix (fixture), then find_package from it.
if(CANARYGATE_INSTALL)
    set(canarygate_consumer_prefix "${canarygate_consumer_dir}/prefix")
    find_program(CANARYGATE_PKG_CONFIG_EXECUTABLE NAMES pkg-config pkgconf)
    mark_as_advanced(CANARYGATE_PKG_CONFIG_EXECUTABLE)
    add_test(NAME consumer_install
        COMMAND "${CMAKE_COMMAND}"
            "-DBUILD_DIR=${PROJECT_BINARY_DIR}"
            "-DPREFIX=${canarygate_consumer_prefix}"
            "-DCONFIG=$<CONFIG>"
            "-DVERSION=${canarygate_VERSION}"
            "-DCMAKEDIR=${CANARYGATE_INSTALL_CMAKEDIR}"
            "-DPKGCONFIGDIR=${CANARYGATE_INSTALL_PKGCONFIGDIR}"
            "-DINCLUDEDIR=${CMAKE_INSTALL_INCLUDEDIR}"
            "-DSOURCE_INCLUDE_DIR=${PROJECT_SOURCE_DIR}/include"
            "-DPKG_CONFIG=${CANARYGATE_PKG_CONFIG_EXECUTABLE}"
            "-DCLI_BINDIR=$<$<TARGET_EXISTS:canarygate_cli>:${CMAKE_INSTALL_BINDIR}>"
            -P "${CMAKE_CURRENT_LIST_DIR}/install_and_check.cmake")
    set_tests_properties(consumer_install PROPERTIES
        LABELS consumer FIXTURES_SETUP canarygate_installed)

    add_test(NAME consumer_find_package
        COMMAND "${CMAKE_CTEST_COMMAND}"
            --build-and-test
                "${CMAKE_CURRENT_LIST_DIR}/find_package"
                "${canarygate_consumer_dir}/find_package"
            --build-generator "${CMAKE_GENERATOR}"
            --build-makeprogram "${CMAKE_MAKE_PROGRAM}"
            --build-project canarygate_consumer_find_package
            --build-config $<CONFIG>
            --build-options ${canarygate_consumer_options}
                "-DCMAKE_PREFIX_PATH=${canarygate_consumer_prefix}"
                "-DCANARYGATE_EXPECTED_DIR=${canarygate_consumer_prefix}/${CANARYGATE_INSTALL_CMAKEDIR}"
            --test-command canarygate_consumer)
    set_tests_properties(consumer_find_package PROPERTIES
        LABELS consumer FIXTURES_REQUIRED canarygate_installed)
endif()

# (b) add_subdirectory of this source tree.
add_test(NAME consumer_add_subdirectory
    COMMAND "${CMAKE_CTEST_COMMAND}"
        --build-and-test
            "${CMAKE_CURRENT_LIST_DIR}/add_subdirectory"
            "${canarygate_consumer_dir}/add_subdirectory"
        --build-generator "${CMAKE_GENERATOR}"
        --build-makeprogram "${CMAKE_MAKE_PROGRAM}"
        --build-project canarygate_consumer_add_subdirectory
        --build-config $<CONFIG>
        --build-options ${canarygate_consumer_options}
            "-DCANARYGATE_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
        --test-command canarygate_consumer)
set_tests_properties(consumer_add_subdirectory PROPERTIES LABELS consumer)
