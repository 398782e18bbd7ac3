/* heap_buddy.c - the binary buddy policy ("buddy").
 *
 * The heap manages all of [0, capacity), a multiple of min_align, as a forest
 * of buddy trees: the roots are the binary decomposition of the capacity,
 * largest first (80 GiB: a 64 GiB root at 0, a 16 GiB root at 64 GiB). So
 * every root starts at a multiple of its own size: a block of order k, 2^k
 * bytes aligned to 2^k within its root, is aligned to 2^k as an offset too,
 * and the root holding an offset is known in O(1) (root_order). Buddies merge
 * only inside a root; a whole root never merges with the next one. The
 * smallest order is that of min_align. A request takes a block of order
 * max(ceil(log2 size), min order) (the rounding up shows as in_use -
 * requested); a request above the largest root can never fit (VRAM_ENOMEM).
 * An alignment above that size is met by splitting a free block of order
 * log2(align) or more and keeping its left part, which starts at the big
 * block's aligned offset; an alignment above the largest root asks for that
 * root whole (it starts at offset 0, aligned to anything).
 *
 * Placement packs downward, so that the footprint (the end of the highest used
 * block, fp) is the memory the heap needs from the bottom of the range, not
 * where a block happened to land. The free blocks at or above fp form one free
 * run up to the capacity, the tail; the others lie below fp, between used
 * blocks. An allocation is best fit by order, as buddy systems are, between two
 * candidates: the smallest free block below fp that fits (any of its order),
 * and the lowest tail block that fits (whose left part raises fp by the least
 * any tail block could). The tail candidate wins only with a smaller order, so
 * fp grows only when nothing below it fits as well. Tail blocks higher up are
 * never candidates: without this rule a capacity that is no power of two (80
 * GiB: roots of 64 and 16 GiB) would place the first small blocks in its
 * smallest root, at the top of the range, and the footprint would be the
 * whole device from the first allocation on. (Taking the block below fp even
 * when the tail has a smaller one keeps fp lower still, but splits large blocks
 * that later requests need: on traces/llama70b.trace it preempted 3,942 times
 * against 2,277.)
 *
 * Free blocks below fp sit in one doubly linked list per order (O(1) insert
 * and removal) with a bitmap of the non-empty orders, so the smallest one that
 * fits is one bit scan away. Tail blocks are on no list (flag `tail`): all
 * buddies merged, the tail is tiled as tile_order tiles it, O(orders) blocks,
 * walked from fp in address order when an allocation needs it, when fp moves
 * or when the heap grows. Every block, free or used, is in an offset index (a
 * hash map): free() finds its block and each merge step finds the buddy in
 * O(1). Address order needs no index: the block after [off, off + 2^k) starts
 * at off + 2^k.
 *
 * grow() re-decomposes the new capacity, so the layout stays the binary
 * decomposition of the current capacity. Every old block is naturally aligned
 * inside [0, capacity), and such a block lies inside one root of the new
 * decomposition (an aligned block reaching past the end of a root would also
 * reach past the capacity, the roots being largest first): the old roots
 * become subtrees of the new ones. The added bytes are tiled by the largest
 * naturally aligned blocks that fit, each merged with its free buddy as a free
 * would: growing 80 GiB by 48 GiB gives one 128 GiB root, a single free block
 * once empty.
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
    struct bd_block *prev, *next; /* the free list of its order, while free below fp */
    unsigned order;               /* the block is 2^order bytes */
    int used;
    int tail;       /* free, at or above fp, on no list */
    int batch_mark; /* set while a free_batch has validated this block */
} bd_block;

/* Invariants (verified by bd_check):
 *  - the roots are the binary decomposition of capacity, largest first, so a
 *    root of order r starts at a multiple of 2^r (kept by create and grow,
 *    which only ever tile with tile_order);
 *  - blocks tile [0, capacity) in offset order, each aligned to its own size
 *    and inside one root (its order at most the root's);
 *  - no two free buddies of the same order: bd_insert_free merges them;
 *  - free_list[k] holds exactly the free blocks of order k below fp, and bit
 *    k of nonempty is set exactly when free_list[k] is not empty;
 *  - every block at or above fp is free and flagged tail, no other block is;
 *    ntail counts them and tail_largest is the largest (0 if none);
 *  - by_off maps the offset of every block, and nothing else, to the block;
 *  - fp is the end of the highest used block (0 if none): raised by alloc,
 *    recomputed by bd_release when the highest used block goes;
 *  - in_use, requested, live, nfree (listed free blocks) agree with the
 *    blocks. */
