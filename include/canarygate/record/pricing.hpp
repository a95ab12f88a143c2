// SPDX-License-Identifier: MIT
/// \file
/// Cost of a request from its token usage and a versioned price table, in
/// exact integers: prices in pico-USD (1e-12 USD) per token, costs in nano-USD
/// (1e-9 USD, the unit of request_outcome::cost_nano_usd).
///
/// cost = Σ tokens_class × price_class over four classes: uncached input,
/// cached input read, cache write, output; reasoning tokens are billed as
/// output unless the table prices them apart. Providers count tokens
/// differently, so `usage` is built through one factory per convention:
/// OpenAI's `prompt_tokens` includes the cached tokens and its
/// `completion_tokens` include the reasoning tokens; Anthropic's
/// `input_tokens` excludes cache reads and cache writes.
///
/// Limits, one set for pricing and recording: prices up to 1e10 pico-USD per
/// token ($10,000 per million tokens); up to 10^7 prompt tokens (every input
/// class together) and 10^7 generated tokens (output and reasoning) per
/// request, the recorder's default `recorder_traits::max_tokens`. So the
/// largest cost is 2 × 10^7 × 1e10 pico-USD = 2e14 nano-USD ($200,000), below
/// `max_cost_nano_usd` (2^48 - 1 nano-USD, $281,474.98), the one cost limit
/// the recorder also enforces ("cost_absurd"): every cost priced here is
/// recordable. Within these limits no sum can overflow, so cost_nano_usd() is
/// noexcept and exact; values beyond them are refused when the table or the
/// usage is built, with an error naming the field and its value.
///
/// Example (GPT-4o-mini list prices: $0.15 / $0.075 / $0.60 per million tokens):
/// \code
///   using namespace canarygate;
///   // pico-USD per token: 150,000 / 75,000 / 600,000
///   price_table mini("gpt-4o-mini 2024-07-18", 1'721'260'800'000'000'000,
///                    {.input = price_from_usd_per_million("0.15"),
///                     .cached_input = price_from_usd_per_million("0.075"),
///                     .output = price_from_usd_per_million("0.60")});
///   usage u = usage::from_openai(/*prompt*/ 1200, /*cached*/ 1024, /*completion*/ 300);
///   std::uint64_t nano = cost_nano_usd(mini, u);  // 283,200 nano-USD = $0.0002832
/// \endcode
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "canarygate/core/config.hpp"
#include "canarygate/core/error.hpp"

CANARYGATE_NAMESPACE_BEGIN

/// The one cost limit: 2^48 - 1 nano-USD ($281,474.98) per request. The
/// recorder rejects a larger `request_outcome::cost_nano_usd` as
/// "cost_absurd" (`recorder_traits::max_cost_nano_usd` is this constant: the
/// largest cost whose square splits into three 32-bit limbs), and no
/// price_table and usage that pass their checks cost more (max_cost_pico_usd
/// below, rounded, stays under it).
inline constexpr std::uint64_t max_cost_nano_usd = (std::uint64_t{1} << 48) - 1;
/// Largest accepted price: 1e10 pico-USD per token = $10,000 per million tokens.
inline constexpr std::uint64_t max_price_pico_usd_per_token = 10'000'000'000;
/// Largest accepted prompt of one request: uncached, cached and cache-write
/// tokens together (usage::input_tokens()), 10^7, as the recorder's default
/// recorder_traits::max_tokens.
inline constexpr std::uint64_t max_input_tokens = 10'000'000;
/// Largest accepted generation of one request: output and reasoning tokens
/// together (usage::output_tokens()), 10^7.
inline constexpr std::uint64_t max_output_tokens = 10'000'000;
/// Largest possible cost in pico-USD: every token at the largest price,
/// 2e17 pico-USD ($200,000).
inline constexpr std::uint64_t max_cost_pico_usd =
    (max_input_tokens + max_output_tokens) * max_price_pico_usd_per_token;
static_assert(max_cost_pico_usd / (max_input_tokens + max_output_tokens) ==
                  max_price_pico_usd_per_token,
              "the largest cost must fit in 64 bits");
