/* heap_caching.c - the "caching" heap policy: PyTorch's CUDA caching allocator
 * (rules in vram/caching.h) over the offsets [0, capacity).
 *
 * An allocation follows PyTorch's malloc: best fit in the request's pool; if
 * none, the garbage collector (with a gc_threshold), then a new segment; if the
 * range has no room, oversize cached segments are released (with a
 * max_split_size) and then every cached segment, retrying after each. A free
 * caches the block merged with its free neighbours; segments stay reserved.
 *
 * The one exception to "a failed call leaves the heap unchanged": an
 * allocation that ends in VRAM_ENOMEM may have released cached segments on the
 * way, as PyTorch does; used blocks never change. */
#include <stdlib.h>

#include "caching_internal.h"

static void caching_destroy(void *impl)
{
    caching_heap *c = impl;
    for (size_t i = 0; i < c->nsegs; i++) {
        caching_block *b = c->segs[i]->first;
        while (b) {
            caching_block *next = b->next;
            free(b);
            b = next;
        }
        free(c->segs[i]);
    }
    free(c->segs);
    vram_heap_destroy(c->space);
    vram__caching_map_fini(&c->live);
    for (size_t i = 0; i < sizeof c->spare / sizeof c->spare[0]; i++)
        free(c->spare[i]);
    free(c->spare_seg);
    free(c);
}

/* Options: max_split_size 0 (unlimited) or at least 20 MiB (PyTorch raises
 * smaller values to 20 MiB; we refuse them); gc_threshold in [0, 1). */
static vram_status caching_create(const vram_heap_config *cfg, void **impl)
{
    vram_caching_options opt = {0};
    if (cfg->caching)
        opt = *cfg->caching;
    if (opt.max_split_size && opt.max_split_size < CACHING_LARGE_SEGMENT)
        return VRAM_EINVAL;
    if (!(opt.gc_threshold >= 0.0 && opt.gc_threshold < 1.0))
        return VRAM_EINVAL;
    if (!opt.max_split_size)
        opt.max_split_size = UINT64_MAX;
    opt.expandable_segments = opt.expandable_segments != 0;
    caching_heap *c = calloc(1, sizeof *c);
    if (!c)
        return VRAM_ENOHOST;
    c->capacity = cfg->capacity;
    c->opt = opt;
    c->pools[CACHING_LARGE].mirrored = opt.expandable_segments;
    vram_status st = vram__caching_space_init(c);
    if (st) {
        free(c);
        return st;
    }
    *impl = c;
    return VRAM_OK;
}

/* Obtains all host memory an allocation may need before anything changes. */
static vram_status prepare(caching_heap *c)
{
    for (size_t i = 0; i < sizeof c->spare / sizeof c->spare[0]; i++)
        if (!c->spare[i] && !(c->spare[i] = malloc(sizeof *c->spare[i])))
            return VRAM_ENOHOST;
    if (!c->spare_seg && !(c->spare_seg = malloc(sizeof *c->spare_seg)))
        return VRAM_ENOHOST;
    if (vram__caching_seg_reserve(c) || vram__caching_map_reserve(&c->live, 1))
        return VRAM_ENOHOST;
    return VRAM_OK;
}

/* PyTorch's round_size: at least 512 B, a multiple of 512 B. */
static uint64_t round_size(uint64_t size) { return vram__align_up(size, CACHING_MIN_BLOCK); }

static vram_status caching_alloc(void *impl, uint64_t size, uint64_t align, uint64_t *offset)
{
    caching_heap *c = impl;
    uint64_t rsize = round_size(size);
    int pool = rsize <= CACHING_SMALL_SIZE ? CACHING_SMALL : CACHING_LARGE;
    vram_status st = prepare(c);
    if (st)
        return st;
    caching_block *b = vram__caching_find_free(c, pool, rsize, align);
    if (b) {
        c->st.cache_hits++;
    } else {
        vram__caching_gc(c);
        st = vram__caching_reserve_more(c, pool, rsize, align, &b);
        if (st == VRAM_ENOMEM && vram__caching_release_oversize(c, pool, rsize))
            st = vram__caching_reserve_more(c, pool, rsize, align, &b);
        if (st == VRAM_ENOMEM) {
            /* Always retried, as PyTorch does: the release of oversize
             * segments above may have freed room without reporting success. */
            c->st.alloc_retries++;
            vram__caching_release_all(c);
            st = vram__caching_reserve_more(c, pool, rsize, align, &b);
        }
        if (st) {
            c->st.ooms += st == VRAM_ENOMEM;
            return st;
        }
    }
    *offset = vram__caching_take(c, b, rsize, align, size)->offset;
    return VRAM_OK;
}

