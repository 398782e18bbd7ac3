/* trace_write.c - the trace writer: plain text or gzip through zlib.
 *
 * Events are formatted by hand into a buffer that goes to zlib when nearly
 * full. The writer refuses what the reader would refuse (VRAM_EINVAL), so a
 * written trace always reads back. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "trace.h"

#define OUT_BYTES (64 * 1024)
#define EVENT_MAX 320 /* longest formatted event: "@" 20 digits, name, key 63, 3 numbers,
                         " frames=" and 4 ids of 10 digits */
#define SIZE_LIMIT ((uint64_t)INT64_MAX)
#define ALIGN_LIMIT ((uint64_t)1 << 30)

struct vtrace_writer {
    gzFile gz;
    int version;       /* 1 or 2: version 1 has no NEED fields and no pin/unpin */
    int failed;        /* a write failed: every later call returns VRAM_EIO */
    int errnum;        /* ... and sets errno to this, the failed write's */
    uint64_t ts;       /* the timestamp last written (sticky in the format) */
    int prefix;        /* the header allows prefix events (block and segment tokens) */
    uint64_t pnodes;   /* pnode lines written: numbered 1 .. pnodes */
    size_t len;
    char out[OUT_BYTES];
};

static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* VRAM_EIO with errno set to the first failed write's. */
static vram_status failed(vtrace_writer *w)
{
    errno = w->errnum;
    return VRAM_EIO;
}

static vram_status flush(vtrace_writer *w)
{
    if (w->failed)
        return failed(w);
    errno = 0;
    if (w->len && gzwrite(w->gz, w->out, (unsigned)w->len) != (int)w->len) {
        w->failed = 1;
        w->errnum = errno ? errno : EIO;
        return VRAM_EIO;
    }
    w->len = 0;
    return VRAM_OK;
}

/* Appends a line; the caller has made room for n + 1 bytes. */
static void append_line(vtrace_writer *w, const char *s, size_t n)
{
    memcpy(w->out + w->len, s, n);
    w->len += n;
    w->out[w->len++] = '\n';
}

static vram_status put_line(vtrace_writer *w, const char *s, size_t n)
{
    if (w->len + n + 1 > OUT_BYTES && flush(w))
        return VRAM_EIO;
    append_line(w, s, n);
    return VRAM_OK;
}

/* At most `max` bytes before the NUL, none of them a control byte (tab allowed). */
static int bytes_ok(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
            return 0;
    return 1;
}

/* A header text value as the reader gives it back: no blank at either end. */
static int text_ok(const char *s, size_t max, int may_be_empty)
{
    size_t n = strnlen(s, max + 1);
    if (!bytes_ok(s, max) || (n == 0 && !may_be_empty))
        return 0;
    return n == 0 || (s[0] != ' ' && s[0] != '\t' && s[n - 1] != ' ' && s[n - 1] != '\t');
}

static void put_text_header(vtrace_writer *w, const char *key, const char *value)
{
    char line[VTRACE_TEXT_MAX + 32];
    int n = snprintf(line, sizeof line, "%s %s", key, value);
    append_line(w, line, (size_t)n);
}

static void put_num_header(vtrace_writer *w, const char *key, uint64_t v)
{
    char line[64];
    char *p = put_str(line, key);
    *p++ = ' ';
    p = put_u64(p, v);
    append_line(w, line, (size_t)(p - line));
}

/* The header goes into the empty buffer: at most thirteen lines of under
 * VTRACE_TEXT_MAX + 32 bytes each, far below OUT_BYTES, so nothing is flushed
 * and nothing can fail before the first event. */
static void write_header(vtrace_writer *w, const vtrace_header *h)
{
    char first[32];
    int n = snprintf(first, sizeof first, "vramtrace %d", h->version);
    append_line(w, first, (size_t)n);
    put_text_header(w, "model", h->model);
    put_text_header(w, "engine", h->engine);
    put_num_header(w, "capacity", h->capacity);
    if (h->kv_block_bytes)
        put_num_header(w, "kv_block_bytes", h->kv_block_bytes);
    if (h->source[0])
        put_text_header(w, "source", h->source);
    if (h->licence[0])
        put_text_header(w, "licence", h->licence);
    if (h->kv_token_bytes)
        put_num_header(w, "kv_token_bytes", h->kv_token_bytes);
    if (h->prefill_tokens_per_s)
        put_num_header(w, "prefill_tokens_per_s", h->prefill_tokens_per_s);
    if (h->allocator_settings[0])
        put_text_header(w, "allocator_settings", h->allocator_settings);
    if (h->kv_block_tokens)
        put_num_header(w, "kv_block_tokens", h->kv_block_tokens);
    if (h->prefix_segment_tokens)
        put_num_header(w, "prefix_segment_tokens", h->prefix_segment_tokens);
    if (h->prefix_cache_blocks)
        put_num_header(w, "prefix_cache_blocks", h->prefix_cache_blocks);
}

