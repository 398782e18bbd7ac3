/* engine_kv.c - the engine's events (to the sink) and KV bookkeeping: paged
 * blocks, contiguous buffers, and prefix segments shared by key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

static const char *const kv_names[VENGINE_KV_COUNT] = {
    [VENGINE_KV_PAGED] = "paged",
    [VENGINE_KV_CONTIGUOUS] = "contiguous",
    [VENGINE_KV_MAX] = "max",
    [VENGINE_KV_POW2] = "pow2",
    [VENGINE_KV_ORACLE] = "oracle",
};

const char *vengine_kv_name(vengine_kv_style s)
{
    return (unsigned)s < VENGINE_KV_COUNT ? kv_names[s] : NULL;
}

int vengine_kv_parse(const char *name, vengine_kv_style *out)
{
    for (int s = 0; s < VENGINE_KV_COUNT; s++)
        if (!strcmp(name, kv_names[s])) {
            *out = (vengine_kv_style)s;
            return 0;
        }
    return -1;
}

vram_status vengine__emit(vengine *e, vtrace_event *ev)
{
    ev->ts_us = e->now;
    TRY(e->sink.event(e->sink.ctx, ev));
    e->st.events++;
    return VRAM_OK;
}

vram_status vengine__note(vengine *e, const char *text)
{
    return e->sink.note ? e->sink.note(e->sink.ctx, text) : VRAM_OK;
}

vram_status vengine__emit_alloc(vengine *e, uint64_t size, vram_kind kind, int prio, vtrace_need need,
                            uint64_t owner, uint64_t *id)
{
    vtrace_event ev = {.type = VTRACE_ALLOC, .id = e->next_id++, .size = size, .kind = kind,
                       .priority = prio, .need = need, .owner = owner};
    TRY(vengine__emit(e, &ev));
    *id = ev.id;
    return VRAM_OK;
}

vram_status vengine__emit_id(vengine *e, vtrace_type t, uint64_t id)
{
    vtrace_event ev = {.type = t, .id = id};
    return vengine__emit(e, &ev);
}

vram_status vengine__emit_key(vengine *e, vtrace_type t, const char *key, uint64_t size, int prio,
                          vtrace_need need, uint64_t owner)
{
    vtrace_event ev = {.type = t, .size = size, .priority = prio, .need = need, .owner = owner};
    snprintf(ev.key, sizeof ev.key, "%s", key);
    return vengine__emit(e, &ev);
}

vram_status vengine__emit_segment(vengine *e, vtrace_type t, uint64_t hash, const ereq *r)
{
    char key[VTRACE_KEY_MAX];
    snprintf(key, sizeof key, "kv:%llu", (unsigned long long)hash);
    return vengine__emit_key(e, t, key, e->plan.seg_bytes, PRIO_KV, r ? VTRACE_NEED_REQUEST : VTRACE_NEED_NONE,
                         r ? r->rid : 0);
}

uint64_t vengine__kv_free(const vengine *e)
{
    return e->plan.pool - e->used;
}

void vengine__add_used(vengine *e, uint64_t bytes)
{
    e->used += bytes;
    if (e->used > e->st.peak_kv_bytes)
        e->st.peak_kv_bytes = e->used;
}

/* Tokens the request's KV can hold now. */
static uint64_t kv_capacity(const vengine *e, const ereq *r)
{
    if (e->c->kv != VENGINE_KV_PAGED)
        return r->kv_tokens;
    return r->segs_held * SEGMENT_TOKENS + r->nblocks * e->c->block_tokens;
}

/* Contiguous: the next buffer size in tokens for holding `tokens`. */
static uint64_t contig_size(const vengine *e, const ereq *r, uint64_t tokens)
{
    uint64_t cap = r->kv_tokens ? r->kv_tokens * 2 : 0;
    uint64_t min = vengine__ceil_div(tokens, e->c->contig_min_tokens) * e->c->contig_min_tokens;
    if (cap < min)
        cap = min;
    uint64_t ceiling =
        vengine__ceil_div(e->plan.model.context_max, e->c->contig_min_tokens) * e->c->contig_min_tokens;
    return cap > ceiling ? (min > ceiling ? min : ceiling) : cap;
}

static uint64_t pow2_ceil(uint64_t x)
{
    uint64_t p = 1;
    while (p < x)
        p <<= 1;
    return p;
}

