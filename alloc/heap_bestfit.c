/* heap_bestfit.c - the best-fit address manager ("bestfit").
 *
 * Every block, free or used, is a 64-byte record (one cache line) in a doubly
 * linked list in address order (O(1) neighbour coalescing). Records live in
 * chunks that never move, numbered: allocation answers a token (the record's
 * number and its allocation count), so free_token finds its block without a
 * lookup and tells a stale token from a live one. Callers that free by offset
 * get an offset index (a hash map, built at their first free by offset and kept
 * from then on: it tells a double free from an unknown offset). Free
 * blocks are also in a size index (a red-black tree keyed by (size, offset)),
 * so the best fit is found in O(log n): the smallest free block that holds the
 * request, the lowest address among equal sizes. With an
 * alignment above the minimum, a block may be too small once its front padding
 * is counted: the search tries BF_ALIGN_TRIES blocks in size order, then takes
 * the smallest block of at least size + align - min_align bytes, which fits
 * whatever its offset (O(log n)); only when there is none does it go on through
 * the remaining smaller candidates, so ENOMEM means that no block fits.
 *
 * A free that leaves a block start behind (the block was merged into its free
 * predecessor) answers VRAM_ENOTFOUND for that offset, not VRAM_EDOUBLEFREE.
 *
 * Test hook: compiling libvram with -DVRAM_TEST_BREAK_COALESCE (off by default,
 * never in a release) skips merging of freed blocks with free neighbours, so the
 * tests and fuzzers can show that check() catches the broken invariant. */
#include <stdlib.h>

#include "heap_internal.h"
#include "offmap.h"
#include "rbtree.h"

/* Far above any device; keeps every sum of offsets and sizes far from overflow. */
#define BF_MAX_CAPACITY (UINT64_C(1) << 56)
#define BF_ALIGN_TRIES 16
/* Records come in chunks of 2^BF_CHUNK_BITS, aligned to a cache line. */
#define BF_CHUNK_BITS 8
#define BF_CHUNK (1u << BF_CHUNK_BITS)
#define BF_LINE 64
#define BF_NIL UINT32_MAX

#ifdef VRAM_TEST_BREAK_COALESCE
#define BF_COALESCE 0
#else
#define BF_COALESCE 1
#endif

/* One block. The size index's node comes first: a descent reads it, off and
 * size, all in the record's one cache line. */
typedef struct bf_block {
    union {
        vram__rb_node by_size; /* free: in the size index, keyed by (size, off) */
        uint64_t requested;    /* used: bytes asked for */
    } u;
    uint64_t off;
    uint64_t size;        /* a multiple of min_align */
    uint32_t prev, next;  /* address order: record numbers, BF_NIL at the ends */
    uint32_t idx;         /* this record's number */
    uint32_t gen;         /* allocations this record has held; a token's is never 0 */
    uint8_t used;
    uint8_t batch_mark;   /* set while a free_batch has validated this block */
} bf_block;

_Static_assert(sizeof(bf_block) == BF_LINE, "a record is one cache line");

/* Invariants (verified by bf_check):
 *  - blocks tile [0, capacity) in list order: head->off == 0, each block ends
 *    where the next starts, tail ends at capacity;
 *  - ALIGNMENT: every block start and size is a multiple of min_align. It is
 *    kept where blocks are made: the capacity and every grow are multiples
 *    (bf_create, vram_heap_grow), every used size is rounded up to min_align and
 *    every split point is a start plus such a size, or an aligned start
 *    (bf_carve). So any request with the minimum alignment fits a free block at
 *    its start, and the front padding of a larger alignment is itself aligned;
 *  - no two neighbours are both free (bf_release merges them);
 *  - by_size holds exactly the free blocks; by_off, once built, every block;
 *  - a used block's gen is not 0 and is its token's; idx is its own number;
 *  - in_use, requested, live agree with the used blocks;
 *  - records [0, made) are the blocks of the list and the spares, which are
 *    chained through next (nspare of them). */
