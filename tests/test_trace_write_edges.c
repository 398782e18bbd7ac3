/* test_trace_write_edges.c - the edges of the trace's text I/O: the writer's
 * refusals (every header and event field the reader would refuse; in a
 * version-1 trace, version 2's NEED, pin/unpin and header keys), the text of
 * each version-2 construct written and read back, comments,
 * a full disk (/dev/full) at each kind of write; the output file's begin,
 * commit and abort (a rename that fails, outputs written in place); and the
 * line source's argument checks and inputs larger than its buffer. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lines.h"
#include "testlib.h"
#include "trace.h"

#define OUT "trace_write_edges.trace"

static vtrace_header good_header(void)
{
    vtrace_header h = {.version = VTRACE_VERSION, .capacity = 1 << 20};
    strcpy(h.model, "m");
    strcpy(h.engine, "e\tx"); /* a tab inside a text is allowed */
    return h;
}

static void expect_header_refused(const vtrace_header *h, const char *what)
{
    vtrace_writer *w = (vtrace_writer *)1;
    vram_status st = vtrace_writer_open(OUT, h, &w);
    if (st != VRAM_EINVAL || w != NULL) {
        fprintf(stderr, "header with %s: %s, wanted EINVAL and no writer\n", what, vram_strerror(st));
        test_failures++;
    }
    expect_true(access(OUT, F_OK) != 0); /* nothing was created */
}

