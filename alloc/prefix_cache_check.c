/* prefix_cache_check.c - vram_prefix_cache_check: the invariants of
 * prefix_cache_internal.h, in the order written there, then the pool's
 * blocks against a walk of its heap. */
#include <inttypes.h>
#include <stdlib.h>

#include "prefix_cache_internal.h"

static vram_status check_free_stack(const vram_prefix_cache *pc, uint8_t *on_stack, char *msg,
                                    size_t len)
{
    if (pc->nfree > pc->nblocks)
        return vram__violation(msg, len, "free list holds %u entries for %u blocks", pc->nfree,
                               pc->nblocks);
    for (uint32_t k = 0; k < pc->nfree; k++) {
        uint32_t b = pc->free_stack[k];
        if (b >= pc->nblocks)
            return vram__violation(msg, len, "free list entry %u: block %u out of range", k, b);
        if (on_stack[b])
            return vram__violation(msg, len, "block %u is on the free list twice", b);
        on_stack[b] = 1;
    }
    return VRAM_OK;
}

static vram_status check_block(const vram_prefix_cache *pc, uint32_t i, const uint8_t *on_stack,
                               char *msg, size_t len)
{
    const pc_block *b = &pc->blocks[i];
    if (on_stack[i] && (b->refs || b->hash || b->cached))
        return vram__violation(msg, len, "free block %u has %u references or a hash", i, b->refs);
    if (!on_stack[i] && !b->refs && !b->cached)
        return vram__violation(msg, len, "block %u has no reference, is not cached and is not"
                               " on the free list", i);
    if (b->cached && !b->hash)
        return vram__violation(msg, len, "cached block %u has no hash", i);
    if (b->cached && vram__pc_index_find(&pc->index, b->hash) != i)
        return vram__violation(msg, len, "cached block %u is not in the index under its hash"
                               " %#" PRIx64, i, b->hash);
    if (!b->cached && b->children)
        return vram__violation(msg, len, "block %u is not cached but has %u children", i,
                               b->children);
    int member = pc->ops->member(pc->policy, i);
    if (member != vram__pc_evictable(pc, b))
        return vram__violation(msg, len, "block %u is %s the policy's set but %s evictable", i,
                               member ? "in" : "not in", member ? "not" : "is");
    return VRAM_OK;
}

/* Runs after every cached block was found under its hash, so an entry that
 * its probe cannot reach would need a second cached block of that hash (a
 * block check fails first) or is a second entry of one key (the count). */
static vram_status check_index(const vram_prefix_cache *pc, uint64_t cached, char *msg,
                               size_t len)
{
    const pc_index *ix = &pc->index;
    uint64_t used = 0;
    for (uint64_t s = 0; s <= ix->mask; s++) {
        const pc_slot *e = &ix->slots[s];
        if (!e->key)
            continue;
        used++;
        if (e->val >= pc->nblocks || !pc->blocks[e->val].cached ||
            pc->blocks[e->val].hash != e->key)
            return vram__violation(msg, len, "index slot %" PRIu64 ": hash %#" PRIx64
                                   " maps to block %u, which does not cache it", s, e->key,
                                   e->val);
    }
    if (used != ix->count || used != cached)
        return vram__violation(msg, len, "index holds %" PRIu64 " hashes (count %" PRIu64
                               "), %" PRIu64 " blocks are cached", used, ix->count, cached);
    return VRAM_OK;
}

static vram_status check_host(const vram_prefix_cache *pc, char *msg, size_t len)
{
    if (!pc->host_cap)
        return pc->st.host_entries
                   ? vram__violation(msg, len, "no host tier but %" PRIu64 " host entries",
                                     pc->st.host_entries)
                   : VRAM_OK;
    uint64_t used = 0, listed = 0;
    for (uint32_t s = 0; s < pc->host_cap; s++) {
        const pc_host *e = &pc->host[s];
        if (!e->used)
            continue;
        used++;
        if (!e->hash || vram__pc_index_find(&pc->host_index, e->hash) != s)
            return vram__violation(msg, len, "host entry %u (hash %#" PRIx64 ") is not in the"
                                   " host index", s, e->hash);
        if (vram__pc_index_find(&pc->index, e->hash) != PC_NIL)
            return vram__violation(msg, len, "hash %#" PRIx64 " is on both tiers", e->hash);
    }
    uint32_t prev = PC_NIL;
    for (uint32_t s = pc->host_head; s != PC_NIL; prev = s, s = pc->host[s].next) {
        if (s >= pc->host_cap || !pc->host[s].used)
            return vram__violation(msg, len, "host list holds unused entry %u", s);
        if (pc->host[s].prev != prev)
            return vram__violation(msg, len, "host list: back link of entry %u broken", s);
        if (++listed > used)
            return vram__violation(msg, len, "host list longer than the %" PRIu64
                                   " used entries", used);
    }
    if (prev != pc->host_tail)
        return vram__violation(msg, len, "host list: tail is not the last entry listed");
    if (listed != used || used + pc->host_nfree != pc->host_cap ||
        pc->host_index.count != used || used != pc->st.host_entries)
        return vram__violation(msg, len, "host tier: %" PRIu64 " used, %" PRIu64 " listed, %u"
                               " free of %u, %" PRIu64 " indexed, counter %" PRIu64, used,
                               listed, pc->host_nfree, pc->host_cap, pc->host_index.count,
                               pc->st.host_entries);
    return VRAM_OK;
}