/* Tells a block freed before (the start of a cached block) from an unknown offset. */
static vram_status not_live(const caching_heap *c, uint64_t offset)
{
    size_t i = vram__caching_seg_find(c, offset);
    if (i == c->nsegs)
        return VRAM_ENOTFOUND;
    for (const caching_block *b = c->segs[i]->first; b && b->offset <= offset; b = b->next)
        if (b->offset == offset)
            return VRAM_EDOUBLEFREE;
    return VRAM_ENOTFOUND;
}

static vram_status caching_free(void *impl, uint64_t offset)
{
    caching_heap *c = impl;
    caching_block *b = vram__caching_map_get(&c->live, offset);
    if (!b)
        return not_live(c, offset);
    vram__caching_put_back(c, b);
    return VRAM_OK;
}

/* Every offset must be a distinct live block; then all are freed. */
static vram_status caching_free_batch(void *impl, size_t n, const uint64_t *offsets)
{
    caching_heap *c = impl;
    for (size_t i = 0; i < n; i++) {
        if (!vram__caching_map_get(&c->live, offsets[i]))
            return not_live(c, offsets[i]);
        for (size_t j = 0; j < i; j++)
            if (offsets[j] == offsets[i])
                return VRAM_EDOUBLEFREE;
    }
    for (size_t i = 0; i < n; i++)
        vram__caching_put_back(c, vram__caching_map_get(&c->live, offsets[i]));
    return VRAM_OK;
}

/* More range: room for more segments. The large expandable segment keeps the
 * end it was created with. */
static vram_status caching_grow(void *impl, uint64_t bytes)
{
    caching_heap *c = impl;
    vram_status st = vram__caching_space_grow(c, bytes);
    if (st)
        return st;
    c->capacity += bytes;
    return VRAM_OK;
}

static uint64_t largest_cached(const caching_heap *c, int pool)
{
    const caching_pool *p = &c->pools[pool];
    const caching_block *b = vram__caching_pool_last(p);
    return b ? b->size : 0;
}

static uint64_t cached_blocks(const caching_heap *c)
{
    return c->pools[CACHING_SMALL].free.count + c->pools[CACHING_LARGE].free.count;
}

/* The largest stretch of the range no segment covers, and how many there are. */
static uint64_t largest_gap(const caching_heap *c, uint64_t *gaps)
{
    uint64_t best = 0, at = 0;
    *gaps = 0;
    for (size_t i = 0; i <= c->nsegs; i++) {
        uint64_t end = i < c->nsegs ? c->segs[i]->base : c->capacity;
        if (end > at) {
            ++*gaps;
            if (end - at > best)
                best = end - at;
        }
        if (i < c->nsegs)
            at = c->segs[i]->base + c->segs[i]->size;
    }
    return best;
}

/* largest_free and free_blocks count what walk reports as free: cached blocks
 * and unreserved gaps alike (vram_caching_stats has the cached ones alone). */
static void caching_stats(const void *impl, vram_heap_stats *out)
{
    const caching_heap *c = impl;
    uint64_t gaps, gap = largest_gap(c, &gaps);
    uint64_t ls = largest_cached(c, CACHING_SMALL), ll = largest_cached(c, CACHING_LARGE);
    uint64_t cached = ls > ll ? ls : ll;
    *out = (vram_heap_stats){
        .capacity = c->capacity,
        .in_use = c->st.allocated,
        .requested = c->st.requested,
        .free = c->capacity - c->st.allocated,
        .largest_free = cached > gap ? cached : gap,
        .free_blocks = cached_blocks(c) + gaps,
        .live_allocs = c->live_allocs,
        .peak_in_use = c->st.peak_allocated,
        .footprint = c->st.reserved,
        .peak_footprint = c->st.peak_reserved,
    };
}

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* The largest request a new segment of at most `room` bytes can serve. */
static uint64_t fresh_request(uint64_t room)
{
    uint64_t a = room / CACHING_ROUND_LARGE * CACHING_ROUND_LARGE;
    if (a >= CACHING_MIN_LARGE_ALLOC)
        return a;
    return a >= CACHING_SMALL_SEGMENT ? CACHING_SMALL_SIZE : 0;
}

