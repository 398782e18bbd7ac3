/* tracegen_kv.c - the generator's trace output and KV bookkeeping: paged
 * blocks, contiguous buffers, and prefix segments shared by key. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracegen_internal.h"

vram_status vtg__fail(gen *g, vram_status st, const char *fmt, ...)
{
    if (g->err && g->errlen && !g->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->err, g->errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

vram_status vtg__write_failed(gen *g, vram_status st)
{
    return vtg__fail(g, st, "%s: cannot write: %s", g->out_path,
                     st == VRAM_EIO ? strerror(errno) : vram_strerror(st));
}

static vram_status emit(gen *g, vtrace_event *ev)
{
    ev->ts_us = g->now;
    vram_status st = vtrace_write(g->w, ev);
    if (st)
        return vtg__write_failed(g, st);
    g->st.events++;
    return VRAM_OK;
}

vram_status vtg__emit_alloc(gen *g, uint64_t size, vram_kind kind, int prio, vtrace_need need,
                            uint64_t owner, uint64_t *id)
{
    vtrace_event ev = {.type = VTRACE_ALLOC, .id = g->next_id++, .size = size, .kind = kind,
                       .priority = prio, .need = need, .owner = owner};
    *id = ev.id;
    return emit(g, &ev);
}

vram_status vtg__emit_id(gen *g, vtrace_type t, uint64_t id)
{
    vtrace_event ev = {.type = t, .id = id};
    return emit(g, &ev);
}

vram_status vtg__emit_key(gen *g, vtrace_type t, const char *key, uint64_t size, int prio,
                          vtrace_need need, uint64_t owner)
{
    vtrace_event ev = {.type = t, .size = size, .priority = prio, .need = need, .owner = owner};
    snprintf(ev.key, sizeof ev.key, "%s", key);
    return emit(g, &ev);
}

vram_status vtg__emit_segment(gen *g, vtrace_type t, uint64_t hash, const greq *r)
{
    char key[VTRACE_KEY_MAX];
    snprintf(key, sizeof key, "kv:%llu", (unsigned long long)hash);
    return vtg__emit_key(g, t, key, g->seg_bytes, PRIO_KV, r ? VTRACE_NEED_REQUEST : VTRACE_NEED_NONE,
                         r ? r->rid : 0);
}

uint64_t vtg__kv_free(const gen *g)
{
    return g->pool - g->used;
}

void vtg__add_used(gen *g, uint64_t bytes)
{
    g->used += bytes;
    if (g->used > g->st.peak_kv_bytes)
        g->st.peak_kv_bytes = g->used;
}

/* Tokens the request's KV can hold now. */
static uint64_t kv_capacity(const gen *g, const greq *r)
{
    if (g->c->engine == VTRACEGEN_CONTIGUOUS)
        return r->kv_tokens;
    return r->segs_held * SEGMENT_TOKENS + r->nblocks * g->c->block_tokens;
}

/* Contiguous: the next buffer size in tokens for holding `tokens`. */
static uint64_t contig_size(const gen *g, const greq *r, uint64_t tokens)
{
    uint64_t cap = r->kv_tokens ? r->kv_tokens * 2 : 0;
    uint64_t min = vtg__ceil_div(tokens, g->c->contig_min_tokens) * g->c->contig_min_tokens;
    if (cap < min)
        cap = min;
    uint64_t ceiling = vtg__ceil_div(g->model.context_max, g->c->contig_min_tokens) * g->c->contig_min_tokens;
    return cap > ceiling ? (min > ceiling ? min : ceiling) : cap;
}

/* Bytes to add so that the request holds `tokens` (its segments already counted). */
uint64_t vtg__kv_need(const gen *g, const greq *r, uint64_t tokens)
{
    if (tokens <= kv_capacity(g, r))
        return 0;
    if (g->c->engine == VTRACEGEN_CONTIGUOUS)
        return contig_size(g, r, tokens) * g->prof.kv_bytes_per_token;
    uint64_t priv = tokens - r->segs_held * SEGMENT_TOKENS;
    return (vtg__ceil_div(priv, g->c->block_tokens) - r->nblocks) * g->block_bytes;
}

/* Grows the request's KV to hold `tokens`; the bytes have been checked. */
vram_status vtg__kv_grow(gen *g, greq *r, uint64_t tokens)
{
    if (tokens <= kv_capacity(g, r))
        return VRAM_OK;
    if (g->c->engine == VTRACEGEN_CONTIGUOUS) {
        /* a bigger buffer, the contents copied, the old one freed */
        uint64_t size = contig_size(g, r, tokens), id;
        TRY(vtg__emit_alloc(g, size * g->prof.kv_bytes_per_token, VRAM_KIND_KV, PRIO_KV,
                            VTRACE_NEED_REQUEST, r->rid, &id));
        vtg__add_used(g, size * g->prof.kv_bytes_per_token);
        if (r->kv_id) {
            TRY(vtg__emit_id(g, VTRACE_FREE, r->kv_id));
            g->used -= r->kv_tokens * g->prof.kv_bytes_per_token;
        }
        r->kv_id = id;
        r->kv_tokens = size;
        return VRAM_OK;
    }
    uint64_t want = vtg__ceil_div(tokens - r->segs_held * SEGMENT_TOKENS, g->c->block_tokens);
    if (want > r->blocks_cap) {
        size_t cap = r->blocks_cap ? r->blocks_cap : 16;
        while (cap < want)
            cap *= 2;
        uint64_t *b = realloc(r->blocks, cap * sizeof *b);
        if (!b)
            return vtg__fail(g, VRAM_ENOHOST, "out of host memory");
        r->blocks = b;
        r->blocks_cap = cap;
    }
    while (r->nblocks < want) {
        TRY(vtg__emit_alloc(g, g->block_bytes, VRAM_KIND_KV, PRIO_KV, VTRACE_NEED_REQUEST, r->rid,
                            &r->blocks[r->nblocks]));
        r->nblocks++;
        vtg__add_used(g, g->block_bytes);
    }
    return VRAM_OK;
}

/* Frees all the request's KV: private blocks or buffer, and its segment references. */
vram_status vtg__kv_release(gen *g, greq *r)
{
    for (size_t i = r->nblocks; i-- > 0;)
        TRY(vtg__emit_id(g, VTRACE_FREE, r->blocks[i]));
    g->used -= r->nblocks * g->block_bytes;
    r->nblocks = 0;
    if (r->kv_id) {
        TRY(vtg__emit_id(g, VTRACE_FREE, r->kv_id));
        g->used -= r->kv_tokens * g->prof.kv_bytes_per_token;
        r->kv_id = 0;
        r->kv_tokens = 0;
    }
    for (size_t i = r->segs_held; i-- > 0;) {
        if (vtg_prefix_drop(g->prefix, r->segs[i]) < 0)
            return vtg__fail(g, VRAM_ECORRUPT, "prefix segment %llu dropped but not held",
                        (unsigned long long)r->segs[i]);
        TRY(vtg__emit_segment(g, VTRACE_SHARED_RELEASE, r->segs[i], r));
    }
    r->segs_held = 0;
    return VRAM_OK;
}

/* Evicts one idle prefix segment: the cache's reference (NEED '-') is released. 0 if none. */
vram_status vtg__evict_segment(gen *g, int *evicted)
{
    uint64_t h;
    *evicted = vtg_prefix_evict(g->prefix, &h);
    if (!*evicted)
        return VRAM_OK;
    g->used -= g->seg_bytes;
    return vtg__emit_segment(g, VTRACE_SHARED_RELEASE, h, NULL);
}
