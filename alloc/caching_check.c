/* caching_check.c - walk and check of the caching policy.
 *
 * walk reports, in address order, every block of every segment and the gaps no
 * segment covers (as free blocks). check verifies every invariant stated in
 * caching_internal.h and that the counters agree with the blocks. */
#include <inttypes.h>

#include "caching_internal.h"

static int report(vram_walk_fn fn, void *ctx, uint64_t offset, uint64_t size, uint64_t requested,
                  int used)
{
    vram_block_info info = {
        .offset = offset, .size = size, .requested = requested, .refs = used ? 1 : 0, .used = used};
    return fn(&info, ctx);
}

vram_status vram__caching_walk(const void *impl, vram_walk_fn fn, void *ctx)
{
    const caching_heap *c = impl;
    uint64_t at = 0;
    for (size_t i = 0; i < c->nsegs; i++) {
        const caching_segment *s = c->segs[i];
        if (s->base > at && report(fn, ctx, at, s->base - at, 0, 0))
            return VRAM_OK;
        for (const caching_block *b = s->first; b; b = b->next)
            if (report(fn, ctx, b->offset, b->size, b->requested, b->used))
                return VRAM_OK;
        at = s->base + s->size;
    }
    if (c->capacity > at)
        report(fn, ctx, at, c->capacity - at, 0, 0);
    return VRAM_OK;
}

typedef struct tally {
    uint64_t reserved, allocated, requested, used, small, large;
    uint64_t nfree[CACHING_POOLS];
} tally;

static vram_status check_blocks(const caching_heap *c, const caching_segment *s, tally *t,
                                char *msg, size_t len)
{
    const caching_block *prev = NULL;
    uint64_t at = s->base;
    for (const caching_block *b = s->first; b; prev = b, b = b->next) {
        if (b->segment != s || b->prev != prev)
            return vram__violation(msg, len, "block at %" PRIu64 ": broken segment links", b->offset);
        if (b->offset != at)
            return vram__violation(msg, len, "segment at %" PRIu64 ": block at %" PRIu64
                                   " where %" PRIu64 " was expected (blocks must tile it)",
                                   s->base, b->offset, at);
        if (!b->size || b->size % CACHING_MIN_BLOCK)
            return vram__violation(msg, len, "block at %" PRIu64 ": size %" PRIu64
                                   " is not a positive multiple of 512", b->offset, b->size);
        if (b->used) {
            if (vram__caching_map_get(&c->live, b->offset) != b)
                return vram__violation(msg, len, "used block at %" PRIu64 " missing from the live map",
                                       b->offset);
            if (!b->requested || b->requested > b->size)
                return vram__violation(msg, len, "used block at %" PRIu64 ": requested %" PRIu64
                                       " outside (0, %" PRIu64 "]", b->offset, b->requested, b->size);
            t->used++;
            t->allocated += b->size;
            t->requested += b->requested;
        } else {
            if (prev && !prev->used)
                return vram__violation(msg, len, "free blocks at %" PRIu64 " and %" PRIu64
                                       " should have merged", prev->offset, b->offset);
            t->nfree[s->pool]++;
        }
        at += b->size;
    }
    if (s->last != prev || at != s->base + s->size)
        return vram__violation(msg, len, "segment at %" PRIu64 ": blocks end at %" PRIu64
                               ", the segment at %" PRIu64, s->base, at, s->base + s->size);
    return VRAM_OK;
}

static vram_status check_segment(const caching_heap *c, size_t i, tally *t, char *msg, size_t len)
{
    const caching_segment *s = c->segs[i];
    uint64_t unit = s->expandable ? vram__caching_page(s->pool) : CACHING_ROUND_LARGE;
    if (s->pool != CACHING_SMALL && s->pool != CACHING_LARGE)
        return vram__violation(msg, len, "segment at %" PRIu64 ": pool %d", s->base, s->pool);
    if (!s->size || s->size % unit || s->base % CACHING_ROUND_LARGE)
        return vram__violation(msg, len, "segment at %" PRIu64 " of %" PRIu64
                               " bytes: not whole units of %" PRIu64, s->base, s->size, unit);
    if (s->base + s->size > c->capacity || (i && c->segs[i - 1]->base + c->segs[i - 1]->size > s->base))
        return vram__violation(msg, len, "segment at %" PRIu64 " overlaps its neighbour or the end",
                               s->base);
    if (s->expandable != c->opt.expandable_segments ||
        (s->expandable && c->pools[s->pool].expandable != s))
        return vram__violation(msg, len, "segment at %" PRIu64 ": expandable flag disagrees",
                               s->base);
    t->reserved += s->size;
    if (s->pool == CACHING_SMALL)
        t->small++;
    else
        t->large++;
    return check_blocks(c, s, t, msg, len);
}