static void test_header_refusals(void)
{
    vtrace_writer *w = (vtrace_writer *)1;
    vtrace_header h = good_header();
    expect_status(vtrace_writer_open(NULL, &h, &w), VRAM_EINVAL);
    expect_true(w == NULL);
    expect_status(vtrace_writer_open_as(OUT, NULL, 0, &w), VRAM_EINVAL);

    h.version = VTRACE_VERSION + 1;
    expect_header_refused(&h, "version 3");
    h.version = 0;
    expect_header_refused(&h, "version 0");
    h = good_header();
    h.version = 1;
    h.kv_token_bytes = 81920;
    expect_header_refused(&h, "kv_token_bytes in a version-1 header");
    h.kv_token_bytes = 0;
    h.prefill_tokens_per_s = 16667;
    expect_header_refused(&h, "prefill_tokens_per_s in a version-1 header");
    h.prefill_tokens_per_s = 0;
    strcpy(h.allocator_settings, "expandable_segments:True");
    expect_header_refused(&h, "allocator_settings in a version-1 header");
    h = good_header();
    strcpy(h.allocator_settings, "expandable_segments:True\n");
    expect_header_refused(&h, "a newline in allocator_settings");
    h = good_header();
    h.kv_token_bytes = UINT64_C(1) << 63;
    expect_header_refused(&h, "kv_token_bytes 2^63");
    h = good_header();
    h.prefill_tokens_per_s = UINT64_C(1) << 63;
    expect_header_refused(&h, "prefill_tokens_per_s 2^63");
    h = good_header();
    h.model[0] = '\0';
    expect_header_refused(&h, "an empty model");
    h = good_header();
    strcpy(h.model, " m");
    expect_header_refused(&h, "a model with a leading blank");
    strcpy(h.model, "m\t");
    expect_header_refused(&h, "a model with a trailing tab");
    memset(h.model, 'm', VTRACE_TEXT_MAX); /* no NUL within the field */
    expect_header_refused(&h, "a model without its NUL");
    h = good_header();
    strcpy(h.engine, "e\x01");
    expect_header_refused(&h, "a control byte in the engine");
    h = good_header();
    strcpy(h.source, "s\x7f");
    expect_header_refused(&h, "DEL in the source");
    h = good_header();
    strcpy(h.licence, " CC0");
    expect_header_refused(&h, "a licence with a leading blank");
    h = good_header();
    h.capacity = 0;
    expect_header_refused(&h, "capacity 0");
    h.capacity = UINT64_C(1) << 63;
    expect_header_refused(&h, "capacity 2^63");
    h = good_header();
    h.kv_block_bytes = UINT64_C(1) << 63;
    expect_header_refused(&h, "kv_block_bytes 2^63");

    /* A two-byte name is too short to end in ".gz": plain text. */
    h = good_header();
    assert_ok(vtrace_writer_open("tw", &h, &w));
    assert_ok(vtrace_writer_close(w));
    FILE *f = fopen("tw", "rb");
    char first[16] = "";
    assert_true(f && fgets(first, sizeof first, f));
    fclose(f);
    expect_true(strcmp(first, "vramtrace 2\n") == 0);
    remove("tw");
    h.version = 1; /* the version the header says */
    assert_ok(vtrace_writer_open("tw", &h, &w));
    assert_ok(vtrace_writer_close(w));
    f = fopen("tw", "rb");
    assert_true(f && fgets(first, sizeof first, f));
    fclose(f);
    expect_true(strcmp(first, "vramtrace 1\n") == 0);
    remove("tw");
    h.version = VTRACE_VERSION;
    expect_status(vtrace_writer_close(NULL), VRAM_OK);

    /* Every optional header line, gzip by the name; read back as written. */
    h.kv_block_bytes = 65536;
    strcpy(h.source, "hand-made");
    strcpy(h.licence, "CC0-1.0");
    h.kv_token_bytes = 4096;
    h.prefill_tokens_per_s = (UINT64_C(1) << 63) - 1;
    strcpy(h.allocator_settings, "expandable_segments:True");
    assert_ok(vtrace_writer_open(OUT ".gz", &h, &w));
    assert_ok(vtrace_writer_close(w));
    vtrace_reader *r;
    char err[256];
    assert_ok(vtrace_open(OUT ".gz", &r, err, sizeof err));
    const vtrace_header *got = vtrace_header_of(r);
    expect_true(strcmp(got->model, "m") == 0 && strcmp(got->engine, "e\tx") == 0);
    expect_eq_u64(got->capacity, 1 << 20);
    expect_eq_u64(got->kv_block_bytes, 65536);
    expect_true(strcmp(got->source, "hand-made") == 0 && strcmp(got->licence, "CC0-1.0") == 0);
    expect_eq_u64(got->version, 2);
    expect_eq_u64(got->kv_token_bytes, 4096);
    expect_eq_u64(got->prefill_tokens_per_s, (UINT64_C(1) << 63) - 1);
    expect_true(strcmp(got->allocator_settings, "expandable_segments:True") == 0);
    vtrace_close(r);
    remove(OUT ".gz");
    /* A file that cannot be created: EIO, errno says why. */
    errno = 0;
    expect_status(vtrace_writer_open("no/such/dir/x.trace", &h, &w), VRAM_EIO);
    expect_true(w == NULL && errno == ENOENT);
}

static vtrace_event alloc_ev(uint64_t id)
{
    vtrace_event e = {.type = VTRACE_ALLOC, .id = id, .size = 4096, .kind = VRAM_KIND_KV};
    return e;
}

static vtrace_event key_ev(vtrace_type t, const char *key)
{
    vtrace_event e = {.type = t, .size = 512};
    snprintf(e.key, sizeof e.key, "%s", key);
    return e;
}

