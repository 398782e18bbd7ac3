# import_edges runs bin/vimport for its command-line cases: build it first.
if(TARGET test_import_edges AND TARGET vimport)
  add_dependencies(test_import_edges vimport)
endif()
