/* caching_segments.c - where the caching policy's segments lie in [0, capacity).
 *
 * This stands for cudaMalloc: a new segment goes into the smallest gap between
 * live segments that holds it (the lowest such gap on ties), at a base aligned
 * to at least 2 MiB. The segment array is kept sorted by base, segments never
 * overlap, and every one ends at or below the capacity. */
#include <stdlib.h>
#include <string.h>

#include "caching_internal.h"

static uint64_t seg_end(const caching_segment *s) { return s->base + s->size; }

vram_status vram__caching_gap_find(const caching_heap *c, uint64_t size, uint64_t align,
                                   uint64_t *base, size_t *pos)
{
    uint64_t best_len = UINT64_MAX;
    vram_status st = VRAM_ENOMEM;
    for (size_t i = 0; i <= c->nsegs; i++) {
        uint64_t lo = i ? seg_end(c->segs[i - 1]) : 0;
        uint64_t hi = i < c->nsegs ? c->segs[i]->base : c->capacity;
        uint64_t b = vram__align_up(lo, align);
        if (b < lo || b > hi || hi - b < size || hi - lo >= best_len)
            continue;
        best_len = hi - lo;
        *base = b;
        *pos = i;
        st = VRAM_OK;
    }
    return st;
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

void vram__caching_seg_insert(caching_heap *c, caching_segment *s, size_t pos)
{
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
    while (lo < c->nsegs && c->segs[lo] != s && c->segs[lo]->base == s->base)
        lo++;
    if (lo == c->nsegs || c->segs[lo] != s)
        return; /* not listed: check() reports the disagreement */
    memmove(&c->segs[lo], &c->segs[lo + 1], (c->nsegs - lo - 1) * sizeof c->segs[0]);
    c->nsegs--;
}

uint64_t vram__caching_room_above(const caching_heap *c, size_t i)
{
    uint64_t hi = i + 1 < c->nsegs ? c->segs[i + 1]->base : c->capacity;
    return hi - seg_end(c->segs[i]);
}

uint64_t vram__caching_room_below(const caching_heap *c, size_t i)
{
    uint64_t lo = i ? seg_end(c->segs[i - 1]) : 0;
    return c->segs[i]->base - lo;
}
