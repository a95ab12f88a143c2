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
///   // before each controller step:
///   const std::shared_ptr<const canarygate::rollout_policy> now = policy.current();
///   if (now->action == canarygate::policy_action::roll_back)
///       controller.submit({canarygate::operator_command_kind::abort, "policy file",
///                          "roll_back", t});
/// \endcode
///
/// What the library does on its own is only the roll-back flip, because it
/// must not wait for a controller's next check. Everything else is the
/// application's: it must stop its controller when the policy says
/// roll_back (e.g. submit an abort in `on_change`, or check `current()`
/// before each step), or the controller's next step sets the stage's weights
/// again; a `hold`, a change back to `run` and new gates reach it the same
/// way.
///
/// Built without exceptions, a file the reader refuses aborts the process
/// with the reader's message, as every reader of the library does: keep
/// exceptions on for a live policy.
#pragma once

#include <algorithm>
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
    /// Called after a new policy is in force, with the new and the previous
    /// one (on the watcher thread).
    std::function<void(const std::shared_ptr<const rollout_policy>& now,
                       const std::shared_ptr<const rollout_policy>& before)>
        on_change;
    /// Called with the reason a file was not used (on the watcher thread;
    /// for the first read, on the constructing thread).
    std::function<void(const std::string& why)> on_error;
    file_watch_options watch;
};

struct live_policy_stats {
    std::uint64_t loads = 0;     ///< policies put in force, the first included
    std::uint64_t rejected = 0;  ///< file states that were not used (invalid, unreadable)
    std::uint64_t roll_backs =
        0;  ///< loaded roll_backs that set the router's candidate weight to 0
    std::uint64_t callback_errors = 0;  ///< exceptions thrown by on_change or on_error
    std::string last_error;  ///< why the last rejected state was not used ("" if none yet)
};

namespace detail {

/// The policy in force: atomic<shared_ptr> where the standard library has
/// it (libstdc++ 12), a mutex elsewhere (libc++ does not have it yet).
class policy_slot {
public:
    [[nodiscard]] std::shared_ptr<const rollout_policy> load() const {
#if defined(__cpp_lib_atomic_shared_ptr)
        // acquire: pairs with the release in exchange(), so a reader that
        // gets the new policy also sees the router flip made before it.
        return value_.load(std::memory_order_acquire);
#else
        const std::lock_guard lock(mutex_);
        return value_;
#endif
    }
    std::shared_ptr<const rollout_policy> exchange(std::shared_ptr<const rollout_policy> next) {
#if defined(__cpp_lib_atomic_shared_ptr)
        // release: see load(); acquire: the previous policy is read whole.
        return value_.exchange(std::move(next), std::memory_order_acq_rel);
#else
        const std::lock_guard lock(mutex_);
        std::swap(value_, next);
        return next;
#endif
    }

private:
#if defined(__cpp_lib_atomic_shared_ptr)
    std::atomic<std::shared_ptr<const rollout_policy>> value_;
#else
    mutable std::mutex mutex_;
    std::shared_ptr<const rollout_policy> value_;
#endif
};

}  // namespace detail

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

    /// The policy in force; never null after construction. Call it per
    /// check, not per request: routers read their weights from the router.
    [[nodiscard]] std::shared_ptr<const rollout_policy> current() const { return slot_.load(); }

    [[nodiscard]] live_policy_stats stats() const {
        const std::lock_guard lock(stats_mutex_);
        return stats_;
    }

    [[nodiscard]] file_watch_mode mode() const noexcept { return watch_->mode(); }

private:
    // On the watcher thread (the first call on the constructing thread).
    void take(const file_contents& file) {
        std::shared_ptr<const rollout_policy> next;
        std::string why = file.error;
#if CANARYGATE_HAS_EXCEPTIONS()
        try {
            if (file.ok()) next = parse(file.bytes);
        } catch (const std::exception& e) {
            why = path_ + ": " + e.what();
        }
#else
        if (file.ok()) next = parse(file.bytes);
#endif
        bool rolled_back = false;
        if (next != nullptr && next->action == policy_action::roll_back &&
            options_.router != nullptr) {
            const routing_weights w = options_.router->weights();
            if (w.candidate != 0 || w.shadow_ppm != 0) {
                // The candidate's weight moves to the baseline, within the
                // router's limits (an Unleash total stays 100).
                const routing_weights back{.baseline = std::min(w.total(), max_routing_weight),
                                           .candidate = 0,
                                           .shadow_ppm = 0};
#if CANARYGATE_HAS_EXCEPTIONS()
                try {
                    options_.router->set_weights(back);
                    rolled_back = true;
                } catch (const std::exception& e) {
                    why = path_ + ": the roll-back could not be applied to the router: " + e.what();
                    next = nullptr;
                }
#else
                options_.router->set_weights(back);
                rolled_back = true;
#endif
            }
        }
        if (next == nullptr) {
            {
                const std::lock_guard lock(stats_mutex_);
                ++stats_.rejected;
                stats_.last_error = why;
            }
            notify([&] {
                if (options_.on_error) options_.on_error(why);
            });
            return;
        }
        {
            // Counted before the policy is published: a thread that sees it
            // in force sees it counted.
            const std::lock_guard lock(stats_mutex_);
            ++stats_.loads;
            if (rolled_back) ++stats_.roll_backs;
        }
        const std::shared_ptr<const rollout_policy> before = slot_.exchange(next);
        if (before != nullptr) {
            notify([&] {
                if (options_.on_change) options_.on_change(next, before);
            });
        }
    }

    // Runs a user callback; what it throws is counted, never lost.
    template <class Call>
    void notify(Call&& call) {
#if CANARYGATE_HAS_EXCEPTIONS()
        try {
            call();
        } catch (...) {
            const std::lock_guard lock(stats_mutex_);
            ++stats_.callback_errors;
        }
#else
        call();
#endif
    }

    [[nodiscard]] std::shared_ptr<const rollout_policy> parse(const std::string& text) const {
        return std::make_shared<const rollout_policy>(
            options_.flag_key.empty() ? parse_policy(text)
                                      : parse_policy_flag(text, options_.flag_key).selected());
    }

    live_policy_options options_;
    std::string path_;
    detail::policy_slot slot_;
    mutable std::mutex stats_mutex_;
    live_policy_stats stats_;
    std::unique_ptr<file_watch> watch_;  // last: it calls take(), which uses the members above
};

CANARYGATE_NAMESPACE_END
