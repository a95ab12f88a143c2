// SPDX-License-Identifier: MIT
// How long a roll-back takes from the policy file: from the write that
// flips a flagd flag file to its "rollback" variant to the moment every
// router thread routes with candidate weight 0. Router threads spin on
// router::route() the way request threads call it and note the first
// decision they see with weight 0; the flip time of one write is the
// latest of them, measured from just before the write began.
//
// Each flip: the router is set back to 90/10 and the file to the rollout
// variant (waited until loaded), then the rollback variant is written, by
// rename-over (a temporary file renamed into place, as editors and
// Kubernetes do) or in place (truncate and write). Modes: inotify, and
// polling at --poll-ms. A plain program that prints its table (median,
// 90th percentile and max per mode); the committed run is
// benchmarks/results/policy_flip.md.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <canarygate/gates/default_policy.hpp>
#include <canarygate/integration/policy_watch.hpp>

namespace {

namespace cg = canarygate;
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

std::string flag_file(const std::string& default_variant) {
    cg::policy_flag flag;
    flag.key = "chat-rollout-policy";
    flag.default_variant = default_variant;
    cg::rollout_policy p;
    cg::rollout_stage stage;
    stage.weights = {.baseline = 90, .candidate = 10};
    p.rollout.stages = {stage};
    p.rollout.policy = cg::default_policy();
    p.rollout.baseline_digest = "sha256:" + std::string(64, 'b');
    p.rollout.candidate_digest = "sha256:" + std::string(64, 'c');
    flag.variants.emplace("rollout", p);
    p.action = cg::policy_action::roll_back;
    flag.variants.emplace("rollback", p);
    return cg::policy_flag_text(flag);
}

void write_in_place(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

void write_by_rename(const fs::path& path, const std::string& text) {
    const fs::path temporary = path.string() + ".tmp";
    write_in_place(temporary, text);
    fs::rename(temporary, path);
}

struct mode_result {
    std::string name;
    std::vector<double> ms;  // one flip time per write
    std::uint64_t rejected = 0;
};

double percentile(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

mode_result run_mode(const fs::path& dir, bool inotify, bool rename, int poll_ms, int flips,
                     int threads) {
    const fs::path file = dir / "flags.json";
    const std::string rollout = flag_file("rollout");
    const std::string rollback = flag_file("rollback");
    write_in_place(file, rollout);
    cg::router router({.flag_key = "chat-model"}, {.baseline = 90, .candidate = 10});
    cg::live_policy_options options;
    options.flag_key = "chat-rollout-policy";
    options.router = &router;
    options.watch.use_inotify = inotify;
    options.watch.poll_interval = std::chrono::milliseconds(poll_ms);
    cg::live_policy live(file, options);

    mode_result result;
    result.name = std::string(inotify ? "inotify" : "polling " + std::to_string(poll_ms) + " ms") +
                  (rename ? ", rename-over" : ", in place");
    // stop: relaxed, only ends the loops. flip: release/acquire, see the
    // router threads. seen: release/acquire, each thread's time of the
    // flip it noted, read by the writer after the write.
    std::atomic<bool> stop{false};
    std::atomic<int> flip{0};  // the flip the router threads are waiting for
    std::vector<std::atomic<std::int64_t>> seen(static_cast<std::size_t>(threads));
    std::vector<std::thread> routers;
    for (int t = 0; t < threads; ++t) {
        routers.emplace_back([&, t] {
            int noted = 0;
            std::uint64_t i = 0;
            const std::string prefix = "user-" + std::to_string(t) + "-";
            std::string key = prefix;
            while (!stop.load(std::memory_order_relaxed)) {
                key.resize(prefix.size());
                key += std::to_string(i++ % 1000);
                // The flip first, then the route: a thread that sees flip f
                // (acquire, paired with the release below) routes with
                // weights at least as new as the 90/10 reset made before it,
                // so weight 0 can only be the roll-back of flip f.
                const int waiting = flip.load(std::memory_order_acquire);
                const cg::route_decision d = router.route(key);
                if (d.weights.candidate == 0 && waiting > noted) {
                    seen[static_cast<std::size_t>(t)].store(
                        clock_type::now().time_since_epoch().count(), std::memory_order_release);
                    noted = waiting;
                }
            }
        });
    }
    for (int f = 1; f <= flips; ++f) {
        // Back to the rollout, loaded, and the router at 90/10.
        (rename ? write_by_rename : write_in_place)(file, rollout);
        while (live.current()->action != cg::policy_action::run)
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        router.set_weights({.baseline = 90, .candidate = 10});
        std::this_thread::sleep_for(std::chrono::milliseconds(2 * poll_ms + 5));  // settle
        for (auto& s : seen) s.store(0, std::memory_order_relaxed);
        flip.store(f, std::memory_order_release);
        const auto start = clock_type::now();
        (rename ? write_by_rename : write_in_place)(file, rollback);
        std::int64_t last = 0;
        for (auto& s : seen) {
            std::int64_t t = 0;
            while ((t = s.load(std::memory_order_acquire)) == 0)
                std::this_thread::sleep_for(std::chrono::microseconds(50));
            last = std::max(last, t);
        }
        result.ms.push_back(static_cast<double>(last - start.time_since_epoch().count()) / 1e6);
    }
    stop.store(true);
    for (auto& t : routers) t.join();
    result.rejected = live.stats().rejected;
    return result;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app("flip_time: from a policy-file write to every router thread seeing the roll-back");
    int flips = 100;
    int threads = 4;
    int poll_ms = 100;
    app.add_option("--flips", flips, "flips per mode (default 100)")->check(CLI::Range(1, 100000));
    app.add_option("--threads", threads, "router threads (default 4)")->check(CLI::Range(1, 256));
    app.add_option("--poll-ms", poll_ms, "the polling mode's interval (default 100)")
        ->check(CLI::Range(1, 10000));
    CLI11_PARSE(app, argc, argv);

    const fs::path dir =
        fs::temp_directory_path() /
        ("canarygate-flip-" + std::to_string(clock_type::now().time_since_epoch().count()));
    fs::create_directories(dir);
    std::vector<mode_result> results;
    for (const bool inotify : {true, false}) {
        for (const bool rename : {true, false})
            results.push_back(run_mode(dir, inotify, rename, poll_ms, flips, threads));
    }
    fs::remove_all(dir);

    std::printf(
        "flip time: policy-file write -> all %d router threads route with candidate "
        "weight 0; %d flips per mode\n\n",
        threads, flips);
    std::printf("| mode | median ms | p90 ms | max ms | half-written files rejected |\n");
    std::printf("|---|---:|---:|---:|---:|\n");
    for (const mode_result& r : results) {
        std::printf("| %s | %.3f | %.3f | %.3f | %llu |\n", r.name.c_str(), percentile(r.ms, 0.5),
                    percentile(r.ms, 0.9), *std::max_element(r.ms.begin(), r.ms.end()),
                    static_cast<unsigned long long>(r.rejected));
    }
    return 0;
}
