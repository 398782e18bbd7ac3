/* heap_buddy.c - the binary buddy policy ("buddy").
 *
 * The heap manages [0, 2^top_k), the largest power of two not above the
 * configured capacity; the rest of the capacity is never handed out, and
 * stats.capacity reports the managed power of two, so the unusable tail shows
 * as the difference from the configured capacity. A block of order k is 2^k
 * bytes at an offset that is a multiple of 2^k; the smallest order is that of
 * min_align. A request takes a block of order max(ceil(log2 size), min order)
 * (the rounding up shows as in_use - requested); an alignment above that size is
 * met by splitting a free block of order log2(align) or more and keeping its
 * left part, which starts at the big block's naturally aligned offset.
 *
 * Free blocks sit in one doubly linked list per order (O(1) insert and removal)
 * with a bitmap of the non-empty orders, so the smallest free block that fits
 * is one bit scan away. Every block, free or used, is in an offset index (a
 * hash map): free() finds its block and each merge step finds the buddy in
 * O(1). Address order needs no index: the block after [off, off + 2^k) starts
 * at off + 2^k. grow() doubles the managed range whenever the new capacity
 * holds the next power of two.
 *
 * A free of the right half of a block that already merged with its buddy
 * answers VRAM_ENOTFOUND (the offset is no longer a block start); a free of a
 * block start that is free answers VRAM_EDOUBLEFREE. */
#include <stdlib.h>

#include "heap_internal.h"
#include "offmap.h"
#include "slab.h"

#define BD_MAX_CAPACITY (UINT64_C(1) << 56)
#define BD_ORDERS 64

typedef struct bd_block {
    uint64_t off;
    uint64_t requested;           /* bytes asked for; 0 while free */
    struct bd_block *prev, *next; /* the free list of its order, while free */
    unsigned order;               /* the block is 2^order bytes */
    int used;
    int batch_mark; /* set while a free_batch has validated this block */
} bd_block;

/* Invariants (verified by bd_check):
 *  - blocks tile [0, 2^top_k) in offset order, each aligned to its own size;
 *  - no two free buddies of the same order: bd_insert_free merges them;
 *  - free_list[k] holds exactly the free blocks of order k, and bit k of
 *    nonempty is set exactly when free_list[k] is not empty;
 *  - by_off maps the offset of every block, and nothing else, to the block;
 *  - fp is the end of the highest used block (0 if none): raised by alloc,
 *    recomputed by bd_release when the highest used block goes;
 *  - in_use, requested, live, nfree agree with the blocks. */
typedef struct bd_heap {
    uint64_t capacity; /* configured bytes; only [0, 2^top_k) is managed */
    unsigned min_k, top_k;
    bd_block *free_list[BD_ORDERS];
    uint64_t nonempty;
    vram__offmap by_off; /* offset -> block */
    vram__slab nodes;
    uint64_t in_use, requested, live, nfree;
    uint64_t fp;
    uint64_t peak_in_use, peak_footprint;
} bd_heap;

static unsigned log2_floor(uint64_t x) { return 63u - (unsigned)__builtin_clzll(x); }
static unsigned log2_ceil(uint64_t x) { return x <= 1 ? 0 : log2_floor(x - 1) + 1; }
static uint64_t bsize(const bd_block *b) { return UINT64_C(1) << b->order; }

static bd_block *off_find(const bd_heap *h, uint64_t off)
{
    return vram__offmap_get(&h->by_off, off);
}

static void list_push(bd_heap *h, bd_block *b)
{
    bd_block **head = &h->free_list[b->order];
    b->prev = NULL;
    b->next = *head;
    if (*head)
        (*head)->prev = b;
    *head = b;
    h->nonempty |= UINT64_C(1) << b->order;
    h->nfree++;
}

static void list_remove(bd_heap *h, bd_block *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        h->free_list[b->order] = b->next;
    if (b->next)
        b->next->prev = b->prev;
    if (!h->free_list[b->order])
        h->nonempty &= ~(UINT64_C(1) << b->order);
    h->nfree--;
}