/* The prefix cache's header keys as the reader takes them (version 2). */
static int prefix_header_ok(const vtrace_header *h)
{
    if (h->version < 2)
        return !h->kv_block_tokens && !h->prefix_segment_tokens && !h->prefix_cache_blocks;
    return h->kv_block_tokens <= VTRACE_BLOCK_TOKENS_MAX &&
           h->prefix_segment_tokens <= VTRACE_SEGMENT_TOKENS_MAX &&
           h->prefix_cache_blocks <= VTRACE_PREFIX_BLOCKS_MAX &&
           (!h->kv_block_tokens || !h->prefix_segment_tokens ||
            h->prefix_segment_tokens % h->kv_block_tokens == 0);
}

vram_status vtrace_writer_open_as(const char *path, const vtrace_header *hdr, int gzip,
                                  vtrace_writer **out)
{
    *out = NULL;
    if (!path || !hdr || (hdr->version != 1 && hdr->version != 2) ||
        (hdr->version == 1 &&
         (hdr->kv_token_bytes || hdr->prefill_tokens_per_s || hdr->allocator_settings[0])) ||
        hdr->kv_token_bytes > SIZE_LIMIT || hdr->prefill_tokens_per_s > SIZE_LIMIT ||
        !text_ok(hdr->model, VTRACE_TEXT_MAX - 1, 0) || !text_ok(hdr->engine, VTRACE_TEXT_MAX - 1, 0) ||
        !text_ok(hdr->source, VTRACE_TEXT_MAX - 1, 1) || !text_ok(hdr->licence, VTRACE_TEXT_MAX - 1, 1) ||
        !text_ok(hdr->allocator_settings, VTRACE_TEXT_MAX - 1, 1) ||
        hdr->capacity == 0 || hdr->capacity > SIZE_LIMIT || hdr->kv_block_bytes > SIZE_LIMIT ||
        !prefix_header_ok(hdr))
        return VRAM_EINVAL;
    vtrace_writer *w = malloc(sizeof *w);
    if (!w)
        return VRAM_ENOHOST;
    w->failed = 0;
    w->version = hdr->version;
    w->errnum = 0;
    w->ts = 0;
    w->len = 0;
    w->prefix = hdr->kv_block_tokens && hdr->prefix_segment_tokens;
    w->pnodes = 0;
    w->gz = gzopen(path, gzip ? "wb6" : "wbT");
    if (!w->gz) {
        free(w);
        return VRAM_EIO;
    }
    gzbuffer(w->gz, 128 * 1024);
    write_header(w, hdr);
    *out = w;
    return VRAM_OK;
}

vram_status vtrace_writer_open(const char *path, const vtrace_header *hdr, vtrace_writer **out)
{
    size_t n = path ? strlen(path) : 0;
    int gzip = n >= 3 && strcmp(path + n - 3, ".gz") == 0;
    return vtrace_writer_open_as(path, hdr, gzip, out);
}

static int key_ok(const char *key)
{
    size_t n = strnlen(key, VTRACE_KEY_MAX);
    if (n == 0 || n >= VTRACE_KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)key[i] < 0x21 || (unsigned char)key[i] > 0x7e)
            return 0;
    return 1;
}

/* The NEED field of alloc, acquire and release: none in version 1. */
static int need_ok(const vtrace_writer *w, const vtrace_event *ev)
{
    if ((unsigned)ev->need > VTRACE_NEED_REQUEST)
        return 0;
    return w->version >= 2 || ev->need == VTRACE_NEED_NONE;
}

static int frames_ok(const vtrace_writer *w, const vtrace_event *ev)
{
    if (!ev->nframes)
        return 1;
    if (w->version < 2 || ev->type != VTRACE_ALLOC || ev->nframes > VTRACE_FRAMES_MAX)
        return 0;
    for (unsigned i = 0; i < ev->nframes; i++)
        if (!ev->frames[i])
            return 0;
    return 1;
}

static int event_ok(const vtrace_writer *w, const vtrace_event *ev)
{
    if ((unsigned)ev->type >= VTRACE_TYPE_COUNT || ev->ts_us < w->ts || !frames_ok(w, ev))
        return 0;
    switch (ev->type) {
    case VTRACE_ALLOC:
        return ev->size >= 1 && ev->size <= SIZE_LIMIT && ev->align <= ALIGN_LIMIT &&
               !(ev->align & (ev->align - 1)) && (unsigned)ev->kind < VRAM_KIND_COUNT &&
               ev->priority >= 0 && need_ok(w, ev);
    case VTRACE_SHARED_ACQUIRE:
        return key_ok(ev->key) && ev->size >= 1 && ev->size <= SIZE_LIMIT && ev->priority >= 0 &&
               need_ok(w, ev);
    case VTRACE_SHARED_RELEASE:
        return key_ok(ev->key) && need_ok(w, ev);
    case VTRACE_PIN:
    case VTRACE_UNPIN:
        return w->version >= 2;
    case VTRACE_PNODE:
        return w->prefix && w->pnodes < VTRACE_PNODE_MAX && ev->id == w->pnodes + 1 &&
               ev->node <= w->pnodes;
    case VTRACE_LOOKUP:
        return w->prefix && ev->node >= 1 && ev->node <= w->pnodes && ev->prompt >= 1 &&
               ev->tokens >= ev->prompt && ev->tokens <= VTRACE_PREFIX_TOKENS_MAX;
    case VTRACE_FILL:
        return w->prefix && ev->tokens >= 1 && ev->tokens <= VTRACE_PREFIX_TOKENS_MAX;
    default:
        return 1;
    }
}

