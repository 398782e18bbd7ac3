# heap_diff_catches_broken_coalesce: the differential test, linked with a
# best-fit policy built with VRAM_TEST_BREAK_COALESCE (freed blocks are never
# merged), must report the broken invariant through check(). The executable's
# own heap_bestfit object takes precedence over libvram's (a static archive
# member is pulled in only for symbols still undefined).
add_executable(test_heap_diff_broken ${CMAKE_CURRENT_SOURCE_DIR}/test_heap_diff.c
               ${PROJECT_SOURCE_DIR}/alloc/heap_bestfit.c)
target_include_directories(test_heap_diff_broken PRIVATE ${CMAKE_CURRENT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/sim/replay
                           ${PROJECT_SOURCE_DIR}/alloc)
target_link_libraries(test_heap_diff_broken PRIVATE vram vram_build_flags)
target_compile_definitions(test_heap_diff_broken PRIVATE VRAM_TEST_BREAK_COALESCE)
add_test(NAME heap_diff_catches_broken_coalesce COMMAND test_heap_diff_broken)
set_tests_properties(heap_diff_catches_broken_coalesce PROPERTIES
  ENVIRONMENT "VRAM_DIFF_OPS=5000"
  PASS_REGULAR_EXPRESSION "FAILED: bestfit, op [0-9]+ [^\n]*check\\(\\): free blocks at [0-9]+ and [0-9]+ should have coalesced"
  TIMEOUT 120)
