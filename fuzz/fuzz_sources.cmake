# The fuzz targets and the engines they share, for the libFuzzer build
# (fuzz/CMakeLists.txt) and the plain regression driver (tests/cmake/fuzz_regressions.cmake).
file(GLOB VRAM_FUZZ_TARGETS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/fuzz_*.c)
set(VRAM_FUZZ_SUPPORT_SOURCES ${CMAKE_CURRENT_LIST_DIR}/heap_fuzz.c)
