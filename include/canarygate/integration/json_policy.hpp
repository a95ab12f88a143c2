// SPDX-License-Identifier: MIT
/// \file
/// Optional integration header (component canarygate::json, nlohmann-json
/// >= 3.11): a whole rollout policy as one JSON document, the file a team
/// reviews and flips ("policy lives in config; roll-back = flip policy"),
/// alone or as a variant of a flag in flagd's flag-file format.
///
/// \code
///   const canarygate::rollout_policy p = canarygate::parse_policy(read_file("policy.json"));
///   canarygate::rollout_controller controller(p.rollout, now);
///   write_file("policy.json", canarygate::policy_text(p));   // the canonical form
///
///   // the same policy as the default variant of flag "chat-rollout-policy":
///   const auto flag = canarygate::parse_policy_flag(read_file("flags.json"),
///                                                   "chat-rollout-policy");
///   const canarygate::rollout_policy& live = flag.selected();
/// \endcode
///
/// ## The document, version 1
///
/// The JSON Schema is `schema/policy.schema.json`; docs/policy-files.md is
/// the reference with examples. Keys are named as the C++ fields they fill,
/// durations are strings of whole units ("90s", "1h30m", "250ms"; units h,
/// m, s, ms, us, ns), and every key but `format`, `version`, `models`,
/// `stages` and `policy` (with its `gates`) may be left out for its default:
///
/// ```
/// { "format": "canarygate.policy", "version": 1,
///   "action": "run",                                  // run | hold | roll_back
///   "models": {"baseline": "sha256:…", "candidate": "sha256:…"},
///   "routing": {"scheme": "flagd_fractional", "flag_key": "chat-model",
///               "hashing": "utf8_bytes", "order": "baseline_first"},
///   "stages": [{"name": "canary 1 %", "kind": "canary",
///               "weights": {"baseline": 99, "candidate": 1, "shadow_ppm": 0},
///               "min_dwell": "30m", "min_candidate_requests": 0,
///               "max_duration": "0s", "at_max": "hold"}, …],
///   "policy": {"baseline_arm": "baseline", "candidate_arm": "candidate",
///              "alpha_fail": 0.05, "alpha_pass": 0.05, "srm_alpha": 0.001,
///              "srm_concentration": 100.0, "tuning": {…},
///              "gates": [{"signal": "latency", "name": "latency_p99", "critical": true,
///                         "budget_weight": 1.0, "min_events": 0, "quantile": 0.99,
///                         "multiplier": 1.5, "batch_window": "0s"}, …]},
///   "shadow_policy": {…as policy…}, "paired_shadow": {…}, "ab": {…} }
/// ```
///
/// A gate's kind follows from its signal: latency, ttft and output_length
/// are quantile gates, cost a mean gate, error_rate, refusal_rate and
/// feedback_rate rate gates, output_shape the shape gate.
///
/// ## Errors
///
/// Reading checks every key and value and throws `policy_error`, whose
/// message names the path and the value: `policy.gates[2].multiplier: must
/// be >= 1 when worse is increase, got 0.8`. Unknown keys are errors (a
/// misspelt key would otherwise be a silently ignored setting), as are
/// duplicate keys (which a DOM would collapse). The rules that tie fields
/// together (a shadow stage needs a shadow policy, the last stage is not a
/// shadow stage, arm names agree, ...) are the C++ structs' own validate(),
/// reported at the object they concern.
///
/// ## Canonical form
///
/// `policy_text(p)` writes every key, defaults included (a stage's name
/// only when it has one), in the order above, two-space indented, with a
/// final newline: the canonical form.
/// Reading a canonical document and writing it again gives the same bytes,
/// so a policy file can be kept canonical and diffed (`canarygate validate
/// --canonical`).
///
/// ## flagd flag files
///
/// `parse_policy_flag` reads a flag file (`{"flags": {KEY: {"state",
/// "variants", "defaultVariant", "targeting"}}}`) whose variants are policy
/// documents, e.g. "rollout" and "rollback" (the same policy with "action":
/// "roll_back"): flipping `defaultVariant` flips the policy. Every variant
/// is read and validated (a flip must never meet an invalid policy); the
/// selected one is the default variant. canarygate evaluates no targeting
/// rules: a flag with one is refused rather than resolved differently from
/// flagd. Other flags in the file are left alone.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/gates/gate.hpp"
#include "canarygate/gates/policy.hpp"
#include "canarygate/integration/json_state.hpp"
#include "canarygate/rollout/ab_test.hpp"
#include "canarygate/rollout/controller.hpp"
#include "canarygate/rollout/router.hpp"
#include "canarygate/rollout/shadow_pairs.hpp"

CANARYGATE_NAMESPACE_BEGIN

inline constexpr std::string_view policy_json_format = "canarygate.policy";
inline constexpr int policy_json_version = 1;

/// What the rollout should do now, beside its stages: the switch a person
/// (or a flag flip) turns.
enum class policy_action : std::uint8_t {
    run,       ///< follow the stages under the gates
    hold,      ///< stay at the current stage (the controller is paused; a fail still rolls back)
    roll_back  ///< candidate weight 0 and shadow off now; the controller aborts
};

[[nodiscard]] constexpr std::string_view name(policy_action a) noexcept {
    switch (a) {
        case policy_action::run:
            return "run";
        case policy_action::hold:
            return "hold";
        case policy_action::roll_back:
            return "roll_back";
    }
    return "unknown";
}

/// A rollout policy as a file holds it.
struct rollout_policy {
    /// The stages, gates, budgets, shadow and A/B settings and model digests.
    controller_config rollout;
    /// How the inference servers split traffic (the router they build);
    /// unset when the file does not say (a judge needs none).
    std::optional<router_config> routing;
    policy_action action = policy_action::run;
    /// The document's "$schema" (e.g. the URL of schema/policy.schema.json,
    /// for editors): kept and written back first; empty: none.
    std::string json_schema;

