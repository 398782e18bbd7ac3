/* heap_tlsf.c - the "tlsf" policy: two-level segregated fit (Masmano et al.;
 * the layout of mattconte/tlsf and VMA's TLSF), with every piece of metadata
 * outside the managed range: blocks are 32-byte records in one array, named by
 * a token (the record's index and its allocation count, so a stale token is
 * told from a live one) and, once a caller frees by offset, found by start
 * offset through an open-addressing hash (tlsf_map.h). The hash is built on the
 * first free or free_batch by offset and kept from then on; a caller that frees
 * only by token never pays for it.
 *
 * Sizes are counted in units of the minimum alignment A. A free block of u units
 * lives in list (fl, sl): fl = 0 holds u < 32 exactly (sl = u); above that
 * fl = log2(u) - 4 and sl = the next 5 bits of u (32 lists per power of two, as
 * VMA; lists are one unit wide below 64 units). A search rounds the request up
 * to the next list start, so the head of any non-empty list at or above the
 * result fits ("good fit"); two bitmaps and find-first-set make alloc O(1), and
 * free is O(1) by the hash and the address-ordered block list that gives both
 * physical neighbours.
 *
 * Costs and failures of the entries:
 *   - create: O(1). VRAM_EINVAL if the capacity is not a multiple of the
 *     minimum alignment or above 2^56; VRAM_ENOHOST.
 *   - alloc: O(1) (amortised: the node slab and the hash grow by doubling).
 *     VRAM_ENOMEM if no list at or above the rounded request (size + alignment
 *     - A) is non-empty, which can happen while a free block of the size exists
 *     (see max_alloc); VRAM_ENOHOST. (Sizes above the capacity and grows that
 *     are no multiple of A are refused by the wrapper, vram_heap_*.)
 *   - free: O(1) expected (the first one O(blocks): it builds the hash).
 *     VRAM_ENOTFOUND for an offset that starts no used block; VRAM_EDOUBLEFREE
 *     when it starts a free block that was freed there (a block freed and then
 *     merged into its lower neighbour is ENOTFOUND); VRAM_ENOHOST when the hash
 *     cannot be built (nothing changed).
 *   - alloc_token: alloc; free_token: O(1), no lookup. VRAM_EDOUBLEFREE when
 *     the token's record has held no allocation since the token's block was
 *     freed, VRAM_ENOTFOUND for any other token that names no used block
 *     (forged, or its record reallocated: counts wrap after 2^32 - 1
 *     allocations of one record, where a stale token could name a live block).
 *   - free_batch: O(n); every offset is validated first (a repeated offset is a
 *     double free), so on failure nothing changed.
 *   - grow: O(1); VRAM_EOVERFLOW past 2^56 bytes, VRAM_ENOHOST.
 *   - stats: O(1) but for largest_free, a scan of the highest non-empty list;
 *     max_alloc O(1); walk and check O(blocks). */
#include <stdlib.h>
#include <string.h>

#include "heap_internal.h"
#include "tlsf_map.h"

#define SL_BITS 5
#define SL_COUNT (1u << SL_BITS)
#define FL_COUNT 64
#define NIL UINT32_MAX
/* The range may grow to this many bytes; beyond it grow is VRAM_EOVERFLOW. */
#define TLSF_MAX_CAPACITY (UINT64_C(1) << 56)
/* Node indices are uint32_t, NIL excluded. */
#define TLSF_MAX_NODES (UINT32_MAX - 1u)

/* One block of the range. A block has no size field: it ends where the next
 * block starts (the last one at the capacity), so blocks tile the range by
 * construction and a split or a merge only relinks. Invariants (kept by split,
 * absorb and grow below):
 *  - the head starts at 0 and starts increase along the next links, each a
 *    multiple of A (every block start and size aligned, no block empty);
 *  - prev links mirror next links; the tail is the last block;
 *  - no two physically adjacent blocks are both free (free merges at once);
 *  - a free block is in exactly one free list, the one its size maps to, which
 *    fl/sl name, and u.link links that list; a used block holds u.req instead;
 *  - a used block's gen is not 0 and is the gen of the token it was given;
 *  - while the hash is built, every block's start offset is in it.
 * 32 bytes in an array aligned to 64: a record never straddles a cache line. */
