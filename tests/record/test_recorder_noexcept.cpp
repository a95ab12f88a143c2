// SPDX-License-Identifier: MIT
// Locks down which recorder and collector operations are noexcept (the hot
// path) and which may throw (configuration, snapshots). Compile-time only.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "canarygate/core/clock.hpp"
#include "canarygate/record/metrics.hpp"
#include "canarygate/record/recorder.hpp"
#include "canarygate/window/collector.hpp"

namespace {
namespace cg = canarygate;
using writer = cg::recorder::writer;
using manual_collector = cg::basic_collector<cg::recorder, cg::manual_clock>;

#define REC std::declval<cg::recorder&>()
#define W std::declval<writer&>()
#define OUT std::declval<const cg::request_outcome&>()

// The hot path.
static_assert(noexcept(REC.record(cg::arm_id{}, OUT)));
static_assert(noexcept(REC.record_feedback(cg::arm_id{}, cg::feedback_kind::score, 1)));
static_assert(noexcept(REC.make_writer()));
static_assert(noexcept(W.record(cg::arm_id{}, OUT)));
static_assert(noexcept(W.record_feedback(cg::arm_id{}, cg::feedback_kind::ticket)));
static_assert(noexcept(REC.arm_count()));
static_assert(noexcept(REC.shards_in_use()));
static_assert(noexcept(cg::ns_from_seconds(1.0)));
static_assert(std::is_nothrow_move_constructible_v<writer>);
static_assert(std::is_nothrow_move_assignable_v<writer>);
static_assert(std::is_nothrow_destructible_v<writer>);
static_assert(!std::is_copy_constructible_v<writer>);
static_assert(!std::is_copy_constructible_v<cg::recorder>);
static_assert(!std::is_move_constructible_v<cg::recorder>);

// Metric hooks are noexcept (the metric_set static_asserts it as well).
static_assert(noexcept(cg::default_metrics::validate<cg::recorder_traits>(OUT)));
static_assert(noexcept(cg::histogram_counter_slot(cg::latency_ns_layout, 1)));

// Configuration and snapshots may throw.
static_assert(!noexcept(REC.add_arm("x")));
static_assert(!noexcept(REC.arm(cg::arm_id{})));
static_assert(!noexcept(REC.arms()));
static_assert(!noexcept(std::declval<manual_collector&>().tick()));
static_assert(!noexcept(std::declval<manual_collector&>().window(0)));
static_assert(!noexcept(std::declval<manual_collector&>().cumulative()));
static_assert(!noexcept(std::declval<manual_collector&>().start()));
static_assert(noexcept(std::declval<manual_collector&>().stop()));
static_assert(noexcept(std::declval<manual_collector&>().background_errors()));
static_assert(!std::is_copy_constructible_v<manual_collector>);

// The manual clock is wait-free and copyable.
static_assert(noexcept(std::declval<cg::manual_clock&>().now()));
static_assert(
    noexcept(std::declval<cg::manual_clock&>().advance(std::declval<std::chrono::seconds>())));
static_assert(std::is_nothrow_copy_constructible_v<cg::manual_clock>);
static_assert(cg::clock_source<cg::manual_clock>);
static_assert(cg::to_ns(std::chrono::milliseconds(3)) == 3'000'000);
#undef REC
#undef W
#undef OUT
}  // namespace

TEST_CASE("recorder noexcept contract is checked at compile time", "[recorder][noexcept]") {
    SUCCEED("the static_asserts above compiled");
}
