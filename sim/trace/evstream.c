/* evstream.c - the parsed trace as a binary stream, and its cursors
 * (evstream.h).
 *
 * A record is a varint head, type | mask << 4, then one varint per field the
 * mask names, in the mask's bit order. A field is written only when it is not
 * the reader's default (0, kind other, need "-", key ""), the line only when
 * it is not the previous one + 1, the timestamp as the difference from the
 * previous one (timestamps never go back: the reader refuses it). Every field
 * of vtrace_event is carried: a field added to it must be added to the mask,
 * encode() and decode(), or fuzz_evstream's comparison with the reader fails.
 *
 * Invariants of a built stream (vevs_check): the records tile [0, used),
 * followed by SLACK zero bytes (an unchecked varint read loads 8 bytes at
 * once); `events` records; every slot below `slots`, every key index below
 * `nkeys`. */
#include "evstream.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"

_Static_assert(VTRACE_TYPE_COUNT <= 16, "the record head holds the type in 4 bits");

enum {
    M_SLOT = 1 << 0, /* first: vevs_peek_slot reads it right after the head */
    M_ID = 1 << 1,
    M_SIZE = 1 << 2,
    M_KIND = 1 << 3,
    M_PRIORITY = 1 << 4,
    M_NEED = 1 << 5,
    M_OWNER = 1 << 6,
    M_LINE = 1 << 7,
    M_TS = 1 << 8,
    M_ALIGN = 1 << 9,
    M_KEY = 1 << 10,
    M_FRAMES = 1 << 11,
    M_NODE = 1 << 12,
    M_HASH = 1 << 13,
    M_PROMPT = 1 << 14,
    M_TOKENS = 1 << 15,
    M_ALL = (1 << 16) - 1
};

/* ---- slots ---- */

/* The live ids and their slots; `free` is a stack of released slots. */
typedef struct slotter {
    vsim_idmap *live; /* id -> uint32_t slot */
    uint32_t *free;
    size_t nfree, cap_free;
    uint32_t slots;   /* slots handed out: every slot is below it */
} slotter;

static vram_status slotter_init(slotter *s)
{
    memset(s, 0, sizeof *s);
    return vsim_idmap_create(sizeof(uint32_t), &s->live);
}

static void slotter_destroy(slotter *s)
{
    vsim_idmap_destroy(s->live);
    free(s->free);
}

/* The event's slot (evstream.h); VRAM_ENOHOST without host memory. */
static vram_status slot_of(slotter *s, const vtrace_event *ev, uint32_t *slot)
{
    *slot = VEVS_NO_SLOT;
    uint32_t *v;
    switch (ev->type) {
    case VTRACE_ALLOC: {
        int created;
        if (!(v = vsim_idmap_put(s->live, ev->id, &created)))
            return VRAM_ENOHOST;
        if (!created)
            return VRAM_OK;
        if (s->nfree == 0 && s->cap_free == s->slots) {
            /* the stack can then hold every slot: a free never fails */
            size_t c = s->cap_free ? s->cap_free * 2 : 64;
            uint32_t *p = c < VEVS_NO_SLOT ? realloc(s->free, c * sizeof *p) : NULL;
            if (!p) {
                vsim_idmap_remove(s->live, ev->id);
                return VRAM_ENOHOST;
            }
            s->free = p;
            s->cap_free = c;
        }
        *v = *slot = s->nfree ? s->free[--s->nfree] : s->slots++;
        return VRAM_OK;
    }
    case VTRACE_FREE:
        if ((v = vsim_idmap_get(s->live, ev->id))) {
            *slot = *v;
            s->free[s->nfree++] = *v;
            vsim_idmap_remove(s->live, ev->id);
        }
        return VRAM_OK;
    case VTRACE_USE:
    case VTRACE_PIN:
    case VTRACE_UNPIN:
        if ((v = vsim_idmap_get(s->live, ev->id)))
            *slot = *v;
        return VRAM_OK;
    default:
        return VRAM_OK;
    }
}

/* ---- varints ---- */

