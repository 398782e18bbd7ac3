# The report tests run bin/report (and headless Chromium): build it first.
# report_chromium exits 77 where Chromium cannot run: ctest shows it skipped.
if(TARGET report)
  add_dependencies(test_report report)
  add_dependencies(test_report_chromium report)
  add_dependencies(test_report_serve report serve) # it serves its database
  add_dependencies(test_report_prefix report replay) # it replays into its database
  set_tests_properties(report_chromium PROPERTIES SKIP_RETURN_CODE 77)
endif()
