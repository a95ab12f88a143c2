// SPDX-License-Identifier: MIT
// The version in the headers must match `project(canarygate VERSION ...)` in
// CMakeLists.txt, which tests/CMakeLists.txt passes in as
// CANARYGATE_CMAKE_VERSION_{MAJOR,MINOR,PATCH}.
#include <catch2/catch.hpp>

#include "canarygate/version.hpp"

TEST_CASE("version macros match the CMake project version", "[version]") {
    CHECK(CANARYGATE_VERSION_MAJOR == CANARYGATE_CMAKE_VERSION_MAJOR);
    CHECK(CANARYGATE_VERSION_MINOR == CANARYGATE_CMAKE_VERSION_MINOR);
    CHECK(CANARYGATE_VERSION_PATCH == CANARYGATE_CMAKE_VERSION_PATCH);
}

TEST_CASE("canarygate::version matches the CMake project version", "[version]") {
    CHECK(canarygate::version.major == CANARYGATE_CMAKE_VERSION_MAJOR);
    CHECK(canarygate::version.minor == CANARYGATE_CMAKE_VERSION_MINOR);
    CHECK(canarygate::version.patch == CANARYGATE_CMAKE_VERSION_PATCH);
}

TEST_CASE("version values are usable at compile time", "[version]") {
    STATIC_REQUIRE(canarygate::version.major == CANARYGATE_VERSION_MAJOR);
    STATIC_REQUIRE(canarygate::version.minor == CANARYGATE_VERSION_MINOR);
    STATIC_REQUIRE(canarygate::version.patch == CANARYGATE_VERSION_PATCH);
    STATIC_REQUIRE(CANARYGATE_VERSION == CANARYGATE_VERSION_MAJOR * 10000 +
                                             CANARYGATE_VERSION_MINOR * 100 +
                                             CANARYGATE_VERSION_PATCH);
}