static void test_event_refusals(void)
{
    vtrace_header h = good_header();
    vtrace_writer *w;
    assert_ok(vtrace_writer_open(OUT, &h, &w));
    vtrace_event e = alloc_ev(1);
    e.ts_us = 10;
    assert_ok(vtrace_write(w, &e));

    struct {
        vtrace_event ev;
        const char *what;
    } bad[32];
    int n = 0;
#define BAD(expr, text) (bad[n].ev = (expr), bad[n].what = (text), n++)
    BAD(alloc_ev(2), "a timestamp going back");
    bad[n - 1].ev.ts_us = 9;
    BAD(alloc_ev(2), "type VTRACE_TYPE_COUNT");
    bad[n - 1].ev.type = VTRACE_TYPE_COUNT;
    BAD(alloc_ev(2), "size 0");
    bad[n - 1].ev.size = 0;
    BAD(alloc_ev(2), "size 2^63");
    bad[n - 1].ev.size = UINT64_C(1) << 63;
    BAD(alloc_ev(2), "alignment 3");
    bad[n - 1].ev.align = 3;
    BAD(alloc_ev(2), "alignment 2^31");
    bad[n - 1].ev.align = UINT64_C(1) << 31;
    BAD(alloc_ev(2), "kind VRAM_KIND_COUNT");
    bad[n - 1].ev.kind = VRAM_KIND_COUNT;
    BAD(alloc_ev(2), "priority -1");
    bad[n - 1].ev.priority = -1;
    BAD(key_ev(VTRACE_SHARED_ACQUIRE, ""), "an empty key");
    BAD(key_ev(VTRACE_SHARED_ACQUIRE, "a key"), "a blank in the key");
    BAD(key_ev(VTRACE_SHARED_ACQUIRE, "k\x7f"), "DEL in the key");
    BAD(key_ev(VTRACE_SHARED_ACQUIRE, "k"), "acquire size 0");
    bad[n - 1].ev.size = 0;
    BAD(key_ev(VTRACE_SHARED_ACQUIRE, "k"), "acquire size 2^63");
    bad[n - 1].ev.size = UINT64_C(1) << 63;
    BAD(key_ev(VTRACE_SHARED_ACQUIRE, "k"), "acquire priority -1");
    bad[n - 1].ev.priority = -1;
    BAD(key_ev(VTRACE_SHARED_RELEASE, ""), "a release of an empty key");
    BAD(key_ev(VTRACE_SHARED_RELEASE, "k"), "a key of 64 bytes (no NUL in the field)");
    memset(bad[n - 1].ev.key, 'k', VTRACE_KEY_MAX);
    BAD(alloc_ev(2), "alloc need 3");
    bad[n - 1].ev.need = (vtrace_need)3;
    BAD(key_ev(VTRACE_SHARED_ACQUIRE, "k"), "acquire need 3");
    bad[n - 1].ev.need = (vtrace_need)3;
    BAD(key_ev(VTRACE_SHARED_RELEASE, "k"), "release need -1");
    bad[n - 1].ev.need = (vtrace_need)-1;
#undef BAD
    assert_true(n <= (int)(sizeof bad / sizeof bad[0]));
    for (int i = 0; i < n; i++) {
        if (bad[i].ev.ts_us == 0)
            bad[i].ev.ts_us = 10;
        vram_status st = vtrace_write(w, &bad[i].ev);
        if (st != VRAM_EINVAL) {
            fprintf(stderr, "event with %s: %s, wanted EINVAL\n", bad[i].what, vram_strerror(st));
            test_failures++;
        }
    }
    /* Comments: an empty one, a tab inside, at most 4000 bytes, no newline. */
    assert_ok(vtrace_write_comment(w, ""));
    assert_ok(vtrace_write_comment(w, "a\tb"));
    static char text[4002];
    memset(text, 'c', 4001);
    expect_status(vtrace_write_comment(w, text), VRAM_EINVAL);
    text[4000] = '\0';
    assert_ok(vtrace_write_comment(w, text));
    expect_status(vtrace_write_comment(w, "two\nlines"), VRAM_EINVAL);
    /* Comments alone past the writer's 64 KiB buffer: it flushes between lines. */
    for (int i = 0; i < 20; i++)
        assert_ok(vtrace_write_comment(w, text));
    vtrace_event rel = key_ev(VTRACE_SHARED_RELEASE, "k");
    rel.ts_us = 11;
    assert_ok(vtrace_write(w, &rel));
    assert_ok(vtrace_writer_close(w));

    /* Only the valid events are in the file, which reads back. */
    vtrace_reader *r;
    char err[256];
    assert_ok(vtrace_open(OUT, &r, err, sizeof err));
    vtrace_event got;
    assert_true(vtrace_next(r, &got) == 1);
    expect_true(got.type == VTRACE_ALLOC && got.id == 1 && got.ts_us == 10);
    assert_true(vtrace_next(r, &got) == 1);
    expect_true(got.type == VTRACE_SHARED_RELEASE && strcmp(got.key, "k") == 0 && got.ts_us == 11);
    expect_true(vtrace_next(r, &got) == 0);
    vtrace_close(r);
    /* The empty comment is the line "#". */
    FILE *f = fopen(OUT, "rb");
    static char buf[1 << 18];
    size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[len] = '\0';
    expect_true(strstr(buf, "\n#\n# a\tb\n") != NULL);
    remove(OUT);
}