typedef struct tlsf_node {
    uint64_t off;
    union {
        uint64_t req; /* used: bytes asked for */
        struct {
            uint32_t prev_free, next_free; /* free: its list; unused record: next_free chains spares */
        } link;
    } u;
    uint32_t prev, next;    /* physical neighbours (NIL at the ends) */
    uint32_t gen;           /* allocations this record has held (a token's is never 0) */
    uint8_t used;           /* 0 free, 1 used; 2 while a batch free holds it validated */
    uint8_t freed;          /* free block that starts where a freed used block started */
    uint8_t fl, sl;         /* free: the list it is in */
} tlsf_node;

#define TLSF_NODE_ALIGN 64
_Static_assert(TLSF_NODE_ALIGN % sizeof(tlsf_node) == 0, "a record straddles no cache line");

typedef struct tlsf {
    uint64_t align;         /* A */
    unsigned shift;         /* log2(A) */
    uint64_t capacity, in_use, requested, peak_in_use, peak_footprint;
    uint64_t live, free_blocks, blocks;
    uint32_t head, tail;    /* the first and last block by address */
    /* Bit fl of fl_map is set iff sl_map[fl] != 0; bit sl of sl_map[fl] is set
     * iff lists[fl][sl] != NIL. */
    uint64_t fl_map;
    uint32_t sl_map[FL_COUNT];
    uint32_t lists[FL_COUNT][SL_COUNT];
    tlsf_node *nodes;
    uint32_t nodes_cap, nodes_used, spare; /* spare: chain of released nodes by next_free */
    tlsf_map map;           /* offset -> node; map.slots NULL until the first free by offset */
} tlsf;

static unsigned log2_floor(uint64_t x) { return 63u - (unsigned)__builtin_clzll(x); }

static void mapping(uint64_t u, unsigned *fl, unsigned *sl)
{
    if (u < SL_COUNT) {
        *fl = 0;
        *sl = (unsigned)u;
        return;
    }
    unsigned l = log2_floor(u);
    *fl = l - (SL_BITS - 1);
    *sl = (unsigned)(u >> (l - SL_BITS)) & (SL_COUNT - 1);
}

/* The smallest size (units) of list (fl, sl). */
static uint64_t list_start(unsigned fl, unsigned sl)
{
    return fl == 0 ? sl : (uint64_t)(SL_COUNT + sl) << (fl - 1);
}

/* The list a search for u units starts at: u rounded up to a list start. */
static void mapping_search(uint64_t u, unsigned *fl, unsigned *sl)
{
    if (u >= SL_COUNT)
        u += (UINT64_C(1) << (log2_floor(u) - SL_BITS)) - 1;
    mapping(u, fl, sl);
}

/* The bytes of block i: up to the next block's start, or the capacity. */
static uint64_t block_size(const tlsf *t, uint32_t i)
{
    uint32_t next = t->nodes[i].next;
    return (next != NIL ? t->nodes[next].off : t->capacity) - t->nodes[i].off;
}

static void list_insert(tlsf *t, uint32_t i)
{
    tlsf_node *n = &t->nodes[i];
    unsigned fl, sl;
    mapping(block_size(t, i) >> t->shift, &fl, &sl);
    n->fl = (uint8_t)fl;
    n->sl = (uint8_t)sl;
    uint32_t head = t->lists[fl][sl];
    n->u.link.prev_free = NIL;
    n->u.link.next_free = head;
    if (head != NIL)
        t->nodes[head].u.link.prev_free = i;
    t->lists[fl][sl] = i;
    t->sl_map[fl] |= 1u << sl;
    t->fl_map |= UINT64_C(1) << fl;
    t->free_blocks++;
}

static void list_remove(tlsf *t, uint32_t i)
{
    tlsf_node *n = &t->nodes[i];
    unsigned fl = n->fl, sl = n->sl;
    if (n->u.link.prev_free != NIL)
        t->nodes[n->u.link.prev_free].u.link.next_free = n->u.link.next_free;
    else
        t->lists[fl][sl] = n->u.link.next_free;
    if (n->u.link.next_free != NIL)
        t->nodes[n->u.link.next_free].u.link.prev_free = n->u.link.prev_free;
    if (t->lists[fl][sl] == NIL) {
        t->sl_map[fl] &= ~(1u << sl);
        if (!t->sl_map[fl])
            t->fl_map &= ~(UINT64_C(1) << fl);
    }
    t->free_blocks--;
}