typedef struct bd_heap {
    uint64_t capacity;     /* bytes managed: [0, capacity), a multiple of 2^min_k */
    unsigned min_k, top_k; /* top_k: the order of the largest root, log2_floor(capacity) */
    bd_block *free_list[BD_ORDERS];
    uint64_t nonempty;
    vram__offmap by_off; /* offset -> block */
    vram__slab nodes;
    uint64_t in_use, requested, live, nfree;
    uint64_t fp;
    uint64_t ntail, tail_largest;
    uint64_t peak_in_use, peak_footprint;
} bd_heap;

static unsigned log2_floor(uint64_t x) { return 63u - (unsigned)__builtin_clzll(x); }
static unsigned log2_ceil(uint64_t x) { return x <= 1 ? 0 : log2_floor(x - 1) + 1; }
static uint64_t bsize(const bd_block *b) { return UINT64_C(1) << b->order; }

/* The order of the root holding off < capacity: the highest bit in which off
 * and the capacity differ (set in the capacity, clear in off). The roots before
 * it are the capacity's higher bits, which off shares. */
static unsigned root_order(const bd_heap *h, uint64_t off) { return log2_floor(off ^ h->capacity); }

/* The order of the largest naturally aligned block at p that ends by end:
 * tiling [0, capacity) this way from 0 gives the roots, largest first. */
static unsigned tile_order(uint64_t p, uint64_t end)
{
    unsigned k = log2_floor(end - p);
    if (p && (unsigned)__builtin_ctzll(p) < k)
        k = (unsigned)__builtin_ctzll(p);
    return k;
}

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

/* A free block joins the tail (at or above fp) or its order's list (below). */
static void link_free(bd_heap *h, bd_block *b)
{
    if (b->off >= h->fp) {
        b->tail = 1;
        h->ntail++;
    } else {
        list_push(h, b);
    }
}

static void unlink_free(bd_heap *h, bd_block *b)
{
    if (b->tail) {
        b->tail = 0;
        h->ntail--;
    } else {
        list_remove(h, b);
    }
}

/* tail_largest from a walk of the tail: O(orders) blocks (see the top). */
static void tail_refresh(bd_heap *h)
{
    uint64_t largest = 0;
    for (uint64_t p = h->fp; p < h->capacity;) {
        const bd_block *b = off_find(h, p);
        if (!b)
            break; /* only with broken tiling, which bd_check reports */
        if (bsize(b) > largest)
            largest = bsize(b);
        p += bsize(b);
    }
    h->tail_largest = largest;
}

/* Makes b (not in any free list or the tail) free: merges it with its buddy
 * while the buddy is a free block of the same order in the same root, then
 * links and returns the result. The buddy of a block below its root's order is
 * off ^ 2^order: the root starts at a multiple of its size. */
