// SPDX-License-Identifier: MIT
// Merge, subtraction, downscaling, equality, rank queries and the handling of
// bad input and bad configuration.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "canarygate/core/histogram.hpp"

using canarygate::exp_histogram;
using canarygate::histogram_layout;
using Catch::Matchers::Contains;

namespace {

exp_histogram random_histogram(std::uint64_t seed, std::size_t n,
                               histogram_layout layout = canarygate::latency_ns_layout) {
    std::mt19937_64 rng(seed);
    std::lognormal_distribution<double> d(std::log(5e8), 1.5);
    exp_histogram h(layout);
    for (std::size_t i = 0; i < n; ++i) {
        const double v = d(rng);
        h.record(i % 97 == 0 ? std::uint64_t{0} : static_cast<std::uint64_t>(v));
    }
    return h;
}

std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "no exception";
}

}  // namespace

TEST_CASE("merge is exact, commutative and associative", "[ops]") {
    const auto a = random_histogram(1, 5000);
    const auto b = random_histogram(2, 7000);
    const auto c = random_histogram(3, 3000);
    auto ab = a;
    ab.merge(b);
    auto ba = b;
    ba.merge(a);
    CHECK(ab == ba);
    CHECK(ab.count() == a.count() + b.count());
    auto ab_c = ab;
    ab_c += c;
    auto bc = b;
    bc += c;
    auto a_bc = a;
    a_bc += bc;
    CHECK(ab_c == a_bc);
    CHECK(ab_c.zero_count() == a.zero_count() + b.zero_count() + c.zero_count());
}

TEST_CASE("subtraction undoes merge and refuses to go negative", "[ops]") {
    const auto a = random_histogram(4, 5000);
    const auto b = random_histogram(5, 6000);
    auto sum = a;
    sum += b;
    auto diff = sum;
    diff -= b;
    CHECK(diff == a);

    // b is not contained in a: the subtraction must fail and leave a untouched.
    auto untouched = a;
    CHECK_THROWS_WITH((void)untouched.subtract(b), Contains("would go negative"));
    CHECK(untouched == a);
}

TEST_CASE("downscale equals recording at the coarser scale", "[ops]") {
    for (int coarse = 0; coarse <= 5; ++coarse) {
        const auto fine = random_histogram(6, 20000);
        const auto direct =
            random_histogram(6, 20000, canarygate::latency_ns_layout.downscaled(coarse));
        CAPTURE(coarse);
        CHECK(fine.downscale(coarse) == direct);
        CHECK(fine.downscale(coarse).count() == fine.count());
    }
    // Negative exponents floor correctly through the arithmetic shift.
    const histogram_layout seconds(6, -20, 12);
    exp_histogram fine(seconds);
    exp_histogram coarse(seconds.downscaled(2));
    std::mt19937_64 rng(8);
    std::lognormal_distribution<double> d(std::log(0.01), 2.0);
    for (int i = 0; i < 20000; ++i) {
        const double v = d(rng);
        fine.record(v);
        coarse.record(v);
    }
    CHECK(fine.downscale(2) == coarse);
    CHECK_THROWS_WITH((void)fine.downscale(7), Contains("new_scale = 7"));
    CHECK_THROWS_WITH((void)fine.downscale(-1), Contains("new_scale = -1"));
}

TEST_CASE("mismatched layouts are a clear error", "[ops]") {
    auto a = random_histogram(9, 100);
    const auto b = random_histogram(9, 100, canarygate::latency_ns_layout.downscaled(4));
    const auto before = a;
    const std::string msg = message_of([&] { a.merge(b); });
    CHECK_THAT(msg, Contains("scale 5, (2^16, 2^41]") && Contains("scale 4, (2^16, 2^41]"));
    CHECK(a == before);
    const auto c = random_histogram(9, 100, histogram_layout(5, 16, 40));
    CHECK_THROWS_WITH((void)a.subtract(c), Contains("layouts differ"));
    CHECK(a == before);
    CHECK_FALSE(exp_histogram(histogram_layout(5, 16, 40)) == exp_histogram());
}