static_assert(max_cost_pico_usd / 1000 + 1 <= max_cost_nano_usd,
              "every admissible cost, rounded to nano-USD, must be recordable");

/// Token counts of one request in the four billing classes (plus reasoning,
/// billed as output unless priced apart). Built only through the checked
/// factories, so input_tokens() <= max_input_tokens and output_tokens() <=
/// max_output_tokens. Immutable value.
class usage {
public:
    /// No tokens.
    constexpr usage() noexcept = default;

    /// Counts already split into the classes. Throws std::invalid_argument
    /// naming the field (or the sum) when uncached_input + cached_input +
    /// cache_write exceeds max_input_tokens or output + reasoning exceeds
    /// max_output_tokens.
    [[nodiscard]] static usage from_classes(std::uint64_t uncached_input,
                                            std::uint64_t cached_input, std::uint64_t cache_write,
                                            std::uint64_t output, std::uint64_t reasoning = 0) {
        check("from_classes",
              classes_problem(uncached_input, cached_input, cache_write, output, reasoning));
        return {uncached_input, cached_input, cache_write, output, reasoning};
    }

    /// OpenAI's convention (`usage.prompt_tokens`,
    /// `prompt_tokens_details.cached_tokens`, `completion_tokens`,
    /// `completion_tokens_details.reasoning_tokens`): cached tokens are part of
    /// the prompt tokens and reasoning tokens part of the completion tokens.
    /// No cache-write class. Throws std::invalid_argument naming the field
    /// when cached_tokens > prompt_tokens, reasoning_tokens >
    /// completion_tokens, prompt_tokens > max_input_tokens or
    /// completion_tokens > max_output_tokens.
    [[nodiscard]] static usage from_openai(std::uint64_t prompt_tokens, std::uint64_t cached_tokens,
                                           std::uint64_t completion_tokens,
                                           std::uint64_t reasoning_tokens = 0) {
        check("from_openai",
              openai_problem(prompt_tokens, cached_tokens, completion_tokens, reasoning_tokens));
        return openai_classes(prompt_tokens, cached_tokens, completion_tokens, reasoning_tokens);
    }

    /// Anthropic's convention (`input_tokens`, `cache_read_input_tokens`,
    /// `cache_creation_input_tokens`, `output_tokens`): the three input
    /// counts are disjoint; thinking tokens are inside output_tokens and billed
    /// as output. Throws std::invalid_argument naming the field (or the sum)
    /// when the three input counts together exceed max_input_tokens or
    /// output_tokens exceeds max_output_tokens.
    [[nodiscard]] static usage from_anthropic(std::uint64_t input_tokens,
                                              std::uint64_t cache_read_input_tokens,
                                              std::uint64_t cache_creation_input_tokens,
                                              std::uint64_t output_tokens) {
        check("from_anthropic", anthropic_problem(input_tokens, cache_read_input_tokens,
                                                  cache_creation_input_tokens, output_tokens));
        return {input_tokens, cache_read_input_tokens, cache_creation_input_tokens, output_tokens,
                0};
    }

    /// The same factories without exceptions, for the request path: empty
    /// when the throwing version would throw (count it as a reject).
    [[nodiscard]] static constexpr std::optional<usage> try_from_openai(
        std::uint64_t prompt_tokens, std::uint64_t cached_tokens, std::uint64_t completion_tokens,
        std::uint64_t reasoning_tokens = 0) noexcept {
        if (openai_problem(prompt_tokens, cached_tokens, completion_tokens, reasoning_tokens)) {
            return std::nullopt;
        }
        return openai_classes(prompt_tokens, cached_tokens, completion_tokens, reasoning_tokens);
    }
    [[nodiscard]] static constexpr std::optional<usage> try_from_anthropic(
        std::uint64_t input_tokens, std::uint64_t cache_read_input_tokens,
        std::uint64_t cache_creation_input_tokens, std::uint64_t output_tokens) noexcept {
        if (anthropic_problem(input_tokens, cache_read_input_tokens, cache_creation_input_tokens,
                              output_tokens)) {
            return std::nullopt;
        }
        return usage(input_tokens, cache_read_input_tokens, cache_creation_input_tokens,
                     output_tokens, 0);
    }

