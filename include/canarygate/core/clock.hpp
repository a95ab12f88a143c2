// SPDX-License-Identifier: MIT
/// \file
/// Injected time: the `clock_source` concept every time-driven component takes
/// as a `Clock` template parameter, its conversion to integer nanoseconds, and
/// `manual_clock`, the clock tests set by hand.
///
/// A clock is any object whose `now()` returns an integer count of
/// nanoseconds, a `std::chrono::duration`, or a `std::chrono::time_point`
/// (read as its time since the clock's epoch). `std::chrono::system_clock`
/// qualifies as it is; so does a lambda-like struct of your own.
///
/// Example:
/// \code
///   canarygate::manual_clock clock;                    // starts at 0 ns
///   clock.advance(std::chrono::seconds(10));
///   std::int64_t t = canarygate::now_ns(clock);        // 10'000'000'000
/// \endcode
#pragma once

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <type_traits>

#include "canarygate/core/config.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// Durations in integer nanoseconds, the unit of every timestamp here.
inline constexpr std::int64_t second_ns = 1'000'000'000;
inline constexpr std::int64_t minute_ns = 60 * second_ns;
inline constexpr std::int64_t hour_ns = 60 * minute_ns;

namespace detail {
/// floor(a / b) for b > 0, also for negative a: the index of the slot of
/// length b (time slots, batch windows) that holds time a.
[[nodiscard]] constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
    const std::int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

template <class T>
struct is_duration : std::false_type {};
template <class Rep, class Period>
struct is_duration<std::chrono::duration<Rep, Period>> : std::true_type {};

template <class T>
struct is_time_point : std::false_type {};
template <class C, class D>
struct is_time_point<std::chrono::time_point<C, D>> : std::true_type {};

template <class T>
concept clock_reading = std::integral<T> || is_duration<T>::value || is_time_point<T>::value;
}  // namespace detail

/// Anything with a `now()` returning integer nanoseconds, a duration or a
/// time_point.
template <class Clock>
concept clock_source = requires(Clock& clock) {
    { clock.now() } -> detail::clock_reading;
};

/// A clock reading as integer nanoseconds (time since the clock's epoch for
/// a time_point). Durations coarser than a nanosecond are converted exactly;
/// finer ones are truncated towards zero.
template <detail::clock_reading T>
[[nodiscard]] constexpr std::int64_t to_ns(T reading) noexcept {
    if constexpr (std::integral<T>) {
        return static_cast<std::int64_t>(reading);
    } else if constexpr (detail::is_duration<T>::value) {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(reading).count();
    } else {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(reading.time_since_epoch())
            .count();
    }
}

/// `clock.now()` as integer nanoseconds.
template <clock_source Clock>
[[nodiscard]] std::int64_t now_ns(Clock& clock) noexcept(noexcept(clock.now())) {
    return to_ns(clock.now());
}

/// A clock that only moves when told to: for tests of windows, collectors and
/// rollouts. Reading and setting are atomic (relaxed), so a test thread may
/// move it while a collector's background thread reads it; each call is
/// wait-free.
class manual_clock {
public:
    constexpr manual_clock() noexcept = default;
    explicit manual_clock(std::int64_t start_ns) noexcept : now_(start_ns) {}
    /// Copies the current reading (the copy then moves on its own).
    manual_clock(const manual_clock& other) noexcept : now_(other.now()) {}
    manual_clock& operator=(const manual_clock& other) noexcept {
        set(other.now());
        return *this;
    }
    ~manual_clock() = default;

    /// Nanoseconds since the (arbitrary) epoch. Wait-free.
    [[nodiscard]] std::int64_t now() const noexcept {
        // relaxed: the reading is a value, not a publication; whoever moved
        // the clock and whoever reads it synchronise through their own means
        // (thread start, join, the collector's mutex) when order matters.
        return now_.load(std::memory_order_relaxed);
    }
    /// Sets the reading; may move backwards (to test clock jumps). Wait-free.
    void set(std::int64_t ns) noexcept {
        // relaxed: see now().
        now_.store(ns, std::memory_order_relaxed);
    }
    template <class Rep, class Period>
    void set(std::chrono::duration<Rep, Period> since_epoch) noexcept {
        set(to_ns(since_epoch));
    }
    /// Moves the reading by `delta` (negative moves it backwards). Wait-free.
    void advance(std::int64_t delta_ns) noexcept {
        // relaxed: see now(); fetch_add keeps concurrent advances additive.
        now_.fetch_add(delta_ns, std::memory_order_relaxed);
    }
    template <class Rep, class Period>
    void advance(std::chrono::duration<Rep, Period> delta) noexcept {
        advance(to_ns(delta));
    }

private:
    std::atomic<std::int64_t> now_{0};
};

static_assert(clock_source<manual_clock>);
static_assert(clock_source<std::chrono::system_clock>);
static_assert(clock_source<std::chrono::steady_clock>);

CANARYGATE_NAMESPACE_END
