# install_consumer (tests/cmake/install.cmake): cmake -P this script with
#   BUILD_DIR   the vramlab build tree to install     WORK_DIR  a scratch directory (emptied)
#   VERSION     the project version                   MAN_PAGES ON when help2man made the pages
#   C_COMPILER, C_FLAGS  the compiler and the flags libvram needs from its users (sanitizers)
#   GENERATOR   CMake generator for the consumer      PKG_CONFIG  the pkg-config program
#   BINDIR, LIBDIR, INCLUDEDIR, DATADIR, MANDIR, DOCDIR  the build's CMAKE_INSTALL_<dir>s
# It installs the build into WORK_DIR/prefix, builds and runs tests/install/consumer.c
# against it with find_package(vram CONFIG) and with `pkg-config --cflags --libs vram`,
# and checks the installed tools (vramlab-NAME --version; vramlab-report on a tiny replay,
# reading its scripts from share/vramlab/reports; vramlab-sweep running vramlab-replay),
# LICENSE and, with help2man, the man pages.
cmake_minimum_required(VERSION 3.20)
set(src ${CMAKE_CURRENT_LIST_DIR})
set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run what)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY ${WORK_DIR}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install_consumer: ${what} failed (${rc}):\n  ${ARGN}\n${out}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
message(STATUS "installed into ${prefix}")

# The files a user of the package and of the tools finds.
foreach(d BINDIR LIBDIR INCLUDEDIR DATADIR MANDIR DOCDIR)
  set(CMAKE_INSTALL_${d} ${${d}})
endforeach()
foreach(f ${CMAKE_INSTALL_LIBDIR}/libvram.a ${CMAKE_INSTALL_INCLUDEDIR}/vram/vram.h
          ${CMAKE_INSTALL_LIBDIR}/cmake/vram/vramConfig.cmake
          ${CMAKE_INSTALL_LIBDIR}/cmake/vram/vramConfigVersion.cmake
          ${CMAKE_INSTALL_LIBDIR}/cmake/vram/vramTargets.cmake
          ${CMAKE_INSTALL_LIBDIR}/pkgconfig/vram.pc
          ${CMAKE_INSTALL_DATADIR}/vramlab/reports/sql/summary.sql
          ${CMAKE_INSTALL_DATADIR}/vramlab/reports/footprint.gp
          ${CMAKE_INSTALL_DOCDIR}/LICENSE)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "install_consumer: ${prefix}/${f} was not installed")
  endif()
endforeach()
foreach(tool replay tracegen serve vimport report sweep)
  if(EXISTS ${prefix}/${CMAKE_INSTALL_BINDIR}/${tool})
    message(FATAL_ERROR "install_consumer: bin/${tool} installed under its build-tree name")
  endif()
  run("vramlab-${tool} --version" ${prefix}/${CMAKE_INSTALL_BINDIR}/vramlab-${tool} --version)
  if(NOT out MATCHES "^vramlab-${tool} \\(vramlab\\) ${VERSION} \\(git ([0-9a-f]+|unknown)\\)\n$")
    message(FATAL_ERROR "install_consumer: vramlab-${tool} --version printed:\n${out}")
  endif()
  message(STATUS "${out}")
  set(page ${prefix}/${CMAKE_INSTALL_MANDIR}/man1/vramlab-${tool}.1)
  if(MAN_PAGES)
    if(NOT EXISTS ${page})
      message(FATAL_ERROR "install_consumer: help2man was found but ${page} was not installed")
    endif()
    file(READ ${page} text)
    if(NOT text MATCHES "\\.TH VRAMLAB-[A-Z]+ \"1\"[^\n]*\"vramlab ${VERSION}\"" OR
       NOT text MATCHES "\\.SH SYNOPSIS\n\\.B vramlab-${tool}\n" OR
       NOT text MATCHES "\\\\-\\\\-help")
      message(FATAL_ERROR "install_consumer: ${page} lacks its header, SYNOPSIS or options")
    endif()
  endif()
endforeach()

