// SPDX-License-Identifier: MIT
/// \file
/// The testing kit's Catch2 adapter: include Catch2 first (<catch2/catch.hpp>
/// for Catch2 2.x, Debian 12's, which CI tests; <catch2/catch_test_macros.hpp>
/// for 3.x).
///
/// `CANARYGATE_CHECK(claim)` and `CANARYGATE_REQUIRE(claim)` take a
/// canarygate::testkit::claim_result (testing/kit.hpp) and make it one
/// Catch2 assertion. A failure prints the claim's report — the count, the
/// bounds, how the seeds ended, and the trace of a seed where the claim did
/// not hold (which gate, what evidence, at which stage, when) — never just
/// "false". With Catch2's `-s` a passing claim prints its report too.
/// CATCH_CONFIG_PREFIX_ALL is honoured.
///
/// Example:
/// \code
///   #include <catch2/catch.hpp>
///   #include <canarygate/testing/catch2.hpp>
///
///   TEST_CASE("a +60 % cost regression halts by the 10 % stage") {
///       namespace kit = canarygate::testkit;
///       kit::rollout_test test(my_rollout());
///       test.inject({.cost = 1.6});
///       CANARYGATE_CHECK(test.expect(kit::halts_by("canary 10 %")).in_at_least(0.95));
///   }
/// \endcode
#pragma once

// Catch2 2.x's single header defines CATCH_VERSION_MAJOR; 3.x's
// <catch2/catch_test_macros.hpp> has this include guard.
#if !defined(CATCH_VERSION_MAJOR) && !defined(CATCH_TEST_MACROS_HPP_INCLUDED)
#error \
    "canarygate/testing/catch2.hpp adapts the testing kit to Catch2: include Catch2 (<catch2/catch.hpp>) before it (for doctest, include canarygate/testing/doctest.hpp instead)"
#endif

#include "canarygate/testing/kit.hpp"

#if defined(CATCH_CONFIG_PREFIX_ALL)
#define CANARYGATE_CATCH2_SUCCEED_(message) CATCH_SUCCEED(message)
#define CANARYGATE_CATCH2_FAIL_CHECK_(message) CATCH_FAIL_CHECK(message)
#define CANARYGATE_CATCH2_FAIL_(message) CATCH_FAIL(message)
#else
#define CANARYGATE_CATCH2_SUCCEED_(message) SUCCEED(message)
#define CANARYGATE_CATCH2_FAIL_CHECK_(message) FAIL_CHECK(message)
#define CANARYGATE_CATCH2_FAIL_(message) FAIL(message)
#endif

/// Checks a claim; the test goes on if it fails.
#define CANARYGATE_CHECK(...) CANARYGATE_CATCH2_CLAIM_(CANARYGATE_CATCH2_FAIL_CHECK_, __VA_ARGS__)
/// Checks a claim; the test stops if it fails.
#define CANARYGATE_REQUIRE(...) CANARYGATE_CATCH2_CLAIM_(CANARYGATE_CATCH2_FAIL_, __VA_ARGS__)

#define CANARYGATE_CATCH2_CLAIM_(fail, ...)                                          \
    do {                                                                             \
        const ::canarygate::testkit::claim_result canarygate_claim_ = (__VA_ARGS__); \
        if (canarygate_claim_.passed) {                                              \
            CANARYGATE_CATCH2_SUCCEED_(canarygate_claim_.report);                    \
        } else {                                                                     \
            fail(canarygate_claim_.report);                                          \
        }                                                                            \
    } while (false)
