// SPDX-License-Identifier: MIT
/// \file
/// The one error path of the library.
///
/// Configuration and argument errors are found where the value enters (a
/// constructor, a setter, a decoder) and reported with a message that names
/// the field and the bad value: `canarygate::policy_config: alpha_fail = 1.5
/// must be in (0, 1)`. With exceptions enabled the message travels in a
/// standard exception (`std::invalid_argument` for bad values,
/// `std::logic_error` for calls in the wrong state, `std::out_of_range` for a
/// bad index); built with `-fno-exceptions`, the same message is written to
/// stderr and the program aborts. The hot path (recording, routing) never
/// reports errors this way: it counts bad values instead.
///
/// `CANARYGATE_TRY` / `CANARYGATE_CATCH(declaration)` compile to try/catch
/// with exceptions and to dead branches without, so a handler that only
/// counts (`CANARYGATE_CATCH(...) { ++errors; }`) needs no `#if`.
#pragma once

#include <charconv>
#include <concepts>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include "canarygate/core/config.hpp"

#if CANARYGATE_HAS_EXCEPTIONS()
#define CANARYGATE_TRY try
#define CANARYGATE_CATCH(declaration) catch (declaration)
#else
#define CANARYGATE_TRY if (true)
#define CANARYGATE_CATCH(declaration) else if (false)
#endif

CANARYGATE_NAMESPACE_BEGIN
namespace detail {

/// Throws `error`, or writes its what() to stderr and aborts when exceptions
/// are disabled.
template <class Exception>
[[noreturn]] void raise(const Exception& error) {
#if CANARYGATE_HAS_EXCEPTIONS()
    throw error;
#else
    std::fputs("canarygate: fatal error: ", stderr);
    std::fputs(error.what(), stderr);
    std::fputc('\n', stderr);
    std::abort();
#endif
}

/// A bad value: std::invalid_argument.
[[noreturn]] inline void throw_invalid_argument(const std::string& message) {
    raise(std::invalid_argument(message));
}
/// A call in the wrong state (a second collector, a thread already running).
[[noreturn]] inline void throw_logic_error(const std::string& message) {
    raise(std::logic_error(message));
}
/// An index past the end.
[[noreturn]] inline void throw_out_of_range(const std::string& message) {
    raise(std::out_of_range(message));
}

/// A value as it appears in an error message: integers as integers,
/// floating-point values in the shortest form that reads back exactly
/// (0.8, 1e-300, inf, nan), strings quoted.
template <class T>
[[nodiscard]] std::string to_text(const T& value) {
    if constexpr (std::same_as<T, bool>) {
        return value ? "true" : "false";
    } else if constexpr (std::integral<T>) {
        return std::to_string(value);
    } else if constexpr (std::floating_point<T>) {
        char buffer[32];
        const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
        return result.ec == std::errc{} ? std::string(buffer, result.ptr) : std::string("?");
    } else {
        return "'" + std::string(std::string_view(value)) + "'";
    }
}

/// Reports a bad field: `<where>: <field> = <value> <rule>`.
template <class T>
[[noreturn]] void throw_bad_field(std::string_view where, std::string_view field, const T& value,
                                  std::string_view rule) {
    throw_invalid_argument(std::string(where) + ": " + std::string(field) + " = " + to_text(value) +
                           " " + std::string(rule));
}

}  // namespace detail
CANARYGATE_NAMESPACE_END