TEST_CASE("layout validation names the field and the value", "[ops]") {
    CHECK_THROWS_WITH((void)histogram_layout(9, 0, 10), Contains("scale = 9"));
    CHECK_THROWS_WITH((void)histogram_layout(-1, 0, 10), Contains("scale = -1"));
    CHECK_THROWS_WITH((void)histogram_layout(5, 10, 10), Contains("max_exponent = 10"));
    CHECK_THROWS_WITH((void)histogram_layout(5, -2000, 10), Contains("min_exponent = -2000"));
    CHECK_THROWS_WITH((void)histogram_layout(5, 0, 1024), Contains("max_exponent = 1024"));
    // The widest layout allowed is still a bounded 4 MiB of counters.
    CHECK(histogram_layout(8, -1022, 1023).bucket_count() == 2045 * 256);
    constexpr histogram_layout l = canarygate::latency_ns_layout;
    static_assert(l.bucket_count() == 800);
    static_assert(l.first_index() == 512 && l.last_index() == 1311);
    CHECK(l.relative_error() == Approx(0.010830).epsilon(1e-4));
    CHECK(histogram_layout(6, 0, 1).relative_error() == Approx(0.005415).epsilon(1e-3));
}

TEST_CASE("bad values are rejected and counted, never binned", "[ops]") {
    exp_histogram h(histogram_layout(5, -20, 12));
    CHECK_FALSE(h.record(std::numeric_limits<double>::quiet_NaN()));
    CHECK_FALSE(h.record(-1.0));
    CHECK_FALSE(h.record(-std::numeric_limits<double>::infinity()));
    CHECK_FALSE(h.record(std::numeric_limits<double>::infinity(), 3));
    CHECK(h.rejected_count() == 6);
    CHECK(h.count() == 0);
    CHECK(h.record(-0.0));
    CHECK(h.zero_count() == 1);
    CHECK(h.record(std::numeric_limits<double>::denorm_min()));
    CHECK(h.underflow_count() == 1);
    CHECK(h.record(std::numeric_limits<double>::max()));
    CHECK(h.overflow_count() == 1);
    CHECK(h.count() == 3);
    // Rejections survive merge and subtraction like every other counter.
    auto twice = h;
    twice += h;
    CHECK(twice.rejected_count() == 12);
    twice -= h;
    CHECK(twice == h);
}

TEST_CASE("quantile queries: bad q, empty, single value", "[ops]") {
    exp_histogram h;
    CHECK_THROWS_WITH((void)h.quantile(1.5), Contains("q = 1.5"));
    CHECK_THROWS_WITH((void)h.quantile(-0.1), Contains("q = -0.1"));
    CHECK_THROWS_AS((void)h.quantile(std::numeric_limits<double>::quiet_NaN()),
                    std::invalid_argument);
    const auto e = h.quantile(0.5);
    CHECK(e.region == canarygate::quantile_region::empty);
    CHECK(std::isnan(e.value));
    CHECK_FALSE(e.bounded());
    h.record(std::uint64_t{1'000'000});
    for (const double q : {0.0, 0.5, 1.0}) {
        const auto r = h.quantile(q);
        CHECK(r.bounded());
        CHECK(r.lower < 1e6);
        CHECK(r.upper >= 1e6);
        CHECK(std::fabs(r.value - 1e6) <= 1e6 * h.layout().relative_error());
    }
}

