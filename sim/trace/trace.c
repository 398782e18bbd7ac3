/* trace.c - the streaming trace reader (the format is traces/FORMAT.md).
 *
 * Lines come from the fixed-buffer line source (lines.c) and are parsed in
 * place between two pointers, never past the end of the line, with
 * hand-written number parsing. */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lines.h"
#include "trace.h"

#define LINE_MAX_BYTES 4096                 /* without the newline */
#define SIZE_LIMIT ((uint64_t)INT64_MAX)    /* sizes and the capacity: 1 .. 2^63-1 */
#define ALIGN_LIMIT ((uint64_t)1 << 30)
#define PRIORITY_LIMIT ((uint64_t)INT_MAX)

enum {
    HDR_MODEL, HDR_ENGINE, HDR_CAPACITY, HDR_KV_BLOCK, HDR_SOURCE, HDR_LICENCE,
    HDR_KV_TOKEN, HDR_PREFILL, HDR_ALLOC_SETTINGS, /* version 2 */
    HDR_BLOCK_TOKENS, HDR_SEGMENT_TOKENS, HDR_PREFIX_BLOCKS, /* version 2, the prefix cache */
    HDR_COUNT
};

static const char *const header_keys[HDR_COUNT] = {
    [HDR_MODEL] = "model",         [HDR_ENGINE] = "engine", [HDR_CAPACITY] = "capacity",
    [HDR_KV_BLOCK] = "kv_block_bytes", [HDR_SOURCE] = "source", [HDR_LICENCE] = "licence",
    [HDR_KV_TOKEN] = "kv_token_bytes", [HDR_PREFILL] = "prefill_tokens_per_s",
    [HDR_ALLOC_SETTINGS] = "allocator_settings", [HDR_BLOCK_TOKENS] = "kv_block_tokens",
    [HDR_SEGMENT_TOKENS] = "prefix_segment_tokens", [HDR_PREFIX_BLOCKS] = "prefix_cache_blocks",
};
#define HDR_REQUIRED ((1u << HDR_MODEL) | (1u << HDR_ENGINE) | (1u << HDR_CAPACITY))

/* The events of each version as the error messages spell them ([0]: version 1). */
static const char *const usage[2][VTRACE_TYPE_COUNT] = {
    {
        [VTRACE_ALLOC] = "alloc ID SIZE ALIGN KIND PRIORITY",
        [VTRACE_FREE] = "free ID",
        [VTRACE_USE] = "use ID",
        [VTRACE_SHARED_ACQUIRE] = "acquire KEY SIZE PRIORITY",
        [VTRACE_SHARED_RELEASE] = "release KEY",
        [VTRACE_STEP] = "step N",
        [VTRACE_REQUEST_BEGIN] = "begin ID",
        [VTRACE_REQUEST_END] = "end ID",
    },
    {
        [VTRACE_ALLOC] = "alloc ID SIZE ALIGN KIND PRIORITY NEED",
        [VTRACE_FREE] = "free ID",
        [VTRACE_USE] = "use ID",
        [VTRACE_SHARED_ACQUIRE] = "acquire KEY SIZE PRIORITY NEED",
        [VTRACE_SHARED_RELEASE] = "release KEY NEED",
        [VTRACE_STEP] = "step N",
        [VTRACE_REQUEST_BEGIN] = "begin ID",
        [VTRACE_REQUEST_END] = "end ID",
        [VTRACE_PIN] = "pin ID",
        [VTRACE_UNPIN] = "unpin ID",
        [VTRACE_PNODE] = "pnode N PARENT HASHID",
        [VTRACE_LOOKUP] = "lookup REQ NODE PROMPT TOKENS",
        [VTRACE_FILL] = "fill REQ TOKENS",
    },
};

struct vtrace_reader {
    vlines *src;
    uint64_t ts;                  /* the sticky timestamp */
    unsigned hdr_seen;            /* a bit per header key */
    int pending;                  /* `first` holds the event that ended the header */
    vtrace_event first;
    vtrace_header hdr;
    vtrace_frame_fn on_frame;     /* frame lines go here (NULL: checked and skipped) */
    void *frame_ctx;
    vtrace_frame frame;           /* the frame line last read */
    uint64_t pnodes;              /* pnode lines read: they are numbered 1 .. pnodes */
};

