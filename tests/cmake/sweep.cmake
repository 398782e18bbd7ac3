# cli_sweep runs bin/sweep, which runs bin/replay and bin/serve, and reports with bin/report:
# building the test builds them first, so it never runs a stale binary.
if(TARGET test_cli_sweep)
  foreach(tool sweep replay serve report)
    if(TARGET ${tool})
      add_dependencies(test_cli_sweep ${tool})
    endif()
  endforeach()
  set_tests_properties(cli_sweep PROPERTIES TIMEOUT 300)
endif()
