# replay_prefix runs bin/replay for the prefix options: build it first.
if(TARGET test_replay_prefix AND TARGET replay)
  add_dependencies(test_replay_prefix replay)
endif()
