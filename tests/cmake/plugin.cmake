# Plugins (vram/plugin.h, sim/replay/plugin.c): the libraries the loader must refuse
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
vram_test_plugin(vram_test_plugin_crash ${CMAKE_CURRENT_SOURCE_DIR}/plugins/crash_plugin.c)
# no_entry exports its one function: it is a library, just not a plugin.
set_target_properties(vram_test_plugin_no_entry PROPERTIES C_VISIBILITY_PRESET default)

if(TARGET test_plugin)
  add_dependencies(test_plugin vram_test_plugin_bad vram_test_plugin_no_entry)
  target_compile_definitions(test_plugin PRIVATE
    VRAM_TEST_PLUGIN_BAD="$<TARGET_FILE:vram_test_plugin_bad>"
    VRAM_TEST_PLUGIN_NO_ENTRY="$<TARGET_FILE:vram_test_plugin_no_entry>")
endif()

# The examples (examples/CMakeLists.txt) replayed beside the built-in policies.
if(TARGET test_plugin_replay)
  add_dependencies(test_plugin_replay vram_firstfit vram_tlsf_wrap vram_broken)
  target_compile_definitions(test_plugin_replay PRIVATE VRAM_EXAMPLES_DIR="$<TARGET_FILE_DIR:vram_firstfit>")
  if(TARGET vram_segfit)
    add_dependencies(test_plugin_replay vram_segfit)
    target_compile_definitions(test_plugin_replay PRIVATE VRAM_HAVE_SEGFIT=1)
  endif()
endif()

# The command line: a plugin beside a built-in policy (its row and its file with
# the checksum under the table), and a plugin that does not load (usage, exit 2).
if(TARGET replay)
  add_test(NAME plugin_cli
           COMMAND sh -c "\"$@\"; echo \"exit status $?\"" sh $<TARGET_FILE:replay> --no-db --quiet --check-every 1
                   --policy tlsf,plugin:$<TARGET_FILE:vram_firstfit>
                   ${PROJECT_SOURCE_DIR}/tests/data/small.trace)
  set_tests_properties(plugin_cli PROPERTIES
    PASS_REGULAR_EXPRESSION "\n\\| tlsf \\| 624\\.000 KiB \\|[^\n]*\n\\| plugin:firstfit \\| 624\\.000 KiB \\|[^\n]*\nplugin:firstfit: plugin firstfit, crc32 [0-9a-f]+, [0-9]+ bytes, ABI version 1,[^|]*libvram_firstfit\\.so\n.*exit status 0\n$"
    TIMEOUT 60)
  add_test(NAME plugin_cli_refused
           COMMAND sh -c "\"$@\"; echo \"exit status $?\"" sh $<TARGET_FILE:replay> --no-db --quiet
                   --policy tlsf,plugin:$<TARGET_FILE:vram_test_plugin_bad>:version2
                   ${PROJECT_SOURCE_DIR}/tests/data/small.trace)
  set_tests_properties(plugin_cli_refused PROPERTIES
    PASS_REGULAR_EXPRESSION "^replay: --policy: [^\n]*libvram_test_plugin_bad\\.so: the table is ABI version 2, newer than this bench's 1: rebuild the plugin against this bench's vram/plugin\\.h\nexit status 2\n$"
    TIMEOUT 60)
endif()

# fuzz_heap_plugin without libFuzzer (tests/cmake/fuzz_regressions.cmake makes
# plain_fuzz_heap_plugin and fuzz_regressions_heap_plugin): the first-fit
# example by default, the other good examples through VRAM_FUZZ_PLUGIN, and
# each bug of the broken one caught on its regression input and on the seeds.
if(TARGET plain_fuzz_heap_plugin)
  target_compile_definitions(plain_fuzz_heap_plugin PRIVATE
    VRAM_FUZZ_PLUGIN_DEFAULT="plugin:$<TARGET_FILE:vram_firstfit>")
  add_dependencies(plain_fuzz_heap_plugin vram_firstfit vram_tlsf_wrap vram_broken)
  set(vram_fuzz_plugin_inputs ${PROJECT_SOURCE_DIR}/fuzz/regressions/fuzz_heap_plugin
      ${PROJECT_SOURCE_DIR}/fuzz/corpus/fuzz_heap_plugin)
  set(vram_fuzz_plugin_more tlsf_wrap)
  if(TARGET vram_segfit)
    add_dependencies(plain_fuzz_heap_plugin vram_segfit)
    list(APPEND vram_fuzz_plugin_more segfit)
  endif()
  foreach(example ${vram_fuzz_plugin_more})
    add_test(NAME fuzz_regressions_heap_plugin_${example}
             COMMAND plain_fuzz_heap_plugin ${vram_fuzz_plugin_inputs})
    set_tests_properties(fuzz_regressions_heap_plugin_${example} PROPERTIES
      ENVIRONMENT "VRAM_FUZZ_PLUGIN=plugin:$<TARGET_FILE:vram_${example}>" TIMEOUT 120)
  endforeach()
  # The trap fails the process whatever its output, so a shell runs it and the
  # message alone decides.
  set(vram_broken_words_overlap "(overlaps live block|walk: block at [0-9]+ starts before the end)")
  set(vram_broken_words_misalign "not aligned to 4096")
  set(vram_broken_words_wrongfree "walk: used block at [0-9]+ is no live allocation")
  foreach(bug overlap misalign wrongfree)
    add_test(NAME fuzz_catches_broken_plugin_${bug}
             COMMAND sh -c "\"$0\" \"$1\" 2>&1; exit 0" $<TARGET_FILE:plain_fuzz_heap_plugin>
                     ${PROJECT_SOURCE_DIR}/fuzz/regressions/fuzz_heap_plugin/broken-${bug})
    set_tests_properties(fuzz_catches_broken_plugin_${bug} PROPERTIES
      ENVIRONMENT "VRAM_FUZZ_PLUGIN=plugin:$<TARGET_FILE:vram_broken>:${bug}"
      PASS_REGULAR_EXPRESSION "fuzz: fuzz_heap_plugin: plugin:${bug}: op [0-9]+: [^\n]*${vram_broken_words_${bug}}"
      TIMEOUT 60)
    # Not only on a hand-made input: the seed corpus (no input made for the bug) finds it too.
    add_test(NAME fuzz_seeds_find_broken_plugin_${bug}
             COMMAND sh -c "\"$0\" \"$1\" 2>&1; exit 0" $<TARGET_FILE:plain_fuzz_heap_plugin>
                     ${PROJECT_SOURCE_DIR}/fuzz/corpus/fuzz_heap_plugin)
    set_tests_properties(fuzz_seeds_find_broken_plugin_${bug} PROPERTIES
      ENVIRONMENT "VRAM_FUZZ_PLUGIN=plugin:$<TARGET_FILE:vram_broken>:${bug}"
      PASS_REGULAR_EXPRESSION "fuzz: fuzz_heap_plugin: plugin:${bug}: op [0-9]+: "
      TIMEOUT 60)
  endforeach()
