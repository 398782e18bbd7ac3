/* test_trace_io.c - the writer and the reader together: random round trips
 * (plain and gzip; version 2 with every NEED, pin, unpin, prefix event and header key,
 * and version 1), gzip recognised by its bytes rather than its name, a long
 * trace read with constant memory, gzip members one after another (read as
 * one stream) and bytes after the last member (an error), numbers too long for
 * 64 bits named with their field's range, and write errors (disk full). */
#include <stdio.h>
#include <unistd.h>
#include <zlib.h>

#include "testlib.h"
#include "trace.h"

static vtrace_header make_header_v(int version)
{
    vtrace_header h;
    memset(&h, 0, sizeof h);
    h.version = version;
    if (version >= 2) {
        h.kv_token_bytes = 81920;
        h.prefill_tokens_per_s = 16667;
        h.kv_block_tokens = 16;
        h.prefix_segment_tokens = 512;
        h.prefix_cache_blocks = 29000;
    }
    snprintf(h.model, sizeof h.model, "llama-3-70b tp=4 bf16");
    snprintf(h.engine, sizeof h.engine, "paged");
    h.capacity = 80ull << 30;
    h.kv_block_bytes = 1310720;
    snprintf(h.source, sizeof h.source, "test_trace_io");
    snprintf(h.licence, sizeof h.licence, "CC0-1.0");
    return h;
}

static vtrace_header make_header(void)
{
    return make_header_v(VTRACE_VERSION);
}

/* A random NEED for alloc, acquire and release (version 2): '-', engine, or a request id. */
static void random_need(uint64_t *rng, vtrace_event *ev)
{
    switch (test_rand(rng) % 3) {
    case 0: ev->need = VTRACE_NEED_NONE; break;
    case 1: ev->need = VTRACE_NEED_ENGINE; break;
    default:
        ev->need = VTRACE_NEED_REQUEST;
        ev->owner = test_rand(rng) >> (test_rand(rng) % 64);
        break;
    }
}

/* What random events depend on: the timestamp, the prefix nodes defined. */
typedef struct gen_state {
    uint64_t ts, nodes;
} gen_state;

/* A random valid event of a trace of `version`; timestamps move forward now and
 * then. Version 1 has no pin, unpin, prefix events or NEED (they read as steps
 * and NEED '-'); a lookup before the first pnode is a pnode. */
static vtrace_event random_event_v(uint64_t *rng, gen_state *gs, int version)
{
    vtrace_event ev;
    memset(&ev, 0, sizeof ev);
    uint64_t x = test_rand(rng);
    if (x % 4 == 0)
        gs->ts += x % 1000;
    ev.ts_us = gs->ts;
    ev.type = (vtrace_type)(test_rand(rng) % VTRACE_TYPE_COUNT);
    if (version < 2 && ev.type >= VTRACE_PIN)
        ev.type = VTRACE_STEP;
    if (ev.type == VTRACE_LOOKUP && gs->nodes == 0)
        ev.type = VTRACE_PNODE;
    ev.id = test_rand(rng) >> (test_rand(rng) % 64);
    switch (ev.type) {
    case VTRACE_ALLOC:
        ev.size = 1 + (test_rand(rng) >> (1 + test_rand(rng) % 63));
        ev.align = test_rand(rng) % 3 ? 0 : 1ull << (test_rand(rng) % 31);
        ev.kind = (vram_kind)(test_rand(rng) % VRAM_KIND_COUNT);
        ev.priority = (int)(test_rand(rng) % 2147483648ull);
        if (version >= 2)
            random_need(rng, &ev);
        break;
    case VTRACE_SHARED_ACQUIRE:
        ev.size = 1 + (test_rand(rng) >> (1 + test_rand(rng) % 63));
        ev.priority = (int)(test_rand(rng) % 100);
        /* fall through */
    case VTRACE_SHARED_RELEASE: {
        size_t n = 1 + test_rand(rng) % (VTRACE_KEY_MAX - 1);
        for (size_t i = 0; i < n; i++)
            ev.key[i] = (char)(0x21 + test_rand(rng) % 94);
        ev.key[n] = '\0';
        ev.id = 0;
        if (version >= 2)
            random_need(rng, &ev);
        break;
    }
    case VTRACE_PNODE:
        ev.id = ++gs->nodes;
        ev.node = test_rand(rng) % ev.id;
        ev.hash = test_rand(rng) >> (test_rand(rng) % 64);
        break;
    case VTRACE_LOOKUP:
        ev.node = 1 + test_rand(rng) % gs->nodes;
        ev.prompt = 1 + test_rand(rng) % VTRACE_PREFIX_TOKENS_MAX;
        ev.tokens = ev.prompt + test_rand(rng) % (VTRACE_PREFIX_TOKENS_MAX - ev.prompt + 1);
        break;
    case VTRACE_FILL:
        ev.tokens = 1 + test_rand(rng) % VTRACE_PREFIX_TOKENS_MAX;
        break;
    default:
        break;
    }
    return ev;
}

