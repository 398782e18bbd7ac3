# install_consumer (tests/install/run.cmake): installs this build into a scratch prefix,
# builds and runs a small C program against it with find_package(vram CONFIG) and with
# pkg-config, and checks the installed tools (vramlab-NAME --version) and man pages.
find_program(VRAM_PKG_CONFIG NAMES pkg-config pkgconf)
set(vram_consumer_flags "")
if(VRAM_SANITIZE) # libvram is built with them: its users link their runtimes
  string(APPEND vram_consumer_flags " -fsanitize=${VRAM_SANITIZE}")
endif()
if(VRAM_COVERAGE)
  string(APPEND vram_consumer_flags " -fprofile-instr-generate")
endif()
add_test(NAME install_consumer
         COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${PROJECT_BINARY_DIR}
                 -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/install_consumer
                 -DVERSION=${PROJECT_VERSION} -DMAN_PAGES=${VRAMLAB_MAN_PAGES}
                 -DC_COMPILER=${CMAKE_C_COMPILER} "-DC_FLAGS=${vram_consumer_flags}"
                 -DGENERATOR=${CMAKE_GENERATOR} -DPKG_CONFIG=${VRAM_PKG_CONFIG}
                 -DBINDIR=${CMAKE_INSTALL_BINDIR} -DLIBDIR=${CMAKE_INSTALL_LIBDIR}
                 -DINCLUDEDIR=${CMAKE_INSTALL_INCLUDEDIR} -DDATADIR=${CMAKE_INSTALL_DATADIR}
                 -DMANDIR=${CMAKE_INSTALL_MANDIR} -DDOCDIR=${CMAKE_INSTALL_DOCDIR}
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/install/run.cmake)
set_tests_properties(install_consumer PROPERTIES TIMEOUT 120)
