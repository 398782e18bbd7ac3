# libvram as a package (included after the subdirectories): find_package(vram CONFIG)
# through vramConfig.cmake, vramConfigVersion.cmake and the exported vramTargets.cmake
# (alloc/CMakeLists.txt; target vram::vram), and pkg-config through vram.pc.
include(CMakePackageConfigHelpers)
set(VRAM_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/vram)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/vramConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/vramConfig.cmake
                              INSTALL_DESTINATION ${VRAM_CMAKE_DIR})
# 0.x: a minor version may change the API, so only the same major.minor is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/vramConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/vramConfig.cmake ${PROJECT_BINARY_DIR}/vramConfigVersion.cmake
        DESTINATION ${VRAM_CMAKE_DIR})

# vram.pc finds its prefix relative to itself (${pcfiledir}), so it stays right under
# `cmake --install --prefix DIR` and DESTDIR. What the static library needs (libdl for
# the CUDA driver, libm) and its public definitions are in the file.
file(RELATIVE_PATH VRAM_PC_PREFIX_FROM_PCDIR ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig
     ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" VRAM_PC_PREFIX_FROM_PCDIR "${VRAM_PC_PREFIX_FROM_PCDIR}")
set(VRAM_PC_CFLAGS "")
get_target_property(vram_defs vram INTERFACE_COMPILE_DEFINITIONS)
if(vram_defs)
  foreach(def ${vram_defs})
    string(APPEND VRAM_PC_CFLAGS " -D${def}")
  endforeach()
endif()
set(VRAM_PC_LIBS "")
foreach(lib ${CMAKE_DL_LIBS} m)
  string(APPEND VRAM_PC_LIBS " -l${lib}")
endforeach()
configure_file(${CMAKE_CURRENT_LIST_DIR}/vram.pc.in ${PROJECT_BINARY_DIR}/vram.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/vram.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