    /// Throws std::invalid_argument naming the field: rollout.validate(),
    /// routing->validate(), and, for Unleash routing, weights that sum to 100.
    void validate() const {
        rollout.validate();
        if (!routing) return;
        routing->validate();
        if (routing->scheme != bucketing::unleash_rollout) return;
        for (std::size_t i = 0; i < rollout.stages.size(); ++i) {
            const routing_weights& w = rollout.stages[i].weights;
            if (w.total() != 100) {
                detail::throw_bad_field("canarygate::rollout_policy",
                                        "stages[" + std::to_string(i) + "].weights total",
                                        w.total(),
                                        "must be 100 for unleash_rollout routing (the candidate's "
                                        "weight is the rollout percentage)");
            }
        }
    }
};

/// A policy document that cannot be read: `path()` is where
/// ("policy.gates[2].multiplier"; empty for the document itself) and
/// `message()` what is wrong, with the value found.
class policy_error : public std::invalid_argument {
public:
    policy_error(const std::string& path, const std::string& message)
        : std::invalid_argument((path.empty() ? std::string("(document)") : path) + ": " + message),
          path_(path),
          message_(message) {}

    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    [[nodiscard]] const std::string& message() const noexcept { return message_; }

private:
    std::string path_;
    std::string message_;
};

/// Reads a policy document from a DOM; `path` is the document's own path in
/// a larger one (prefixed to every error's path). Throws policy_error.
[[nodiscard]] inline rollout_policy policy_from_json(const nlohmann::json& j,
                                                     const std::string& path = "");
/// Parses policy text: as policy_from_json, plus policy_error for a syntax
/// error (with its line and column) and for a duplicate key.
[[nodiscard]] inline rollout_policy parse_policy(std::string_view text);
/// The canonical document of `p`. Throws std::invalid_argument for an
/// invalid policy and for values a document cannot hold (counts above
/// 2^53 - 1, delays beyond 64-bit nanoseconds), so that every text written
/// reads back (and a feedback gate's feedback_delay_sigma that is not
/// positive). Durations are whole nanoseconds.
[[nodiscard]] inline nlohmann::ordered_json policy_to_json(const rollout_policy& p);
/// The canonical text: policy_to_json(p).dump(2) and a newline.
[[nodiscard]] inline std::string policy_text(const rollout_policy& p);

/// A flag of a flagd flag file whose variants are policies.
struct policy_flag {
    std::string key;
    std::string default_variant;
    std::map<std::string, rollout_policy, std::less<>> variants;

    /// The policy flagd resolves the flag to: the default variant's.
    [[nodiscard]] const rollout_policy& selected() const { return variants.at(default_variant); }
};

/// Reads flag `flag_key` of a flagd flag file (see the file comment).
/// Throws policy_error with the path inside the file
/// ("flags.chat-policy.variants.rollback.stages[0].kind").
[[nodiscard]] inline policy_flag parse_policy_flag(std::string_view text,
                                                   std::string_view flag_key);

/// A flag file holding `flag` alone (state ENABLED, its variants in
/// canonical form, no targeting), the file parse_policy_flag reads back; it
/// names flagd's schema in "$schema". Throws std::invalid_argument when the
/// default variant names no variant or a variant cannot be written.
[[nodiscard]] inline std::string policy_flag_text(const policy_flag& flag);

/// A flag file (a top-level "flags" object) or a policy document? Decides on
/// the text's top-level keys; throws policy_error for text that is not a
/// JSON object.
[[nodiscard]] inline bool is_flag_file(std::string_view text);

// --- Implementation -----------------------------------------------------------

namespace detail::policy_json {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

[[noreturn]] inline void fail(const std::string& path, const std::string& message) {
    raise(policy_error(path, message));
}

[[nodiscard]] inline std::string member(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
}
[[nodiscard]] inline std::string element(const std::string& path, std::size_t index) {
    return path + "[" + std::to_string(index) + "]";
}

/// "a path" for a JSON Pointer ("/stages/0/kind" → "stages[0].kind").
[[nodiscard]] inline std::string path_of_pointer(const std::string& prefix,
                                                 const std::string& pointer) {
    std::string path = prefix;
    std::size_t at = 0;
    while (at < pointer.size()) {
        const std::size_t next = pointer.find('/', at + 1);
        std::string token =
            pointer.substr(at + 1, next == std::string::npos ? next : next - at - 1);
        for (std::size_t i = 0; (i = token.find('~', i)) != std::string::npos; ++i)
            token.replace(i, 2, i + 1 < token.size() && token[i + 1] == '1' ? "/" : "~");
        const bool index =
            !token.empty() && token.find_first_not_of("0123456789") == std::string::npos;
        path = index ? path + "[" + token + "]" : member(path, token);
        at = next == std::string::npos ? pointer.size() : next;
    }
    return path;
}

[[nodiscard]] inline std::string describe(const json& v) { return state_json::describe(v); }

/// An allowed range of a real value.
struct real_range {
    double low;
    bool low_open;
    double high;  // +inf: none (the value must still be finite)
    bool high_open;

