/* fuzz_trace.c - the trace reader (sim/trace/trace.c) over any bytes: it must open
 * and read to the end or stop with a clean "fuzz.trace:LINE: ..." error, never
 * crash, leak or hang, and every event it returns must satisfy
 * traces/FORMAT.md: version 1 or 2, a known type and kind, sizes 1 to 2^63-1,
 * alignments 0 or a power of two up to 2^30, keys of 1-63 printable bytes,
 * priorities >= 0, a known NEED with an owner only for a request's (version 1:
 * NEED '-' always, no pin/unpin, no kv_token_bytes/prefill_tokens_per_s/
 * allocator_settings), line
 * numbers increasing, timestamps never decreasing. Prefix events (version 2,
 * a header with kv_block_tokens and prefix_segment_tokens, one a multiple of
 * the other): pnode numbers 1, 2, ... in order with a parent defined before;
 * a lookup names a defined node, PROMPT 1 to 2^32-1, TOKENS PROMPT to 2^32-1;
 * a fill's TOKENS 1 to 2^32-1. vtrace_open_buffer reads
 * the bytes as text (gzip is vtrace_open's, tested in tests/test_trace_io.c):
 * the gzip seeds of the corpus (head-*.trace) stop at their first line.
 *
 * Frame lines (version 2) reach a callback: id >= 1, a file of 1-255 bytes
 * without blank or control byte, a function of 1-255 bytes without control
 * byte or blank ends; an alloc names at most 4 frame ids, each >= 1; no other
 * event names any, nor does a version-1 trace.
 *
 * A trace that reads to its end is then written by the writer
 * (sim/trace/trace_write.c, in the version its header says) to a file under $TMPDIR
 * (or /tmp) and read back: the writer must accept every header and event the
 * reader gave (its first ROUND_TRIP_MAX events) and the file must read back to
 * the same header and events, NEED, owner, pin and unpin included. */
#include <string.h>
#include <unistd.h>

#include "fuzz_input.h"
#include "trace.h"

#define TARGET "fuzz_trace"
#define ROUND_TRIP_MAX 4096
#define FRAMES_KEPT 512

/* The frame lines a read delivers, each with the number of events read before it. */
typedef struct frames_seen {
    uint64_t events, n;
    struct {
        uint64_t at;
        vtrace_frame f;
    } f[FRAMES_KEPT];
} frames_seen;

static frames_seen seen_in, seen_back;

static void check_frame(void *ctx, const vtrace_frame *f)
{
    frames_seen *s = ctx;
    size_t file = strnlen(f->file, VTRACE_TEXT_MAX), func = strnlen(f->func, VTRACE_TEXT_MAX);
    if (f->id == 0 || file == 0 || file >= VTRACE_TEXT_MAX || func == 0 ||
        func >= VTRACE_TEXT_MAX || f->func[0] == ' ' || f->func[func - 1] == ' ' ||
        f->func[func - 1] == '\t')
        fz_fail(TARGET, "frame", s->n, "frame %u line %u: file of %zu bytes, function of %zu",
                f->id, f->line, file, func);
    for (size_t i = 0; i < file; i++)
        if ((unsigned char)f->file[i] <= 0x20 || f->file[i] == 0x7f)
            fz_fail(TARGET, "frame", s->n, "frame %u: byte %zu of its file is %d", f->id, i, f->file[i]);
    for (size_t i = 0; i < func; i++)
        if (((unsigned char)f->func[i] < 0x20 && f->func[i] != '\t') || f->func[i] == 0x7f)
            fz_fail(TARGET, "frame", s->n, "frame %u: byte %zu of its function is %d", f->id, i,
                    f->func[i]);
    if (s->n < FRAMES_KEPT) {
        s->f[s->n].at = s->events;
        s->f[s->n].f = *f;
    }
    s->n++;
}

static int same_frame(const vtrace_frame *a, const vtrace_frame *b)
{
    return a->id == b->id && a->line == b->line && strcmp(a->file, b->file) == 0 &&
           strcmp(a->func, b->func) == 0;
}

static void check_key(const vtrace_event *ev, uint64_t n)
{
    size_t len = strnlen(ev->key, VTRACE_KEY_MAX);
    if (len == 0 || len >= VTRACE_KEY_MAX)
        fz_fail(TARGET, "key", n, "line %" PRIu64 ": key of %zu bytes", ev->line, len);
    for (size_t i = 0; i < len; i++)
        if (ev->key[i] < '!' || ev->key[i] > '~')
            fz_fail(TARGET, "key", n, "line %" PRIu64 ": byte %zu of the key is %d", ev->line, i, ev->key[i]);
}