# The installed report reads its SQL and gnuplot scripts from share/vramlab/reports beside
# it (not from the source tree it was built from): a tiny replay reported without gnuplot,
# then once more with the installed summary.sql broken, which it must name.
set(bin ${prefix}/${CMAKE_INSTALL_BINDIR})
set(share ${CMAKE_INSTALL_DATADIR}/vramlab/reports)
file(WRITE ${WORK_DIR}/tiny.trace "vramtrace 2\nmodel tiny\nengine paged\ncapacity 67108864\n\
kv_block_bytes 1048576\nalloc 1 4194304 0 weight 100 engine\n@10 alloc 2 1048576 0 kv 10 -\n\
@20 free 2\n@30 free 1\n")
run("vramlab-replay" ${bin}/vramlab-replay tiny.trace --policy bestfit --db tiny.db --quiet)
set(ENV{VREPORT_DIR} "")
set(ENV{VREPORT_GNUPLOT} ${WORK_DIR}/no-gnuplot) # figures are not the point here
run("vramlab-report" ${bin}/vramlab-report tiny.db -o report)
if(NOT EXISTS ${WORK_DIR}/report/summary.md)
  message(FATAL_ERROR "install_consumer: vramlab-report wrote no summary.md:\n${out}")
endif()
file(WRITE ${prefix}/${share}/sql/summary.sql "SELECT no_such_column FROM runs;\n")
execute_process(COMMAND ${bin}/vramlab-report tiny.db -o report2 WORKING_DIRECTORY ${WORK_DIR}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
string(FIND "${out}" "${bin}/../${share}/sql/summary.sql" named)
if(rc EQUAL 0 OR named EQUAL -1)
  message(FATAL_ERROR "install_consumer: vramlab-report does not read ${prefix}/${share} "
          "(exit ${rc} with a broken installed summary.sql):\n${out}")
endif()
message(STATUS "vramlab-report reads ${prefix}/${share}")

# The installed sweep runs the installed replay beside it (vramlab-replay, not bin/replay).
run("vramlab-sweep" ${bin}/vramlab-sweep --policy bestfit,tlsf --db sweep.db tiny.trace)
if(NOT out MATCHES "2 run\\(s\\) in [0-9.]+ s: 2 ok, 0 failed; logged to sweep.db")
  message(FATAL_ERROR "install_consumer: vramlab-sweep did not run both replays:\n${out}")
endif()
message(STATUS "vramlab-sweep runs ${bin}/vramlab-replay")

# find_package(vram VERSION CONFIG REQUIRED), vram::vram.
set(cmake_args -G ${GENERATOR} -DCMAKE_C_COMPILER=${C_COMPILER} "-DCMAKE_C_FLAGS=${C_FLAGS}"
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
    -DVRAM_EXPECTED_VERSION=${VERSION})
run("configure with find_package(vram)" ${CMAKE_COMMAND} -S ${src} -B ${WORK_DIR}/cmake ${cmake_args})
if(NOT out MATCHES "vram ${VERSION} from ${prefix}/")
  message(FATAL_ERROR "install_consumer: find_package found another vram:\n${out}")
endif()
run("build with find_package(vram)" ${CMAKE_COMMAND} --build ${WORK_DIR}/cmake)
run("the find_package consumer" ${WORK_DIR}/cmake/consumer)
message(STATUS "find_package: ${out}")

# pkg-config --cflags --libs vram.
if(NOT PKG_CONFIG)
  message(FATAL_ERROR "install_consumer: pkg-config not found (Debian: apt-get install pkg-config; .ci/deps)")
endif()
set(ENV{PKG_CONFIG_PATH} ${prefix}/${CMAKE_INSTALL_LIBDIR}/pkgconfig)
set(ENV{PKG_CONFIG_LIBDIR} ${prefix}/${CMAKE_INSTALL_LIBDIR}/pkgconfig) # only this prefix's
run("pkg-config --modversion vram" ${PKG_CONFIG} --modversion vram)
if(NOT out STREQUAL "${VERSION}\n")
  message(FATAL_ERROR "install_consumer: pkg-config --modversion vram: ${out}")
endif()
run("pkg-config --cflags --libs vram" ${PKG_CONFIG} --cflags --libs vram)
string(STRIP "${out}" pc_flags)
message(STATUS "pkg-config: ${pc_flags}")
separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
separate_arguments(user_flags UNIX_COMMAND "${C_FLAGS}")
run("cc consumer.c $(pkg-config --cflags --libs vram)" ${C_COMPILER} ${user_flags} -std=c11
    ${src}/consumer.c -o ${WORK_DIR}/consumer-pc ${pc_flags})
run("the pkg-config consumer" ${WORK_DIR}/consumer-pc)
message(STATUS "pkg-config: ${out}")