#define fail(r, ...) vlines_fail((r)->src, __VA_ARGS__)
#define show vlines_show

static inline int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static inline const char *skip_blank(const char *p, const char *e)
{
    while (p < e && is_blank(*p))
        p++;
    return p;
}

static inline const char *word_end(const char *p, const char *e)
{
    while (p < e && !is_blank(*p))
        p++;
    return p;
}

static int word_is(const char *p, const char *q, const char *w)
{
    size_t n = strlen(w);
    return (size_t)(q - p) == n && memcmp(p, w, n) == 0;
}

static int check_range(vtrace_reader *r, const char *what, uint64_t v, uint64_t lo, uint64_t hi)
{
    if (v < lo || v > hi)
        return fail(r, "%s %llu out of range (expected %llu to %llu)", what, (unsigned long long)v,
                    (unsigned long long)lo, (unsigned long long)hi);
    return 0;
}

/* Parses the decimal number in the word at *pp into *v, lo <= *v <= hi, and
 * moves *pp past it. A number too long for 64 bits is named with the field's
 * own range, not the width of the type. */
static int parse_range_slow(vtrace_reader *r, const char *p, const char **pp, const char *e,
                            const char *what, const char *expected, uint64_t lo, uint64_t hi,
                            uint64_t *v);

static inline int parse_range(vtrace_reader *r, const char **pp, const char *e, const char *what,
                              const char *expected, uint64_t lo, uint64_t hi, uint64_t *v)
{
    const char *p = skip_blank(*pp, e);
    /* the common case in one pass: 1 to 19 digits, then a blank or the line end */
    const char *s = p;
    uint64_t x = 0;
    while (s < e && (unsigned)(unsigned char)*s - '0' <= 9 && s - p < 19)
        x = x * 10 + (unsigned)(unsigned char)*s++ - '0';
    if (s > p && (s == e || is_blank(*s))) {
        *v = x;
        *pp = s;
        return x < lo || x > hi ? check_range(r, what, x, lo, hi) : 0;
    }
    return parse_range_slow(r, p, pp, e, what, expected, lo, hi, v);
}

/* parse_range past its common case: a sign, more than 19 digits, a bad byte,
 * a missing field. */
static int parse_range_slow(vtrace_reader *r, const char *p, const char **pp, const char *e,
                            const char *what, const char *expected, uint64_t lo, uint64_t hi,
                            uint64_t *v)
{
    char tmp[48];
    const char *s;
    uint64_t x;
    if (p == e)
        return fail(r, "missing %s (expected: %s)", what, expected);
    const char *q = word_end(p, e);
    x = 0;
    s = p;
    if (*s == '-' && q - s > 1) {
        for (s++; s < q && *s >= '0' && *s <= '9'; s++)
            ;
        if (s == q)
            return fail(r, "%s is negative: '%s' (expected: %s)", what, show(p, q, tmp), expected);
        s = p;
    }
    if (q - p <= 19) {
        for (; s < q; s++) {
            unsigned d = (unsigned)(unsigned char)*s - '0';
            if (d > 9)
                break;
            x = x * 10 + d;
        }
    } else {
        for (; s < q; s++) {
            unsigned d = (unsigned)(unsigned char)*s - '0';
            if (d > 9)
                break;
            if (x > (UINT64_MAX - d) / 10) {
                if (lo == 0 && hi == UINT64_MAX)
                    return fail(r, "%s out of range: '%s' (at most %llu)", what, show(p, q, tmp),
                                (unsigned long long)UINT64_MAX);
                return fail(r, "%s out of range: '%s' (expected %llu to %llu)", what,
                            show(p, q, tmp), (unsigned long long)lo, (unsigned long long)hi);
            }
            x = x * 10 + d;
        }
    }
    if (s != q)
        return fail(r, "%s: expected a decimal number, found '%s'", what, show(p, q, tmp));
    *v = x;
    *pp = q;
    return check_range(r, what, x, lo, hi);
}

/* parse_range over every 64-bit value (ids, step numbers, timestamps). */
static int parse_u64(vtrace_reader *r, const char **pp, const char *e, const char *what,
                     const char *expected, uint64_t *v)
{
    return parse_range(r, pp, e, what, expected, 0, UINT64_MAX, v);
}

