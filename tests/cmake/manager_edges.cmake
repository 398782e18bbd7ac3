# manager_edges also creates a manager on the cuda backend over the fake CUDA
# driver (tests/cmake/fake_cuda.cmake builds it) to fail its cuMemGetInfo.
# Without cuda.h that case is left out and the rest runs as usual.
if(CUDAToolkit_FOUND AND TARGET test_manager_edges AND TARGET fake_cuda)
  add_dependencies(test_manager_edges fake_cuda)
  target_compile_definitions(test_manager_edges PRIVATE VRAM_FAKE_CUDA="$<TARGET_FILE:fake_cuda>")
  target_link_libraries(test_manager_edges PRIVATE ${CMAKE_DL_LIBS})
endif()
# Every malloc/calloc/realloc of the test and of libvram goes through the
# test's countdown (GNU ld / lld --wrap), as in host_faults.cmake.
if(TARGET test_manager_edges)
  target_link_options(test_manager_edges PRIVATE
    -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc)
endif()