/* Makes b (not in any free list) free: merges it with its buddy while the buddy
 * is a free block of the same order, then lists and returns the result. */
static bd_block *bd_insert_free(bd_heap *h, bd_block *b)
{
    b->used = 0;
    b->requested = 0;
    b->batch_mark = 0;
    while (b->order < h->top_k) {
        bd_block *buddy = off_find(h, b->off ^ bsize(b));
        if (!buddy || buddy->used || buddy->order != b->order)
            break;
        list_remove(h, buddy);
        if (buddy->off < b->off) {
            bd_block *t = buddy;
            buddy = b;
            b = t;
        }
        vram__offmap_del(&h->by_off, buddy->off);
        vram__slab_put(&h->nodes, buddy);
        b->order++;
    }
    list_push(h, b);
    return b;
}

/* The block that ends at p > 0: the one of order k at p - 2^k, for the k with
 * 2^k dividing p that has a block there. O(orders). */
static bd_block *block_ending_at(const bd_heap *h, uint64_t p)
{
    unsigned top = (unsigned)__builtin_ctzll(p);
    for (unsigned k = h->min_k; k <= top && k <= h->top_k; k++) {
        bd_block *b = off_find(h, p - (UINT64_C(1) << k));
        if (b && b->order == k)
            return b;
    }
    return NULL; /* only with broken tiling, which bd_check reports */
}

/* The end of the highest used block below p, walking back over free blocks.
 * No two free buddies stay unmerged, so a free run holds O(orders) blocks
 * (their sizes rise, then fall): O(orders^2) lookups at worst. */
static uint64_t used_end_below(const bd_heap *h, uint64_t p)
{
    while (p) {
        const bd_block *b = block_ending_at(h, p);
        if (!b)
            break;
        if (b->used)
            return p;
        p = b->off;
    }
    return 0;
}

static vram_status bd_alloc(void *impl, uint64_t size, uint64_t align, uint64_t *offset)
{
    bd_heap *h = impl;
    if (size > UINT64_C(1) << h->top_k)
        return VRAM_EINVAL; /* vram/heap.h's contract; the wrapper does not know the capacity */
    unsigned k = log2_ceil(size);
    if (k < h->min_k)
        k = h->min_k;
    unsigned need = log2_floor(align); /* order whose blocks are aligned enough */
    if (need < k)
        need = k;
    if (need > h->top_k)
        need = h->top_k; /* offset 0, the only block of the top order, is aligned to anything */
    uint64_t fit = h->nonempty & ~((UINT64_C(1) << need) - 1);
    if (!fit)
        return VRAM_ENOMEM;
    unsigned j = (unsigned)__builtin_ctzll(fit);
    vram_status st = vram__slab_reserve(&h->nodes, j - k);
    if (!st)
        st = vram__offmap_reserve(&h->by_off, j - k);
    if (st)
        return st;
    bd_block *b = h->free_list[j];
    list_remove(h, b);
    while (b->order > k) {
        /* Keep the left half (same offset, so the alignment stays); list the right. */
        b->order--;
        bd_block *right = vram__slab_get(&h->nodes);
        *right = (bd_block){.off = b->off + bsize(b), .order = b->order};
        vram__offmap_put(&h->by_off, right->off, right);
        list_push(h, right);
    }
    b->used = 1;
    b->requested = size;
    h->in_use += bsize(b);
    h->requested += size;
    h->live++;
    if (h->in_use > h->peak_in_use)
        h->peak_in_use = h->in_use;
    uint64_t end = b->off + bsize(b);
    if (end > h->fp)
        h->fp = end;
    if (h->fp > h->peak_footprint)
        h->peak_footprint = h->fp;
    *offset = b->off;
    return VRAM_OK;
}

static void bd_release(bd_heap *h, bd_block *b)
{
    h->in_use -= bsize(b);
    h->requested -= b->requested;
    h->live--;
    int was_highest = b->off + bsize(b) == h->fp;
    b = bd_insert_free(h, b);
    if (was_highest)
        h->fp = used_end_below(h, b->off);
}

