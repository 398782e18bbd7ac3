# The fake CUDA driver (tests/fake_cuda/fake_libcuda.c, host memory with
# injectable failures) and the device_cuda test that loads it through
# VRAM_CUDA_DRIVER. Without cuda.h the test reports itself skipped (exit 77).
if(TARGET test_device_cuda)
  set_tests_properties(device_cuda PROPERTIES SKIP_RETURN_CODE 77)
endif()
if(CUDAToolkit_FOUND AND TARGET test_device_cuda)
  add_library(fake_cuda SHARED ${CMAKE_CURRENT_SOURCE_DIR}/fake_cuda/fake_libcuda.c)
  target_include_directories(fake_cuda SYSTEM PRIVATE ${CUDAToolkit_INCLUDE_DIRS})
  target_link_libraries(fake_cuda PRIVATE vram_build_flags)
  set_target_properties(fake_cuda PROPERTIES OUTPUT_NAME fake_libcuda)
  add_dependencies(test_device_cuda fake_cuda)
  target_compile_definitions(test_device_cuda PRIVATE VRAM_FAKE_CUDA="$<TARGET_FILE:fake_cuda>")
  target_link_libraries(test_device_cuda PRIVATE ${CMAKE_DL_LIBS})
endif()
