// SPDX-License-Identifier: MIT
/// \file
/// The traffic router: which arm serves a request, and whether a shadow copy
/// of it goes to the candidate. It runs inside the inference server, on the
/// request path.
///
/// - Sticky: the same key (request, session or user id: the caller chooses)
///   always lands on the same arm under the same weights.
/// - Monotone: raising the candidate's weight only moves keys from baseline
///   to candidate, never back, so a user who has seen the candidate keeps it
///   while the rollout advances.
/// - Compatible, bit for bit, with the bucketing that gateways and flag
///   systems already run, so that canarygate and they put every user on the
///   same arm:
///   - flagd's `fractional` operator: bucket = (murmur3_32(flag key ‖ key) ×
///     total weight) >> 32 on the integer scale [0, total); the first arm
///     whose running weight sum exceeds the bucket serves the request.
///   - Unleash's gradual and flexible rollout strategies: the request goes to
///     the candidate when murmur3_32(group id ‖ ":" ‖ key) % 100 + 1 ≤ the
///     rollout percentage.
///   Both hash with seed 0. How a non-ASCII key is read differs between the
///   reference implementations; see key_hashing in rollout/murmur3.hpp.
/// - Flippable in one store: the weights and the shadow fraction are packed
///   into one 64-bit atomic word. A roll-back (`set_weights` with candidate
///   weight 0) is seen by the next decision of every thread; route() takes
///   no lock, allocates nothing, reads no clock and never waits (wait-free).
///
/// A request without a key (an empty key) is served by the baseline, as
/// flagd serves its default variant when there is no targeting key and
/// Unleash disables a rollout for a missing stickiness id; it is shadowed
/// only when the shadow fraction is 100 %.
///
/// Example:
/// \code
///   canarygate::router r({.scheme = canarygate::bucketing::flagd_fractional,
///                         .flag_key = "chat-model-rollout"},
///                        {.baseline = 99, .candidate = 1});
///   const auto d = r.route(user_id);                  // on every request
///   serve(d.target == canarygate::route_target::candidate ? candidate : baseline);
///   if (d.shadow) mirror_to_candidate(request);
///   r.set_weights({.baseline = 100, .candidate = 0}); // roll back: one store
/// \endcode
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/core/mix.hpp"
#include "canarygate/rollout/murmur3.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// The bucketing scheme a router reproduces.
enum class bucketing : std::uint8_t {
    flagd_fractional,  ///< flagd's `fractional`: integer weights, each up to max_routing_weight
    unleash_rollout    ///< Unleash's gradual / flexible rollout: whole percent, weights sum to 100
};

/// Where the candidate's range lies in flagd's bucket list. flagd gives each
/// variant, in the order the flag lists them, a range of the integer scale;
/// the order therefore decides which users are in the canary, and a router
/// that should agree with a flag must list the arms as the flag does.
enum class arm_order : std::uint8_t {
    baseline_first,  ///< `fractional: [["baseline", b], ["candidate", c]]`
    candidate_first  ///< `fractional: [["candidate", c], ["baseline", b]]`
};

struct router_config {
    bucketing scheme = bucketing::flagd_fractional;
    /// flagd: the flag's key, hashed in front of the request key with no
    /// separator. Unleash: the strategy's groupId (the Node SDK's default is
    /// empty, Unleash's Rust core uses the feature's name), hashed with ":"
    /// between it and the request key.
    std::string flag_key;
    key_hashing hashing = key_hashing::utf8_bytes;
    /// flagd only (Unleash has one range, from 1 up).
    arm_order order = arm_order::baseline_first;

    /// Throws std::invalid_argument naming the field and its value.
    void validate() const {
        constexpr std::string_view where = "canarygate::router_config";
        if (scheme != bucketing::flagd_fractional && scheme != bucketing::unleash_rollout)
            detail::throw_bad_field(where, "scheme", static_cast<int>(scheme),
                                    "is not a bucketing");
        if (scheme == bucketing::flagd_fractional && flag_key.empty())
            detail::throw_bad_field(where, "flag_key", flag_key,
                                    "must be non-empty for flagd_fractional");
        if (hashing != key_hashing::utf8_bytes && hashing != key_hashing::flagd_javascript &&
            hashing != key_hashing::unleash_javascript) {
            detail::throw_bad_field(where, "hashing", static_cast<int>(hashing),
                                    "is not a key_hashing");
        }
        if ((hashing == key_hashing::flagd_javascript && scheme != bucketing::flagd_fractional) ||
            (hashing == key_hashing::unleash_javascript && scheme != bucketing::unleash_rollout)) {
            detail::throw_bad_field(
                where, "hashing", static_cast<int>(hashing),
                "reproduces the other scheme's JavaScript library; use utf8_bytes or "
                "the JavaScript reading of this scheme");
        }
        if (order != arm_order::baseline_first && order != arm_order::candidate_first)
            detail::throw_bad_field(where, "order", static_cast<int>(order), "is not an arm_order");
    }
};

