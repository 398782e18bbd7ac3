/* test_import_torch.c - the torch snapshot importer on the real snapshot in
 * traces/recordings and on small hand-made snapshots in tests/data
 * (README_import.md says how they were made). Outputs are re-read through the
 * trace reader. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "import.h"
#include "testlib.h"
#include "trace.h"

#define SNAPSHOT VRAM_RECORDINGS_DIR "/torch_snapshot_medium_ctx128_inference.pickle"
#define DATA VRAM_SOURCE_DIR "/tests/data/"
#define OUT "import_torch_out.trace"

static char err[1024];

typedef struct counts {
    uint64_t allocs, frees, other, last_ts;
    uint64_t first_ids[4];
    uint64_t first_ts[4];
    vtrace_type first_types[4];
} counts;

static vtrace_header read_back(const char *path, counts *c)
{
    vtrace_reader *r = NULL;
    vram_status st = vtrace_open(path, &r, err, sizeof err);
    if (st)
        fprintf(stderr, "%s\n", err);
    assert_ok(st);
    vtrace_header h = *vtrace_header_of(r);
    expect_eq_u64(h.version, 2);
    memset(c, 0, sizeof *c);
    vtrace_event ev;
    int got, n = 0;
    while ((got = vtrace_next(r, &ev)) == 1) {
        if (n < 4) {
            c->first_ids[n] = ev.id;
            c->first_ts[n] = ev.ts_us;
            c->first_types[n] = ev.type;
        }
        n++;
        expect_true(ev.need == VTRACE_NEED_NONE && ev.owner == 0); /* version 2, NEED '-' */
        if (ev.type == VTRACE_ALLOC)
            c->allocs++;
        else if (ev.type == VTRACE_FREE)
            c->frees++;
        else
            c->other++;
        c->last_ts = ev.ts_us;
    }
    if (got < 0)
        fprintf(stderr, "%s\n", vtrace_error(r));
    expect_true(got == 0);
    vtrace_close(r);
    return h;
}

/* The state at the dump (the default): the 223 live blocks of the segments
 * (the model's weights and buffers; the history allocates none of them) are
 * allocated first, in address order, with their requested sizes. Known answers
 * from a replay of the pickle by hand in Python. */
static void test_real_snapshot_state(void)
{
    vimport_stats s;
    vimport_options o = {.licence = "MIT"};
    vram_status st = vimport_torch(SNAPSHOT, OUT, &o, &s, err, sizeof err);
    if (st)
        fprintf(stderr, "%s\n", err);
    assert_ok(st);
    expect_eq_u64(s.records, 3840);
    expect_eq_u64(s.state_blocks, 223);
    expect_eq_u64(s.state_bytes, UINT64_C(1701310464)); /* requested; the blocks hold 1703276544 */
    expect_eq_u64(s.explained_blocks, 0);
    expect_eq_u64(s.allocs, 1280 + 223);
    expect_eq_u64(s.frees, 1280);
    expect_eq_u64(s.live_at_end, 223);
    expect_eq_u64(s.peak_live_bytes, UINT64_C(1736962048));
    expect_eq_u64(s.capacity, UINT64_C(1763704832)); /* the peak of reserved: the segments */
    expect_eq_u64(s.peak_reserved, UINT64_C(1763704832));
    expect_eq_u64(s.segments_at_dump, 98);
    expect_true(strstr(s.capacity_rule, "the peak of reserved bytes: 1763704832 at the dump in 98 "
                                        "segment(s), no segment events in the history") != NULL);
    expect_true(strcmp(s.allocator_settings, "expandable_segments:False") == 0);
    expect_true(s.settings_dropped[0] == '\0' && !s.no_history && !s.history_not_in_state);

    counts c;
    vtrace_header h = read_back(OUT, &c);
    expect_true(strcmp(h.allocator_settings, "expandable_segments:False") == 0);
    expect_eq_u64(c.allocs, 1503);
    expect_eq_u64(c.frees, 1280);
    /* ids 1.. in address order: 0x710000000 (40960000 B) first */
    expect_true(c.first_types[0] == VTRACE_ALLOC && c.first_ids[0] == 1 && c.first_ts[0] == 0);
    vtrace_reader *r;
    vtrace_event ev;
    assert_ok(vtrace_open(OUT, &r, err, sizeof err));
    assert_true(vtrace_next(r, &ev) == 1);
    expect_eq_u64(ev.size, 40960000);
    assert_true(vtrace_next(r, &ev) == 1);
    expect_eq_u64(ev.size, 32768);
    vtrace_close(r);
    remove(OUT);
}

