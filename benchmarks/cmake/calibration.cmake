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