endif()

# --isolate: plugins that crash or hang (tests/plugins/crash_plugin.c).
if(TARGET test_plugin_isolate)
  add_dependencies(test_plugin_isolate vram_test_plugin_crash vram_firstfit)
  target_compile_definitions(test_plugin_isolate PRIVATE
    VRAM_TEST_PLUGIN_CRASH="$<TARGET_FILE:vram_test_plugin_crash>"
    VRAM_TEST_EXAMPLES_DIR="$<TARGET_FILE_DIR:vram_firstfit>")
endif()
if(TARGET replay)
  # The command line: the crashing plugin between two built-in policies; both
  # of theirs are in the table, its run failed with the line, exit status 1.
  add_test(NAME plugin_cli_isolate
           COMMAND sh -c "\"$@\" 2>&1; echo \"exit status $?\"" sh $<TARGET_FILE:replay> --no-db --quiet
                   --isolate --policy tlsf,plugin:$<TARGET_FILE:vram_test_plugin_crash>:abort,bestfit
                   ${PROJECT_SOURCE_DIR}/tests/data/small.trace)
  set_tests_properties(plugin_cli_isolate PROPERTIES
    PASS_REGULAR_EXPRESSION "replay: plugin:abort: failed: [^\n]*small\\.trace:15: plugin:abort crashed in this event: signal 6 \\([^)]*\\) \\(--isolate\\)\n.*\n\\| bestfit \\| 624\\.000 KiB \\|[^\n]*\n\\| tlsf \\| 624\\.000 KiB \\|[^\n]*\n\\| plugin:abort \\(failed\\) \\|.*exit status 1\n$"
    TIMEOUT 60)
endif()

# A plugin's runs in the report: its row in the summary, and a heap map (the
# report replays the run again, loading the plugin from runs.layout).
if(TARGET replay AND TARGET report)
  add_test(NAME plugin_report
           COMMAND sh -c "command -v gnuplot >/dev/null || exit 77; rm -rf plugin_report && mkdir plugin_report && \"$0\" --quiet --db plugin_report/r.db --policy tlsf,plugin:\"$2\" \"$3\" >/dev/null && \"$1\" plugin_report/r.db -o plugin_report/out >/dev/null && cat plugin_report/out/summary.md"
                   $<TARGET_FILE:replay> $<TARGET_FILE:report> $<TARGET_FILE:vram_firstfit>
                   ${PROJECT_SOURCE_DIR}/tests/data/report_mix.trace)
  set_tests_properties(plugin_report PROPERTIES
    PASS_REGULAR_EXPRESSION "\n\\| plugin:firstfit \\| plugin:firstfit \\| ok \\|[^\n]*\n.*\n- plugin:firstfit: [^\n]* heap map: after event [0-9]+: "
    FAIL_REGULAR_EXPRESSION "no heap map"
    SKIP_RETURN_CODE 77 TIMEOUT 120)
endif()

# A plugin built outside the tree against the installed headers (cmake --install
# into a temporary prefix), replayed on traces/llama70b.trace beside tlsf.
if(TARGET replay)
  add_test(NAME plugin_out_of_tree
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/plugins/out_of_tree.sh ${PROJECT_BINARY_DIR}
                   ${PROJECT_SOURCE_DIR})
  set_tests_properties(plugin_out_of_tree PROPERTIES
    PASS_REGULAR_EXPRESSION "\n\\| tlsf \\| 71\\.483 GiB \\|[^\n]*\n\\| plugin:firstfit \\| 71\\.483 GiB \\| 1\\.000 \\|[^\n]*\n"
    TIMEOUT 300)
endif()