static vram_status check_pool(const caching_heap *c, int pool, const tally *t, char *msg,
                              size_t len)
{
    const caching_pool *p = &c->pools[pool];
    const char *why = vram__rb_verify(&p->free);
    if (why)
        return vram__violation(msg, len, "pool %d index: %s", pool, why);
    if (p->free.count != t->nfree[pool])
        return vram__violation(msg, len, "pool %d indexes %zu free blocks, its segments hold %" PRIu64,
                               pool, p->free.count, t->nfree[pool]);
    const caching_block *a = NULL;
    for (const caching_block *b = vram__caching_pool_first(p); b; a = b, b = vram__caching_pool_next(b)) {
        if (b->used || b->segment->pool != pool)
            return vram__violation(msg, len, "pool %d indexes block at %" PRIu64
                                   ", used or of another pool", pool, b->offset);
        if ((b->prev ? b->prev->next : b->segment->first) != b ||
            (b->next ? b->next->prev : b->segment->last) != b)
            return vram__violation(msg, len, "pool %d indexes block at %" PRIu64
                                   ", not linked in its segment", pool, b->offset);
        if (a && !vram__caching_before(p, a, b))
            return vram__violation(msg, len, "pool %d index out of (size, offset) order at %" PRIu64,
                                   pool, b->offset);
    }
    return VRAM_OK;
}

typedef struct space_walk {
    const caching_heap *c;
    size_t next;             /* the segment the next used block must be */
    uint64_t bad;            /* offset of the first disagreeing block, or UINT64_MAX */
} space_walk;

static int space_block(const vram_block_info *b, void *ctx)
{
    space_walk *w = ctx;
    if (!b->used)
        return 0;
    const caching_segment *s = w->next < w->c->nsegs ? w->c->segs[w->next] : NULL;
    if (!s || s->base != b->offset || s->size != b->size) {
        w->bad = b->offset;
        return 1;
    }
    w->next++;
    return 0;
}

/* The placement heap holds exactly the segments, each as one used block. */
static vram_status check_space(const caching_heap *c, char *msg, size_t len)
{
    if (!c->space)
        return c->opt.expandable_segments || !c->nsegs
                   ? VRAM_OK
                   : vram__violation(msg, len, "segments listed without a placement heap");
    char inner[200];
    if (vram_heap_check(c->space, inner, sizeof inner))
        return vram__violation(msg, len, "placement heap: %s", inner);
    space_walk w = {.c = c, .bad = UINT64_MAX};
    vram_heap_walk(c->space, space_block, &w);
    if (w.bad != UINT64_MAX || w.next != c->nsegs)
        return vram__violation(msg, len, "placement heap and segment list disagree at %" PRIu64
                               " (%zu of %zu segments matched)", w.bad, w.next, c->nsegs);
    return VRAM_OK;
}

vram_status vram__caching_check(const void *impl, char *msg, size_t len)
{
    const caching_heap *c = impl;
    tally t = {0};
    for (size_t i = 0; i < c->nsegs; i++) {
        vram_status st = check_segment(c, i, &t, msg, len);
        if (st)
            return st;
    }
    for (int pool = 0; pool < CACHING_POOLS; pool++) {
        vram_status st = check_pool(c, pool, &t, msg, len);
        if (st)
            return st;
    }
    if (t.reserved != c->st.reserved || t.allocated != c->st.allocated ||
        t.requested != c->st.requested)
        return vram__violation(msg, len, "counters reserved/allocated/requested %" PRIu64 "/%" PRIu64
                               "/%" PRIu64 " but the blocks give %" PRIu64 "/%" PRIu64 "/%" PRIu64,
                               c->st.reserved, c->st.allocated, c->st.requested, t.reserved,
                               t.allocated, t.requested);
    if (t.used != c->live_allocs || t.used != c->live.count)
        return vram__violation(msg, len, "%" PRIu64 " used blocks but %" PRIu64
                               " live allocations and %zu in the live map",
                               t.used, c->live_allocs, c->live.count);
    if (t.small != c->st.small_segments || t.large != c->st.large_segments ||
        t.small + t.large != c->st.segments)
        return vram__violation(msg, len, "segment counters %" PRIu64 "/%" PRIu64
                               " but %" PRIu64 " small and %" PRIu64 " large listed",
                               c->st.small_segments, c->st.large_segments, t.small, t.large);
    return check_space(c, msg, len);
}
