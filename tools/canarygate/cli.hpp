// SPDX-License-Identifier: MIT
// The `canarygate` command-line tool: what its commands share (exit codes,
// input errors, reading files, snapshots and policies).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <canarygate/integration/json_policy.hpp>
#include <canarygate/window/snapshot.hpp>

namespace canarygate_cli {

/// The exit codes, documented in README.md ("The command-line tool").
enum exit_code : int {
    exit_pass = 0,       ///< judge: pass; every other command: success
    exit_fail = 1,       ///< judge: fail (roll back); plan --check: a refuted prediction
    exit_continue = 2,   ///< judge: keep going, no regression detected, or an invalid split
    exit_bad_input = 3,  ///< a file missing, unreadable, corrupt or invalid
    exit_usage = 4,      ///< the command line itself is wrong
    exit_internal = 5,   ///< a bug: please report it
};

/// Bad input: one line naming the file and what is wrong in it (exit 3).
class input_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// The whole file, or input_error naming it.
[[nodiscard]] std::string read_file(const std::string& path);
/// Writes the whole file ("-": standard output), or input_error naming it.
void write_file(const std::string& path, const std::string& bytes);

/// A snapshot file, binary or JSON (told apart by the binary magic "CGSN").
[[nodiscard]] canarygate::snapshot read_snapshot(const std::string& path);
/// Snapshot files merged exactly, in the given order.
[[nodiscard]] canarygate::snapshot read_snapshots(const std::vector<std::string>& paths);

/// A policy file: a policy document, or with `flag_key` a flagd flag file
/// (its default variant). A flag file without --flag is an error that names
/// its flags.
[[nodiscard]] canarygate::rollout_policy read_policy(const std::string& path,
                                                     const std::string& flag_key);

/// The subcommands, each registering itself on `app` and returning the
/// function that runs it after parsing.
using command = std::function<int()>;
command add_judge(CLI::App& app);
command add_merge(CLI::App& app);
command add_inspect(CLI::App& app);
command add_validate(CLI::App& app);
command add_plan(CLI::App& app);
command add_simulate(CLI::App& app);
command add_replay(CLI::App& app);
command add_calibrate(CLI::App& app);

}  // namespace canarygate_cli