static vtrace_event random_event(uint64_t *rng, gen_state *gs)
{
    return random_event_v(rng, gs, VTRACE_VERSION);
}

static int same_event(const vtrace_event *a, const vtrace_event *b)
{
    return a->type == b->type && a->ts_us == b->ts_us && a->id == b->id && a->size == b->size &&
           a->align == b->align && (a->type != VTRACE_ALLOC || a->kind == b->kind) &&
           a->priority == b->priority && strcmp(a->key, b->key) == 0 && a->need == b->need &&
           a->owner == b->owner && a->node == b->node && a->hash == b->hash &&
           a->prompt == b->prompt && a->tokens == b->tokens;
}

/* gzip: 0 plain, 1 gzip, 2 chosen by the writer from the name; every event
 * type, NEED and header key of `version` written and read back. */
static void round_trip_v(const char *path, int gzip, uint64_t seed, int n, int version)
{
    vtrace_header h = make_header_v(version);
    vtrace_writer *w;
    if (gzip == 2)
        assert_ok(vtrace_writer_open(path, &h, &w));
    else
        assert_ok(vtrace_writer_open_as(path, &h, gzip, &w));
    assert_ok(vtrace_write_comment(w, "round trip"));
    uint64_t rng = seed;
    gen_state gs = {0, 0};
    uint64_t types[VTRACE_TYPE_COUNT] = {0}, needs[3] = {0};
    for (int i = 0; i < n; i++) {
        vtrace_event ev = random_event_v(&rng, &gs, version);
        assert_ok(vtrace_write(w, &ev));
        types[ev.type]++;
        if (ev.type == VTRACE_ALLOC || ev.type == VTRACE_SHARED_ACQUIRE || ev.type == VTRACE_SHARED_RELEASE)
            needs[ev.need]++;
    }
    assert_ok(vtrace_writer_close(w));
    for (int t = 0; t < VTRACE_TYPE_COUNT; t++)
        expect_true(types[t] > 0 || (version < 2 && t >= VTRACE_PIN));
    expect_true(needs[VTRACE_NEED_NONE] > 0);
    expect_true(version < 2 || (needs[VTRACE_NEED_ENGINE] > 0 && needs[VTRACE_NEED_REQUEST] > 0));

    FILE *f = fopen(path, "rb");
    assert_true(f != NULL);
    int b0 = fgetc(f), b1 = fgetc(f);
    fclose(f);
    expect_true((b0 == 0x1f && b1 == 0x8b) == (gzip != 0));

    vtrace_reader *r;
    char err[512];
    assert_ok(vtrace_open(path, &r, err, sizeof err));
    const vtrace_header *g = vtrace_header_of(r);
    expect_true(strcmp(g->model, h.model) == 0 && strcmp(g->engine, h.engine) == 0 &&
                strcmp(g->source, h.source) == 0 && strcmp(g->licence, h.licence) == 0 &&
                g->capacity == h.capacity && g->kv_block_bytes == h.kv_block_bytes);
    expect_true(g->version == version && g->kv_token_bytes == h.kv_token_bytes &&
                g->prefill_tokens_per_s == h.prefill_tokens_per_s &&
                g->kv_block_tokens == h.kv_block_tokens &&
                g->prefix_segment_tokens == h.prefix_segment_tokens &&
                g->prefix_cache_blocks == h.prefix_cache_blocks);
    rng = seed;
    gs = (gen_state){0, 0};
    vtrace_event got;
    int i = 0, rc;
    while ((rc = vtrace_next(r, &got)) == 1) {
        vtrace_event want = random_event_v(&rng, &gs, version);
        if (!same_event(&want, &got)) {
            fprintf(stderr, "%s: event %d (line %" PRIu64 ") differs, seed %" PRIu64 "\n", path, i,
                    got.line, seed);
            test_failures++;
            break;
        }
        i++;
    }
    expect_true(rc == 0);
    expect_eq_u64(i, n);
    vtrace_close(r);
    remove(path);
}

static void round_trip(const char *path, int gzip, uint64_t seed, int n)
{
    round_trip_v(path, gzip, seed, n, VTRACE_VERSION);
}

