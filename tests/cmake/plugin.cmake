# Plugins (vram/plugin.h, sim/plugin.c): the libraries the loader must refuse
# (tests/plugins/), built as modules next to the tests that load them.
function(vram_test_plugin name)
  add_library(${name} MODULE ${ARGN})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/alloc/include)
  target_link_libraries(${name} PRIVATE vram_build_flags)
  set_target_properties(${name} PROPERTIES C_VISIBILITY_PRESET hidden
                        LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/plugins)
endfunction()
vram_test_plugin(vram_test_plugin_bad ${CMAKE_CURRENT_SOURCE_DIR}/plugins/bad_plugin.c)
vram_test_plugin(vram_test_plugin_no_entry ${CMAKE_CURRENT_SOURCE_DIR}/plugins/no_entry.c)
# no_entry exports its one function: it is a library, just not a plugin.
set_target_properties(vram_test_plugin_no_entry PROPERTIES C_VISIBILITY_PRESET default)

if(TARGET test_plugin)
  add_dependencies(test_plugin vram_test_plugin_bad vram_test_plugin_no_entry)
  target_compile_definitions(test_plugin PRIVATE
    VRAM_TEST_PLUGIN_BAD="$<TARGET_FILE:vram_test_plugin_bad>"
    VRAM_TEST_PLUGIN_NO_ENTRY="$<TARGET_FILE:vram_test_plugin_no_entry>")
endif()
