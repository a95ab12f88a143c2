// SPDX-License-Identifier: MIT
/// \file
/// The testing kit's doctest adapter: include <doctest/doctest.h> first.
///
/// `CANARYGATE_CHECK(claim)` and `CANARYGATE_REQUIRE(claim)` take a
/// canarygate::testkit::claim_result (testing/kit.hpp) and make it one
/// doctest assertion. A failure prints the claim's report — the count, the
/// bounds, how the seeds ended, and the trace of a seed where the claim did
/// not hold (which gate, what evidence, at which stage, when) — never just
/// "false". With doctest's `-s` a passing claim prints its report too (the
/// seed count the kit chose among it).
///
/// Example:
/// \code
///   #include <doctest/doctest.h>
///   #include <canarygate/testing/doctest.hpp>
///
///   TEST_CASE("a +60 % cost regression halts by the 10 % stage") {
///       namespace kit = canarygate::testkit;
///       kit::rollout_test test(my_rollout());
///       test.inject({.cost = 1.6});
///       CANARYGATE_CHECK(test.expect(kit::halts_by("canary 10 %")).in_at_least(0.95));
///   }
/// \endcode
#pragma once

#if !defined(DOCTEST_LIBRARY_INCLUDED)
#error \
    "canarygate/testing/doctest.hpp adapts the testing kit to doctest: include <doctest/doctest.h> before it (for Catch2, include canarygate/testing/catch2.hpp instead)"
#endif

#include "canarygate/testing/kit.hpp"

/// Checks a claim; the test goes on if it fails.
#define CANARYGATE_CHECK(...) CANARYGATE_DOCTEST_CLAIM_(DOCTEST_FAIL_CHECK, __VA_ARGS__)
/// Checks a claim; the test stops if it fails.
#define CANARYGATE_REQUIRE(...) CANARYGATE_DOCTEST_CLAIM_(DOCTEST_FAIL, __VA_ARGS__)

#define CANARYGATE_DOCTEST_CLAIM_(fail, ...)                                           \
    do {                                                                               \
        const ::canarygate::testkit::claim_result canarygate_claim_ = (__VA_ARGS__);   \
        if (canarygate_claim_.passed) {                                                \
            DOCTEST_CHECK_MESSAGE(canarygate_claim_.passed, canarygate_claim_.report); \
        } else {                                                                       \
            fail(canarygate_claim_.report);                                            \
        }                                                                              \
    } while (false)