/* The whole file as text ("" if it cannot be read). */
static const char *slurp(const char *path)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "rb");
    size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[len] = '\0';
    return buf;
}

/* A version-1 writer refuses version 2's NEED and pin/unpin (the reader would
 * refuse them there) and writes alloc, acquire and release without NEED. */
static void test_version1_writer(void)
{
    vtrace_header h = good_header();
    h.version = 1;
    vtrace_writer *w;
    assert_ok(vtrace_writer_open(OUT, &h, &w));
    vtrace_event a = alloc_ev(1), acq = key_ev(VTRACE_SHARED_ACQUIRE, "k"), rel = key_ev(VTRACE_SHARED_RELEASE, "k");
    vtrace_event pin = {.type = VTRACE_PIN, .id = 1}, unpin = {.type = VTRACE_UNPIN, .id = 1};
    static const vtrace_need needs[] = {VTRACE_NEED_ENGINE, VTRACE_NEED_REQUEST};
    for (size_t i = 0; i < 2; i++) {
        a.need = acq.need = rel.need = needs[i];
        a.owner = acq.owner = rel.owner = i; /* engine, then request 1 */
        expect_status(vtrace_write(w, &a), VRAM_EINVAL);
        expect_status(vtrace_write(w, &acq), VRAM_EINVAL);
        expect_status(vtrace_write(w, &rel), VRAM_EINVAL);
    }
    expect_status(vtrace_write(w, &pin), VRAM_EINVAL);
    expect_status(vtrace_write(w, &unpin), VRAM_EINVAL);
    a.need = acq.need = rel.need = VTRACE_NEED_NONE;
    a.owner = acq.owner = rel.owner = 0;
    assert_ok(vtrace_write(w, &a));
    assert_ok(vtrace_write(w, &acq));
    assert_ok(vtrace_write(w, &rel));
    assert_ok(vtrace_writer_close(w));
    expect_true(strcmp(slurp(OUT), "vramtrace 1\nmodel m\nengine e\tx\ncapacity 1048576\n"
                                   "alloc 1 4096 0 kv 0\nacquire k 512 0\nrelease k\n") == 0);
    vtrace_reader *r;
    char err[256];
    assert_ok(vtrace_open(OUT, &r, err, sizeof err));
    vtrace_event got;
    int n = 0;
    while (vtrace_next(r, &got) == 1) {
        expect_true(got.need == VTRACE_NEED_NONE && got.owner == 0);
        n++;
    }
    expect_eq_u64(n, 3);
    expect_true(strcmp(vtrace_error(r), "") == 0);
    vtrace_close(r);
    remove(OUT);
}

