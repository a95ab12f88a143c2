// SPDX-License-Identifier: MIT
// live_policy (integration/policy_watch.hpp): a policy file kept live. The
// roll-back flip reaches the router from a file write; a file that cannot be
// used leaves the running policy in force and says why.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <canarygate/gates/default_policy.hpp>
#include <canarygate/integration/policy_watch.hpp>

namespace live_policy_test {

namespace fs = std::filesystem;
namespace cg = canarygate;

// A fresh directory, removed afterwards.
class scratch_dir {
public:
    scratch_dir() {
        std::random_device seed;
        path_ = fs::temp_directory_path() /
                ("canarygate-live-policy-" + std::to_string(seed()) + std::to_string(seed()));
        fs::create_directories(path_);
    }
    ~scratch_dir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    [[nodiscard]] const fs::path& path() const noexcept { return path_; }

private:
    fs::path path_;
};

void write_in_place(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    REQUIRE(out.good());
}

// Written beside the file, then renamed over it: readers never see half of it.
void write_by_rename(const fs::path& path, const std::string& text) {
    const fs::path temporary = path.string() + ".tmp";
    write_in_place(temporary, text);
    fs::rename(temporary, path);
}

cg::rollout_policy policy_with(cg::policy_action action) {
    cg::rollout_policy p;
    cg::rollout_stage stage;
    stage.weights = {.baseline = 90, .candidate = 10};
    p.rollout.stages = {stage};
    p.rollout.policy = cg::default_policy();
    p.rollout.baseline_digest = "sha256:" + std::string(64, 'b');
    p.rollout.candidate_digest = "sha256:" + std::string(64, 'c');
    p.action = action;
    return p;
}

std::string flag_file(const std::string& default_variant) {
    cg::policy_flag flag;
    flag.key = "chat-rollout-policy";
    flag.default_variant = default_variant;
    flag.variants.emplace("rollout", policy_with(cg::policy_action::run));
    flag.variants.emplace("rollback", policy_with(cg::policy_action::roll_back));
    return cg::policy_flag_text(flag);
}

// Waits up to 5 s for `done`.
template <class Predicate>
bool eventually(Predicate done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

}  // namespace live_policy_test

using namespace live_policy_test;

TEST_CASE("policy_flag_text writes the flag file parse_policy_flag reads back") {
    const std::string text = flag_file("rollback");
    const cg::policy_flag read = cg::parse_policy_flag(text, "chat-rollout-policy");
    CHECK(read.default_variant == "rollback");
    CHECK(read.selected().action == cg::policy_action::roll_back);
    CHECK(read.variants.size() == 2);
    CHECK(cg::policy_flag_text(read) == text);
    cg::policy_flag wrong = read;
    wrong.default_variant = "nowhere";
    CHECK_THROWS_WITH(cg::policy_flag_text(wrong), Catch::Matchers::Contains("names no variant"));
}

TEST_CASE("live_policy starts with the file's policy, or refuses a file it cannot use") {
    scratch_dir dir;
    const fs::path file = dir.path() / "policy.json";
    write_in_place(file, cg::policy_text(policy_with(cg::policy_action::run)));
    cg::live_policy live(file, {});
    REQUIRE(live.current() != nullptr);
    CHECK(live.current()->action == cg::policy_action::run);
    CHECK(live.current()->rollout.stages.size() == 1);
    CHECK(live.stats().loads == 1);
    CHECK(live.stats().rejected == 0);

    const fs::path bad = dir.path() / "bad.json";
    write_in_place(bad, "{\"format\": \"canarygate.policy\", \"version\": 1}");
    try {
        cg::live_policy never(bad, {});
        FAIL("an invalid first file was accepted");
    } catch (const std::invalid_argument& e) {
        CHECK_THAT(e.what(), Catch::Matchers::Contains("bad.json") &&
                                 Catch::Matchers::Contains("missing key 'models'"));
    }
    CHECK_THROWS_WITH(cg::live_policy(dir.path() / "missing.json", {}),
                      Catch::Matchers::Contains("missing.json"));
}

TEST_CASE(
    "flipping a flag file to its rollback variant sets every router thread's candidate weight to "
    "0") {
    for (const bool polling : {false, true}) {
        CAPTURE(polling);
        scratch_dir dir;
        const fs::path file = dir.path() / "flags.json";
        write_in_place(file, flag_file("rollout"));
        cg::router router({.flag_key = "chat-model"},
                          {.baseline = 90, .candidate = 10, .shadow_ppm = 5});
        // Catch2's assertions are for the test's own thread: the callback and
        // the router threads only count what they see, the test checks it.
        // relaxed everywhere: each count is read after its thread was joined
        // or after eventually() saw it, and nothing else hangs on it.
        std::atomic<int> changes{0};
        std::atomic<int> wrong_changes{0};
        cg::live_policy_options options;
        options.flag_key = "chat-rollout-policy";
        options.router = &router;
        options.on_change = [&](const std::shared_ptr<const cg::rollout_policy>& now,
                                const std::shared_ptr<const cg::rollout_policy>& before) {
            if (now->action != cg::policy_action::roll_back ||
                before->action != cg::policy_action::run)
                wrong_changes.fetch_add(1, std::memory_order_relaxed);
            changes.fetch_add(1, std::memory_order_relaxed);
        };
        options.watch.use_inotify = !polling;
        options.watch.poll_interval = std::chrono::milliseconds(polling ? 20 : 100);
        cg::live_policy live(file, options);
        CHECK(live.mode() ==
              (polling ? cg::file_watch_mode::polling : cg::file_watch_mode::inotify));
        CHECK(router.weights().candidate == 10);

        // Router threads route until they see the flip.
        std::atomic<int> saw_zero{0};
        std::atomic<int> wrong_routes{0};  // weight 0, yet the candidate or a shadow copy
        std::vector<std::thread> threads;
        for (int t = 0; t < 3; ++t) {
            threads.emplace_back([&, t] {
                const std::string key = "user-" + std::to_string(t);
                const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
                while (std::chrono::steady_clock::now() < deadline) {
                    const cg::route_decision d = router.route(key);
                    if (d.weights.candidate == 0) {
                        if (d.target != cg::route_target::baseline || d.shadow)
                            wrong_routes.fetch_add(1, std::memory_order_relaxed);
                        saw_zero.fetch_add(1, std::memory_order_relaxed);
                        return;
                    }
                }
            });
        }
        write_by_rename(file, flag_file("rollback"));
        for (auto& t : threads) t.join();
        CHECK(saw_zero.load() == 3);
        CHECK(wrong_routes.load() == 0);
        CHECK(router.weights() ==
              cg::routing_weights{.baseline = 100, .candidate = 0, .shadow_ppm = 0});
        REQUIRE(eventually([&] { return changes.load() == 1; }));
        CHECK(wrong_changes.load() == 0);
        CHECK(live.current()->action == cg::policy_action::roll_back);
        CHECK(live.stats().loads == 2);
        CHECK(live.stats().roll_backs == 1);
    }
}

TEST_CASE("a half-written, invalid or deleted file leaves the running policy in force, counted") {
    scratch_dir dir;
    const fs::path file = dir.path() / "policy.json";
    const std::string running = cg::policy_text(policy_with(cg::policy_action::run));
    write_in_place(file, running);
    cg::router router({.flag_key = "chat-model"}, {.baseline = 90, .candidate = 10});
    std::vector<std::string> errors;
    std::mutex errors_mutex;
    cg::live_policy_options options;
    options.router = &router;
    options.on_error = [&](const std::string& why) {
        const std::lock_guard lock(errors_mutex);
        errors.push_back(why);
    };
    options.watch.poll_interval = std::chrono::milliseconds(20);
    cg::live_policy live(file, options);
    const auto first = live.current();

    // Half of a roll-back policy, written in place: not JSON.
    const std::string rollback = cg::policy_text(policy_with(cg::policy_action::roll_back));
    write_in_place(file, rollback.substr(0, rollback.size() / 2));
    REQUIRE(eventually([&] { return live.stats().rejected >= 1; }));
    CHECK(live.current() == first);
    CHECK(router.weights().candidate == 10);
    CHECK_THAT(live.stats().last_error, Catch::Matchers::Contains("policy.json: ") &&
                                            Catch::Matchers::Contains("not valid JSON"));

    // Valid JSON, invalid policy: the path and the value are named.
    std::string invalid = running;
    invalid.replace(invalid.find("\"alpha_fail\": 0.05"), 18, "\"alpha_fail\": 1.5");
    write_by_rename(file, invalid);
    REQUIRE(eventually([&] {
        return live.stats().last_error.find("policy.alpha_fail: must be in (0, 1), got 1.5") !=
               std::string::npos;
    }));
    CHECK(live.current() == first);

    // Deleted: unreadable, still the running policy.
    fs::remove(file);
    REQUIRE(eventually(
        [&] { return live.stats().last_error.find("No such file") != std::string::npos; }));
    CHECK(live.current() == first);
    CHECK(router.weights().candidate == 10);

    // The whole roll-back policy, in place: in force, and the flip made.
    write_in_place(file, rollback);
    REQUIRE(eventually([&] { return live.current()->action == cg::policy_action::roll_back; }));
    CHECK(router.weights().candidate == 0);
    const cg::live_policy_stats s = live.stats();
    CHECK(s.loads == 2);
    CHECK(s.rejected >= 3);
    const std::lock_guard lock(errors_mutex);
    CHECK(errors.size() == s.rejected);
}