/* The buffer styles: the size in tokens of the buffer that holds `tokens`.
 * The reservations are made once, at admission: the model's context (max),
 * or the tokens whose KV the request will ever hold, prompt + output - 1
 * (the last token generated is never fed back), rounded up to a power of two
 * (pow2) or exact (oracle). prompt + output stays the recorded total through
 * preemptions (a recompute moves generated tokens into the prompt). */
static uint64_t buffer_tokens(const vengine *e, const ereq *r, uint64_t tokens)
{
    uint64_t total = vengine__kv_total(r), size;
    switch (e->c->kv) {
    case VENGINE_KV_MAX:
        size = e->plan.model.context_max;
        break;
    case VENGINE_KV_POW2:
        size = pow2_ceil(total);
        break;
    case VENGINE_KV_ORACLE:
        size = total;
        break;
    default:
        return contig_size(e, r, tokens);
    }
    return size > tokens ? size : tokens;
}

/* Bytes to add so that the request holds `tokens` (its segments already counted). */
uint64_t vengine__kv_need(const vengine *e, const ereq *r, uint64_t tokens)
{
    if (tokens <= kv_capacity(e, r))
        return 0;
    if (e->c->kv != VENGINE_KV_PAGED)
        return buffer_tokens(e, r, tokens) * e->plan.prof.kv_bytes_per_token;
    uint64_t priv = tokens - r->segs_held * SEGMENT_TOKENS;
    return (vengine__ceil_div(priv, e->c->block_tokens) - r->nblocks) * e->plan.block_bytes;
}

/* Grows the request's KV to hold `tokens`; the bytes have been checked. */
vram_status vengine__kv_grow(vengine *e, ereq *r, uint64_t tokens)
{
    if (tokens <= kv_capacity(e, r))
        return VRAM_OK;
    if (e->c->kv != VENGINE_KV_PAGED) {
        /* a bigger buffer, the contents copied, the old one freed */
        uint64_t size = buffer_tokens(e, r, tokens), id;
        TRY(vengine__emit_alloc(e, size * e->plan.prof.kv_bytes_per_token, VRAM_KIND_KV, PRIO_KV,
                            VTRACE_NEED_REQUEST, r->rid, &id));
        vengine__add_used(e, size * e->plan.prof.kv_bytes_per_token);
        if (r->kv_id) {
            TRY(vengine__emit_id(e, VTRACE_FREE, r->kv_id));
            e->used -= r->kv_tokens * e->plan.prof.kv_bytes_per_token;
        }
        r->kv_id = id;
        r->kv_tokens = size;
        return VRAM_OK;
    }
    uint64_t want = vengine__ceil_div(tokens - r->segs_held * SEGMENT_TOKENS, e->c->block_tokens);
    if (want > r->blocks_cap) {
        size_t cap = r->blocks_cap ? r->blocks_cap : 16;
        while (cap < want)
            cap *= 2;
        uint64_t *b = realloc(r->blocks, cap * sizeof *b);
        if (!b)
            return vengine_fail(e, VRAM_ENOHOST, "out of host memory");
        r->blocks = b;
        r->blocks_cap = cap;
    }
    while (r->nblocks < want) {
        TRY(vengine__emit_alloc(e, e->plan.block_bytes, VRAM_KIND_KV, PRIO_KV, VTRACE_NEED_REQUEST, r->rid,
                            &r->blocks[r->nblocks]));
        r->nblocks++;
        vengine__add_used(e, e->plan.block_bytes);
    }
    return VRAM_OK;
}

/* Frees all the request's KV: private blocks or buffer, and its segment references. */
vram_status vengine__kv_release(vengine *e, ereq *r)
{
    for (size_t i = r->nblocks; i-- > 0;)
        TRY(vengine__emit_id(e, VTRACE_FREE, r->blocks[i]));
    e->used -= r->nblocks * e->plan.block_bytes;
    r->nblocks = 0;
    if (r->kv_id) {
        TRY(vengine__emit_id(e, VTRACE_FREE, r->kv_id));
        e->used -= r->kv_tokens * e->plan.prof.kv_bytes_per_token;
        r->kv_id = 0;
        r->kv_tokens = 0;
    }
    for (size_t i = r->segs_held; i-- > 0;)
        TRY(vengine__drop_segment(e, r, r->segs[i]));
    r->segs_held = 0;
    return VRAM_OK;
}

vram_status vengine__drop_segment(vengine *e, const ereq *r, uint64_t hash)
{
    if (vtg_prefix_drop(e->prefix, hash) < 0)
        return vengine_fail(e, VRAM_ECORRUPT, "prefix segment %llu dropped but not held",
                            (unsigned long long)hash);
    return vengine__emit_segment(e, VTRACE_SHARED_RELEASE, hash, r);
}

