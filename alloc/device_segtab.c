/* device_segtab.c - the sorted table of live segments that device backends keep. */
#include <stdlib.h>
#include <string.h>

#include "device_internal.h"

/* Index of the last segment starting at or below a, or SIZE_MAX. */
static size_t last_at_or_below(const vram__segtab *t, uint64_t a)
{
    size_t lo = 0, hi = t->n; /* answer is lo - 1 once lo == hi */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->segs[mid].addr <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? lo - 1 : SIZE_MAX;
}

size_t vram__segtab_find(const vram__segtab *t, uint64_t a)
{
    size_t i = last_at_or_below(t, a);
    if (i == SIZE_MAX || a - t->segs[i].addr >= t->segs[i].extent)
        return SIZE_MAX;
    return i;
}

vram_status vram__segtab_place(const vram__segtab *t, uint64_t base, uint64_t extent,
                               uint64_t align, uint64_t *addr)
{
    uint64_t lim = UINT64_MAX - (align - 1);
    uint64_t at = base;
    size_t i = 0;
    if (t->n) {
        const vram__seg *last = &t->segs[t->n - 1];
        if (last->addr + last->extent - base - t->extents < extent) { /* no gap can fit */
            at = last->addr + last->extent;
            i = t->n;
        }
    }
    /* at <= end: at is the end of the segment before i (or base), segment i
     * starts at or after it at a multiple of align, and rounding stops there. */
    for (; i <= t->n; i++) {
        if (at > lim)
            return VRAM_EOVERFLOW;
        at = (at + align - 1) & ~(align - 1);
        uint64_t end = i < t->n ? t->segs[i].addr : UINT64_MAX;
        if (end - at >= extent) {
            *addr = at;
            return VRAM_OK;
        }
        if (i < t->n)
            at = t->segs[i].addr + t->segs[i].extent;
    }
    return VRAM_EOVERFLOW;
}

vram_status vram__segtab_insert(vram__segtab *t, const vram__seg *s)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        vram__seg *segs = realloc(t->segs, cap * sizeof *segs);
        if (!segs)
            return VRAM_ENOHOST;
        t->segs = segs;
        t->cap = cap;
    }
    size_t i = last_at_or_below(t, s->addr);
    i = i == SIZE_MAX ? 0 : i + 1;
    memmove(&t->segs[i + 1], &t->segs[i], (t->n - i) * sizeof *t->segs);
    t->segs[i] = *s;
    t->n++;
    t->extents += s->extent;
    return VRAM_OK;
}

void vram__segtab_remove(vram__segtab *t, size_t i)
{
    t->extents -= t->segs[i].extent;
    memmove(&t->segs[i], &t->segs[i + 1], (t->n - i - 1) * sizeof *t->segs);
    t->n--;
}

void vram__segtab_free(vram__segtab *t)
{
    free(t->segs);
    *t = (vram__segtab){0};
}

void vram__segtab_info(const vram__seg *s, vram_segment_info *out)
{
    *out = (vram_segment_info){
        .addr = s->addr, .size = s->size, .max_size = s->extent, .growable = s->growable};
}
