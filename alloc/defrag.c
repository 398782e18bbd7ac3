/* defrag.c - compaction passes (vram/defrag.h) and the automatic pass the
 * manager runs when an allocation fails although enough bytes are free. */
#include <stdlib.h>

#include "vram/defrag.h"

#include "manager_internal.h"

static void frag_now(const vram_manager *m, double *frag, uint64_t *largest)
{
    vram_heap_stats hs;
    vram_heap_stats_get(m->heap, &hs);
    *largest = hs.largest_free;
    *frag = hs.free ? 1.0 - (double)hs.largest_free / (double)hs.free : 0.0;
}

/* Moves the handle to a lower block if the heap offers one: 1 moved, 0 not. */
static vram_status move_down(vram_manager *m, uint32_t index, int *moved)
{
    vram__handle *s = &m->handles.slots[index];
    uint64_t tag = vram__handles_value(&m->handles, index).v;
    uint64_t dst;
    *moved = 0;
    vram_status st = vram_heap_alloc(m->heap, s->size, s->align, &dst);
    if (st == VRAM_ENOMEM)
        return VRAM_OK;
    if (st)
        return st;
    if (dst >= s->offset)
        return vram_heap_free(m->heap, dst);
    if (m->verify && s->tagged)
        st = vram_device_verify(m->dev, vram__addr(m, s), s->size, tag);
    if (!st)
        st = vram_device_copy_d2d(m->dev, m->base + dst, vram__addr(m, s), s->size);
    if (!st && m->verify && s->tagged)
        st = vram_device_verify(m->dev, m->base + dst, s->size, tag);
    if (!st)
        st = vram_heap_free(m->heap, s->offset);
    if (st) {
        vram_heap_free(m->heap, dst);
        return st;
    }
    s->offset = dst;
    *moved = 1;
    return VRAM_OK;
}

/* One pass; stops early once the heap can place `want` bytes (0: never). */
static vram_status defrag_pass(vram_manager *m, uint64_t budget, uint64_t want,
                               vram_defrag_report *r)
{
    vram_device_stats before, after;
    vram_device_stats_get(m->dev, &before);
    *r = (vram_defrag_report){0};
    frag_now(m, &r->frag_before, &r->largest_free_before);
    vram__placed *placed;
    uint32_t n;
    vram_status st = vram__handles_resident_by_offset(&m->handles, &placed, &n);
    if (st)
        return st;
    m->counters.defrag_passes++;
    for (uint32_t k = n; k-- > 0 && !st;) {
        uint32_t i = placed[k].index;
        const vram__handle *s = &m->handles.slots[i];
        if (s->pins || s->uses)
            continue;
        r->candidates++;
        if (budget && s->size > budget - r->bytes_moved)
            continue;
        int moved;
        st = move_down(m, i, &moved);
        if (moved) {
            r->moves++;
            r->bytes_moved += s->size;
            if (want && vram_heap_max_alloc(m->heap) >= want)
                break;
        }
    }
    free(placed);
    m->counters.defrag_moves += r->moves;
    m->counters.defrag_bytes_moved += r->bytes_moved;
    frag_now(m, &r->frag_after, &r->largest_free_after);
    vram_device_stats_get(m->dev, &after);
    r->modelled_ns = after.modelled_ns - before.modelled_ns;
    return st;
}

vram_status vram_manager_defrag(vram_manager *m, uint64_t byte_budget, vram_defrag_report *report)
{
    if (!m)
        return VRAM_EINVAL;
    vram_defrag_report r;
    vram_status st = defrag_pass(m, byte_budget, 0, &r);
    if (report)
        *report = r;
    return st;
}

vram_status vram__defrag_for(vram_manager *m, uint64_t size)
{
    vram_defrag_report r;
    return defrag_pass(m, m->defrag_budget, size, &r);
}
