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

# fuzz_catches_broken_coalesce: the bestfit target over a best-fit policy built
# with VRAM_TEST_BREAK_COALESCE (freed blocks never merge) must trap with
# check()'s message on the regression that frees a block beside free space.
# The executable's own heap_bestfit object takes precedence over libvram's.
add_executable(plain_fuzz_heap_bestfit_broken ${PROJECT_SOURCE_DIR}/fuzz/fuzz_heap_bestfit.c
               ${PROJECT_SOURCE_DIR}/fuzz/driver_main.c ${PROJECT_SOURCE_DIR}/alloc/heap_bestfit.c)
target_include_directories(plain_fuzz_heap_bestfit_broken PRIVATE ${PROJECT_SOURCE_DIR}/alloc)
target_link_libraries(plain_fuzz_heap_bestfit_broken PRIVATE vram_fuzz_plain vram_build_flags)
target_compile_definitions(plain_fuzz_heap_bestfit_broken PRIVATE VRAM_TEST_BREAK_COALESCE)
# The trap would fail the test whatever its output, so a shell runs it and the
# message alone decides.
add_test(NAME fuzz_catches_broken_coalesce
         COMMAND sh -c "\"$0\" \"$1\" 2>&1; exit 0" $<TARGET_FILE:plain_fuzz_heap_bestfit_broken>
                 ${PROJECT_SOURCE_DIR}/fuzz/regressions/fuzz_heap_bestfit/free-neighbours-coalesce)
set_tests_properties(fuzz_catches_broken_coalesce PROPERTIES
  PASS_REGULAR_EXPRESSION "fuzz: fuzz_heap_bestfit: bestfit: op [0-9]+: check\\(\\): free blocks at [0-9]+ and [0-9]+ should have coalesced")
