/* heap_pool.c - the "pool" policy: fixed-size blocks (a paged KV cache), with
 * reference counts so that a block shared by several sequences (a common
 * prompt prefix) returns to the pool with its last reference.
 *
 * Block i is [i * B, (i + 1) * B) for the block size B; the pool manages
 * capacity / B whole blocks (a remainder below one block is kept and counts
 * towards the next grow). Per-block records exist only up to the high-water
 * mark, so a pool over a huge range costs memory in proportion to what was used.
 *
 * Costs and failures of the entries:
 *   - create: O(1). VRAM_EINVAL if B is not a multiple of the minimum alignment,
 *     the range holds no whole block, or more than 2^32 - 2 blocks.
 *   - alloc: O(1) amortised (the records grow by doubling). VRAM_EINVAL if the
 *     size exceeds B, or if the alignment exceeds the alignment every block
 *     start has (the largest power of two dividing B): such a request is refused
 *     even when some block happens to be aligned, so the answer never depends on
 *     which blocks are free. VRAM_ENOMEM when every block is used, VRAM_ENOHOST
 *     if the records cannot grow. Freed blocks are reused first (the most
 *     recently freed first), then the lowest never-used block.
 *   - free: drops one reference; O(1) amortised (freeing the highest used block
 *     lowers the high-water mark past any free blocks below it, each once).
 *     VRAM_ENOTFOUND for an offset that is not a block start in the range or a
 *     block never used, VRAM_EDOUBLEFREE for a block with no reference.
 *   - free_batch: one reference per offset (an offset may repeat up to its
 *     references), O(n) amortised; every offset is validated before anything
 *     is released, so on failure nothing changed.
 *   - retain: adds a reference, O(1); VRAM_ENOTFOUND for an offset that is
 *     not a live block, VRAM_EOVERFLOW at 2^32 - 1 references.
 *   - grow: O(1); whole blocks become available once the range covers them.
 *     VRAM_EOVERFLOW if the range would hold more than 2^32 - 2 blocks.
 *   - stats O(1); walk and check O(high-water mark). */
#include <stdlib.h>

#include "heap_internal.h"

#define POOL_DEFAULT_BLOCK (UINT64_C(2) << 20)
#define NIL UINT32_MAX
#define POOL_MAX_BLOCKS (UINT32_MAX - 1u)

/* Invariants (kept by alloc, free and grow below):
 *  - blocks [hwm, nblocks) are free and on no list; block hwm - 1, if any, is
 *    used, so the footprint (the end of the highest used block) is hwm * B;
 *  - a block below hwm is used iff refs > 0; the free ones are exactly the
 *    members of the doubly linked free list (prev/next), each once;
 *  - req of a used block is in [1, B]; 0 for a free one. */
typedef struct pool_block {
    uint64_t req;
    uint32_t refs;
    uint32_t prev, next; /* free list links; meaningless for used blocks */
} pool_block;

typedef struct pool {
    uint64_t bsize;          /* B */
    uint64_t block_align;    /* the largest power of two dividing B */
    uint64_t range;          /* bytes of the range, whole blocks or not */
    uint32_t nblocks;        /* range / B */
    uint32_t hwm;
    uint32_t free_head;      /* the free list below hwm, most recently freed first */
    uint32_t free_count;     /* members of the free list */
    uint32_t live;
    uint32_t cap;            /* records allocated */
    uint64_t requested, peak_live, peak_hwm;
    pool_block *blocks;
} pool;

static vram_status pool_create(const vram_heap_config *cfg, void **impl)
{
    uint64_t b = cfg->block_size ? cfg->block_size : POOL_DEFAULT_BLOCK;
    if (b % cfg->min_align || cfg->capacity / b == 0 || cfg->capacity / b > POOL_MAX_BLOCKS)
        return VRAM_EINVAL;
    pool *p = calloc(1, sizeof *p);
    if (!p)
        return VRAM_ENOHOST;
    p->bsize = b;
    p->block_align = b & -b;
    p->range = cfg->capacity;
    p->nblocks = (uint32_t)(cfg->capacity / b);
    p->free_head = NIL;
    *impl = p;
    return VRAM_OK;
}

static void pool_destroy(void *impl)
{
    pool *p = impl;
    free(p->blocks);
    free(p);
}

static void free_list_push(pool *p, uint32_t i)
{
    pool_block *b = &p->blocks[i];
    b->prev = NIL;
    b->next = p->free_head;
    if (p->free_head != NIL)
        p->blocks[p->free_head].prev = i;
    p->free_head = i;
    p->free_count++;
}