static vram_status bd_lookup_used(const bd_heap *h, uint64_t off, bd_block **out)
{
    bd_block *b = off_find(h, off);
    if (!b)
        return VRAM_ENOTFOUND;
    if (!b->used)
        return VRAM_EDOUBLEFREE;
    *out = b;
    return VRAM_OK;
}

static vram_status bd_free(void *impl, uint64_t offset)
{
    bd_heap *h = impl;
    bd_block *b;
    vram_status st = bd_lookup_used(h, offset, &b);
    if (st)
        return st;
    bd_release(h, b);
    return VRAM_OK;
}

static vram_status bd_alloc_batch(void *impl, size_t n, const uint64_t *sizes, uint64_t align,
                                  uint64_t *offsets)
{
    bd_heap *h = impl;
    uint64_t peak_in_use = h->peak_in_use, peak_footprint = h->peak_footprint;
    for (size_t i = 0; i < n; i++) {
        vram_status st = bd_alloc(h, sizes[i], align, &offsets[i]);
        if (st) {
            /* Freeing in reverse order undoes every split. */
            while (i--)
                bd_release(h, off_find(h, offsets[i]));
            h->peak_in_use = peak_in_use;
            h->peak_footprint = peak_footprint;
            return st;
        }
    }
    return VRAM_OK;
}

static vram_status bd_free_batch(void *impl, size_t n, const uint64_t *offsets)
{
    bd_heap *h = impl;
    for (size_t i = 0; i < n; i++) {
        bd_block *b;
        vram_status st = bd_lookup_used(h, offsets[i], &b);
        if (!st && b->batch_mark)
            st = VRAM_EDOUBLEFREE; /* the same offset twice in the batch */
        if (st) {
            while (i--)
                off_find(h, offsets[i])->batch_mark = 0;
            return st;
        }
        b->batch_mark = 1;
    }
    /* Merging depends only on which blocks are free, not on the order of frees. */
    for (size_t i = 0; i < n; i++)
        bd_release(h, off_find(h, offsets[i]));
    return VRAM_OK;
}

static vram_status bd_grow(void *impl, uint64_t bytes)
{
    bd_heap *h = impl;
    if (bytes > BD_MAX_CAPACITY - h->capacity)
        return VRAM_EOVERFLOW;
    unsigned new_top = log2_floor(h->capacity + bytes);
    vram_status st = vram__slab_reserve(&h->nodes, new_top - h->top_k);
    if (!st)
        st = vram__offmap_reserve(&h->by_off, new_top - h->top_k);
    if (st)
        return st;
    h->capacity += bytes;
    while (h->top_k < new_top) {
        /* The old range becomes the left half of the doubled one; its right
         * half is a new free block, merged if the whole old range is free. */
        bd_block *right = vram__slab_get(&h->nodes);
        *right = (bd_block){.off = UINT64_C(1) << h->top_k, .order = h->top_k};
        vram__offmap_put(&h->by_off, right->off, right);
        h->top_k++;
        bd_insert_free(h, right);
    }
    return VRAM_OK;
}

static uint64_t bd_largest_free(const bd_heap *h)
{
    return h->nonempty ? UINT64_C(1) << log2_floor(h->nonempty) : 0;
}

static void bd_stats(const void *impl, vram_heap_stats *out)
{
    const bd_heap *h = impl;
    uint64_t managed = UINT64_C(1) << h->top_k;
    *out = (vram_heap_stats){
        .capacity = managed,
        .in_use = h->in_use,
        .requested = h->requested,
        .free = managed - h->in_use,
        .largest_free = bd_largest_free(h),
        .free_blocks = h->nfree,
        .live_allocs = h->live,
        .peak_in_use = h->peak_in_use,
        .footprint = h->fp,
        .peak_footprint = h->peak_footprint,
    };
}

