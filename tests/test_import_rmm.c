/* test_import_rmm.c - the RMM log importer on the hand-made sample in tests/data
 * (README_import.md) and on one small malformed log per error class. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "import.h"
#include "testlib.h"
#include "trace.h"

#define SAMPLE VRAM_SOURCE_DIR "/tests/data/rmm_sample.csv"
#define IN "import_rmm_in.csv"
#define OUT "import_rmm_out.trace"
#define HDR "Thread,Time,Action,Pointer,Size,Stream\n"

static char err[1024];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_true(f != NULL);
    fputs(text, f);
    assert_true(fclose(f) == 0);
}

static void test_sample(void)
{
    vimport_stats s;
    vram_status st = vimport_rmm(SAMPLE, OUT, NULL, &s, err, sizeof err);
    if (st)
        fprintf(stderr, "%s\n", err);
    assert_ok(st);
    expect_eq_u64(s.records, 24);
    expect_eq_u64(s.failures, 2);
    expect_eq_u64(s.preexisting, 2);
    expect_eq_u64(s.allocs, 13); /* 11 logged + 2 pre-existing */
    expect_eq_u64(s.frees, 11);
    expect_eq_u64(s.live_at_end, 2);
    expect_eq_u64(s.clamped_ts, 1);
    expect_eq_u64(s.peak_live_bytes, 61608448);
    expect_eq_u64(s.capacity, UINT64_C(1) << 30); /* the peak rounded up to a GiB */

    vtrace_reader *r = NULL;
    assert_ok(vtrace_open(OUT, &r, err, sizeof err));
    const vtrace_header *h = vtrace_header_of(r);
    expect_true(strcmp(h->engine, "import:rmm") == 0);
    expect_true(strcmp(h->model, "rmm-log") == 0);
    expect_true(strstr(h->source, "rmm_sample.csv") != NULL);
    expect_eq_u64(h->capacity, UINT64_C(1) << 30);
    expect_eq_u64(h->version, 2); /* NEED '-' on every alloc, no version-2 header keys */
    expect_eq_u64(h->kv_token_bytes, 0);
    expect_eq_u64(h->prefill_tokens_per_s, 0);
    /* The expected events, worked out by hand from the sample. */
    static const struct {
        vtrace_type type;
        uint64_t id, size, ts;
    } want[] = {
        {VTRACE_ALLOC, 1, 4194304, 0},   /* pre-existing 0x7f3a2c000000 */
        {VTRACE_ALLOC, 2, 2097152, 0},   /* pre-existing 0x7f3a2d000000 */
        {VTRACE_FREE, 1, 0, 0},          /* line 2 */
        {VTRACE_ALLOC, 3, 1048576, 319}, /* line 3: 14:03:07:104530 - 104211 */
        {VTRACE_ALLOC, 4, 262144, 407},
        {VTRACE_ALLOC, 5, 8000000, 491},
        {VTRACE_ALLOC, 6, 33554432, 790},
        {VTRACE_FREE, 4, 0, 790},        /* line 7: time went back 11 us, clamped */
        {VTRACE_ALLOC, 7, 131072, 1100}, /* the pointer of id 4, reused */
        {VTRACE_ALLOC, 8, 16777216, 1779}, /* line 9, the failure, left out */
        {VTRACE_FREE, 2, 0, 1909},       /* line 11: the second pre-existing block */
    };
    vtrace_event ev;
    size_t n = 0;
    uint64_t allocs = 0, frees = 0;
    int got;
    while ((got = vtrace_next(r, &ev)) == 1) {
        if (n < sizeof want / sizeof want[0]) {
            expect_true(ev.type == want[n].type);
            expect_eq_u64(ev.id, want[n].id);
            if (ev.type == VTRACE_ALLOC)
                expect_eq_u64(ev.size, want[n].size);
            expect_eq_u64(ev.ts_us, want[n].ts);
        }
        n++;
        expect_true(ev.need == VTRACE_NEED_NONE && ev.owner == 0);
        expect_true(ev.type == VTRACE_ALLOC || ev.type == VTRACE_FREE);
        allocs += ev.type == VTRACE_ALLOC;
        frees += ev.type == VTRACE_FREE;
    }
    expect_true(got == 0);
    expect_eq_u64(allocs, 13);
    expect_eq_u64(frees, 11);
    vtrace_close(r);

    vimport_options o = {.capacity = UINT64_C(80) << 30, .licence = "CC0-1.0"};
    assert_ok(vimport_rmm(SAMPLE, OUT ".gz", &o, &s, err, sizeof err));
    assert_ok(vtrace_open(OUT ".gz", &r, err, sizeof err));
    expect_eq_u64(vtrace_header_of(r)->capacity, UINT64_C(80) << 30);
    expect_true(strcmp(vtrace_header_of(r)->licence, "CC0-1.0") == 0);
    vtrace_close(r);
    remove(OUT ".gz");
    remove(OUT);
}

