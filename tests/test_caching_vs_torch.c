/* test_caching_vs_torch.c - the caching policy held against PyTorch's own
 * record (issue 18 item 4, vimport_torch_compare): snapshots built here byte by
 * byte whose histories hold the segment entries PyTorch's
 * CUDACachingAllocator.cpp writes for them (checked by hand against its rules:
 * the 2 MiB small segment, 20 MiB for 1-10 MiB requests, a request rounded to
 * 2 MiB above, best fit in cached blocks, release of every whole cached segment
 * before the retry of a failed cudaMalloc, and with expandable segments 2 MiB
 * and 20 MiB pages whose free rest merges with the next page, the free block at
 * the growing end ranked last by best fit). Known answers:
 * every record agrees; a second stream's pool is PyTorch's alone (a departure
 * named with its entry); the wrong settings depart at the first record. */
#include <unistd.h>

#include "import.h"
#include "vram/caching.h"
#include "test_cli_lib.h"
#include "test_pickle_build.h"

#define PK "caching_vs_torch.pickle"
#define OUT "caching_vs_torch.trace"
#define MiB (INT64_C(1) << 20)

static char err[1024];
static pkb p;

static void begin_snapshot(int expandable)
{
    pkb_begin(&p);
    pkb_dict(&p);
    pkb_str(&p, "allocator_settings");
    pkb_dict(&p);
    pkb_key_int(&p, "max_split_size", -1);
    pkb_str(&p, "expandable_segments");
    pkb_bool(&p, expandable);
    pkb_str(&p, "garbage_collection_threshold");
    pkb_float(&p, 0.0);
    pkb_dict_end(&p);
}

/* The non-expandable run; `other_stream` adds a 16 MiB allocation on stream 7
 * (entries 15-17, and its segment among the releases). */
static void write_plain(int other_stream)
{
    begin_snapshot(0);
    pkb_str(&p, "segments");
    pkb_list(&p);
    pkb_segment_begin(&p, 0, 0x8000000, 30 * MiB, 1);
    pkb_block(&p, 0x8000000, 30 * MiB, 30 * MiB, "active_allocated");
    pkb_segment_end(&p);
    pkb_list_end(&p);
    pkb_str(&p, "device_traces");
    pkb_list(&p);
    pkb_list(&p);
    int64_t t = 0;
    pkb_entry(&p, "segment_alloc", 0x1000000, 2 * MiB, t++); /* 0: the small pool's segment */
    pkb_entry(&p, "alloc", 0x1000000, 1000, t++);
    pkb_entry(&p, "alloc", 0x1000400, 3000, t++);            /* 2: in the same segment */
    pkb_entry(&p, "segment_alloc", 0x2000000, 20 * MiB, t++); /* 3: 1-10 MiB: a 20 MiB one */
    pkb_entry(&p, "alloc", 0x2000000, 5 * MiB, t++);
    pkb_entry(&p, "segment_alloc", 0x4000000, 16 * MiB, t++); /* 5: the 15 MiB rest is too small */
    pkb_entry(&p, "alloc", 0x4000000, 16 * MiB, t++);
    pkb_entry(&p, "alloc", 0x2500000, 4 * MiB, t++);         /* 7: best fit, the 15 MiB rest */
    pkb_entry(&p, "free_completed", 0x1000000, 1000, t++);
    pkb_entry(&p, "free_completed", 0x1000400, 3000, t++);
    pkb_entry(&p, "free_completed", 0x2000000, 5 * MiB, t++);
    pkb_entry(&p, "free_completed", 0x4000000, 16 * MiB, t++);
    pkb_entry(&p, "free_completed", 0x2500000, 4 * MiB, t++);
    pkb_entry(&p, "alloc", 0x4000000, 16 * MiB, t++);        /* 13: the cached 16 MiB segment */
    pkb_entry(&p, "free_completed", 0x4000000, 16 * MiB, t++);
    if (other_stream) {
        pkb_entry_on(&p, "segment_alloc", 0x6000000, 16 * MiB, 7, t++); /* 15 */
        pkb_entry_on(&p, "alloc", 0x6000000, 16 * MiB, 7, t++);         /* 16 */
        pkb_entry_on(&p, "free_completed", 0x6000000, 16 * MiB, 7, t++);
    }
    /* 30 MiB: no cached block fits and cudaMalloc fails: every whole cached segment is
     * released, large pool first, then the retry */
    pkb_entry(&p, "segment_free", 0x4000000, 16 * MiB, t++); /* by (stream, size, address) */
    pkb_entry(&p, "segment_free", 0x2000000, 20 * MiB, t++);
    if (other_stream)
        pkb_entry_on(&p, "segment_free", 0x6000000, 16 * MiB, 7, t++);
    pkb_entry(&p, "segment_free", 0x1000000, 2 * MiB, t++);
    pkb_entry(&p, "segment_alloc", 0x8000000, 30 * MiB, t++);
    pkb_entry(&p, "alloc", 0x8000000, 30 * MiB, t++);
    pkb_list_end(&p);
    pkb_list_end(&p);
    pkb_dict_end(&p);
    pkb_end(&p);
    pkb_save(&p, PK);
}

