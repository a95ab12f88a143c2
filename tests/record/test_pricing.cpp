// SPDX-License-Identifier: MIT
// Price tables: unit arithmetic, exact decimal parsing, the two token
// accounting conventions landing in the same classes, worked cost examples
// written out by hand, rounding, overflow guards and table selection by time.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "canarygate/record/pricing.hpp"
#include "canarygate/record/recorder.hpp"

namespace {

using canarygate::cost_nano_usd;
using canarygate::cost_pico_usd;
using canarygate::price_book;
using canarygate::price_from_usd_per_million;
using canarygate::price_from_usd_per_token;
using canarygate::price_table;
using canarygate::token_prices;
using canarygate::usage;

constexpr std::int64_t ns_per_s = 1'000'000'000;
constexpr std::int64_t july_18_2024 = 1'721'260'800 * ns_per_s;  // 2024-07-18T00:00:00Z
constexpr std::int64_t jan_1_2025 = 1'735'689'600 * ns_per_s;    // 2025-01-01T00:00:00Z

// GPT-4o-mini list prices, USD per million tokens: input 0.15, cached input
// 0.075, output 0.60; OpenAI bills no cache writes.
price_table gpt_4o_mini_like() {
    return {"gpt-4o-mini 2024-07-18",
            july_18_2024,
            {.input = price_from_usd_per_million("0.15"),
             .cached_input = price_from_usd_per_million("0.075"),
             .output = price_from_usd_per_million("0.60")}};
}

// Claude 3.5 Haiku list prices, USD per million tokens: input 0.80, cache
// write (5 min) 1.00, cache read 0.08, output 4.00.
price_table claude_haiku_like() {
    return {"claude-3-5-haiku 2024-11-04",
            july_18_2024,
            {.input = price_from_usd_per_million("0.80"),
             .cached_input = price_from_usd_per_million("0.08"),
             .cache_write = price_from_usd_per_million("1.00"),
             .output = price_from_usd_per_million("4.00")}};
}

}  // namespace