/* --history-only: the history alone, as the importer did before it read the state. */
static void test_real_snapshot(void)
{
    vimport_stats s;
    vimport_options o = {.licence = "MIT", .history_only = 1};
    vram_status st = vimport_torch(SNAPSHOT, OUT, &o, &s, err, sizeof err);
    if (st)
        fprintf(stderr, "%s\n", err);
    assert_ok(st);
    expect_eq_u64(s.state_blocks, 0);
    expect_eq_u64(s.records, 3840);
    expect_eq_u64(s.allocs, 1280);
    expect_eq_u64(s.frees, 1280);
    expect_eq_u64(s.free_requested, 1280);
    expect_eq_u64(s.preexisting, 0);
    expect_eq_u64(s.live_at_end, 0);
    expect_eq_u64(s.segment_events, 0);
    expect_eq_u64(s.peak_live_bytes, 35651584);  /* replayed by hand in Python */
    expect_eq_u64(s.capacity, UINT64_C(1763704832)); /* the 98 segments' total_size */
    expect_true(strcmp(s.allocator_settings, "expandable_segments:False") == 0);

    counts c;
    vtrace_header h = read_back(OUT, &c);
    expect_true(strcmp(h.model, "torch-snapshot") == 0);
    expect_true(strcmp(h.engine, "import:torch") == 0);
    expect_true(strcmp(h.licence, "MIT") == 0);
    expect_true(strstr(h.source, "torch_snapshot_medium_ctx128_inference.pickle") != NULL);
    expect_eq_u64(h.capacity, UINT64_C(1763704832));
    expect_eq_u64(c.allocs, 1280);
    expect_eq_u64(c.frees, 1280);
    expect_eq_u64(c.other, 0);
    expect_eq_u64(c.last_ts, 42803); /* last time_us - first time_us */
    expect_true(c.first_types[0] == VTRACE_ALLOC && c.first_ids[0] == 1 && c.first_ts[0] == 0);
    expect_true(c.first_types[3] == VTRACE_FREE && c.first_ids[3] == 2); /* addr of alloc 2 freed */
    remove(OUT);

    vimport_torch_segments seg;
    assert_ok(vimport_torch_segments_read(SNAPSHOT, 0, &seg, err, sizeof err));
    expect_eq_u64(seg.n_alloc, 0); /* the ring buffer began after every segment existed */
    expect_eq_u64(seg.n_snapshot, 98);
    uint64_t small = 0;
    for (size_t i = 0; i < seg.n_snapshot; i++)
        small += !seg.snapshot_large[i];
    expect_eq_u64(small, 3);
    vimport_torch_segments_free(&seg);
}

