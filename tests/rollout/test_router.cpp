// SPDX-License-Identifier: MIT
// The router: known hash values of the reference implementations (read from
// @openfeature/flagd-core 4.0.1, imurmurhash 0.1.4, unleash-client 6.12.1 and
// the Unleash client specification 6.1.0), stickiness, monotone buckets,
// shares within their binomial tolerance, the shadow fraction, validation,
// and that route() never allocates. The bulk comparisons against the real npm
// packages are tests/rollout/ecosystem/.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "canarygate/core/mix.hpp"
#include "canarygate/rollout/router.hpp"
#include "canarygate/stats/fixed_sample.hpp"
#include "support/counting_new.hpp"

namespace router_tests {

using canarygate::bucketing;
using canarygate::key_hashing;
using canarygate::murmur3_32;
using canarygate::route_target;
using canarygate::router;
using canarygate::routing_weights;

std::vector<std::string> uuid_like_keys(std::size_t n) {
    std::vector<std::string> keys;
    keys.reserve(n);
    std::uint64_t state = 0x1234;
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t a = canarygate::splitmix64_next(state);
        const std::uint64_t b = canarygate::splitmix64_next(state);
        char text[40];
        std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx",
                      static_cast<unsigned>(a >> 32), static_cast<unsigned>(a >> 16 & 0xffff),
                      static_cast<unsigned>(a & 0xffff), static_cast<unsigned>(b >> 48),
                      static_cast<unsigned long long>(b & 0xffffffffffffULL));
        keys.emplace_back(text);
    }
    return keys;
}

// True when `hits` of `n` is consistent with probability p: p lies in the
// two-sided Clopper–Pearson interval at level 1e-6 (the keys are fixed, so
// the outcome is deterministic; the interval is what a fair hash allows).
bool share_consistent(std::uint64_t hits, std::uint64_t n, double p) {
    const auto ci = canarygate::stats::clopper_pearson_interval(hits, n, 1e-6);
    return ci.lower <= p && p <= ci.upper;
}

TEST_CASE("murmur3_32 matches the reference values") {
    // Standard MurmurHash3_x86_32, seed 0.
    CHECK(murmur3_32("", "") == 0U);
    CHECK(murmur3_32("", "hello") == 0x248bfa47U);
    CHECK(murmur3_32("The quick brown ", "fox jumps over the lazy dog") == 0x2e4ff723U);
    CHECK(murmur3_32("", "The quick brown fox jumps over the lazy dog") == 0x2e4ff723U);
    // The split between prefix and key does not matter.
    for (std::size_t cut = 0; cut <= 11; ++cut) {
        const std::string s = "hello world";
        CHECK(murmur3_32(s.substr(0, cut), s.substr(cut)) == murmur3_32("", s));
    }

    // flagd-core's hash of "canary-rollout" + key (captured inside the library).
    const std::string flag = "canary-rollout";
    CHECK(murmur3_32(flag, "user-1") == 4225615928U);
    CHECK(murmur3_32(flag, "user-2") == 1382070870U);
    CHECK(murmur3_32(flag, "alice") == 3568098575U);
    CHECK(murmur3_32(flag, "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b") == 688709801U);
    // Non-ASCII: flagd-core (imurmurhash over UTF-16 code units) ...
    const auto js = key_hashing::flagd_javascript;
    CHECK(murmur3_32(flag, "caf\xc3\xa9", 0, js) == 3166334951U);
    CHECK(murmur3_32(flag, "na\xc3\xafve-user", 0, js) == 3259863067U);
    CHECK(murmur3_32(flag, "Zo\xc3\xab", 0, js) == 133656902U);
    CHECK(murmur3_32(flag,
                     "\xe3\x83\xa6\xe3\x83\xbc\xe3\x82\xb6\xe3\x83\xbc"
                     "42",
                     0, js) == 795652610U);
    CHECK(murmur3_32(flag, "\xe7\x94\xa8\xe6\x88\xb7", 0, js) == 289358742U);
    CHECK(murmur3_32(flag,
                     "\xf0\x9f\x98\x80"
                     "emoji",
                     0, js) == 3969283465U);
    // ... and the UTF-8 bytes (flagd's Go daemon) differ.
    CHECK(murmur3_32(flag, "caf\xc3\xa9") == 3920061710U);
    CHECK(murmur3_32(flag, "Zo\xc3\xab") == 2143811161U);
    CHECK(murmur3_32(flag,
                     "\xf0\x9f\x98\x80"
                     "emoji") == 3067064335U);
    // imurmurhash drops a tail whose third unit is >= 0x8000: "ab耀" and
    // "x😀" both hash to the length alone.
    CHECK(murmur3_32("", "ab\xe8\x80\x80", 0, js) == 2247144487U);
    CHECK(murmur3_32("", "x\xf0\x9f\x98\x80", 0, js) == 2247144487U);

    // Unleash: murmurhash3js of "groupId:id" (the Node SDK) and the UTF-8 bytes.
    const auto ujs = key_hashing::unleash_javascript;
    CHECK(murmur3_32("canary-rollout:", "user-1", 0, ujs) == 794038997U);
    CHECK(murmur3_32("canary-rollout:", "caf\xc3\xa9", 0, ujs) == 3053531386U);
    CHECK(murmur3_32("canary-rollout:", "caf\xc3\xa9") == 559482136U);
    CHECK(murmur3_32("canary-rollout:",
                     "\xf0\x9f\x98\x80"
                     "emoji",
                     0, ujs) == 3242642485U);
    CHECK(murmur3_32("canary-rollout:",
                     "\xf0\x9f\x98\x80"
                     "emoji") == 4265095841U);
}

