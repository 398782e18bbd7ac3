# The fake CUDA driver (tests/fake_cuda/fake_libcuda.c, host memory with
# injectable failures) and the device_cuda tests that load it through
# VRAM_CUDA_DRIVER. Without cuda.h the tests report themselves skipped (exit 77).
foreach(t device_cuda device_cuda_errors)
  if(TARGET test_${t})
    set_tests_properties(${t} PROPERTIES SKIP_RETURN_CODE 77)
  endif()
endforeach()
if(CUDAToolkit_FOUND AND TARGET test_device_cuda)
  add_library(fake_cuda SHARED ${CMAKE_CURRENT_SOURCE_DIR}/fake_cuda/fake_libcuda.c)
  target_include_directories(fake_cuda SYSTEM PRIVATE ${CUDAToolkit_INCLUDE_DIRS})
  target_link_libraries(fake_cuda PRIVATE vram_build_flags)
  set_target_properties(fake_cuda PROPERTIES OUTPUT_NAME fake_libcuda)
  add_dependencies(test_device_cuda fake_cuda)
  target_compile_definitions(test_device_cuda PRIVATE VRAM_FAKE_CUDA="$<TARGET_FILE:fake_cuda>")
  target_link_libraries(test_device_cuda PRIVATE ${CMAKE_DL_LIBS})
endif()
# Variants of the fake lacking symbols: the optional entry points and one of
# the VMM API (fake_cuda_minimal), cuMemFreeHost alone (fake_cuda_nofreehost),
# a required one (fake_cuda_nodtod).
if(CUDAToolkit_FOUND AND TARGET test_device_cuda_errors AND TARGET fake_cuda)
  set(fake_omit_minimal cuGetErrorString cuDevicePrimaryCtxRelease cuMemHostAlloc cuMemMap)
  set(fake_omit_nofreehost cuMemFreeHost)
  set(fake_omit_nodtod cuMemcpyDtoD)
  foreach(variant minimal nofreehost nodtod)
    add_library(fake_cuda_${variant} SHARED ${CMAKE_CURRENT_SOURCE_DIR}/fake_cuda/fake_libcuda.c)
    target_include_directories(fake_cuda_${variant} SYSTEM PRIVATE ${CUDAToolkit_INCLUDE_DIRS})
    target_link_libraries(fake_cuda_${variant} PRIVATE vram_build_flags)
    list(TRANSFORM fake_omit_${variant} PREPEND FAKE_CUDA_OMIT_ OUTPUT_VARIABLE omit_defs)
    target_compile_definitions(fake_cuda_${variant} PRIVATE ${omit_defs})
    add_dependencies(test_device_cuda_errors fake_cuda_${variant})
  endforeach()
  add_dependencies(test_device_cuda_errors fake_cuda)
  target_compile_definitions(test_device_cuda_errors PRIVATE
    VRAM_FAKE_CUDA="$<TARGET_FILE:fake_cuda>"
    VRAM_FAKE_CUDA_MINIMAL="$<TARGET_FILE:fake_cuda_minimal>"
    VRAM_FAKE_CUDA_NOFREEHOST="$<TARGET_FILE:fake_cuda_nofreehost>"
    VRAM_FAKE_CUDA_NODTOD="$<TARGET_FILE:fake_cuda_nodtod>")
  target_link_libraries(test_device_cuda_errors PRIVATE ${CMAKE_DL_LIBS})
  # libvram's host allocations go through the test's countdown (GNU ld / lld --wrap).
  target_link_options(test_device_cuda_errors PRIVATE
    -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc)
  target_include_directories(test_device_cuda_errors SYSTEM PRIVATE ${CUDAToolkit_INCLUDE_DIRS})
endif()
