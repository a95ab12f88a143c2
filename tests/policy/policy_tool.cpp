// SPDX-License-Identifier: MIT
// Test-only checker of policy files (integration/json_policy.hpp), driven by
// tests/policy/policy.cmake; the `canarygate` CLI in tools/ is the user's
// tool. Only the header's public API is used.
//
//   policy_tool canonical FILE             the canonical text of the policy
//                                          document FILE
//   policy_tool flag FILE KEY [VARIANT]    the canonical text of flag KEY's
//                                          variant VARIANT (default: the
//                                          defaultVariant) of flagd flag file FILE
//
// Exit status 0 with the canonical text on stdout; 1 with the policy_error's
// what() ("policy.gates[2].multiplier: must be ...") on stderr when the
// document is invalid; 2 for a usage or I/O error.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>

#include "canarygate/integration/json_policy.hpp"

namespace {

int usage() {
    std::cerr << "usage: policy_tool canonical FILE\n"
                 "       policy_tool flag FILE KEY [VARIANT]\n";
    return 2;
}

bool read_file(const char* path, std::string& text) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
    return !in.bad();
}

int print(const std::string& text) {
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
        std::fflush(stdout) != 0) {
        std::cerr << "policy_tool: cannot write the output\n";
        return 2;
    }
    return 0;
}

int run(int argc, char** argv) {
    if (argc < 3) return usage();
    const std::string_view command = argv[1];
    std::string text;
    if (!read_file(argv[2], text)) {
        std::cerr << "policy_tool: cannot read " << argv[2] << "\n";
        return 2;
    }
    if (command == "canonical" && argc == 3) {
        return print(canarygate::policy_text(canarygate::parse_policy(text)));
    }
    if (command == "flag" && (argc == 4 || argc == 5)) {
        const canarygate::policy_flag flag = canarygate::parse_policy_flag(text, argv[3]);
        if (argc == 4) return print(canarygate::policy_text(flag.selected()));
        const auto variant = flag.variants.find(std::string_view(argv[4]));
        if (variant == flag.variants.end()) {
            std::cerr << "policy_tool: flag " << argv[3] << " has no variant " << argv[4] << "\n";
            return 2;
        }
        return print(canarygate::policy_text(variant->second));
    }
    return usage();
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const canarygate::policy_error& e) {
        std::cerr << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        // Not a policy_error: the reader let something through that the
        // writer's validate() refuses, or worse. The checks treat it as a
        // failure of the reader (exit status 3, never 1).
        std::cerr << "policy_tool: unexpected " << e.what() << "\n";
        return 3;
    }
}
