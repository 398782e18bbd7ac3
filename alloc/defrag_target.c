/* defrag_target.c - the compaction the manager runs when an allocation fails
 * although the heap holds enough free bytes in total (defrag_on_oom): the
 * cheapest window of consecutive heap blocks that spans the request and holds
 * only free blocks and movable handles (not pinned, not in use) is found, and
 * its handles are moved out of it, so the window becomes one free range.
 * Cheapest: the fewest used bytes to move, within the pass's byte budget and
 * the free bytes outside the window.
 *
 * Cost: a heap walk, O(n log n) to map blocks to handles, an O(n) two-pointer
 * scan over the blocks in address order, and one relocation per handle in
 * the window (each trying at most a few blocks the heap offers). */
#include <stdlib.h>
#include <string.h>

#include "manager_internal.h"

typedef enum tkind { T_FREE, T_MOVABLE, T_FIXED } tkind;

typedef struct tblock {
    uint64_t offset, size;
    uint32_t index; /* T_MOVABLE: the handle */
    tkind kind;
} tblock;

typedef struct collect {
    const vram_manager *m;
    const vram__placed *placed;
    uint32_t nplaced;
    tblock *b;
    size_t n, cap;
    uint64_t free_bytes;
    vram_status st;
} collect;

static int collect_block(const vram_block_info *info, void *p)
{
    collect *c = p;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 256;
        tblock *b = realloc(c->b, cap * sizeof *b);
        if (!b) {
            c->st = VRAM_ENOHOST;
            return 1;
        }
        c->b = b;
        c->cap = cap;
    }
    tblock t = {.offset = info->offset, .size = info->size, .kind = T_FREE};
    if (info->used) {
        t.kind = T_FIXED;
        t.index = vram__placed_find(c->placed, c->nplaced, info->offset);
        if (t.index != UINT32_MAX) {
            const vram__handle *s = &c->m->handles.slots[t.index];
            if (!s->pins && !s->uses)
                t.kind = T_MOVABLE;
        }
    } else {
        c->free_bytes += info->size;
    }
    c->b[c->n++] = t;
    return 0;
}

typedef struct window {
    size_t first, end;   /* blocks [first, end) */
    uint64_t start, stop; /* bytes [start, stop) */
    uint64_t used;
} window;

static uint64_t block_end(const tblock *b) { return b->offset + b->size; }

/* The cheapest window, or 0. The window [i, j) grows to the right until it
 * spans the request from block i's aligned start, then block i leaves it:
 * every block enters and leaves once. */
static int find_window(const collect *c, uint64_t size, uint64_t align, uint64_t budget,
                       window *best)
{
    int found = 0;
    size_t j = 0;
    uint64_t used = 0, freeb = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->b[i].kind == T_FIXED) {
            j = i + 1;
            used = freeb = 0;
            continue;
        }
        uint64_t start = (c->b[i].offset + align - 1) & ~(align - 1);
        while (j < c->n && c->b[j].kind != T_FIXED &&
               (j == i || block_end(&c->b[j - 1]) < start + size)) {
            if (c->b[j].kind == T_FREE)
                freeb += c->b[j].size;
            else
                used += c->b[j].size;
            j++;
        }
        /* j > i here: j never falls behind i, and j == i takes block i (not fixed). */
        if (block_end(&c->b[j - 1]) >= start + size && used <= c->free_bytes - freeb &&
            (!budget || used <= budget) && (!found || used < best->used)) {
            *best = (window){.first = i, .end = j, .start = c->b[i].offset,
                             .stop = block_end(&c->b[j - 1]), .used = used};
            found = 1;
        }
        if (c->b[i].kind == T_FREE)
            freeb -= c->b[i].size;
        else
            used -= c->b[i].size;
    }
    return found;
}

/* Accepts a block outside the window. */
static int outside(const void *ctx, uint64_t offset, uint64_t size)
{
    const window *w = ctx;
    return offset + size <= w->start || offset >= w->stop;
}

/* The window a request needs: its size and alignment as the heap will place
 * it. A buddy heap merges a free block only with its buddy, so consecutive
 * free blocks serve a request only when they make up the naturally aligned
 * block of the request's power-of-two size (vram_heap's buddy rule). */
static void window_shape(const vram_heap *h, uint64_t *size, uint64_t *align)
{
    uint64_t min_align = vram_heap_min_align(h);
    if (*align < min_align)
        *align = min_align;
    *size = (*size + min_align - 1) & ~(min_align - 1);
    if (strcmp(vram_heap_name(h), "buddy") != 0)
        return;
    uint64_t p = min_align;
    while (p < *size)
        p <<= 1;
    *size = p;
    if (*align < p)
        *align = p;
}

vram_status vram__defrag_for(vram_manager *m, uint64_t size, uint64_t align)
{
    window_shape(m->heap, &size, &align);
    collect c = {.m = m};
    vram__placed *placed;
    vram_status st = vram__handles_resident_by_offset(&m->handles, &placed, &c.nplaced);
    if (st)
        return st;
    c.placed = placed;
    st = vram_heap_walk(m->heap, collect_block, &c);
    if (!st)
        st = c.st;
    window w;
    m->counters.defrag_passes++; /* an attempt counts, whether a window exists or not */
    if (!st && !find_window(&c, size, align, m->defrag_budget, &w))
        st = VRAM_ENOMEM;
    if (!st) {
        for (size_t k = w.first; k < w.end && !st; k++) {
            if (c.b[k].kind != T_MOVABLE)
                continue;
            vram__block dst;
            st = vram__defrag_offer(m, c.b[k].index, outside, &w, &dst);
            if (!st)
                st = vram__defrag_relocate(m, c.b[k].index, dst);
        }
    }
    free(c.b);
    free(placed);
    return st;
}
