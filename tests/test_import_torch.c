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

static void test_real_snapshot(void)
{
    vimport_stats s;
    vimport_options o = {.licence = "MIT"};
    vram_status st = vimport_torch(SNAPSHOT, OUT, &o, &s, err, sizeof err);
    if (st)
        fprintf(stderr, "%s\n", err);
    assert_ok(st);
    expect_eq_u64(s.records, 3840);
    expect_eq_u64(s.allocs, 1280);
    expect_eq_u64(s.frees, 1280);
    expect_eq_u64(s.free_requested, 1280);
    expect_eq_u64(s.preexisting, 0);
    expect_eq_u64(s.live_at_end, 0);
    expect_eq_u64(s.segment_events, 0);
    expect_eq_u64(s.peak_live_bytes, 35651584);  /* replayed by hand in Python */
    expect_eq_u64(s.capacity, UINT64_C(1763704832)); /* the 98 segments' total_size */

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
    expect_eq_u64(s.capacity, 2097152 + 20971520); /* device 0's segments, not device 1's */

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

    vimport_options o = {.device = 1, .capacity = 1u << 30, .source = "hand-made"};
    assert_ok(vimport_torch(DATA "torch_small.pickle", OUT, &o, &s, err, sizeof err));
    h = read_back(OUT, &c);
    expect_eq_u64(h.capacity, 1u << 30);
    expect_true(strcmp(h.source, "hand-made") == 0);
    expect_eq_u64(c.allocs + c.frees, 0);
    remove(OUT);

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
    expect_failure(DATA "torch_small.pickle", 2, VRAM_ENOTFOUND, "no trace for device 2");
    expect_failure(DATA "no_such_file.pickle", 0, VRAM_EIO, "cannot open");
    expect_failure(DATA "rmm_sample.csv", 0, VRAM_EPARSE, "expected PROTO");
    /* An unwritable output: the directory does not exist. */
    expect_status(vimport_torch(DATA "torch_small.pickle", "no/such/dir/x.trace", NULL, NULL, err,
                                sizeof err), VRAM_EIO);
    expect_true(strstr(err, "no/such/dir/x.trace.tmp: cannot write") != NULL);
}

int main(void)
{
    test_real_snapshot();
    test_small_snapshot();
    test_failures_();
    return test_finish("import_torch");
}
