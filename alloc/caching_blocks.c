/* caching_blocks.c - the caching policy's block rules: best fit within a pool,
 * splitting, and merging on free. Host memory comes from the spares that
 * caching_alloc obtained first, so nothing here can fail half-way. */
#include <stdlib.h>

#include "caching_internal.h"

caching_block *vram__caching_spare(caching_heap *c)
{
    for (size_t i = 0; i < sizeof c->spare / sizeof c->spare[0]; i++) {
        caching_block *b = c->spare[i];
        if (b) {
            c->spare[i] = NULL;
            *b = (caching_block){0};
            return b;
        }
    }
    return NULL; /* unreachable: caching_alloc refilled three spares */
}

void vram__caching_index(caching_heap *c, caching_block *b)
{
    vram__caching_pool_insert(&c->pools[b->segment->pool], b);
}

/* Cuts b at `at` bytes; the new block after the cut is returned, free and not indexed. */
static caching_block *split_at(caching_heap *c, caching_block *b, uint64_t at)
{
    caching_block *n = vram__caching_spare(c);
    n->offset = b->offset + at;
    n->size = b->size - at;
    n->segment = b->segment;
    n->prev = b;
    n->next = b->next;
    if (b->next)
        b->next->prev = n;
    else
        b->segment->last = n;
    b->next = n;
    b->size = at;
    return n;
}

static int fits(const caching_block *b, uint64_t rsize, uint64_t align)
{
    uint64_t pad = vram__align_up(b->offset, align) - b->offset;
    return pad <= b->size && b->size - pad >= rsize;
}

/* The free block at the growing end of an expandable segment, which new
 * pages extend (the small pool's grows up, the large pool's down). */
static int at_growing_end(const caching_block *b)
{
    const caching_segment *s = b->segment;
    return s->expandable && b == (s->pool == CACHING_SMALL ? s->last : s->first);
}

caching_block *vram__caching_find_free(caching_heap *c, int pool, uint64_t rsize, uint64_t align)
{
    caching_pool *p = &c->pools[pool];
    uint64_t ms = c->opt.max_split_size;
    p->searches++;
    for (caching_block *b = vram__caching_pool_lower_bound(p, rsize); b;
         b = vram__caching_pool_next(b)) {
        if (!fits(b, rsize, align))
            continue;
        /* PyTorch's get_free_block with expandable segments ranks a block by
         * its size plus the unmapped space after it: the block at the growing
         * end ranks last, so the next fitting block in (size, offset) order is
         * taken in its place and the growing end is kept for growth. */
        if (c->opt.expandable_segments && at_growing_end(b)) {
            caching_block *n = vram__caching_pool_next(b);
            while (n && !fits(n, rsize, align))
                n = vram__caching_pool_next(n);
            if (n)
                b = n;
        }
        /* PyTorch's oversize rules: a request below max_split_size never takes
         * a block at or above it, and one at or above it takes no block 20 MiB
         * or more larger than itself. */
        if (rsize < ms && b->size >= ms)
            return NULL;
        if (rsize >= ms && b->size - rsize >= CACHING_LARGE_SEGMENT)
            return NULL;
        return b;
    }
    return NULL;
}

/* PyTorch's should_split: small blocks (and all blocks of expandable segments)
 * split when at least 512 B remain; large ones when more than 1 MiB remains and
 * the request is below max_split_size. */
static int should_split(const caching_heap *c, const caching_block *b, uint64_t rsize)
{
    uint64_t rest = b->size - rsize;
    if (b->segment->pool == CACHING_SMALL || c->opt.expandable_segments)
        return rest >= CACHING_MIN_BLOCK;
    return rsize < c->opt.max_split_size && rest > CACHING_SMALL_SIZE;
}

/* b becomes the block of a live allocation of `requested` bytes: the live map
 * and the counters follow. */
static caching_block *mark_used(caching_heap *c, caching_block *b, uint64_t requested)
{
    b->used = 1;
    b->requested = requested;
    vram__caching_map_put(&c->live, b);
    c->live_allocs++;
    c->st.allocated += b->size;
    c->st.requested += requested;
    if (c->st.allocated > c->st.peak_allocated)
        c->st.peak_allocated = c->st.allocated;
    return b;
}

/* The large pool's expandable segment grows down (caching_grow.c) where
 * PyTorch's grows up: mirrored, a block is carved from its top so that the free
 * rest lies at the growing end, where new pages merge with it as PyTorch's do
 * (alignments up to 512 B only: every block start and size is a multiple). */
static int carve_from_top(const caching_heap *c, const caching_block *b, uint64_t align)
{
    return b->segment->expandable && b->segment->pool == CACHING_LARGE &&
           align <= CACHING_MIN_BLOCK && c->opt.expandable_segments;
}

caching_block *vram__caching_take(caching_heap *c, caching_block *b, uint64_t rsize,
                                  uint64_t align, uint64_t requested)
{
    vram__caching_pool_remove(&c->pools[b->segment->pool], b);
    uint64_t pad = vram__align_up(b->offset, align) - b->offset;
    if (carve_from_top(c, b, align)) {
        if (should_split(c, b, rsize)) {
            caching_block *front = b;
            b = split_at(c, front, front->size - rsize);
            vram__caching_index(c, front);
        }
    } else {
        if (pad) {
            caching_block *front = b;
            b = split_at(c, front, pad);
            vram__caching_index(c, front);
        }
        if (should_split(c, b, rsize))
            vram__caching_index(c, split_at(c, b, rsize));
    }
    return mark_used(c, b, requested);
}

caching_block *vram__caching_take_at(caching_heap *c, caching_block *b, uint64_t offset,
                                     uint64_t bsize, uint64_t requested)
{
    vram__caching_pool_remove(&c->pools[b->segment->pool], b);
    if (offset > b->offset) {
        caching_block *front = b;
        b = split_at(c, front, offset - front->offset);
        vram__caching_index(c, front);
    }
    if (b->size > bsize)
        vram__caching_index(c, split_at(c, b, bsize));
    return mark_used(c, b, requested);
}

/* b always has a block before it: the one it was merged into (put_back). */
static void unlink_block(caching_block *b)
{
    b->prev->next = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        b->segment->last = b->prev;
    free(b);
}

void vram__caching_put_back(caching_heap *c, caching_block *b)
{
    caching_pool *p = &c->pools[b->segment->pool];
    vram__caching_map_del(&c->live, b->offset);
    c->live_allocs--;
    c->st.allocated -= b->size;
    c->st.requested -= b->requested;
    b->used = 0;
    b->requested = 0;
    caching_block *prev = b->prev, *next = b->next;
    if (prev && !prev->used) {
        vram__caching_pool_remove(p, prev);
        prev->size += b->size;
        unlink_block(b);
        b = prev;
    }
    if (next && !next->used) {
        vram__caching_pool_remove(p, next);
        b->size += next->size;
        unlink_block(next);
    }
    vram__caching_index(c, b);
}