/* The other time formats, CRLF line ends, blank lines, midnight. */
static void test_time_formats(void)
{
    write_file(IN, HDR "1,23:59:59.999000,allocate,0x1000,256,0\r\n"
                       "\r\n"
                       "1,00:00:00.000500,free,1000,256,0\r\n"); /* next day: 1500 us later */
    vimport_options o = {.capacity = 1 << 20};
    assert_ok(vimport_rmm(IN, OUT, &o, NULL, err, sizeof err));
    vtrace_reader *r = NULL;
    vtrace_event ev;
    assert_ok(vtrace_open(OUT, &r, err, sizeof err));
    expect_true(vtrace_next(r, &ev) == 1 && ev.ts_us == 0);
    expect_true(vtrace_next(r, &ev) == 1 && ev.type == VTRACE_FREE && ev.ts_us == 1500);
    vtrace_close(r);

    write_file(IN, HDR "7,1634567890.123456,allocate,0x7f8a40000000,1024,0x7f8a38001020\n"
                       "7,1634567890.5,deallocate,0x7f8a40000000,1024,0x7f8a38001020");
    assert_ok(vimport_rmm(IN, OUT, &o, NULL, err, sizeof err));
    assert_ok(vtrace_open(OUT, &r, err, sizeof err));
    expect_true(vtrace_next(r, &ev) == 1 && ev.ts_us == 0);
    expect_true(vtrace_next(r, &ev) == 1 && ev.ts_us == 376544);
    vtrace_close(r);
    remove(OUT);
}

/* A malformed log: the status, the message (with file:line), and no output left. */
static void expect_bad(const char *text, vram_status want, const char *msg)
{
    write_file(IN, text);
    expect_status(vimport_rmm(IN, OUT, NULL, NULL, err, sizeof err), want);
    if (!strstr(err, msg)) {
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err, msg);
        test_failures++;
    }
    expect_true(access(OUT, F_OK) != 0);
    expect_true(access(OUT ".tmp", F_OK) != 0);
}

#define ROW_OK "1,10:00:00:000001,allocate,0x1000,256,0x0\n"

