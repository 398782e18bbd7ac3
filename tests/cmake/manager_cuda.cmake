# The manager on the cuda backend, over the fake CUDA driver (tests/cmake/fake_cuda.cmake
# builds it): host copies through the pinned host pool, device copies for real.
# Without cuda.h the test reports itself skipped (exit 77).
if(TARGET test_manager_cuda)
  set_tests_properties(manager_cuda PROPERTIES SKIP_RETURN_CODE 77)
endif()
if(CUDAToolkit_FOUND AND TARGET test_manager_cuda AND TARGET fake_cuda)
  add_dependencies(test_manager_cuda fake_cuda)
  target_compile_definitions(test_manager_cuda PRIVATE VRAM_FAKE_CUDA="$<TARGET_FILE:fake_cuda>")
endif()
