# SPDX-License-Identifier: MIT
#
# Snapshot serialisation: binary encode / decode, merge and JSON dump / parse
# of a typical and a busy 5-minute window, as ratios to memcpy of the encoded
# bytes and to a snapshot copy measured in the same run.
canarygate_add_benchmark(bench_codec)
find_package(nlohmann_json 3.11 REQUIRED)
# The workloads are the test fixtures (tests/test_codec_fixtures.hpp).
target_include_directories(canarygate_bench_codec PRIVATE "${PROJECT_SOURCE_DIR}/tests")
target_link_libraries(canarygate_bench_codec PRIVATE nlohmann_json::nlohmann_json)
