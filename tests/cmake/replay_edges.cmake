# replay_edges runs bin/replay for its command-line cases: build it first.
if(TARGET test_replay_edges AND TARGET replay)
  add_dependencies(test_replay_edges replay)
endif()
