# The tools' version header and their installation (included before the subdirectories).
#
# vramlab_version: an interface target whose include directory holds vramlab_version.h,
# generated here at configure time from vramlab_version.h.in with PROJECT_VERSION and
# the git commit (`git rev-parse --short HEAD`; "unknown" outside a git checkout;
# -DVRAMLAB_GIT_COMMIT=... overrides). The tools print both with --version.
if(NOT DEFINED VRAMLAB_GIT_COMMIT)
  set(VRAMLAB_GIT_COMMIT unknown)
  find_package(Git QUIET)
  if(GIT_FOUND AND EXISTS ${PROJECT_SOURCE_DIR}/.git)
    execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --short HEAD
                    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                    OUTPUT_VARIABLE vramlab_commit RESULT_VARIABLE vramlab_git_rc
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(vramlab_git_rc EQUAL 0 AND vramlab_commit)
      set(VRAMLAB_GIT_COMMIT ${vramlab_commit})
    endif()
  endif()
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/vramlab_version.h.in
               ${PROJECT_BINARY_DIR}/generated/vramlab_version.h @ONLY)
add_library(vramlab_version INTERFACE)
target_include_directories(vramlab_version INTERFACE ${PROJECT_BINARY_DIR}/generated)

# Man pages: generated from each tool's --help by help2man at build time, when it is
# found (Debian: apt-get install help2man) and the tools can run here.
option(VRAM_MAN_PAGES "Generate the tools' man pages with help2man (when it is found)" ON)
set(VRAMLAB_MAN_PAGES OFF)
if(VRAM_MAN_PAGES AND NOT CMAKE_CROSSCOMPILING)
  find_program(HELP2MAN_EXECUTABLE help2man)
  if(HELP2MAN_EXECUTABLE)
    set(VRAMLAB_MAN_PAGES ON)
  else()
    message(STATUS "vramlab: help2man not found, no man pages")
  endif()
endif()

# vramlab_install_tool(TARGET DESCRIPTION): installs the tool as bin/vramlab-TARGET
# (project-prefixed: `replay` or `report` alone would collide on a PATH; the build tree
# keeps bin/TARGET) and, with help2man, its man page share/man/man1/vramlab-TARGET.1,
# DESCRIPTION being the page's one-line NAME.
function(vramlab_install_tool tool description)
  set(name vramlab-${tool})
  install(PROGRAMS $<TARGET_FILE:${tool}> DESTINATION ${CMAKE_INSTALL_BINDIR} RENAME ${name})
  if(VRAMLAB_MAN_PAGES)
    # help2man runs `--help` of the tool under its installed name (a symlink to
    # help2man-tool.sh, which runs it: the page's name and SYNOPSIS); the version is the
    # project's, given, so that the page does not depend on --version's git commit.
    set(dir ${PROJECT_BINARY_DIR}/man)
    file(MAKE_DIRECTORY ${dir}/bin)
    file(CREATE_LINK ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/help2man-tool.sh ${dir}/bin/${name} SYMBOLIC)
    add_custom_command(
      OUTPUT ${dir}/${name}.1
      COMMAND ${CMAKE_COMMAND} -E env VRAMLAB_TOOL=$<TARGET_FILE:${tool}>
              ${HELP2MAN_EXECUTABLE} --no-info --section=1 --name=${description}
              --version-string=${PROJECT_VERSION} "--source=vramlab ${PROJECT_VERSION}"
              --output=${dir}/${name}.1 ${dir}/bin/${name}
      DEPENDS ${tool} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/help2man-tool.sh
      WORKING_DIRECTORY ${dir}
      COMMENT "help2man: ${name}.1"
      VERBATIM)
    add_custom_target(man_${tool} ALL DEPENDS ${dir}/${name}.1)
    install(FILES ${dir}/${name}.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  endif()
endfunction()