typedef struct bf_heap {
    uint64_t capacity;
    uint64_t min_align;
    uint32_t head, tail;
    vram__offmap by_off; /* offset -> block; no table until the first free by offset */
    vram__rb_tree by_size;
    bf_block **chunks;   /* record i is chunks[i / BF_CHUNK][i % BF_CHUNK] */
    uint32_t nchunks, chunks_cap, made, spare, nspare;
    uint64_t in_use, requested, live;
    uint64_t peak_in_use, peak_footprint;
} bf_heap;

static bf_block *blk(const bf_heap *h, uint32_t i)
{
    return &h->chunks[i >> BF_CHUNK_BITS][i & (BF_CHUNK - 1)];
}

/* The neighbours, NULL at the ends. */
static bf_block *next_of(const bf_heap *h, const bf_block *b)
{
    return b->next != BF_NIL ? blk(h, b->next) : NULL;
}
static bf_block *prev_of(const bf_heap *h, const bf_block *b)
{
    return b->prev != BF_NIL ? blk(h, b->prev) : NULL;
}

static int indexed(const bf_heap *h) { return h->by_off.slot != NULL; }

static bf_block *size_node(vram__rb_node *n)
{
    return n ? vram__rb_entry(n, bf_block, u.by_size) : NULL;
}

static bf_block *off_find(const bf_heap *h, uint64_t off)
{
    return vram__offmap_get(&h->by_off, off);
}

/* Builds the offset index from the block list, for the frees by offset:
 * O(blocks) once. VRAM_ENOHOST (nothing changed) if it cannot. */
static vram_status index_build(bf_heap *h)
{
    size_t n = h->made - h->nspare;
    if (vram__offmap_reserve(&h->by_off, n + 2))
        return VRAM_ENOHOST;
    for (uint32_t i = h->head; i != BF_NIL; i = blk(h, i)->next)
        vram__offmap_put(&h->by_off, blk(h, i)->off, blk(h, i));
    return VRAM_OK;
}

static int size_less(uint64_t size, uint64_t off, const bf_block *b)
{
    return size < b->size || (size == b->size && off < b->off);
}

static void size_insert(bf_heap *h, bf_block *b)
{
    vram__rb_node **link = &h->by_size.root, *parent = NULL;
    while (*link) {
        parent = *link;
        link = size_less(b->size, b->off, size_node(parent)) ? &parent->left : &parent->right;
    }
    vram__rb_link(&h->by_size, &b->u.by_size, parent, link);
}

/* The free block with the smallest (size, offset) not below (size, 0). */
static bf_block *size_lower_bound(const bf_heap *h, uint64_t size)
{
    vram__rb_node *n = h->by_size.root, *best = NULL;
    while (n) {
        if (size_node(n)->size >= size) {
            best = n;
            n = n->left;
        } else {
            n = n->right;
        }
    }
    return size_node(best);
}

/* Makes sure `k` records (and `k` offset-index slots once it is built) can be
 * taken without failing, so that an operation checks for host memory before it
 * changes anything. */
static vram_status bf_reserve(bf_heap *h, uint32_t k)
{
    while ((uint64_t)h->nchunks * BF_CHUNK - h->made + h->nspare < k) {
        if (h->nchunks >= (BF_NIL >> BF_CHUNK_BITS))
            return VRAM_ENOHOST; /* record numbers would reach BF_NIL */
        if (h->nchunks == h->chunks_cap) {
            uint32_t cap = h->chunks_cap ? h->chunks_cap * 2 : 4;
            bf_block **grown = realloc(h->chunks, cap * sizeof *grown);
            if (!grown)
                return VRAM_ENOHOST;
            h->chunks = grown;
            h->chunks_cap = cap;
        }
        bf_block *c = aligned_alloc(BF_LINE, BF_CHUNK * sizeof *c);
        if (!c)
            return VRAM_ENOHOST;
        h->chunks[h->nchunks++] = c;
    }
    return indexed(h) ? vram__offmap_reserve(&h->by_off, k) : VRAM_OK;
}

