# hostpool_edges: realloc goes through the test's switch (GNU ld / lld --wrap), so
# that a put can be refused the memory to grow its chunk's free-range array.
target_link_options(test_hostpool_edges PRIVATE -Wl,--wrap=realloc)