/* The first non-empty list at or above (fl, sl); NIL if none. */
static uint32_t list_find(const tlsf *t, unsigned fl, unsigned sl)
{
    if (fl >= FL_COUNT)
        return NIL;
    uint32_t sm = t->sl_map[fl] & (~0u << sl);
    if (!sm) {
        uint64_t fm = fl + 1 < FL_COUNT ? t->fl_map & (~UINT64_C(0) << (fl + 1)) : 0;
        if (!fm)
            return NIL;
        fl = (unsigned)__builtin_ctzll(fm);
        sm = t->sl_map[fl];
    }
    return t->lists[fl][__builtin_ctz(sm)];
}

/* Makes sure `k` nodes (and `k` hash entries while the hash is built) can be
 * added without failing, so that an operation can check for host memory before
 * it changes anything. */
static vram_status reserve(tlsf *t, uint32_t k)
{
    if (t->nodes_used + k > t->nodes_cap) {
        if (t->nodes_cap > TLSF_MAX_NODES / 2)
            return VRAM_ENOHOST;
        uint32_t cap = t->nodes_cap ? t->nodes_cap * 2 : 64;
        tlsf_node *grown = aligned_alloc(TLSF_NODE_ALIGN, (size_t)cap * sizeof *grown);
        if (!grown)
            return VRAM_ENOHOST;
        if (t->nodes_used)
            memcpy(grown, t->nodes, (size_t)t->nodes_used * sizeof *grown);
        free(t->nodes);
        t->nodes = grown;
        t->nodes_cap = cap;
    }
    return t->map.slots ? tlsf_map_reserve(&t->map, k) : VRAM_OK;
}

/* A free node starting at off, unlinked, in the hash if it is built;
 * reserve() came first. A reused record keeps its gen, so that tokens of its
 * earlier blocks stay stale. */
static uint32_t node_new(tlsf *t, uint64_t off)
{
    uint32_t i, gen = 0;
    if (t->spare != NIL) {
        i = t->spare;
        t->spare = t->nodes[i].u.link.next_free;
        gen = t->nodes[i].gen;
    } else {
        i = t->nodes_used++;
    }
    t->nodes[i] = (tlsf_node){.off = off, .prev = NIL, .next = NIL, .gen = gen};
    if (t->map.slots)
        tlsf_map_put(&t->map, off, i);
    t->blocks++;
    return i;
}

static void node_release(tlsf *t, uint32_t i)
{
    if (t->map.slots)
        tlsf_map_remove(&t->map, t->nodes[i].off);
    t->nodes[i].used = 0;
    t->nodes[i].u.link.next_free = t->spare;
    t->spare = i;
    t->blocks--;
}

/* Splits block i at `at` bytes from its start; the new node (the upper part)
 * is returned unlinked from any free list. */
static uint32_t split(tlsf *t, uint32_t i, uint64_t at)
{
    uint32_t j = node_new(t, t->nodes[i].off + at);
    tlsf_node *a = &t->nodes[i], *b = &t->nodes[j];
    b->prev = i;
    b->next = a->next;
    if (a->next != NIL)
        t->nodes[a->next].prev = j;
    else
        t->tail = j;
    a->next = j;
    return j;
}

/* Absorbs block b (the physical successor of a) into a and releases b. */
static void absorb(tlsf *t, uint32_t a, uint32_t b)
{
    tlsf_node *na = &t->nodes[a], *nb = &t->nodes[b];
    na->next = nb->next;
    if (nb->next != NIL)
        t->nodes[nb->next].prev = a;
    else
        t->tail = a;
    node_release(t, b);
}

/* The end of the highest used block: the tail's start when the tail is free
 * (its predecessor is used, as free blocks never touch), else the capacity. */
static uint64_t footprint(const tlsf *t)
{
    const tlsf_node *tail = &t->nodes[t->tail];
    return tail->used ? t->capacity : tail->off;
}