/* Segments: the longest run of gaps and whole free segments (what a release
 * of all cached segments would leave free). */
static uint64_t max_fresh(const caching_heap *c)
{
    uint64_t best = 0, run_start = 0;
    for (size_t i = 0; i < c->nsegs; i++) {
        const caching_segment *s = c->segs[i];
        if (!s->first->used && !s->first->next)
            continue;
        best = max_u64(best, fresh_request(s->base - run_start));
        run_start = s->base + s->size;
    }
    return max_u64(best, fresh_request(c->capacity - run_start));
}

/* Expandable: what each pool could map once release_all() had unmapped the
 * free pages at both growing ends (growth only gains from that release, so it
 * decides). A large segment that is wholly free is dropped by the release, and
 * the next one starts from the top of the capacity as it is now (grown since,
 * perhaps), not from the old segment's end. */
static uint64_t max_expand(const caching_heap *c)
{
    const caching_segment *s = c->pools[CACHING_SMALL].expandable;
    const caching_segment *l = c->pools[CACHING_LARGE].expandable;
    /* the small pool: a request starts at its free tail (or end), which stays */
    uint64_t start = s ? (s->last->used ? s->base + s->size : s->last->offset) : 0;
    uint64_t small_end = vram__caching_round_up(start, CACHING_SMALL_SEGMENT); /* once released */
    /* the large pool: its head ends at head_end, its pages start at base */
    uint64_t top = c->capacity / CACHING_ROUND_LARGE * CACHING_ROUND_LARGE;
    uint64_t head_end = top, base = top, limit = c->capacity;
    if (l && (l->first->used || l->first->next)) { /* it stays, its pages above head_end too */
        top = l->base + l->size;
        head_end = l->first->used ? l->base : l->first->offset + l->first->size;
        base = top - vram__caching_round_up(top - head_end, CACHING_LARGE_SEGMENT);
        limit = base;
    }
    uint64_t pages = (base - small_end) / CACHING_LARGE_SEGMENT; /* that fit below base */
    uint64_t large = head_end - (base - pages * CACHING_LARGE_SEGMENT);
    uint64_t room = limit / CACHING_SMALL_SEGMENT * CACHING_SMALL_SEGMENT;
    uint64_t small = room > start ? room - start : 0;
    if (small > CACHING_SMALL_SIZE)
        small = CACHING_SMALL_SIZE;
    return max_u64(small, large > CACHING_SMALL_SIZE ? large : 0);
}

/* The largest request alloc() serves now, exactly (for alignments up to
 * 512 B, the block granularity): that request succeeds and every larger one
 * fails with VRAM_ENOMEM. It comes from a cached block, or from new memory
 * after the release of every cached segment, alloc()'s last retry, which
 * serves all that an earlier try would. Smaller requests may still fail (a
 * 1-10 MiB one needs a 20 MiB segment). O(segments). */
static uint64_t caching_max_alloc(const void *impl)
{
    const caching_heap *c = impl;
    uint64_t best = largest_cached(c, CACHING_SMALL);
    if (best > CACHING_SMALL_SIZE)
        best = CACHING_SMALL_SIZE;
    uint64_t large = largest_cached(c, CACHING_LARGE);
    if (large > CACHING_SMALL_SIZE)
        best = max_u64(best, large);
    return max_u64(best, c->opt.expandable_segments ? max_expand(c) : max_fresh(c));
}

static void caching_restore_peaks(void *impl, uint64_t peak_in_use, uint64_t peak_footprint)
{
    caching_heap *c = impl;
    c->st.peak_allocated = peak_in_use > c->st.allocated ? peak_in_use : c->st.allocated;
    c->st.peak_reserved = peak_footprint > c->st.reserved ? peak_footprint : c->st.reserved;
}

