/* caching_grow.c - more memory for a pool: a new segment (cudaMalloc of
 * PyTorch's allocation size), or more pages of the pool's expandable segment.
 * Host memory comes from the spares caching_alloc obtained first. */
#include "caching_internal.h"

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

/* A new segment of exactly `size` bytes, free and indexed (cudaMalloc). */
static vram_status segment_of(caching_heap *c, int pool, uint64_t size, uint64_t align,
                              caching_block **out)
{
    uint64_t base;
    uint64_t salign = align > CACHING_ROUND_LARGE ? align : CACHING_ROUND_LARGE;
    vram_status st = vram__caching_space_take(c, size, salign, &base);
    if (st)
        return st;
    caching_segment *s = new_segment_at(c, pool, base);
    caching_block *b = vram__caching_spare(c);
    b->offset = base;
    b->size = size;
    b->segment = s;
    s->size = size;
    s->first = s->last = b;
    vram__caching_index(c, b);
    count_reserved(c, size);
    c->st.segment_allocs++;
    c->st.segment_alloc_bytes += size;
    *out = b;
    return VRAM_OK;
}

static vram_status fresh_segment(caching_heap *c, int pool, uint64_t rsize, uint64_t align,
                                 caching_block **out)
{
    return segment_of(c, pool, segment_size(rsize), align, out);
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
    caching_block *tail = s && !s->last->used ? s->last : NULL;
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
        tail = vram__caching_spare(c);
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
    vram__caching_index(c, tail);
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
    caching_block *head = s && !s->first->used ? s->first : NULL;
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
        head = vram__caching_spare(c);
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
    vram__caching_index(c, head);
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

vram_status vram__caching_seed_segment(caching_heap *c, int pool, uint64_t size,
                                       caching_block **out)
{
    return segment_of(c, pool, size, CACHING_ROUND_LARGE, out);
}

vram_status vram__caching_seed(caching_heap *c, int pool, uint64_t size)
{
    caching_block *b;
    if (c->opt.expandable_segments)
        return pool == CACHING_SMALL ? grow_up(c, size, CACHING_MIN_BLOCK, &b)
                                     : grow_down(c, size, CACHING_MIN_BLOCK, &b);
    return segment_of(c, pool, size, CACHING_ROUND_LARGE, &b);
}
