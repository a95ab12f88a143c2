// SPDX-License-Identifier: MIT
// Catch2's main(), compiled once and linked into every Catch2 test.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