    [[nodiscard]] constexpr std::uint64_t uncached_input() const noexcept {
        return uncached_input_;
    }
    [[nodiscard]] constexpr std::uint64_t cached_input() const noexcept { return cached_input_; }
    [[nodiscard]] constexpr std::uint64_t cache_write() const noexcept { return cache_write_; }
    /// Output tokens other than reasoning.
    [[nodiscard]] constexpr std::uint64_t output() const noexcept { return output_; }
    [[nodiscard]] constexpr std::uint64_t reasoning() const noexcept { return reasoning_; }
    /// Every prompt token, cached and cache-written ones included
    /// (request_outcome::input_tokens).
    [[nodiscard]] constexpr std::uint64_t input_tokens() const noexcept {
        return uncached_input_ + cached_input_ + cache_write_;
    }
    /// Every generated token, reasoning included (request_outcome::output_tokens).
    [[nodiscard]] constexpr std::uint64_t output_tokens() const noexcept {
        return output_ + reasoning_;
    }

    friend constexpr bool operator==(const usage&, const usage&) noexcept = default;

private:
    struct problem {
        const char* field;
        std::uint64_t value;
        const char* rule;
    };

    constexpr usage(std::uint64_t uncached_input, std::uint64_t cached_input,
                    std::uint64_t cache_write, std::uint64_t output,
                    std::uint64_t reasoning) noexcept
        : uncached_input_(uncached_input),
          cached_input_(cached_input),
          cache_write_(cache_write),
          output_(output),
          reasoning_(reasoning) {}

    static constexpr const char* input_rule = "exceeds max_input_tokens (10000000)";
    static constexpr const char* output_rule = "exceeds max_output_tokens (10000000)";
    static_assert(max_input_tokens == 10'000'000 && max_output_tokens == 10'000'000,
                  "update input_rule and output_rule");

    static constexpr std::optional<problem> too_large(const char* field, std::uint64_t value,
                                                      std::uint64_t limit,
                                                      const char* rule) noexcept {
        if (value > limit) return problem{field, value, rule};
        return std::nullopt;
    }
    template <class... Problems>
    static constexpr std::optional<problem> first(Problems... problems) noexcept {
        std::optional<problem> found;
        ((found = found ? found : problems), ...);
        return found;
    }

