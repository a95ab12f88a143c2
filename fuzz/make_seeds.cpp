// SPDX-License-Identifier: MIT
// Writes the seed corpus of the fuzz targets:
//   make_seeds <dir>   ->  <dir>/fuzz_decode_binary/*.bin, <dir>/fuzz_decode_json/*.json
// The seeds are the test fixtures (tests/support/codec_fixtures.hpp) and a
// few small snapshots, so they follow the format whenever it changes. Each
// binary seed is written in the current format version (<name>.bin) and in
// version 1 (<name>.v1.bin: the same body with version byte 1 and no CRC-32C
// trailer), the oldest version decode still reads.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "canarygate/integration/json.hpp"
#include "canarygate/window/codec.hpp"
#include "support/codec_fixtures.hpp"

namespace {

std::vector<std::pair<std::string, canarygate::snapshot>> seed_snapshots() {
    using canarygate::exp_histogram;
    std::vector<std::pair<std::string, canarygate::snapshot>> seeds;
    seeds.emplace_back("empty", canarygate::snapshot{});

    seeds.emplace_back("small", codec_fixtures::small_snapshot());

    canarygate::snapshot arms(0, 60'000'000'000);
    for (int i = 0; i < 6; ++i) {
        auto& a = arms.arm(i % 2 == 0 ? "baseline" : "candidate", "v" + std::to_string(i));
        a.add_counter("requests", static_cast<std::uint64_t>(10 * i));
        exp_histogram tokens(canarygate::tokens_layout);
        tokens.record(static_cast<std::uint64_t>(100 + i), static_cast<std::uint64_t>(i + 1));
        tokens.record(std::uint64_t{0});
        tokens.record(-1.0);
        a.add_histogram("output_tokens", tokens);
    }
    seeds.emplace_back("arms", arms);

    seeds.emplace_back("latency_window", codec_fixtures::typical_window(1, true));
    seeds.emplace_back("full_window", codec_fixtures::typical_window(2));
    canarygate::snapshot merged;
    merged.merge(codec_fixtures::typical_window(3, true))
        .merge(codec_fixtures::typical_window(4, true));
    seeds.emplace_back("merged", merged);
    return seeds;
}

void write(const std::filesystem::path& path, const void* data, std::size_t size) {
    std::ofstream out(path, std::ios::binary);
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

static_assert(canarygate::snapshot_format_version == 2 &&
                  canarygate::oldest_snapshot_format_version == 1,
              "make_seeds writes versions 2 and 1: add the new version's seeds");

// Writes <dir>/<name>.bin (version 2) and <dir>/<name>.v1.bin; returns 2.
std::size_t write_binary(const std::filesystem::path& dir, const std::string& name,
                         const canarygate::snapshot& s) {
    std::vector<std::uint8_t> bytes = canarygate::encode(s);
    write(dir / (name + ".bin"), bytes.data(), bytes.size());
    bytes[4] = 1;                    // version byte
    bytes.resize(bytes.size() - 4);  // CRC-32C trailer
    write(dir / (name + ".v1.bin"), bytes.data(), bytes.size());
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <output directory>\n", argv[0]);
        return 2;
    }
    const std::filesystem::path root(argv[1]);
    const auto binary_dir = root / "fuzz_decode_binary";
    const auto json_dir = root / "fuzz_decode_json";
    std::filesystem::create_directories(binary_dir);
    std::filesystem::create_directories(json_dir);

    auto seeds = seed_snapshots();
    std::size_t files = 0;
    for (const auto& [name, s] : seeds) {
        files += write_binary(binary_dir, name, s);
        const std::string text = nlohmann::json(s).dump();
        write(json_dir / (name + ".json"), text.data(), text.size());
        ++files;
    }
    // Corners: non-UTF-8 names only in binary; JSON also pretty-printed.
    files += write_binary(binary_dir, "corner", codec_fixtures::corner_snapshot());
    const std::string corner_json = nlohmann::json(codec_fixtures::corner_snapshot(false)).dump(1);
    write(json_dir / "corner.json", corner_json.data(), corner_json.size());
    ++files;
    std::printf("wrote %zu seeds to %s\n", files, root.c_str());
    return 0;
}