/* " NEED" in a version-2 trace; nothing in version 1. */
static char *put_need(const vtrace_writer *w, char *p, const vtrace_event *ev)
{
    if (w->version < 2)
        return p;
    char buf[21];
    *p++ = ' ';
    return put_str(p, vtrace_need_text(ev->need, ev->owner, buf));
}

vram_status vtrace_write(vtrace_writer *w, const vtrace_event *ev)
{
    if (w->failed)
        return failed(w);
    if (!event_ok(w, ev))
        return VRAM_EINVAL;
    if (w->len + EVENT_MAX > OUT_BYTES && flush(w))
        return VRAM_EIO;
    char *start = w->out + w->len, *p = start;
    if (ev->ts_us != w->ts) {
        *p++ = '@';
        p = put_u64(p, ev->ts_us);
        *p++ = ' ';
        w->ts = ev->ts_us;
    }
    p = put_str(p, vtrace_type_name(ev->type));
    *p++ = ' ';
    switch (ev->type) {
    case VTRACE_ALLOC:
        p = put_u64(p, ev->id);
        *p++ = ' ';
        p = put_u64(p, ev->size);
        *p++ = ' ';
        p = put_u64(p, ev->align);
        *p++ = ' ';
        p = put_str(p, vtrace_kind_name(ev->kind));
        *p++ = ' ';
        p = put_u64(p, (uint64_t)ev->priority);
        p = put_need(w, p, ev);
        for (unsigned i = 0; i < ev->nframes; i++) {
            p = put_str(p, i ? "," : " frames=");
            p = put_u64(p, ev->frames[i]);
        }
        break;
    case VTRACE_SHARED_ACQUIRE:
        p = put_str(p, ev->key);
        *p++ = ' ';
        p = put_u64(p, ev->size);
        *p++ = ' ';
        p = put_u64(p, (uint64_t)ev->priority);
        p = put_need(w, p, ev);
        break;
    case VTRACE_SHARED_RELEASE:
        p = put_str(p, ev->key);
        p = put_need(w, p, ev);
        break;
    case VTRACE_PNODE:
        p = put_u64(p, ev->id);
        *p++ = ' ';
        p = put_u64(p, ev->node);
        *p++ = ' ';
        p = put_u64(p, ev->hash);
        w->pnodes++;
        break;
    case VTRACE_LOOKUP:
        p = put_u64(p, ev->id);
        *p++ = ' ';
        p = put_u64(p, ev->node);
        *p++ = ' ';
        p = put_u64(p, ev->prompt);
        *p++ = ' ';
        p = put_u64(p, ev->tokens);
        break;
    case VTRACE_FILL:
        p = put_u64(p, ev->id);
        *p++ = ' ';
        p = put_u64(p, ev->tokens);
        break;
    default:
        p = put_u64(p, ev->id);
        break;
    }
    *p++ = '\n';
    w->len += (size_t)(p - start);
    return VRAM_OK;
}

vram_status vtrace_write_frame(vtrace_writer *w, const vtrace_frame *f)
{
    if (w->failed)
        return failed(w);
    if (w->version < 2 || !f->id || !text_ok(f->func, VTRACE_TEXT_MAX - 1, 0) ||
        !text_ok(f->file, VTRACE_TEXT_MAX - 1, 0))
        return VRAM_EINVAL;
    for (const char *s = f->file; *s; s++)
        if (*s == ' ' || *s == '\t')
            return VRAM_EINVAL;
    char line[2 * VTRACE_TEXT_MAX + 40];
    char *p = put_str(line, "frame ");
    p = put_u64(p, f->id);
    *p++ = ' ';
    p = put_u64(p, f->line);
    *p++ = ' ';
    p = put_str(p, f->file);
    *p++ = ' ';
    p = put_str(p, f->func);
    return put_line(w, line, (size_t)(p - line));
}

vram_status vtrace_write_comment(vtrace_writer *w, const char *text)
{
    if (w->failed)
        return failed(w);
    if (!bytes_ok(text, 4000))
        return VRAM_EINVAL;
    char line[4008];
    int n = snprintf(line, sizeof line, "#%s%s", text[0] ? " " : "", text);
    return put_line(w, line, (size_t)n);
}

vram_status vtrace_writer_close(vtrace_writer *w)
{
    if (!w)
        return VRAM_OK;
    vram_status st = flush(w);
    int errnum = w->errnum;
    errno = 0;
    if (gzclose(w->gz) != Z_OK && !st) {
        st = VRAM_EIO;
        errnum = errno ? errno : EIO;
    }
    free(w);
    errno = errnum;
    return st;
}