/* A record for [off, off + size), free and unlinked; bf_reserve came first. A
 * reused record keeps its gen, so that tokens of its earlier blocks stay stale. */
static bf_block *node_new(bf_heap *h, uint64_t off, uint64_t size)
{
    uint32_t i, gen = 0;
    if (h->spare != BF_NIL) {
        i = h->spare;
        h->spare = blk(h, i)->next;
        h->nspare--;
        gen = blk(h, i)->gen;
    } else {
        i = h->made++;
    }
    bf_block *b = blk(h, i);
    *b = (bf_block){.off = off, .size = size, .prev = BF_NIL, .next = BF_NIL, .idx = i, .gen = gen};
    return b;
}

static void node_release(bf_heap *h, bf_block *b)
{
    b->used = 0;
    b->next = h->spare;
    h->spare = b->idx;
    h->nspare++;
}

/* Inserts the new block b after `at` in address order (at NULL: at the head),
 * and into the offset index once it is built. */
static void list_insert_after(bf_heap *h, bf_block *at, bf_block *b)
{
    b->prev = at ? at->idx : BF_NIL;
    b->next = at ? at->next : h->head;
    if (b->next != BF_NIL)
        blk(h, b->next)->prev = b->idx;
    else
        h->tail = b->idx;
    if (at)
        at->next = b->idx;
    else
        h->head = b->idx;
    if (indexed(h))
        vram__offmap_put(&h->by_off, b->off, b);
}

/* Unlinks b, which is never the head (only a block merged into its
 * predecessor leaves the list, bf_release, and the head has none), and
 * releases its record. */
static void list_remove(bf_heap *h, bf_block *b)
{
    if (indexed(h))
        vram__offmap_del(&h->by_off, b->off);
    blk(h, b->prev)->next = b->next;
    if (b->next != BF_NIL)
        blk(h, b->next)->prev = b->prev;
    else
        h->tail = b->prev;
    node_release(h, b);
}

/* A new free block [off, off + size) after `at`, in every index. */
static bf_block *new_free_block(bf_heap *h, bf_block *at, uint64_t off, uint64_t size)
{
    bf_block *b = node_new(h, off, size);
    list_insert_after(h, at, b);
    size_insert(h, b);
    return b;
}

static uint64_t bf_footprint(const bf_heap *h)
{
    /* A free tail follows a used block (or is the only block): no two free
     * neighbours. */
    const bf_block *t = blk(h, h->tail);
    return t->used ? h->capacity : t->off;
}

/* Uses [start, start + rsize) of the free block b, which holds it; the front
 * padding and the rest stay free blocks. Needs two reserved records. */
static bf_block *bf_carve(bf_heap *h, bf_block *b, uint64_t start, uint64_t rsize)
{
    vram__rb_erase(&h->by_size, &b->u.by_size);
    uint64_t end = b->off + b->size;
    if (start > b->off) {
        /* b stays free as the padding; the used block is a new record. */
        b->size = start - b->off;
        size_insert(h, b);
        bf_block *u = node_new(h, start, end - start);
        list_insert_after(h, b, u);
        b = u;
    }
    if (b->size > rsize) {
        new_free_block(h, b, start + rsize, b->size - rsize);
        b->size = rsize;
    }
    b->used = 1;
    return b;
}

static bf_block *size_next(bf_block *b) { return size_node(vram__rb_next(&b->u.by_size)); }

/* Whether [*start, *start + rsize) with *start aligned fits in free block b. */
static int fits(const bf_block *b, uint64_t rsize, uint64_t align, uint64_t *start)
{
    *start = vram__align_up(b->off, align);
    return *start + rsize <= b->off + b->size;
}

/* The free block for an aligned request, as the top of the file says; NULL if
 * none fits. */