/* Each version-2 construct as the writer spells it, and read back the same. */
static void test_version2_text(void)
{
    vtrace_header h = good_header();
    h.kv_token_bytes = 81920;
    h.prefill_tokens_per_s = 16667;
    vtrace_writer *w;
    assert_ok(vtrace_writer_open(OUT, &h, &w));
    vtrace_event evs[9];
    evs[0] = key_ev(VTRACE_SHARED_ACQUIRE, "base:m:embed");
    evs[0].need = VTRACE_NEED_ENGINE;
    evs[1] = alloc_ev(1);
    evs[1].kind = VRAM_KIND_WEIGHT;
    evs[1].need = VTRACE_NEED_ENGINE;
    evs[2] = alloc_ev(9);
    evs[2].kind = VRAM_KIND_ADAPTER;
    evs[3] = (vtrace_event){.type = VTRACE_PIN, .id = 9, .ts_us = 5150};
    evs[4] = alloc_ev(2);
    evs[4].need = VTRACE_NEED_REQUEST;
    evs[4].owner = 17;
    evs[4].ts_us = 5150;
    evs[5] = key_ev(VTRACE_SHARED_RELEASE, "kv:1");
    evs[5].need = VTRACE_NEED_REQUEST;
    evs[5].owner = UINT64_MAX;
    evs[5].ts_us = 5150;
    evs[6] = (vtrace_event){.type = VTRACE_UNPIN, .id = 9, .ts_us = 9000};
    evs[7] = key_ev(VTRACE_SHARED_RELEASE, "base:m:embed");
    evs[7].need = VTRACE_NEED_ENGINE;
    evs[7].ts_us = 9000;
    evs[8] = key_ev(VTRACE_SHARED_RELEASE, "kv:1");
    evs[8].ts_us = 9000;
    for (size_t i = 0; i < 9; i++)
        assert_ok(vtrace_write(w, &evs[i]));
    assert_ok(vtrace_writer_close(w));
    const char *want = "vramtrace 2\nmodel m\nengine e\tx\ncapacity 1048576\nkv_token_bytes 81920\n"
                       "prefill_tokens_per_s 16667\n"
                       "acquire base:m:embed 512 0 engine\n"
                       "alloc 1 4096 0 weight 0 engine\n"
                       "alloc 9 4096 0 adapter 0 -\n"
                       "@5150 pin 9\n"
                       "alloc 2 4096 0 kv 0 17\n"
                       "release kv:1 18446744073709551615\n"
                       "@9000 unpin 9\n"
                       "release base:m:embed engine\n"
                       "release kv:1 -\n";
    const char *got_text = slurp(OUT);
    if (strcmp(got_text, want) != 0) {
        fprintf(stderr, "version-2 text:\n%s\nwanted:\n%s\n", got_text, want);
        test_failures++;
    }
    vtrace_reader *r;
    char err[256];
    assert_ok(vtrace_open(OUT, &r, err, sizeof err));
    expect_eq_u64(vtrace_header_of(r)->kv_token_bytes, 81920);
    expect_eq_u64(vtrace_header_of(r)->prefill_tokens_per_s, 16667);
    vtrace_event got;
    for (size_t i = 0; i < 9; i++) {
        assert_true(vtrace_next(r, &got) == 1);
        expect_true(got.type == evs[i].type && got.need == evs[i].need && got.owner == evs[i].owner &&
                    got.id == evs[i].id && got.ts_us == evs[i].ts_us && strcmp(got.key, evs[i].key) == 0);
    }
    expect_true(vtrace_next(r, &got) == 0);
    vtrace_close(r);
    remove(OUT);
}

/* /dev/full takes the open and fails the first write that reaches it. */
static void test_full_disk(void)
{
    vtrace_header h = good_header();
    vtrace_writer *w;
    /* Events: the writer's flush fails once zlib's own buffer fills. */
    assert_ok(vtrace_writer_open_as("/dev/full", &h, 0, &w));
    vram_status st = VRAM_OK;
    uint64_t id = 1;
    for (; id < 100000 && st == VRAM_OK; id++) {
        vtrace_event e = alloc_ev(id);
        st = vtrace_write(w, &e);
    }
    expect_status(st, VRAM_EIO);
    expect_true(errno == ENOSPC);
    expect_true(id < 20000); /* within a few hundred KiB */
    /* Every later call says so again, with the first failure's errno. */
    errno = 0;
    vtrace_event e = alloc_ev(id);
    expect_status(vtrace_write(w, &e), VRAM_EIO);
    expect_true(errno == ENOSPC);
    errno = 0;
    expect_status(vtrace_write_comment(w, "late"), VRAM_EIO);
    expect_true(errno == ENOSPC);
    errno = 0;
    expect_status(vtrace_writer_close(w), VRAM_EIO);
    expect_true(errno == ENOSPC);

    /* Comments: the flush before a line fails the same way. */
    assert_ok(vtrace_writer_open_as("/dev/full", &h, 0, &w));
    static char text[4001];
    memset(text, 'c', 4000);
    st = VRAM_OK;
    int i = 0;
    for (; i < 200 && st == VRAM_OK; i++)
        st = vtrace_write_comment(w, text);
    expect_status(st, VRAM_EIO);
    expect_true(errno == ENOSPC);
    expect_true(i > 16); /* the first 64 KiB went to zlib's buffer */
    expect_status(vtrace_writer_close(w), VRAM_EIO);
}