static void test_agree(void)
{
    write_plain(0);
    vimport_compare c;
    vram_status st = vimport_torch_compare(PK, NULL, NULL, &c, err, sizeof err);
    if (st)
        fprintf(stderr, "%s\n", err);
    assert_ok(st);
    expect_true(strcmp(c.settings, "expandable_segments:False") == 0);
    expect_eq_u64(c.capacity, 38 * MiB); /* the peak of reserved: 2 + 20 + 16 MiB */
    expect_eq_u64(c.torch_start_reserved, 0);
    expect_eq_u64(c.start_blocks, 0);
    expect_eq_u64(c.torch_allocs, 4);
    expect_eq_u64(c.torch_alloc_bytes, 68 * MiB);
    expect_eq_u64(c.torch_frees, 3);
    expect_eq_u64(c.torch_free_bytes, 38 * MiB);
    expect_eq_u64(c.ours_allocs, 4);
    expect_eq_u64(c.ours_alloc_bytes, 68 * MiB);
    expect_eq_u64(c.ours_frees, 3);
    expect_eq_u64(c.ours_free_bytes, 38 * MiB);
    expect_eq_u64(c.matched, 4);
    expect_eq_u64(c.records_compared, 4);
    expect_eq_u64(c.records_agreeing, 4);
    expect_eq_u64(c.departed, 0);
    expect_true(c.departure[0] == '\0');
    expect_true(c.torch_ooms == 0 && c.ours_ooms == 0);

    /* vimport prints it for a history with segment entries */
    CLI_EXPECT(0, TEXTS(""), "vimport", "torch", PK, "-o", OUT);
    expect_true(strstr(cli_last.out, "caching policy vs PyTorch (settings \"expandable_segments:"
                                     "False\", capacity 39845888 bytes): PyTorch made 4 segment "
                                     "allocation(s) or mapping(s) (71303168 bytes) and 3 release(s) "
                                     "(39845888 bytes), ours 4 (71303168 bytes) and 3 (39845888 "
                                     "bytes); 4 of PyTorch's reproduced (same size, same record); "
                                     "4 of 4 record(s) with segment activity agree") != NULL);
    expect_true(strstr(cli_last.out, "first departure") == NULL);
    remove(OUT);

    /* The wrong settings depart at the first record. */
    st = vimport_torch_compare(PK, NULL, "expandable_segments:True", &c, err, sizeof err);
    assert_ok(st);
    expect_eq_u64(c.departure_entry, 1);
    expect_true(strcmp(c.departure, "device_traces[0][1] (alloc of 1000 bytes): PyTorch: "
                                    "segment_alloc 2097152; ours: map 2097152 bytes") == 0);
    expect_status(vimport_torch_compare(PK, NULL, "colour:blue", &c, err, sizeof err),
                  VRAM_EUNSUPPORTED);
    expect_true(strcmp(err, PK ": caching settings 'colour:blue': 'colour:blue': key not modelled "
                            "by the caching policy") == 0);
    expect_status(vimport_torch_compare(NULL, NULL, NULL, &c, err, sizeof err), VRAM_EINVAL);
}

/* A second stream: PyTorch keeps a pool per stream, so the stream-7 request makes a
 * segment of its own where ours finds the cached one. */
