// SPDX-License-Identifier: MIT
// Shared by the recorder and collector tests: reading what a recorder holds.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "canarygate/core/clock.hpp"
#include "canarygate/record/outcome.hpp"
#include "canarygate/window/collector.hpp"
#include "canarygate/window/snapshot.hpp"

namespace test_support {

/// Everything `rec` recorded so far, through a collector on a manual clock
/// (one tick; the collector detaches again).
template <class Recorder>
canarygate::snapshot totals_of(Recorder& rec) {
    canarygate::basic_collector<Recorder, canarygate::manual_clock> col(rec);
    col.tick();
    return col.cumulative();
}

/// The named histogram of an arm; throws when it is missing.
inline const canarygate::exp_histogram& histogram_of(const canarygate::arm_snapshot& a,
                                                     std::string_view name) {
    const canarygate::exp_histogram* h = a.histogram(name);
    if (h == nullptr) throw std::runtime_error("missing histogram " + std::string(name));
    return *h;
}

/// A valid outcome with this latency and defaults elsewhere.
inline canarygate::request_outcome outcome_with_latency(std::uint64_t latency_ns) {
    canarygate::request_outcome r;
    r.latency_ns = latency_ns;
    return r;
}

/// The candidate arm's requests in a snapshot (0 without a candidate arm;
/// 2^64 - 1, which no test expects, if the count does not fit 64 bits).
/// No Catch assertion here: reader threads call it, and Catch is not
/// thread-safe (TSan saw the race in test_collector_background).
inline std::uint64_t candidate_requests(const canarygate::snapshot& s) {
    const auto* a = s.find_arm("candidate");
    if (a == nullptr) return 0;
    const canarygate::wide_uint v = a->counter(canarygate::series::requests);
    return v.fits_u64() ? v.low : ~std::uint64_t{0};
}

}  // namespace test_support