typedef struct walk_ctx {
    const uint64_t *offsets; /* sorted */
    uint32_t n;
    uint64_t need, found, small; /* small: offset of a block too small, or UINT64_MAX */
} walk_ctx;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int walk_block(const vram_block_info *info, void *ctx)
{
    walk_ctx *w = ctx;
    if (!info->used || !bsearch(&info->offset, w->offsets, w->n, sizeof *w->offsets, cmp_u64))
        return 0;
    w->found++;
    if (info->size < w->need) {
        w->small = info->offset;
        return 1;
    }
    return 0;
}

static vram_status check_pool(const vram_prefix_cache *pc, char *msg, size_t len)
{
    uint64_t *offs = malloc((size_t)pc->nblocks * sizeof *offs);
    if (!offs)
        return VRAM_ENOHOST;
    for (uint32_t i = 0; i < pc->nblocks; i++)
        offs[i] = pc->blocks[i].offset;
    qsort(offs, pc->nblocks, sizeof *offs, cmp_u64);
    walk_ctx w = {offs, pc->nblocks, pc->block_bytes, 0, UINT64_MAX};
    vram_status st = vram_heap_walk(pc->pool, walk_block, &w);
    free(offs);
    if (st)
        return st;
    if (w.small != UINT64_MAX)
        return vram__violation(msg, len, "block at offset %" PRIu64 " is a heap block smaller"
                               " than %" PRIu64 " bytes", w.small, pc->block_bytes);
    if (w.found != pc->nblocks)
        return vram__violation(msg, len, "%" PRIu64 " of %u blocks are live heap blocks",
                               w.found, pc->nblocks);
    return VRAM_OK;
}

static vram_status check_all(const vram_prefix_cache *pc, uint8_t *on_stack, uint32_t *kids,
                             char *msg, size_t len)
{
    vram_status st = check_free_stack(pc, on_stack, msg, len);
    if (st)
        return st;
    uint64_t held = 0, cached = 0, evictable = 0;
    for (uint32_t i = 0; i < pc->nblocks; i++) {
        if ((st = check_block(pc, i, on_stack, msg, len)))
            return st;
        const pc_block *b = &pc->blocks[i];
        held += b->refs > 0;
        cached += b->cached;
        evictable += vram__pc_evictable(pc, b);
        if (b->cached && vram__pc_link_valid(pc, b))
            kids[b->parent]++;
    }
    for (uint32_t i = 0; i < pc->nblocks; i++)
        if (kids[i] != pc->blocks[i].children)
            return vram__violation(msg, len, "block %u counts %u children, %u cached blocks"
                                   " link to it", i, pc->blocks[i].children, kids[i]);
    if ((st = check_index(pc, cached, msg, len)))
        return st;
    if (pc->ops->count(pc->policy) != evictable)
        return vram__violation(msg, len, "the policy holds %" PRIu64 " blocks, %" PRIu64
                               " are evictable", pc->ops->count(pc->policy), evictable);
    if ((st = pc->ops->check(pc->policy, msg, len)))
        return st;
    if ((st = check_host(pc, msg, len)))
        return st;
    const vram_prefix_cache_stats *s = &pc->st;
    if (s->free_blocks != pc->nfree || s->held_blocks != held || s->cached_blocks != cached ||
        s->evictable_blocks != evictable)
        return vram__violation(msg, len, "counters disagree with the blocks: free %" PRIu64 "/%u"
                               " held %" PRIu64 "/%" PRIu64 " cached %" PRIu64 "/%" PRIu64
                               " evictable %" PRIu64 "/%" PRIu64, s->free_blocks, pc->nfree,
                               s->held_blocks, held, s->cached_blocks, cached,
                               s->evictable_blocks, evictable);
    return pc->pool ? check_pool(pc, msg, len) : VRAM_OK;
}

vram_status vram_prefix_cache_check(const vram_prefix_cache *pc, char *msg, size_t msglen)
{
    if (msg && msglen)
        msg[0] = '\0';
    if (!pc)
        return VRAM_EINVAL;
    uint8_t *on_stack = calloc(pc->nblocks, 1);
    uint32_t *kids = calloc(pc->nblocks, sizeof *kids);
    vram_status st = on_stack && kids ? check_all(pc, on_stack, kids, msg, msglen) : VRAM_ENOHOST;
    free(on_stack);
    free(kids);
    return st;
}