static void test_other_stream(void)
{
    write_plain(1);
    vimport_compare c;
    assert_ok(vimport_torch_compare(PK, NULL, NULL, &c, err, sizeof err));
    expect_eq_u64(c.capacity, 54 * MiB);
    expect_eq_u64(c.torch_allocs, 5);
    expect_eq_u64(c.ours_allocs, 4);
    expect_eq_u64(c.torch_frees, 4);
    expect_eq_u64(c.ours_frees, 3);
    expect_eq_u64(c.matched, 4);
    expect_eq_u64(c.records_compared, 5);
    expect_eq_u64(c.records_agreeing, 3);
    expect_eq_u64(c.departed, 2);
    expect_eq_u64(c.departure_entry, 16);
    expect_true(strcmp(c.departure, "device_traces[0][16] (alloc of 16777216 bytes on stream 0x7): "
                                    "PyTorch: segment_alloc 16777216; ours: nothing") == 0);
    CLI_EXPECT(0, TEXTS(""), "vimport", "torch", PK, "-o", OUT);
    expect_true(strstr(cli_last.out, "first departure: device_traces[0][16] (alloc of 16777216 "
                                     "bytes on stream 0x7): PyTorch: segment_alloc 16777216; ours: "
                                     "nothing") != NULL);
    remove(OUT);
}

/* Expandable segments: 2 MiB and 20 MiB pages; the 30 MiB request maps one more
 * page, which merges with the free 15 MiB rest of the first. */
static void test_expandable(void)
{
    begin_snapshot(1);
    pkb_str(&p, "segments");
    pkb_list(&p);
    pkb_segment_begin(&p, 0, 0x7f0000000000, 2 * MiB, 0);
    pkb_block(&p, 0x7f0000000000, 1024, 1000, "active_allocated");
    pkb_block(&p, 0x7f0000000400, 2 * MiB - 1024, 0, "inactive");
    pkb_segment_end(&p);
    pkb_segment_begin(&p, 0, 0x7f1000000000, 40 * MiB, 1);
    pkb_block(&p, 0x7f1000000000, 5 * MiB, 5 * MiB, "active_allocated");
    pkb_block(&p, 0x7f1000500000, 35 * MiB, 35 * MiB, "active_allocated");
    pkb_segment_end(&p);
    pkb_list_end(&p);
    pkb_str(&p, "device_traces");
    pkb_list(&p);
    pkb_list(&p);
    pkb_entry(&p, "segment_map", 0x7f0000000000, 2 * MiB, 1);
    pkb_entry(&p, "alloc", 0x7f0000000000, 1000, 2);
    pkb_entry(&p, "segment_map", 0x7f1000000000, 20 * MiB, 3);
    pkb_entry(&p, "alloc", 0x7f1000000000, 5 * MiB, 4);
    pkb_entry(&p, "segment_map", 0x7f1001400000, 20 * MiB, 5);
    pkb_entry(&p, "alloc", 0x7f1000500000, 30 * MiB, 6);
    pkb_entry(&p, "free_completed", 0x7f1000500000, 30 * MiB, 7);
    pkb_entry(&p, "alloc", 0x7f1000500000, 35 * MiB, 8); /* the free 35 MiB, no page */
    pkb_list_end(&p);
    pkb_list_end(&p);
    pkb_dict_end(&p);
    pkb_end(&p);
    pkb_save(&p, PK);
    vimport_compare c;
    vram_status st = vimport_torch_compare(PK, NULL, NULL, &c, err, sizeof err);
    if (st)
        fprintf(stderr, "%s\n", err);
    assert_ok(st);
    expect_true(strcmp(c.settings, "expandable_segments:True") == 0);
    expect_eq_u64(c.capacity, 42 * MiB);
    expect_eq_u64(c.torch_allocs, 3);
    expect_eq_u64(c.torch_alloc_bytes, 42 * MiB);
    expect_eq_u64(c.ours_alloc_bytes, 42 * MiB);
    expect_eq_u64(c.matched, 3);
    expect_eq_u64(c.records_compared, 3);
    expect_eq_u64(c.records_agreeing, 3);
    if (c.departed)
        fprintf(stderr, "departure: %s\n", c.departure);
    expect_eq_u64(c.departed, 0);
}

/* PyTorch's best fit ranks the free block at the growing end last (its size plus
 * the unmapped space after it): the 8 MiB request takes the 10 MiB block, not the
 * 8.5 MiB one at the end, which the 25 MiB request then extends by one page (two
 * pages had the end been taken). */