    // Each count on its own first, so that the sums below cannot wrap.
    static constexpr std::optional<problem> classes_problem(std::uint64_t uncached_input,
                                                            std::uint64_t cached_input,
                                                            std::uint64_t cache_write,
                                                            std::uint64_t output,
                                                            std::uint64_t reasoning) noexcept {
        if (auto p =
                first(too_large("uncached_input", uncached_input, max_input_tokens, input_rule),
                      too_large("cached_input", cached_input, max_input_tokens, input_rule),
                      too_large("cache_write", cache_write, max_input_tokens, input_rule),
                      too_large("output", output, max_output_tokens, output_rule),
                      too_large("reasoning", reasoning, max_output_tokens, output_rule))) {
            return p;
        }
        return first(
            too_large("uncached_input + cached_input + cache_write",
                      uncached_input + cached_input + cache_write, max_input_tokens, input_rule),
            too_large("output + reasoning", output + reasoning, max_output_tokens, output_rule));
    }
    static constexpr std::optional<problem> openai_problem(
        std::uint64_t prompt_tokens, std::uint64_t cached_tokens, std::uint64_t completion_tokens,
        std::uint64_t reasoning_tokens) noexcept {
        if (cached_tokens > prompt_tokens) {
            return problem{
                "cached_tokens", cached_tokens,
                "exceeds prompt_tokens (OpenAI's prompt_tokens includes the cached tokens)"};
        }
        if (reasoning_tokens > completion_tokens) {
            return problem{
                "reasoning_tokens", reasoning_tokens,
                "exceeds completion_tokens (OpenAI's completion_tokens includes the reasoning "
                "tokens)"};
        }
        return first(
            too_large("prompt_tokens", prompt_tokens, max_input_tokens, input_rule),
            too_large("completion_tokens", completion_tokens, max_output_tokens, output_rule));
    }
    // Anthropic's three input counts are disjoint: their sum is the prompt.
    static constexpr std::optional<problem> anthropic_problem(
        std::uint64_t input_tokens, std::uint64_t cache_read_input_tokens,
        std::uint64_t cache_creation_input_tokens, std::uint64_t output_tokens) noexcept {
        if (auto p =
                first(too_large("input_tokens", input_tokens, max_input_tokens, input_rule),
                      too_large("cache_read_input_tokens", cache_read_input_tokens,
                                max_input_tokens, input_rule),
                      too_large("cache_creation_input_tokens", cache_creation_input_tokens,
                                max_input_tokens, input_rule),
                      too_large("output_tokens", output_tokens, max_output_tokens, output_rule))) {
            return p;
        }
        return too_large("input_tokens + cache_read_input_tokens + cache_creation_input_tokens",
                         input_tokens + cache_read_input_tokens + cache_creation_input_tokens,
                         max_input_tokens, input_rule);
    }
    // Only called once openai_problem() found nothing.
    static constexpr usage openai_classes(std::uint64_t prompt_tokens, std::uint64_t cached_tokens,
                                          std::uint64_t completion_tokens,
                                          std::uint64_t reasoning_tokens) noexcept {
        return {prompt_tokens - cached_tokens, cached_tokens, 0,
                completion_tokens - reasoning_tokens, reasoning_tokens};
    }

    static void check(const char* factory, std::optional<problem> p) {
        if (p) {
            detail::throw_invalid_argument("canarygate::usage::" + std::string(factory) + ": " +
                                           p->field + " = " + std::to_string(p->value) + " " +
                                           p->rule);
        }
    }

    std::uint64_t uncached_input_ = 0;
    std::uint64_t cached_input_ = 0;
    std::uint64_t cache_write_ = 0;
    std::uint64_t output_ = 0;
    std::uint64_t reasoning_ = 0;
};

/// Prices in pico-USD per token (see price_from_usd_per_million()).
struct token_prices {
    std::uint64_t input = 0;         ///< uncached input (LiteLLM `input_cost_per_token`)
    std::uint64_t cached_input = 0;  ///< cache read (`cache_read_input_token_cost`)
    std::uint64_t cache_write = 0;   ///< cache write (`cache_creation_input_token_cost`)
    std::uint64_t output = 0;        ///< output (`output_cost_per_token`)
    /// Reasoning tokens; when empty they are billed at the output price.
    std::optional<std::uint64_t> reasoning = std::nullopt;
    friend constexpr bool operator==(const token_prices&, const token_prices&) noexcept = default;
};

/// One version of a model's prices and the time it takes effect. Immutable.
class price_table {
public:
    /// Throws std::invalid_argument naming the field when `version` is empty
    /// or a price exceeds max_price_pico_usd_per_token.
    price_table(std::string version, std::int64_t effective_from_ns, const token_prices& prices)
        : version_(std::move(version)), effective_from_ns_(effective_from_ns), prices_(prices) {
        if (version_.empty()) fail("version", "\"\"", "must not be empty");
        check_price("input", prices_.input);
        check_price("cached_input", prices_.cached_input);
        check_price("cache_write", prices_.cache_write);
        check_price("output", prices_.output);
        if (prices_.reasoning) check_price("reasoning", *prices_.reasoning);
    }

    [[nodiscard]] const std::string& version() const noexcept { return version_; }
    /// The table applies to requests at or after this time (nanoseconds, the
    /// embedder's clock, usually Unix time).
    [[nodiscard]] std::int64_t effective_from_ns() const noexcept { return effective_from_ns_; }
    [[nodiscard]] const token_prices& prices() const noexcept { return prices_; }