/* NEED of alloc, acquire and release: '-' in version 1; an owner only with a request's. */
static void check_need(const vtrace_event *ev, int version, uint64_t n)
{
    if ((unsigned)ev->need > VTRACE_NEED_REQUEST || (version < 2 && ev->need != VTRACE_NEED_NONE) ||
        (ev->need != VTRACE_NEED_REQUEST && ev->owner != 0))
        fz_fail(TARGET, "need", n, "line %" PRIu64 ": need %d owner %" PRIu64 " in a version-%d trace", ev->line,
                (int)ev->need, ev->owner, version);
}

/* A prefix event against the header and the nodes defined before it. */
static void check_prefix(const vtrace_event *ev, const vtrace_header *h, uint64_t *nodes, uint64_t n)
{
    if (ev->type < VTRACE_PNODE) {
        if (ev->node || ev->hash || ev->prompt || ev->tokens)
            fz_fail(TARGET, "prefix", n, "line %" PRIu64 ": %s with prefix fields", ev->line,
                    vtrace_type_name(ev->type));
        return;
    }
    if (!h->kv_block_tokens || !h->prefix_segment_tokens || h->prefix_segment_tokens % h->kv_block_tokens)
        fz_fail(TARGET, "prefix", n, "line %" PRIu64 ": %s with block tokens %" PRIu64 ", segment %" PRIu64,
                ev->line, vtrace_type_name(ev->type), h->kv_block_tokens, h->prefix_segment_tokens);
    int ok;
    switch (ev->type) {
    case VTRACE_PNODE:
        ok = ev->id == *nodes + 1 && ev->node <= *nodes && !ev->prompt && !ev->tokens;
        *nodes += ok;
        break;
    case VTRACE_LOOKUP:
        ok = ev->node >= 1 && ev->node <= *nodes && ev->prompt >= 1 && ev->tokens >= ev->prompt &&
             ev->tokens <= VTRACE_PREFIX_TOKENS_MAX && !ev->hash;
        break;
    default:
        ok = ev->tokens >= 1 && ev->tokens <= VTRACE_PREFIX_TOKENS_MAX && !ev->node && !ev->hash &&
             !ev->prompt;
        break;
    }
    if (!ok)
        fz_fail(TARGET, "prefix", n, "line %" PRIu64 ": %s %" PRIu64 " node %" PRIu64 " prompt %" PRIu64
                " tokens %" PRIu64 " after %" PRIu64 " nodes", ev->line, vtrace_type_name(ev->type), ev->id,
                ev->node, ev->prompt, ev->tokens, *nodes);
}

static void check_event(const vtrace_event *ev, const vtrace_event *prev, int version, uint64_t n)
{
    if ((unsigned)ev->type >= VTRACE_TYPE_COUNT)
        fz_fail(TARGET, "event", n, "type %d", (int)ev->type);
    if (version < 2 && ev->type >= VTRACE_PIN)
        fz_fail(TARGET, "event", n, "line %" PRIu64 ": %s in a version-1 trace", ev->line,
                vtrace_type_name(ev->type));
    if (ev->type != VTRACE_ALLOC && ev->type != VTRACE_SHARED_ACQUIRE && ev->type != VTRACE_SHARED_RELEASE &&
        (ev->need != VTRACE_NEED_NONE || ev->owner != 0))
        fz_fail(TARGET, "need", n, "line %" PRIu64 ": %s with need %d owner %" PRIu64, ev->line,
                vtrace_type_name(ev->type), (int)ev->need, ev->owner);
    if (ev->nframes > VTRACE_FRAMES_MAX || (ev->nframes && (version < 2 || ev->type != VTRACE_ALLOC)))
        fz_fail(TARGET, "frames", n, "line %" PRIu64 ": %s with %u frames in a version-%d trace",
                ev->line, vtrace_type_name(ev->type), ev->nframes, version);
    for (unsigned i = 0; i < ev->nframes; i++)
        if (!ev->frames[i])
            fz_fail(TARGET, "frames", n, "line %" PRIu64 ": frame id 0", ev->line);
    if (ev->line <= prev->line || ev->ts_us < prev->ts_us)
        fz_fail(TARGET, "event", n, "line %" PRIu64 " after %" PRIu64 ", time %" PRIu64 " after %" PRIu64,
                ev->line, prev->line, ev->ts_us, prev->ts_us);
    switch (ev->type) {
    case VTRACE_ALLOC:
        if ((unsigned)ev->kind >= VRAM_KIND_COUNT || ev->priority < 0 || ev->size == 0 ||
            ev->size > INT64_MAX || (ev->align & (ev->align - 1)) || ev->align > (UINT64_C(1) << 30))
            fz_fail(TARGET, "alloc", n, "line %" PRIu64 ": size %" PRIu64 " align %" PRIu64 " kind %d prio %d",
                    ev->line, ev->size, ev->align, (int)ev->kind, ev->priority);
        check_need(ev, version, n);
        break;
    case VTRACE_SHARED_ACQUIRE:
        if (ev->size == 0 || ev->size > INT64_MAX || ev->priority < 0)
            fz_fail(TARGET, "acquire", n, "line %" PRIu64 ": size %" PRIu64 " prio %d", ev->line, ev->size,
                    ev->priority);
        check_key(ev, n);
        check_need(ev, version, n);
        break;
    case VTRACE_SHARED_RELEASE:
        check_key(ev, n);
        check_need(ev, version, n);
        break;
    default:
        break;
    }
}

