/* caching_release.c - giving cached memory back to the device: whole free
 * segments (cudaFree), free pages at the growing end of expandable segments
 * (unmap), PyTorch's release of oversize blocks, and its garbage collector. */
#include <stdlib.h>

#include "caching_internal.h"

/* A free block that is a whole (non-expandable) segment: the only kind cudaFree can return. */
static int whole_segment(const caching_block *b)
{
    return !b->used && !b->prev && !b->next && !b->segment->expandable;
}

static void drop_segment(caching_heap *c, caching_segment *s)
{
    vram__caching_seg_remove(c, s);
    if (s->pool == CACHING_SMALL)
        c->st.small_segments--;
    else
        c->st.large_segments--;
    c->st.segments--;
    if (s->expandable)
        c->pools[s->pool].expandable = NULL;
    free(s);
}

/* Frees the segment of the whole-segment free block b. */
static uint64_t release_segment(caching_heap *c, caching_block *b)
{
    caching_segment *s = b->segment;
    uint64_t size = s->size;
    vram__caching_pool_remove(&c->pools[s->pool], b);
    free(b);
    vram__caching_space_give(c, s->base);
    drop_segment(c, s);
    c->st.reserved -= size;
    c->st.segment_frees++;
    c->st.segment_free_bytes += size;
    return size;
}

/* Unmaps the whole pages of the free block at the growing end of the pool's
 * expandable segment (the small pool's grows up, the large pool's down). */
static void shrink_expandable(caching_heap *c, int pool)
{
    caching_segment *s = c->pools[pool].expandable;
    if (!s)
        return;
    uint64_t page = vram__caching_page(pool), end = s->base + s->size, cut;
    caching_block *b = pool == CACHING_SMALL ? s->last : s->first;
    if (b->used)
        return;
    caching_pool *p = &c->pools[pool];
    vram__caching_pool_remove(p, b);
    if (pool == CACHING_SMALL) {
        uint64_t keep = vram__caching_round_up(b->offset - s->base, page); /* pages below stay */
        cut = s->size - keep;
        b->size -= cut;
        s->size = keep;
    } else {
        uint64_t b_end = b->offset + b->size;
        uint64_t keep = vram__caching_round_up(end - b_end, page); /* pages above stay */
        cut = s->size - keep;
        b->offset += cut;
        b->size -= cut;
        s->base += cut;
        s->size = keep;
    }
    if (b->size) {
        vram__caching_pool_insert(p, b);
    } else {
        /* b was the end block on the growing side: its one neighbour, if any, takes its place. */
        caching_block *other = b->prev ? b->prev : b->next;
        if (pool == CACHING_SMALL)
            s->last = other;
        else
            s->first = other;
        if (!other)
            s->first = s->last = NULL;
        else if (pool == CACHING_SMALL)
            other->next = NULL;
        else
            other->prev = NULL;
        free(b);
    }
    c->st.reserved -= cut;
    if (cut) {
        c->st.unmaps++;
        c->st.unmap_bytes += cut;
    }
    if (!s->size) /* so a listed segment always has a block (grow_up, grow_down rely on it) */
        drop_segment(c, s);
}

void vram__caching_release_all(caching_heap *c)
{
    for (int pool = 0; pool < CACHING_POOLS; pool++) {
        caching_pool *p = &c->pools[pool];
        for (caching_block *b = vram__caching_pool_first(p), *next; b; b = next) {
            next = vram__caching_pool_next(b);
            if (whole_segment(b))
                release_segment(c, b);
        }
        shrink_expandable(c, pool);
    }
}

int vram__caching_release_oversize(caching_heap *c, int pool, uint64_t rsize)
{
    uint64_t ms = c->opt.max_split_size;
    if (ms == UINT64_MAX)
        return 0;
    caching_pool *p = &c->pools[pool];
    uint64_t key = rsize > ms ? rsize : ms;
    for (caching_block *b = vram__caching_pool_lower_bound(p, key); b; b = vram__caching_pool_next(b))
        if (whole_segment(b)) {
            release_segment(c, b);
            return 1;
        }
    /* No single block is large enough: release oversize ones, largest first. */
    uint64_t total = 0;
    for (caching_block *b = vram__caching_pool_last(p), *prev; b && total < key; b = prev) {
        prev = vram__caching_pool_prev(b);
        if (b->size < ms)
            break;
        if (whole_segment(b))
            total += release_segment(c, b);
    }
    return total >= key;
}

void vram__caching_gc(caching_heap *c)
{
    if (c->opt.gc_threshold <= 0.0)
        return;
    uint64_t limit = (uint64_t)(c->opt.gc_threshold * (double)c->capacity);
    if (c->st.reserved <= limit)
        return;
    uint64_t target = c->st.reserved - limit, reclaimed = 0;
    caching_pool *p = &c->pools[CACHING_LARGE];
    double total_age = 0;
    uint64_t count = 0;
    for (caching_block *b = vram__caching_pool_first(p); b; b = vram__caching_pool_next(b))
        if (whole_segment(b)) {
            total_age += (double)(p->searches - b->gc_base);
            count++;
        }
    /* PyTorch's garbage_collect_cached_blocks: passes release every whole free
     * segment at least as old as the average, until enough is reclaimed. */
    int released = 1;
    while (reclaimed < target && released && count) {
        double threshold = total_age / (double)count;
        released = 0;
        for (caching_block *b = vram__caching_pool_first(p), *next; b; b = next) {
            next = vram__caching_pool_next(b);
            double age = (double)(p->searches - b->gc_base);
            if (!whole_segment(b) || age < threshold)
                continue;
            released = 1;
            total_age -= age;
            count--;
            reclaimed += release_segment(c, b);
            c->st.gc_frees++;
        }
    }
}