TEST_CASE("invalid UTF-8 is read as Node and the WHATWG decoder read it") {
    // Each maximal ill-formed subpart is one U+FFFD, so these equal the
    // hash of the string of replacement characters.
    const auto js = key_hashing::flagd_javascript;
    const std::string fffd = "\xef\xbf\xbd";
    CHECK(murmur3_32("", "\xed\xa0\x80", 0, js) == murmur3_32("", fffd + fffd + fffd, 0, js));
    CHECK(murmur3_32("", "\xf0\x9f\x98", 0, js) == murmur3_32("", fffd, 0, js));
    CHECK(murmur3_32("",
                     "\xc0\xaf"
                     "a",
                     0, js) == murmur3_32("", fffd + fffd + "a", 0, js));
    CHECK(murmur3_32("",
                     "\xe0\x80"
                     "a",
                     0, js) == murmur3_32("", fffd + fffd + "a", 0, js));
    CHECK(murmur3_32("", "\xf4\x90\x80\x80", 0, js) ==
          murmur3_32("", fffd + fffd + fffd + fffd, 0, js));
    CHECK(murmur3_32("",
                     "\xe2\x82"
                     "x",
                     0, js) == murmur3_32("", fffd + "x", 0, js));
    // utf8_bytes hashes the bytes as they are.
    CHECK(murmur3_32("", "\xed\xa0\x80") != murmur3_32("", fffd + fffd + fffd));
}

TEST_CASE("flagd fractional buckets as the reference does") {
    router r({.scheme = bucketing::flagd_fractional, .flag_key = "canary-rollout"},
             {.baseline = 90, .candidate = 10});
    // bucket = (h * 100) >> 32: user-1 → 98 (candidate), user-2 → 32, alice → 83.
    CHECK(r.route("user-1").target == route_target::candidate);
    CHECK(r.route("user-2").target == route_target::baseline);
    CHECK(r.route("alice").target == route_target::baseline);
    CHECK(r.route("3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b").target == route_target::baseline);
    // With the candidate listed first, the candidate holds buckets [0, 10).
    router first({.scheme = bucketing::flagd_fractional,
                  .flag_key = "canary-rollout",
                  .order = canarygate::arm_order::candidate_first},
                 {.baseline = 90, .candidate = 10});
    CHECK(first.route("user-1").target == route_target::baseline);
    CHECK(first.route("3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b").target == route_target::baseline);
    CHECK(first.bucket_target(0, 90, 10) == route_target::candidate);
    CHECK(first.bucket_target(0xffffffffU, 90, 10) == route_target::baseline);
    // A zero-weight arm is never chosen; the key's bucket decides the rest.
    CHECK(r.bucket_target(0xffffffffU, 1, 0) == route_target::baseline);
    CHECK(r.bucket_target(0, 0, 1) == route_target::candidate);
}