/* The fields an event carries in the format (its line number aside). */
static int same_event(const vtrace_event *a, const vtrace_event *b)
{
    return a->type == b->type && a->ts_us == b->ts_us && a->id == b->id && a->size == b->size &&
           a->align == b->align && a->kind == b->kind && a->priority == b->priority &&
           strcmp(a->key, b->key) == 0 && a->need == b->need && a->owner == b->owner &&
           a->nframes == b->nframes && a->node == b->node && a->hash == b->hash &&
           a->prompt == b->prompt && a->tokens == b->tokens &&
           memcmp(a->frames, b->frames, a->nframes * sizeof a->frames[0]) == 0;
}

static int same_header(const vtrace_header *a, const vtrace_header *b)
{
    return a->version == b->version && strcmp(a->model, b->model) == 0 && strcmp(a->engine, b->engine) == 0 &&
           a->capacity == b->capacity && a->kv_block_bytes == b->kv_block_bytes &&
           strcmp(a->source, b->source) == 0 && strcmp(a->licence, b->licence) == 0 &&
           a->kv_token_bytes == b->kv_token_bytes && a->prefill_tokens_per_s == b->prefill_tokens_per_s &&
           strcmp(a->allocator_settings, b->allocator_settings) == 0 &&
           a->kv_block_tokens == b->kv_block_tokens && a->prefix_segment_tokens == b->prefix_segment_tokens &&
           a->prefix_cache_blocks == b->prefix_cache_blocks;
}

/* Writes the header and the first ROUND_TRIP_MAX events of the (valid) input
 * with the writer and reads the file back in step with the input. */