static vram_status bd_walk(const void *impl, vram_walk_fn fn, void *ctx)
{
    const bd_heap *h = impl;
    const bd_block *b;
    for (uint64_t off = 0; (b = off_find(h, off)) != NULL; off += bsize(b)) {
        vram_block_info info = {.offset = b->off,
                                .size = bsize(b),
                                .requested = b->requested,
                                .refs = b->used ? 1u : 0u,
                                .used = b->used};
        if (fn(&info, ctx))
            break;
    }
    return VRAM_OK;
}

/* Tiling, alignment, merging, per-block fields; totals for the counters
 * (in_use, requested, live, free blocks, footprint). */
static vram_status check_blocks(const bd_heap *h, char *msg, size_t len, uint64_t tot[5])
{
    uint64_t expect = 0, top = UINT64_C(1) << h->top_k, nblocks = 0;
    const bd_block *prev = NULL;
    while (expect < top) {
        const bd_block *b = off_find(h, expect);
        if (!b || b->off != expect)
            return vram__violation(msg, len,
                                   "blocks do not tile the range: no block starts at %llu",
                                   (unsigned long long)expect);
        if (b->order < h->min_k || b->order > h->top_k)
            return vram__violation(msg, len, "block at %llu has order %u outside [%u, %u]",
                                   (unsigned long long)b->off, b->order, h->min_k, h->top_k);
        if (b->off % bsize(b))
            return vram__violation(msg, len, "block at %llu is not aligned to its size %llu",
                                   (unsigned long long)b->off, (unsigned long long)bsize(b));
        if (prev && !prev->used && !b->used && prev->order == b->order && (b->off & bsize(b)))
            return vram__violation(
                msg, len, "free buddies at %llu and %llu (order %u) should have merged",
                (unsigned long long)prev->off, (unsigned long long)b->off, b->order);
        if (b->used ? (b->requested == 0 || b->requested > bsize(b)) : b->requested != 0)
            return vram__violation(msg, len, "block at %llu: requested %llu does not fit its state",
                                   (unsigned long long)b->off, (unsigned long long)b->requested);
        if (b->batch_mark)
            return vram__violation(msg, len, "block at %llu still carries a batch mark",
                                   (unsigned long long)b->off);
        if (b->used) {
            tot[0] += bsize(b);
            tot[1] += b->requested;
            tot[2]++;
            tot[4] = b->off + bsize(b);
        } else {
            tot[3]++;
        }
        expect = b->off + bsize(b);
        prev = b;
        nblocks++;
    }
    if (expect != top)
        return vram__violation(msg, len, "blocks end at %llu, the managed range at %llu",
                               (unsigned long long)expect, (unsigned long long)top);
    if (nblocks != h->by_off.count)
        return vram__violation(msg, len,
                               "offset index holds %zu entries, %llu blocks tile the range",
                               h->by_off.count, (unsigned long long)nblocks);
    return VRAM_OK;
}

static vram_status check_free_lists(const bd_heap *h, char *msg, size_t len, uint64_t nfree)
{
    uint64_t listed = 0;
    for (unsigned k = 0; k < BD_ORDERS; k++) {
        if (!!(h->nonempty >> k & 1) != !!h->free_list[k])
            return vram__violation(msg, len, "non-empty bit of order %u disagrees with its list",
                                   k);
        const bd_block *prev = NULL;
        for (const bd_block *b = h->free_list[k]; b; prev = b, b = b->next) {
            if (++listed > nfree)
                return vram__violation(msg, len, "free lists hold more than the %llu free blocks",
                                       (unsigned long long)nfree);
            if (b->prev != prev || b->used || b->order != k || off_find(h, b->off) != b)
                return vram__violation(
                    msg, len,
                    "free list of order %u: block at %llu is linked wrongly, used, "
                    "of another order or not in the offset index",
                    k, (unsigned long long)b->off);
        }
    }
    if (listed != nfree)
        return vram__violation(msg, len, "free lists hold %llu blocks, the range %llu free ones",
                               (unsigned long long)listed, (unsigned long long)nfree);
    return VRAM_OK;
}

