/* engine_blocks.c - paged KV: the pool is one vram_prefix_cache (libvram's
 * prefix cache, vram/prefix_cache.h) of plan.pool / block_bytes blocks, all of
 * them, running requests' and cached ones alike, as vLLM's BlockPool holds
 * every KV block. A request's prompt takes the longest cached prefix of its
 * block keys, computes the rest into blocks the cache gives (a free one, else
 * the policy's victim is evicted and reused), caches each block once it is
 * full, and lets go of them all when it finishes or is preempted; the cached
 * ones stay until evicted. Requests without hash ids (Azure recordings,
 * --no-prefix-cache) key nothing: for them the cache is a free list.
 *
 * Each cache block in use is one allocation of the trace, blk_id[block]: an
 * `alloc` (NEED the request that computes it) when a request takes it, a
 * `free` when it becomes free again (its last holder lets go of a block that
 * is not cached, or the cache evicts it). A request that hits a cached block
 * pins it while it holds it, so that what a running request reads is needed
 * and an idle cached block is not (traces/FORMAT.md, "Needed memory").
 *
 * Invariants (vengine__blocks_check): used == the cache's blocks not free *
 * block_bytes == (cached blocks + every running request's uncached blocks) *
 * block_bytes; blk_id[b] != 0 exactly for the blocks not free; a running
 * request's ninserted == min(computed / block_tokens, nkeys). */
#include <stdio.h>
#include <stdlib.h>

#include "engine_internal.h"

vram_status vengine__blocks_open(vengine *e)
{
    if (e->c->kv != VENGINE_KV_PAGED)
        return VRAM_OK;
    if (e->sharing && SEGMENT_TOKENS % e->c->block_tokens)
        return vengine_fail(e, VRAM_EINVAL,
                            "--block-tokens %u: the prefix cache keys blocks within Mooncake's "
                            "%u-token segments, so a block must divide one (or --no-prefix-cache)",
                            e->c->block_tokens, SEGMENT_TOKENS);
    uint64_t n = e->plan.pool / e->plan.block_bytes;
    if (n > VRAM_PREFIX_MAX_BLOCKS)
        return vengine_fail(e, VRAM_EINVAL,
                            "a KV pool of %llu blocks of %llu bytes: at most %u (fewer GiB, or a "
                            "larger --block-tokens)",
                            (unsigned long long)n, (unsigned long long)e->plan.block_bytes,
                            VRAM_PREFIX_MAX_BLOCKS);
    vram_prefix_cache_config cfg = {.block_tokens = e->c->block_tokens, .device_blocks = (uint32_t)n,
                                    .block_bytes = e->plan.block_bytes, .policy = e->c->prefix_policy};
    vram_status st = vram_prefix_cache_create(&cfg, &e->kvc);
    if (st == VRAM_EINVAL)
        return vengine_fail(e, st, "unknown --prefix-policy '%s'", e->c->prefix_policy);
    e->blk_id = st ? NULL : calloc(n, sizeof *e->blk_id);
    if (st || !e->blk_id)
        return vengine_fail(e, VRAM_ENOHOST, "a prefix cache of %llu blocks: out of host memory",
                            (unsigned long long)n);
    return VRAM_OK;
}

void vengine__blocks_close(vengine *e)
{
    vram_prefix_cache_destroy(e->kvc);
    free(e->blk_id);
}

vram_status vengine__blocks_keys(vengine *e, ereq *r)
{
    const uint32_t bt = e->c->block_tokens, seg = SEGMENT_TOKENS / bt;
    size_t n = (size_t)(vengine__kv_total(r) / bt), in_prompt = (size_t)(r->path_prompt / bt);
    if (!r->npath || !n)
        return VRAM_OK;
    r->keys = malloc(n * sizeof *r->keys);
    if (!r->keys)
        return vengine_fail(e, VRAM_ENOHOST, "out of host memory");
    uint64_t k = VRAM_PREFIX_ROOT;
    for (size_t i = 0; i < n; i++)
        r->keys[i] = k = i < in_prompt ? vtrace_segment_key(k, r->path[i / seg], (uint32_t)(i % seg))
                                       : vtrace_request_key(k, r->rid, (uint32_t)i);
    r->nkeys = n;
    return VRAM_OK;
}

/* The keys an admission looks up: the full blocks of all but the last token
 * (vLLM computes the last prompt token again even on a full hit). */
static size_t lookup_len(const vengine *e, const ereq *r)
{
    size_t n = (size_t)((r->prompt - 1) / e->c->block_tokens);
    return n < r->nkeys ? n : r->nkeys;
}

