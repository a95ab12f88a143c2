# SPDX-License-Identifier: MIT
#
# Snapshot serialisation: the binary codec (include/canarygate/codec.hpp) and
# the optional JSON integration (include/canarygate/json.hpp, nlohmann-json).
# Round trips, the canonical encoding, rejection of every truncation and
# single-byte corruption, specific defects by message and offset, JSON
# documents by JSON Pointer. The size of a typical window is printed by the
# tests tagged [size] (run the binaries directly to see it).

canarygate_add_test(test_codec_roundtrip)
canarygate_add_test(test_codec_rejection)

# Debian 12: nlohmann-json3-dev 3.11.2 (header <nlohmann/json.hpp> in
# /usr/include, CMake package nlohmann_json).
find_package(nlohmann_json 3.11 REQUIRED)
canarygate_add_test(test_json_snapshot)
target_link_libraries(test_json_snapshot PRIVATE nlohmann_json::nlohmann_json)

# --- The fuzz targets, replayed -------------------------------------------------
# Fuzzing itself is scripts/fuzz's job (clang++-14 + libFuzzer, fuzz/). Here
# every preset's compiler and sanitizers build the same targets with a replay
# main() and run them over the seed corpus (written by make_seeds from the
# fixtures above) and over the committed regression inputs, if any.
set(canarygate_fuzz_dir "${PROJECT_SOURCE_DIR}/fuzz")
add_executable(fuzz_make_seeds "${canarygate_fuzz_dir}/make_seeds.cpp")
target_include_directories(fuzz_make_seeds PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}")
target_link_libraries(fuzz_make_seeds PRIVATE canarygate::canarygate nlohmann_json::nlohmann_json)
add_test(NAME fuzz_make_seeds COMMAND fuzz_make_seeds "${CMAKE_CURRENT_BINARY_DIR}/fuzz_seeds")
set_tests_properties(fuzz_make_seeds PROPERTIES LABELS unit FIXTURES_SETUP canarygate_fuzz_seeds)

foreach(target IN ITEMS fuzz_decode_binary fuzz_decode_json)
    add_executable(${target}_replay "${canarygate_fuzz_dir}/${target}.cpp"
                                    "${canarygate_fuzz_dir}/replay_main.cpp")
    target_link_libraries(${target}_replay PRIVATE canarygate::canarygate nlohmann_json::nlohmann_json)
    set(inputs "${CMAKE_CURRENT_BINARY_DIR}/fuzz_seeds/${target}")
    if(EXISTS "${canarygate_fuzz_dir}/regressions/${target}")
        list(APPEND inputs "${canarygate_fuzz_dir}/regressions/${target}")
    endif()
    add_test(NAME ${target}_replay COMMAND ${target}_replay ${inputs})
    set_tests_properties(${target}_replay PROPERTIES
        LABELS unit FIXTURES_REQUIRED canarygate_fuzz_seeds)
endforeach()