static vram_status bd_check(const void *impl, char *msg, size_t len)
{
    const bd_heap *h = impl;
    uint64_t tot[5] = {0, 0, 0, 0, 0};
    vram_status st = check_blocks(h, msg, len, tot);
    if (!st)
        st = check_free_lists(h, msg, len, tot[3]);
    if (st)
        return st;
    if (tot[0] != h->in_use || tot[1] != h->requested || tot[2] != h->live || tot[3] != h->nfree)
        return vram__violation(
            msg, len,
            "counters disagree with a walk: in_use %llu/%llu requested %llu/%llu "
            "live %llu/%llu free blocks %llu/%llu (counter/walk)",
            (unsigned long long)h->in_use, (unsigned long long)tot[0],
            (unsigned long long)h->requested, (unsigned long long)tot[1],
            (unsigned long long)h->live, (unsigned long long)tot[2], (unsigned long long)h->nfree,
            (unsigned long long)tot[3]);
    if (tot[4] != h->fp)
        return vram__violation(msg, len, "footprint %llu, the highest used block ends at %llu",
                               (unsigned long long)h->fp, (unsigned long long)tot[4]);
    if (h->peak_in_use < h->in_use || h->peak_footprint < h->fp)
        return vram__violation(msg, len, "a peak is below its current value");
    return VRAM_OK;
}

static uint64_t bd_max_alloc(const void *impl) { return bd_largest_free(impl); }

static void bd_destroy(void *impl)
{
    bd_heap *h = impl;
    vram__slab_destroy(&h->nodes);
    vram__offmap_fini(&h->by_off);
    free(h);
}

static vram_status bd_create(const vram_heap_config *cfg, void **impl)
{
    if (cfg->capacity > BD_MAX_CAPACITY)
        return VRAM_EINVAL;
    bd_heap *h = calloc(1, sizeof *h);
    if (!h)
        return VRAM_ENOHOST;
    h->capacity = cfg->capacity;
    h->min_k = log2_floor(cfg->min_align);
    h->top_k = log2_floor(cfg->capacity); /* >= min_k: the wrapper has min_align <= capacity */
    vram__slab_init(&h->nodes, sizeof(bd_block));
    vram__offmap_init(&h->by_off);
    if (vram__slab_reserve(&h->nodes, 1) || vram__offmap_reserve(&h->by_off, 1)) {
        bd_destroy(h);
        return VRAM_ENOHOST;
    }
    bd_block *b = vram__slab_get(&h->nodes);
    *b = (bd_block){.off = 0, .order = h->top_k};
    vram__offmap_put(&h->by_off, 0, b);
    list_push(h, b);
    *impl = h;
    return VRAM_OK;
}

/* Costs (O(1) hash lookups expected, amortised growth of nodes and map):
 * alloc O(orders) (one new block per split), free O(orders) (one buddy lookup
 * per merge), O(orders^2) when it frees the highest used block (see
 * used_end_below), batches O(k) times that, grow O(doublings), stats O(1), walk
 * and check O(n).
 * Failures: create VRAM_EINVAL above 2^56 bytes; alloc VRAM_EINVAL above the
 * managed range, VRAM_ENOMEM when no free block of the needed order is left;
 * free VRAM_ENOTFOUND / VRAM_EDOUBLEFREE (see the top); grow VRAM_EOVERFLOW
 * past 2^56; any entry that needs node memory VRAM_ENOHOST. */
static void bd_restore_peaks(void *impl, uint64_t peak_in_use, uint64_t peak_footprint)
{
    bd_heap *h = impl;
    h->peak_in_use = peak_in_use > h->in_use ? peak_in_use : h->in_use;
    h->peak_footprint = peak_footprint > h->fp ? peak_footprint : h->fp;
}

const vram_heap_ops vram__heap_buddy_ops = {
    .name = "buddy",
    .create = bd_create,
    .destroy = bd_destroy,
    .alloc = bd_alloc,
    .free = bd_free,
    .grow = bd_grow,
    .stats = bd_stats,
    .walk = bd_walk,
    .check = bd_check,
    .alloc_batch = bd_alloc_batch,
    .free_batch = bd_free_batch,
    .max_alloc = bd_max_alloc,
    .restore_peaks = bd_restore_peaks,
};