static vram_status tlsf_create(const vram_heap_config *cfg, void **impl)
{
    if (cfg->capacity % cfg->min_align || cfg->capacity > TLSF_MAX_CAPACITY)
        return VRAM_EINVAL;
    tlsf *t = calloc(1, sizeof *t);
    if (!t)
        return VRAM_ENOHOST;
    t->align = cfg->min_align;
    t->shift = log2_floor(cfg->min_align);
    t->capacity = cfg->capacity;
    t->spare = NIL;
    memset(t->lists, 0xff, sizeof t->lists);
    if (reserve(t, 1)) {
        free(t);
        return VRAM_ENOHOST;
    }
    t->head = t->tail = node_new(t, 0);
    list_insert(t, t->head);
    *impl = t;
    return VRAM_OK;
}

static void tlsf_destroy(void *impl)
{
    tlsf *t = impl;
    tlsf_map_free(&t->map);
    free(t->nodes);
    free(t);
}

/* The token of used node i: its gen above its index. */
static uint64_t token_of(const tlsf *t, uint32_t i) { return (uint64_t)t->nodes[i].gen << 32 | i; }

static vram_status tlsf_alloc_token(void *impl, uint64_t size, uint64_t align, uint64_t *offset,
                                    uint64_t *token)
{
    tlsf *t = impl;
    uint64_t bytes = vram__align_up(size, t->align);
    /* Room for the worst front padding, so that any block the search finds fits. */
    uint64_t need = (bytes >> t->shift) + ((align >> t->shift) - 1);
    unsigned fl, sl;
    mapping_search(need, &fl, &sl);
    uint32_t i = list_find(t, fl, sl);
    if (i == NIL)
        return VRAM_ENOMEM;
    vram_status st = reserve(t, 2);
    if (st)
        return st;
    list_remove(t, i);
    /* align >= A, so pad and bytes are multiples of A: both splits below keep
     * every block start aligned. */
    uint64_t pad = vram__align_up(t->nodes[i].off, align) - t->nodes[i].off;
    if (pad) {
        /* The padding stays a free block: its predecessor was i's, so not free. */
        uint32_t front = i;
        i = split(t, front, pad);
        list_insert(t, front);
    }
    if (block_size(t, i) > bytes) {
        /* The remainder's successor was i's, so not free: nothing to merge. */
        list_insert(t, split(t, i, bytes));
    }
    tlsf_node *n = &t->nodes[i];
    n->used = 1;
    n->freed = 0;
    n->u.req = size;
    if (++n->gen == 0)
        n->gen = 1; /* 0 is never a token's: a forged (0, i) is ENOTFOUND */
    t->live++;
    t->in_use += bytes;
    t->requested += size;
    if (t->in_use > t->peak_in_use)
        t->peak_in_use = t->in_use;
    uint64_t fp = footprint(t);
    if (fp > t->peak_footprint)
        t->peak_footprint = fp;
    *offset = n->off;
    *token = token_of(t, i);
    return VRAM_OK;
}

static vram_status tlsf_alloc(void *impl, uint64_t size, uint64_t align, uint64_t *offset)
{
    uint64_t token;
    return tlsf_alloc_token(impl, size, align, offset, &token);
}

/* Builds the offset hash from the block list, for the frees by offset: O(blocks)
 * once. VRAM_ENOHOST (nothing changed) if it cannot. */
static vram_status index_build(tlsf *t)
{
    unsigned bits = 6;
    while ((UINT64_C(1) << bits) < 2 * (t->blocks + 2))
        bits++;
    if (tlsf_map_init(&t->map, bits, t->shift))
        return VRAM_ENOHOST;
    for (uint32_t i = t->head; i != NIL; i = t->nodes[i].next)
        tlsf_map_put(&t->map, t->nodes[i].off, i);
    return VRAM_OK;
}

/* The used block starting at `offset`, or why there is none. O(1) expected. */
static vram_status lookup_used(tlsf *t, uint64_t offset, uint32_t *out)
{
    if (offset % t->align || offset >= t->capacity)
        return VRAM_ENOTFOUND;
    if (!t->map.slots && index_build(t))
        return VRAM_ENOHOST;
    uint32_t i = tlsf_map_get(&t->map, offset);
    if (i == NIL)
        return VRAM_ENOTFOUND;
    if (!t->nodes[i].used)
        return t->nodes[i].freed ? VRAM_EDOUBLEFREE : VRAM_ENOTFOUND;
    *out = i;
    return VRAM_OK;
}

