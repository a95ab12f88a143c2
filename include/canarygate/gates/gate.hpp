// SPDX-License-Identifier: MIT
/// \file
/// `gate`: one gate of a policy, whatever its kind. The kinds form a closed
/// set (`gate_kind`: rate, mean, quantile, shape), each a small immutable
/// value that validated itself at construction; `gate` forwards to the one it
/// holds, and `gate_state` holds the matching state.
///
/// Example:
/// \code
///   canarygate::quantile_gate_config p99;          // latency P99 <= 1.5 x
///   std::vector<canarygate::gate> gates = {canarygate::quantile_gate(p99),
///                                          canarygate::mean_gate(canarygate::mean_gate_config{})};
///   canarygate::gate_state st = gates[0].make_state();
/// \endcode
#pragma once

#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/gates/gate_common.hpp"
#include "canarygate/gates/mean_gate.hpp"
#include "canarygate/gates/quantile_gate.hpp"
#include "canarygate/gates/rate_gate.hpp"
#include "canarygate/gates/shape_gate.hpp"
#include "canarygate/gates/signal.hpp"
#include "canarygate/gates/verdict.hpp"
#include "canarygate/window/snapshot.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// The kinds of gate.
using gate_kind = std::variant<rate_gate, mean_gate, quantile_gate, shape_gate>;

/// The evidence of one gate over a rollout: the state of its kind (the
/// alternative with the same index as the gate's kind).
using gate_state =
    std::variant<rate_gate::state, mean_gate::state, quantile_gate::state, shape_gate::state>;

/// One gate of any kind. Immutable value; copyable.
class gate {
public:
    /// Its state: a gate_state holding the state of the gate's kind.
    using state = gate_state;

    // Implicit by design: a policy's gate list is written as a list of kinds.
    gate(rate_gate g) : kind_(std::move(g)) {}      // NOLINT(google-explicit-constructor)
    gate(mean_gate g) : kind_(std::move(g)) {}      // NOLINT(google-explicit-constructor)
    gate(quantile_gate g) : kind_(std::move(g)) {}  // NOLINT(google-explicit-constructor)
    gate(shape_gate g) : kind_(std::move(g)) {}     // NOLINT(google-explicit-constructor)

    /// The gate of its own kind.
    [[nodiscard]] const gate_kind& kind() const noexcept { return kind_; }
    /// The fields every kind has (name, critical, budget weight, minimum events).
    [[nodiscard]] const gate_common& common() const noexcept {
        return std::visit([](const auto& g) -> const gate_common& { return g.config(); }, kind_);
    }
    [[nodiscard]] const std::string& name() const noexcept { return common().name; }
    [[nodiscard]] signal metric() const noexcept {
        return std::visit([](const auto& g) { return g.metric(); }, kind_);
    }
    [[nodiscard]] bool critical() const noexcept { return common().critical; }
    [[nodiscard]] double budget_weight() const noexcept { return common().budget_weight; }
    /// The batch window of a batch-mode gate; 0 for per-request evidence
    /// (and always for the shape gate).
    [[nodiscard]] std::int64_t batch_window_ns() const noexcept {
        return std::visit(
            [](const auto& g) -> std::int64_t {
                if constexpr (requires { g.config().batch_window_ns; }) {
                    return g.config().batch_window_ns;
                } else {
                    return 0;
                }
            },
            kind_);
    }
    /// The candidate/baseline ratio limit as tested (1/k for a gate where a
    /// decrease is worse); nullopt for the shape gate, which has none.
    [[nodiscard]] std::optional<double> tested_limit() const noexcept {
        return std::visit(
            [](const auto& g) -> std::optional<double> {
                if constexpr (requires { g.tested_limit(); }) {
                    return g.tested_limit();
                } else {
                    return std::nullopt;
                }
            },
            kind_);
    }

    /// A copy of this gate with its configuration changed: `edit` gets the
    /// kind's configuration (rate_gate_config&, mean_gate_config&, ...) and
    /// the result is validated as a new gate. Fields every kind has are
    /// simplest: `g = g.with([](auto& c) { c.critical = false; });`; an edit
    /// that takes one kind's configuration throws std::invalid_argument for a
    /// gate of another kind. A name that was derived (not set) is derived
    /// again from the edited configuration, unless the edit sets one.
    template <class Edit>
    [[nodiscard]] gate with(Edit&& edit) const {
        return std::visit(
            [&](const auto& g) -> gate {
                using kind = std::decay_t<decltype(g)>;
                auto config = g.config();
                if constexpr (std::is_invocable_v<Edit&, typename kind::config_type&>) {
                    const std::string name_before = config.name;
                    const bool derived = name_before == kind::default_name(config);
                    edit(config);
                    if (derived && config.name == name_before) config.name.clear();
                    return kind(std::move(config));
                } else {
                    detail::throw_invalid_argument("canarygate::gate::with: gate '" + name() +
                                                   "' is a " + kind_name() +
                                                   "; the edit takes another kind's "
                                                   "configuration");
                }
            },
            kind_);
    }

    /// "rate_gate", "mean_gate", "quantile_gate" or "shape_gate".
    [[nodiscard]] std::string kind_name() const {
        constexpr const char* names[] = {"rate_gate", "mean_gate", "quantile_gate", "shape_gate"};
        static_assert(std::size(names) == std::variant_size_v<gate_kind>);
        return names[kind_.index()];
    }

    /// A fresh state of this gate's kind.
    [[nodiscard]] gate_state make_state() const {
        return std::visit(
            [](const auto& g) -> gate_state { return typename std::decay_t<decltype(g)>::state{}; },
            kind_);
    }

    /// Throws std::invalid_argument (nothing changes) when evaluate() cannot
    /// take this increment (see each kind's check_increment), or when `s`
    /// belongs to another kind of gate.
    void check_increment(const gate_state& s, const arm_snapshot& baseline_increment,
                         const arm_snapshot& candidate_increment,
                         std::optional<std::int64_t> increment_end_ns) const {
        std::visit(
            [&](const auto& g) {
                g.check_increment(state_of(g, s), baseline_increment, candidate_increment,
                                  increment_end_ns);
            },
            kind_);
    }

    /// Feeds one increment into `s` and decides (see rate_gate::evaluate).
    gate_result evaluate(gate_state& s, const arm_snapshot& baseline_increment,
                         const arm_snapshot& candidate_increment, double alpha_fail,
                         double alpha_pass, const gate_tuning& tuning = {},
                         std::optional<std::int64_t> increment_end_ns = std::nullopt) const {
        return std::visit(
            [&](const auto& g) {
                return g.evaluate(state_of(g, s), baseline_increment, candidate_increment,
                                  alpha_fail, alpha_pass, tuning, increment_end_ns);
            },
            kind_);
    }

private:
    // The alternative of `s` that belongs to gate `g` (const or not, as s is).
    template <class Gate, class State>
    static std::conditional_t<std::is_const_v<State>, const typename Gate::state&,
                              typename Gate::state&>
    state_of(const Gate& g, State& s) {
        auto* mine = std::get_if<typename Gate::state>(&s);
        if (mine == nullptr) {
            detail::throw_invalid_argument(
                "canarygate::gate '" + g.name() +
                "': the state belongs to another kind of gate (use make_state())");
        }
        return *mine;
    }

    gate_kind kind_;
};

CANARYGATE_NAMESPACE_END