const vram_heap_ops vram__heap_caching_ops = {
    .name = "caching",
    .create = caching_create,
    .destroy = caching_destroy,
    .alloc = caching_alloc,
    .free = caching_free,
    .free_batch = caching_free_batch,
    .grow = caching_grow,
    .stats = caching_stats,
    .walk = vram__caching_walk,
    .check = vram__caching_check,
    .max_alloc = caching_max_alloc,
    .restore_peaks = caching_restore_peaks,
};

/* The caching state behind a heap of this policy, else NULL (caching_create
 * never leaves a NULL state): the O(1) policy check of the calls below, which
 * return VRAM_EMISMATCH on NULL. h must not be NULL. */
static caching_heap *caching_of(const vram_heap *h)
{
    return vram__heap_impl_of(h, &vram__heap_caching_ops);
}

vram_status vram_heap_caching_seed(vram_heap *h, uint64_t size, int large)
{
    if (!h || !size || size % CACHING_MIN_BLOCK)
        return VRAM_EINVAL;
    caching_heap *c = caching_of(h);
    if (!c)
        return VRAM_EMISMATCH;
    if (!c->opt.expandable_segments && size % CACHING_ROUND_LARGE)
        return VRAM_EINVAL;
    vram_status st = prepare(c);
    return st ? st : vram__caching_seed(c, large ? CACHING_LARGE : CACHING_SMALL, size);
}

vram_status vram_heap_caching_seed_segment(vram_heap *h, uint64_t size, int large, size_t n,
                                           const uint64_t *at, const uint64_t *block_size,
                                           const uint64_t *requested, uint64_t *offsets)
{
    if (!h || !size || size % CACHING_ROUND_LARGE || (n && (!at || !block_size || !requested ||
                                                            !offsets)))
        return VRAM_EINVAL;
    caching_heap *c = caching_of(h);
    if (!c)
        return VRAM_EMISMATCH;
    if (c->opt.expandable_segments)
        return VRAM_EINVAL;
    uint64_t end = 0; /* the blocks: in order, aligned, inside, not overlapping */
    for (size_t i = 0; i < n; i++) {
        if (at[i] < end || !block_size[i] || block_size[i] % CACHING_MIN_BLOCK ||
            at[i] % CACHING_MIN_BLOCK || block_size[i] > size || at[i] > size - block_size[i] ||
            !requested[i] || requested[i] > block_size[i])
            return VRAM_EINVAL;
        end = at[i] + block_size[i];
    }
    vram_status st = prepare(c);
    caching_block *b = NULL;
    if (!st)
        st = vram__caching_seed_segment(c, large ? CACHING_LARGE : CACHING_SMALL, size, &b);
    const uint64_t base = b ? b->offset : 0;
    for (size_t i = 0; i < n && !st; i++) {
        /* the last block is the free rest, which holds the next used one */
        if ((st = prepare(c)))
            break;
        caching_block *f = b->segment->last;
        offsets[i] = vram__caching_take_at(c, f, base + at[i], block_size[i], requested[i])->offset;
    }
    return st; /* after a failure of host memory the blocks placed so far stay */
}

vram_status vram_heap_caching_empty_cache(vram_heap *h)
{
    if (!h)
        return VRAM_EINVAL;
    caching_heap *c = caching_of(h);
    if (!c)
        return VRAM_EMISMATCH;
    vram__caching_release_all(c);
    return VRAM_OK;
}

vram_status vram_heap_caching_stats(const vram_heap *h, vram_caching_stats *out)
{
    if (!h || !out)
        return VRAM_EINVAL;
    const caching_heap *c = caching_of(h);
    if (!c)
        return VRAM_EMISMATCH;
    *out = c->st;
    out->reserved_unallocated = c->st.reserved - c->st.allocated;
    uint64_t ls = largest_cached(c, CACHING_SMALL), ll = largest_cached(c, CACHING_LARGE);
    out->largest_cached = ls > ll ? ls : ll;
    out->cached_blocks = cached_blocks(c);
    return VRAM_OK;
}

vram_status vram_heap_caching_reserved(const vram_heap *h, uint64_t *reserved, uint64_t *allocated)
{
    if (!h || !reserved || !allocated)
        return VRAM_EINVAL;
    const caching_heap *c = caching_of(h);
    if (!c)
        return VRAM_EMISMATCH;
    *reserved = c->st.reserved;
    *allocated = c->st.allocated;
    return VRAM_OK;
}