static bd_block *bd_insert_free(bd_heap *h, bd_block *b)
{
    b->used = 0;
    b->requested = 0;
    b->batch_mark = 0;
    unsigned root = root_order(h, b->off);
    while (b->order < root) {
        bd_block *buddy = off_find(h, b->off ^ bsize(b));
        if (!buddy || buddy->used || buddy->order != b->order)
            break;
        unlink_free(h, buddy);
        if (buddy->off < b->off) {
            bd_block *t = buddy;
            buddy = b;
            b = t;
        }
        vram__offmap_del(&h->by_off, buddy->off);
        vram__slab_put(&h->nodes, buddy);
        b->order++;
    }
    link_free(h, b);
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
 * No two free buddies stay unmerged, so the part of a free run inside one root
 * holds O(orders) blocks (their sizes rise, then fall) and a root the run spans
 * whole is one block: O(orders) blocks, O(orders^2) lookups at worst. */
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

/* The lowest tail block of order >= need, or NULL. O(orders). */
static bd_block *tail_fit(const bd_heap *h, unsigned need)
{
    for (uint64_t p = h->fp; p < h->capacity;) {
        bd_block *b = off_find(h, p);
        if (!b)
            return NULL; /* only with broken tiling */
        if (b->order >= need)
            return b;
        p += bsize(b);
    }
    return NULL;
}

static vram_status bd_alloc(void *impl, uint64_t size, uint64_t align, uint64_t *offset)
{
    bd_heap *h = impl;
    unsigned k = log2_ceil(size); /* <= 48: the wrapper caps size at 2^48 */
    if (k < h->min_k)
        k = h->min_k;
    unsigned need = log2_floor(align); /* order whose blocks are aligned enough */
    if (need > h->top_k)
        need = h->top_k; /* the only block of the top order is the root at 0, aligned to anything */
    if (need < k)
        need = k; /* above top_k: nothing fits */
    /* Best fit by order between the smallest listed block that fits and the
     * lowest tail block that fits; an equal order goes to the listed one. */
    uint64_t fit = h->nonempty & ~((UINT64_C(1) << need) - 1);
    bd_block *b = fit ? h->free_list[__builtin_ctzll(fit)] : NULL;
    bd_block *t = tail_fit(h, need);
    if (t && (!b || t->order < b->order))
        b = t;
    if (!b)
        return VRAM_ENOMEM;
    unsigned j = b->order;
    vram_status st = vram__slab_reserve(&h->nodes, j - k);
    if (!st)
        st = vram__offmap_reserve(&h->by_off, j - k);
    if (st)
        return st;
    const int from_tail = b->tail;
    if (from_tail) {
        /* The tail blocks below b fall below the new fp: they join the lists. */
        for (uint64_t p = h->fp; p < b->off;) {
            bd_block *blk = off_find(h, p);
            p += bsize(blk);
            unlink_free(h, blk);
            list_push(h, blk);
        }
        unlink_free(h, b);
        h->fp = b->off + (UINT64_C(1) << k); /* before the split: the right halves are tail */
    } else {
        list_remove(h, b);
    }
    while (b->order > k) {
        /* Keep the left half (same offset, so the alignment stays); link the right. */
        b->order--;
        bd_block *right = vram__slab_get(&h->nodes);
        *right = (bd_block){.off = b->off + bsize(b), .order = b->order};
        vram__offmap_put(&h->by_off, right->off, right);
        link_free(h, right);
    }
    b->used = 1;
    b->requested = size;
    h->in_use += bsize(b);
    h->requested += size;
    h->live++;
    if (h->in_use > h->peak_in_use)
        h->peak_in_use = h->in_use;
    if (from_tail)
        tail_refresh(h);
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
    b = bd_insert_free(h, b); /* below fp still: listed (it may have merged with tail blocks) */
    if (!was_highest)
        return;
    /* fp falls; the free blocks from the new fp up to the old tail join it. */
    h->fp = used_end_below(h, b->off);
    for (uint64_t p = h->fp; p < h->capacity;) {
        bd_block *t = off_find(h, p);
        if (t->tail)
            break;
        p += bsize(t);
        list_remove(h, t);
        t->tail = 1;
        h->ntail++;
    }
    tail_refresh(h);
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

/* The number of blocks tile_free makes for [p, end): their orders rise, then
 * fall, so at most two per order. */
static size_t tile_count(uint64_t p, uint64_t end)
{
    size_t n = 0;
    for (; p < end; n++)
        p += UINT64_C(1) << tile_order(p, end);
    return n;
}

/* Tiles [p, end) with free blocks of tile_order, each merged with its free
 * buddy (as a free would); end is the capacity, p and end multiples of 2^min_k,
 * and the nodes and index room tile_count names are reserved. */
static void tile_free(bd_heap *h, uint64_t p, uint64_t end)
{
    while (p < end) {
        bd_block *b = vram__slab_get(&h->nodes);
        *b = (bd_block){.off = p, .order = tile_order(p, end)};
        p += bsize(b);
        vram__offmap_put(&h->by_off, b->off, b);
        bd_insert_free(h, b);
    }
}

static vram_status bd_grow(void *impl, uint64_t bytes)
{
    bd_heap *h = impl;
    if (bytes > BD_MAX_CAPACITY - h->capacity)
        return VRAM_EOVERFLOW;
    uint64_t old = h->capacity;
    size_t n = tile_count(old, old + bytes);
    vram_status st = vram__slab_reserve(&h->nodes, n);
    if (!st)
        st = vram__offmap_reserve(&h->by_off, n);
    if (st)
        return st;
    /* The new capacity first: root_order, used by the merges, reads it. */
    h->capacity = old + bytes;
    h->top_k = log2_floor(h->capacity);
    tile_free(h, old, h->capacity); /* above fp: tail blocks, merged with the old tail */
    tail_refresh(h);
    return VRAM_OK;
}

static uint64_t bd_largest_free(const bd_heap *h)
{
    uint64_t listed = h->nonempty ? UINT64_C(1) << log2_floor(h->nonempty) : 0;
    return listed > h->tail_largest ? listed : h->tail_largest;
}

static void bd_stats(const void *impl, vram_heap_stats *out)
{
    const bd_heap *h = impl;
    *out = (vram_heap_stats){
        .capacity = h->capacity,
        .in_use = h->in_use,
        .requested = h->requested,
        .free = h->capacity - h->in_use,
        .largest_free = bd_largest_free(h),
        .free_blocks = h->nfree + h->ntail,
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

/* What a walk of the blocks finds, for the counters. */
typedef struct bd_totals {
    uint64_t in_use, requested, live;
    uint64_t listed;     /* free blocks not flagged tail */
    uint64_t fp;         /* end of the highest used block */
    uint64_t ntail, tail_largest;
    const bd_block *bad_tail; /* the first block whose tail flag disagrees with h->fp */
} bd_totals;

/* Tiling, alignment, roots, merging, per-block fields; totals for the counters. */
static vram_status check_blocks(const bd_heap *h, char *msg, size_t len, bd_totals *tot)
{
    uint64_t expect = 0, nblocks = 0;
    const bd_block *prev = NULL;
    if (h->capacity % (UINT64_C(1) << h->min_k) || h->top_k != log2_floor(h->capacity))
        return vram__violation(msg, len, "capacity %llu: not a multiple of 2^%u or top order %u",
                               (unsigned long long)h->capacity, h->min_k, h->top_k);
    while (expect < h->capacity) {
        const bd_block *b = off_find(h, expect);
        if (!b || b->off != expect)
            return vram__violation(msg, len,
                                   "blocks do not tile the range: no block starts at %llu",
                                   (unsigned long long)expect);
        if (b->order < h->min_k)
            return vram__violation(msg, len, "block at %llu has order %u below the minimum %u",
                                   (unsigned long long)b->off, b->order, h->min_k);
        if (b->off % bsize(b))
            return vram__violation(msg, len, "block at %llu is not aligned to its size %llu",
                                   (unsigned long long)b->off, (unsigned long long)bsize(b));
        /* Aligned to its size, a block of order <= its root's ends inside the root. */
        unsigned root = root_order(h, b->off);
        if (b->order > root)
            return vram__violation(
                msg, len,
                "block at %llu of order %u crosses the end of its root of order %u at %llu",
                (unsigned long long)b->off, b->order, root,
                (unsigned long long)(b->off & ~((UINT64_C(2) << root) - 1)));
        /* b a right child (below its root's order) and prev its left buddy. */
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
            tot->in_use += bsize(b);
            tot->requested += b->requested;
            tot->live++;
            tot->fp = b->off + bsize(b);
        } else if (b->tail) {
            tot->ntail++;
            if (bsize(b) > tot->tail_largest)
                tot->tail_largest = bsize(b);
        } else {
            tot->listed++;
        }
        if (!tot->bad_tail && (b->off >= h->fp ? b->used || !b->tail : b->tail))
            tot->bad_tail = b;
        expect = b->off + bsize(b);
        prev = b;
        nblocks++;
    }
    /* Every block inside its root, the last one ends exactly at the capacity. */
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
            if (b->prev != prev || b->used || b->tail || b->order != k ||
                off_find(h, b->off) != b)
                return vram__violation(
                    msg, len,
                    "free list of order %u: block at %llu is linked wrongly, used, in the tail, "
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
    bd_totals tot = {0};
    vram_status st = check_blocks(h, msg, len, &tot);
    if (!st)
        st = check_free_lists(h, msg, len, tot.listed);
    if (st)
        return st;
    if (tot.in_use != h->in_use || tot.requested != h->requested || tot.live != h->live ||
        tot.listed != h->nfree)
        return vram__violation(
            msg, len,
            "counters disagree with a walk: in_use %llu/%llu requested %llu/%llu "
            "live %llu/%llu free blocks %llu/%llu (counter/walk)",
            (unsigned long long)h->in_use, (unsigned long long)tot.in_use,
            (unsigned long long)h->requested, (unsigned long long)tot.requested,
            (unsigned long long)h->live, (unsigned long long)tot.live, (unsigned long long)h->nfree,
            (unsigned long long)tot.listed);
    if (tot.fp != h->fp)
        return vram__violation(msg, len, "footprint %llu, the highest used block ends at %llu",
                               (unsigned long long)h->fp, (unsigned long long)tot.fp);
    if (tot.bad_tail)
        return vram__violation(msg, len,
                               tot.bad_tail->off >= h->fp
                                   ? "block at %llu, at or above the footprint %llu, is not a "
                                     "free tail block"
                                   : "block at %llu, below the footprint %llu, is flagged tail",
                               (unsigned long long)tot.bad_tail->off, (unsigned long long)h->fp);
    if (tot.ntail != h->ntail || tot.tail_largest != h->tail_largest)
        return vram__violation(msg, len,
                               "tail counters disagree with a walk: blocks %llu/%llu largest "
                               "%llu/%llu (counter/walk)",
                               (unsigned long long)h->ntail, (unsigned long long)tot.ntail,
                               (unsigned long long)h->tail_largest,
                               (unsigned long long)tot.tail_largest);
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
    if (cfg->capacity > BD_MAX_CAPACITY || cfg->capacity % cfg->min_align)
        return VRAM_EINVAL;
    bd_heap *h = calloc(1, sizeof *h);
    if (!h)
        return VRAM_ENOHOST;
    h->capacity = cfg->capacity;
    h->min_k = log2_floor(cfg->min_align);
    h->top_k = log2_floor(cfg->capacity); /* >= min_k: the wrapper has min_align <= capacity */
    vram__slab_init(&h->nodes, sizeof(bd_block));
    vram__offmap_init(&h->by_off);
    size_t roots = tile_count(0, h->capacity);
    if (vram__slab_reserve(&h->nodes, roots) || vram__offmap_reserve(&h->by_off, roots)) {
        bd_destroy(h);
        return VRAM_ENOHOST;
    }
    tile_free(h, 0, h->capacity); /* one free block per root, all tail (fp = 0) */
    tail_refresh(h);
    *impl = h;
    return VRAM_OK;
}

/* Costs (O(1) hash lookups expected, amortised growth of nodes and map):
 * create O(orders) (one block per root), alloc O(orders) (one new block per
 * split, a walk of the tail), free O(orders) (one buddy lookup per merge),
 * O(orders^2) when it frees the highest used block (see used_end_below; the
 * blocks fp falls over join the tail), batches O(k) times that, grow
 * O(orders^2) (O(orders) new blocks, each merged), stats O(1), walk and check
 * O(n).
 * Failures: create VRAM_EINVAL above 2^56 bytes or for a capacity that is no
 * multiple of min_align; alloc VRAM_ENOMEM when no free block of the needed
 * order is left (always for a request above the largest root); free
 * VRAM_ENOTFOUND / VRAM_EDOUBLEFREE (see the top); grow VRAM_EOVERFLOW past
 * 2^56; any entry that needs node memory VRAM_ENOHOST. */
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
    .free_batch = bd_free_batch,
    .max_alloc = bd_max_alloc,
    .restore_peaks = bd_restore_peaks,
};