    friend bool operator==(const price_table&, const price_table&) = default;

private:
    [[noreturn]] void fail(const char* field, const std::string& value, const char* rule) const {
        detail::throw_invalid_argument("canarygate::price_table(\"" + version_ + "\"): " + field +
                                       " = " + value + " " + rule);
    }
    void check_price(const char* field, std::uint64_t pico) const {
        if (pico > max_price_pico_usd_per_token) {
            fail(field, std::to_string(pico) + " pico-USD per token",
                 "exceeds max_price_pico_usd_per_token (1e10, $10,000 per million tokens)");
        }
    }

    std::string version_;
    std::int64_t effective_from_ns_;
    token_prices prices_;
};

/// Exact cost in pico-USD: Σ tokens × price over the classes, reasoning at
/// its own price if the table has one, else at the output price. At most
/// max_cost_pico_usd (2e17), never overflows. Wait-free, no allocation.
[[nodiscard]] inline std::uint64_t cost_pico_usd(const price_table& table,
                                                 const usage& u) noexcept {
    const token_prices& p = table.prices();
    return u.uncached_input() * p.input + u.cached_input() * p.cached_input +
           u.cache_write() * p.cache_write + u.output() * p.output +
           u.reasoning() * p.reasoning.value_or(p.output);
}

/// The cost in nano-USD, rounded half up (the total, once: 1,499 pico-USD is
/// 1 nano-USD, 1,500 is 2). At most 2e14 < max_cost_nano_usd, so the
/// recorder always accepts it. Wait-free, no allocation.
[[nodiscard]] inline std::uint64_t cost_nano_usd(const price_table& table,
                                                 const usage& u) noexcept {
    const std::uint64_t pico = cost_pico_usd(table, u);
    return pico / 1000 + static_cast<std::uint64_t>(pico % 1000 >= 500);
}

/// A model's price history: picks the table in force at a request's time.
/// Immutable after construction (share it across threads freely; swap a new
/// book in to change prices).
class price_book {
public:
    price_book() = default;
    /// Throws std::invalid_argument when two tables share an effective time or
    /// a version string (naming both).
    explicit price_book(std::vector<price_table> tables) : tables_(std::move(tables)) {
        std::stable_sort(tables_.begin(), tables_.end(),
                         [](const price_table& a, const price_table& b) {
                             return a.effective_from_ns() < b.effective_from_ns();
                         });
        for (std::size_t i = 1; i < tables_.size(); ++i) {
            if (tables_[i].effective_from_ns() == tables_[i - 1].effective_from_ns()) {
                detail::throw_invalid_argument(
                    "canarygate::price_book: tables \"" + tables_[i - 1].version() + "\" and \"" +
                    tables_[i].version() + "\" share effective_from_ns = " +
                    std::to_string(tables_[i].effective_from_ns()));
            }
        }
        for (std::size_t i = 0; i < tables_.size(); ++i) {
            for (std::size_t j = i + 1; j < tables_.size(); ++j) {
                if (tables_[i].version() == tables_[j].version()) {
                    detail::throw_invalid_argument("canarygate::price_book: version \"" +
                                                   tables_[i].version() + "\" appears twice");
                }
            }
        }
    }

    /// The table in force at `time_ns` (the latest effective_from_ns <=
    /// time_ns), or nullptr when `time_ns` precedes every table. O(log n),
    /// no allocation.
    [[nodiscard]] const price_table* find(std::int64_t time_ns) const noexcept {
        const auto after = std::upper_bound(
            tables_.begin(), tables_.end(), time_ns,
            [](std::int64_t t, const price_table& table) { return t < table.effective_from_ns(); });
        return after == tables_.begin() ? nullptr : &*(after - 1);
    }

    /// The cost of `u` at `time_ns` in nano-USD, or empty when no table is in
    /// force then.
    [[nodiscard]] std::optional<std::uint64_t> cost_nano_usd(const usage& u,
                                                             std::int64_t time_ns) const noexcept {
        const price_table* table = find(time_ns);
        if (table == nullptr) return std::nullopt;
        return canarygate::cost_nano_usd(*table, u);
    }