int vengine__blocks_fit(const vengine *e, const ereq *r, uint64_t tokens)
{
    uint64_t want = vengine__ceil_div(tokens, e->c->block_tokens);
    if (want <= r->nblocks) /* a decode step within its last block: most steps */
        return 1;
    size_t hit = 0, idle_hits = 0, n = r->nblocks ? 0 : lookup_len(e, r);
    if (n)
        vram_prefix_cache_match(e->kvc, r->keys, n, &hit, &idle_hits);
    vram_prefix_cache_stats s;
    vram_prefix_cache_stats_get(e->kvc, &s);
    /* idle cached blocks: neither free nor held; all of them can be evicted */
    uint64_t avail = s.device_blocks - s.held_blocks - idle_hits;
    return want <= r->nblocks + hit || want - r->nblocks - hit <= avail;
}

static vram_status reserve(vengine *e, ereq *r, size_t n)
{
    if (n <= r->blocks_cap)
        return VRAM_OK;
    size_t cap = r->blocks_cap ? r->blocks_cap : 16;
    while (cap < n)
        cap *= 2;
    uint32_t *b = realloc(r->blocks, cap * sizeof *b);
    if (!b)
        return vengine_fail(e, VRAM_ENOHOST, "out of host memory");
    r->blocks = b;
    r->blocks_cap = cap;
    return VRAM_OK;
}

vram_status vengine__blocks_acquire(vengine *e, ereq *r)
{
    size_t n = lookup_len(e, r), hits = 0;
    if (!n)
        return VRAM_OK;
    TRY(reserve(e, r, n));
    vram_status st = vram_prefix_cache_acquire(e->kvc, r->keys, n, 0, r->blocks, &hits);
    if (st)
        return vengine_fail(e, VRAM_ECORRUPT, "request %llu: vram_prefix_cache_acquire: %s",
                            (unsigned long long)r->rid, vram_strerror(st));
    r->nblocks = r->nhit = r->ninserted = hits;
    for (size_t i = 0; i < hits; i++)
        TRY(vengine__emit_id(e, VTRACE_PIN, e->blk_id[r->blocks[i]]));
    return VRAM_OK;
}

void vengine__blocks_admitted(vengine *e, const ereq *r)
{
    e->st.prefix_lookup_blocks += lookup_len(e, r);
    e->st.prefix_hit_blocks += r->nhit;
}

/* Block b became free: its allocation goes. */
static vram_status freed(vengine *e, uint32_t b)
{
    uint64_t id = e->blk_id[b];
    e->blk_id[b] = 0;
    e->used -= e->plan.block_bytes;
    return vengine__emit_id(e, VTRACE_FREE, id);
}

vram_status vengine__blocks_grow(vengine *e, ereq *r, uint64_t tokens)
{
    size_t want = (size_t)vengine__ceil_div(tokens, e->c->block_tokens);
    TRY(reserve(e, r, want));
    while (r->nblocks < want) {
        uint32_t b;
        vram_status st = vram_prefix_cache_alloc(e->kvc, &b);
        if (st)
            return vengine_fail(e, VRAM_ECORRUPT, "request %llu: no KV block though its growth fit: %s",
                                (unsigned long long)r->rid, vram_strerror(st));
        if (e->blk_id[b]) { /* the policy's victim, reused */
            e->st.prefix_evictions++;
            TRY(freed(e, b));
        }
        uint64_t id;
        st = vengine__emit_alloc(e, e->plan.block_bytes, VRAM_KIND_KV, PRIO_KV, VTRACE_NEED_REQUEST, r->rid,
                                 &id);
        if (st) { /* not placed (closed loop): the block goes back, free */
            if (vram_prefix_cache_release(e->kvc, &b, 1))
                return vengine_fail(e, VRAM_ECORRUPT, "block %u taken but not held", b);
            return st;
        }
        e->blk_id[b] = id;
        vengine__add_used(e, e->plan.block_bytes);
        r->blocks[r->nblocks++] = b;
    }
    return VRAM_OK;
}

vram_status vengine__blocks_fill(vengine *e, ereq *r)
{
    size_t full = (size_t)(r->computed / e->c->block_tokens);
    if (full > r->nkeys)
        full = r->nkeys;
    for (; r->ninserted < full; r->ninserted++) {
        size_t i = r->ninserted;
        int cached;
        vram_status st = vram_prefix_cache_insert(e->kvc, r->blocks[i], i ? r->blocks[i - 1] : VRAM_PREFIX_NONE,
                                                  r->keys[i], 0, &cached);
        if (st)
            return vengine_fail(e, VRAM_ECORRUPT, "request %llu block %zu: vram_prefix_cache_insert: %s",
                                (unsigned long long)r->rid, i, vram_strerror(st));
        r->ndup += !cached;
    }
    return VRAM_OK;
}