TEST_CASE("Unleash rollout buckets as the client specification does") {
    // Vectors of the specification: normalizedHash("groupId:id") % 100 + 1.
    struct vector_case {
        const char* group;
        const char* id;
        std::uint32_t normalized;
    };
    const vector_case cases[] = {{"AB12A", "123", 51},
                                 {"AB12A", "122", 23},
                                 {"AB12A", "155", 100},
                                 {"Feature.flexibleRollout.10", "174", 10},
                                 {"Feature.flexibleRollout.userId.55", "25", 55},
                                 {"Feature.flexibleRollout.sessionId.42", "147", 42}};
    for (const auto& c : cases) {
        CAPTURE(c.group, c.id);
        CHECK(murmur3_32(std::string(c.group) + ":", c.id) % 100 + 1 == c.normalized);
        router at({.scheme = bucketing::unleash_rollout, .flag_key = c.group},
                  {.baseline = 100 - c.normalized, .candidate = c.normalized});
        router below({.scheme = bucketing::unleash_rollout, .flag_key = c.group},
                     {.baseline = 101 - c.normalized, .candidate = c.normalized - 1});
        CHECK(at.route(c.id).target == route_target::candidate);
        CHECK(below.route(c.id).target == route_target::baseline);
    }
}

TEST_CASE("routing is sticky and monotone in the candidate's weight") {
    const auto keys = uuid_like_keys(20'000);
    const canarygate::router_config configs[] = {
        {.scheme = bucketing::flagd_fractional, .flag_key = "rollout-a"},
        {.scheme = bucketing::flagd_fractional,
         .flag_key = "rollout-a",
         .order = canarygate::arm_order::candidate_first},
        {.scheme = bucketing::unleash_rollout, .flag_key = "rollout-a"},
    };
    for (const auto& config : configs) {
        router r(config, {.baseline = 100, .candidate = 0});
        std::vector<route_target> previous(keys.size(), route_target::baseline);
        std::uint64_t moved_back = 0;
        std::uint64_t not_sticky = 0;
        for (std::uint32_t w = 0; w <= 100; ++w) {
            r.set_weights({.baseline = 100 - w, .candidate = w});
            std::uint64_t on_candidate = 0;
            for (std::size_t i = 0; i < keys.size(); ++i) {
                const auto t = r.route(keys[i]).target;
                not_sticky += t != r.route(keys[i]).target;
                moved_back += previous[i] == route_target::candidate && t == route_target::baseline;
                on_candidate += t == route_target::candidate;
                previous[i] = t;
            }
            CAPTURE(static_cast<int>(config.scheme), static_cast<int>(config.order), w,
                    on_candidate);
            CHECK(share_consistent(on_candidate, keys.size(), w / 100.0));
        }
        CHECK(moved_back == 0);
        CHECK(not_sticky == 0);
    }
}

TEST_CASE("flagd buckets are monotone at any total weight") {
    // candidate ⇔ bucket ≥ baseline ⇔ h·T ≥ (T − w)·2^32: grows with w/T,
    // whatever T; checked on hash values at the scale's edges and inside.
    router r({.scheme = bucketing::flagd_fractional, .flag_key = "f"});
    const std::uint32_t hashes[] = {0U,          1U,          0x7fffffffU, 0x80000000U,
                                    0xfffffffeU, 0xffffffffU, 123456789U,  3000000000U};
    const std::uint32_t totals[] = {1U,    3U,         100U,
                                    1000U, 1'000'000U, canarygate::max_routing_weight};
    for (const std::uint32_t h : hashes) {
        for (const std::uint32_t total : totals) {
            bool seen_candidate = false;
            for (std::uint32_t step = 0; step <= 64; ++step) {
                const auto w = static_cast<std::uint32_t>(std::uint64_t{total} * step / 64);
                const bool candidate = r.bucket_target(h, total - w, w) == route_target::candidate;
                CAPTURE(h, total, w);
                CHECK((!seen_candidate || candidate));
                seen_candidate = seen_candidate || candidate;
            }
            CHECK(seen_candidate);  // at w = total every key is on the candidate
        }
    }
}

TEST_CASE("shadow copies: sticky, monotone, of baseline traffic only, at the configured fraction") {
    const auto keys = uuid_like_keys(20'000);
    router r({.scheme = bucketing::flagd_fractional, .flag_key = "shadow"},
             {.baseline = 3, .candidate = 1, .shadow_ppm = 0});
    std::vector<bool> was_shadow(keys.size(), false);
    for (const std::uint32_t ppm : {0U, 10'000U, 100'000U, 400'000U, 1'000'000U}) {
        r.set_weights({.baseline = 3, .candidate = 1, .shadow_ppm = ppm});
        std::uint64_t baseline_served = 0;
        std::uint64_t shadowed = 0;
        std::uint64_t violations =
            0;  // not sticky, a shadowed candidate request, a dropped shadow key
        for (std::size_t i = 0; i < keys.size(); ++i) {
            const auto d = r.route(keys[i]);
            violations += d != r.route(keys[i]);
            if (d.target == route_target::candidate) {
                violations += d.shadow;
                continue;
            }
            ++baseline_served;
            shadowed += d.shadow;
            violations += was_shadow[i] && !d.shadow;  // a larger fraction keeps every shadowed key
            was_shadow[i] = d.shadow;
        }
        CAPTURE(ppm, shadowed, baseline_served);
        CHECK(violations == 0);
        CHECK(share_consistent(shadowed, baseline_served, ppm / 1e6));
    }
    // The shadow stage: no user on the candidate, every request mirrored.
    r.set_weights({.baseline = 1, .candidate = 0, .shadow_ppm = 1'000'000});
    CHECK(r.route("any").shadow);
    CHECK(r.route("").shadow);
}

TEST_CASE("a request without a key is served by the baseline") {
    router r({.scheme = bucketing::flagd_fractional, .flag_key = "f"},
             {.baseline = 0, .candidate = 1, .shadow_ppm = 999'999});
    CHECK(r.route("") == canarygate::route_decision{route_target::baseline, false, r.weights()});
    CHECK(r.route("x").weights.candidate_share() == 1.0);
    router u({.scheme = bucketing::unleash_rollout, .flag_key = "g"},
             {.baseline = 0, .candidate = 100});
    CHECK(u.route("").target == route_target::baseline);
    CHECK(u.route("x").target == route_target::candidate);
}

TEST_CASE("bad configurations and weights are refused with the field and value") {
    using Catch::Matchers::Contains;
    CHECK_THROWS_WITH((void)router({.scheme = bucketing::flagd_fractional, .flag_key = ""}),
                      Contains("flag_key"));
    CHECK_THROWS_WITH((void)router({.scheme = bucketing::unleash_rollout,
                                    .flag_key = "g",
                                    .hashing = key_hashing::flagd_javascript},
                                   {.baseline = 100, .candidate = 0}),
                      Contains("hashing"));
    CHECK_THROWS_WITH((void)router({.scheme = bucketing::unleash_rollout, .flag_key = ""},
                                   {.baseline = 1, .candidate = 0}),
                      Contains("baseline + candidate = 1 must be 100"));
    router r({.scheme = bucketing::flagd_fractional, .flag_key = "f"},
             {.baseline = 9, .candidate = 1});
    CHECK_THROWS_WITH(r.set_weights({.baseline = 0, .candidate = 0}),
                      Contains("baseline + candidate = 0"));
    CHECK_THROWS_WITH(r.set_weights({.baseline = 1, .candidate = 2'097'152}),
                      Contains("candidate = 2097152"));
    CHECK_THROWS_WITH(r.set_weights({.baseline = 1, .candidate = 1, .shadow_ppm = 1'000'001}),
                      Contains("shadow_ppm = 1000001"));
    // A refused flip changes nothing.
    CHECK(r.weights() == routing_weights{.baseline = 9, .candidate = 1});
    r.set_weights({.baseline = canarygate::max_routing_weight,
                   .candidate = canarygate::max_routing_weight,
                   .shadow_ppm = 1'000'000});
    CHECK(r.weights() == routing_weights{canarygate::max_routing_weight,
                                         canarygate::max_routing_weight, 1'000'000});
    CHECK(r.weights().candidate_share() == 0.5);
}

TEST_CASE("route() never allocates") {
    if constexpr (!counting_new::active) {
        WARN("this sanitizer runtime owns operator new: allocation counting is off");
        return;
    }
    const auto keys = uuid_like_keys(1'000);
    const std::string non_ascii = "\xe3\x83\xa6\xe3\x83\xbc\xe3\x82\xb6\xe3\x83\xbc-\xed\xa0\x80";
    router f({.scheme = bucketing::flagd_fractional,
              .flag_key = "f",
              .hashing = key_hashing::flagd_javascript},
             {.baseline = 1, .candidate = 1, .shadow_ppm = 500'000});
    router u({.scheme = bucketing::unleash_rollout,
              .flag_key = "g",
              .hashing = key_hashing::unleash_javascript},
             {.baseline = 50, .candidate = 50});
    const std::uint64_t before = counting_new::count();
    std::uint64_t candidates = 0;
    for (const auto& key : keys) {
        candidates += f.route(key).target == route_target::candidate;
        candidates += u.route(key).target == route_target::candidate;
    }
    candidates += f.route(non_ascii).target == route_target::candidate;
    candidates += u.route(non_ascii).target == route_target::candidate;
    CHECK(counting_new::count() == before);
    CHECK(candidates > 0);
}

}  // namespace router_tests