/// The largest weight of one arm: the router packs both weights and the
/// shadow fraction into one 64-bit atomic word (21 + 21 + 20 bits). flagd
/// itself accepts totals up to 2^31 - 1; a flag whose weights exceed this
/// limit is refused with an error, never rounded.
inline constexpr std::uint32_t max_routing_weight = (1U << 21) - 1;
/// The shadow fraction's scale: parts per million.
inline constexpr std::uint32_t shadow_scale = 1'000'000;

/// The flippable part of the routing state: the arms' weights (the
/// candidate's share is candidate / (baseline + candidate)) and the fraction
/// of baseline-served requests that are mirrored to the candidate.
struct routing_weights {
    std::uint32_t baseline = 1;
    std::uint32_t candidate = 0;
    /// Parts per million of the requests the baseline serves whose copy is
    /// also sent to the candidate (shadow traffic: its answer is recorded,
    /// never shown). Sticky by key like the arms.
    std::uint32_t shadow_ppm = 0;

    [[nodiscard]] std::uint32_t total() const noexcept { return baseline + candidate; }
    /// The candidate's configured share of user traffic, in [0, 1].
    [[nodiscard]] double candidate_share() const noexcept {
        return static_cast<double>(candidate) / static_cast<double>(total());
    }
    friend bool operator==(const routing_weights&, const routing_weights&) = default;
};

enum class route_target : std::uint8_t { baseline, candidate };

[[nodiscard]] constexpr std::string_view name(route_target t) noexcept {
    return t == route_target::candidate ? "candidate" : "baseline";
}

/// One routing decision.
struct route_decision {
    route_target target = route_target::baseline;
    /// A copy of the request also goes to the candidate (only ever for a
    /// request the baseline serves).
    bool shadow = false;
    /// The weights this decision was made with: the split to remember with
    /// the request for its late feedback (feedback_tracker::remember takes
    /// weights.candidate_share()). A second weights() call could already see
    /// the next flip.
    routing_weights weights;
    friend bool operator==(const route_decision&, const route_decision&) = default;
};

class router {
public:
    /// Validates both arguments (std::invalid_argument names the field).
    explicit router(router_config config, routing_weights initial = {})
        : config_(std::move(config)), prefix_(0) {
        config_.validate();
        if (config_.hashing == key_hashing::flagd_javascript) prefix_.use_flagd_units();
        detail::append_key(prefix_, config_.flag_key, config_.hashing);
        if (config_.scheme == bucketing::unleash_rollout) prefix_.push(':');
        // (1) relaxed: the router is not shared yet; the thread that shares
        // it publishes the whole object.
        packed_.store(pack(checked(initial)), std::memory_order_relaxed);
    }

    router(const router&) = delete;
    router& operator=(const router&) = delete;

    [[nodiscard]] const router_config& config() const noexcept { return config_; }

    /// Routes one request by its sticky key. Wait-free, allocation-free and
    /// clock-free: one atomic load and one murmur3 pass over the key.
    [[nodiscard]] route_decision route(std::string_view key) const noexcept {
        // (2) acquire: pairs with the release store in (3); whatever the
        // flipping thread wrote before a flip (e.g. the stage it starts) is
        // visible to a thread that routes with the new weights. A plain load
        // on x86-64 and AArch64's ldar: no cost on the request path.
        const std::uint64_t packed = packed_.load(std::memory_order_acquire);
        const std::uint32_t baseline = unpack_baseline(packed);
        const std::uint32_t candidate = unpack_candidate(packed);
        const std::uint32_t shadow_ppm = unpack_shadow(packed);
        const routing_weights used{baseline, candidate, shadow_ppm};
        if (key.empty()) return {route_target::baseline, shadow_ppm == shadow_scale, used};
        const std::uint32_t h = hash(key);
        const route_target target = bucket_target(h, baseline, candidate);
        const bool shadow =
            target == route_target::baseline && shadow_ppm != 0 && shadow_bucket(h) < shadow_ppm;
        return {target, shadow, used};
    }

