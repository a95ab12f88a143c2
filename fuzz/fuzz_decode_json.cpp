// SPDX-License-Identifier: MIT
// libFuzzer target: canarygate::parse_snapshot on arbitrary text.
//
// Anything may be rejected with decode_error; whatever parses must be a
// valid snapshot that survives JSON -> snapshot -> JSON unchanged (the
// writer is deterministic) and the binary codec exactly (a snapshot read
// from JSON is one the binary format can carry). Any other exception, a
// sanitizer report or an abort is a crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "canarygate/integration/json.hpp"
#include "canarygate/window/codec.hpp"

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_decode_json: %s\n", what);
    std::abort();
}

constexpr canarygate::decode_limits limits{std::size_t{1} << 16};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    canarygate::snapshot s;
    try {
        s = canarygate::parse_snapshot(text, limits);
    } catch (const canarygate::decode_error&) {
        return 0;
    }
    const std::string written = nlohmann::json(s).dump();
    const canarygate::snapshot back = canarygate::parse_snapshot(written, limits);
    if (!(back == s)) fail("parse_snapshot(dump(s)) != s");
    if (nlohmann::json(back).dump() != written) fail("JSON writer is not deterministic");
    if (!(canarygate::decode(canarygate::encode(s), limits) == s))
        fail("binary round trip of a JSON snapshot");
    return 0;
}
