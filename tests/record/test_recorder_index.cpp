// SPDX-License-Identifier: MIT
// histogram_counter_slot (the recorder's hot-path slot computation) must put
// every value where exp_histogram::record puts it.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>

#include "canarygate/core/detail/bucket_index.hpp"
#include "canarygate/core/detail/bucket_tables.hpp"
#include "canarygate/core/histogram.hpp"
#include "canarygate/record/metrics.hpp"

namespace cg = canarygate;

TEST_CASE("histogram_counter_slot matches exp_histogram::record", "[recorder][index]") {
    const cg::histogram_layout layouts[] = {cg::latency_ns_layout, cg::tokens_layout,
                                            cg::cost_nano_usd_layout, cg::histogram_layout{8, 3, 9},
                                            cg::histogram_layout{0, 0, 1}};
    std::mt19937_64 rng(7);
    for (const auto& layout : layouts) {
        INFO(layout.describe());
        std::vector<std::uint64_t> values = {0, 1, 2, 3, ~std::uint64_t{0}};
        for (int e = 0; e < 64; ++e) {
            values.push_back(std::uint64_t{1} << e);
            values.push_back((std::uint64_t{1} << e) + 1);
            values.push_back((std::uint64_t{1} << e) - 1);
        }
        for (int i = 0; i < 5'000; ++i) values.push_back(rng() >> (rng() % 64));
        for (const std::uint64_t v : values) {
            cg::exp_histogram one(layout);
            one.record(v);
            const std::size_t slot = cg::histogram_counter_slot(layout, v);
            std::vector<std::uint64_t> counters(cg::histogram_counter_count(layout), 0);
            REQUIRE(slot < counters.size());
            counters[slot] = 1;
            const cg::metric_values mv({}, counters);
            if (!(mv.histogram(layout) == one)) FAIL("value " << v << " slot " << slot);
        }
    }
}