    /// Sets new weights (a flip: advance, roll back, promote). One release
    /// store; wait-free. Throws std::invalid_argument, changing nothing, for
    /// weights this router cannot take.
    void set_weights(routing_weights weights) {
        // (3) release: pairs with the acquire in (2).
        packed_.store(pack(checked(weights)), std::memory_order_release);
    }

    /// The weights in force.
    [[nodiscard]] routing_weights weights() const noexcept {
        // (4) acquire: as (2).
        const std::uint64_t packed = packed_.load(std::memory_order_acquire);
        return {unpack_baseline(packed), unpack_candidate(packed), unpack_shadow(packed)};
    }

    /// The 32-bit hash the scheme buckets `key` by: murmur3_32 of flag key
    /// (and ":" for Unleash) followed by the key, read as config().hashing
    /// says.
    [[nodiscard]] std::uint32_t hash(std::string_view key) const noexcept {
        detail::murmur3_stream stream = prefix_;
        detail::append_key(stream, key, config_.hashing);
        return stream.finish();
    }

    /// The arm a key with hash `h` lands on under the given weights; the
    /// scheme's rule, exposed for tests and tools.
    [[nodiscard]] route_target bucket_target(std::uint32_t h, std::uint32_t baseline,
                                             std::uint32_t candidate) const noexcept {
        if (config_.scheme == bucketing::unleash_rollout) {
            // Unleash: normalizedHash = h % 100 + 1, enabled iff ≤ rollout.
            return h % 100U + 1U <= candidate ? route_target::candidate : route_target::baseline;
        }
        const std::uint64_t total = std::uint64_t{baseline} + candidate;
        const std::uint64_t bucket = (std::uint64_t{h} * total) >> 32;  // in [0, total)
        const bool to_candidate =
            config_.order == arm_order::baseline_first ? bucket >= baseline : bucket < candidate;
        return to_candidate ? route_target::candidate : route_target::baseline;
    }

    /// The shadow bucket of a key with hash `h`, in [0, shadow_scale): the
    /// request is mirrored iff it is below shadow_ppm. Derived by SplitMix64
    /// from the routing hash, so it is sticky like the arm and needs no
    /// second pass over the key; it lies outside every reference scheme.
    [[nodiscard]] static std::uint32_t shadow_bucket(std::uint32_t h) noexcept {
        const std::uint64_t spread = mix64(h) >> 32;
        return static_cast<std::uint32_t>((spread * shadow_scale) >> 32);
    }

private:
    [[nodiscard]] routing_weights checked(routing_weights w) const {
        constexpr std::string_view where = "canarygate::router::set_weights";
        if (w.baseline > max_routing_weight)
            detail::throw_bad_field(where, "baseline", w.baseline,
                                    "exceeds max_routing_weight (2097151)");
        if (w.candidate > max_routing_weight)
            detail::throw_bad_field(where, "candidate", w.candidate,
                                    "exceeds max_routing_weight (2097151)");
        if (w.total() == 0)
            detail::throw_bad_field(where, "baseline + candidate", w.total(), "must be at least 1");
        if (config_.scheme == bucketing::unleash_rollout && w.total() != 100) {
            detail::throw_bad_field(
                where, "baseline + candidate", w.total(),
                "must be 100 for unleash_rollout (the candidate's weight is the "
                "rollout percentage)");
        }
        if (w.shadow_ppm > shadow_scale)
            detail::throw_bad_field(where, "shadow_ppm", w.shadow_ppm, "must be at most 1000000");
        return w;
    }

    [[nodiscard]] static std::uint64_t pack(routing_weights w) noexcept {
        return std::uint64_t{w.baseline} | std::uint64_t{w.candidate} << 21 |
               std::uint64_t{w.shadow_ppm} << 42;
    }
    [[nodiscard]] static std::uint32_t unpack_baseline(std::uint64_t p) noexcept {
        return static_cast<std::uint32_t>(p & max_routing_weight);
    }
    [[nodiscard]] static std::uint32_t unpack_candidate(std::uint64_t p) noexcept {
        return static_cast<std::uint32_t>((p >> 21) & max_routing_weight);
    }
    [[nodiscard]] static std::uint32_t unpack_shadow(std::uint64_t p) noexcept {
        return static_cast<std::uint32_t>(p >> 42);
    }

    router_config config_;
    detail::murmur3_stream prefix_;  // the hash state after the flag key (and ":")
    // Its own cache line: router threads only read it, and a neighbour's
    // writes must not invalidate their copy between flips.
    alignas(cache_line_size) std::atomic<std::uint64_t> packed_{0};
    static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
};

CANARYGATE_NAMESPACE_END
