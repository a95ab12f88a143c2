# SPDX-License-Identifier: MIT
#
# Recorder hot path and collector tick, with same-run floors and peers
# (shared atomic arm, mutex, Boost.Histogram with thread_safe counters,
# Boost.Accumulators extended P^2, and prometheus-cpp when found).
canarygate_add_benchmark(bench_recorder)
find_package(Threads REQUIRED)

# The same source compiled into a shared object: record() through the
# thread_local of a -fPIC library (__tls_get_addr), benchmarked against the
# same call from the executable.
add_library(canarygate_bench_recorder_dso SHARED bench_recorder.cpp)
target_compile_definitions(canarygate_bench_recorder_dso PRIVATE CANARYGATE_BENCH_RECORDER_DSO=1)
target_link_libraries(canarygate_bench_recorder_dso PRIVATE canarygate::canarygate)
target_link_libraries(canarygate_bench_recorder PRIVATE canarygate_bench_recorder_dso Threads::Threads)

# prometheus-cpp is a peer only: Debian 12's prometheus-cpp-dev 1.0.1.
find_package(prometheus-cpp CONFIG QUIET)
if(TARGET prometheus-cpp::core)
    target_link_libraries(canarygate_bench_recorder PRIVATE prometheus-cpp::core)
    target_compile_definitions(canarygate_bench_recorder PRIVATE CANARYGATE_BENCH_PROMETHEUS_CPP=1)
endif()
