// SPDX-License-Identifier: MIT
// canarygate's router against the real peers, installed from npm (pinned in
// package.json / package-lock.json beside this file):
//
//   conformance flagd   <node> <dir>   100,000 generated keys (ASCII, UTF-8 from
//       every plane, ill-formed bytes) through @openfeature/flagd-core's
//       `fractional` and through the router, at several weight vectors and both
//       arm orders. flagd_javascript must agree on every key; utf8_bytes (flagd's
//       Go daemon) on every ASCII key, and its disagreement on the others is
//       reported.
//   conformance unleash <node> <dir>   every test case of the Unleash client
//       specification's gradual- and flexible-rollout files, read from its JSON:
//       the ones a one-key router covers must all agree, the others are listed
//       with the reason; then the same 100,000 keys against the Unleash Node
//       SDK's normalizedStrategyValue.
//
// <dir> holds the Node scripts and node_modules (the build tree). Exit status
// 0 only when everything in scope agrees.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "canarygate/core/mix.hpp"
#include "canarygate/rollout/router.hpp"

namespace {

using canarygate::bucketing;
using canarygate::key_hashing;
using canarygate::route_target;
using canarygate::router;

enum class key_class { ascii, utf8, ill_formed };

struct test_key {
    std::string bytes;
    key_class kind;
};

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | cp >> 6);
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | cp >> 12);
        out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | cp >> 18);
        out += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
        out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

bool is_ascii(std::string_view s) {
    for (const char c : s) {
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    }
    return true;
}

// Deterministic: 40 % UUID-like, 20 % printable ASCII of length 1..40, 38 %
// text with code points from Latin-1, the rest of the 2-byte range, the BMP
// (surrogates excluded) and the astral planes, 2 % random bytes (mostly
// ill-formed UTF-8), and the empty key first.
std::vector<test_key> generate_keys(std::size_t n) {
    std::vector<test_key> keys;
    keys.reserve(n);
    keys.push_back({"", key_class::ascii});
    std::uint64_t state = 20261202;
    const auto next = [&] { return canarygate::splitmix64_next(state); };
    const auto below = [&](std::uint64_t bound) { return next() % bound; };
    struct pool {
        std::uint32_t first, last;
    };
    const pool pools[] = {{0x20, 0x7E},    {0xA0, 0xFF},     {0x100, 0x7FF},
                          {0x800, 0xD7FF}, {0xE000, 0xFFFF}, {0x10000, 0x10FFFF}};
    for (std::size_t i = 1; i < n; ++i) {
        std::string k;
        const std::size_t kind = i % 50;
        if (kind < 20) {
            char text[40];
            const std::uint64_t a = next();
            const std::uint64_t b = next();
            std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx",
                          static_cast<unsigned>(a >> 32), static_cast<unsigned>(a >> 16 & 0xffff),
                          static_cast<unsigned>(a & 0xffff), static_cast<unsigned>(b >> 48),
                          static_cast<unsigned long long>(b & 0xffffffffffffULL));
            k = text;
        } else if (kind < 30) {
            const std::size_t len = 1 + below(40);
            for (std::size_t j = 0; j < len; ++j) k += static_cast<char>(0x20 + below(0x5F));
        } else if (kind < 49) {
            k = "u" + std::to_string(i);
            const std::size_t len = below(12);
            for (std::size_t j = 0; j < len; ++j) {
                const pool& p = pools[below(std::size(pools))];
                append_utf8(k, p.first + static_cast<std::uint32_t>(below(p.last - p.first + 1)));
            }
        } else {
            const std::size_t len = 1 + below(12);
            for (std::size_t j = 0; j < len; ++j) k += static_cast<char>(below(256));
        }
        key_class c = key_class::ascii;
        if (!is_ascii(k)) c = kind == 49 ? key_class::ill_formed : key_class::utf8;
        keys.push_back({std::move(k), c});
    }
    return keys;
}