static void test_output(void)
{
    vtrace_output o;
    char err[256];
    expect_status(vtrace_output_begin(NULL, &o, err, sizeof err), VRAM_EINVAL);
    expect_true(strcmp(err, "no output file given") == 0);
    expect_true(o.write_path == NULL && o.final == NULL);
    /* No error buffer, or one of 0 bytes: the status alone. */
    expect_status(vtrace_output_begin("", &o, NULL, 0), VRAM_EINVAL);
    strcpy(err, "untouched");
    expect_status(vtrace_output_begin("", &o, err, 0), VRAM_EINVAL);
    expect_true(strcmp(err, "untouched") == 0);
    expect_status(vtrace_output_begin(".", &o, err, sizeof err), VRAM_EINVAL);
    expect_true(strcmp(err, ".: is a directory (give a file name)") == 0);

    /* The same-file check needs both names and both files. */
    expect_status(vtrace_output_not_input(NULL, OUT, err, sizeof err), VRAM_OK);
    expect_status(vtrace_output_not_input(OUT, NULL, err, sizeof err), VRAM_OK);
    expect_status(vtrace_output_not_input(".", "no/such/input", err, sizeof err), VRAM_OK);

    /* Commit and abort of an output never begun (zeroed) do nothing. */
    vtrace_output none = {0};
    expect_status(vtrace_output_commit(&none, err, sizeof err), VRAM_OK);
    vtrace_output_abort(&none);

    /* A device is written in place: no OUT.tmp, no rename, nothing removed. */
    assert_ok(vtrace_output_begin("/dev/null", &o, err, sizeof err));
    expect_true(o.write_path == o.final && strcmp(o.final, "/dev/null") == 0);
    assert_ok(vtrace_output_commit(&o, err, sizeof err));
    expect_true(o.write_path == NULL && o.final == NULL);
    assert_ok(vtrace_output_begin("/dev/null", &o, err, sizeof err));
    vtrace_output_abort(&o);
    expect_true(access("/dev/null", F_OK) == 0);

    /* The rename fails when OUT became a directory holding a file after begin:
     * the error names both paths and the reason, and OUT.tmp is removed. */
    remove(OUT "/x");
    rmdir(OUT);
    assert_ok(vtrace_output_begin(OUT, &o, err, sizeof err));
    expect_true(strcmp(o.write_path, OUT ".tmp") == 0);
    FILE *f = fopen(o.write_path, "wb");
    assert_true(f && fclose(f) == 0);
    assert_true(mkdir(OUT, 0755) == 0);
    f = fopen(OUT "/x", "wb");
    assert_true(f && fclose(f) == 0);
    expect_status(vtrace_output_commit(&o, err, sizeof err), VRAM_EIO);
    expect_true(strstr(err, "cannot rename " OUT ".tmp to " OUT ": ") != NULL);
    expect_true(access(OUT ".tmp", F_OK) != 0);
    expect_true(o.write_path == NULL && o.final == NULL);
    remove(OUT "/x");
    rmdir(OUT);
}