    /// Every table, oldest first.
    [[nodiscard]] std::span<const price_table> tables() const noexcept { return tables_; }

private:
    std::vector<price_table> tables_;
};

namespace detail {

// Parses an unsigned decimal number (grammar: digits ["." digits] [("e" | "E")
// ["+" | "-"] digits]) and returns value × 10^unit_exponent exactly, which
// must be an integer no larger than max_price_pico_usd_per_token.
inline std::uint64_t parse_price(std::string_view text, int unit_exponent, const char* where) {
    const auto fail = [&](const std::string& rule) {
        detail::throw_invalid_argument("canarygate::" + std::string(where) + ": \"" +
                                       std::string(text) + "\" " + rule);
    };
    const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
    std::size_t i = 0;
    const std::size_t int_begin = i;
    while (i < text.size() && is_digit(text[i])) ++i;
    const std::string_view int_digits = text.substr(int_begin, i - int_begin);
    std::string_view frac_digits;
    if (i < text.size() && text[i] == '.') {
        const std::size_t frac_begin = ++i;
        while (i < text.size() && is_digit(text[i])) ++i;
        frac_digits = text.substr(frac_begin, i - frac_begin);
        if (frac_digits.empty()) fail("is not a decimal number: digits must follow the point");
    }
    if (int_digits.empty())
        fail("is not a decimal number: expected digits [. digits] [e [+-] digits]");
    long exponent = 0;
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        ++i;
        bool negative = false;
        if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
        const std::size_t exp_begin = i;
        while (i < text.size() && is_digit(text[i])) {
            exponent = exponent * 10 + (text[i] - '0');
            if (exponent > 1000) fail("has an exponent out of range (|e| <= 1000)");
            ++i;
        }
        if (i == exp_begin) fail("is not a decimal number: digits must follow the exponent");
        if (negative) exponent = -exponent;
    }
    if (i != text.size()) fail("is not a decimal number: unexpected character");

    // value × 10^unit = the digit string int_digits frac_digits with the
    // point moved to `point` digits from its start.
    const long n_int = static_cast<long>(int_digits.size());
    const long n_all = n_int + static_cast<long>(frac_digits.size());
    const long point = n_int + exponent + unit_exponent;
    const auto digit = [&](long k) {
        return k < n_int ? int_digits[static_cast<std::size_t>(k)]
                         : frac_digits[static_cast<std::size_t>(k - n_int)];
    };
    for (long k = std::max(point, 0L); k < n_all; ++k) {
        if (digit(k) != '0') fail("has more precision than 1 pico-USD per token");
    }
    std::uint64_t value = 0;
    const std::uint64_t limit = max_price_pico_usd_per_token;
    for (long k = 0; k < point; ++k) {
        const std::uint64_t d = k < n_all ? static_cast<std::uint64_t>(digit(k) - '0') : 0;
        if (value > (limit - d) / 10) {
            fail(
                "exceeds max_price_pico_usd_per_token (1e10 pico-USD, $10,000 per million tokens)");
        }
        value = value * 10 + d;
    }
    return value;
}

}  // namespace detail

/// Price in pico-USD per token from a decimal string in USD per million
/// tokens, the unit of providers' price pages: "0.075" -> 75,000. Exact (no
/// floating point). Throws std::invalid_argument when the string is not an
/// unsigned decimal (digits ["." digits] [e [+-] digits]), has a nonzero
/// digit below 1 pico-USD per token (more than 6 decimal places), or exceeds
/// max_price_pico_usd_per_token.
[[nodiscard]] inline std::uint64_t price_from_usd_per_million(std::string_view decimal) {
    return detail::parse_price(decimal, 6, "price_from_usd_per_million");
}

/// Price in pico-USD per token from a decimal string in USD per token,
/// LiteLLM's unit (`input_cost_per_token: 1.5e-07` -> 150,000). Same rules as
/// price_from_usd_per_million().
[[nodiscard]] inline std::uint64_t price_from_usd_per_token(std::string_view decimal) {
    return detail::parse_price(decimal, 12, "price_from_usd_per_token");
}

CANARYGATE_NAMESPACE_END