static bf_block *bf_find(const bf_heap *h, uint64_t rsize, uint64_t align, uint64_t *start)
{
    bf_block *b = size_lower_bound(h, rsize);
    for (int tried = 0; b && tried < BF_ALIGN_TRIES; tried++, b = size_next(b))
        if (fits(b, rsize, align, start))
            return b;
    if (!b)
        return NULL;
    bf_block *sure = size_lower_bound(h, rsize + align - h->min_align);
    if (sure) {
        fits(sure, rsize, align, start);
        return sure;
    }
    for (; b; b = size_next(b))
        if (fits(b, rsize, align, start))
            return b;
    return NULL;
}

static vram_status bf_alloc_token(void *impl, uint64_t size, uint64_t align, uint64_t *offset,
                                  uint64_t *token)
{
    bf_heap *h = impl;
    uint64_t rsize = vram__align_up(size, h->min_align);
    vram_status st = bf_reserve(h, 2);
    if (st)
        return st;
    uint64_t start = 0;
    bf_block *b = bf_find(h, rsize, align, &start);
    if (!b)
        return VRAM_ENOMEM;
    b = bf_carve(h, b, start, rsize);
    b->u.requested = size;
    if (++b->gen == 0)
        b->gen = 1; /* 0 is never a token's: a forged (0, i) is ENOTFOUND */
    h->in_use += rsize;
    h->requested += size;
    h->live++;
    if (h->in_use > h->peak_in_use)
        h->peak_in_use = h->in_use;
    uint64_t fp = bf_footprint(h);
    if (fp > h->peak_footprint)
        h->peak_footprint = fp;
    *offset = start;
    *token = (uint64_t)b->gen << 32 | b->idx;
    return VRAM_OK;
}

static vram_status bf_alloc(void *impl, uint64_t size, uint64_t align, uint64_t *offset)
{
    uint64_t token;
    return bf_alloc_token(impl, size, align, offset, &token);
}

/* Frees the used block b and merges it with free neighbours. Cannot fail. */
static void bf_release(bf_heap *h, bf_block *b)
{
    h->in_use -= b->size;
    h->requested -= b->u.requested;
    h->live--;
    b->used = 0;
    b->batch_mark = 0;
    bf_block *next = next_of(h, b);
    if (BF_COALESCE && next && !next->used) {
        vram__rb_erase(&h->by_size, &next->u.by_size);
        b->size += next->size;
        list_remove(h, next);
    }
    bf_block *prev = prev_of(h, b);
    if (BF_COALESCE && prev && !prev->used) {
        vram__rb_erase(&h->by_size, &prev->u.by_size);
        prev->size += b->size;
        list_remove(h, b);
        b = prev;
    }
    size_insert(h, b);
}

/* The used block starting at off, or the reason there is none. */
static vram_status bf_lookup_used(bf_heap *h, uint64_t off, bf_block **out)
{
    if (!indexed(h) && index_build(h))
        return VRAM_ENOHOST;
    bf_block *b = off_find(h, off);
    if (!b)
        return VRAM_ENOTFOUND;
    if (!b->used)
        return VRAM_EDOUBLEFREE;
    *out = b;
    return VRAM_OK;
}

static vram_status bf_free(void *impl, uint64_t offset)
{
    bf_heap *h = impl;
    bf_block *b;
    vram_status st = bf_lookup_used(h, offset, &b);
    if (st)
        return st;
    bf_release(h, b);
    return VRAM_OK;
}

/* The record a token names, if it holds that token's used block: no lookup. */
static vram_status bf_free_token(void *impl, uint64_t token)
{
    bf_heap *h = impl;
    uint32_t i = (uint32_t)token, gen = (uint32_t)(token >> 32);
    if (i >= h->made || gen == 0 || blk(h, i)->gen != gen)
        return VRAM_ENOTFOUND;
    if (!blk(h, i)->used)
        return VRAM_EDOUBLEFREE;
    bf_release(h, blk(h, i));
    return VRAM_OK;
}