/* A long trace read back: the reader's memory is the same after every event. */
static void test_streaming(void)
{
    const char *path = VRAM_BINARY_DIR "/test_trace_io_long.trace";
    vtrace_header h = make_header();
    vtrace_writer *w;
    assert_ok(vtrace_writer_open(path, &h, &w));
    const uint64_t n = 600000;
    for (uint64_t i = 0; i < n; i++) {
        vtrace_event ev = {.type = VTRACE_ALLOC, .id = i, .size = 1310720, .kind = VRAM_KIND_KV,
                           .priority = 10, .ts_us = i / 8};
        if (i % 2)
            ev = (vtrace_event){.type = VTRACE_FREE, .id = i - 1, .ts_us = i / 8};
        assert_ok(vtrace_write(w, &ev));
    }
    assert_ok(vtrace_writer_close(w));

    vtrace_reader *r;
    char err[512];
    assert_ok(vtrace_open(path, &r, err, sizeof err));
    size_t mem0 = vtrace_memory(r);
    expect_true(mem0 < 1024 * 1024);
    vtrace_event ev;
    uint64_t count = 0, last_offset = 0, offset_moves = 0;
    while (vtrace_next(r, &ev) == 1) {
        if (ev.id != (count & ~1ull) || ev.ts_us != count / 8)
            break;
        count++;
        if (vtrace_memory(r) != mem0)
            break;
        if (vtrace_offset(r) != last_offset) {
            last_offset = vtrace_offset(r);
            offset_moves++;
        }
    }
    expect_eq_u64(count, n);
    expect_eq_u64(vtrace_memory(r), mem0);
    expect_true(offset_moves > 10); /* the file is read piece by piece, not at once */
    vtrace_close(r);
    remove(path);
}

static void test_gzip_errors(void)
{
    const char *path = VRAM_BINARY_DIR "/test_trace_io_cut.trace";
    vtrace_header h = make_header();
    vtrace_writer *w;
    assert_ok(vtrace_writer_open_as(path, &h, 1, &w));
    uint64_t rng = 7;
    gen_state gs = {0, 0};
    for (int i = 0; i < 20000; i++) {
        vtrace_event ev = random_event(&rng, &gs);
        assert_ok(vtrace_write(w, &ev));
    }
    assert_ok(vtrace_writer_close(w));
    /* cut the gzip file in half: the reader must report it, not end quietly */
    FILE *f = fopen(path, "rb");
    assert_true(f != NULL);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    assert_true(truncate(path, len / 2) == 0);
    vtrace_reader *r;
    char err[512];
    assert_ok(vtrace_open(path, &r, err, sizeof err));
    vtrace_event ev;
    int rc;
    while ((rc = vtrace_next(r, &ev)) == 1)
        ;
    expect_true(rc == -1);
    expect_true(strstr(vtrace_error(r), "test_trace_io_cut.trace:") != NULL);
    expect_true(strstr(vtrace_error(r), "cannot read") != NULL ||
                strstr(vtrace_error(r), "expected") != NULL);
    vtrace_close(r);
    remove(path);
}

