// SPDX-License-Identifier: MIT
/// \file
/// A simulated rollout drawn as a timeline (SVG 1.1, no scripts, no external
/// resources): the candidate's share of user traffic and the shadow mirror
/// over time, each gate's evidence against its threshold, and the decisions
/// — canarygate's and, if given, the naive controller's on the same traffic.
///
/// Evidence is drawn as ln E / ln(1 / alpha) (the gate's log e-value over
/// its log fail threshold), so every gate shares one axis and fails where
/// its line reaches 1. The shape gate is a band test without an e-value and
/// has no line (its fails are marked by the decisions).
///
/// Example:
/// \code
///   const auto ours = canarygate::testkit::simulate(sim, seed);
///   sim.judge = canarygate::testkit::judge_kind::naive;
///   const auto naive = canarygate::testkit::simulate(sim, seed);
///   std::ofstream("timeline.svg") << canarygate::testkit::timeline_svg(ours, &naive, sim.rollout, "cost +25 %");
/// \endcode
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "canarygate/core/clock.hpp"
#include "canarygate/core/config.hpp"
#include "canarygate/rollout/controller.hpp"
#include "canarygate/testing/simulation.hpp"

CANARYGATE_NAMESPACE_BEGIN
namespace testkit {

namespace detail {

/// Text for an SVG text node or attribute.
inline std::string svg_escape(std::string_view s) {
    std::string out;
    for (const char ch : s) {
        switch (ch) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += ch;
        }
    }
    return out;
}

inline std::string svg_number(double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", x);
    return buf;
}

/// The candidate's share and the shadow mirror's share (percent) of
/// `weights`.
inline double candidate_percent(const routing_weights& w) {
    return w.total() == 0 ? 0.0 : 100.0 * w.candidate_share();
}

}  // namespace detail