static vram_status bf_free_batch(void *impl, size_t n, const uint64_t *offsets)
{
    bf_heap *h = impl;
    for (size_t i = 0; i < n; i++) {
        bf_block *b;
        vram_status st = bf_lookup_used(h, offsets[i], &b);
        if (!st && b->batch_mark)
            st = VRAM_EDOUBLEFREE; /* the same offset twice in the batch */
        if (st) {
            while (i--)
                off_find(h, offsets[i])->batch_mark = 0;
            return st;
        }
        b->batch_mark = 1;
    }
    /* Each release merges with whatever neighbours are free at that moment, so
     * the result is the same as n single frees in any order: maximal free runs. */
    for (size_t i = 0; i < n; i++)
        bf_release(h, off_find(h, offsets[i]));
    return VRAM_OK;
}

static vram_status bf_grow(void *impl, uint64_t bytes)
{
    bf_heap *h = impl;
    if (bytes > BF_MAX_CAPACITY - h->capacity)
        return VRAM_EOVERFLOW;
    vram_status st = bf_reserve(h, 1);
    if (st)
        return st;
    bf_block *t = blk(h, h->tail);
    if (!t->used) {
        vram__rb_erase(&h->by_size, &t->u.by_size);
        t->size += bytes;
        size_insert(h, t);
    } else {
        new_free_block(h, t, h->capacity, bytes);
    }
    h->capacity += bytes;
    return VRAM_OK;
}

static uint64_t bf_largest_free(const bf_heap *h)
{
    bf_block *b = size_node(vram__rb_last(&h->by_size));
    return b ? b->size : 0;
}

static void bf_stats(const void *impl, vram_heap_stats *out)
{
    const bf_heap *h = impl;
    *out = (vram_heap_stats){
        .capacity = h->capacity,
        .in_use = h->in_use,
        .requested = h->requested,
        .free = h->capacity - h->in_use,
        .largest_free = bf_largest_free(h),
        .free_blocks = h->by_size.count,
        .live_allocs = h->live,
        .peak_in_use = h->peak_in_use,
        .footprint = bf_footprint(h),
        .peak_footprint = h->peak_footprint,
    };
}

static vram_status bf_walk(const void *impl, vram_walk_fn fn, void *ctx)
{
    const bf_heap *h = impl;
    for (const bf_block *b = blk(h, h->head); b; b = next_of(h, b)) {
        vram_block_info info = {.offset = b->off,
                                .size = b->size,
                                .requested = b->used ? b->u.requested : 0,
                                .refs = b->used ? 1u : 0u,
                                .used = b->used};
        if (fn(&info, ctx))
            break;
    }
    return VRAM_OK;
}

