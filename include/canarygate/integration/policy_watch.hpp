// SPDX-License-Identifier: MIT
/// \file
/// Optional integration header (component canarygate::json): a policy file
/// kept live. `live_policy` reads a policy document (or the policy flag of a
/// flagd flag file) at start, re-reads it whenever it changes
/// (integration/file_watch.hpp: inotify, or polling), validates it, and
/// swaps the immutable policy in atomically. "Roll-back = flip policy":
/// when the file's action becomes `roll_back`, the bound router's candidate
/// weight goes to 0 and its shadow traffic off in the same step, on the
/// watcher thread, before anyone reads the new policy; every router thread
/// sees it at its next request.
///
/// A file that cannot be used (half-written, invalid, unreadable, deleted)
/// leaves the running policy in force; why is counted and kept
/// (`stats().rejected`, `stats().last_error`) and passed to the optional
/// `on_error` callback (for a log line). Atomic-rename and in-place writes
/// both work.
///
/// \code
///   canarygate::router router(routing, {.baseline = 99, .candidate = 1});
///   canarygate::live_policy policy("/etc/canary/flags.json",
///                                  {.flag_key = "chat-rollout-policy", .router = &router});
///   ...
///   const std::shared_ptr<const canarygate::rollout_policy> now = policy.current();
///   if (now->action == canarygate::policy_action::hold) controller.pause("policy file", "hold");
/// \endcode
///
/// What the library does on its own is only the roll-back flip, because it
/// must not wait for a controller's next check; a `hold`, a change back to
/// `run` or new gates reach the controller through `current()` or the
/// `on_change` callback (a rolled-back candidate stays rolled back until a
/// person starts a new rollout).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"
#include "canarygate/integration/file_watch.hpp"
#include "canarygate/integration/json_policy.hpp"
#include "canarygate/rollout/router.hpp"

CANARYGATE_NAMESPACE_BEGIN

struct live_policy_options {
    /// Empty: the file is a policy document. Otherwise the key of the policy
    /// flag in a flagd flag file (its default variant is the policy).
    std::string flag_key;
    /// Set to 0 candidate weight and 0 shadow when a loaded policy's action
    /// is roll_back. Must outlive the live_policy.
    canarygate::router* router = nullptr;
    /// Called on the watcher thread after a new policy is in force, with the
    /// new and the previous one.
    std::function<void(const std::shared_ptr<const rollout_policy>& now,
                       const std::shared_ptr<const rollout_policy>& before)>
        on_change;
    /// Called on the watcher thread with the reason a file was not used.
    std::function<void(const std::string& why)> on_error;
    file_watch_options watch;
};

struct live_policy_stats {
    std::uint64_t loads = 0;     ///< policies put in force, the first included
    std::uint64_t rejected = 0;  ///< file states that were not used (invalid, unreadable)
    std::uint64_t roll_backs =
        0;                   ///< times a loaded roll_back set the router's candidate weight to 0
    std::string last_error;  ///< why the last rejected state was not used ("" if none yet)
};

class live_policy {
public:
    /// Reads the file and starts watching it. Throws std::invalid_argument
    /// naming the file and the reason when the first read gives no valid
    /// policy: there is nothing to keep in force yet.
    live_policy(const std::filesystem::path& path, live_policy_options options)
        : options_(std::move(options)), path_(std::filesystem::absolute(path).string()) {
        watch_ = std::make_unique<file_watch>(
            path, [this](const file_contents& file) { take(file); }, options_.watch);
        if (current() == nullptr) {
            const std::string why = stats().last_error;
            watch_.reset();
            detail::throw_invalid_argument("canarygate::live_policy: " + why);
        }
    }

    live_policy(const live_policy&) = delete;
    live_policy& operator=(const live_policy&) = delete;
    ~live_policy() { watch_.reset(); }  // the watcher thread ends before the members go

    /// The policy in force. Never null after construction. Lock-free on
    /// platforms with a lock-free atomic<shared_ptr>; libstdc++'s takes a
    /// short internal spin lock: call it per check, not per request (routers
    /// read their weights from the router, never from here).
    [[nodiscard]] std::shared_ptr<const rollout_policy> current() const {
        // (1) acquire: pairs with the release store in (2), so a reader that
        // gets the new policy also sees the router flip made before it.
        return current_.load(std::memory_order_acquire);
    }

    [[nodiscard]] live_policy_stats stats() const {
        const std::lock_guard lock(stats_mutex_);
        return stats_;
    }

    [[nodiscard]] file_watch_mode mode() const noexcept { return watch_->mode(); }

private:
    // On the watcher thread (the first call on the constructing thread).
    void take(const file_contents& file) {
        std::shared_ptr<const rollout_policy> next;
        std::string why;
        if (!file.ok()) {
            why = file.error;
        } else {
            // Without exceptions an invalid file aborts with its message
            // (as every reader of the library does).
#if CANARYGATE_HAS_EXCEPTIONS()
            try {
                next = parse(file.bytes);
            } catch (const std::exception& e) {
                why = path_ + ": " + e.what();
            }
#else
            next = parse(file.bytes);
#endif
        }
        if (next == nullptr) {
            {
                const std::lock_guard lock(stats_mutex_);
                ++stats_.rejected;
                stats_.last_error = why;
            }
            if (options_.on_error) options_.on_error(why);
            return;
        }
        bool rolled_back = false;
        if (next->action == policy_action::roll_back && options_.router != nullptr) {
            const routing_weights w = options_.router->weights();
            if (w.candidate != 0 || w.shadow_ppm != 0) {
                // The candidate's weight moves to the baseline: the total (100
                // for Unleash routing) stays what the router accepts.
                options_.router->set_weights(
                    {.baseline = w.total(), .candidate = 0, .shadow_ppm = 0});
                rolled_back = true;
            }
        }
        // (2) release: see (1); acquire: `before` is read whole, for on_change.
        const std::shared_ptr<const rollout_policy> before =
            current_.exchange(next, std::memory_order_acq_rel);
        {
            const std::lock_guard lock(stats_mutex_);
            ++stats_.loads;
            if (rolled_back) ++stats_.roll_backs;
        }
        if (options_.on_change && before != nullptr) options_.on_change(next, before);
    }

    [[nodiscard]] std::shared_ptr<const rollout_policy> parse(const std::string& text) const {
        return std::make_shared<const rollout_policy>(
            options_.flag_key.empty() ? parse_policy(text)
                                      : parse_policy_flag(text, options_.flag_key).selected());
    }

    live_policy_options options_;
    std::string path_;
    std::atomic<std::shared_ptr<const rollout_policy>> current_;
    mutable std::mutex stats_mutex_;
    live_policy_stats stats_;
    std::unique_ptr<file_watch> watch_;  // last: it calls take(), which uses the members above
};

CANARYGATE_NAMESPACE_END
