// SPDX-License-Identifier: MIT
// The histogram allocates its counters once, with the allocator it was given,
// and never allocates while recording or querying.
#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>

#include "canarygate/core/histogram.hpp"

namespace {

struct allocation_log {
    std::size_t allocations = 0;
    std::size_t deallocations = 0;
    std::size_t bytes = 0;
};

template <class T>
struct counting_allocator {
    using value_type = T;
    allocation_log* log;

    explicit counting_allocator(allocation_log* l) noexcept : log(l) {}
    template <class U>
    counting_allocator(const counting_allocator<U>& other) noexcept : log(other.log) {}

    T* allocate(std::size_t n) {
        ++log->allocations;
        log->bytes += n * sizeof(T);
        return std::allocator<T>().allocate(n);
    }
    void deallocate(T* p, std::size_t n) noexcept {
        ++log->deallocations;
        std::allocator<T>().deallocate(p, n);
    }
    template <class U>
    friend bool operator==(const counting_allocator& a, const counting_allocator<U>& b) {
        return a.log == b.log;
    }
};

using counted_histogram = canarygate::basic_exp_histogram<counting_allocator<std::uint64_t>>;

}  // namespace

TEST_CASE("the given allocator holds the counters and recording never allocates", "[allocator]") {
    allocation_log log;
    {
        counted_histogram h(canarygate::latency_ns_layout, counting_allocator<std::uint64_t>(&log));
        CHECK(log.allocations == 1);
        CHECK(log.bytes == (800 + 2) * sizeof(std::uint64_t));
        for (std::uint64_t v = 1; v < (std::uint64_t{1} << 50); v = v * 3 + 1) h.record(v);
        for (double v = 1e-9; v < 1e15; v *= 1.7) (void)h.record(v);
        (void)h.quantile(0.99);
        (void)h.rank(12345.0);
        (void)h.count();
        CHECK(log.allocations == 1);

        auto copy = h;  // the copy uses the same (propagated) allocator
        CHECK(log.allocations == 2);
        copy.merge(h);
        copy.subtract(h);
        CHECK(copy == h);
        CHECK(log.allocations == 2);
        CHECK(copy.get_allocator().log == &log);

        auto coarse = h.downscale(3);
        CHECK(log.allocations == 3);
        CHECK(coarse.get_allocator().log == &log);
    }
    CHECK(log.deallocations == log.allocations);
}