static unsigned char *put_varint(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

#define SLACK 8

/* Reads a varint at *p below end; 0, or -1 when it runs past end or 64 bits.
 * Unchecked (a cursor over a built stream, which always decodes): the bytes
 * are trusted, end is not looked at, and a varint of up to 3 bytes (ids,
 * slots, KV block sizes: below 2^21) comes from one 8-byte load (little-
 * endian; the stream's slack keeps the load inside it). Inlined, so each
 * caller's `checked` is a constant. */
static inline __attribute__((always_inline)) int get_varint(const unsigned char **p,
                                                            const unsigned char *end, int checked,
                                                            uint64_t *v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (!checked) {
        uint64_t w;
        memcpy(&w, *p, sizeof w);
        unsigned n = !(w & 0x80) ? 1 : !(w & 0x8000) ? 2 : !(w & 0x800000) ? 3 : 0;
        if (n) {
            *v = (w & 0x7f) | (w >> 1 & 0x3f80) | (w >> 2 & 0x1fc000);
            *v &= (UINT64_C(1) << (7 * n)) - 1;
            *p += n;
            return 0;
        }
    }
#endif
    if ((!checked || *p < end) && **p < 0x80) {
        *v = *(*p)++;
        return 0;
    }
    uint64_t x = 0;
    for (unsigned shift = 0; (!checked || *p < end) && shift < 64; shift += 7) {
        unsigned char b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* ---- the stream ---- */

struct vevs {
    vtrace_header hdr;
    unsigned char *buf;
    size_t used, cap;
    uint64_t events;
    char (*keys)[VTRACE_KEY_MAX]; /* interned shared keys, by index */
    uint32_t nkeys, cap_keys;
    uint32_t slots;
    char *error;                  /* the reader's error after the last event, or NULL */
};

/* The largest record: the head, 15 fields of a 64-bit varint and the frames. */
#define RECORD_MAX (3 + 15 * 10 + VTRACE_FRAMES_MAX * 5)

typedef struct builder {
    vevs *s;
    vsim_keymap *key_index; /* key -> uint32_t index in s->keys */
    size_t limit;
    uint64_t line, ts;      /* the previous event's */
} builder;

static vram_status intern_key(builder *b, const char *key, uint32_t *index)
{
    int created;
    uint32_t *v = vsim_keymap_put(b->key_index, key, &created);
    if (!v)
        return VRAM_ENOHOST;
    if (created) {
        vevs *s = b->s;
        if (s->nkeys == s->cap_keys) {
            uint32_t c = s->cap_keys ? s->cap_keys * 2 : 64;
            void *p = realloc(s->keys, (size_t)c * sizeof *s->keys);
            if (!p) {
                vsim_keymap_remove(b->key_index, key);
                return VRAM_ENOHOST;
            }
            s->keys = p;
            s->cap_keys = c;
        }
        memcpy(s->keys[s->nkeys], key, VTRACE_KEY_MAX);
        *v = s->nkeys++;
    }
    *index = *v;
    return VRAM_OK;
}

static unsigned mask_of(const builder *b, const vtrace_event *ev, uint32_t slot)
{
    return (ev->id ? M_ID : 0) | (slot != VEVS_NO_SLOT ? M_SLOT : 0) | (ev->size ? M_SIZE : 0) |
           (ev->kind != VRAM_KIND_OTHER ? M_KIND : 0) | (ev->priority ? M_PRIORITY : 0) |
           (ev->need != VTRACE_NEED_NONE ? M_NEED : 0) | (ev->owner ? M_OWNER : 0) |
           (ev->line != b->line + 1 ? M_LINE : 0) | (ev->ts_us != b->ts ? M_TS : 0) |
           (ev->align ? M_ALIGN : 0) | (ev->key[0] ? M_KEY : 0) | (ev->nframes ? M_FRAMES : 0) |
           (ev->node ? M_NODE : 0) | (ev->hash ? M_HASH : 0) | (ev->prompt ? M_PROMPT : 0) |
           (ev->tokens ? M_TOKENS : 0);
}

/* Appends one record; VRAM_OK, VRAM_ENOHOST, or VRAM_EOVERFLOW past the limit. */
static vram_status encode(builder *b, const vtrace_event *ev, uint32_t slot)
{
    vevs *s = b->s;
    if (s->cap - s->used < RECORD_MAX) {
        size_t c = s->cap ? s->cap * 2 : (size_t)1 << 16;
        if (c > b->limit)
            c = b->limit;
        if (c - s->used < RECORD_MAX)
            return VRAM_EOVERFLOW;
        unsigned char *p = realloc(s->buf, c);
        if (!p)
            return VRAM_ENOHOST;
        s->buf = p;
        s->cap = c;
    }
    uint32_t key = 0;
    if (ev->key[0]) {
        vram_status st = intern_key(b, ev->key, &key);
        if (st)
            return st;
    }
    unsigned m = mask_of(b, ev, slot);
    unsigned char *p = put_varint(s->buf + s->used, (uint64_t)ev->type | (uint64_t)m << 4);
    if (m & M_SLOT)
        p = put_varint(p, slot);
    if (m & M_ID)
        p = put_varint(p, ev->id);
    if (m & M_SIZE)
        p = put_varint(p, ev->size);
    if (m & M_KIND)
        p = put_varint(p, (uint64_t)ev->kind);
    if (m & M_PRIORITY)
        p = put_varint(p, (uint64_t)(unsigned)ev->priority);
    if (m & M_NEED)
        p = put_varint(p, (uint64_t)ev->need);
    if (m & M_OWNER)
        p = put_varint(p, ev->owner);
    if (m & M_LINE)
        p = put_varint(p, ev->line - b->line);
    if (m & M_TS)
        p = put_varint(p, ev->ts_us - b->ts);
    if (m & M_ALIGN)
        p = put_varint(p, ev->align);
    if (m & M_KEY)
        p = put_varint(p, key);
    if (m & M_FRAMES) {
        p = put_varint(p, ev->nframes);
        for (unsigned i = 0; i < ev->nframes; i++)
            p = put_varint(p, ev->frames[i]);
    }
    if (m & M_NODE)
        p = put_varint(p, ev->node);
    if (m & M_HASH)
        p = put_varint(p, ev->hash);
    if (m & M_PROMPT)
        p = put_varint(p, ev->prompt);
    if (m & M_TOKENS)
        p = put_varint(p, ev->tokens);
    s->used = (size_t)(p - s->buf);
    s->events++;
    b->line = ev->line;
    b->ts = ev->ts_us;
    return VRAM_OK;
}

/* Decodes one record at *p (below end) after the event whose line and
 * timestamp are *line and *ts; 0, or -1 for a record that does not decode
 * (`checked`: vevs_check's; a built stream always decodes). */
static inline __attribute__((always_inline)) int decode(const vevs *s, const unsigned char **p,
                                                        const unsigned char *end, int checked,
                                                        uint64_t *line, uint64_t *ts,
                                                        vtrace_event *ev, uint32_t *slot)
{
    uint64_t head, v = 0, dline = 1;
    if (get_varint(p, end, checked, &head) || (head & 15) >= VTRACE_TYPE_COUNT || (head >> 4) > M_ALL)
        return -1;
    unsigned m = (unsigned)(head >> 4);
    ev->type = (vtrace_type)(head & 15);
    ev->id = ev->size = ev->align = ev->owner = 0;
    ev->kind = VRAM_KIND_OTHER;
    ev->priority = 0;
    ev->need = VTRACE_NEED_NONE;
    ev->key[0] = '\0';
    ev->nframes = 0;
    ev->node = ev->hash = ev->prompt = ev->tokens = 0;
    *slot = VEVS_NO_SLOT;
#define FIELD(bit, dst, cast)                                                                      \
    if (m & (bit)) {                                                                               \
        if (get_varint(p, end, checked, &v))                                                       \
            return -1;                                                                             \
        dst = (cast)v;                                                                             \
    }
    FIELD(M_SLOT, *slot, uint32_t)
    FIELD(M_ID, ev->id, uint64_t)
    FIELD(M_SIZE, ev->size, uint64_t)
    FIELD(M_KIND, ev->kind, vram_kind)
    FIELD(M_PRIORITY, ev->priority, int)
    FIELD(M_NEED, ev->need, vtrace_need)
    FIELD(M_OWNER, ev->owner, uint64_t)
    FIELD(M_LINE, dline, uint64_t)
    FIELD(M_TS, v, uint64_t)
    *ts += m & M_TS ? v : 0;
    FIELD(M_ALIGN, ev->align, uint64_t)
    if (m & M_KEY) {
        if (get_varint(p, end, checked, &v) || v >= s->nkeys)
            return -1;
        memcpy(ev->key, s->keys[v], VTRACE_KEY_MAX);
    }
    if (m & M_FRAMES) {
        if (get_varint(p, end, checked, &v) || v == 0 || v > VTRACE_FRAMES_MAX)
            return -1;
        ev->nframes = (unsigned)v;
        for (unsigned i = 0; i < ev->nframes; i++) {
            if (get_varint(p, end, checked, &v))
                return -1;
            ev->frames[i] = (uint32_t)v;
        }
    }
    FIELD(M_NODE, ev->node, uint64_t)
    FIELD(M_HASH, ev->hash, uint64_t)
    FIELD(M_PROMPT, ev->prompt, uint64_t)
    FIELD(M_TOKENS, ev->tokens, uint64_t)
#undef FIELD
    *line += dline;
    ev->line = *line;
    ev->ts_us = *ts;
    return 0;
}

void vevs_destroy(vevs *s)
{
    if (!s)
        return;
    free(s->buf);
    free(s->keys);
    free(s->error);
    free(s);
}

uint64_t vevs_events(const vevs *s) { return s->events; }

size_t vevs_memory(const vevs *s)
{
    return sizeof *s + s->cap + (size_t)s->cap_keys * sizeof *s->keys +
           (s->error ? strlen(s->error) + 1 : 0);
}

static vram_status open_reader(const char *path, const void *data, size_t size,
                               vtrace_reader **r, char *err, size_t errlen)
{
    vram_status st = data ? vtrace_open_buffer(data, size, path, r, err, errlen)
                          : vtrace_open(path, r, err, errlen);
    if (st && err && errlen && !err[0])
        snprintf(err, errlen, "%s: cannot open trace: %s", path, vram_strerror(st));
    return st;
}

static vram_status build_events(builder *b, vtrace_reader *r, slotter *sl,
                                volatile sig_atomic_t *stop)
{
    vtrace_event ev;
    int got;
    while ((got = vtrace_next(r, &ev)) == 1) {
        uint32_t slot;
        vram_status st = slot_of(sl, &ev, &slot);
        if (!st)
            st = encode(b, &ev, slot);
        if (st)
            return st;
        if (stop && *stop)
            return VRAM_EBUSY;
    }
    if (got < 0 && !(b->s->error = strdup(vtrace_error(r))))
        return VRAM_ENOHOST;
    b->s->slots = sl->slots;
    /* The buffer grew by doubling: cut to what is used and the slack. */
    vevs *s = b->s;
    unsigned char *p = realloc(s->buf, s->used + SLACK);
    if (!p)
        return VRAM_ENOHOST;
    s->buf = p;
    s->cap = s->used + SLACK;
    memset(s->buf + s->used, 0, SLACK);
    return VRAM_OK;
}

vram_status vevs_build(const char *path, const void *data, size_t size, size_t limit,
                       volatile sig_atomic_t *stop, vevs **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    vtrace_reader *r;
    vram_status st = open_reader(path, data, size, &r, err, errlen);
    if (st)
        return st;
    builder b = {.s = calloc(1, sizeof *b.s), .limit = limit};
    slotter sl;
    memset(&sl, 0, sizeof sl);
    st = b.s ? vsim_keymap_create(sizeof(uint32_t), &b.key_index) : VRAM_ENOHOST;
    if (!st)
        st = slotter_init(&sl);
    if (!st) {
        b.s->hdr = *vtrace_header_of(r);
        st = build_events(&b, r, &sl, stop);
    }
    if (st == VRAM_EBUSY && err && errlen)
        snprintf(err, errlen, "%s: reading the trace was stopped (a signal)", path);
    slotter_destroy(&sl);
    vsim_keymap_destroy(b.key_index);
    vtrace_close(r);
    if (st) {
        vevs_destroy(b.s);
        return st == VRAM_EOVERFLOW ? VRAM_OK : st; /* over the limit: live cursors */
    }
    *out = b.s;
    return VRAM_OK;
}

static vram_status check_fail(char *msg, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static vram_status check_fail(char *msg, size_t len, const char *fmt, ...)
{
    if (msg && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, len, fmt, ap);
        va_end(ap);
    }
    return VRAM_ECORRUPT;
}

vram_status vevs_check(const vevs *s, char *msg, size_t len)
{
    if (s->used > s->cap || s->cap - s->used < SLACK)
        return check_fail(msg, len, "%zu bytes used of %zu: no slack", s->used, s->cap);
    for (size_t i = 0; i < SLACK; i++)
        if (s->buf[s->used + i])
            return check_fail(msg, len, "slack byte %zu is %u", i, s->buf[s->used + i]);
    const unsigned char *p = s->buf, *end = s->buf + s->used;
    uint64_t line = 0, ts = 0, n = 0;
    while (p < end) {
        uint64_t prev_line = line;
        vtrace_event ev;
        uint32_t slot;
        if (decode(s, &p, end, 1, &line, &ts, &ev, &slot))
            return check_fail(msg, len, "record %llu at byte %zu does not decode",
                              (unsigned long long)n + 1, (size_t)(p - s->buf));
        if (line <= prev_line)
            return check_fail(msg, len, "record %llu: line %llu after line %llu",
                              (unsigned long long)n + 1, (unsigned long long)line,
                              (unsigned long long)prev_line);
        if (slot != VEVS_NO_SLOT && slot >= s->slots)
            return check_fail(msg, len, "record %llu: slot %u of %u",
                              (unsigned long long)n + 1, slot, s->slots);
        n++;
    }
    if (n != s->events)
        return check_fail(msg, len, "%llu records, %llu events counted", (unsigned long long)n,
                          (unsigned long long)s->events);
    return VRAM_OK;
}

/* ---- cursors ---- */

struct vevs_cursor {
    const vevs *s;                  /* NULL: live */
    const unsigned char *p, *end;
    uint64_t line, ts;
    vtrace_reader *r;               /* live: the reader and the slots */
    slotter sl;
    int failed;
};

vram_status vevs_open(const vevs *s, const char *path, const void *data, size_t size,
                      vevs_cursor **out, char *err, size_t errlen)
{
    *out = NULL;
    vevs_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return VRAM_ENOHOST;
    c->s = s;
    vram_status st = VRAM_OK;
    if (s) {
        c->p = s->buf;
        c->end = s->buf + s->used;
    } else if (!(st = open_reader(path, data, size, &c->r, err, errlen))) {
        st = slotter_init(&c->sl);
    }
    if (st) {
        vevs_close(c);
        return st;
    }
    *out = c;
    return VRAM_OK;
}

const vtrace_header *vevs_header(const vevs_cursor *c)
{
    return c->s ? &c->s->hdr : vtrace_header_of(c->r);
}

int vevs_next(vevs_cursor *c, vtrace_event *ev, uint32_t *slot)
{
    if (c->failed)
        return -1;
    if (!c->s) {
        int got = vtrace_next(c->r, ev);
        if (got == 1 && slot_of(&c->sl, ev, slot)) {
            c->failed = 1; /* no host memory: said by vevs_error */
            return -1;
        }
        return got;
    }
    if (c->p < c->end) {
        decode(c->s, &c->p, c->end, 0, &c->line, &c->ts, ev, slot);
        return 1;
    }
    return c->s->error ? -1 : 0;
}

uint32_t vevs_peek_slot(const vevs_cursor *c)
{
    const unsigned char *p = c->p;
    uint64_t head = 0, slot = VEVS_NO_SLOT;
    if (!c->s || p == c->end)
        return VEVS_NO_SLOT;
    get_varint(&p, c->end, 0, &head);
    if (!((head >> 4) & M_SLOT))
        return VEVS_NO_SLOT;
    get_varint(&p, c->end, 0, &slot);
    return (uint32_t)slot;
}

const char *vevs_error(const vevs_cursor *c)
{
    if (c->s)
        return c->p == c->end && c->s->error ? c->s->error : "";
    return c->failed ? "out of host memory assigning slots" : vtrace_error(c->r);
}

uint32_t vevs_slots(const vevs_cursor *c) { return c->s ? c->s->slots : c->sl.slots; }

void vevs_close(vevs_cursor *c)
{
    if (!c)
        return;
    if (!c->s) {
        vtrace_close(c->r);
        slotter_destroy(&c->sl);
    }
    free(c);
}