static void round_trip(const uint8_t *data, size_t size)
{
    static char path[600];
    if (!path[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/vram-fuzz-trace-%ld.trace", tmp && *tmp ? tmp : "/tmp", (long)getpid());
    }
    char err[512];
    vtrace_reader *in, *back;
    /* seen_in holds the input's frame lines from the first read */
    if (vtrace_open_buffer(data, size, "fuzz.trace", &in, err, sizeof err))
        fz_fail(TARGET, "round trip", 0, "the input no longer opens: %s", err);
    const vtrace_header *h = vtrace_header_of(in);
    vtrace_writer *w;
    vram_status st = vtrace_writer_open_as(path, h, 0, &w);
    if (st)
        fz_fail(TARGET, "round trip", 0, "the writer refused the header (version %d): %s", h->version,
                vram_status_name(st));
    vtrace_event ev, got;
    uint64_t n = 0, fi = 0, kept = seen_in.n < FRAMES_KEPT ? seen_in.n : FRAMES_KEPT;
    while (n < ROUND_TRIP_MAX && vtrace_next(in, &ev) == 1) {
        for (; fi < kept && seen_in.f[fi].at <= n; fi++) /* the frame lines before this event */
            if ((st = vtrace_write_frame(w, &seen_in.f[fi].f)))
                fz_fail(TARGET, "round trip", n, "the writer refused frame %u: %s",
                        seen_in.f[fi].f.id, vram_status_name(st));
        n++;
        if ((st = vtrace_write(w, &ev)))
            fz_fail(TARGET, "round trip", n, "line %" PRIu64 ": the writer refused the %s event: %s", ev.line,
                    vtrace_type_name(ev.type), vram_status_name(st));
    }
    if ((st = vtrace_writer_close(w)))
        fz_fail(TARGET, "round trip", n, "%s: cannot write: %s", path, vram_status_name(st));
    vtrace_close(in);

    seen_back.events = seen_back.n = 0;
    if (vtrace_open_frames(path, check_frame, &seen_back, &back, err, sizeof err))
        fz_fail(TARGET, "round trip", 0, "the written trace does not open: %s", err);
    if (vtrace_open_buffer(data, size, "fuzz.trace", &in, err, sizeof err))
        fz_fail(TARGET, "round trip", 0, "the input no longer opens: %s", err);
    if (!same_header(vtrace_header_of(in), vtrace_header_of(back)))
        fz_fail(TARGET, "round trip", 0, "the header read back differs");
    for (uint64_t i = 1; i <= n; i++) {
        if (vtrace_next(in, &ev) != 1 || vtrace_next(back, &got) != 1)
            fz_fail(TARGET, "round trip", i, "the written trace ends early: %s", vtrace_error(back));
        if (!same_event(&ev, &got))
            fz_fail(TARGET, "round trip", i, "line %" PRIu64 ": the %s event reads back as %s (line %" PRIu64
                    "), need %d/%d owner %" PRIu64 "/%" PRIu64, ev.line, vtrace_type_name(ev.type),
                    vtrace_type_name(got.type), got.line, (int)ev.need, (int)got.need, ev.owner, got.owner);
    }
    if (vtrace_next(back, &got) != 0)
        fz_fail(TARGET, "round trip", n, "the written trace goes on after %" PRIu64 " events: %s", n,
                vtrace_error(back));
    if (seen_back.n != fi)
        fz_fail(TARGET, "round trip", n, "%" PRIu64 " frame lines written, %" PRIu64 " read back", fi,
                seen_back.n);
    for (uint64_t i = 0; i < fi && i < FRAMES_KEPT; i++)
        if (!same_frame(&seen_in.f[i].f, &seen_back.f[i].f))
            fz_fail(TARGET, "round trip", i, "frame line %" PRIu64 " reads back as frame %u", i,
                    seen_back.f[i].f.id);
    vtrace_close(back);
    vtrace_close(in);
    remove(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    vtrace_reader *r = NULL;
    seen_in.events = seen_in.n = 0;
    vram_status st = vtrace_open_buffer_frames(data, size, "fuzz.trace", check_frame, &seen_in, &r,
                                               err, sizeof err);
    if (st) {
        if (r || strncmp(err, "fuzz.trace", 10) != 0)
            fz_fail(TARGET, "open", 0, "%s with reader %p and error '%s'", vram_status_name(st), (void *)r, err);
        return 0;
    }
    const vtrace_header *h = vtrace_header_of(r);
    if (h->version < 1 || h->version > VTRACE_VERSION || h->capacity == 0 || h->capacity > INT64_MAX ||
        h->kv_token_bytes > INT64_MAX || h->prefill_tokens_per_s > INT64_MAX ||
        (h->version < 2 && (h->kv_token_bytes || h->prefill_tokens_per_s || h->allocator_settings[0])))
        fz_fail(TARGET, "header", 0, "version %d, capacity %" PRIu64 ", kv_token_bytes %" PRIu64
                ", prefill_tokens_per_s %" PRIu64, h->version, h->capacity, h->kv_token_bytes,
                h->prefill_tokens_per_s);
    const int version = h->version;
    if (version < 2 && seen_in.n)
        fz_fail(TARGET, "frame", 0, "%" PRIu64 " frame lines in a version-1 trace", seen_in.n);
    size_t mem = vtrace_memory(r);
    if (h->kv_block_tokens > VTRACE_BLOCK_TOKENS_MAX || h->prefix_segment_tokens > VTRACE_SEGMENT_TOKENS_MAX ||
        h->prefix_cache_blocks > VTRACE_PREFIX_BLOCKS_MAX ||
        (version < 2 && (h->kv_block_tokens || h->prefix_segment_tokens || h->prefix_cache_blocks)))
        fz_fail(TARGET, "header", 0, "version %d, kv_block_tokens %" PRIu64 ", prefix_segment_tokens %" PRIu64
                ", prefix_cache_blocks %" PRIu64, version, h->kv_block_tokens, h->prefix_segment_tokens,
                h->prefix_cache_blocks);
    vtrace_event ev, prev = {0};
    uint64_t n = 0, nodes = 0;
    int more;
    while ((more = vtrace_next(r, &ev)) == 1) {
        seen_in.events++;
        check_event(&ev, &prev, version, ++n);
        check_prefix(&ev, h, &nodes, n);
        prev = ev;
        if (vtrace_memory(r) != mem)
            fz_fail(TARGET, "memory", n, "reader memory grew from %zu to %zu", mem, vtrace_memory(r));
    }
    if (more == -1 && strncmp(vtrace_error(r), "fuzz.trace:", 11) != 0)
        fz_fail(TARGET, "error", n, "error without file:line: '%s'", vtrace_error(r));
    if (more == -1 && vtrace_next(r, &ev) != -1)
        fz_fail(TARGET, "error", n, "a read after an error did not fail again");
    vtrace_close(r);
    if (more == 0)
        round_trip(data, size);
    return 0;
}