std::string hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (const char c : bytes) {
        const auto b = static_cast<unsigned char>(c);
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

void write_keys(const std::string& path, const std::vector<test_key>& keys) {
    std::ofstream out(path, std::ios::binary);
    for (const auto& k : keys) out << hex(k.bytes) << '\n';
    if (!out) throw std::runtime_error("cannot write " + path);
}

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::string shell_quoted(const std::string& s) {
    if (s.find('\'') != std::string::npos)
        throw std::runtime_error("path with a single quote is not supported: " + s);
    return "'" + s + "'";
}

void run(const std::string& command) {
    std::cout << "$ " << command << std::endl;
    const int status = std::system(command.c_str());
    if (status != 0)
        throw std::runtime_error("command failed (status " + std::to_string(status) + ")");
}

const char* class_name(key_class c) {
    switch (c) {
        case key_class::ascii:
            return "ascii";
        case key_class::utf8:
            return "utf8";
        case key_class::ill_formed:
            return "ill-formed";
    }
    return "?";
}

struct tally {
    std::map<key_class, std::pair<std::uint64_t, std::uint64_t>> by_class;  // agreed, total
    void add(key_class c, bool agreed) {
        auto& [a, t] = by_class[c];
        a += agreed;
        ++t;
    }
    [[nodiscard]] std::uint64_t agreed(key_class c) const {
        const auto it = by_class.find(c);
        return it == by_class.end() ? 0 : it->second.first;
    }
    [[nodiscard]] std::uint64_t total(key_class c) const {
        const auto it = by_class.find(c);
        return it == by_class.end() ? 0 : it->second.second;
    }
    [[nodiscard]] std::string text() const {
        std::string s;
        std::uint64_t a = 0;
        std::uint64_t t = 0;
        for (const auto& [c, v] : by_class) {
            s += std::string(s.empty() ? "" : ", ") + class_name(c) + " " +
                 std::to_string(v.first) + "/" + std::to_string(v.second);
            a += v.first;
            t += v.second;
        }
        return "all " + std::to_string(a) + "/" + std::to_string(t) + " (" + s + ")";
    }
};

// Every key must agree in a JavaScript reading (the reference's own); in
// the UTF-8 reading, every ASCII key (the readings differ on the others by
// design). Prints what failed.
bool required_agreement(const tally& t, std::size_t keys, bool javascript, const char* reading) {
    const bool ok = javascript ? t.agreed(key_class::ascii) + t.agreed(key_class::utf8) +
                                         t.agreed(key_class::ill_formed) ==
                                     keys
                               : t.agreed(key_class::ascii) == t.total(key_class::ascii);
    if (!ok) {
        std::printf("    FAILED: %s must agree on %s\n", reading,
                    javascript ? "every key" : "every ASCII key");
    }
    return ok;
}

struct flagd_vector {
    std::string flag;
    std::uint32_t baseline;
    std::uint32_t candidate;
    canarygate::arm_order order;
};

int check_flagd(const std::string& node, const std::string& dir) {
    const std::vector<flagd_vector> vectors = {
        {"canary-rollout-0", 99, 1, canarygate::arm_order::baseline_first},
        {"canary-rollout-1", 90, 10, canarygate::arm_order::baseline_first},
        {"canary-rollout-2", 50, 50, canarygate::arm_order::baseline_first},
        {"canary-rollout-3", 25, 75, canarygate::arm_order::baseline_first},
        {"canary-rollout-4", 0, 100, canarygate::arm_order::baseline_first},
        {"canary-rollout-5", 100, 0, canarygate::arm_order::baseline_first},
        {"canary-rollout-6", 90, 10, canarygate::arm_order::candidate_first},
        {"shadow-and-canary", 666'667, 333'333, canarygate::arm_order::candidate_first},
        {"fine-grained", 2'097'150, 1, canarygate::arm_order::baseline_first},
        {"x", 1'048'576, 1'048'575, canarygate::arm_order::baseline_first},
    };
    nlohmann::json spec = nlohmann::json::array();
    for (const auto& v : vectors) {
        const nlohmann::json b = {"baseline", v.baseline};
        const nlohmann::json c = {"candidate", v.candidate};
        spec.push_back({{"flag", v.flag},
                        {"arms", v.order == canarygate::arm_order::baseline_first
                                     ? nlohmann::json::array({b, c})
                                     : nlohmann::json::array({c, b})}});
    }
    const std::string vectors_path = dir + "/flagd_vectors.json";
    std::ofstream(vectors_path) << spec.dump(2) << '\n';
    const auto keys = generate_keys(100'000);
    write_keys(dir + "/flagd_keys.hex", keys);
    run(shell_quoted(node) + " " + shell_quoted(dir + "/flagd_fractional.js") + " " +
        shell_quoted(vectors_path) + " " + shell_quoted(dir + "/flagd_keys.hex") + " " +
        shell_quoted(dir + "/flagd_assignments.txt"));
    const auto rows = read_lines(dir + "/flagd_assignments.txt");
    if (rows.size() != keys.size()) {
        std::cerr << "flagd-core returned " << rows.size() << " rows for " << keys.size()
                  << " keys\n";
        return 1;
    }
    bool ok = true;
    std::printf(
        "flagd fractional (@openfeature/flagd-core 4.0.1) vs canarygate::router, %zu keys:\n",
        keys.size());
    for (const auto hashing : {key_hashing::flagd_javascript, key_hashing::utf8_bytes}) {
        const bool js = hashing == key_hashing::flagd_javascript;
        tally total;
        for (std::size_t v = 0; v < vectors.size(); ++v) {
            const auto& vec = vectors[v];
            router r({.scheme = bucketing::flagd_fractional,
                      .flag_key = vec.flag,
                      .hashing = hashing,
                      .order = vec.order},
                     {.baseline = vec.baseline, .candidate = vec.candidate});
            tally t;
            for (std::size_t i = 0; i < keys.size(); ++i) {
                const char theirs = rows[i].at(v);
                const char ours =
                    r.route(keys[i].bytes).target == route_target::candidate ? '1' : '0';
                t.add(keys[i].kind, ours == theirs);
                total.add(keys[i].kind, ours == theirs);
            }
            std::printf("  %-17s %-16s [%u, %u] %s: %s\n", js ? "flagd_javascript" : "utf8_bytes",
                        vec.flag.c_str(), vec.baseline, vec.candidate,
                        vec.order == canarygate::arm_order::baseline_first ? "baseline first"
                                                                           : "candidate first",
                        t.text().c_str());
            ok = required_agreement(t, keys.size(), js, js ? "flagd_javascript" : "utf8_bytes") &&
                 ok;
        }
        std::printf("  %s over all vectors: %s\n", js ? "flagd_javascript" : "utf8_bytes",
                    total.text().c_str());
    }
    std::printf("%s\n", ok ? "flagd conformance: PASSED" : "flagd conformance: FAILED");
    return ok ? 0 : 1;
}

// --- Unleash ----------------------------------------------------------------

struct spec_case_result {
    std::string file;
    std::string description;
    bool in_scope = false;
    bool agreed = false;
    std::string reason;  // why out of scope, or what disagreed
};

// Judges one test case of the specification with the router, if a router
// keyed by one string covers it; returns why not otherwise.
spec_case_result judge_unleash_case(const std::string& file, const nlohmann::json& state,
                                    const nlohmann::json& test) {
    spec_case_result r{file, test.at("description").get<std::string>(), false, false, ""};
    const auto& name = test.at("toggleName");
    const nlohmann::json* feature = nullptr;
    for (const auto& f : state.at("features")) {
        if (f.at("name") == name) feature = &f;
    }
    if (feature == nullptr) {
        r.reason = "toggle not found";
        return r;
    }
    if (!feature->at("enabled").get<bool>()) {
        r.reason = "feature disabled: flag state, not bucketing";
        return r;
    }
    const auto& strategies = feature->at("strategies");
    if (strategies.size() != 1) {
        r.reason = std::to_string(strategies.size()) +
                   " strategies: an OR of strategies is flag evaluation, not bucketing";
        return r;
    }
    const auto& s = strategies[0];
    if ((s.contains("constraints") && !s["constraints"].empty()) ||
        (s.contains("segments") && !s["segments"].empty())) {
        r.reason = "constraints or segments: flag evaluation, not bucketing";
        return r;
    }
    const std::string kind = s.at("name").get<std::string>();
    const auto& params = s.at("parameters");
    const auto& context = test.at("context");
    const auto context_field = [&](const std::string& field) -> std::string {
        if (context.contains(field) && context[field].is_string())
            return context[field].get<std::string>();
        if (context.contains("properties") && context["properties"].contains(field))
            return context["properties"][field].get<std::string>();
        return "";
    };
    std::string key;
    std::string percentage;
    if (kind == "gradualRolloutUserId" || kind == "gradualRolloutSessionId") {
        key = context_field(kind == "gradualRolloutUserId" ? "userId" : "sessionId");
        percentage = params.at("percentage").get<std::string>();
    } else if (kind == "flexibleRollout") {
        const std::string stickiness = params.value("stickiness", std::string("default"));
        if (stickiness == "default") {
            key = context_field("userId");
            if (key.empty()) key = context_field("sessionId");
            if (key.empty()) {
                r.reason =
                    "default stickiness without userId or sessionId: Unleash hashes a random "
                    "number; the router sends a keyless request to the baseline";
                return r;
            }
        } else if (stickiness == "random") {
            r.reason = "random stickiness: not sticky";
            return r;
        } else {
            key = context_field(stickiness);
        }
        percentage = params.at("rollout").get<std::string>();
    } else {
        r.reason =
            "strategy '" + kind + "'" +
            (kind == "gradualRolloutRandom" ? ": a fresh random draw per call, not sticky" : "");
        return r;
    }
    const std::string group = params.value("groupId", std::string());
    const int rollout = std::stoi(percentage);
    r.in_scope = true;
    router router_for_case({.scheme = bucketing::unleash_rollout, .flag_key = group},
                           {.baseline = static_cast<std::uint32_t>(100 - rollout),
                            .candidate = static_cast<std::uint32_t>(rollout)});
    const bool ours = router_for_case.route(key).target == route_target::candidate;
    const bool expected = test.at("expectedResult").get<bool>();
    r.agreed = ours == expected;
    if (!r.agreed) {
        r.reason = "router says " + std::string(ours ? "enabled" : "disabled") + " for key '" +
                   key + "' at " + percentage + " % of group '" + group + "'";
    }
    return r;
}

int check_unleash(const std::string& node, const std::string& dir) {
    const std::string spec_dir =
        dir + "/node_modules/@unleash/client-specification/specifications/";
    const char* files[] = {"03-gradual-rollout-user-id-strategy.json",
                           "04-gradual-rollout-session-id-strategy.json",
                           "05-gradual-rollout-random-strategy.json",
                           "10-flexible-rollout-strategy.json", "12-custom-stickiness.json"};
    std::vector<spec_case_result> results;
    for (const char* file : files) {
        std::ifstream in(spec_dir + file);
        if (!in) throw std::runtime_error("cannot read " + spec_dir + file);
        const auto spec = nlohmann::json::parse(in);
        for (const auto& test : spec.at("tests"))
            results.push_back(judge_unleash_case(file, spec.at("state"), test));
        if (spec.contains("variantTests")) {
            for (const auto& test : spec["variantTests"]) {
                results.push_back({file, test.at("description").get<std::string>(), false, false,
                                   "variant test: which feature variant (payload) is served, not a "
                                   "rollout decision"});
            }
        }
    }
    std::size_t in_scope = 0;
    std::size_t agreed = 0;
    std::printf("Unleash client specification 6.1.0, gradual and flexible rollout files:\n");
    for (const auto& r : results) {
        in_scope += r.in_scope;
        agreed += r.in_scope && r.agreed;
        std::printf("  %-44s %-9s %s%s%s\n", r.file.c_str(),
                    !r.in_scope ? "out"
                    : r.agreed  ? "agreed"
                                : "DISAGREED",
                    r.description.c_str(), r.reason.empty() ? "" : " -- ", r.reason.c_str());
    }
    std::printf("  in scope %zu of %zu cases; agreed %zu/%zu\n", in_scope, results.size(), agreed,
                in_scope);
    // The files are pinned by package-lock.json: a classifier that drifted
    // into calling everything out of scope must not pass.
    bool ok = agreed == in_scope && in_scope == 24 && results.size() == 35;
    if (in_scope != 24 || results.size() != 35)
        std::printf("  FAILED: expected 24 in-scope cases of 35 in the pinned specification\n");

    // The Node SDK's normalizedStrategyValue on the generated keys.
    auto keys = generate_keys(100'000);
    keys.erase(keys.begin());  // keyless requests are judged by the spec cases above
    write_keys(dir + "/unleash_keys.hex", keys);
    const std::vector<std::string> groups = {"canary-rollout", "", "Feature.flexibleRollout.10"};
    std::string group_list;
    for (const auto& g : groups) group_list += (group_list.empty() ? "" : ",") + g;
    run(shell_quoted(node) + " " + shell_quoted(dir + "/unleash_normalized.js") + " " +
        shell_quoted(group_list) + " " + shell_quoted(dir + "/unleash_keys.hex") + " " +
        shell_quoted(dir + "/unleash_normalized.txt"));
    const auto rows = read_lines(dir + "/unleash_normalized.txt");
    if (rows.size() != keys.size()) {
        std::cerr << "unleash-client returned " << rows.size() << " rows for " << keys.size()
                  << " keys\n";
        return 1;
    }
    std::printf(
        "Unleash Node SDK 6.12.1 normalizedStrategyValue vs canarygate::router, %zu keys:\n",
        keys.size());
    for (const auto hashing : {key_hashing::unleash_javascript, key_hashing::utf8_bytes}) {
        const bool js = hashing == key_hashing::unleash_javascript;
        for (std::size_t g = 0; g < groups.size(); ++g) {
            router r(
                {.scheme = bucketing::unleash_rollout, .flag_key = groups[g], .hashing = hashing},
                {.baseline = 100, .candidate = 0});
            tally t;
            for (std::size_t i = 0; i < keys.size(); ++i) {
                std::istringstream row(rows[i]);
                std::uint32_t theirs = 0;
                for (std::size_t j = 0; j <= g; ++j) row >> theirs;
                const std::uint32_t h = r.hash(keys[i].bytes);
                const std::uint32_t ours = h % 100 + 1;
                // The decision rule itself: enabled at `ours` percent, not below.
                const bool rule =
                    r.bucket_target(h, 100 - ours, ours) == route_target::candidate &&
                    r.bucket_target(h, 101 - ours, ours - 1) == route_target::baseline;
                t.add(keys[i].kind, ours == theirs && rule);
            }
            std::printf("  %-18s group '%s': %s\n", js ? "unleash_javascript" : "utf8_bytes",
                        groups[g].c_str(), t.text().c_str());
            ok = required_agreement(t, keys.size(), js, js ? "unleash_javascript" : "utf8_bytes") &&
                 ok;
        }
    }
    std::printf("%s\n", ok ? "Unleash conformance: PASSED" : "Unleash conformance: FAILED");
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr
            << "usage: conformance flagd|unleash <node> <dir with node_modules and scripts>\n";
        return 2;
    }
    try {
        const std::string what = argv[1];
        if (what == "flagd") return check_flagd(argv[2], argv[3]);
        if (what == "unleash") return check_unleash(argv[2], argv[3]);
        std::cerr << "conformance: unknown check '" << what << "'\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "conformance: " << e.what() << '\n';
        return 1;
    }
}