/* A shared-weight key: 1 .. VTRACE_KEY_MAX-1 bytes of '!' .. '~'. */
static int parse_key(vtrace_reader *r, const char **pp, const char *e, const char *expected,
                     char key[VTRACE_KEY_MAX])
{
    char tmp[48];
    const char *p = skip_blank(*pp, e);
    if (p == e)
        return fail(r, "missing KEY (expected: %s)", expected);
    const char *q = word_end(p, e);
    if (q - p >= VTRACE_KEY_MAX)
        return fail(r, "key too long: '%s' (%zu bytes, at most %d)", show(p, q, tmp),
                    (size_t)(q - p), VTRACE_KEY_MAX - 1);
    for (const char *s = p; s < q; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return fail(r, "key '%s' has byte 0x%02x (expected printable ASCII)", show(p, q, tmp),
                        (unsigned)(unsigned char)*s);
    memcpy(key, p, (size_t)(q - p));
    key[q - p] = '\0';
    *pp = q;
    return 0;
}

static int lookup_header_key(const char *p, const char *q)
{
    for (int k = 0; k < HDR_COUNT; k++)
        if (word_is(p, q, header_keys[k]))
            return k;
    return -1;
}

/* The event named by [p, q), or -1: by length and first byte, then one compare. */
static int lookup_type(const char *p, const char *q)
{
    int t;
    switch (q - p) {
    case 3: t = *p == 'u' ? VTRACE_USE : *p == 'p' ? VTRACE_PIN : VTRACE_REQUEST_END; break;
    case 4: t = *p == 's' ? VTRACE_STEP : p[1] == 'r' ? VTRACE_FREE : VTRACE_FILL; break;
    case 5:
        t = *p == 'a'   ? VTRACE_ALLOC
            : *p == 'u' ? VTRACE_UNPIN
            : *p == 'p' ? VTRACE_PNODE
                        : VTRACE_REQUEST_BEGIN;
        break;
    case 6: t = VTRACE_LOOKUP; break;
    case 7: t = *p == 'a' ? VTRACE_SHARED_ACQUIRE : VTRACE_SHARED_RELEASE; break;
    default: return -1;
    }
    return memcmp(p, vtrace_type_name((vtrace_type)t), (size_t)(q - p)) == 0 ? t : -1;
}

/* The NEED field of a version-2 alloc, acquire or release: "-", "engine" or
 * a request id. */
static int parse_need(vtrace_reader *r, const char **pp, const char *e, const char *expected,
                      vtrace_event *ev)
{
    char tmp[48];
    const char *p = skip_blank(*pp, e);
    if (p == e)
        return fail(r, "missing NEED (expected: %s, NEED '-', 'engine' or a request id)",
                    expected);
    if ((unsigned)(unsigned char)*p - '0' <= 9) { /* the common case: a request id */
        ev->need = VTRACE_NEED_REQUEST;
        return parse_u64(r, pp, e, "NEED", expected, &ev->owner);
    }
    const char *q = word_end(p, e);
    if ((q - p == 1 && *p == '-') || (q - p == 6 && memcmp(p, "engine", 6) == 0)) {
        ev->need = q - p == 1 ? VTRACE_NEED_NONE : VTRACE_NEED_ENGINE;
        *pp = q;
        return 0;
    }
    return fail(r, "NEED '%s' is not '-', 'engine' or a request id (expected: %s)",
                show(p, q, tmp), expected);
}

/* Parses the event line [p, e), p at its first non-blank byte. */
#define FRAMES_USAGE "frames=ID[,ID...] (1 to 4 frame ids)"

/* An alloc's optional " frames=ID[,ID...]" (version 2), after its NEED. */
static int parse_frames(vtrace_reader *r, const char **pp, const char *e, vtrace_event *ev)
{
    char tmp[48];
    const char *p = skip_blank(*pp, e);
    if (p == e)
        return 0;
    const char *q = word_end(p, e);
    if (q - p < 7 || memcmp(p, "frames=", 7) != 0)
        return 0; /* not a frames suffix: the caller reports the trailing text */
    const char *s = p + 7;
    for (;;) {
        uint64_t id = 0;
        const char *d = s;
        while (s < q && *s >= '0' && *s <= '9' && s - d < 11)
            id = id * 10 + (uint64_t)(*s++ - '0');
        if (s == d || (s < q && *s != ','))
            return fail(r, "frames: expected frame ids separated by commas, found '%s' (expected: "
                        FRAMES_USAGE ")", show(p, q, tmp));
        if (id < 1 || id > VTRACE_FRAME_ID_MAX)
            return fail(r, "frame id %llu out of range (expected 1 to %llu)",
                        (unsigned long long)id, (unsigned long long)VTRACE_FRAME_ID_MAX);
        if (ev->nframes == VTRACE_FRAMES_MAX)
            return fail(r, "more than %d frame ids in '%s'", VTRACE_FRAMES_MAX, show(p, q, tmp));
        ev->frames[ev->nframes++] = (uint32_t)id;
        if (s == q)
            break;
        s++; /* the comma */
    }
    *pp = q;
    return 0;
}

/* A `frame ID LINE FILE FUNCTION` line, the word `frame` read; handed to the callback. */
static int parse_frame_line(vtrace_reader *r, const char *p, const char *e)
{
    static const char u[] = "frame ID LINE FILE FUNCTION";
    char tmp[48];
    uint64_t id, line;
    if (r->hdr.version < 2)
        return fail(r, "'frame' lines need trace version 2 (this trace is version 1)");
    if (parse_range(r, &p, e, "frame ID", u, 1, VTRACE_FRAME_ID_MAX, &id) < 0 ||
        parse_range(r, &p, e, "LINE", u, 0, VTRACE_FRAME_LINE_MAX, &line) < 0)
        return -1;
    p = skip_blank(p, e);
    if (p == e)
        return fail(r, "missing FILE (expected: %s)", u);
    const char *q = word_end(p, e);
    if (q - p >= VTRACE_TEXT_MAX)
        return fail(r, "FILE too long (%zu bytes, at most %d)", (size_t)(q - p), VTRACE_TEXT_MAX - 1);
    const char *f = p;
    p = skip_blank(q, e);
    while (e > p && is_blank(e[-1]))
        e--;
    if (p == e)
        return fail(r, "missing FUNCTION (expected: %s)", u);
    if (e - p >= VTRACE_TEXT_MAX)
        return fail(r, "FUNCTION too long (%zu bytes, at most %d)", (size_t)(e - p),
                    VTRACE_TEXT_MAX - 1);
    for (const char *s = f; s < e; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return fail(r, "frame line has control byte 0x%02x in '%s'",
                        (unsigned)(unsigned char)*s, show(f, e, tmp));
    vtrace_frame *fr = &r->frame;
    fr->id = (uint32_t)id;
    fr->line = (uint32_t)line;
    memcpy(fr->file, f, (size_t)(q - f));
    fr->file[q - f] = '\0';
    memcpy(fr->func, p, (size_t)(e - p));
    fr->func[e - p] = '\0';
    if (r->on_frame)
        r->on_frame(r->frame_ctx, fr);
    return 0;
}

/* The fields of a prefix event (pnode, lookup, fill), its name read. Nodes
 * are numbered in order, so the reader checks a node's number and its parent
 * with one counter; whether a lookup's prompt fits its node's path, and
 * whether fills follow a lookup and never go back, takes a table of the nodes
 * and requests, which the replay keeps (sim/replay/replay_prefix.c). */
static int parse_prefix(vtrace_reader *r, const char *p, const char *e, const char *u,
                        vtrace_event *ev)
{
    if (!r->hdr.kv_block_tokens || !r->hdr.prefix_segment_tokens)
        return fail(r, "'%s' needs the header keys kv_block_tokens and prefix_segment_tokens",
                    vtrace_type_name(ev->type));
    uint64_t last = r->pnodes;
    switch (ev->type) {
    case VTRACE_PNODE:
        if (last == VTRACE_PNODE_MAX)
            return fail(r, "more than %llu pnode lines", (unsigned long long)VTRACE_PNODE_MAX);
        if (parse_u64(r, &p, e, "N", u, &ev->id) < 0)
            return -1;
        if (ev->id != last + 1)
            return fail(r, "pnode %llu out of order (expected node %llu: nodes are numbered 1, "
                        "2, ... in order)", (unsigned long long)ev->id, (unsigned long long)last + 1);
        if (parse_u64(r, &p, e, "PARENT", u, &ev->node) < 0)
            return -1;
        if (ev->node > last)
            return fail(r, "pnode %llu: unknown parent %llu (expected 0, the root, to %llu)",
                        (unsigned long long)ev->id, (unsigned long long)ev->node,
                        (unsigned long long)last);
        if (parse_u64(r, &p, e, "HASHID", u, &ev->hash) < 0)
            return -1;
        r->pnodes++;
        break;
    case VTRACE_LOOKUP:
        if (parse_u64(r, &p, e, "REQ", u, &ev->id) < 0)
            return -1;
        if (parse_u64(r, &p, e, "NODE", u, &ev->node) < 0)
            return -1;
        if (ev->node < 1 || ev->node > last)
            return fail(r, "lookup: unknown node %llu (%llu pnode lines so far)",
                        (unsigned long long)ev->node, (unsigned long long)last);
        if (parse_range(r, &p, e, "PROMPT", u, 1, VTRACE_PREFIX_TOKENS_MAX, &ev->prompt) < 0 ||
            parse_range(r, &p, e, "TOKENS", u, ev->prompt, VTRACE_PREFIX_TOKENS_MAX, &ev->tokens) < 0)
            return -1;
        break;
    default: /* fill */
        if (parse_u64(r, &p, e, "REQ", u, &ev->id) < 0 ||
            parse_range(r, &p, e, "TOKENS", u, 1, VTRACE_PREFIX_TOKENS_MAX, &ev->tokens) < 0)
            return -1;
        break;
    }
    p = skip_blank(p, e);
    if (p != e) {
        char tmp[48];
        return fail(r, "trailing text '%s' after the %s event (expected: %s)", show(p, e, tmp),
                    vtrace_type_name(ev->type), u);
    }
    return 1;
}

static int parse_event(vtrace_reader *r, const char *p, const char *e, vtrace_event *ev)
{
    char tmp[48];
    uint64_t v;
    if (*p == '@') {
        const char *at = p++;
        if (p == e || is_blank(*p))
            return fail(r, "'@' without a timestamp (expected @MICROSECONDS before the event)");
        if (parse_u64(r, &p, e, "timestamp", "@MICROSECONDS", &v) < 0)
            return -1;
        if (v < r->ts)
            return fail(r, "timestamp %llu goes backwards (previous %llu)", (unsigned long long)v,
                        (unsigned long long)r->ts);
        r->ts = v;
        p = skip_blank(p, e);
        if (p == e)
            return fail(r, "timestamp '%s' without an event", show(at, e, tmp));
    }
    const char *q = word_end(p, e);
    int t = lookup_type(p, q);
    int v2 = r->hdr.version >= 2;
    if (t < 0 || (!v2 && t >= VTRACE_PIN)) {
        if (lookup_header_key(p, q) >= 0)
            return fail(r, "header key '%s' after the first event", show(p, q, tmp));
        if (t >= 0)
            return fail(r, "event '%s' needs trace version 2 (this trace is version 1)",
                        show(p, q, tmp));
        return fail(r, "unknown event '%s' (expected alloc, free, use, acquire, release, step, "
                       "begin%s)", show(p, q, tmp),
                    v2 ? ", end, pin, unpin, pnode, lookup or fill" : " or end");
    }
    const char *u = usage[v2][t];
    ev->type = (vtrace_type)t;
    ev->line = vlines_line(r->src);
    ev->ts_us = r->ts;
    ev->id = ev->size = ev->align = 0;
    ev->kind = VRAM_KIND_OTHER;
    ev->priority = 0;
    ev->key[0] = '\0';
    ev->need = VTRACE_NEED_NONE;
    ev->owner = 0;
    ev->nframes = 0;
    ev->node = ev->hash = ev->prompt = ev->tokens = 0;
    p = q;
    switch (ev->type) {
    case VTRACE_ALLOC: {
        if (parse_u64(r, &p, e, "ID", u, &ev->id) < 0 || parse_range(r, &p, e, "SIZE", u, 1, SIZE_LIMIT, &ev->size) < 0 ||
            parse_range(r, &p, e, "ALIGN", u, 0, ALIGN_LIMIT, &ev->align) < 0)
            return -1;
        if (ev->align & (ev->align - 1))
            return fail(r, "ALIGN %llu is not a power of two (or 0)", (unsigned long long)ev->align);
        p = skip_blank(p, e);
        if (p == e)
            return fail(r, "missing KIND (expected: %s)", u);
        q = word_end(p, e);
        if (vtrace_kind_parse(p, (size_t)(q - p), &ev->kind) < 0)
            return fail(r, "unknown kind '%s' (expected weight, kv, activation, workspace, adapter "
                           "or other)", show(p, q, tmp));
        p = q;
        if (parse_range(r, &p, e, "PRIORITY", u, 0, PRIORITY_LIMIT, &v) < 0 ||
            (v2 && (parse_need(r, &p, e, u, ev) < 0 || parse_frames(r, &p, e, ev) < 0)))
            return -1;
        ev->priority = (int)v;
        break;
    }
    case VTRACE_SHARED_ACQUIRE:
        if (parse_key(r, &p, e, u, ev->key) < 0 || parse_range(r, &p, e, "SIZE", u, 1, SIZE_LIMIT, &ev->size) < 0 ||
            parse_range(r, &p, e, "PRIORITY", u, 0, PRIORITY_LIMIT, &v) < 0 ||
            (v2 && parse_need(r, &p, e, u, ev) < 0))
            return -1;
        ev->priority = (int)v;
        break;
    case VTRACE_SHARED_RELEASE:
        if (parse_key(r, &p, e, u, ev->key) < 0 || (v2 && parse_need(r, &p, e, u, ev) < 0))
            return -1;
        break;
    case VTRACE_STEP:
        if (parse_u64(r, &p, e, "N", u, &ev->id) < 0)
            return -1;
        break;
    case VTRACE_PNODE:
    case VTRACE_LOOKUP:
    case VTRACE_FILL:
        return parse_prefix(r, p, e, u, ev);
    default: /* free, use, begin, end, pin, unpin */
        if (parse_u64(r, &p, e, "ID", u, &ev->id) < 0)
            return -1;
        break;
    }
    p = skip_blank(p, e);
    if (p != e)
        return fail(r, "trailing text '%s' after the %s event (expected: %s)", show(p, e, tmp),
                    vtrace_type_name(ev->type), u);
    return 1;
}

/* A header text value: the rest of the line, 1 .. VTRACE_TEXT_MAX-1 bytes, no control bytes. */
static int parse_text(vtrace_reader *r, const char *key, const char *p, const char *e,
                      char out[VTRACE_TEXT_MAX])
{
    while (e > p && is_blank(e[-1]))
        e--;
    if (p == e)
        return fail(r, "header '%s' has no value", key);
    if (e - p >= VTRACE_TEXT_MAX)
        return fail(r, "header '%s' value too long (%zu bytes, at most %d)", key, (size_t)(e - p),
                    VTRACE_TEXT_MAX - 1);
    for (const char *s = p; s < e; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return fail(r, "header '%s' value has control byte 0x%02x", key, (unsigned)(unsigned char)*s);
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return 0;
}

static int parse_header_line(vtrace_reader *r, int k, const char *p, const char *e)
{
    char tmp[48];
    const char *key = header_keys[k];
    if (r->hdr_seen & (1u << k))
        return fail(r, "duplicate header key '%s'", key);
    if (k >= HDR_KV_TOKEN && r->hdr.version < 2)
        return fail(r, "header key '%s' needs trace version 2 (this trace is version 1)", key);
    r->hdr_seen |= 1u << k;
    p = skip_blank(p, e);
    switch (k) {
    case HDR_MODEL: return parse_text(r, key, p, e, r->hdr.model);
    case HDR_ENGINE: return parse_text(r, key, p, e, r->hdr.engine);
    case HDR_SOURCE: return parse_text(r, key, p, e, r->hdr.source);
    case HDR_LICENCE: return parse_text(r, key, p, e, r->hdr.licence);
    case HDR_ALLOC_SETTINGS: return parse_text(r, key, p, e, r->hdr.allocator_settings);
    default: {
        /* the numeric keys: where the value goes, its usage, its range */
        static const struct {
            size_t at;
            const char *expected;
            uint64_t lo, hi;
        } num[HDR_COUNT] = {
            [HDR_CAPACITY] = {offsetof(vtrace_header, capacity), "capacity BYTES", 1, SIZE_LIMIT},
            [HDR_KV_BLOCK] = {offsetof(vtrace_header, kv_block_bytes), "kv_block_bytes BYTES", 0,
                              SIZE_LIMIT},
            [HDR_KV_TOKEN] = {offsetof(vtrace_header, kv_token_bytes), "kv_token_bytes BYTES", 0,
                              SIZE_LIMIT},
            [HDR_PREFILL] = {offsetof(vtrace_header, prefill_tokens_per_s),
                             "prefill_tokens_per_s TOKENS", 0, SIZE_LIMIT},
            [HDR_BLOCK_TOKENS] = {offsetof(vtrace_header, kv_block_tokens),
                                  "kv_block_tokens TOKENS", 1, VTRACE_BLOCK_TOKENS_MAX},
            [HDR_SEGMENT_TOKENS] = {offsetof(vtrace_header, prefix_segment_tokens),
                                    "prefix_segment_tokens TOKENS", 1, VTRACE_SEGMENT_TOKENS_MAX},
            [HDR_PREFIX_BLOCKS] = {offsetof(vtrace_header, prefix_cache_blocks),
                                   "prefix_cache_blocks BLOCKS", 0, VTRACE_PREFIX_BLOCKS_MAX},
        };
        const char *expected = num[k].expected;
        uint64_t *dst = (uint64_t *)((char *)&r->hdr + num[k].at);
        if (parse_range(r, &p, e, key, expected, num[k].lo, num[k].hi, dst) < 0)
            return -1;
        p = skip_blank(p, e);
        if (p != e)
            return fail(r, "trailing text '%s' after header '%s' (expected: %s)", show(p, e, tmp),
                        key, expected);
        return 0;
    }
    }
}

/* The header is complete: the required keys are there, and a prefix segment
 * is whole blocks. */
static int check_required(vtrace_reader *r, const char *before)
{
    for (int k = 0; k < HDR_COUNT; k++)
        if ((HDR_REQUIRED & (1u << k)) && !(r->hdr_seen & (1u << k)))
            return fail(r, "missing header key '%s' %s", header_keys[k], before);
    const vtrace_header *h = &r->hdr;
    if (h->prefix_segment_tokens && h->kv_block_tokens &&
        h->prefix_segment_tokens % h->kv_block_tokens)
        return fail(r, "prefix_segment_tokens %llu is not a multiple of kv_block_tokens %llu",
                    (unsigned long long)h->prefix_segment_tokens,
                    (unsigned long long)h->kv_block_tokens);
    return 0;
}

static int read_version_line(vtrace_reader *r)
{
    char tmp[48];
    const char *p, *e;
    int rc = vlines_next(r->src, &p, &e);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        return fail(r, "empty file (expected 'vramtrace %d' as the first line)", VTRACE_VERSION);
    }
    p = skip_blank(p, e);
    const char *q = word_end(p, e);
    if (!word_is(p, q, "vramtrace"))
        return fail(r, "expected 'vramtrace %d' as the first line, found '%s'", VTRACE_VERSION,
                    show(p, e, tmp));
    uint64_t v;
    p = q;
    if (parse_u64(r, &p, e, "version", "vramtrace VERSION", &v) < 0)
        return -1;
    if (skip_blank(p, e) != e)
        return fail(r, "trailing text '%s' after the version (expected: vramtrace %d)",
                    show(skip_blank(p, e), e, tmp), VTRACE_VERSION);
    if (v < 1 || v > VTRACE_VERSION)
        return fail(r, "unsupported version %llu (this reader reads versions 1 to %d)",
                    (unsigned long long)v, VTRACE_VERSION);
    r->hdr.version = (int)v;
    return 0;
}

/* Reads the header up to and including the first event (kept in r->first). */
static int read_header(vtrace_reader *r)
{
    if (read_version_line(r) < 0)
        return -1;
    for (;;) {
        const char *p, *e;
        int rc = vlines_next(r->src, &p, &e);
        if (rc < 0)
            return -1;
        if (rc == 0)
            return check_required(r, "(the trace ends without it)");
        p = skip_blank(p, e);
        if (p == e || *p == '#')
            continue;
        const char *q = word_end(p, e);
        int k = lookup_header_key(p, q);
        if (k >= 0) {
            if (parse_header_line(r, k, q, e) < 0)
                return -1;
            continue;
        }
        if (word_is(p, q, "frame")) {
            if (check_required(r, "before the first frame line") < 0 || parse_frame_line(r, q, e) < 0)
                return -1;
            continue;
        }
        if (*p != '@' && lookup_type(p, q) < 0) {
            char tmp[48];
            return fail(r, "unknown header key or event '%s' (expected model, engine, capacity, "
                           "kv_block_bytes, source, licence,%s or an event)", show(p, q, tmp),
                        r->hdr.version >= 2
                            ? " kv_token_bytes, prefill_tokens_per_s, allocator_settings,"
                              " kv_block_tokens, prefix_segment_tokens, prefix_cache_blocks,"
                            : "");
        }
        if (check_required(r, "before the first event") < 0 || parse_event(r, p, e, &r->first) < 0)
            return -1;
        r->pending = 1;
        return 0;
    }
}

/* Takes `src` (closed on failure) and reads the header. */
static vram_status open_lines(vram_status st, vlines *src, vtrace_frame_fn fn, void *ctx,
                              vtrace_reader **out, char *err, size_t errlen)
{
    if (st)
        return st;
    vtrace_reader *r = calloc(1, sizeof *r);
    if (!r) {
        if (err && errlen)
            snprintf(err, errlen, "out of host memory");
        vlines_close(src);
        return VRAM_ENOHOST;
    }
    r->src = src;
    r->on_frame = fn;
    r->frame_ctx = ctx;
    if (read_header(r) < 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s", vlines_error(src));
        vtrace_close(r);
        return VRAM_EPARSE;
    }
    if (err && errlen)
        err[0] = '\0';
    *out = r;
    return VRAM_OK;
}

vram_status vtrace_open_frames(const char *path, vtrace_frame_fn fn, void *ctx,
                               vtrace_reader **out, char *err, size_t errlen)
{
    vlines *src = NULL;
    *out = NULL;
    vram_status st = vlines_open(path, LINE_MAX_BYTES, &src, err, errlen);
    return open_lines(st, src, fn, ctx, out, err, errlen);
}

vram_status vtrace_open(const char *path, vtrace_reader **out, char *err, size_t errlen)
{
    return vtrace_open_frames(path, NULL, NULL, out, err, errlen);
}

vram_status vtrace_open_buffer_frames(const void *buf, size_t len, const char *name,
                                      vtrace_frame_fn fn, void *ctx, vtrace_reader **out,
                                      char *err, size_t errlen)
{
    vlines *src = NULL;
    *out = NULL;
    vram_status st = vlines_open_buffer(buf, len, name ? name : "(trace)", LINE_MAX_BYTES, &src,
                                        err, errlen);
    return open_lines(st, src, fn, ctx, out, err, errlen);
}

vram_status vtrace_open_buffer(const void *buf, size_t len, const char *name, vtrace_reader **out,
                               char *err, size_t errlen)
{
    return vtrace_open_buffer_frames(buf, len, name, NULL, NULL, out, err, errlen);
}

const vtrace_header *vtrace_header_of(const vtrace_reader *r)
{
    return &r->hdr;
}

int vtrace_next(vtrace_reader *r, vtrace_event *ev)
{
    if (r->pending) {
        *ev = r->first;
        r->pending = 0;
        return 1;
    }
    for (;;) {
        const char *p, *e;
        int rc = vlines_next(r->src, &p, &e);
        if (rc <= 0)
            return rc;
        p = skip_blank(p, e);
        if (p == e || *p == '#')
            continue;
        const char *q = word_end(p, e);
        if (word_is(p, q, "frame")) {
            if (parse_frame_line(r, q, e) < 0)
                return -1;
            continue;
        }
        return parse_event(r, p, e, ev);
    }
}

const char *vtrace_error(const vtrace_reader *r)
{
    return vlines_error(r->src);
}

uint64_t vtrace_offset(const vtrace_reader *r)
{
    return vlines_offset(r->src);
}

size_t vtrace_memory(const vtrace_reader *r)
{
    return sizeof *r + vlines_memory(r->src);
}

void vtrace_close(vtrace_reader *r)
{
    if (!r)
        return;
    vlines_close(r->src);
    free(r);
}
