/* caching_blocks.c - the caching policy's block rules: best fit within a pool,
 * splitting, merging on free, and getting more memory (a new segment, or more
 * pages of an expandable segment). Host memory comes from the spares that
 * caching_alloc obtained first, so nothing here can fail half-way. */
#include <stdlib.h>

#include "caching_internal.h"

static caching_block *take_spare(caching_heap *c)
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

static void index_block(caching_heap *c, caching_block *b)
{
    vram__caching_pool_insert(&c->pools[b->segment->pool], b);
}

/* Cuts b at `at` bytes; the new block after the cut is returned, free and not indexed. */
static caching_block *split_at(caching_heap *c, caching_block *b, uint64_t at)
{
    caching_block *n = take_spare(c);
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

caching_block *vram__caching_find_free(caching_heap *c, int pool, uint64_t rsize, uint64_t align)
{
    caching_pool *p = &c->pools[pool];
    uint64_t ms = c->opt.max_split_size;
    p->searches++;
    for (caching_block *b = vram__caching_pool_lower_bound(p, rsize); b;
         b = vram__caching_pool_next(b)) {
        if (!fits(b, rsize, align))
            continue;
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

caching_block *vram__caching_take(caching_heap *c, caching_block *b, uint64_t rsize,
                                  uint64_t align, uint64_t requested)
{
    vram__caching_pool_remove(&c->pools[b->segment->pool], b);
    uint64_t pad = vram__align_up(b->offset, align) - b->offset;
    if (pad) {
        caching_block *front = b;
        b = split_at(c, front, pad);
        index_block(c, front);
    }
    if (should_split(c, b, rsize))
        index_block(c, split_at(c, b, rsize));
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

static void unlink_block(caching_block *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        b->segment->first = b->next;
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
    index_block(c, b);
}

static void count_reserved(caching_heap *c, uint64_t bytes)
{
    c->st.reserved += bytes;
    if (c->st.reserved > c->st.peak_reserved)
        c->st.peak_reserved = c->st.reserved;
}

/* PyTorch's get_allocation_size: what one new segment holds for a request. */
static uint64_t segment_size(uint64_t rsize)
{
    if (rsize <= CACHING_SMALL_SIZE)
        return CACHING_SMALL_SEGMENT;
    if (rsize < CACHING_MIN_LARGE_ALLOC)
        return CACHING_LARGE_SEGMENT;
    return vram__align_up(rsize, CACHING_ROUND_LARGE);
}

static caching_segment *new_segment_at(caching_heap *c, int pool, uint64_t base)
{
    caching_segment *s = c->spare_seg;
    c->spare_seg = NULL;
    *s = (caching_segment){.base = base, .pool = pool};
    vram__caching_seg_insert(c, s);
    if (pool == CACHING_SMALL)
        c->st.small_segments++;
    else
        c->st.large_segments++;
    c->st.segments++;
    return s;
}

static vram_status fresh_segment(caching_heap *c, int pool, uint64_t rsize, uint64_t align,
                                 caching_block **out)
{
    uint64_t size = segment_size(rsize), base;
    uint64_t salign = align > CACHING_ROUND_LARGE ? align : CACHING_ROUND_LARGE;
    vram_status st = vram__caching_space_take(c, size, salign, &base);
    if (st)
        return st;
    caching_segment *s = new_segment_at(c, pool, base);
    caching_block *b = take_spare(c);
    b->offset = base;
    b->size = size;
    b->segment = s;
    s->size = size;
    s->first = s->last = b;
    index_block(c, b);
    count_reserved(c, size);
    c->st.segment_allocs++;
    c->st.segment_alloc_bytes += size;
    *out = b;
    return VRAM_OK;
}

static void count_map(caching_heap *c, uint64_t bytes)
{
    if (!bytes)
        return;
    count_reserved(c, bytes);
    c->st.maps++;
    c->st.map_bytes += bytes;
}

/* The small pool's range starts at 0 and maps pages at its end, up to the large
 * pool's range or the capacity. */
static vram_status grow_up(caching_heap *c, uint64_t rsize, uint64_t align, caching_block **out)
{
    caching_segment *s = c->pools[CACHING_SMALL].expandable;
    caching_segment *large = c->pools[CACHING_LARGE].expandable;
    uint64_t end = s ? s->base + s->size : 0;
    caching_block *tail = s && s->last && !s->last->used ? s->last : NULL;
    uint64_t start = vram__align_up(tail ? tail->offset : end, align);
    uint64_t new_end = vram__align_up(start + rsize, CACHING_SMALL_SEGMENT);
    uint64_t limit = large ? large->base : c->capacity;
    if (new_end > limit)
        return VRAM_ENOMEM;
    if (!s) {
        s = new_segment_at(c, CACHING_SMALL, 0);
        c->pools[CACHING_SMALL].expandable = s;
        s->expandable = 1;
    }
    uint64_t grow = new_end > end ? new_end - end : 0;
    if (tail) {
        vram__caching_pool_remove(&c->pools[CACHING_SMALL], tail);
        tail->size += grow;
    } else {
        tail = take_spare(c);
        tail->offset = end;
        tail->size = grow;
        tail->segment = s;
        tail->prev = s->last;
        if (s->last)
            s->last->next = tail;
        else
            s->first = tail;
        s->last = tail;
    }
    s->size += grow;
    index_block(c, tail);
    count_map(c, grow);
    *out = tail;
    return VRAM_OK;
}

/* The large pool's range ends at the capacity rounded down to 2 MiB and maps
 * 20 MiB pages at its start, down to the small pool's range. */
static vram_status grow_down(caching_heap *c, uint64_t rsize, uint64_t align, caching_block **out)
{
    caching_segment *s = c->pools[CACHING_LARGE].expandable;
    caching_segment *small = c->pools[CACHING_SMALL].expandable;
    uint64_t top = s ? s->base + s->size : c->capacity / CACHING_ROUND_LARGE * CACHING_ROUND_LARGE;
    uint64_t base = s ? s->base : top;
    uint64_t floor = small ? small->base + small->size : 0;
    caching_block *head = s && s->first && !s->first->used ? s->first : NULL;
    uint64_t head_end = head ? head->offset + head->size : base;
    uint64_t nb = base;
    while (vram__align_up(nb, align) > head_end || head_end - vram__align_up(nb, align) < rsize) {
        if (nb < floor + CACHING_LARGE_SEGMENT)
            return VRAM_ENOMEM;
        nb -= CACHING_LARGE_SEGMENT;
    }
    if (!s) {
        s = new_segment_at(c, CACHING_LARGE, top);
        c->pools[CACHING_LARGE].expandable = s;
        s->expandable = 1;
    }
    uint64_t grow = base - nb;
    if (head) {
        vram__caching_pool_remove(&c->pools[CACHING_LARGE], head);
        head->offset = nb;
        head->size += grow;
    } else {
        head = take_spare(c);
        head->offset = nb;
        head->size = grow;
        head->segment = s;
        head->next = s->first;
        if (s->first)
            s->first->prev = head;
        else
            s->last = head;
        s->first = head;
    }
    s->base = nb;
    s->size += grow;
    index_block(c, head);
    count_map(c, grow);
    *out = head;
    return VRAM_OK;
}

vram_status vram__caching_reserve_more(caching_heap *c, int pool, uint64_t rsize, uint64_t align,
                                       caching_block **out)
{
    if (!c->opt.expandable_segments)
        return fresh_segment(c, pool, rsize, align, out);
    return pool == CACHING_SMALL ? grow_up(c, rsize, align, out) : grow_down(c, rsize, align, out);
}