static void test_lines(void)
{
    vlines *s = (vlines *)1;
    char err[256];
    expect_status(vlines_open(NULL, 100, &s, err, sizeof err), VRAM_EINVAL);
    expect_true(s == NULL && strcmp(err, "(null): no file name") == 0);
    expect_status(vlines_open(NULL, 100, &s, NULL, 0), VRAM_EINVAL);
    strcpy(err, "untouched");
    expect_status(vlines_open(NULL, 100, &s, err, 0), VRAM_EINVAL);
    expect_status(vlines_open(VRAM_SOURCE_DIR "/tests/data/small.trace", 0, &s, err, 0),
                  VRAM_EINVAL);
    expect_true(strcmp(err, "untouched") == 0);
    expect_status(vlines_open(VRAM_SOURCE_DIR "/tests/data/small.trace", 0, &s, err, sizeof err),
                  VRAM_EINVAL);
    expect_true(strstr(err, "small.trace: line limit 0 out of range") != NULL);
    expect_status(vlines_open("x", (1 << 20) + 1, &s, err, sizeof err), VRAM_EINVAL);
    expect_true(strcmp(err, "x: line limit 1048577 out of range") == 0);
    expect_status(vlines_open("x", 0, &s, NULL, 0), VRAM_EINVAL);
    expect_status(vlines_open("no/such/file", 64, &s, NULL, 0), VRAM_EIO);
    expect_true(s == NULL);
    expect_status(vlines_open_buffer("a\n", 2, NULL, 0, &s, err, sizeof err), VRAM_EINVAL);
    expect_true(strcmp(err, "(buffer): line limit 0 out of range") == 0);
    expect_true(s == NULL);
    expect_status(vlines_open_buffer("a\n", 2, "b", (1 << 20) + 1, &s, NULL, 0), VRAM_EINVAL);
    vlines_close(NULL);

    /* A NULL buffer is empty whatever the length given. */
    const char *a, *b;
    assert_ok(vlines_open_buffer(NULL, 5, "nothing", 64, &s, err, sizeof err));
    expect_true(vlines_next(s, &a, &b) == 0);
    vlines_close(s);
    /* The first error is kept; every later call fails. */
    assert_ok(vlines_open_buffer("a\nb\n", 4, "two", 64, &s, err, sizeof err));
    expect_true(vlines_next(s, &a, &b) == 1);
    expect_true(vlines_fail(s, "first %d", 1) == -1);
    expect_true(vlines_fail(s, "second") == -1);
    expect_true(strcmp(vlines_error(s), "two:1: first 1") == 0);
    expect_true(vlines_next(s, &a, &b) == -1);
    vlines_close(s);
    /* A directory opens, and its read fails with the system's reason. */
    assert_ok(vlines_open(".", 64, &s, err, sizeof err));
    expect_true(vlines_next(s, &a, &b) == -1);
    expect_true(strcmp(vlines_error(s), ".:1: cannot read: Is a directory") == 0);
    vlines_close(s);
    /* A line limit above 128 KiB makes the buffer twice the limit. */
    assert_ok(vlines_open_buffer("a\n", 2, "big", 200000, &s, err, sizeof err));
    expect_eq_u64(vlines_memory(s) > 400000, 1);
    vlines_close(s);

    /* A buffer larger than the source's own (256 KiB) is copied in pieces;
     * lines, their contents and the offset come out as written. */
    enum { LINES = 40000 };
    static char big[LINES * 8 + 1];
    size_t len = 0;
    for (int i = 0; i < LINES; i++)
        len += (size_t)snprintf(big + len, sizeof big - len, "%07d\n", i);
    assert_ok(vlines_open_buffer(big, len, NULL, 64, &s, err, sizeof err));
    int n = 0, order_ok = 1;
    while (vlines_next(s, &a, &b) == 1) {
        char want[16];
        snprintf(want, sizeof want, "%07d", n);
        order_ok &= (size_t)(b - a) == 7 && memcmp(a, want, 7) == 0;
        n++;
    }
    expect_eq_u64(n, LINES);
    expect_true(order_ok);
    expect_eq_u64(vlines_line(s), LINES);
    expect_eq_u64(vlines_offset(s), len);
    expect_true(strcmp(vlines_error(s), "") == 0);
    vlines_close(s);
}

int main(void)
{
    remove(OUT);
    test_header_refusals();
    test_event_refusals();
    test_version1_writer();
    test_version2_text();
    test_full_disk();
    test_output();
    test_lines();
    return test_finish("trace_write_edges");
}