static void test_growing_end_last(void)
{
    begin_snapshot(1);
    pkb_str(&p, "segments");
    pkb_list(&p);
    pkb_segment_begin(&p, 0, 0x7f1000000000, 40 * MiB, 1);
    pkb_block(&p, 0x7f1000000000, 8 * MiB, 8 * MiB, "active_allocated");
    pkb_block(&p, 0x7f1000800000, 2 * MiB, 0, "inactive");
    pkb_block(&p, 0x7f1000a00000, 1536 * 1024, 1536 * 1024, "active_allocated");
    pkb_block(&p, 0x7f1000b80000, 25 * MiB, 25 * MiB, "active_allocated");
    pkb_block(&p, 0x7f1002480000, 3584 * 1024, 0, "inactive");
    pkb_segment_end(&p);
    pkb_list_end(&p);
    pkb_str(&p, "device_traces");
    pkb_list(&p);
    pkb_list(&p);
    pkb_entry(&p, "segment_map", 0x7f1000000000, 20 * MiB, 1);
    pkb_entry(&p, "alloc", 0x7f1000000000, 10 * MiB, 2);          /* X [0, 10) */
    pkb_entry(&p, "alloc", 0x7f1000a00000, 1536 * 1024, 3);       /* Y [10, 11.5), the end */
    pkb_entry(&p, "free_completed", 0x7f1000000000, 10 * MiB, 4); /* X free, not at the end */
    pkb_entry(&p, "alloc", 0x7f1000000000, 8 * MiB, 5);           /* Z in X's block */
    pkb_entry(&p, "segment_map", 0x7f1001400000, 20 * MiB, 6);
    pkb_entry(&p, "alloc", 0x7f1000b80000, 25 * MiB, 7);          /* W: the end + one page */
    pkb_list_end(&p);
    pkb_list_end(&p);
    pkb_dict_end(&p);
    pkb_end(&p);
    pkb_save(&p, PK);
    vimport_compare c;
    vram_status st = vimport_torch_compare(PK, NULL, NULL, &c, err, sizeof err);
    if (st)
        fprintf(stderr, "%s\n", err);
    assert_ok(st);
    expect_eq_u64(c.capacity, 40 * MiB);
    expect_eq_u64(c.torch_alloc_bytes, 40 * MiB);
    expect_eq_u64(c.ours_alloc_bytes, 40 * MiB);
    expect_eq_u64(c.matched, 2);
    expect_eq_u64(c.records_compared, 2);
    expect_eq_u64(c.records_agreeing, 2);
    if (c.departed)
        fprintf(stderr, "departure: %s\n", c.departure);
    expect_eq_u64(c.departed, 0);
}

/* A wrapped ring buffer: PyTorch held two 20 MiB segments when the history
 * began, one with a live block at its start (the state at the dump), the other
 * with a block the history frees; empty_cache() then releases that one (no
 * record of its own: the release comes before the next alloc). Ours starts with
 * both segments and their blocks at their recorded offsets, releases with
 * PyTorch, and agrees. */
static void test_wrapped_start(void)
{
    begin_snapshot(0);
    pkb_str(&p, "segments");
    pkb_list(&p);
    pkb_segment_begin(&p, 0, 0x1000000, 20 * MiB, 1); /* S1: never touched by the history */
    pkb_block(&p, 0x1000000, 4 * MiB, 4 * MiB, "active_allocated");
    pkb_block(&p, 0x1400000, 10 * MiB, 10 * MiB, "active_allocated");
    pkb_block(&p, 0x1e00000, 6 * MiB, 0, "inactive");
    pkb_segment_end(&p);
    pkb_segment_begin(&p, 0, 0x9000000, 20 * MiB, 1); /* S3: made by the history */
    pkb_block(&p, 0x9000000, 7 * MiB, 7 * MiB, "active_allocated");
    pkb_block(&p, 0x9700000, 13 * MiB, 0, "inactive");
    pkb_segment_end(&p);
    pkb_list_end(&p);
    pkb_str(&p, "device_traces");
    pkb_list(&p);
    pkb_list(&p);
    pkb_entry(&p, "free_completed", 0x5000000, 8 * MiB, 1);  /* in S2, allocated before */
    pkb_entry(&p, "segment_free", 0x5000000, 20 * MiB, 2);   /* empty_cache(): S2 */
    pkb_entry(&p, "alloc", 0x1400000, 10 * MiB, 3);          /* S1's free rest */
    pkb_entry(&p, "segment_alloc", 0x9000000, 20 * MiB, 4);
    pkb_entry(&p, "alloc", 0x9000000, 7 * MiB, 5);
    pkb_list_end(&p);
    pkb_list_end(&p);
    pkb_dict_end(&p);
    pkb_end(&p);
    pkb_save(&p, PK);
    vimport_compare c;
    vram_status st = vimport_torch_compare(PK, NULL, NULL, &c, err, sizeof err);
    if (st)
        fprintf(stderr, "%s\n", err);
    assert_ok(st);
    expect_eq_u64(c.capacity, 40 * MiB);
    expect_eq_u64(c.torch_start_reserved, 40 * MiB);
    expect_eq_u64(c.ours_start_reserved, 40 * MiB);
    expect_eq_u64(c.seeded_segments, 2);
    expect_eq_u64(c.start_blocks, 2);
    expect_eq_u64(c.mirrored_releases, 1);
    expect_eq_u64(c.records_compared, 2);
    expect_eq_u64(c.records_agreeing, 2);
    expect_eq_u64(c.matched, 1);
    if (c.departed)
        fprintf(stderr, "departure: %s\n", c.departure);
    expect_eq_u64(c.departed, 0);
    CLI_EXPECT(0, TEXTS(""), "vimport", "torch", PK, "-o", OUT);
    expect_true(strstr(cli_last.out, "at the history's start: PyTorch had 41943040 bytes reserved; "
                                     "ours 41943040 (its 2 segment(s) or mapping(s) then, and the 2 "
                                     "block(s) live then)") != NULL);
    remove(OUT);
}