/* Frees used block i and merges it with free neighbours. O(1) expected. */
static void release(tlsf *t, uint32_t i)
{
    tlsf_node *n = &t->nodes[i];
    t->live--;
    t->in_use -= block_size(t, i);
    t->requested -= n->u.req;
    n->used = 0;
    n->freed = 1;
    uint32_t next = n->next, prev = n->prev;
    if (next != NIL && !t->nodes[next].used) {
        list_remove(t, next);
        absorb(t, i, next);
    }
    if (prev != NIL && !t->nodes[prev].used) {
        list_remove(t, prev);
        absorb(t, prev, i);
        i = prev;
    }
    list_insert(t, i);
}

static vram_status tlsf_free(void *impl, uint64_t offset)
{
    tlsf *t = impl;
    uint32_t i;
    vram_status st = lookup_used(t, offset, &i);
    if (st)
        return st;
    release(t, i);
    return VRAM_OK;
}

/* The record a token names, if it holds that token's used block: no lookup. */
static vram_status tlsf_free_token(void *impl, uint64_t token)
{
    tlsf *t = impl;
    uint32_t i = (uint32_t)token, gen = (uint32_t)(token >> 32);
    if (i >= t->nodes_used || gen == 0 || t->nodes[i].gen != gen)
        return VRAM_ENOTFOUND;
    if (!t->nodes[i].used)
        return VRAM_EDOUBLEFREE;
    release(t, i);
    return VRAM_OK;
}

/* All offsets are validated before any is freed; an offset given twice is a
 * double free. Validation marks each block (used = 2) and unmarks on failure. */
static vram_status tlsf_free_batch(void *impl, size_t n, const uint64_t *offsets)
{
    tlsf *t = impl;
    vram_status st = VRAM_OK;
    size_t k = 0;
    for (; k < n; k++) {
        uint32_t i;
        st = lookup_used(t, offsets[k], &i);
        if (!st && t->nodes[i].used == 2)
            st = VRAM_EDOUBLEFREE;
        if (st)
            break;
        t->nodes[i].used = 2;
    }
    if (st) {
        while (k--)
            t->nodes[tlsf_map_get(&t->map, offsets[k])].used = 1;
        return st;
    }
    for (k = 0; k < n; k++)
        release(t, tlsf_map_get(&t->map, offsets[k]));
    return VRAM_OK;
}

static vram_status tlsf_grow(void *impl, uint64_t bytes)
{
    tlsf *t = impl;
    if (bytes > TLSF_MAX_CAPACITY - t->capacity)
        return VRAM_EOVERFLOW;
    uint32_t tail = t->tail;
    if (!t->nodes[tail].used) {
        list_remove(t, tail);
        t->capacity += bytes;
        list_insert(t, tail);
    } else {
        vram_status st = reserve(t, 1);
        if (st)
            return st;
        uint32_t j = node_new(t, t->capacity);
        t->nodes[j].prev = tail;
        t->nodes[tail].next = j;
        t->tail = j;
        t->capacity += bytes;
        list_insert(t, j);
    }
    return VRAM_OK;
}

/* The largest free block lives in the highest non-empty list, whose blocks
 * differ by less than 1/32 of their size; it is found by scanning that list. */
static uint64_t largest_free(const tlsf *t)
{
    if (!t->fl_map)
        return 0;
    unsigned fl = log2_floor(t->fl_map);
    unsigned sl = log2_floor(t->sl_map[fl]);
    uint64_t best = 0;
    for (uint32_t i = t->lists[fl][sl]; i != NIL; i = t->nodes[i].u.link.next_free)
        if (block_size(t, i) > best)
            best = block_size(t, i);
    return best;
}

static void tlsf_stats(const void *impl, vram_heap_stats *out)
{
    const tlsf *t = impl;
    out->capacity = t->capacity;
    out->in_use = t->in_use;
    out->requested = t->requested;
    out->free = t->capacity - t->in_use;
    out->largest_free = largest_free(t);
    out->free_blocks = t->free_blocks;
    out->live_allocs = t->live;
    out->peak_in_use = t->peak_in_use;
    out->footprint = footprint(t);
    out->peak_footprint = t->peak_footprint;
}

