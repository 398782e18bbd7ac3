/* defrag.c - moving handles: relocation of one handle, the heap's offers of a
 * new block, and the compaction pass of vram/defrag.h. The targeted
 * evacuation for one failed allocation is defrag_target.c's. */
#include <stdlib.h>

#include "vram/defrag.h"

#include "manager_internal.h"

/* How many blocks the heap may offer for one handle before it stays put:
 * unacceptable offers are held (so the heap offers its next choice) and
 * given back afterwards. Offers are trials, not footprint: the heap's peaks
 * are restored once the held ones are given back (only the accepted block,
 * needed for the copy, may raise them). */
#define MAX_OFFERS 16

vram_status vram__defrag_offer(vram_manager *m, uint32_t index, vram__offer_fn accept,
                               const void *ctx, vram__block *dst)
{
    const vram__handle *s = &m->handles.slots[index];
    vram_heap_stats before;
    vram_heap_stats_get(m->heap, &before);
    uint64_t held[MAX_OFFERS]; /* tokens */
    int n = 0;
    vram_status st = VRAM_ENOMEM;
    while (n < MAX_OFFERS) {
        vram__block b;
        vram_status a = vram_heap_alloc_token(m->heap, s->size, s->align, &b.offset, &b.token);
        if (a) {
            st = a;
            break;
        }
        if (accept(ctx, b.offset, s->size)) {
            *dst = b;
            st = VRAM_OK;
            break;
        }
        held[n++] = b.token;
    }
    while (n--)
        vram_heap_free_token(m->heap, held[n]);
    vram_heap_restore_peaks(m->heap, before.peak_in_use, before.peak_footprint);
    return st;
}

vram_status vram__defrag_relocate(vram_manager *m, uint32_t index, vram__block dst)
{
    vram__handle *s = &m->handles.slots[index];
    uint64_t tag = vram__handles_value(&m->handles, index).v;
    vram_device_stats before, after;
    vram_device_stats_get(m->dev, &before);
    vram_status st = VRAM_OK;
    if (m->verify && s->tagged)
        st = vram_device_verify(m->dev, vram__addr(m, s), s->size, tag);
    if (!st)
        st = vram_device_copy_d2d(m->dev, m->base + dst.offset, vram__addr(m, s), s->size);
    if (!st && m->verify && s->tagged)
        st = vram_device_verify(m->dev, m->base + dst.offset, s->size, tag);
    vram_device_stats_get(m->dev, &after);
    m->counters.defrag_modelled_ns += after.modelled_ns - before.modelled_ns;
    if (!st)
        st = vram_heap_free_token(m->heap, s->token);
    if (st) {
        vram_heap_free_token(m->heap, dst.token);
        return st;
    }
    s->offset = dst.offset;
    s->token = dst.token;
    m->counters.defrag_moves++;
    m->counters.defrag_bytes_moved += s->size;
    return VRAM_OK;
}

static void frag_now(const vram_manager *m, double *frag, uint64_t *largest)
{
    vram_heap_stats hs;
    vram_heap_stats_get(m->heap, &hs);
    *largest = hs.largest_free;
    *frag = hs.free ? 1.0 - (double)hs.largest_free / (double)hs.free : 0.0;
}

/* Accepts a block that starts below the handle's present one. */
static int below(const void *ctx, uint64_t offset, uint64_t size)
{
    (void)size;
    return offset < *(const uint64_t *)ctx;
}

vram_status vram_manager_defrag(vram_manager *m, uint64_t byte_budget, vram_defrag_report *report)
{
    if (!m)
        return VRAM_EINVAL;
    vram_defrag_report r = {0};
    vram_device_stats before, after;
    vram_device_stats_get(m->dev, &before);
    frag_now(m, &r.frag_before, &r.largest_free_before);
    vram__placed *placed;
    uint32_t n;
    vram_status st = vram__handles_resident_by_offset(&m->handles, &placed, &n);
    if (st)
        return st;
    m->counters.defrag_passes++;
    /* From the highest block down: each movable handle into a lower block. */
    for (uint32_t k = n; k-- > 0 && !st;) {
        uint32_t i = placed[k].index;
        const vram__handle *s = &m->handles.slots[i];
        if (s->pins || s->uses)
            continue;
        r.candidates++;
        if (byte_budget && s->size > byte_budget - r.bytes_moved)
            continue;
        vram__block dst;
        st = vram__defrag_offer(m, i, below, &s->offset, &dst);
        if (st == VRAM_ENOMEM) {
            st = VRAM_OK;
            continue;
        }
        if (!st)
            st = vram__defrag_relocate(m, i, dst);
        if (!st) {
            r.moves++;
            r.bytes_moved += s->size;
        }
    }
    free(placed);
    frag_now(m, &r.frag_after, &r.largest_free_after);
    vram_device_stats_get(m->dev, &after);
    r.modelled_ns = after.modelled_ns - before.modelled_ns;
    if (report)
        *report = r;
    return st;
}
