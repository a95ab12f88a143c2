// SPDX-License-Identifier: MIT
// The `canarygate` command-line tool: what its commands share (exit codes,
// input errors, reading files, snapshots and policies).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <canarygate/integration/json_policy.hpp>
#include <canarygate/window/snapshot.hpp>

namespace canarygate_cli {

/// The exit codes, documented in README.md ("Policy files and the
/// command-line tool").
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

/// The largest input file read (a policy, a snapshot, a request log).
inline constexpr std::uintmax_t max_input_bytes = std::uintmax_t{1} << 30;

/// The whole file, or input_error naming it (a directory or device refused).
[[nodiscard]] std::string read_file(const std::string& path);
/// Writes the whole file ("-": standard output), or input_error naming it.
void write_file(const std::string& path, const std::string& bytes);

/// input_error now, before any work, if `path` ("-": standard output) could
/// not be written later. Creates the file if missing; changes nothing else.
void check_writable(const std::string& path);

/// A snapshot file, binary or JSON (told apart by the binary magic "CGSN").
[[nodiscard]] canarygate::snapshot read_snapshot(const std::string& path);
/// Snapshot files merged exactly, in the given order.
[[nodiscard]] canarygate::snapshot read_snapshots(const std::vector<std::string>& paths);

/// input_error for a flagd flag file read without --flag (naming its use).
void refuse_flag_file_without_key(const std::string& path, const std::string& text,
                                  const std::string& flag_key);

/// `j` as text; input_error naming `what` when a name in it is not UTF-8.
[[nodiscard]] std::string json_text(const nlohmann::json& j, int indent, const std::string& what);

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