/* Appends one gzip member holding `text` to `path` (created when `append` is 0). */
static void gzip_member(const char *path, const char *text, int append)
{
    gzFile gz = gzopen(path, append ? "ab" : "wb");
    assert_true(gz != NULL);
    assert_true(gzwrite(gz, text, (unsigned)strlen(text)) == (int)strlen(text));
    assert_true(gzclose(gz) == Z_OK);
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_true(f != NULL);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* Reads `path` to its end: the events read, and the reader's error ("" at a clean end). */
static int read_through(const char *path, char *msg, size_t msglen)
{
    vtrace_reader *r;
    char err[512];
    assert_ok(vtrace_open(path, &r, err, sizeof err));
    vtrace_event ev;
    int n = 0, rc;
    while ((rc = vtrace_next(r, &ev)) == 1)
        n++;
    snprintf(msg, msglen, "%s", rc < 0 ? vtrace_error(r) : "");
    vtrace_close(r);
    return n;
}

#define GZ_HEAD "vramtrace 2\nmodel m\nengine paged\ncapacity 1000\n"

static void test_gzip_members(void)
{
    const char *path = VRAM_BINARY_DIR "/test_trace_io_members.trace.gz";
    char msg[512], want[512];
    /* two members (as `cat a.gz b.gz` makes): one stream of 4 events */
    gzip_member(path, GZ_HEAD "alloc 1 10 0 kv 1 -\nstep 1\n", 0);
    gzip_member(path, "free 1\nstep 2\n", 1);
    expect_eq_u64(read_through(path, msg, sizeof msg), 4);
    expect_true(strcmp(msg, "") == 0);

    /* bytes after the last member that are no gzip member: an error at the line
     * after the last, naming where they begin (zlib's gzread ignores them) */
    const long len = file_size(path);
    FILE *f = fopen(path, "ab");
    assert_true(f && fputs("junk after the stream\n", f) >= 0 && fclose(f) == 0);
    expect_eq_u64(read_through(path, msg, sizeof msg), 4);
    snprintf(want, sizeof want, "%s:9: trailing data after the gzip stream (at byte %ld of the file)",
             path, len);
    expect_true(strcmp(msg, want) == 0);
    if (strcmp(msg, want) != 0)
        fprintf(stderr, "got \"%s\"\nwant \"%s\"\n", msg, want);
    /* one byte is enough */
    gzip_member(path, GZ_HEAD "step 1\n", 0);
    const long len1 = file_size(path);
    f = fopen(path, "ab");
    assert_true(f && fputc(0, f) == 0 && fclose(f) == 0);
    expect_eq_u64(read_through(path, msg, sizeof msg), 1);
    snprintf(want, sizeof want, "%s:6: trailing data after the gzip stream (at byte %ld of the file)",
             path, len1);
    expect_true(strcmp(msg, want) == 0);
    /* gzip's magic bytes and no more: a member cut short */
    gzip_member(path, GZ_HEAD "step 1\n", 0);
    f = fopen(path, "ab");
    assert_true(f && fputs("\x1f\x8b", f) >= 0 && fclose(f) == 0);
    expect_eq_u64(read_through(path, msg, sizeof msg), 1);
    snprintf(want, sizeof want, "%s:6: cannot read: unexpected end of file", path);
    expect_true(strcmp(msg, want) == 0);
    /* a second member that is not valid deflate data */
    gzip_member(path, GZ_HEAD "step 1\n", 0);
    f = fopen(path, "ab");
    assert_true(f && fwrite("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xff\xff\xff\xff", 1, 14, f) == 14 &&
                fclose(f) == 0);
    expect_eq_u64(read_through(path, msg, sizeof msg), 1);
    expect_true(strncmp(msg, path, strlen(path)) == 0 && strstr(msg, ":6: cannot read: ") != NULL);
    remove(path);
}

/* A number too long for 64 bits is out of its field's range, and the message
 * gives that range (2^63-1 for sizes and the capacity), not 2^64-1; fields
 * that take any 64-bit value say so. */
static void test_range_messages(void)
{
    static const struct {
        const char *text, *error;
    } cases[] = {
        {GZ_HEAD "alloc 1 99999999999999999999 0 kv 1 -\n",
         "r:5: SIZE out of range: '99999999999999999999' (expected 1 to 9223372036854775807)"},
        {GZ_HEAD "acquire k 123456789012345678901234 1 -\n",
         "r:5: SIZE out of range: '123456789012345678901234' (expected 1 to 9223372036854775807)"},
        {GZ_HEAD "alloc 1 8 18446744073709551616 kv 1 -\n",
         "r:5: ALIGN out of range: '18446744073709551616' (expected 0 to 1073741824)"},
        {GZ_HEAD "alloc 1 8 0 kv 18446744073709551616 -\n",
         "r:5: PRIORITY out of range: '18446744073709551616' (expected 0 to 2147483647)"},
        {"vramtrace 2\nmodel m\nengine paged\ncapacity 18446744073709551616\n",
         "r:4: capacity out of range: '18446744073709551616' (expected 1 to 9223372036854775807)"},
        {GZ_HEAD "kv_block_bytes 18446744073709551616\n",
         "r:5: kv_block_bytes out of range: '18446744073709551616' (expected 0 to "
         "9223372036854775807)"},
        {GZ_HEAD "alloc 1 18446744073709551615 0 kv 1 -\n",
         "r:5: SIZE 18446744073709551615 out of range (expected 1 to 9223372036854775807)"},
        {GZ_HEAD "free 18446744073709551616\n",
         "r:5: ID out of range: '18446744073709551616' (at most 18446744073709551615)"},
        {GZ_HEAD "@18446744073709551616 step 1\n",
         "r:5: timestamp out of range: '18446744073709551616' (at most 18446744073709551615)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vtrace_reader *r;
        char err[512];
        vtrace_event ev;
        vram_status st = vtrace_open_buffer(cases[i].text, strlen(cases[i].text), "r", &r, err,
                                            sizeof err);
        const char *msg = st ? err : (vtrace_next(r, &ev) == -1 ? vtrace_error(r) : "(read)");
        if (strcmp(msg, cases[i].error) != 0) {
            fprintf(stderr, "case %zu: got \"%s\"\n  want \"%s\"\n", i, msg, cases[i].error);
            test_failures++;
        }
        if (!st)
            vtrace_close(r);
    }
}

static void test_write_errors(void)
{
    vtrace_header h = make_header();
    vtrace_writer *w;
    /* disk full: /dev/full accepts the open and fails the writes */
    if (access("/dev/full", W_OK) == 0) {
        assert_ok(vtrace_writer_open("/dev/full", &h, &w));
        vram_status st = VRAM_OK;
        vtrace_event ev = {.type = VTRACE_STEP};
        for (int i = 0; i < 100000 && !st; i++) {
            ev.id = (uint64_t)i;
            st = vtrace_write(w, &ev);
        }
        vram_status cst = vtrace_writer_close(w);
        expect_true(st == VRAM_EIO || cst == VRAM_EIO);
    }
    expect_status(vtrace_writer_open("/nonexistent/dir/x.trace", &h, &w), VRAM_EIO);

    /* the writer refuses what the reader would refuse */
    const char *path = VRAM_BINARY_DIR "/test_trace_io_bad.trace";
    vtrace_header bad = h;
    bad.model[0] = '\0';
    expect_status(vtrace_writer_open(path, &bad, &w), VRAM_EINVAL);
    bad = h;
    snprintf(bad.source, sizeof bad.source, "two\nlines");
    expect_status(vtrace_writer_open(path, &bad, &w), VRAM_EINVAL);
    bad = h;
    bad.capacity = 0;
    expect_status(vtrace_writer_open(path, &bad, &w), VRAM_EINVAL);

    assert_ok(vtrace_writer_open(path, &h, &w));
    vtrace_event ev = {.type = VTRACE_ALLOC, .id = 1, .size = 0, .kind = VRAM_KIND_KV};
    expect_status(vtrace_write(w, &ev), VRAM_EINVAL);
    ev.size = 64;
    ev.align = 48;
    expect_status(vtrace_write(w, &ev), VRAM_EINVAL);
    ev.align = 0;
    ev.priority = -1;
    expect_status(vtrace_write(w, &ev), VRAM_EINVAL);
    ev.priority = 0;
    ev.ts_us = 10;
    assert_ok(vtrace_write(w, &ev));
    ev.ts_us = 9;
    expect_status(vtrace_write(w, &ev), VRAM_EINVAL);
    vtrace_event acq = {.type = VTRACE_SHARED_ACQUIRE, .size = 5, .ts_us = 10};
    snprintf(acq.key, sizeof acq.key, "has space");
    expect_status(vtrace_write(w, &acq), VRAM_EINVAL);
    expect_status(vtrace_write_comment(w, "two\nlines"), VRAM_EINVAL);
    assert_ok(vtrace_writer_close(w));

    /* what was accepted reads back */
    vtrace_reader *r;
    char err[512];
    assert_ok(vtrace_open(path, &r, err, sizeof err));
    vtrace_event got;
    expect_true(vtrace_next(r, &got) == 1 && got.type == VTRACE_ALLOC && got.ts_us == 10);
    expect_true(vtrace_next(r, &got) == 0);
    vtrace_close(r);
    remove(path);
}

int main(void)
{
    uint64_t seed = 0x5eed0001;
    printf("seed %" PRIu64 "\n", seed);
    round_trip(VRAM_BINARY_DIR "/test_trace_io_plain.trace", 0, seed, 20000);
    round_trip(VRAM_BINARY_DIR "/test_trace_io.trace.gz", 2, seed + 1, 20000);
    /* gzip under a plain name: recognised by its magic bytes */
    round_trip(VRAM_BINARY_DIR "/test_trace_io_gz.trace", 1, seed + 2, 20000);
    /* version 1 still writes and reads back (no NEED, pin or unpin) */
    round_trip_v(VRAM_BINARY_DIR "/test_trace_io_v1.trace", 0, seed + 3, 20000, 1);
    round_trip_v(VRAM_BINARY_DIR "/test_trace_io_v1.trace.gz", 2, seed + 4, 5000, 1);
    test_streaming();
    test_gzip_errors();
    test_gzip_members();
    test_range_messages();
    test_write_errors();
    return test_finish("trace_io");
}
