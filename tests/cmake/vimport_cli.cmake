# The vimport command line: exit statuses and messages (the importers themselves
# are tested by import_rmm and import_torch). The tool is built with the tests.
if(TARGET vimport)
  set(vimport_data ${CMAKE_CURRENT_SOURCE_DIR}/data)
  add_test(NAME vimport_help COMMAND vimport --help)
  set_tests_properties(vimport_help PROPERTIES PASS_REGULAR_EXPRESSION "usage: vimport FORMAT INPUT")
  add_test(NAME vimport_rmm_sample
           COMMAND vimport rmm ${vimport_data}/rmm_sample.csv -o vimport_cli_rmm.trace --capacity 80G)
  set_tests_properties(vimport_rmm_sample PROPERTIES PASS_REGULAR_EXPRESSION
    "13 allocs \\(2 pre-existing\\), 11 frees.*2 allocate failure.*capacity 85899345920 bytes")
  # Failures must exit non-zero with the reason: WILL_FAIL inverts the exit status,
  # the regular expression checks the message.
  foreach(case
      "usage|bogus|unknown FORMAT 'bogus'"
      "nooutput|rmm;${vimport_data}/rmm_sample.csv|no output: give -o"
      "capacity|rmm;${vimport_data}/rmm_sample.csv;-o;x.trace;--capacity;8Q|--capacity: expected bytes"
      "refused|torch;${vimport_data}/torch_global.pickle;-o;x.trace|byte 779: opcode STACK_GLOBAL"
      "azure|azure;x.csv;-o;x.trace|not allocations.*tracegen")
    string(REPLACE "|" ";" parts "${case}")
    list(GET parts 0 name)
    list(GET parts -1 message)
    list(REMOVE_AT parts 0 -1)
    add_test(NAME vimport_fails_${name} COMMAND vimport ${parts})
    set_tests_properties(vimport_fails_${name} PROPERTIES WILL_FAIL TRUE)
    add_test(NAME vimport_says_${name} COMMAND vimport ${parts})
    set_tests_properties(vimport_says_${name} PROPERTIES PASS_REGULAR_EXPRESSION "${message}")
  endforeach()
endif()