static void free_list_remove(pool *p, uint32_t i)
{
    pool_block *b = &p->blocks[i];
    if (b->prev != NIL)
        p->blocks[b->prev].next = b->next;
    else
        p->free_head = b->next;
    if (b->next != NIL)
        p->blocks[b->next].prev = b->prev;
    p->free_count--;
}

static vram_status pool_alloc(void *impl, uint64_t size, uint64_t align, uint64_t *offset)
{
    pool *p = impl;
    if (size > p->bsize || align > p->block_align)
        return VRAM_EINVAL;
    uint32_t i;
    if (p->free_head != NIL) {
        i = p->free_head;
        free_list_remove(p, i);
    } else {
        if (p->hwm == p->nblocks)
            return VRAM_ENOMEM;
        if (p->hwm == p->cap) {
            uint64_t cap = p->cap ? (uint64_t)p->cap * 2 : 64;
            if (cap > p->nblocks)
                cap = p->nblocks;
            pool_block *grown = realloc(p->blocks, (size_t)cap * sizeof *grown);
            if (!grown)
                return VRAM_ENOHOST;
            p->blocks = grown;
            p->cap = (uint32_t)cap;
        }
        i = p->hwm++;
        if (p->hwm > p->peak_hwm)
            p->peak_hwm = p->hwm;
    }
    p->blocks[i].refs = 1;
    p->blocks[i].req = size;
    p->live++;
    if (p->live > p->peak_live)
        p->peak_live = p->live;
    p->requested += size;
    *offset = (uint64_t)i * p->bsize;
    return VRAM_OK;
}

/* The block index of a live block at `offset`, or the reason there is none. */
static vram_status pool_lookup(const pool *p, uint64_t offset, uint32_t *out)
{
    if (offset % p->bsize || offset / p->bsize >= p->hwm)
        return VRAM_ENOTFOUND;
    *out = (uint32_t)(offset / p->bsize);
    return p->blocks[*out].refs ? VRAM_OK : VRAM_EDOUBLEFREE;
}

/* Returns block i, whose last reference went, to the free list. */
static void release(pool *p, uint32_t i)
{
    p->live--;
    p->requested -= p->blocks[i].req;
    p->blocks[i].req = 0;
    free_list_push(p, i);
}

/* Restores the high-water invariant after releases: lowers hwm past the free
 * blocks at the top, taking each off the free list. Amortised O(1): a block
 * leaves the list this way at most once per release. */
static void trim(pool *p)
{
    while (p->hwm && p->blocks[p->hwm - 1].refs == 0)
        free_list_remove(p, --p->hwm);
}

static vram_status pool_free(void *impl, uint64_t offset)
{
    pool *p = impl;
    uint32_t i;
    vram_status st = pool_lookup(p, offset, &i);
    if (st)
        return st;
    if (--p->blocks[i].refs == 0) {
        release(p, i);
        trim(p);
    }
    return VRAM_OK;
}

/* Drops one reference per offset (an offset may appear as often as it has
 * references). All are validated first by dropping the references and
 * restoring them on failure, so a failed batch changes nothing. */
static vram_status pool_free_batch(void *impl, size_t n, const uint64_t *offsets)
{
    pool *p = impl;
    vram_status st = VRAM_OK;
    size_t k = 0;
    for (; k < n; k++) {
        uint32_t i;
        st = pool_lookup(p, offsets[k], &i);
        if (st)
            break;
        p->blocks[i].refs--;
    }
    if (st) {
        while (k--)
            p->blocks[offsets[k] / p->bsize].refs++;
        return st;
    }
    /* A used block's req is never 0, so req tells a block not yet released. */
    for (k = 0; k < n; k++) {
        uint32_t i = (uint32_t)(offsets[k] / p->bsize);
        if (p->blocks[i].refs == 0 && p->blocks[i].req)
            release(p, i);
    }
    trim(p);
    return VRAM_OK;
}

static vram_status pool_retain(void *impl, uint64_t offset)
{
    pool *p = impl;
    uint32_t i;
    vram_status st = pool_lookup(p, offset, &i);
    if (st)
        return st == VRAM_EDOUBLEFREE ? VRAM_ENOTFOUND : st;
    if (p->blocks[i].refs == UINT32_MAX)
        return VRAM_EOVERFLOW;
    p->blocks[i].refs++;
    return VRAM_OK;
}

static vram_status pool_grow(void *impl, uint64_t bytes)
{
    pool *p = impl;
    if ((p->range + bytes) / p->bsize > POOL_MAX_BLOCKS)
        return VRAM_EOVERFLOW;
    p->range += bytes;
    p->nblocks = (uint32_t)(p->range / p->bsize);
    return VRAM_OK;
}