/* The seeding calls' refusals. */
static void test_seed_refusals(void)
{
    vram_caching_options o = {0};
    vram_heap_config cfg = {.capacity = 64 * MiB, .caching = &o};
    vram_heap *h;
    assert_ok(vram_heap_create(vram_heap_policy("caching"), &cfg, &h));
    uint64_t at[2] = {0, MiB}, bs[2] = {2 * MiB, MiB}, rq[2] = {2 * MiB, MiB}, off[2];
    expect_status(vram_heap_caching_seed_segment(h, 20 * MiB, 1, 2, at, bs, rq, off), VRAM_EINVAL);
    at[1] = 2 * MiB;
    assert_ok(vram_heap_caching_seed_segment(h, 20 * MiB, 1, 2, at, bs, rq, off));
    expect_eq_u64(off[1] - off[0], 2 * MiB);
    expect_status(vram_heap_caching_seed_segment(h, 3 * MiB, 1, 0, NULL, NULL, NULL, NULL),
                  VRAM_EINVAL); /* not whole 2 MiB */
    expect_status(vram_heap_caching_seed(h, 100 * MiB, 1), VRAM_ENOMEM);
    expect_status(vram_heap_caching_seed(h, 0, 1), VRAM_EINVAL);
    char msg[256];
    expect_status(vram_heap_check(h, msg, sizeof msg), VRAM_OK);
    vram_caching_stats cs;
    assert_ok(vram_heap_caching_stats(h, &cs));
    expect_eq_u64(cs.reserved, 20 * MiB);
    expect_eq_u64(cs.allocated, 3 * MiB);
    assert_ok(vram_heap_free(h, off[0]));
    assert_ok(vram_heap_free(h, off[1]));
    assert_ok(vram_heap_caching_empty_cache(h));
    assert_ok(vram_heap_caching_stats(h, &cs));
    expect_eq_u64(cs.reserved, 0);
    vram_heap *other;
    vram_heap_config bc = {.capacity = 64 * MiB};
    assert_ok(vram_heap_create(vram_heap_policy("bestfit"), &bc, &other));
    expect_status(vram_heap_caching_seed(other, 2 * MiB, 0), VRAM_EMISMATCH);
    expect_status(vram_heap_caching_empty_cache(other), VRAM_EMISMATCH);
    expect_status(vram_heap_caching_empty_cache(NULL), VRAM_EINVAL);
    vram_heap_destroy(other);
    vram_heap_destroy(h);
    o.expandable_segments = 1;
    assert_ok(vram_heap_create(vram_heap_policy("caching"), &cfg, &h));
    expect_status(vram_heap_caching_seed_segment(h, 20 * MiB, 1, 0, NULL, NULL, NULL, NULL),
                  VRAM_EINVAL);
    assert_ok(vram_heap_caching_seed(h, 20 * MiB, 1));
    assert_ok(vram_heap_caching_stats(h, &cs));
    expect_eq_u64(cs.map_bytes, 20 * MiB);
    vram_heap_destroy(h);
}

int main(void)
{
    test_agree();
    test_other_stream();
    test_expandable();
    test_growing_end_last();
    test_wrapped_start();
    test_seed_refusals();
    remove(PK);
    free(p.b);
    return test_finish("caching_vs_torch");
}