/* The address list: links, tiling, alignment, merging; totals for the counters. */
static vram_status check_list(const bf_heap *h, char *msg, size_t len, uint64_t *in_use,
                              uint64_t *requested, uint64_t *live, uint64_t *nfree)
{
    uint64_t expect = 0, nblocks = 0;
    const bf_block *prev = NULL;
    for (uint32_t i = h->head; i != BF_NIL; prev = blk(h, i), i = blk(h, i)->next) {
        const bf_block *b = blk(h, i);
        if (i >= h->made || ++nblocks > h->made)
            return vram__violation(msg, len, "block list: record %u, or more than the %u made",
                                   (unsigned)i, (unsigned)h->made);
        if (b->idx != i)
            return vram__violation(msg, len, "block at %llu: record %u calls itself %u",
                                   (unsigned long long)b->off, (unsigned)i, (unsigned)b->idx);
        if (b->prev != (prev ? prev->idx : BF_NIL))
            return vram__violation(msg, len,
                                   "block at %llu: prev link does not name the block before it",
                                   (unsigned long long)b->off);
        if (b->off != expect)
            return vram__violation(msg, len,
                                   "blocks do not tile the range: block at %llu, expected %llu",
                                   (unsigned long long)b->off, (unsigned long long)expect);
        /* Its offset is aligned then: the head's is 0, each other one the end of an
         * aligned block. */
        if (b->size == 0 || b->size % h->min_align)
            return vram__violation(msg, len,
                                   "block [%llu, +%llu) is empty or not aligned to min_align %llu",
                                   (unsigned long long)b->off, (unsigned long long)b->size,
                                   (unsigned long long)h->min_align);
        if (prev && !prev->used && !b->used)
            return vram__violation(msg, len, "free blocks at %llu and %llu should have coalesced",
                                   (unsigned long long)prev->off, (unsigned long long)b->off);
        if (b->used && (b->u.requested == 0 || b->u.requested > b->size))
            return vram__violation(msg, len,
                                   "used block at %llu: requested %llu outside (0, size %llu]",
                                   (unsigned long long)b->off, (unsigned long long)b->u.requested,
                                   (unsigned long long)b->size);
        if (b->used && b->gen == 0)
            return vram__violation(msg, len, "used block at %llu: no token was issued",
                                   (unsigned long long)b->off);
        if (b->batch_mark)
            return vram__violation(msg, len, "block at %llu still carries a batch mark",
                                   (unsigned long long)b->off);
        if (b->used) {
            *in_use += b->size;
            *requested += b->u.requested;
            ++*live;
        } else {
            ++*nfree;
        }
        expect = b->off + b->size;
    }
    if (!prev || prev->idx != h->tail)
        return vram__violation(msg, len, "the tail pointer is not the last block");
    if (expect != h->capacity)
        return vram__violation(msg, len, "blocks end at %llu, capacity is %llu",
                               (unsigned long long)expect, (unsigned long long)h->capacity);
    if (indexed(h) && nblocks != h->by_off.count)
        return vram__violation(msg, len, "offset index holds %zu blocks, the list %llu",
                               h->by_off.count, (unsigned long long)nblocks);
    uint64_t spares = 0;
    for (uint32_t i = h->spare; i != BF_NIL && i < h->made && spares <= h->made; i = blk(h, i)->next)
        spares++;
    if (spares != h->nspare || nblocks + spares != h->made)
        return vram__violation(msg, len, "%llu blocks and %llu spare records (%u counted), %u made",
                               (unsigned long long)nblocks, (unsigned long long)spares,
                               (unsigned)h->nspare, (unsigned)h->made);
    return VRAM_OK;
}

/* The indexes: red-black rules, sorted, the same sets as the list. */
static vram_status check_indexes(const bf_heap *h, char *msg, size_t len, uint64_t nfree)
{
    const char *why = vram__rb_verify(&h->by_size);
    if (why)
        return vram__violation(msg, len, "%s", why);
    if (h->by_size.count != nfree)
        return vram__violation(msg, len, "size index holds %zu blocks, the list %llu free ones",
                               h->by_size.count, (unsigned long long)nfree);
    const bf_block *last = NULL;
    for (vram__rb_node *n = vram__rb_first(&h->by_size); n; n = vram__rb_next(n)) {
        const bf_block *b = size_node(n);
        if (b->used)
            return vram__violation(msg, len, "used block at %llu is in the size index",
                                   (unsigned long long)b->off);
        if (last && !size_less(last->size, last->off, b))
            return vram__violation(msg, len, "size index out of order at block %llu",
                                   (unsigned long long)b->off);
        last = b;
    }
    for (const bf_block *b = blk(h, h->head); b; b = next_of(h, b)) {
        if (indexed(h) && off_find(h, b->off) != b)
            return vram__violation(msg, len, "offset index does not find block at %llu",
                                   (unsigned long long)b->off);
        if (b->used)
            continue;
        const bf_block *s = size_lower_bound(h, b->size);
        while (s && s->size == b->size && s->off < b->off)
            s = size_next((bf_block *)s);
        if (s != b)
            return vram__violation(msg, len, "size index does not find free block at %llu",
                                   (unsigned long long)b->off);
    }
    return VRAM_OK;
}