static void pool_stats(const void *impl, vram_heap_stats *out)
{
    const pool *p = impl;
    out->capacity = (uint64_t)p->nblocks * p->bsize;
    out->in_use = (uint64_t)p->live * p->bsize;
    out->requested = p->requested;
    out->free = out->capacity - out->in_use;
    out->largest_free = p->live < p->nblocks ? p->bsize : 0;
    out->free_blocks = p->nblocks - p->live;
    out->live_allocs = p->live;
    out->peak_in_use = p->peak_live * p->bsize;
    out->footprint = (uint64_t)p->hwm * p->bsize;
    out->peak_footprint = p->peak_hwm * p->bsize;
}

/* Every block in address order; the never-used blocks above the high-water
 * mark one by one, as they are separate blocks too. */
static vram_status pool_walk(const void *impl, vram_walk_fn fn, void *ctx)
{
    const pool *p = impl;
    for (uint32_t i = 0; i < p->nblocks; i++) {
        const pool_block *b = i < p->hwm ? &p->blocks[i] : NULL;
        vram_block_info info = {(uint64_t)i * p->bsize, p->bsize, b ? b->req : 0,
                                b ? b->refs : 0, b && b->refs};
        if (fn(&info, ctx))
            break;
    }
    return VRAM_OK;
}

static uint64_t pool_max_alloc(const void *impl)
{
    const pool *p = impl;
    return p->live < p->nblocks ? p->bsize : 0;
}

static vram_status pool_check(const void *impl, char *msg, size_t len)
{
    const pool *p = impl;
    uint64_t live = 0, requested = 0;
    if (p->hwm > p->nblocks || p->hwm > p->cap)
        return vram__violation(msg, len, "high-water mark %u above %u blocks (%u records)",
                               p->hwm, p->nblocks, p->cap);
    if (p->hwm && p->blocks[p->hwm - 1].refs == 0)
        return vram__violation(msg, len, "block %u at the high-water mark is free", p->hwm - 1);
    for (uint32_t i = 0; i < p->hwm; i++) {
        const pool_block *b = &p->blocks[i];
        if (b->refs) {
            if (b->req == 0 || b->req > p->bsize)
                return vram__violation(msg, len, "block %u: requested %llu of %llu bytes", i,
                                       (unsigned long long)b->req,
                                       (unsigned long long)p->bsize);
            live++;
            requested += b->req;
        } else if (b->req) {
            return vram__violation(msg, len, "free block %u: requested %llu", i,
                                   (unsigned long long)b->req);
        }
    }
    /* Consistent back links and a bounded length mean no block is listed twice. */
    uint32_t listed = 0, prev = NIL;
    for (uint32_t i = p->free_head; i != NIL; prev = i, i = p->blocks[i].next) {
        if (i >= p->hwm)
            return vram__violation(msg, len, "free list holds block %u above the mark %u", i,
                                   p->hwm);
        if (++listed > p->hwm - live)
            return vram__violation(msg, len, "free list longer than the %llu free blocks",
                                   (unsigned long long)(p->hwm - live));
        if (p->blocks[i].refs)
            return vram__violation(msg, len, "free list holds block %u with %u references", i,
                                   p->blocks[i].refs);
        if (p->blocks[i].prev != prev)
            return vram__violation(msg, len, "free list: back link of block %u broken", i);
    }
    if (listed != p->hwm - live || listed != p->free_count)
        return vram__violation(msg, len, "free list holds %u blocks, %llu free below the mark",
                               listed, (unsigned long long)(p->hwm - live));
    if (live != p->live || requested != p->requested)
        return vram__violation(msg, len,
                               "counters disagree with a walk: live %u/%llu requested %llu/%llu",
                               p->live, (unsigned long long)live,
                               (unsigned long long)p->requested, (unsigned long long)requested);
    if (p->peak_live < p->live || p->peak_hwm < p->hwm)
        return vram__violation(msg, len, "a peak is below its current value");
    return VRAM_OK;
}

/* The peaks are kept in blocks: bytes round down to whole blocks. */
static void pool_restore_peaks(void *impl, uint64_t peak_in_use, uint64_t peak_footprint)
{
    pool *p = impl;
    uint64_t live = peak_in_use / p->bsize, hwm = peak_footprint / p->bsize;
    p->peak_live = live > p->live ? live : p->live;
    p->peak_hwm = hwm > p->hwm ? hwm : p->hwm;
}

const vram_heap_ops vram__heap_pool_ops = {
    .name = "pool",
    .create = pool_create,
    .destroy = pool_destroy,
    .alloc = pool_alloc,
    .free = pool_free,
    .free_batch = pool_free_batch,
    .grow = pool_grow,
    .stats = pool_stats,
    .walk = pool_walk,
    .check = pool_check,
    .retain = pool_retain,
    .max_alloc = pool_max_alloc,
    .restore_peaks = pool_restore_peaks,
};