static vram_status tlsf_walk(const void *impl, vram_walk_fn fn, void *ctx)
{
    const tlsf *t = impl;
    for (uint32_t i = t->head; i != NIL; i = t->nodes[i].next) {
        const tlsf_node *n = &t->nodes[i];
        vram_block_info b = {n->off, block_size(t, i), n->used ? n->u.req : 0, n->used ? 1u : 0u,
                             n->used};
        if (fn(&b, ctx))
            break;
    }
    return VRAM_OK;
}

/* The largest request (default alignment) the good-fit search satisfies now:
 * the start of the highest non-empty list, as a larger request rounds up past it. */
static uint64_t tlsf_max_alloc(const void *impl)
{
    const tlsf *t = impl;
    if (!t->fl_map)
        return 0;
    unsigned fl = log2_floor(t->fl_map);
    unsigned sl = log2_floor(t->sl_map[fl]);
    return list_start(fl, sl) << t->shift;
}

/* The address-ordered block list: order and alignment (which make the blocks
 * tile the range), merging, the hash, counters. */
static vram_status check_blocks(const tlsf *t, char *msg, size_t len)
{
    uint64_t in_use = 0, requested = 0, live = 0, free_blocks = 0, blocks = 0;
    uint32_t prev = NIL;
    for (uint32_t i = t->head; i != NIL; prev = i, i = t->nodes[i].next) {
        const tlsf_node *n = &t->nodes[i];
        if (++blocks > t->blocks)
            return vram__violation(msg, len, "block list longer than the %llu blocks counted",
                                   (unsigned long long)t->blocks);
        if (n->prev != prev)
            return vram__violation(msg, len, "block at %llu: back link broken",
                                   (unsigned long long)n->off);
        if (n->off % t->align)
            return vram__violation(msg, len, "block at %llu: not aligned to %llu",
                                   (unsigned long long)n->off, (unsigned long long)t->align);
        if (prev == NIL && n->off != 0)
            return vram__violation(msg, len, "the first block starts at %llu, not 0",
                                   (unsigned long long)n->off);
        if (prev != NIL && n->off <= t->nodes[prev].off)
            return vram__violation(msg, len, "block at %llu follows block at %llu (empty or overlap)",
                                   (unsigned long long)n->off,
                                   (unsigned long long)t->nodes[prev].off);
        uint64_t size = block_size(t, i);
        if (t->map.slots && tlsf_map_get(&t->map, n->off) != i)
            return vram__violation(msg, len, "block at %llu: missing from the offset hash",
                                   (unsigned long long)n->off);
        if (n->used) {
            if (n->u.req == 0 || n->u.req > size)
                return vram__violation(msg, len, "block at %llu: requested %llu of %llu bytes",
                                       (unsigned long long)n->off, (unsigned long long)n->u.req,
                                       (unsigned long long)size);
            if (n->gen == 0)
                return vram__violation(msg, len, "used block at %llu: no token was issued",
                                       (unsigned long long)n->off);
            live++;
            in_use += size;
            requested += n->u.req;
        } else {
            if (prev != NIL && !t->nodes[prev].used)
                return vram__violation(msg, len, "free blocks at %llu and %llu should have merged",
                                       (unsigned long long)t->nodes[prev].off,
                                       (unsigned long long)n->off);
            free_blocks++;
        }
    }
    if (prev != t->tail)
        return vram__violation(msg, len, "tail is not the last block");
    if (t->capacity % t->align || t->nodes[prev].off >= t->capacity)
        return vram__violation(msg, len, "the last block starts at %llu, capacity is %llu",
                               (unsigned long long)t->nodes[prev].off,
                               (unsigned long long)t->capacity);
    if (blocks != t->blocks || (t->map.slots && t->map.count != blocks))
        return vram__violation(msg, len, "%llu blocks, counted %llu, hashed %llu",
                               (unsigned long long)blocks, (unsigned long long)t->blocks,
                               (unsigned long long)t->map.count);
    if (live != t->live || in_use != t->in_use || requested != t->requested ||
        free_blocks != t->free_blocks)
        return vram__violation(msg, len,
                               "counters disagree with a walk: live %llu/%llu in_use %llu/%llu "
                               "requested %llu/%llu free blocks %llu/%llu",
                               (unsigned long long)t->live, (unsigned long long)live,
                               (unsigned long long)t->in_use, (unsigned long long)in_use,
                               (unsigned long long)t->requested, (unsigned long long)requested,
                               (unsigned long long)t->free_blocks, (unsigned long long)free_blocks);
    if (t->peak_in_use < t->in_use || t->peak_footprint < footprint(t))
        return vram__violation(msg, len, "a peak is below its current value");
    return VRAM_OK;
}