static void test_small_snapshot(void)
{
    vimport_stats s;
    assert_ok(vimport_torch(DATA "torch_small.pickle", OUT, NULL, &s, err, sizeof err));
    expect_eq_u64(s.records, 12);
    expect_eq_u64(s.preexisting, 1);   /* addr 4096: freed, never allocated in the trace */
    expect_eq_u64(s.allocs, 4);        /* 1 pre-existing + 3 */
    expect_eq_u64(s.frees, 2);
    expect_eq_u64(s.live_at_end, 2);
    expect_eq_u64(s.free_requested, 2);
    expect_eq_u64(s.segment_events, 3);
    expect_eq_u64(s.failures, 1);      /* the oom entry */
    expect_eq_u64(s.snapshots, 1);
    expect_eq_u64(s.clamped_ts, 1);    /* time_us 999 after 1003 */
    expect_eq_u64(s.peak_live_bytes, 1024 + 512 + 10485760);
    /* device 0's segments (22 MiB, not device 1's 2 MiB) walked back through its segment
     * events (+2, +20, -20 MiB: 20 MiB at the start) peak at 42 MiB; the oom (0 bytes free,
     * 22 MiB reserved then) is below */
    expect_eq_u64(s.reserved_at_dump, 2097152 + 20971520);
    expect_eq_u64(s.peak_reserved, 44040192);
    expect_eq_u64(s.oom_capacity, 23068672);
    expect_eq_u64(s.capacity, 44040192);
    expect_true(s.state_blocks == 0 && s.allocator_settings[0] == '\0'); /* no blocks, no settings */

    counts c;
    vtrace_header h = read_back(OUT, &c);
    expect_true(strcmp(h.licence, "unknown") == 0);
    /* alloc 1 (pre-existing) @0, free 1 @1, alloc 2 @3, alloc 3 @3 (clamped) */
    expect_true(c.first_types[0] == VTRACE_ALLOC && c.first_ids[0] == 1 && c.first_ts[0] == 0);
    expect_true(c.first_types[1] == VTRACE_FREE && c.first_ids[1] == 1 && c.first_ts[1] == 1);
    expect_true(c.first_types[2] == VTRACE_ALLOC && c.first_ids[2] == 2 && c.first_ts[2] == 3);
    expect_true(c.first_types[3] == VTRACE_ALLOC && c.first_ids[3] == 3 && c.first_ts[3] == 3);
    expect_eq_u64(c.allocs, 4);
    expect_eq_u64(c.frees, 2);

    remove(OUT);
    /* Device 1: no trace entries, a segment without live blocks: nothing to replay. */
    vimport_options o = {.device = 1, .capacity = 1u << 30, .source = "hand-made"};
    expect_status(vimport_torch(DATA "torch_small.pickle", OUT, &o, &s, err, sizeof err),
                  VRAM_EINVAL);
    expect_true(strstr(err, "torch_small.pickle: device 1 has no trace entries and its 1 segment(s) "
                            "hold no live block: nothing to replay") != NULL);
    o.history_only = 1;
    expect_status(vimport_torch(DATA "torch_small.pickle", OUT, &o, &s, err, sizeof err),
                  VRAM_EINVAL);
    expect_true(strstr(err, "torch_small.pickle: device 1 has no trace entries (was the history "
                            "recorded, torch.cuda.memory._record_memory_history?): --history-only "
                            "leaves nothing to import; without it the 0 live block(s) at the dump "
                            "are imported") != NULL);
    expect_true(access(OUT, F_OK) != 0);

    vimport_torch_segments seg;
    assert_ok(vimport_torch_segments_read(DATA "torch_small.pickle", 0, &seg, err, sizeof err));
    expect_eq_u64(seg.n_alloc, 2);
    expect_eq_u64(seg.alloc_sizes[0], 2097152);
    expect_eq_u64(seg.alloc_sizes[1], 20971520);
    expect_eq_u64(seg.n_snapshot, 2);
    expect_true(seg.snapshot_large[0] == 0 && seg.snapshot_large[1] == 1);
    vimport_torch_segments_free(&seg);
}

/* A failed import reports where and leaves neither OUT nor OUT.tmp. */
static void expect_failure(const char *in, int device, vram_status want, const char *msg)
{
    vimport_options o = {.device = device};
    expect_status(vimport_torch(in, OUT, &o, NULL, err, sizeof err), want);
    if (!strstr(err, msg)) {
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err, msg);
        test_failures++;
    }
    expect_true(access(OUT, F_OK) != 0);
    expect_true(access(OUT ".tmp", F_OK) != 0);
}

static void test_failures_(void)
{
    expect_failure(DATA "torch_bad_action.pickle", 0, VRAM_EPARSE,
                   "torch_bad_action.pickle: device_traces[0][1]: unknown action 'realloc'");
    expect_failure(DATA "torch_double_free.pickle", 0, VRAM_EPARSE,
                   "device_traces[0][2]: free of 0x0, which was freed already");
    expect_failure(DATA "torch_global.pickle", 0, VRAM_EPARSE, "opcode STACK_GLOBAL (0x93) refused");
    expect_failure(DATA "torch_small.pickle", 2, VRAM_ENOTFOUND,
                   "torch_small.pickle: no trace for device 2 (the snapshot has 2 device trace(s), "
                   "segments on device(s) 0 and 1)");
    expect_failure(DATA "no_such_file.pickle", 0, VRAM_EIO, "cannot open");
    expect_failure(DATA "rmm_sample.csv", 0, VRAM_EPARSE, "expected PROTO");
    /* An unwritable output: the directory does not exist. */
    expect_status(vimport_torch(DATA "torch_small.pickle", "no/such/dir/x.trace", NULL, NULL, err,
                                sizeof err), VRAM_EIO);
    expect_true(strstr(err, "no/such/dir/x.trace.tmp: cannot write") != NULL);
}

int main(void)
{
    test_real_snapshot_state();
    test_real_snapshot();
    test_small_snapshot();
    test_failures_();
    return test_finish("import_torch");
}
