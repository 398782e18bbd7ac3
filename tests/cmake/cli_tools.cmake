# The cli_* tests run the built tools (bin/NAME): building a test builds its tool,
# so a test never runs a stale binary.
foreach(pair "cli_replay|replay" "cli_tracegen|tracegen" "cli_serve|serve" "cli_vimport|vimport" "cli_report|report")
  string(REPLACE "|" ";" parts "${pair}")
  list(GET parts 0 name)
  list(GET parts 1 tool)
  if(TARGET test_${name} AND TARGET ${tool})
    add_dependencies(test_${name} ${tool})
  endif()
endforeach()
if(TARGET test_cli_report AND TARGET replay)
  add_dependencies(test_cli_report replay) # it replays its database
endif()