static void test_errors(void)
{
    expect_bad("", VRAM_EPARSE, IN ":1: empty file");
    expect_bad("Thread,Time,Action,Pointer,Size\n", VRAM_EPARSE, IN ":1: expected the header");
    expect_bad(HDR ROW_OK "1,10:00:00:000002,allocate,0x2000,256\n", VRAM_EPARSE,
               IN ":3: expected 6 comma-separated columns");
    expect_bad(HDR "1,10:00:00:000002,allocate,0x2000,256,0,7\n", VRAM_EPARSE,
               IN ":2: expected 6 comma-separated columns (Thread,Time,Action,Pointer,Size,Stream), "
                  "found more");
    expect_bad(HDR "t1,10:00:00:1,allocate,0x2000,256,0\n", VRAM_EPARSE,
               IN ":2: column 1 (Thread): expected a thread id");
    expect_bad(HDR "1,25:00:00:1,allocate,0x2000,256,0\n", VRAM_EPARSE, "column 2 (Time)");
    expect_bad(HDR "1,10:00,allocate,0x2000,256,0\n", VRAM_EPARSE, "found '10:00'");
    expect_bad(HDR "1,10:00:00:1,alloc,0x2000,256,0\n", VRAM_EPARSE,
               IN ":2: column 3 (Action): expected allocate, free or allocate failure, found 'alloc'");
    expect_bad(HDR "1,10:00:00:1,allocate,0xZZ,256,0\n", VRAM_EPARSE, "column 4 (Pointer)");
    expect_bad(HDR "1,10:00:00:1,allocate,(nil),256,0\n", VRAM_EPARSE, "found '(nil)'");
    expect_bad(HDR "1,10:00:00:1,allocate,0x2000,-5,0\n", VRAM_EPARSE,
               "column 5 (Size): expected decimal bytes, found '-5'");
    expect_bad(HDR "1,10:00:00:1,allocate,0x2000,99999999999999999999,0\n", VRAM_EPARSE,
               "column 5 (Size)");
    expect_bad(HDR "1,10:00:00:1,allocate,0x2000,256,stream\n", VRAM_EPARSE, "column 6 (Stream)");
    expect_bad(HDR "1,10:00:00:1,allocate,0x2000,0,0\n", VRAM_EPARSE, IN ":2: size 0");
    expect_bad(HDR ROW_OK "1,10:00:00:2,allocate,0x1000,512,0\n", VRAM_EPARSE,
               IN ":3: alloc of 0x1000, which is live");
    expect_bad(HDR ROW_OK "1,10:00:00:2,free,0x1000,512,0\n", VRAM_EPARSE,
               IN ":3: free of 0x1000 with size 512, but the block was allocated with size 256");
    expect_bad(HDR ROW_OK "1,10:00:00:2,free,0x1000,256,0\n1,10:00:00:3,free,0x1000,256,0\n",
               VRAM_EPARSE, IN ":4: free of 0x1000, which was freed already (double free)");
    expect_bad(HDR "1,10:00:00:1,allocate,0x1000,5000000000000000000,0\n"
                   "1,10:00:00:2,allocate,0x2000,5000000000000000000,0\n",
               VRAM_EPARSE, IN ":3: the allocated sizes add up to more than 2^63-1 bytes");
    expect_bad(HDR "1,10:00:00:1,allocate failure,(nil),256,0\n", VRAM_EINVAL,
               "nothing is allocated");
    char longline[2000];
    memset(longline, '1', sizeof longline - 1);
    longline[sizeof longline - 1] = '\0';
    char text[2100];
    snprintf(text, sizeof text, HDR "%s\n", longline);
    expect_bad(text, VRAM_EPARSE, IN ":2: line longer than");
    remove(IN);
    expect_status(vimport_rmm("no_such_log.csv", OUT, NULL, NULL, err, sizeof err), VRAM_EIO);
    expect_true(strstr(err, "no_such_log.csv: cannot open") != NULL);
}

static void test_nul_byte(void)
{
    FILE *f = fopen(IN, "wb");
    assert_true(f != NULL);
    static const char text[] = HDR "1,10:00:00:1,allocate,0x1\0" "000,256,0\n";
    fwrite(text, 1, sizeof text - 1, f);
    assert_true(fclose(f) == 0);
    expect_status(vimport_rmm(IN, OUT, NULL, NULL, err, sizeof err), VRAM_EPARSE);
    expect_true(strstr(err, IN ":2: NUL byte in the line") != NULL);
    remove(IN);
}

int main(void)
{
    test_sample();
    test_time_formats();
    test_errors();
    test_nul_byte();
    return test_finish("import_rmm");
}