static vram_status bf_check(const void *impl, char *msg, size_t len)
{
    const bf_heap *h = impl;
    uint64_t in_use = 0, requested = 0, live = 0, nfree = 0;
    vram_status st = check_list(h, msg, len, &in_use, &requested, &live, &nfree);
    if (!st)
        st = check_indexes(h, msg, len, nfree);
    if (st)
        return st;
    if (in_use != h->in_use || requested != h->requested || live != h->live)
        return vram__violation(
            msg, len,
            "counters disagree with a walk: in_use %llu/%llu requested %llu/%llu "
            "live %llu/%llu (counter/walk)",
            (unsigned long long)h->in_use, (unsigned long long)in_use,
            (unsigned long long)h->requested, (unsigned long long)requested,
            (unsigned long long)h->live, (unsigned long long)live);
    if (h->peak_in_use < h->in_use || h->peak_footprint < bf_footprint(h))
        return vram__violation(msg, len, "a peak is below its current value");
    return VRAM_OK;
}

static uint64_t bf_max_alloc(const void *impl) { return bf_largest_free(impl); }

static void bf_destroy(void *impl)
{
    bf_heap *h = impl;
    for (uint32_t c = 0; c < h->nchunks; c++)
        free(h->chunks[c]);
    free(h->chunks);
    vram__offmap_fini(&h->by_off);
    free(h);
}

static vram_status bf_create(const vram_heap_config *cfg, void **impl)
{
    if (cfg->capacity % cfg->min_align || cfg->capacity > BF_MAX_CAPACITY)
        return VRAM_EINVAL;
    bf_heap *h = calloc(1, sizeof *h);
    if (!h)
        return VRAM_ENOHOST;
    h->capacity = cfg->capacity;
    h->min_align = cfg->min_align;
    h->spare = h->head = h->tail = BF_NIL;
    vram__offmap_init(&h->by_off);
    if (bf_reserve(h, 1)) {
        bf_destroy(h);
        return VRAM_ENOHOST;
    }
    new_free_block(h, NULL, 0, h->capacity);
    *impl = h;
    return VRAM_OK;
}

/* Costs: alloc O(log n) (when a large alignment fits no block but the smaller
 * candidates, up to a scan of them; see the top of the file), free and
 * free_token O(log n) (free_token finds its record in O(1), free by offset
 * through the offset index, O(1) expected but O(n) the first time, which
 * builds it; merging re-indexes one free block), batched alloc (the wrapper's
 * loop) and free_batch O(k log n), grow and stats O(log n), walk O(n), check
 * O(n log n); amortised, as the record chunks and the offset map grow.
 * Failures: create VRAM_EINVAL when the capacity is not a multiple of min_align
 * (or above 2^56); alloc VRAM_ENOMEM when no free block fits (the wrapper
 * refuses a size above the capacity); free VRAM_ENOTFOUND / VRAM_EDOUBLEFREE
 * (see the top); free_token VRAM_EDOUBLEFREE when the token's record has held
 * no allocation since its block was freed, VRAM_ENOTFOUND for any other token
 * that names no used block (forged, or its record reallocated; counts wrap
 * after 2^32 - 1 allocations of one record); grow VRAM_EOVERFLOW past 2^56;
 * any entry that needs record or index memory VRAM_ENOHOST (nothing changed). */
static void bf_restore_peaks(void *impl, uint64_t peak_in_use, uint64_t peak_footprint)
{
    bf_heap *h = impl;
    uint64_t fp = bf_footprint(h);
    h->peak_in_use = peak_in_use > h->in_use ? peak_in_use : h->in_use;
    h->peak_footprint = peak_footprint > fp ? peak_footprint : fp;
}

const vram_heap_ops vram__heap_bestfit_ops = {
    .name = "bestfit",
    .create = bf_create,
    .destroy = bf_destroy,
    .alloc = bf_alloc,
    .free = bf_free,
    .alloc_token = bf_alloc_token,
    .free_token = bf_free_token,
    .grow = bf_grow,
    .stats = bf_stats,
    .walk = bf_walk,
    .check = bf_check,
    .free_batch = bf_free_batch,
    .max_alloc = bf_max_alloc,
    .restore_peaks = bf_restore_peaks,
};
