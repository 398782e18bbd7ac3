/* caching_segments.c - where the caching policy's segments lie in [0, capacity).
 *
 * Placement stands for cudaMalloc: an inner "bestfit" heap with 2 MiB blocks
 * puts a new segment into the smallest free stretch that holds it (the lowest
 * on ties). The segment array is kept sorted by base, segments never overlap,
 * and every one ends at or below the capacity. */
#include <stdlib.h>
#include <string.h>

#include "caching_internal.h"

static uint64_t seg_end(const caching_segment *s) { return s->base + s->size; }

static uint64_t space_bytes(uint64_t capacity)
{
    return capacity / CACHING_ROUND_LARGE * CACHING_ROUND_LARGE;
}

vram_status vram__caching_space_init(caching_heap *c)
{
    vram_heap_config cfg = {.capacity = space_bytes(c->capacity), .min_align = CACHING_ROUND_LARGE};
    if (c->opt.expandable_segments || !cfg.capacity)
        return VRAM_OK;
    return vram_heap_create(vram_heap_policy("bestfit"), &cfg, &c->space);
}

vram_status vram__caching_space_grow(caching_heap *c, uint64_t bytes)
{
    uint64_t more = space_bytes(c->capacity + bytes) - space_bytes(c->capacity);
    if (c->opt.expandable_segments || !more)
        return VRAM_OK;
    if (!c->space) {
        vram_heap_config cfg = {.capacity = more, .min_align = CACHING_ROUND_LARGE};
        return vram_heap_create(vram_heap_policy("bestfit"), &cfg, &c->space);
    }
    return vram_heap_grow(c->space, more);
}

vram_status vram__caching_space_take(caching_heap *c, uint64_t size, uint64_t align, uint64_t *base)
{
    if (!c->space || size > space_bytes(c->capacity)) /* no room: ENOMEM, not EINVAL */
        return VRAM_ENOMEM;
    return vram_heap_alloc(c->space, size, align, base);
}

void vram__caching_space_give(caching_heap *c, uint64_t base)
{
    (void)vram_heap_free(c->space, base); /* a listed segment: check() covers the agreement */
}

vram_status vram__caching_seg_reserve(caching_heap *c)
{
    if (c->nsegs < c->segcap)
        return VRAM_OK;
    size_t cap = c->segcap ? c->segcap * 2 : 16;
    caching_segment **segs = realloc(c->segs, cap * sizeof *segs);
    if (!segs)
        return VRAM_ENOHOST;
    c->segs = segs;
    c->segcap = cap;
    return VRAM_OK;
}

void vram__caching_seg_insert(caching_heap *c, caching_segment *s)
{
    size_t pos = 0, hi = c->nsegs;
    while (pos < hi) {
        size_t mid = pos + (hi - pos) / 2;
        if (c->segs[mid]->base < s->base)
            pos = mid + 1;
        else
            hi = mid;
    }
    memmove(&c->segs[pos + 1], &c->segs[pos], (c->nsegs - pos) * sizeof c->segs[0]);
    c->segs[pos] = s;
    c->nsegs++;
}

size_t vram__caching_seg_find(const caching_heap *c, uint64_t offset)
{
    size_t lo = 0, hi = c->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (seg_end(c->segs[mid]) <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->nsegs && c->segs[lo]->base <= offset)
        return lo;
    return c->nsegs;
}

void vram__caching_seg_remove(caching_heap *c, const caching_segment *s)
{
    /* By base, not by containment: an emptied expandable segment has size 0. */
    size_t lo = 0, hi = c->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->segs[mid]->base < s->base)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == c->nsegs || c->segs[lo] != s)
        return; /* not listed: check() reports the disagreement */
    memmove(&c->segs[lo], &c->segs[lo + 1], (c->nsegs - lo - 1) * sizeof c->segs[0]);
    c->nsegs--;
}