    [[nodiscard]] bool contains(double x) const noexcept {
        return std::isfinite(x) && (low_open ? x > low : x >= low) &&
               (high_open ? x < high : x <= high);
    }
    [[nodiscard]] std::string text() const {
        if (std::isinf(high))
            return std::string("must be ") + (low_open ? "> " : ">= ") + to_text(low) +
                   " and finite";
        return std::string("must be in ") + (low_open ? "(" : "[") + to_text(low) + ", " +
               to_text(high) + (high_open ? ")" : "]");
    }
};

inline constexpr double unbounded = std::numeric_limits<double>::infinity();
inline constexpr real_range positive{0.0, true, unbounded, false};
inline constexpr real_range nonnegative{0.0, false, unbounded, false};
inline constexpr real_range at_least_one{1.0, false, unbounded, false};
inline constexpr real_range open_unit{0.0, true, 1.0, true};
inline constexpr real_range pass_level{0.0, true, 0.5, true};

/// The largest count a document holds: every JSON reader (JavaScript's
/// included) reads integers up to 2^53 - 1 exactly.
inline constexpr std::uint64_t max_count = (std::uint64_t{1} << 53) - 1;

/// One enumerator's spelling.
template <class Enum>
struct spelling {
    std::string_view text;
    Enum value;
};

/// The duration text of `ns` (>= 0): its nonzero units, largest first
/// ("1h30m", "250ms", "0s").
[[nodiscard]] inline std::string duration_text(std::int64_t ns) {
    if (ns == 0) return "0s";
    constexpr std::pair<std::int64_t, const char*> units[] = {
        {3'600'000'000'000, "h"}, {60'000'000'000, "m"}, {1'000'000'000, "s"},
        {1'000'000, "ms"},        {1'000, "us"},         {1, "ns"}};
    std::string text;
    for (const auto& [size, unit] : units) {
        if (ns >= size) {
            text += std::to_string(ns / size) + unit;
            ns %= size;
        }
    }
    return text;
}

/// Reads a duration (see the file comment); nullopt if the text is not one
/// (`overflow` set when it is one, but beyond 2^63 - 1 ns).
[[nodiscard]] inline std::optional<std::int64_t> parse_duration(std::string_view text,
                                                                bool& overflow) {
    overflow = false;
    if (text.empty()) return std::nullopt;
    std::int64_t total = 0;
    std::size_t at = 0;
    while (at < text.size()) {
        std::int64_t count = 0;
        const std::size_t digits_start = at;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
            const int digit = text[at] - '0';
            if (count > (std::numeric_limits<std::int64_t>::max() - digit) / 10) {
                overflow = true;
                count = 0;
            }
            count = count * 10 + digit;
            ++at;
        }
        if (at == digits_start) return std::nullopt;
        std::int64_t unit = 0;
        const std::string_view rest = text.substr(at);
        if (rest.starts_with("ns")) {
            unit = 1, at += 2;
        } else if (rest.starts_with("us")) {
            unit = 1'000, at += 2;
        } else if (rest.starts_with("ms")) {
            unit = 1'000'000, at += 2;
        } else if (rest.starts_with("s")) {
            unit = 1'000'000'000, at += 1;
        } else if (rest.starts_with("m")) {
            unit = 60'000'000'000, at += 1;
        } else if (rest.starts_with("h")) {
            unit = 3'600'000'000'000, at += 1;
        } else {
            return std::nullopt;
        }
        if (count > (std::numeric_limits<std::int64_t>::max() - total) / unit) {
            overflow = true;
        } else {
            total += count * unit;
        }
    }
    if (overflow) return std::nullopt;
    return total;
}

/// An object with a known set of keys: unknown keys are errors, and each
/// member is read with its type, range and default.
class object_reader {
public:
    object_reader(const json& j, std::string path, std::initializer_list<std::string_view> keys)
        : j_(j), path_(std::move(path)) {
        if (!j.is_object()) fail(path_, "expected an object, found " + describe(j));
        for (const auto& item : j.items()) {
            bool known = false;
            for (const std::string_view k : keys) known = known || item.key() == k;
            if (!known) {
                std::string allowed;
                for (const std::string_view k : keys)
                    allowed += (allowed.empty() ? "" : ", ") + std::string(k);
                fail(member(path_, item.key()), "unknown key (this object takes " + allowed + ")");
            }
        }
    }

    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    [[nodiscard]] std::string at(std::string_view key) const { return member(path_, key); }
    [[nodiscard]] const json* find(std::string_view key) const {
        const auto it = j_.find(key);
        return it == j_.end() ? nullptr : &*it;
    }
    [[nodiscard]] const json& required(std::string_view key) const {
        const json* v = find(key);
        if (v == nullptr) fail(path_, "missing key '" + std::string(key) + "'");
        return *v;
    }

    [[nodiscard]] double real(std::string_view key, double fallback,
                              const real_range& range) const {
        const json* v = find(key);
        if (v == nullptr) return fallback;
        if (!v->is_number()) fail(at(key), "expected a number, found " + describe(*v));
        const double x = v->get<double>();
        if (!range.contains(x)) fail(at(key), range.text() + ", got " + v->dump());
        return x;
    }
    [[nodiscard]] std::uint64_t count(std::string_view key, std::uint64_t fallback,
                                      std::uint64_t low = 0, std::uint64_t high = max_count) const {
        const json* v = find(key);
        if (v == nullptr) return fallback;
        if (!v->is_number_integer()) fail(at(key), "expected an integer, found " + describe(*v));
        const bool negative = !v->is_number_unsigned() && v->get<std::int64_t>() < 0;
        const std::uint64_t x = negative ? 0 : v->get<std::uint64_t>();
        if (negative || x < low || x > high) {
            fail(at(key), "must be in [" + std::to_string(low) + ", " + std::to_string(high) +
                              "], got " + v->dump());
        }
        return x;
    }
    [[nodiscard]] bool boolean(std::string_view key, bool fallback) const {
        const json* v = find(key);
        if (v == nullptr) return fallback;
        if (!v->is_boolean()) fail(at(key), "expected true or false, found " + describe(*v));
        return v->get<bool>();
    }
    [[nodiscard]] std::string text(std::string_view key, std::string fallback) const {
        const json* v = find(key);
        if (v == nullptr) return fallback;
        if (!v->is_string()) fail(at(key), "expected a string, found " + describe(*v));
        return v->get<std::string>();
    }
    [[nodiscard]] std::int64_t duration(std::string_view key, std::int64_t fallback) const {
        const json* v = find(key);
        if (v == nullptr) return fallback;
        if (v->is_string()) {
            bool overflow = false;
            if (const auto ns = parse_duration(v->get_ref<const std::string&>(), overflow))
                return *ns;
            if (overflow) fail(at(key), "exceeds 2^63 - 1 ns (292 years), got " + v->dump());
        }
        fail(at(key),
             "expected a duration: whole numbers with units h, m, s, ms, us or ns, such as "
             "\"30m\", \"1h30m\" or \"0s\", found " +
                 describe(*v));
    }
    template <class Enum, std::size_t N>
    [[nodiscard]] Enum choice(std::string_view key, Enum fallback,
                              const spelling<Enum> (&options)[N]) const {
        const json* v = find(key);
        if (v == nullptr) return fallback;
        if (v->is_string()) {
            for (const auto& o : options) {
                if (o.text == v->get_ref<const std::string&>()) return o.value;
            }
        }
        std::string allowed;
        for (const auto& o : options)
            allowed +=
                (allowed.empty() ? "" : ", ") + std::string("\"") + std::string(o.text) + "\"";
        fail(at(key), "must be one of " + allowed + ", got " + v->dump());
    }

private:
    const json& j_;
    std::string path_;
};

template <class Enum, std::size_t N>
[[nodiscard]] std::string_view spell(Enum value, const spelling<Enum> (&options)[N]) {
    for (const auto& o : options) {
        if (o.value == value) return o.text;
    }
    return "unknown";
}

inline constexpr spelling<policy_action> actions[] = {{"run", policy_action::run},
                                                      {"hold", policy_action::hold},
                                                      {"roll_back", policy_action::roll_back}};
inline constexpr spelling<stage_kind> stage_kinds[] = {{"shadow", stage_kind::shadow},
                                                       {"canary", stage_kind::canary},
                                                       {"ab_test", stage_kind::ab_test}};
inline constexpr spelling<max_duration_rule> max_rules[] = {
    {"hold", max_duration_rule::hold},
    {"roll_back", max_duration_rule::roll_back},
    {"advance", max_duration_rule::advance}};
inline constexpr spelling<bucketing> schemes[] = {{"flagd_fractional", bucketing::flagd_fractional},
                                                  {"unleash_rollout", bucketing::unleash_rollout}};
inline constexpr spelling<key_hashing> hashings[] = {
    {"utf8_bytes", key_hashing::utf8_bytes},
    {"flagd_javascript", key_hashing::flagd_javascript},
    {"unleash_javascript", key_hashing::unleash_javascript}};
inline constexpr spelling<arm_order> orders[] = {{"baseline_first", arm_order::baseline_first},
                                                 {"candidate_first", arm_order::candidate_first}};
inline constexpr spelling<signal> signals[] = {{"latency", signal::latency},
                                               {"ttft", signal::ttft},
                                               {"cost", signal::cost},
                                               {"error_rate", signal::error_rate},
                                               {"refusal_rate", signal::refusal_rate},
                                               {"output_length", signal::output_length},
                                               {"output_shape", signal::output_shape},
                                               {"feedback_rate", signal::feedback_rate}};
inline constexpr spelling<direction> directions[] = {{"increase", direction::increase},
                                                     {"decrease", direction::decrease}};
inline constexpr spelling<feedback_kind> feedback_kinds[] = {
    {"thumbs_up", feedback_kind::thumbs_up},
    {"thumbs_down", feedback_kind::thumbs_down},
    {"ticket", feedback_kind::ticket},
    {"score", feedback_kind::score}};
inline constexpr spelling<ab_metric_kind> ab_metric_kinds[] = {{"rate", ab_metric_kind::rate},
                                                               {"mean", ab_metric_kind::mean}};

/// Runs `make` (a constructor or validate() of the C++ structs) and reports
/// its std::invalid_argument as a policy_error at `path`.
template <class Make>
auto validated(const std::string& path, Make&& make) -> decltype(make()) {
#if CANARYGATE_HAS_EXCEPTIONS()
    try {
        return make();
    } catch (const policy_error&) {
        throw;
    } catch (const std::invalid_argument& e) {
        // "canarygate::controller_config: stages[2] ..." or
        // "canarygate::quantile_gate 'p99': name ..." → "stages[2] ...",
        // "name ...": the path already says where.
        std::string_view what = e.what();
        if (what.starts_with("canarygate::") && what.find(": ") != std::string_view::npos)
            what.remove_prefix(what.find(": ") + 2);
        fail(path, std::string(what));
    }
#else
    (void)path;
    return make();
#endif
}

// --- Reading ---

[[nodiscard]] inline gate read_gate(const json& j, const std::string& path) {
    if (!j.is_object()) fail(path, "expected an object, found " + describe(j));
    const auto it = j.find("signal");
    if (it == j.end()) fail(path, "missing key 'signal'");
    // The signal decides the kind, and the kind the keys.
    signal metric = signal::latency;
    bool known = false;
    for (const auto& s : signals) {
        if (it->is_string() && s.text == it->get_ref<const std::string&>()) {
            metric = s.value;
            known = true;
        }
    }
    if (!known) {
        std::string allowed;
        for (const auto& s : signals)
            allowed += (allowed.empty() ? "\"" : ", \"") + std::string(s.text) + "\"";
        fail(member(path, "signal"), "must be one of " + allowed + ", got " + it->dump());
    }
    auto common = [](const object_reader& o, gate_common& c) {
        c.name = o.text("name", "");
        c.critical = o.boolean("critical", c.critical);
        c.budget_weight = o.real("budget_weight", c.budget_weight, positive);
        c.min_events = o.count("min_events", c.min_events);
    };
    // The mean and rate gates: which way is worse, the limit that way, batch mode.
    auto directed = [](const object_reader& o, auto& c) {
        c.worse = o.choice("worse", c.worse, directions);
        c.multiplier = o.real("multiplier", c.multiplier, positive);
        if (c.worse == direction::increase && c.multiplier < 1.0)
            fail(o.at("multiplier"),
                 "must be >= 1 when worse is increase, got " + to_text(c.multiplier));
        if (c.worse == direction::decrease && c.multiplier > 1.0)
            fail(o.at("multiplier"),
                 "must be <= 1 when worse is decrease, got " + to_text(c.multiplier));
        c.batch_window_ns = o.duration("batch_window", c.batch_window_ns);
    };
    if (is_quantile_signal(metric)) {
        const object_reader o(j, path,
                              {"signal", "name", "critical", "budget_weight", "min_events",
                               "quantile", "multiplier", "batch_window"});
        quantile_gate_config c;
        c.metric = metric;
        common(o, c);
        c.quantile = o.real("quantile", c.quantile, open_unit);
        c.multiplier = o.real("multiplier", c.multiplier, at_least_one);
        c.batch_window_ns = o.duration("batch_window", c.batch_window_ns);
        return validated(path, [&] { return gate(quantile_gate(std::move(c))); });
    }
    if (metric == signal::cost) {
        const object_reader o(j, path,
                              {"signal", "name", "critical", "budget_weight", "min_events",
                               "multiplier", "worse", "batch_window"});
        mean_gate_config c;
        common(o, c);
        directed(o, c);
        return validated(path, [&] { return gate(mean_gate(std::move(c))); });
    }
    if (is_rate_signal(metric)) {
        const bool feedback = metric == signal::feedback_rate;
        const object_reader o =
            feedback ? object_reader(j, path,
                                     {"signal", "name", "critical", "budget_weight", "min_events",
                                      "multiplier", "worse", "batch_window", "feedback",
                                      "feedback_delay_median", "feedback_delay_sigma"})
                     : object_reader(j, path,
                                     {"signal", "name", "critical", "budget_weight", "min_events",
                                      "multiplier", "worse", "batch_window"});
        rate_gate_config c;
        c.metric = metric;
        common(o, c);
        directed(o, c);
        if (feedback) {
            c.feedback = o.choice("feedback", c.feedback, feedback_kinds);
            c.feedback_delay_median_s =
                static_cast<double>(o.duration("feedback_delay_median", 0)) / 1e9;
            c.feedback_delay_sigma =
                o.real("feedback_delay_sigma", c.feedback_delay_sigma, positive);
            if (c.feedback_delay_median_s > 0 && c.batch_window_ns > 0)
                fail(o.at("feedback_delay_median"),
                     "cannot be combined with a batch_window (batch mode)");
        }
        return validated(path, [&] { return gate(rate_gate(std::move(c))); });
    }
    const object_reader o(
        j, path, {"signal", "name", "critical", "budget_weight", "min_events", "ks_tolerance"});
    shape_gate_config c;
    common(o, c);
    c.ks_tolerance = o.real("ks_tolerance", c.ks_tolerance, open_unit);
    return validated(path, [&] { return gate(shape_gate(std::move(c))); });
}

[[nodiscard]] inline policy_config read_policy(const json& j, const std::string& path) {
    const object_reader o(j, path,
                          {"baseline_arm", "candidate_arm", "alpha_fail", "alpha_pass", "srm_alpha",
                           "srm_concentration", "tuning", "gates"});
    policy_config c;
    c.baseline_arm = o.text("baseline_arm", c.baseline_arm);
    c.candidate_arm = o.text("candidate_arm", c.candidate_arm);
    c.alpha_fail = o.real("alpha_fail", c.alpha_fail, open_unit);
    c.alpha_pass = o.real("alpha_pass", c.alpha_pass, pass_level);
    c.srm_alpha = o.real("srm_alpha", c.srm_alpha, open_unit);
    c.srm_concentration = o.real("srm_concentration", c.srm_concentration, positive);
    if (const json* t = o.find("tuning")) {
        const object_reader to(*t, o.at("tuning"),
                               {"baseline_n_opt", "candidate_n_opt", "intervals", "batch_n_opt",
                                "batch_min_batches_to_pass"});
        gate_tuning& g = c.tuning;
        g.baseline_n_opt = to.real("baseline_n_opt", g.baseline_n_opt, positive);
        g.candidate_n_opt = to.real("candidate_n_opt", g.candidate_n_opt, positive);
        g.intervals = to.boolean("intervals", g.intervals);
        g.batch_n_opt = to.real("batch_n_opt", g.batch_n_opt, positive);
        g.batch_min_batches_to_pass =
            to.count("batch_min_batches_to_pass", g.batch_min_batches_to_pass);
    }
    const json& gates = o.required("gates");
    if (!gates.is_array() || gates.empty())
        fail(o.at("gates"), "expected a non-empty array of gates, found " + describe(gates));
    for (std::size_t i = 0; i < gates.size(); ++i)
        c.gates.push_back(read_gate(gates[i], element(o.at("gates"), i)));
    validated(path, [&] { c.validate(); });
    return c;
}

[[nodiscard]] inline rollout_stage read_stage(const json& j, const std::string& path) {
    const object_reader o(j, path,
                          {"name", "kind", "weights", "min_dwell", "min_candidate_requests",
                           "max_duration", "at_max"});
    rollout_stage s;
    s.name = o.text("name", "");
    s.kind = o.choice("kind", s.kind, stage_kinds);
    const object_reader w(o.required("weights"), o.at("weights"),
                          {"baseline", "candidate", "shadow_ppm"});
    s.weights.baseline =
        static_cast<std::uint32_t>(w.count("baseline", s.weights.baseline, 1, max_routing_weight));
    s.weights.candidate = static_cast<std::uint32_t>(
        w.count("candidate", s.kind == stage_kind::shadow ? 0 : s.weights.candidate, 0,
                max_routing_weight));
    s.weights.shadow_ppm = static_cast<std::uint32_t>(w.count("shadow_ppm", 0, 0, shadow_scale));
    s.min_dwell_ns = o.duration("min_dwell", s.min_dwell_ns);
    s.min_candidate_requests = o.count("min_candidate_requests", s.min_candidate_requests);
    s.max_duration_ns = o.duration("max_duration", s.max_duration_ns);
    s.at_max = o.choice("at_max", s.at_max, max_rules);
    if (s.max_duration_ns > 0 && s.max_duration_ns < s.min_dwell_ns) {
        fail(o.at("max_duration"), "must be \"0s\" (none) or at least min_dwell (\"" +
                                       duration_text(s.min_dwell_ns) + "\"), got \"" +
                                       duration_text(s.max_duration_ns) + "\"");
    }
    return s;
}

[[nodiscard]] inline paired_test_config read_paired(const json& j, const std::string& path) {
    const object_reader o(j, path, {"limits", "alpha_fail", "alpha_pass"});
    paired_test_config c;
    if (const json* l = o.find("limits")) {
        const object_reader lo(*l, o.at("limits"), {"cost", "output_length"});
        c.limits.cost = lo.real("cost", c.limits.cost, at_least_one);
        c.limits.output_length = lo.real("output_length", c.limits.output_length, at_least_one);
    }
    c.alpha_fail = o.real("alpha_fail", c.alpha_fail, open_unit);
    c.alpha_pass = o.real("alpha_pass", c.alpha_pass, pass_level);
    return c;
}

[[nodiscard]] inline ab_test_config read_ab(const json& j, const std::string& path,
                                            const policy_config& canary) {
    const object_reader o(j, path,
                          {"metric", "alpha", "min_requests", "compute_interval", "mean_n_opt"});
    const object_reader m(o.required("metric"), o.at("metric"),
                          {"kind", "name", "counter", "sum_squares_counter", "higher_is_better"});
    const ab_metric_kind kind = m.choice("kind", ab_metric_kind::rate, ab_metric_kinds);
    if (m.find("kind") == nullptr) fail(m.path(), "missing key 'kind'");
    if (kind == ab_metric_kind::rate && m.find("sum_squares_counter") != nullptr)
        fail(m.at("sum_squares_counter"), "applies to a mean metric only");
    ab_metric metric = validated(m.path(), [&] {
        return ab_metric(kind, m.text("name", ""), m.text("counter", ""),
                         m.text("sum_squares_counter", ""), m.boolean("higher_is_better", false));
    });
    ab_test_config c{.metric = std::move(metric)};
    c.alpha = o.real("alpha", c.alpha, open_unit);
    c.min_requests = o.count("min_requests", c.min_requests);
    c.compute_interval = o.boolean("compute_interval", c.compute_interval);
    c.mean_n_opt = o.real("mean_n_opt", c.mean_n_opt, positive);
    c.baseline_arm = canary.baseline_arm;
    c.candidate_arm = canary.candidate_arm;
    return c;
}

[[nodiscard]] inline rollout_policy read_document(const json& j, const std::string& path) {
    const object_reader o(j, path,
                          {"$schema", "format", "version", "action", "models", "routing", "stages",
                           "policy", "shadow_policy", "paired_shadow", "ab"});
    const json& format = o.required("format");
    if (format != policy_json_format) {
        fail(o.at("format"),
             "must be \"" + std::string(policy_json_format) + "\", got " + format.dump());
    }
    if (o.required("version") != policy_json_version) {
        fail(o.at("version"), "must be " + std::to_string(policy_json_version) +
                                  " (the version this canarygate reads), got " +
                                  o.required("version").dump());
    }
    rollout_policy p;
    p.json_schema = o.text("$schema", "");
    p.action = o.choice("action", p.action, actions);
    const object_reader models(o.required("models"), o.at("models"), {"baseline", "candidate"});
    p.rollout.baseline_digest = models.text("baseline", "");
    p.rollout.candidate_digest = models.text("candidate", "");
    for (const auto* key : {"baseline", "candidate"}) {
        const json& digest = models.required(key);
        if (!digest.is_string() || !is_model_digest(digest.get_ref<const std::string&>())) {
            fail(models.at(key),
                 "must be \"sha256:\" and 64 lowercase hex digits, got " + digest.dump());
        }
    }
    if (const json* r = o.find("routing")) {
        const object_reader ro(*r, o.at("routing"), {"scheme", "flag_key", "hashing", "order"});
        router_config rc;
        rc.scheme = ro.choice("scheme", rc.scheme, schemes);
        rc.flag_key = ro.text("flag_key", "");
        rc.hashing = ro.choice("hashing", rc.hashing, hashings);
        rc.order = ro.choice("order", rc.order, orders);
        if (rc.scheme == bucketing::flagd_fractional && rc.flag_key.empty())
            fail(ro.at("flag_key"), "must be non-empty for scheme \"flagd_fractional\"");
        if ((rc.hashing == key_hashing::flagd_javascript &&
             rc.scheme != bucketing::flagd_fractional) ||
            (rc.hashing == key_hashing::unleash_javascript &&
             rc.scheme != bucketing::unleash_rollout)) {
            fail(ro.at("hashing"), "\"" + std::string(spell(rc.hashing, hashings)) +
                                       "\" reproduces the other scheme's JavaScript library; use "
                                       "\"utf8_bytes\" or this scheme's own reading");
        }
        validated(ro.path(), [&] { rc.validate(); });
        p.routing = std::move(rc);
    }
    const json& stages = o.required("stages");
    if (!stages.is_array() || stages.empty())
        fail(o.at("stages"), "expected a non-empty array of stages, found " + describe(stages));
    for (std::size_t i = 0; i < stages.size(); ++i)
        p.rollout.stages.push_back(read_stage(stages[i], element(o.at("stages"), i)));
    p.rollout.policy = read_policy(o.required("policy"), o.at("policy"));
    if (const json* s = o.find("shadow_policy"))
        p.rollout.shadow_policy = read_policy(*s, o.at("shadow_policy"));
    if (const json* s = o.find("paired_shadow"))
        p.rollout.paired_shadow = read_paired(*s, o.at("paired_shadow"));
    if (const json* s = o.find("ab")) p.rollout.ab = read_ab(*s, o.at("ab"), p.rollout.policy);
    validated(path, [&] { p.validate(); });
    return p;
}

/// Parses text into a DOM: syntax errors with their line and column,
/// duplicate keys and excessive nesting as policy_error.
[[nodiscard]] inline json parse_text(std::string_view text, const std::string& path) {
    state_json::dom_builder builder("");
#if CANARYGATE_HAS_EXCEPTIONS()
    try {
        (void)json::sax_parse(text.begin(), text.end(), &builder);
    } catch (const decode_error& e) {
        if (e.offset() != decode_error::no_offset) {
            // nlohmann's message names the line and column: keep it, without
            // the exception's id and the byte offset the decoder appended.
            std::string what = e.what();
            const std::size_t id = what.find("[json.exception.");
            const std::size_t from = id == std::string::npos ? 0 : what.find("] ", id) + 2;
            const std::size_t to = what.rfind(" (at byte ");
            what = what.substr(from, to == std::string::npos || to < from ? to : to - from);
            if (what.find(" line ") == std::string::npos)
                what += " (byte " + std::to_string(e.offset()) + ")";
            fail(path, "not valid JSON: " + what);
        }
        fail(path_of_pointer(path, e.json_pointer()), state_json::decode_error_reason(e));
    }
#else
    (void)path;
    (void)json::sax_parse(text.begin(), text.end(), &builder);
#endif
    return std::move(builder.result());
}

// --- Writing ---

/// What the reader would refuse in a valid configuration: counts above
/// max_count and delays beyond 64-bit nanoseconds. std::invalid_argument
/// naming the field, so that every text written reads back.
inline void check_writable(const rollout_policy& p) {
    const auto count = [](const std::string& field, std::uint64_t value) {
        if (value > max_count)
            throw_bad_field("canarygate::policy_to_json", field, value,
                            "exceeds 2^53 - 1, the largest count a policy document holds");
    };
    const auto policy = [&](const std::string& where, const policy_config& c) {
        count(where + ".tuning.batch_min_batches_to_pass", c.tuning.batch_min_batches_to_pass);
        for (std::size_t i = 0; i < c.gates.size(); ++i) {
            const std::string field = where + ".gates[" + std::to_string(i) + "]";
            count(field + ".min_events", c.gates[i].common().min_events);
            if (const auto* rate = std::get_if<rate_gate>(&c.gates[i].kind());
                rate != nullptr && rate->metric() == signal::feedback_rate) {
                if (!(rate->config().feedback_delay_sigma > 0))
                    throw_bad_field("canarygate::policy_to_json", field + ".feedback_delay_sigma",
                                    rate->config().feedback_delay_sigma,
                                    "must be positive in a policy document");
                const double ns = rate->config().feedback_delay_median_s * 1e9;
                if (!(ns < 9.2e18))
                    throw_bad_field("canarygate::policy_to_json",
                                    field + ".feedback_delay_median_s",
                                    rate->config().feedback_delay_median_s,
                                    "exceeds the longest duration a document holds (292 years)");
            }
        }
    };
    for (std::size_t i = 0; i < p.rollout.stages.size(); ++i)
        count("stages[" + std::to_string(i) + "].min_candidate_requests",
              p.rollout.stages[i].min_candidate_requests);
    policy("policy", p.rollout.policy);
    if (p.rollout.shadow_policy) policy("shadow_policy", *p.rollout.shadow_policy);
    if (p.rollout.ab) count("ab.min_requests", p.rollout.ab->min_requests);
}

[[nodiscard]] inline ojson write_gate(const gate& g) {
    ojson out;
    out["signal"] = std::string(canarygate::name(g.metric()));
    const gate_common& c = g.common();
    out["name"] = c.name;
    out["critical"] = c.critical;
    out["budget_weight"] = c.budget_weight;
    out["min_events"] = c.min_events;
    std::visit(
        [&](const auto& kind) {
            const auto& k = kind.config();
            using config = std::decay_t<decltype(k)>;
            if constexpr (std::is_same_v<config, quantile_gate_config>) {
                out["quantile"] = k.quantile;
                out["multiplier"] = k.multiplier;
                out["batch_window"] = duration_text(k.batch_window_ns);
            } else if constexpr (std::is_same_v<config, mean_gate_config>) {
                out["multiplier"] = k.multiplier;
                out["worse"] = spell(k.worse, directions);
                out["batch_window"] = duration_text(k.batch_window_ns);
            } else if constexpr (std::is_same_v<config, rate_gate_config>) {
                out["multiplier"] = k.multiplier;
                out["worse"] = spell(k.worse, directions);
                out["batch_window"] = duration_text(k.batch_window_ns);
                if (k.metric == signal::feedback_rate) {
                    out["feedback"] = spell(k.feedback, feedback_kinds);
                    out["feedback_delay_median"] = duration_text(
                        static_cast<std::int64_t>(std::llround(k.feedback_delay_median_s * 1e9)));
                    out["feedback_delay_sigma"] = k.feedback_delay_sigma;
                }
            } else {
                out["ks_tolerance"] = k.ks_tolerance;
            }
        },
        g.kind());
    return out;
}

[[nodiscard]] inline ojson write_policy(const policy_config& c) {
    ojson out;
    out["baseline_arm"] = c.baseline_arm;
    out["candidate_arm"] = c.candidate_arm;
    out["alpha_fail"] = c.alpha_fail;
    out["alpha_pass"] = c.alpha_pass;
    out["srm_alpha"] = c.srm_alpha;
    out["srm_concentration"] = c.srm_concentration;
    ojson tuning;
    tuning["baseline_n_opt"] = c.tuning.baseline_n_opt;
    tuning["candidate_n_opt"] = c.tuning.candidate_n_opt;
    tuning["intervals"] = c.tuning.intervals;
    tuning["batch_n_opt"] = c.tuning.batch_n_opt;
    tuning["batch_min_batches_to_pass"] = c.tuning.batch_min_batches_to_pass;
    out["tuning"] = std::move(tuning);
    ojson gates = ojson::array();
    for (const gate& g : c.gates) gates.push_back(write_gate(g));
    out["gates"] = std::move(gates);
    return out;
}

}  // namespace detail::policy_json

// --- Definitions --------------------------------------------------------------

inline rollout_policy policy_from_json(const nlohmann::json& j, const std::string& path) {
    return detail::policy_json::read_document(j, path);
}

inline rollout_policy parse_policy(std::string_view text) {
    namespace pj = detail::policy_json;
    return pj::read_document(pj::parse_text(text, ""), "");
}

inline nlohmann::ordered_json policy_to_json(const rollout_policy& p) {
    namespace pj = detail::policy_json;
    p.validate();
    pj::check_writable(p);
    pj::ojson out;
    if (!p.json_schema.empty()) out["$schema"] = p.json_schema;
    out["format"] = policy_json_format;
    out["version"] = policy_json_version;
    out["action"] = pj::spell(p.action, pj::actions);
    out["models"] = {{"baseline", p.rollout.baseline_digest},
                     {"candidate", p.rollout.candidate_digest}};
    if (p.routing) {
        pj::ojson routing;
        routing["scheme"] = pj::spell(p.routing->scheme, pj::schemes);
        routing["flag_key"] = p.routing->flag_key;
        routing["hashing"] = pj::spell(p.routing->hashing, pj::hashings);
        routing["order"] = pj::spell(p.routing->order, pj::orders);
        out["routing"] = std::move(routing);
    }
    pj::ojson stages = pj::ojson::array();
    for (const rollout_stage& s : p.rollout.stages) {
        pj::ojson stage;
        if (!s.name.empty()) stage["name"] = s.name;
        stage["kind"] = pj::spell(s.kind, pj::stage_kinds);
        pj::ojson weights;
        weights["baseline"] = s.weights.baseline;
        weights["candidate"] = s.weights.candidate;
        weights["shadow_ppm"] = s.weights.shadow_ppm;
        stage["weights"] = std::move(weights);
        stage["min_dwell"] = pj::duration_text(s.min_dwell_ns);
        stage["min_candidate_requests"] = s.min_candidate_requests;
        stage["max_duration"] = pj::duration_text(s.max_duration_ns);
        stage["at_max"] = pj::spell(s.at_max, pj::max_rules);
        stages.push_back(std::move(stage));
    }
    out["stages"] = std::move(stages);
    out["policy"] = pj::write_policy(p.rollout.policy);
    if (p.rollout.shadow_policy) out["shadow_policy"] = pj::write_policy(*p.rollout.shadow_policy);
    if (p.rollout.paired_shadow) {
        const paired_test_config& c = *p.rollout.paired_shadow;
        pj::ojson paired;
        paired["limits"] = {{"cost", c.limits.cost}, {"output_length", c.limits.output_length}};
        paired["alpha_fail"] = c.alpha_fail;
        paired["alpha_pass"] = c.alpha_pass;
        out["paired_shadow"] = std::move(paired);
    }
    if (p.rollout.ab) {
        const ab_test_config& c = *p.rollout.ab;
        pj::ojson metric;
        metric["kind"] = pj::spell(c.metric.kind(), pj::ab_metric_kinds);
        metric["name"] = c.metric.name();
        metric["counter"] = c.metric.counter();
        if (c.metric.kind() == ab_metric_kind::mean)
            metric["sum_squares_counter"] = c.metric.sum_squares_counter();
        metric["higher_is_better"] = c.metric.higher_is_better();
        pj::ojson ab;
        ab["metric"] = std::move(metric);
        ab["alpha"] = c.alpha;
        ab["min_requests"] = c.min_requests;
        ab["compute_interval"] = c.compute_interval;
        ab["mean_n_opt"] = c.mean_n_opt;
        out["ab"] = std::move(ab);
    }
    return out;
}

inline std::string policy_text(const rollout_policy& p) { return policy_to_json(p).dump(2) + "\n"; }

inline policy_flag parse_policy_flag(std::string_view text, std::string_view flag_key) {
    namespace pj = detail::policy_json;
    const pj::json root = pj::parse_text(text, "");
    if (!root.is_object())
        pj::fail("", "expected a flagd flag file (an object), found " + pj::describe(root));
    const auto flags = root.find("flags");
    if (flags == root.end() || !flags->is_object())
        pj::fail("flags", "a flagd flag file needs a \"flags\" object");
    const auto flag = flags->find(flag_key);
    if (flag == flags->end()) {
        std::string present;
        for (const auto& item : flags->items())
            present += (present.empty() ? "" : ", ") + item.key();
        pj::fail("flags", "has no flag '" + std::string(flag_key) +
                              "' (flags: " + (present.empty() ? "none" : present) + ")");
    }
    const std::string path = pj::member("flags", flag_key);
    const pj::object_reader f(*flag, path,
                              {"state", "variants", "defaultVariant", "targeting", "metadata"});
    const std::string state = f.text("state", "");
    if (f.find("state") == nullptr) pj::fail(path, "missing key 'state'");
    if (state != "ENABLED")
        pj::fail(f.at("state"), "must be \"ENABLED\" for a policy flag, got \"" + state + "\"");
    if (const pj::json* t = f.find("targeting"); t != nullptr && !(t->is_object() && t->empty())) {
        pj::fail(f.at("targeting"),
                 "canarygate resolves a policy flag to its defaultVariant and evaluates no "
                 "targeting; remove the rule (or leave it {})");
    }
    policy_flag result;
    result.key = std::string(flag_key);
    result.default_variant = f.text("defaultVariant", "");
    if (f.find("defaultVariant") == nullptr) pj::fail(path, "missing key 'defaultVariant'");
    const pj::json& variants = f.required("variants");
    if (!variants.is_object() || variants.empty())
        pj::fail(f.at("variants"),
                 "expected a non-empty object of variants, found " + pj::describe(variants));
    for (const auto& item : variants.items()) {
        const std::string vpath = pj::member(f.at("variants"), item.key());
        result.variants.emplace(item.key(), pj::read_document(item.value(), vpath));
    }
    if (!result.variants.contains(result.default_variant)) {
        pj::fail(f.at("defaultVariant"),
                 "names no variant, got \"" + result.default_variant + "\"");
    }
    return result;
}

inline std::string policy_flag_text(const policy_flag& flag) {
    if (!flag.variants.contains(flag.default_variant)) {
        detail::throw_bad_field("canarygate::policy_flag_text", "default_variant",
                                flag.default_variant, "names no variant");
    }
    nlohmann::ordered_json variants = nlohmann::ordered_json::object();
    for (const auto& [name, policy] : flag.variants) variants[name] = policy_to_json(policy);
    nlohmann::ordered_json f;
    f["state"] = "ENABLED";
    f["variants"] = std::move(variants);
    f["defaultVariant"] = flag.default_variant;
    nlohmann::ordered_json file;
    file["$schema"] = "https://flagd.dev/schema/v0/flags.json";
    file["flags"] = nlohmann::ordered_json::object({{flag.key, std::move(f)}});
    return file.dump(2) + "\n";
}

inline bool is_flag_file(std::string_view text) {
    namespace pj = detail::policy_json;
    const pj::json root = pj::parse_text(text, "");
    if (!root.is_object()) pj::fail("", "expected a JSON object, found " + pj::describe(root));
    return root.contains("flags") && !root.contains("format");
}

CANARYGATE_NAMESPACE_END
