# The reliability tests of issue 13 (docs/RELIABILITY.md) run the built tools:
# building a test builds them first, so it never runs a stale binary.
#   cli_signals: SIGINT/SIGTERM in every phase of replay and report (about 10 s)
#   db_writers:  8 replays writing into one database at once
foreach(name cli_signals db_writers)
  if(TARGET test_${name})
    foreach(tool replay report)
      if(TARGET ${tool})
        add_dependencies(test_${name} ${tool})
      endif()
    endforeach()
    set_tests_properties(${name} PROPERTIES TIMEOUT 120)
  endif()
endforeach()
