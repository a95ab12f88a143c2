# SPDX-License-Identifier: MIT
#
# Request-path cost of attribution_map::writer::remember() against a plain
# thread-local store and a mutex-protected std::unordered_map, same run.
canarygate_add_benchmark(bench_attribution)
