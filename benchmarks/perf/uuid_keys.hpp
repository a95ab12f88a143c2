// SPDX-License-Identifier: MIT
// Request and user ids as services send them: random UUIDs in text (36
// characters), for the benchmarks that hash or route keys.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace bench_support {

/// `n` version-4-shaped UUIDs in text, from mt19937_64 seeded with `seed`.
inline std::vector<std::string> uuid_texts(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::string> v;
    v.reserve(n);
    char buffer[40];
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t a = rng();
        const std::uint64_t b = rng();
        std::snprintf(buffer, sizeof buffer, "%08x-%04x-4%03x-%04x-%012llx",
                      static_cast<unsigned>(a >> 32), static_cast<unsigned>(a >> 16) & 0xffffU,
                      static_cast<unsigned>(a) & 0xfffU, static_cast<unsigned>(b >> 48),
                      static_cast<unsigned long long>(b & 0xffffffffffffULL));
        v.emplace_back(buffer);
    }
    return v;
}

}  // namespace bench_support
