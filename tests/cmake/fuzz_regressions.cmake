# The fuzz targets without libFuzzer: each fuzz/fuzz_NAME.c with the plain
# driver (fuzz/driver_main.c) is an executable fuzz/fuzz_NAME of this build, and
# ctest fuzz_regressions_NAME feeds it every file of fuzz/regressions/NAME/ (the
# fixed crashes) and fuzz/corpus/NAME/ (the seeds). A violation traps, so a
# regression fails the test. fuzz/to-trace runs these executables.
include(${PROJECT_SOURCE_DIR}/fuzz/fuzz_sources.cmake)
add_library(vram_fuzz_plain STATIC ${VRAM_FUZZ_SUPPORT_SOURCES})
target_include_directories(vram_fuzz_plain PUBLIC ${PROJECT_SOURCE_DIR}/fuzz ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(vram_fuzz_plain PUBLIC vramsim vram PRIVATE vram_build_flags)
foreach(target_src ${VRAM_FUZZ_TARGETS})
  get_filename_component(name ${target_src} NAME_WE)
  add_executable(plain_${name} ${target_src} ${PROJECT_SOURCE_DIR}/fuzz/driver_main.c)
  target_link_libraries(plain_${name} PRIVATE vram_fuzz_plain vram_build_flags)
  set_target_properties(plain_${name} PROPERTIES OUTPUT_NAME ${name}
                        RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  string(REGEX REPLACE "^fuzz_" "" short ${name})
  add_test(NAME fuzz_regressions_${short}
           COMMAND plain_${name} ${PROJECT_SOURCE_DIR}/fuzz/regressions/${name}
                   ${PROJECT_SOURCE_DIR}/fuzz/corpus/${name})
  set_tests_properties(fuzz_regressions_${short} PROPERTIES TIMEOUT 120)
endforeach()