TEST_CASE("rank bounds contain the exact rank", "[ops]") {
    std::mt19937_64 rng(10);
    std::lognormal_distribution<double> d(std::log(1e7), 1.0);
    std::vector<std::uint64_t> data(20000);
    exp_histogram h;
    for (auto& v : data) {
        v = static_cast<std::uint64_t>(d(rng));
        h.record(v);
    }
    for (const double x : {0.0, 1e5, 3e6, 1e7, 1.5e7, 4e8, 65536.0, 1048576.0, 1e13, -5.0}) {
        std::uint64_t exact = 0;
        for (const auto v : data) exact += static_cast<double>(v) <= x ? 1U : 0U;
        const auto r = h.rank(x);
        CAPTURE(x, exact, r.lower, r.upper);
        CHECK(r.lower <= exact);
        CHECK(exact <= r.upper);
    }
    // A power of two is an inclusive upper edge: the rank is exact there.
    const auto at_edge = h.rank(1048576.0);
    CHECK(at_edge.lower == at_edge.upper);
    CHECK(h.rank(std::numeric_limits<double>::infinity()).lower == h.count());
    CHECK_THROWS_AS((void)h.rank(std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
}

TEST_CASE("min and max bounds", "[ops]") {
    exp_histogram h;
    CHECK_FALSE(h.min_bound().has_value());
    CHECK_FALSE(h.max_bound().has_value());
    h.record(std::uint64_t{3'000'000});
    h.record(std::uint64_t{90'000'000});
    const auto lo = h.min_bound().value();
    const auto hi = h.max_bound().value();
    CHECK(lo.first < 3e6);
    CHECK(lo.second >= 3e6);
    CHECK(hi.first < 9e7);
    CHECK(hi.second >= 9e7);
    h.record(std::uint64_t{0});
    CHECK(h.min_bound().value() == std::pair{0.0, 0.0});
    h.clear();
    CHECK(h.empty());
    CHECK(h == exp_histogram());
}

TEST_CASE("add_to_bucket matches record", "[ops]") {
    exp_histogram a;
    exp_histogram b;
    for (const std::uint64_t v :
         {std::uint64_t{70000}, std::uint64_t{123456789}, std::uint64_t{1} << 20, std::uint64_t{5},
          std::uint64_t{1} << 50}) {
        a.record(v, 3);
        b.add_to_bucket(canarygate::detail::bucket_index(v, 5), 3);
    }
    CHECK(a == b);
}

namespace {

constexpr std::uint64_t half_of_2_64 = std::uint64_t{1} << 63;  // 2^63
constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();

}  // namespace

TEST_CASE("merge refuses a counter that would pass 2^64 and changes nothing", "[ops][overflow]") {
    // The same slot in both: bucket, zero, underflow, overflow, rejected.
    const std::function<void(exp_histogram&)> fill[] = {
        [](exp_histogram& h) { h.record(std::uint64_t{1'000'000}, half_of_2_64); },
        [](exp_histogram& h) { h.record(std::uint64_t{0}, half_of_2_64); },
        [](exp_histogram& h) { h.record(std::uint64_t{5}, half_of_2_64); },
        [](exp_histogram& h) { h.record(std::uint64_t{1} << 60, half_of_2_64); },
        [](exp_histogram& h) { h.record(-1.0, half_of_2_64); },
    };
    const char* what[] = {"bucket (", "the zero count", "underflow (0, 65536]", "overflow (",
                          "the rejected count"};
    for (std::size_t i = 0; i < std::size(fill); ++i) {
        CAPTURE(what[i]);
        exp_histogram a;
        fill[i](a);
        a.record(std::uint64_t{70'000});  // one more value elsewhere
        const exp_histogram b = a;
        const exp_histogram before = a;
        const std::string msg = message_of([&] { a.merge(b); });
        CHECK_THAT(msg, Contains("canarygate::exp_histogram::merge: ") && Contains(what[i]) &&
                            Contains("would overflow (9223372036854775808 + 9223372036854775808)"));
        CHECK(a == before);
        CHECK_THROWS_AS(a += b, std::invalid_argument);
        CHECK(a == before);
    }
}

TEST_CASE("merge refuses a total count past 2^64 spread over different slots", "[ops][overflow]") {
    exp_histogram a;
    a.record(std::uint64_t{1'000'000}, half_of_2_64);
    exp_histogram b;
    b.record(std::uint64_t{2'000'000'000}, half_of_2_64);
    const exp_histogram before = a;
    const std::string msg = message_of([&] { a.merge(b); });
    CHECK_THAT(msg, Contains("the total count would overflow (9223372036854775808 + "
                             "9223372036854775808)"));
    CHECK(a == before);
    CHECK(a.count() == half_of_2_64);
    // Up to 2^64 - 1 in total is fine, in one slot or several.
    exp_histogram c;
    c.record(std::uint64_t{2'000'000'000}, half_of_2_64 - 1);
    a.merge(c);
    CHECK(a.count() == u64_max);
    exp_histogram d;
    d.record(std::uint64_t{1'000'000}, half_of_2_64 - 1);
    exp_histogram e;
    e.record(std::uint64_t{1'000'000}, half_of_2_64);
    d.merge(e);
    CHECK(d.count() == u64_max);
    // Merging into an empty histogram takes everything.
    exp_histogram empty;
    empty.merge(d);
    CHECK(empty == d);
}

TEST_CASE("merge_coarsening refuses overflow before coarsening anything", "[ops][overflow]") {
    const histogram_layout fine_layout = canarygate::latency_ns_layout;  // scale 5
    const histogram_layout coarse_layout = fine_layout.downscaled(2);
    // One slot: both land in the same coarse bucket.
    exp_histogram fine(fine_layout);
    fine.record(std::uint64_t{1'000'000}, half_of_2_64);
    exp_histogram coarse(coarse_layout);
    coarse.record(std::uint64_t{1'000'000}, half_of_2_64);
    for (const bool fine_first : {true, false}) {
        CAPTURE(fine_first);
        exp_histogram target = fine_first ? fine : coarse;
        const exp_histogram& other = fine_first ? coarse : fine;
        const exp_histogram before = target;
        const std::string msg = message_of([&] { target.merge_coarsening(other); });
        CHECK_THAT(msg, Contains("canarygate::exp_histogram::merge_coarsening: ") &&
                            Contains("would overflow (9223372036854775808 + 9223372036854775808)"));
        CHECK(target == before);  // not even downscaled
        CHECK(target.layout() == before.layout());
    }
    // Different slots: the total overflows.
    exp_histogram far(coarse_layout);
    far.record(std::uint64_t{1'000'000'000'000}, half_of_2_64);
    exp_histogram target = fine;
    const std::string msg = message_of([&] { target.merge_coarsening(far); });
    CHECK_THAT(msg, Contains("the total count would overflow"));
    CHECK(target == fine);
    // The rejected count too.
    exp_histogram rejected_fine(fine_layout);
    rejected_fine.record(-1.0, half_of_2_64);
    exp_histogram rejected_coarse(coarse_layout);
    rejected_coarse.record(-1.0, half_of_2_64);
    CHECK_THROWS_WITH(rejected_fine.merge_coarsening(rejected_coarse),
                      Contains("the rejected count would overflow"));
    CHECK(rejected_fine.layout() == fine_layout);
    // Within 2^64 - 1 it merges exactly.
    exp_histogram small(coarse_layout);
    small.record(std::uint64_t{1'000'000}, half_of_2_64 - 1);
    exp_histogram sum = fine;
    sum.merge_coarsening(small);
    CHECK(sum.layout() == coarse_layout);
    CHECK(sum.count() == u64_max);
}

TEST_CASE("downscale refuses a coarse bucket that would pass 2^64", "[ops][overflow]") {
    // Two fine buckets of one coarse bucket, 2^63 each (the hot path lets a
    // histogram hold that; it wraps like any unsigned counter).
    exp_histogram h(histogram_layout(1, 0, 40));
    h.add_to_bucket(20, half_of_2_64);  // (2^10, 2^10.5]
    h.add_to_bucket(21, half_of_2_64);  // (2^10.5, 2^11]: same bucket at scale 0
    CHECK_THROWS_WITH((void)h.downscale(0),
                      Contains("canarygate::exp_histogram::downscale: bucket (1024, 2048] would "
                               "overflow (9223372036854775808 + 9223372036854775808)"));
    CHECK(h.downscale(1) == h);  // no coarsening, no sum
}