vram_status vengine__blocks_release(vengine *e, ereq *r)
{
    if (!r->nblocks)
        return VRAM_OK;
    vram_status st = vram_prefix_cache_release(e->kvc, r->blocks, r->nblocks);
    if (st)
        return vengine_fail(e, VRAM_ECORRUPT, "request %llu: vram_prefix_cache_release: %s",
                            (unsigned long long)r->rid, vram_strerror(st));
    /* last to first, as the cache dropped them */
    for (size_t i = r->nblocks; i-- > 0;) {
        uint32_t b = r->blocks[i];
        vram_prefix_block_info info;
        vram_prefix_cache_block_get(e->kvc, b, &info);
        if (i < r->nhit)
            TRY(vengine__emit_id(e, VTRACE_UNPIN, e->blk_id[b]));
        if (!info.refs && !info.cached)
            TRY(freed(e, b));
    }
    r->nblocks = r->nhit = r->ninserted = r->ndup = 0;
    return VRAM_OK;
}

vram_status vengine__blocks_evict(vengine *e, int *evicted)
{
    uint32_t b;
    *evicted = e->kvc && vram_prefix_cache_evict_block(e->kvc, &b, NULL) == VRAM_OK;
    if (!*evicted)
        return VRAM_OK;
    e->st.prefix_evictions++;
    return freed(e, b);
}

vram_status vengine__blocks_drain(vengine *e)
{
    uint32_t b;
    while (e->kvc && vram_prefix_cache_evict_block(e->kvc, &b, NULL) == VRAM_OK)
        TRY(freed(e, b));
    return VRAM_OK;
}

void vengine__blocks_ledger(const vengine *e, vengine_kv_ledger *out)
{
    const uint64_t bpt = e->plan.prof.kv_bytes_per_token, bt = e->c->block_tokens;
    vram_prefix_cache_stats s;
    vram_prefix_cache_stats_get(e->kvc, &s);
    *out = (vengine_kv_ledger){.held = e->used, .tokens = s.cached_blocks * e->plan.block_bytes};
    for (size_t i = 0; i < e->nrun; i++) {
        const ereq *r = e->running[i];
        /* its own blocks: the duplicates (full), then the uncached tail */
        uint64_t start = r->ninserted * bt, slots = r->nblocks * bt, total = vengine__kv_total(r);
        uint64_t fill = total < slots ? total : slots;
        out->tokens += r->ndup * e->plan.block_bytes + (r->computed - start) * bpt;
        out->reserved += (fill - r->computed) * bpt;
        out->unused += (slots - fill) * bpt;
    }
}

vram_status vengine__blocks_check(const vengine *e, char *msg, size_t len)
{
    const uint64_t bt = e->c->block_tokens;
    vram_status st = vram_prefix_cache_check(e->kvc, msg, len);
    if (st)
        return st;
    vram_prefix_cache_stats s;
    vram_prefix_cache_stats_get(e->kvc, &s);
    uint64_t in_use = s.device_blocks - s.free_blocks, own = 0, ids = 0;
    for (uint32_t b = 0; b < s.device_blocks; b++)
        ids += e->blk_id[b] != 0;
    if (ids != in_use) {
        snprintf(msg, len, "%llu cache blocks in use but %llu with an allocation", (unsigned long long)in_use,
                 (unsigned long long)ids);
        return VRAM_ECORRUPT;
    }
    for (size_t i = 0; i < e->nrun; i++) {
        const ereq *r = e->running[i];
        size_t full = (size_t)(r->computed / bt) < r->nkeys ? (size_t)(r->computed / bt) : r->nkeys;
        if (r->computed > r->nblocks * bt || r->computed > vengine__kv_total(r) || r->ninserted != full || r->nhit > r->ninserted ||
            r->ndup > r->ninserted - r->nhit) {
            snprintf(msg, len,
                     "request %llu: %llu tokens computed in %zu blocks, %zu hits, %zu cached or "
                     "duplicated (%zu duplicates), %zu keys",
                     (unsigned long long)r->rid, (unsigned long long)r->computed, r->nblocks, r->nhit,
                     r->ninserted, r->ndup, r->nkeys);
            return VRAM_ECORRUPT;
        }
        own += r->ndup + r->nblocks - r->ninserted;
    }
    if (e->used != in_use * e->plan.block_bytes || in_use != s.cached_blocks + own) {
        snprintf(msg, len,
                 "KV bytes held %llu, but the cache has %llu blocks in use of %llu bytes: %llu cached "
                 "and %llu the running requests' own",
                 (unsigned long long)e->used, (unsigned long long)in_use,
                 (unsigned long long)e->plan.block_bytes, (unsigned long long)s.cached_blocks,
                 (unsigned long long)own);
        return VRAM_ECORRUPT;
    }
    return VRAM_OK;
}
