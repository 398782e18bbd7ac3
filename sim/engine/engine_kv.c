/* engine_kv.c - the engine's events (to the sink) and KV bookkeeping: the
 * buffer styles here, paged blocks through engine_blocks.c. */
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
    return e->c->kv == VENGINE_KV_PAGED ? r->nblocks * e->c->block_tokens : r->kv_tokens;
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

uint64_t vengine__kv_need(const vengine *e, const ereq *r, uint64_t tokens)
{
    if (tokens <= kv_capacity(e, r))
        return 0;
    if (e->c->kv != VENGINE_KV_PAGED)
        return buffer_tokens(e, r, tokens) * e->plan.prof.kv_bytes_per_token;
    return (vengine__ceil_div(tokens, e->c->block_tokens) - r->nblocks) * e->plan.block_bytes;
}

int vengine__kv_room(const vengine *e, const ereq *r, uint64_t tokens)
{
    if (e->c->kv == VENGINE_KV_PAGED)
        return vengine__blocks_fit(e, r, tokens);
    return vengine__kv_free(e) >= vengine__kv_need(e, r, tokens);
}

vram_status vengine__kv_grow(vengine *e, ereq *r, uint64_t tokens)
{
    if (tokens <= kv_capacity(e, r))
        return VRAM_OK;
    if (e->c->kv == VENGINE_KV_PAGED)
        return vengine__blocks_grow(e, r, tokens);
    /* a bigger buffer, the contents copied, the old one freed */
    uint64_t size = buffer_tokens(e, r, tokens), id;
    TRY(vengine__emit_alloc(e, size * e->plan.prof.kv_bytes_per_token, VRAM_KIND_KV, PRIO_KV, VTRACE_NEED_REQUEST,
                            r->rid, &id));
    vengine__add_used(e, size * e->plan.prof.kv_bytes_per_token);
    if (r->kv_id) {
        TRY(vengine__emit_id(e, VTRACE_FREE, r->kv_id));
        e->used -= r->kv_tokens * e->plan.prof.kv_bytes_per_token;
    }
    r->kv_id = id;
    r->kv_tokens = size;
    return VRAM_OK;
}

vram_status vengine__kv_release(vengine *e, ereq *r)
{
    if (e->c->kv == VENGINE_KV_PAGED)
        return vengine__blocks_release(e, r);
    if (r->kv_id) {
        TRY(vengine__emit_id(e, VTRACE_FREE, r->kv_id));
        e->used -= r->kv_tokens * e->plan.prof.kv_bytes_per_token;
        r->kv_id = 0;
        r->kv_tokens = 0;
    }
    return VRAM_OK;
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

void vengine_kv_ledger_get(const vengine *e, vengine_kv_ledger *out)
{
    if (e->c->kv == VENGINE_KV_PAGED) {
        vengine__blocks_ledger(e, out);
        return;
    }
    const uint64_t bpt = e->plan.prof.kv_bytes_per_token;
    *out = (vengine_kv_ledger){.held = e->used};
    for (size_t i = 0; i < e->nrun; i++) {
        const ereq *r = e->running[i];
        uint64_t total = vengine__kv_total(r), fill = total < r->kv_tokens ? total : r->kv_tokens;
        out->tokens += r->computed * bpt;
        out->reserved += (fill - r->computed) * bpt;
        out->unused += (r->kv_tokens - fill) * bpt;
    }
}

vram_status vengine_check(const vengine *e, char *msg, size_t len)
{
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
    if (e->c->kv == VENGINE_KV_PAGED) {
        TRY(vengine__blocks_check(e, msg, len));
    } else {
        uint64_t held = 0;
        for (size_t i = 0; i < e->nrun; i++) {
            const ereq *r = e->running[i];
            uint64_t total = vengine__kv_total(r), fill = total < r->kv_tokens ? total : r->kv_tokens;
            if (r->computed > fill) {
                snprintf(msg, len, "request %llu computed %llu tokens of KV beyond the %llu it holds or will need",
                         (unsigned long long)r->rid, (unsigned long long)r->computed, (unsigned long long)fill);
                return VRAM_ECORRUPT;
            }
            held += r->kv_tokens * e->plan.prof.kv_bytes_per_token;
        }
        if (held != e->used) {
            snprintf(msg, len, "KV bytes held %llu, but the running requests hold %llu",
                     (unsigned long long)e->used, (unsigned long long)held);
            return VRAM_ECORRUPT;
        }
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
