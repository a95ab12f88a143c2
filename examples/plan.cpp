// SPDX-License-Identifier: MIT
// The rollout planner: the runbook of the default rollout (shadow 20 %, then
// canary 1, 10, 25, 50, 75 %) with the default policy, for a service of the
// given traffic, and optionally its predictions checked against the
// simulator.
//
// Usage: canarygate_plan [--requests-per-minute R] [--feedback-delay-minutes M]
//                        [--check-interval-minutes C] [--check SEEDS] [--out FILE]
// Exit status: 0; 1 when --check finds a prediction the simulator refutes;
// 2 on bad arguments or an unwritable file.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <canarygate/testing/planner.hpp>

namespace {

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr,
                 "canarygate_plan: %s\n"
                 "usage: canarygate_plan [--requests-per-minute R] [--feedback-delay-minutes M] "
                 "[--check-interval-minutes C] [--check SEEDS] [--out FILE]\n",
                 message.c_str());
    std::exit(2);
}

double number(const std::string& flag, const char* text, double lo, double hi) {
    char* end = nullptr;
    const double x = std::strtod(text, &end);
    if (*text == '\0' || *end != '\0' || !(x >= lo && x <= hi)) {
        usage_error(flag + ": '" + text + "' must be a number in [" + std::to_string(lo) + ", " +
                    std::to_string(hi) + "]");
    }
    return x;
}

}  // namespace

int main(int argc, char** argv) {
    namespace tk = canarygate::testkit;
    tk::plan_request req;
    req.rollout = tk::default_rollout();
    req.traffic.requests_per_minute = 600;
    std::size_t check_seeds = 0;
    std::string out_path;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto value = [&]() -> const char* {
            if (i + 1 >= argc) usage_error(a + ": a value is missing");
            return argv[++i];
        };
        if (a == "--requests-per-minute") {
            req.traffic.requests_per_minute = number(a, value(), 1, 1e7);
        } else if (a == "--feedback-delay-minutes") {
            req.baseline.feedback_delay_median_s = 60 * number(a, value(), 0.01, 1e5);
        } else if (a == "--check-interval-minutes") {
            req.check_interval_ns = static_cast<std::int64_t>(number(a, value(), 0.1, 1440) * 60e9);
        } else if (a == "--check") {
            check_seeds = static_cast<std::size_t>(number(a, value(), 1, 10'000));
        } else if (a == "--out") {
            out_path = value();
        } else if (a == "--help" || a == "-h") {
            std::printf(
                "canarygate_plan: the rollout planner's runbook (see README, \"The planner\")\n"
                "  --requests-per-minute R     the service's traffic, all arms (default 600)\n"
                "  --feedback-delay-minutes M  median delay of user feedback (default 10)\n"
                "  --check-interval-minutes C  the controller's check interval (default 5)\n"
                "  --check SEEDS               also simulate each stage SEEDS times and compare\n"
                "  --out FILE                  write the runbook to FILE instead of stdout\n");
            return 0;
        } else {
            usage_error("unknown argument '" + a + "'");
        }
    }
    // --8<-- [start:plan]
    const tk::rollout_plan plan = tk::plan_rollout(req);  // req: rollout, traffic, baseline figures
    std::string md = tk::render_runbook(plan);            // the markdown runbook
    // --8<-- [end:plan]
    bool agrees = true;
    if (check_seeds > 0) {
        const auto rows = tk::check_plan(plan, check_seeds);
        md += "\n## The planner against the simulator\n\n";
        md += "Each stage simulated " + std::to_string(check_seeds) +
              " times with the planned regressions (the real pipeline on random traffic).\n\n";
        md += tk::format_plan_check(rows);
        for (const auto& r : rows) agrees = agrees && r.agrees;
    }
    if (out_path.empty()) {
        std::fputs(md.c_str(), stdout);
    } else {
        std::ofstream f(out_path);
        f << md;
        if (!f) {
            std::fprintf(stderr, "canarygate_plan: cannot write %s\n", out_path.c_str());
            return 2;
        }
    }
    return agrees ? 0 : 1;
}
