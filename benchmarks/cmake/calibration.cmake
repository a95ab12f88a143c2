# SPDX-License-Identifier: MIT
#
# The calibration benchmark (reference/statistics.md, "Evaluation protocol"):
# a plain program, not Google Benchmark. It writes calibration.md and
# calibration.csv into the directory given with --out. CTest smoke-runs it
# with tiny settings (label `benchmark`); the committed full run is in
# benchmarks/results/ (command line in benchmarks/results/run.txt).
find_package(Threads REQUIRED)
# Command lines of the simulation benchmarks (simulation_support.hpp):
# Debian's libcli11-dev, installed by scripts/install-deps.
find_package(CLI11 CONFIG REQUIRED)
add_executable(canarygate_calibration calibration.cpp)
target_link_libraries(canarygate_calibration PRIVATE canarygate::canarygate CLI11::CLI11 Threads::Threads)
add_test(NAME calibration_smoke
    COMMAND canarygate_calibration --smoke --threads 1 --out "${CMAKE_CURRENT_BINARY_DIR}/calibration_smoke")
set_tests_properties(calibration_smoke PROPERTIES LABELS benchmark)

# Per-request evidence versus batch mode under candidate-only window noise
# (writes batch_mode.md and batch_mode.csv; committed run in benchmarks/results/).
add_executable(canarygate_batch_calibration batch_calibration.cpp)
target_link_libraries(canarygate_batch_calibration PRIVATE canarygate::canarygate CLI11::CLI11 Threads::Threads)
add_test(NAME batch_calibration_smoke
    COMMAND canarygate_batch_calibration --smoke --threads 1 --out "${CMAKE_CURRENT_BINARY_DIR}/batch_calibration_smoke")
set_tests_properties(batch_calibration_smoke PROPERTIES LABELS benchmark)

# The rate gates' false-alarm rate at the boundary with enough runs to certify
# it (writes rate_certification.md and .csv; committed run in benchmarks/results/).
add_executable(canarygate_rate_certification rate_certification.cpp)
target_link_libraries(canarygate_rate_certification PRIVATE canarygate::canarygate CLI11::CLI11 Threads::Threads)
add_test(NAME rate_certification_smoke
    COMMAND canarygate_rate_certification --smoke --threads 1 --out "${CMAKE_CURRENT_BINARY_DIR}/rate_certification_smoke")
set_tests_properties(rate_certification_smoke PROPERTIES LABELS benchmark)

# Bad command lines are rejected with a message naming the option and value
# (simulation_support.hpp); the regular expressions are the whole check.
add_test(NAME simulation_cli_rejects_negative_runs
    COMMAND canarygate_rate_certification --runs -5 --out "${CMAKE_CURRENT_BINARY_DIR}/never_written")
set_tests_properties(simulation_cli_rejects_negative_runs PROPERTIES LABELS benchmark
    PASS_REGULAR_EXPRESSION "--runs: must be a whole number in \\[1, 1000000000\\], got '-5'")
add_test(NAME simulation_cli_rejects_bad_rpm
    COMMAND canarygate_calibration --rpm nan --out "${CMAKE_CURRENT_BINARY_DIR}/never_written")
set_tests_properties(simulation_cli_rejects_bad_rpm PROPERTIES LABELS benchmark
    PASS_REGULAR_EXPRESSION "--rpm: must be a finite number > 0, got 'nan'")