/// The timeline of `ours` (a canarygate run with its trace) and, if not
/// null, `naive` (the naive controller on the same traffic), for a rollout
/// planned as `plan`.
[[nodiscard]] inline std::string timeline_svg(const simulation_result& ours,
                                              const simulation_result* naive,
                                              const controller_config& plan,
                                              std::string_view title) {
    using detail::svg_number;
    constexpr double width = 1200, left = 80, right = 300, plot_w = width - left - right;
    constexpr double a_top = 70, a_h = 190;   // traffic panel
    constexpr double b_top = 330, b_h = 230;  // evidence panel
    constexpr double height = 640;
    constexpr double ev_min = -0.25, ev_max = 1.25;

    std::int64_t end_ns = ours.steps.empty() ? hour_ns : ours.steps.back().at_ns;
    if (naive != nullptr && !naive->steps.empty())
        end_ns = std::max(end_ns, naive->steps.back().at_ns);
    const double end_min = static_cast<double>(end_ns) / minute_ns;
    const auto x_of = [&](std::int64_t t) {
        return left + plot_w * (static_cast<double>(t) / minute_ns) / end_min;
    };
    const auto y_share = [&](double percent) { return a_top + a_h * (1.0 - percent / 100.0); };
    const auto y_evidence = [&](double v) {
        v = std::clamp(v, ev_min, ev_max);
        return b_top + b_h * (ev_max - v) / (ev_max - ev_min);
    };

    std::string svg;
    svg += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + svg_number(width) +
           "\" height=\"" + svg_number(height) + "\" viewBox=\"0 0 " + svg_number(width) + " " +
           svg_number(height) +
           "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n";
    svg += "<title>" + detail::svg_escape(title) + "</title>\n";
    svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    svg += "<text x=\"" + svg_number(left) + "\" y=\"28\" font-size=\"17\" font-weight=\"bold\">" +
           detail::svg_escape(title) + "</text>\n";
    {
        char sub[256];
        std::snprintf(
            sub, sizeof sub, "canarygate: %s at %s after %.0f min; naive controller: %s",
            std::string(name(ours.outcome)).c_str(), ours.stage_name.c_str(),
            static_cast<double>(ours.decided_at_ns >= 0 ? ours.decided_at_ns : end_ns) / minute_ns,
            naive == nullptr
                ? "not run"
                : (std::string(name(naive->outcome)) + " at " + naive->stage_name + " after " +
                   std::to_string((naive->decided_at_ns >= 0 ? naive->decided_at_ns : end_ns) /
                                  minute_ns) +
                   " min")
                      .c_str());
        svg += "<text x=\"" + svg_number(left) + "\" y=\"50\" fill=\"#444\">" +
               detail::svg_escape(sub) + "</text>\n";
    }

    // Axes and grids.
    const auto axis_box = [&](double top, double h, std::string_view label) {
        svg += "<rect x=\"" + svg_number(left) + "\" y=\"" + svg_number(top) + "\" width=\"" +
               svg_number(plot_w) + "\" height=\"" + svg_number(h) +
               "\" fill=\"none\" stroke=\"#888\"/>\n";
        svg += "<text transform=\"translate(22," + svg_number(top + h / 2) +
               ") rotate(-90)\" text-anchor=\"middle\">" + detail::svg_escape(label) + "</text>\n";
    };
    axis_box(a_top, a_h, "candidate traffic (%)");
    axis_box(b_top, b_h, "evidence: ln E / ln threshold");
    for (const double p : {0.0, 25.0, 50.0, 75.0, 100.0}) {
        svg += "<line x1=\"" + svg_number(left) + "\" x2=\"" + svg_number(left + plot_w) +
               "\" y1=\"" + svg_number(y_share(p)) + "\" y2=\"" + svg_number(y_share(p)) +
               "\" stroke=\"#eee\"/>\n";
        svg += "<text x=\"" + svg_number(left - 6) + "\" y=\"" + svg_number(y_share(p) + 4) +
               "\" text-anchor=\"end\">" + svg_number(p).substr(0, svg_number(p).size() - 2) +
               "</text>\n";
    }
    for (const double v : {0.0, 0.5, 1.0}) {
        svg += "<line x1=\"" + svg_number(left) + "\" x2=\"" + svg_number(left + plot_w) +
               "\" y1=\"" + svg_number(y_evidence(v)) + "\" y2=\"" + svg_number(y_evidence(v)) +
               "\" stroke=\"" + (v == 1.0 ? "#d62728\" stroke-dasharray=\"6 3" : "#eee") + "\"/>\n";
        char tick[16];
        std::snprintf(tick, sizeof tick, "%.1f", v);
        svg += "<text x=\"" + svg_number(left - 6) + "\" y=\"" + svg_number(y_evidence(v) + 4) +
               "\" text-anchor=\"end\">" + tick + "</text>\n";
    }
    svg += "<text x=\"" + svg_number(left + plot_w - 4) + "\" y=\"" +
           svg_number(y_evidence(1.0) - 5) +
           "\" text-anchor=\"end\" fill=\"#d62728\">fail threshold</text>\n";
    const double step_min = end_min > 600 ? 120 : end_min > 240 ? 60 : end_min > 90 ? 30 : 10;
    for (double m = 0; m <= end_min + 1e-9; m += step_min) {
        const double x = left + plot_w * m / end_min;
        for (const double top : {a_top, b_top}) {
            const double h = top == a_top ? a_h : b_h;
            svg += "<line x1=\"" + svg_number(x) + "\" x2=\"" + svg_number(x) + "\" y1=\"" +
                   svg_number(top + h) + "\" y2=\"" + svg_number(top + h + 5) +
                   "\" stroke=\"#888\"/>\n";
            svg += "<text x=\"" + svg_number(x) + "\" y=\"" + svg_number(top + h + 18) +
                   "\" text-anchor=\"middle\">" +
                   svg_number(m).substr(0, svg_number(m).size() - 2) + "</text>\n";
        }
    }
    svg += "<text x=\"" + svg_number(left + plot_w / 2) + "\" y=\"" + svg_number(b_top + b_h + 36) +
           "\" text-anchor=\"middle\">time since the rollout started (minutes)</text>\n";

    // Traffic: a step line of the candidate's share (and the shadow mirror).
    const auto traffic_path = [&](const simulation_result& r, bool shadow) {
        routing_weights w = plan.stages.front().weights;
        std::int64_t t = 0;
        const auto value = [&](const routing_weights& x) {
            return shadow ? x.shadow_ppm / 1e4 : detail::candidate_percent(x);
        };
        std::string d = "M" + svg_number(x_of(0)) + "," + svg_number(y_share(value(w)));
        for (const auto& s : r.steps) {
            t = s.at_ns;
            d += " L" + svg_number(x_of(t)) + "," + svg_number(y_share(value(w)));
            w = s.weights;
            d += " L" + svg_number(x_of(t)) + "," + svg_number(y_share(value(w)));
        }
        if (t < end_ns) d += " L" + svg_number(x_of(end_ns)) + "," + svg_number(y_share(value(w)));
        return d;
    };
    svg += "<path d=\"" + traffic_path(ours, true) +
           "\" fill=\"none\" stroke=\"#9467bd\" stroke-width=\"1.5\" stroke-dasharray=\"2 3\"/>\n";
    if (naive != nullptr) {
        svg += "<path d=\"" + traffic_path(*naive, false) +
               "\" fill=\"none\" stroke=\"#7f7f7f\" stroke-width=\"2\" "
               "stroke-dasharray=\"7 4\"/>\n";
    }
    svg += "<path d=\"" + traffic_path(ours, false) +
           "\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2.5\"/>\n";

    // Evidence: one line per gate with an e-value.
    static constexpr const char* palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                              "#9467bd", "#8c564b", "#e377c2", "#17becf",
                                              "#bcbd22", "#7f7f7f"};
    std::vector<bool> drawn(ours.gate_names.size(), false);
    for (std::size_t g = 0; g < ours.gate_names.size(); ++g) {
        std::string d;
        for (const auto& s : ours.steps) {
            for (const auto& p : s.gates) {
                if (p.gate != g || std::isnan(p.log_e_value) || !(p.log_fail_threshold > 0))
                    continue;
                d += (d.empty() ? "M" : " L") + svg_number(x_of(s.at_ns)) + "," +
                     svg_number(y_evidence(p.log_e_value / p.log_fail_threshold));
            }
        }
        if (d.empty()) continue;
        drawn[g] = true;
        svg += "<path d=\"" + d + "\" fill=\"none\" stroke=\"" +
               palette[g % (sizeof palette / sizeof *palette)] + "\" stroke-width=\"1.6\"/>\n";
    }

    // Decisions: vertical markers across both panels.
    const auto marker = [&](std::int64_t t, const char* colour, const std::string& label,
                            bool dashed, double label_y) {
        const double x = x_of(t);
        svg += "<line x1=\"" + svg_number(x) + "\" x2=\"" + svg_number(x) + "\" y1=\"" +
               svg_number(a_top) + "\" y2=\"" + svg_number(b_top + b_h) + "\" stroke=\"" + colour +
               "\" stroke-width=\"1.2\"" + (dashed ? " stroke-dasharray=\"4 3\"" : "") + "/>\n";
        // Near the right edge the label goes to the left of its line.
        const bool flip = x > left + plot_w - 120;
        svg += "<text x=\"" + svg_number(flip ? x - 3 : x + 3) + "\" y=\"" + svg_number(label_y) +
               "\" font-size=\"10\" fill=\"" + colour + "\"" +
               (flip ? " text-anchor=\"end\"" : "") + ">" + detail::svg_escape(label) + "</text>\n";
    };
    bool alarm_marked = false;
    for (const auto& s : ours.steps) {
        if (s.action == rollout_action::roll_back)
            marker(s.at_ns, "#d62728", "roll back", false, a_top + 12);
        if (s.action == rollout_action::complete || s.action == rollout_action::promote)
            marker(s.at_ns, "#2ca02c", "100 %", false, a_top + 12);
        if (s.action == rollout_action::advance) {
            const std::size_t next = std::min(s.stage + 1, plan.stages.size() - 1);
            marker(s.at_ns, "#aaaaaa", "advance to " + plan.stage_name(next), false,
                   a_top + a_h + 32);
        }
        if (s.alarm && !alarm_marked) {
            marker(s.at_ns, "#ff7f0e", "sample-ratio alarm", false, a_top + 26);
            alarm_marked = true;
        }
    }
    if (naive != nullptr) {
        for (const auto& s : naive->steps) {
            if (s.action == rollout_action::roll_back)
                marker(s.at_ns, "#7f7f7f", "naive: roll back", true, a_top + 40);
            if (s.action == rollout_action::complete)
                marker(s.at_ns, "#7f7f7f", "naive: 100 %", true, a_top + 40);
        }
    }

    // Legend.
    double ly = a_top;
    const double lx = left + plot_w + 24;
    const auto legend = [&](const char* colour, const std::string& label, const char* dash) {
        svg += "<line x1=\"" + svg_number(lx) + "\" x2=\"" + svg_number(lx + 26) + "\" y1=\"" +
               svg_number(ly) + "\" y2=\"" + svg_number(ly) + "\" stroke=\"" + colour +
               "\" stroke-width=\"2.5\"" +
               (dash[0] != '\0' ? std::string(" stroke-dasharray=\"") + dash + "\"" : "") + "/>\n";
        svg += "<text x=\"" + svg_number(lx + 32) + "\" y=\"" + svg_number(ly + 4) + "\">" +
               detail::svg_escape(label) + "</text>\n";
        ly += 18;
    };
    svg += "<text x=\"" + svg_number(lx) + "\" y=\"" + svg_number(ly - 14) +
           "\" font-weight=\"bold\">traffic</text>\n";
    legend("#1f77b4", "candidate %, canarygate", "");
    legend("#9467bd", "shadow mirror %, canarygate", "2 3");
    if (naive != nullptr) legend("#7f7f7f", "candidate %, naive controller", "7 4");
    ly = b_top;
    svg += "<text x=\"" + svg_number(lx) + "\" y=\"" + svg_number(ly - 14) +
           "\" font-weight=\"bold\">gates (canarygate)</text>\n";
    for (std::size_t g = 0; g < ours.gate_names.size(); ++g) {
        if (!drawn[g]) continue;
        legend(palette[g % (sizeof palette / sizeof *palette)], ours.gate_names[g], "");
    }
    legend("#d62728", "fail threshold (1)", "6 3");
    svg += "</svg>\n";
    return svg;
}

}  // namespace testkit
CANARYGATE_NAMESPACE_END
