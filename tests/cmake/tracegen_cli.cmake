# The tracegen command line: --help succeeds; a bad option is named and refused.
add_test(NAME tracegen_help COMMAND tracegen --help)
set_tests_properties(tracegen_help PROPERTIES PASS_REGULAR_EXPRESSION "usage: tracegen --workload FILE")
add_test(NAME tracegen_bad_option COMMAND tracegen --bogus)
set_tests_properties(tracegen_bad_option PROPERTIES WILL_FAIL TRUE)
add_test(NAME tracegen_bad_value COMMAND tracegen --speedup fast --workload x -o y)
set_tests_properties(tracegen_bad_value PROPERTIES WILL_FAIL TRUE)
