/* import_core.c - the part of every importer that is not parsing (import_core.h). */
#include "import_core.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the core knows of one recorded address. Entries are never removed: an
 * address that was freed stays known, so a second free is told apart from the
 * free of a block allocated before the recording began (an unknown address). */
typedef struct addr_state {
    uint64_t size; /* of the block while live */
    uint64_t id;   /* trace id while live (pass 2) */
    int live;
} addr_state;

vram_status vimport__core_init(vimport__core *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->err = err;
    c->errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
    vram_status st = vsim_idmap_create(sizeof(addr_state), &c->addrs);
    if (st && err && errlen)
        snprintf(err, errlen, "out of host memory");
    return st;
}

void vimport__core_fini(vimport__core *c)
{
    vsim_idmap_destroy(c->addrs);
    free(c->start);
    c->addrs = NULL;
    c->start = NULL;
}

vram_status vimport__core_open(vimport__core *c, const char *in_path, const char *out_path,
                               char *err, size_t errlen)
{
    vram_status st = vimport__core_init(c, err, errlen);
    if (!st)
        st = vtrace_output_not_input(out_path, in_path, err, errlen);
    if (st)
        vimport__core_fini(c);
    return st;
}

vram_status vimport__fail(vimport__core *c, const vimport__source *src, vram_status st,
                          const char *fmt, ...)
{
    if (!c->err || !c->errlen)
        return st;
    char where[512] = "";
    if (src)
        src->where(src->ctx, where, sizeof where);
    int n = snprintf(c->err, c->errlen, "%s%s", where, where[0] ? ": " : "");
    if (n >= 0 && (size_t)n < c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* The next record, its optional fields cleared first. */
static int next_rec(const vimport__source *src, vimport__rec *r)
{
    *r = (vimport__rec){.kind = VRAM_KIND_OTHER};
    return src->next(src->ctx, r);
}

static vram_status no_memory(vimport__core *c)
{
    return vimport__fail(c, NULL, VRAM_ENOHOST, "out of host memory");
}

static vram_status push_start(vimport__core *c, uint64_t addr, uint64_t size)
{
    if (c->n_start == c->start_cap) {
        size_t ncap = c->start_cap ? c->start_cap * 2 : 64;
        vimport__block *n = ncap <= SIZE_MAX / sizeof *n ? realloc(c->start, ncap * sizeof *n) : NULL;
        if (!n)
            return no_memory(c);
        c->start = n;
        c->start_cap = ncap;
    }
    c->start[c->n_start++] = (vimport__block){.addr = addr, .size = size};
    return VRAM_OK;
}

static vram_status size_mismatch(vimport__core *c, const vimport__source *src, const char *what,
                                 const vimport__rec *r, uint64_t live_size)
{
    return vimport__fail(c, src, VRAM_EPARSE,
                         "%s of 0x%llx with size %llu, but the block was allocated with size %llu",
                         what, (unsigned long long)r->addr, (unsigned long long)r->size,
                         (unsigned long long)live_size);
}

/* total += size, kept <= INT64_MAX; 0 when it would exceed that. */
static int add_total(uint64_t *total, uint64_t size)
{
    return !__builtin_add_overflow(*total, size, total) && *total <= INT64_MAX;
}

static vram_status too_large(vimport__core *c, const vimport__source *src)
{
    return vimport__fail(c, src, VRAM_EPARSE, "the allocated sizes add up to more than 2^63-1 bytes");
}

vram_status vimport__scan(vimport__core *c, const vimport__source *src)
{
    /* Live bytes at any moment = logged (allocated in the recording, still live)
     * + pre-existing not yet freed = logged - pre_freed + P, where P (all
     * pre-existing bytes) is known only at the end: so track the maximum of
     * logged - pre_freed and add P afterwards. `total` (every alloc and every
     * pre-existing block) bounds both terms and is kept <= INT64_MAX, so the
     * difference fits in int64_t. */
    uint64_t logged = 0, pre_freed = 0, total = 0, live_count = 0;
    int64_t max_diff = 0;
    vimport__rec r;
    int got;
    while ((got = next_rec(src, &r)) == 1) {
        if (r.size == 0)
            return vimport__fail(c, src, VRAM_EPARSE, "size 0: expected a size of at least 1 byte");
        int created = 0;
        addr_state *a = r.type == VIMPORT__CHECK_LIVE ? vsim_idmap_get(c->addrs, r.addr)
                                                      : vsim_idmap_put(c->addrs, r.addr, &created);
        if (!a && r.type != VIMPORT__CHECK_LIVE)
            return no_memory(c);
        switch (r.type) {
        case VIMPORT__ALLOC:
            if (a->live)
                return vimport__fail(c, src, VRAM_EPARSE,
                                     "alloc of 0x%llx, which is live (allocated and not freed)",
                                     (unsigned long long)r.addr);
            if (!add_total(&total, r.size))
                return too_large(c, src);
            a->live = 1;
            a->size = r.size;
            logged += r.size;
            live_count++;
            break;
        case VIMPORT__FREE:
            if (a->live) {
                if (r.size != a->size)
                    return size_mismatch(c, src, "free", &r, a->size);
                a->live = 0;
                logged -= r.size;
                live_count--;
            } else if (!created) {
                return vimport__fail(c, src, VRAM_EPARSE,
                                     "free of 0x%llx, which was freed already (double free)",
                                     (unsigned long long)r.addr);
            } else {
                if (!add_total(&total, r.size))
                    return too_large(c, src);
                vram_status st = push_start(c, r.addr, r.size);
                if (st)
                    return st;
                c->n_pre++;
                pre_freed += r.size;
            }
            break;
        case VIMPORT__CHECK_LIVE:
            if (a && a->live && r.size != a->size)
                return size_mismatch(c, src, "free request", &r, a->size);
            if (a && !a->live)
                return vimport__fail(c, src, VRAM_EPARSE,
                                     "free request of 0x%llx, which is not live",
                                     (unsigned long long)r.addr);
            break; /* unknown: a pre-existing block, freed later */
        }
        int64_t diff = (int64_t)logged - (int64_t)pre_freed;
        if (diff > max_diff)
            max_diff = diff;
    }
    if (got < 0)
        return VRAM_EPARSE;
    c->stats.preexisting = c->n_pre;
    c->stats.live_at_end = live_count;
    c->stats.peak_live_bytes = pre_freed + (uint64_t)max_diff; /* pre_freed = P now */
    c->pre_bytes = pre_freed;
    c->total_bytes = total;
    return VRAM_OK;
}

int vimport__addr_at_end(const vimport__core *c, uint64_t addr, uint64_t *size)
{
    const addr_state *a = vsim_idmap_get(c->addrs, addr);
    if (!a)
        return 0;
    *size = a->size;
    return a->live ? 1 : 2;
}

typedef struct each_ctx {
    void (*fn)(uint64_t addr, uint64_t size, void *ctx);
    void *ctx;
} each_ctx;

static void each_one(uint64_t id, const char *key, void *value, void *ctx)
{
    (void)key;
    const addr_state *a = value;
    const each_ctx *e = ctx;
    if (a->live)
        e->fn(id, a->size, e->ctx);
}

void vimport__each_live(vimport__core *c, void (*fn)(uint64_t addr, uint64_t size, void *ctx),
                        void *ctx)
{
    each_ctx e = {fn, ctx};
    vsim_idmap_each(c->addrs, each_one, &e);
}

vram_status vimport__add_start(vimport__core *c, uint64_t addr, uint64_t size)
{
    if (!add_total(&c->total_bytes, size))
        return vimport__fail(c, NULL, VRAM_EPARSE,
                             "the allocated sizes add up to more than 2^63-1 bytes");
    vram_status st = push_start(c, addr, size);
    if (st)
        return st;
    c->stats.live_at_end++;
    c->stats.peak_live_bytes += size; /* live throughout; <= total_bytes */
    return VRAM_OK;
}

static int by_addr(const void *a, const void *b)
{
    const vimport__block *x = a, *y = b;
    return (x->addr > y->addr) - (x->addr < y->addr);
}

vram_status vimport__sort_start(vimport__core *c, const char *path)
{
    if (c->n_start > 1)
        qsort(c->start, c->n_start, sizeof c->start[0], by_addr);
    for (size_t i = 1; i < c->n_start; i++) {
        const vimport__block *a = &c->start[i - 1], *b = &c->start[i];
        if (a->addr + a->size > b->addr) /* a->addr + size: a device address, far below 2^64 */
            return vimport__fail(c, NULL, VRAM_EPARSE,
                                 "%s: the blocks live when the recording begins overlap: 0x%llx "
                                 "(%llu bytes) and 0x%llx (%llu bytes)", path,
                                 (unsigned long long)a->addr, (unsigned long long)a->size,
                                 (unsigned long long)b->addr, (unsigned long long)b->size);
    }
    return VRAM_OK;
}

/* The writer's side of pass 2: OUT.tmp while writing, renamed at the end
 * (or OUT in place: see vtrace_output_begin). */
typedef struct output {
    vtrace_writer *w;
    vtrace_output file;
} output;

static void output_abort(output *o)
{
    if (o->w)
        vtrace_writer_close(o->w);
    o->w = NULL;
    vtrace_output_abort(&o->file);
}

static vram_status write_event(vimport__core *c, const vimport__source *src, output *o,
                               const vtrace_event *ev)
{
    vram_status st = vtrace_write(o->w, ev);
    if (st == VRAM_EIO)
        return vimport__fail(c, NULL, st, "%s: cannot write: %s", o->file.write_path, strerror(errno));
    if (st)
        return vimport__fail(c, src, st, "cannot write %s %llu (size %llu) as a trace event",
                             vtrace_type_name(ev->type), (unsigned long long)ev->id,
                             (unsigned long long)ev->size);
    return VRAM_OK;
}

/* Trace version 2 (VTRACE_VERSION) with NEED '-' on every alloc: a recording
 * has no engine steps and no requests, so nothing is needed beyond its uses
 * (and kind other is never evicted anyway). */
static vram_status emit_events(vimport__core *c, const vimport__source *src, output *o)
{
    vtrace_event ev = {.type = VTRACE_ALLOC, .kind = VRAM_KIND_OTHER, .need = VTRACE_NEED_NONE};
    vram_status st;
    for (size_t i = 0; i < c->n_start; i++) {
        /* Live from the start: the recording's frees find them by address. */
        addr_state *a = vsim_idmap_put(c->addrs, c->start[i].addr, &(int){0});
        if (!a)
            return no_memory(c);
        a->live = 1;
        a->id = i + 1;
        a->size = c->start[i].size;
        ev.id = i + 1;
        ev.size = c->start[i].size;
        if ((st = write_event(c, NULL, o, &ev)))
            return st;
    }
    c->stats.allocs = c->n_start;
    uint64_t next_id = c->n_start + 1, t0 = 0, last = 0;
    int first = 1;
    vimport__rec r;
    int got;
    while ((got = next_rec(src, &r)) == 1) {
        if (first)
            t0 = last = r.ts_us;
        first = 0;
        /* in the recording's clock: a time before the first record's is clamped too */
        if (r.ts_us < last) {
            if (!c->stats.clamped_ts++) {
                c->stats.clamped_back_us = last - r.ts_us;
                src->where(src->ctx, c->stats.clamped_at, sizeof c->stats.clamped_at);
            }
        } else {
            last = r.ts_us;
        }
        const uint64_t ts = last - t0;
        if (r.type == VIMPORT__CHECK_LIVE)
            continue;
        int created = 0;
        addr_state *a = vsim_idmap_put(c->addrs, r.addr, &created);
        if (!a)
            return no_memory(c);
        ev = (vtrace_event){.ts_us = ts, .size = r.size, .kind = VRAM_KIND_OTHER, .need = VTRACE_NEED_NONE};
        if (r.type == VIMPORT__ALLOC) {
            a->live = 1;
            a->id = next_id++;
            ev.type = VTRACE_ALLOC;
            ev.id = a->id;
            ev.kind = r.kind;
            ev.nframes = r.nframes;
            memcpy(ev.frames, r.frames, sizeof ev.frames);
            for (unsigned i = 0; i < r.n_new; i++) {
                st = vtrace_write_frame(o->w, &r.new_frames[i]);
                if (st == VRAM_EIO)
                    return vimport__fail(c, NULL, st, "%s: cannot write: %s", o->file.write_path,
                                         strerror(errno));
                if (st)
                    return vimport__fail(c, src, st, "cannot write frame %u as a trace line",
                                         r.new_frames[i].id);
                c->stats.frames++;
            }
            c->stats.allocs++;
        } else {
            if (!a->live) /* pre-existing blocks were made live before the first record */
                return vimport__fail(c, src, VRAM_EPARSE,
                                     "the input changed between the two passes of the import");
            ev.id = a->id;
            a->live = 0;
            ev.type = VTRACE_FREE;
            c->stats.frees++;
        }
        if ((st = write_event(c, src, o, &ev)))
            return st;
    }
    return got < 0 ? VRAM_EPARSE : VRAM_OK;
}

vram_status vimport__emit(vimport__core *c, const vimport__source *src, const char *out_path,
                          const vtrace_header *h, const char *comment)
{
    vram_status st = src->rewind(src->ctx);
    if (st)
        return st;
    /* Pass 2 maps addresses to ids afresh. */
    vsim_idmap_destroy(c->addrs);
    c->addrs = NULL;
    if (vsim_idmap_create(sizeof(addr_state), &c->addrs))
        return no_memory(c);

    output o = {0};
    char err[600];
    st = vtrace_output_begin(out_path, &o.file, err, sizeof err);
    if (st)
        return vimport__fail(c, NULL, st, "%s", err);
    const char *path = o.file.write_path;
    size_t n = strlen(out_path);
    const int gzip = n >= 3 && strcmp(out_path + n - 3, ".gz") == 0;
    st = vtrace_writer_open_as(path, h, gzip, &o.w);
    if (st) {
        vimport__fail(c, NULL, st, "%s: cannot write: %s", path,
                      st == VRAM_EIO ? strerror(errno) : "bad header");
        output_abort(&o);
        return st;
    }
    if (comment && (st = vtrace_write_comment(o.w, comment)))
        vimport__fail(c, NULL, st, "%s: cannot write the comment: %s", path,
                      st == VRAM_EIO ? strerror(errno) : "not one line of text");
    if (!st)
        st = emit_events(c, src, &o);
    if (st) {
        output_abort(&o);
        return st;
    }
    st = vtrace_writer_close(o.w);
    o.w = NULL;
    if (st) {
        vimport__fail(c, NULL, st, "%s: cannot write: %s", path, strerror(errno));
        output_abort(&o);
        return st;
    }
    st = vtrace_output_commit(&o.file, err, sizeof err);
    return st ? vimport__fail(c, NULL, st, "%s", err) : VRAM_OK;
}

void vimport__header_text(char dst[VTRACE_TEXT_MAX], const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = 0;
    for (; s[n] && n < VTRACE_TEXT_MAX - 1; n++) {
        unsigned char ch = (unsigned char)s[n];
        dst[n] = ((ch < 0x20 && ch != '\t') || ch == 0x7f) ? '?' : (char)ch; /* as the writer */
    }
    while (n && (dst[n - 1] == ' ' || dst[n - 1] == '\t'))
        n--;
    dst[n] = '\0';
}

const char *vimport__basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}