TEST_CASE("unit arithmetic: USD per million tokens to pico-USD per token", "[pricing]") {
    // $0.15 per million tokens = 0.15 / 1e6 USD = 1.5e-7 USD per token
    // = 1.5e-7 x 1e12 pico-USD = 150,000 pico-USD per token.
    const std::uint64_t p = price_from_usd_per_million("0.15");
    CHECK(p == 150'000);
    // Back: a million tokens at that price is 1.5e11 pico-USD = $0.15.
    CHECK(p * 1'000'000 == 150'000'000'000);
    CHECK(price_from_usd_per_million("0.075") == 75'000);
    CHECK(price_from_usd_per_million("0.60") == 600'000);
    CHECK(price_from_usd_per_million("15") == 15'000'000);
    CHECK(price_from_usd_per_million("0.000001") == 1);  // the finest price: 1 pico-USD per token
    CHECK(price_from_usd_per_million("0.1000000000") == 100'000);  // zeros beyond pico are fine
    CHECK(price_from_usd_per_million("000.5") == 500'000);
    CHECK(price_from_usd_per_million("0") == 0);
    CHECK(price_from_usd_per_million("0e999") == 0);
    CHECK(price_from_usd_per_million("7.5e-2") == 75'000);
    CHECK(price_from_usd_per_million("10000") == canarygate::max_price_pico_usd_per_token);
    // LiteLLM's unit: USD per token, often in scientific notation.
    CHECK(price_from_usd_per_token("1.5e-07") == 150'000);
    CHECK(price_from_usd_per_token("0.00000015") == 150'000);
    CHECK(price_from_usd_per_token("7.5E-8") == 75'000);
    CHECK(price_from_usd_per_token("1e-12") == 1);
    CHECK(price_from_usd_per_token("6E-5") == 60'000'000);
}

TEST_CASE("decimal prices finer than a pico-USD or out of range are refused", "[pricing]") {
    CHECK_THROWS_WITH(
        (void)price_from_usd_per_million("0.0000001"),
        Catch::Contains("\"0.0000001\" has more precision than 1 pico-USD per token"));
    CHECK_THROWS_WITH((void)price_from_usd_per_million("0.1500005"),
                      Catch::Contains("more precision"));
    CHECK_THROWS_WITH((void)price_from_usd_per_token("1e-13"), Catch::Contains("more precision"));
    CHECK_THROWS_WITH((void)price_from_usd_per_million("10000.000001"),
                      Catch::Contains("\"10000.000001\" exceeds max_price_pico_usd_per_token"));
    CHECK_THROWS_WITH((void)price_from_usd_per_million("1e5"), Catch::Contains("exceeds"));
    CHECK_THROWS_WITH((void)price_from_usd_per_million("99999999999999999999999999"),
                      Catch::Contains("exceeds"));
    CHECK_THROWS_WITH((void)price_from_usd_per_million("1e1001"),
                      Catch::Contains("exponent out of range"));
    for (const char* bad : {"", "-1", "+1", ".5", "1.", " 1", "1 ", "1e", "1e+", "abc", "1,5",
                            "0x10", "1.2.3", "inf", "nan"}) {
        INFO("input \"" << bad << "\"");
        CHECK_THROWS_WITH((void)price_from_usd_per_million(bad),
                          Catch::Contains("is not a decimal number"));
    }
}

TEST_CASE("OpenAI and Anthropic usage land in the same four classes", "[pricing]") {
    // OpenAI: prompt_tokens 1,200 of which 1,024 cached; completion 300.
    const usage openai = usage::from_openai(1200, 1024, 300);
    CHECK(openai.uncached_input() == 176);
    CHECK(openai.cached_input() == 1024);
    CHECK(openai.cache_write() == 0);
    CHECK(openai.output() == 300);
    CHECK(openai.reasoning() == 0);
    // Anthropic reports the same request as input 176 (excluding cache
    // reads), cache read 1,024, cache creation 0, output 300.
    const usage anthropic = usage::from_anthropic(176, 1024, 0, 300);
    CHECK(anthropic == openai);
    // Totals in request_outcome's convention: all prompt tokens, all generated tokens.
    CHECK(openai.input_tokens() == 1200);
    CHECK(openai.output_tokens() == 300);
    CHECK(usage::from_anthropic(50, 2000, 500, 400).input_tokens() == 2550);
    CHECK(usage::from_classes(176, 1024, 0, 300) == openai);
}

TEST_CASE("worked example: a GPT-4o-mini-like table", "[pricing]") {
    const price_table mini = gpt_4o_mini_like();
    CHECK(mini.prices().input == 150'000);
    CHECK(mini.prices().cached_input == 75'000);
    CHECK(mini.prices().output == 600'000);
    const usage u = usage::from_openai(1200, 1024, 300);
    //   176 uncached x 150,000 =  26,400,000 pico-USD
    // 1,024 cached   x  75,000 =  76,800,000
    //   300 output   x 600,000 = 180,000,000
    //                    total = 283,200,000 pico-USD = 283,200 nano-USD = $0.0002832
    CHECK(cost_pico_usd(mini, u) == 283'200'000);
    CHECK(cost_nano_usd(mini, u) == 283'200);
}

TEST_CASE("worked example: a Claude-Haiku-like table with cache writes", "[pricing]") {
    const price_table haiku = claude_haiku_like();
    const usage u = usage::from_anthropic(50, 2000, 500, 400);
    //    50 input       x   800,000 =    40,000,000 pico-USD
    // 2,000 cache read  x    80,000 =   160,000,000
    //   500 cache write x 1,000,000 =   500,000,000
    //   400 output      x 4,000,000 = 1,600,000,000
    //                         total = 2,300,000,000 pico-USD = 2,300,000 nano-USD = $0.0023
    CHECK(cost_pico_usd(haiku, u) == 2'300'000'000);
    CHECK(cost_nano_usd(haiku, u) == 2'300'000);
}

TEST_CASE("the same usage expressed both ways costs the same under either table", "[pricing]") {
    const usage openai = usage::from_openai(1200, 1024, 300);
    const usage anthropic = usage::from_anthropic(176, 1024, 0, 300);
    const price_table mini = gpt_4o_mini_like();
    const price_table haiku = claude_haiku_like();
    CHECK(cost_nano_usd(mini, openai) == 283'200);
    CHECK(cost_nano_usd(mini, anthropic) == 283'200);
    // 176 x 800,000 + 1,024 x 80,000 + 300 x 4,000,000
    //   = 140,800,000 + 81,920,000 + 1,200,000,000 = 1,422,720,000 pico-USD
    CHECK(cost_nano_usd(haiku, openai) == 1'422'720);
    CHECK(cost_nano_usd(haiku, anthropic) == 1'422'720);
}

TEST_CASE("reasoning tokens are billed as output unless priced apart", "[pricing]") {
    // o4-mini-like: input 1.10, cached 0.275, output 4.40 USD per million.
    token_prices prices{.input = price_from_usd_per_million("1.10"),
                        .cached_input = price_from_usd_per_million("0.275"),
                        .output = price_from_usd_per_million("4.40")};
    CHECK(prices.cached_input == 275'000);
    // completion_tokens 500 of which 400 reasoning.
    const usage u = usage::from_openai(100, 0, 500, 400);
    CHECK(u.output() == 100);
    CHECK(u.reasoning() == 400);
    CHECK(u.output_tokens() == 500);
    // 100 x 1,100,000 + (100 + 400) x 4,400,000 = 110,000,000 + 2,200,000,000
    CHECK(cost_nano_usd(price_table("o4-mini-like", 0, prices), u) == 2'310'000);
    // Reasoning at 2.00 USD per million:
    // 110,000,000 + 100 x 4,400,000 + 400 x 2,000,000 = 1,350,000,000 pico-USD
    prices.reasoning = price_from_usd_per_million("2.00");
    CHECK(cost_nano_usd(price_table("reasoning-apart", 0, prices), u) == 1'350'000);
}

TEST_CASE("the nano-USD cost is the pico-USD total rounded half up", "[pricing]") {
    const price_table one_pico("one pico-USD per output token", 0, {.output = 1});
    const auto nano_for = [&](std::uint64_t tokens) {
        return cost_nano_usd(one_pico, usage::from_classes(0, 0, 0, tokens));
    };
    CHECK(nano_for(0) == 0);
    CHECK(nano_for(499) == 0);
    CHECK(nano_for(500) == 1);  // half rounds up
    CHECK(nano_for(999) == 1);
    CHECK(nano_for(1000) == 1);
    CHECK(nano_for(1499) == 1);
    CHECK(nano_for(1500) == 2);
    // Rounded once on the total, not per class: 300 + 300 pico-USD = 1 nano-USD
    // (per class it would be 0 + 0).
    const price_table split("split", 0, {.input = 1, .output = 1});
    CHECK(cost_nano_usd(split, usage::from_classes(300, 0, 0, 300)) == 1);
}

TEST_CASE("the largest prices and token counts price within the one cost limit",
          "[pricing][limits]") {
    constexpr std::uint64_t p = canarygate::max_price_pico_usd_per_token;
    constexpr std::uint64_t in = canarygate::max_input_tokens;
    constexpr std::uint64_t out = canarygate::max_output_tokens;
    STATIC_REQUIRE(canarygate::max_cost_nano_usd == (std::uint64_t{1} << 48) - 1);
    STATIC_REQUIRE(canarygate::recorder_traits::max_cost_nano_usd == canarygate::max_cost_nano_usd);
    // The token limits are the recorder's default ones: a priced request is recordable.
    STATIC_REQUIRE(in == canarygate::recorder_traits::max_tokens);
    STATIC_REQUIRE(out == canarygate::recorder_traits::max_tokens);
    const price_table dearest(
        "dearest", 0,
        {.input = p, .cached_input = p, .cache_write = p, .output = p, .reasoning = p});
    // However the tokens are split into classes, the total is what counts.
    for (const usage& most :
         {usage::from_classes(in, 0, 0, out), usage::from_classes(0, in, 0, 0, out),
          usage::from_classes(in / 2, in / 4, in / 4, out / 2, out / 2),
          usage::from_openai(in, in, out, out), usage::from_anthropic(0, 0, in, out)}) {
        CHECK(canarygate::max_cost_pico_usd == 200'000'000'000'000'000U);  // 2 x 10^7 x 1e10
        CHECK(cost_pico_usd(dearest, most) == canarygate::max_cost_pico_usd);
        CHECK(cost_nano_usd(dearest, most) == 200'000'000'000'000U);  // $200,000
        CHECK(cost_nano_usd(dearest, most) <= canarygate::max_cost_nano_usd);
    }
    // Reasoning priced apart at the top price too.
    const price_table apart("apart", 0, {.input = p, .output = 1, .reasoning = p});
    CHECK(cost_nano_usd(apart, usage::from_openai(in, 0, out, out)) == 200'000'000'000'000U);
}

TEST_CASE("inconsistent or absurd token counts are refused, naming the field", "[pricing]") {
    CHECK_THROWS_WITH(
        (void)usage::from_openai(1200, 1500, 300),
        Catch::Contains("usage::from_openai: cached_tokens = 1500 exceeds prompt_tokens"));
    CHECK_THROWS_WITH((void)usage::from_openai(100, 0, 300, 301),
                      Catch::Contains("reasoning_tokens = 301 exceeds completion_tokens"));
    CHECK_THROWS_WITH(
        (void)usage::from_openai(10'000'001, 0, 1),
        Catch::Contains("prompt_tokens = 10000001 exceeds max_input_tokens (10000000)"));
    CHECK_THROWS_WITH((void)usage::from_anthropic(1, 2, 10'000'001, 4),
                      Catch::Contains("from_anthropic: cache_creation_input_tokens = 10000001"));
    CHECK_THROWS_WITH((void)usage::from_classes(0, 0, 0, 0, 10'000'001),
                      Catch::Contains("from_classes: reasoning = 10000001 exceeds "
                                      "max_output_tokens (10000000)"));
    // Huge counts are named on their own, before any sum could wrap.
    CHECK_THROWS_WITH((void)usage::from_classes(~std::uint64_t{0}, 1, 0, 0),
                      Catch::Contains("from_classes: uncached_input = 18446744073709551615"));
    CHECK_NOTHROW((void)usage::from_openai(10'000'000, 10'000'000, 10'000'000, 10'000'000));
    // The noexcept versions for the request path.
    CHECK_FALSE(usage::try_from_openai(1200, 1500, 300).has_value());
    CHECK_FALSE(usage::try_from_anthropic(10'000'001, 0, 0, 0).has_value());
    CHECK_FALSE(usage::try_from_anthropic(~std::uint64_t{0}, 1, 0, 0).has_value());
    CHECK(usage::try_from_openai(1200, 1024, 300) == usage::from_openai(1200, 1024, 300));
    CHECK(usage::try_from_anthropic(176, 1024, 0, 300) == usage::from_openai(1200, 1024, 300));
    STATIC_REQUIRE(noexcept(usage::try_from_openai(1, 0, 1, 0)));
    STATIC_REQUIRE(noexcept(cost_nano_usd(std::declval<const price_table&>(), usage{})));
}

TEST_CASE("absurd prices and empty versions are refused, naming the field", "[pricing]") {
    CHECK_THROWS_WITH(
        price_table("v1", 0, {.output = 10'000'000'001}),
        Catch::Contains("price_table(\"v1\"): output = 10000000001 pico-USD per token "
                        "exceeds max_price_pico_usd_per_token"));
    CHECK_THROWS_WITH(price_table("v1", 0, {.reasoning = 10'000'000'001}),
                      Catch::Contains("reasoning ="));
    CHECK_THROWS_WITH(price_table("", 0, {}), Catch::Contains("version = \"\" must not be empty"));
}

TEST_CASE("a price book picks the table in force at the request's time", "[pricing]") {
    // Given out of order: the book sorts by effective time.
    const price_book book(
        {price_table("2025-01 cut", jan_1_2025, {.input = 100'000, .output = 400'000}),
         price_table("launch", july_18_2024, {.input = 150'000, .output = 600'000})});
    REQUIRE(book.tables().size() == 2);
    CHECK(book.tables()[0].version() == "launch");
    CHECK(book.find(july_18_2024 - 1) == nullptr);          // before any table
    CHECK(book.find(july_18_2024)->version() == "launch");  // effective from its first nanosecond
    CHECK(book.find(jan_1_2025 - 1)->version() == "launch");
    CHECK(book.find(jan_1_2025)->version() == "2025-01 cut");
    CHECK(book.find(std::numeric_limits<std::int64_t>::max())->version() == "2025-01 cut");

    const usage u = usage::from_openai(1000, 0, 1000);
    CHECK(book.cost_nano_usd(u, july_18_2024 + ns_per_s) ==
          750'000);  // 1,000 x 150,000 + 1,000 x 600,000
    CHECK(book.cost_nano_usd(u, jan_1_2025 + ns_per_s) ==
          500'000);  // 1,000 x 100,000 + 1,000 x 400,000
    CHECK_FALSE(book.cost_nano_usd(u, 0).has_value());
    CHECK(price_book().find(0) == nullptr);
}

TEST_CASE("a price book refuses ambiguous histories", "[pricing]") {
    CHECK_THROWS_WITH(price_book({price_table("a", 5, {}), price_table("b", 5, {})}),
                      Catch::Contains("tables \"a\" and \"b\" share effective_from_ns = 5"));
    CHECK_THROWS_WITH(price_book({price_table("a", 5, {}), price_table("a", 6, {})}),
                      Catch::Contains("version \"a\" appears twice"));
}

TEST_CASE(
    "whatever the usage factories admit, the dearest table prices within the recorder's "
    "cost limit",
    "[pricing][limits]") {
    constexpr std::uint64_t p = canarygate::max_price_pico_usd_per_token;
    const price_table dearest(
        "dearest", 0,
        {.input = p, .cached_input = p, .cache_write = p, .output = p, .reasoning = p});
    // The largest x in [0, 2^40] the predicate admits (admitted sets are
    // intervals [0, limit]).
    const auto largest = [](const auto& admits) {
        std::uint64_t low = 0;
        std::uint64_t high = std::uint64_t{1} << 40;
        while (low < high) {
            const std::uint64_t mid = low + (high - low + 1) / 2;
            if (admits(mid)) {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        return low;
    };
    // Greedy: each field as large as the fields before it allow.
    const std::uint64_t prompt =
        largest([](std::uint64_t x) { return usage::try_from_openai(x, 0, 0).has_value(); });
    const std::uint64_t completion =
        largest([&](std::uint64_t x) { return usage::try_from_openai(prompt, 0, x).has_value(); });
    const usage openai = usage::from_openai(prompt, 0, completion, completion);
    CAPTURE(prompt, completion);
    CHECK(cost_nano_usd(dearest, openai) <= canarygate::recorder_traits::max_cost_nano_usd);

    const std::uint64_t input =
        largest([](std::uint64_t x) { return usage::try_from_anthropic(x, 0, 0, 0).has_value(); });
    const std::uint64_t read = largest(
        [&](std::uint64_t x) { return usage::try_from_anthropic(input, x, 0, 0).has_value(); });
    const std::uint64_t write = largest(
        [&](std::uint64_t x) { return usage::try_from_anthropic(input, read, x, 0).has_value(); });
    const std::uint64_t output = largest([&](std::uint64_t x) {
        return usage::try_from_anthropic(input, read, write, x).has_value();
    });
    const usage anthropic = usage::from_anthropic(input, read, write, output);
    CAPTURE(input, read, write, output);
    CHECK(cost_nano_usd(dearest, anthropic) <= canarygate::recorder_traits::max_cost_nano_usd);
    // And the token totals are within the recorder's limits too.
    CHECK(anthropic.input_tokens() <= canarygate::recorder_traits::max_tokens);
    CHECK(anthropic.output_tokens() <= canarygate::recorder_traits::max_tokens);
    CHECK(openai.input_tokens() <= canarygate::recorder_traits::max_tokens);
    CHECK(openai.output_tokens() <= canarygate::recorder_traits::max_tokens);
}

TEST_CASE("usage past the per-request token limits is refused, naming the field", "[pricing]") {
    CHECK_THROWS_WITH((void)usage::from_openai(10'000'001, 0, 1),
                      Catch::Contains("from_openai: prompt_tokens = 10000001 exceeds"));
    CHECK_THROWS_WITH((void)usage::from_openai(1, 0, 10'000'001),
                      Catch::Contains("from_openai: completion_tokens = 10000001 exceeds"));
    // Anthropic's three input counts are disjoint: their sum is the prompt.
    CHECK_THROWS_WITH(
        (void)usage::from_anthropic(4'000'000, 4'000'000, 2'000'001, 1),
        Catch::Contains("from_anthropic: input_tokens + cache_read_input_tokens + "
                        "cache_creation_input_tokens = 10000001 exceeds max_input_tokens"));
    CHECK_THROWS_WITH((void)usage::from_classes(0, 0, 0, 5'000'000, 5'000'001),
                      Catch::Contains("from_classes: output + reasoning = 10000001 exceeds "
                                      "max_output_tokens"));
    CHECK_THROWS_WITH((void)usage::from_classes(5'000'000, 5'000'000, 1, 0),
                      Catch::Contains("from_classes: uncached_input + cached_input + cache_write "
                                      "= 10000001 exceeds max_input_tokens"));
    CHECK_FALSE(usage::try_from_anthropic(10'000'000, 1, 0, 0).has_value());
    CHECK(usage::try_from_anthropic(4'000'000, 4'000'000, 2'000'000, 10'000'000).has_value());
    CHECK(usage::try_from_openai(10'000'000, 10'000'000, 10'000'000, 10'000'000).has_value());
}