/* The free lists and bitmaps. A list whose back links are consistent and which
 * ends within free_blocks steps holds no node twice. */
static vram_status check_lists(const tlsf *t, char *msg, size_t len)
{
    uint64_t listed = 0;
    for (unsigned fl = 0; fl < FL_COUNT; fl++) {
        if (!!(t->fl_map >> fl & 1) != !!t->sl_map[fl])
            return vram__violation(msg, len, "first-level bit %u disagrees with its lists", fl);
        for (unsigned sl = 0; sl < SL_COUNT; sl++) {
            if (!!(t->sl_map[fl] >> sl & 1) != (t->lists[fl][sl] != NIL))
                return vram__violation(msg, len, "bitmap bit (%u,%u) disagrees with its list", fl,
                                       sl);
            uint32_t prev = NIL;
            for (uint32_t i = t->lists[fl][sl]; i != NIL;
                 prev = i, i = t->nodes[i].u.link.next_free) {
                const tlsf_node *n = &t->nodes[i];
                unsigned f, s;
                if (++listed > t->free_blocks)
                    return vram__violation(msg, len, "free lists hold more than %llu blocks",
                                           (unsigned long long)t->free_blocks);
                if (n->used)
                    return vram__violation(msg, len, "used block at %llu in free list (%u,%u)",
                                           (unsigned long long)n->off, fl, sl);
                if (n->u.link.prev_free != prev)
                    return vram__violation(msg, len, "free list (%u,%u): back link broken at %llu",
                                           fl, sl, (unsigned long long)n->off);
                mapping(block_size(t, i) >> t->shift, &f, &s);
                if (f != fl || s != sl || n->fl != fl || n->sl != sl)
                    return vram__violation(msg, len,
                                           "free block at %llu size %llu in list (%u,%u), "
                                           "belongs in (%u,%u), noted in (%u,%u)",
                                           (unsigned long long)n->off,
                                           (unsigned long long)block_size(t, i), fl, sl, f, s,
                                           n->fl, n->sl);
            }
        }
    }
    if (listed != t->free_blocks)
        return vram__violation(msg, len, "free lists hold %llu of %llu free blocks",
                               (unsigned long long)listed, (unsigned long long)t->free_blocks);
    return VRAM_OK;
}

static vram_status tlsf_check(const void *impl, char *msg, size_t len)
{
    const tlsf *t = impl;
    vram_status st = check_blocks(t, msg, len);
    return st ? st : check_lists(t, msg, len);
}

static void tlsf_restore_peaks(void *impl, uint64_t peak_in_use, uint64_t peak_footprint)
{
    tlsf *t = impl;
    uint64_t fp = footprint(t);
    t->peak_in_use = peak_in_use > t->in_use ? peak_in_use : t->in_use;
    t->peak_footprint = peak_footprint > fp ? peak_footprint : fp;
}

const vram_heap_ops vram__heap_tlsf_ops = {
    .name = "tlsf",
    .create = tlsf_create,
    .destroy = tlsf_destroy,
    .alloc = tlsf_alloc,
    .free = tlsf_free,
    .alloc_token = tlsf_alloc_token,
    .free_token = tlsf_free_token,
    .free_batch = tlsf_free_batch,
    .grow = tlsf_grow,
    .stats = tlsf_stats,
    .walk = tlsf_walk,
    .check = tlsf_check,
    .max_alloc = tlsf_max_alloc,
    .restore_peaks = tlsf_restore_peaks,
};
