// SPDX-License-Identifier: MIT
// A main() for the fuzz targets without libFuzzer: runs
// LLVMFuzzerTestOneInput on every file named on the command line (a
// directory stands for the regular files in it, in name order). Lets any
// compiler and sanitizer replay the seeds and the regression inputs in CTest.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
    std::vector<std::filesystem::path> files;
    for (int i = 1; i < argc; ++i) {
        const std::filesystem::path path(argv[i]);
        if (std::filesystem::is_directory(path)) {
            std::vector<std::filesystem::path> in_directory;
            for (const auto& entry : std::filesystem::directory_iterator(path)) {
                if (entry.is_regular_file()) in_directory.push_back(entry.path());
            }
            std::sort(in_directory.begin(), in_directory.end());
            files.insert(files.end(), in_directory.begin(), in_directory.end());
        } else {
            files.push_back(path);
        }
    }
    if (files.empty()) {
        std::fprintf(stderr, "usage: %s <file or directory>... (no input files found)\n", argv[0]);
        return 2;
    }
    for (const auto& file : files) {
        std::ifstream in(file, std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "cannot read %s\n", file.c_str());
            return 2;
        }
        const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                      std::istreambuf_iterator<char>());
        // A fresh copy of exactly the file's size, so ASan sees reads past the end.
        std::vector<std::uint8_t> input(bytes.begin(), bytes.end());
        LLVMFuzzerTestOneInput(input.data(), input.size());
    }
    std::printf("replayed %zu input(s)\n", files.size());
    return 0;
}