/* Evicts one idle prefix segment: the cache's reference (NEED '-') is released. 0 if none. */
vram_status vengine__evict_segment(vengine *e, int *evicted)
{
    uint64_t h;
    *evicted = vtg_prefix_evict(e->prefix, &h);
    if (!*evicted)
        return VRAM_OK;
    e->used -= e->plan.seg_bytes;
    e->segs_resident--;
    return vengine__emit_segment(e, VTRACE_SHARED_RELEASE, h, NULL);
}

uint64_t vengine_next_kv_bytes(const vengine *e)
{
    if (e->c->kv == VENGINE_KV_PAGED)
        return e->plan.block_bytes;
    const ereq *head = e->wait_len ? e->waiting[e->wait_head] : NULL;
    uint64_t next = head ? vengine__kv_need(e, head, head->prompt) : 0;
    for (size_t i = 0; i < e->nrun; i++) {
        const ereq *r = e->running[i];
        uint64_t cap = kv_capacity(e, r);
        uint64_t grow = cap < vengine__kv_total(r) ? vengine__kv_need(e, r, cap + 1) : 0;
        if (grow && (!next || grow < next))
            next = grow;
    }
    return next;
}

/* The ledger of r's private KV (its blocks or buffer), in token slots. */
static void req_slots(const vengine *e, const ereq *r, uint64_t *held, uint64_t *tokens, uint64_t *fill)
{
    uint64_t start = r->segs_held * SEGMENT_TOKENS, total = vengine__kv_total(r);
    *held = kv_capacity(e, r) - start;
    *tokens = r->computed > start ? r->computed - start : 0;
    *fill = total > start ? total - start : 0;
    if (*fill > *held)
        *fill = *held;
}

void vengine_kv_ledger_get(const vengine *e, vengine_kv_ledger *out)
{
    const uint64_t bpt = e->plan.prof.kv_bytes_per_token, segs = e->segs_resident * e->plan.seg_bytes;
    *out = (vengine_kv_ledger){.held = e->used, .tokens = segs};
    for (size_t i = 0; i < e->nrun; i++) {
        uint64_t held, tokens, fill;
        req_slots(e, e->running[i], &held, &tokens, &fill);
        out->tokens += tokens * bpt;
        out->reserved += (fill - tokens) * bpt;
        out->unused += (held - fill) * bpt;
    }
}

vram_status vengine_check(const vengine *e, char *msg, size_t len)
{
    const uint64_t bpt = e->plan.prof.kv_bytes_per_token;
    if (e->used > e->plan.pool) {
        snprintf(msg, len, "KV bytes held %llu beyond the budget %llu", (unsigned long long)e->used,
                 (unsigned long long)e->plan.pool);
        return VRAM_ECORRUPT;
    }
    if (e->nrun > e->c->max_batch_seqs) {
        snprintf(msg, len, "%zu requests running, more than --max-batch-seqs %llu", e->nrun,
                 (unsigned long long)e->c->max_batch_seqs);
        return VRAM_ECORRUPT;
    }
    uint64_t held = e->segs_resident * e->plan.seg_bytes;
    for (size_t i = 0; i < e->nrun; i++) {
        const ereq *r = e->running[i];
        uint64_t slots, tokens, fill;
        req_slots(e, r, &slots, &tokens, &fill);
        if (tokens > fill) {
            snprintf(msg, len, "request %llu computed %llu tokens of KV beyond the %llu it holds or will need",
                     (unsigned long long)r->rid, (unsigned long long)tokens, (unsigned long long)fill);
            return VRAM_ECORRUPT;
        }
        held += slots * bpt;
    }
    if (held != e->used) {
        snprintf(msg, len, "KV bytes held %llu, but the running requests and the prefix cache hold %llu",
                 (unsigned long long)e->used, (unsigned long long)held);
        return VRAM_ECORRUPT;
    }
    vengine_kv_ledger l;
    vengine_kv_ledger_get(e, &l);
    if (l.tokens + l.reserved + l.unused != l.held) {
        snprintf(msg, len, "KV ledger: tokens %llu + reserved %llu + unused %llu != held %llu",
                 (unsigned long long)l.tokens, (unsigned long long)l.reserved, (unsigned long long)l.unused,
                 (unsigned long long)l.held);
        return VRAM_ECORRUPT;
    }
    return VRAM_OK;
}
