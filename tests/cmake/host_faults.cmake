# host_faults: every malloc/calloc/realloc of the test and of libvram goes
# through the test's countdown (GNU ld / lld --wrap), so that each one can be
# made to fail in turn.
target_link_options(test_host_faults PRIVATE
  -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc)
