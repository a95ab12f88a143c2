# SPDX-License-Identifier: MIT
#
# The fuzz targets, replayed. Fuzzing itself is scripts/fuzz's job
# (clang++-14 + libFuzzer, fuzz/). Here every preset's compiler and sanitizers
# build the same targets with a replay main() and run them over the seed
# corpus (written by make_seeds from the codec fixtures) and over the
# committed regression inputs, if any. Included by tests/CMakeLists.txt.
set(canarygate_fuzz_dir "${PROJECT_SOURCE_DIR}/fuzz")
add_executable(fuzz_make_seeds "${canarygate_fuzz_dir}/make_seeds.cpp")
target_include_directories(fuzz_make_seeds PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}")
target_link_libraries(fuzz_make_seeds PRIVATE canarygate::json)
add_test(NAME fuzz_make_seeds COMMAND fuzz_make_seeds "${CMAKE_CURRENT_BINARY_DIR}/fuzz_seeds")
set_tests_properties(fuzz_make_seeds PROPERTIES LABELS unit FIXTURES_SETUP canarygate_fuzz_seeds)

foreach(target IN ITEMS fuzz_decode_binary fuzz_decode_json)
    add_executable(${target}_replay "${canarygate_fuzz_dir}/${target}.cpp" "${canarygate_fuzz_dir}/replay_main.cpp")
    target_link_libraries(${target}_replay PRIVATE canarygate::json)
    set(inputs "${CMAKE_CURRENT_BINARY_DIR}/fuzz_seeds/${target}")
    if(EXISTS "${canarygate_fuzz_dir}/regressions/${target}")
        list(APPEND inputs "${canarygate_fuzz_dir}/regressions/${target}")
    endif()
    add_test(NAME ${target}_replay COMMAND ${target}_replay ${inputs})
    set_tests_properties(${target}_replay PROPERTIES LABELS unit FIXTURES_REQUIRED canarygate_fuzz_seeds)
endforeach()
