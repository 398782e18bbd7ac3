/* heap_shadow.h - a shadow model of the live blocks of a heap, for randomised
 * differential tests, fuzzers, and the plugin adapter (sim/plugin.c), which
 * validates every answer of a plugin's allocator against it.
 *
 * The shadow knows nothing about policies: the caller reports every successful
 * alloc (heap_shadow_add) and free (heap_shadow_remove), and the shadow checks
 * what any correct heap must satisfy:
 *   - a new block starts at a multiple of its alignment and lies in
 *     [0, capacity);
 *   - it overlaps no live block: the shadow keeps each block as the bytes the
 *     caller asked for, [off, off + requested), which is what a user may touch;
 *   - the heap's counters agree (heap_shadow_compare): live_allocs and requested
 *     exactly, in_use >= requested, and in_use exactly when the caller knows how
 *     the policy rounds (it passes the rounded size of each block to add).
 *
 * Cost: add, remove, find and last are O(log n) expected (a treap keyed by
 * offset, with deterministic priorities); pick is O(1) (a dense array of the
 * live blocks, for choosing a uniformly random one to free); visit is O(n). Self-contained:
 * static inline functions only, C11, no global state; include it in any test
 * or fuzz target. Errors are written as text into a caller's buffer.
 *
 * Use: heap_shadow_init(&s, capacity); after each successful alloc call
 * heap_shadow_add, after each successful free heap_shadow_remove (a failed call
 * changes nothing), after a grow heap_shadow_set_capacity; compare the heap's
 * stats with heap_shadow_compare as often as wanted; heap_shadow_fini. */
#ifndef VRAM_HEAP_SHADOW_H
#define VRAM_HEAP_SHADOW_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "vram/heap.h"

#define HEAP_SHADOW_NIL 0u /* node 0 is never used: it stands for "no node" */

typedef struct heap_shadow_block {
    uint64_t off;
    uint64_t requested; /* bytes asked for: the live interval is [off, off + requested) */
    uint64_t rounded;   /* the block size the caller expects the policy to count; 0 unknown */
    uint32_t left, right, prio; /* treap links and heap-ordered priority */
    uint32_t dense;             /* index in heap_shadow.dense */
} heap_shadow_block;

typedef struct heap_shadow {
    heap_shadow_block *node; /* node[1..] live or on the free chain (linked via .left) */
    uint32_t node_cap;
    uint32_t free_chain;
    uint32_t root;
    uint32_t *dense; /* node index of each live block, in no particular order */
    uint32_t count;
    uint64_t capacity;  /* offsets must end at or below this */
    uint64_t requested; /* sum over live blocks */
    uint64_t rounded;   /* sum of the known rounded sizes */
    int rounded_known;  /* every live block was added with rounded != 0 */
    uint32_t prio_state;
} heap_shadow;

/* An empty shadow of a heap of `capacity` bytes. 0, or -1 if malloc failed. */
static inline int heap_shadow_init(heap_shadow *s, uint64_t capacity)
{
    *s = (heap_shadow){.capacity = capacity, .rounded_known = 1, .prio_state = 0x9e3779b9u};
    s->node_cap = 1024;
    s->node = calloc(s->node_cap, sizeof *s->node);
    s->dense = calloc(s->node_cap, sizeof *s->dense);
    return s->node && s->dense ? 0 : -1;
}

static inline void heap_shadow_fini(heap_shadow *s)
{
    free(s->node);
    free(s->dense);
    *s = (heap_shadow){0};
}

/* The capacity after a successful grow of the heap. */
static inline void heap_shadow_set_capacity(heap_shadow *s, uint64_t capacity)
{
    s->capacity = capacity;
}

static inline uint32_t heap_shadow_count(const heap_shadow *s) { return s->count; }

/* The offset of live block number r % count (uniform when r is); count > 0. */
static inline uint64_t heap_shadow_pick(const heap_shadow *s, uint64_t r)
{
    return s->node[s->dense[r % s->count]].off;
}

/* Treap merge: every key of l is below every key of r. */
static inline uint32_t heap_shadow_merge_(heap_shadow *s, uint32_t l, uint32_t r)
{
    if (l == HEAP_SHADOW_NIL)
        return r;
    if (r == HEAP_SHADOW_NIL)
        return l;
    if (s->node[l].prio > s->node[r].prio) {
        s->node[l].right = heap_shadow_merge_(s, s->node[l].right, r);
        return l;
    }
    s->node[r].left = heap_shadow_merge_(s, l, s->node[r].left);
    return r;
}

/* Treap insert of node n into subtree t (one descent, rotations on the way
 * back up keep the largest priority on top). Recursion depth is the treap's
 * height, O(log n) expected. */
static inline uint32_t heap_shadow_insert_(heap_shadow *s, uint32_t t, uint32_t n)
{
    if (t == HEAP_SHADOW_NIL)
        return n;
    heap_shadow_block *b = &s->node[t];
    if (s->node[n].off < b->off) {
        uint32_t l = b->left = heap_shadow_insert_(s, b->left, n);
        b = &s->node[t];
        if (s->node[l].prio > b->prio) { /* rotate right */
            b->left = s->node[l].right;
            s->node[l].right = t;
            return l;
        }
    } else {
        uint32_t r = b->right = heap_shadow_insert_(s, b->right, n);
        b = &s->node[t];
        if (s->node[r].prio > b->prio) { /* rotate left */
            b->right = s->node[r].left;
            s->node[r].left = t;
            return r;
        }
    }
    return t;
}

/* Treap erase of the node keyed off, which is in subtree t: it is replaced by
 * the merge of its children. */
static inline uint32_t heap_shadow_erase_(heap_shadow *s, uint32_t t, uint64_t off)
{
    heap_shadow_block *b = &s->node[t];
    if (off < b->off)
        b->left = heap_shadow_erase_(s, b->left, off);
    else if (off > b->off)
        b->right = heap_shadow_erase_(s, b->right, off);
    else
        return heap_shadow_merge_(s, b->left, b->right);
    return t;
}

/* The live block starting at off, or NULL. */
static inline const heap_shadow_block *heap_shadow_find(const heap_shadow *s, uint64_t off)
{
    for (uint32_t t = s->root; t != HEAP_SHADOW_NIL;) {
        const heap_shadow_block *b = &s->node[t];
        if (b->off == off)
            return b;
        t = off < b->off ? b->left : b->right;
    }
    return NULL;
}

/* The live block with the highest offset, or NULL when none is live. */
static inline const heap_shadow_block *heap_shadow_last(const heap_shadow *s)
{
    uint32_t t = s->root;
    if (t == HEAP_SHADOW_NIL)
        return NULL;
    while (s->node[t].right != HEAP_SHADOW_NIL)
        t = s->node[t].right;
    return &s->node[t];
}

/* In-order walk of the subtree t; recursion depth is the treap's height. */
static inline int heap_shadow_visit_(const heap_shadow *s, uint32_t t,
                                     int (*fn)(const heap_shadow_block *b, void *ctx), void *ctx)
{
    if (t == HEAP_SHADOW_NIL)
        return 0;
    if (heap_shadow_visit_(s, s->node[t].left, fn, ctx) || fn(&s->node[t], ctx))
        return 1;
    return heap_shadow_visit_(s, s->node[t].right, fn, ctx);
}

/* Calls fn for every live block in address order until it returns non-zero
 * (then returns 1; else 0). The shadow must not change during the visit. */
static inline int heap_shadow_visit(const heap_shadow *s,
                                    int (*fn)(const heap_shadow_block *b, void *ctx), void *ctx)
{
    return heap_shadow_visit_(s, s->root, fn, ctx);
}

/* Records the block [off, off + requested) just returned by the heap for an
 * alloc with alignment `align` (as raised to the heap's minimum); `rounded` is
 * the size the policy is expected to count for it, 0 if unknown. Returns 0, or
 * -1 with the violation written to why (the block is then not recorded). */
static inline int heap_shadow_add(heap_shadow *s, uint64_t off, uint64_t requested, uint64_t align,
                                  uint64_t rounded, char *why, size_t len)
{
    if (align && off % align) {
        snprintf(why, len, "block at %" PRIu64 " is not aligned to %" PRIu64, off, align);
        return -1;
    }
    if (off >= s->capacity || requested > s->capacity - off) {
        snprintf(why, len, "block [%" PRIu64 ", +%" PRIu64 ") leaves the range [0, %" PRIu64 ")",
                 off, requested, s->capacity);
        return -1;
    }
    uint32_t nb[2] = {HEAP_SHADOW_NIL, HEAP_SHADOW_NIL}; /* the neighbours below and above */
    for (uint32_t t = s->root; t != HEAP_SHADOW_NIL;) {
        int below = s->node[t].off <= off;
        nb[!below] = t;
        t = below ? s->node[t].right : s->node[t].left;
    }
    for (int i = 0; i < 2; i++) {
        const heap_shadow_block *o = nb[i] != HEAP_SHADOW_NIL ? &s->node[nb[i]] : NULL;
        if (o && o->off < off + requested && off < o->off + o->requested) {
            snprintf(why, len,
                     "block [%" PRIu64 ", +%" PRIu64 ") overlaps live block [%" PRIu64 ", +%" PRIu64
                     ")",
                     off, requested, o->off, o->requested);
            return -1;
        }
    }
    if (s->free_chain == HEAP_SHADOW_NIL && s->count + 1 >= s->node_cap) {
        uint32_t cap = s->node_cap * 2;
        heap_shadow_block *n = realloc(s->node, cap * sizeof *n);
        if (n)
            s->node = n;
        uint32_t *d = realloc(s->dense, cap * sizeof *d);
        if (d)
            s->dense = d;
        if (!n || !d) {
            snprintf(why, len, "shadow: out of host memory");
            return -1;
        }
        s->node_cap = cap;
    }
    uint32_t t = s->free_chain;
    if (t != HEAP_SHADOW_NIL)
        s->free_chain = s->node[t].left;
    else
        t = s->count + 1; /* without a free chain, nodes 1..count are exactly the live ones */
    s->prio_state = s->prio_state * 1664525u + 1013904223u;
    s->node[t] = (heap_shadow_block){.off = off,
                                     .requested = requested,
                                     .rounded = rounded,
                                     .prio = s->prio_state,
                                     .dense = s->count};
    s->dense[s->count++] = t;
    s->root = heap_shadow_insert_(s, s->root, t);
    s->requested += requested;
    s->rounded += rounded;
    if (!rounded)
        s->rounded_known = 0;
    return 0;
}

/* Forgets the live block at off after the heap freed it. 0, or -1 if no live
 * block starts there. */
static inline int heap_shadow_remove(heap_shadow *s, uint64_t off)
{
    const heap_shadow_block *found = heap_shadow_find(s, off);
    if (!found)
        return -1;
    uint32_t m = (uint32_t)(found - s->node);
    s->root = heap_shadow_erase_(s, s->root, off);
    heap_shadow_block *b = &s->node[m];
    s->requested -= b->requested;
    s->rounded -= b->rounded;
    uint32_t last = s->dense[--s->count];
    s->dense[b->dense] = last;
    s->node[last].dense = b->dense;
    b->left = s->free_chain;
    s->free_chain = m;
    if (s->count == 0) {
        s->rounded_known = 1;
        s->rounded = 0;
    }
    return 0;
}

/* Compares the heap's counters with the shadow. 0, or -1 with the first
 * disagreement written to why. */
static inline int heap_shadow_compare(const heap_shadow *s, const vram_heap_stats *st, char *why,
                                      size_t len)
{
    if (st->live_allocs != s->count)
        snprintf(why, len, "live_allocs %" PRIu64 ", shadow %" PRIu32, st->live_allocs, s->count);
    else if (st->requested != s->requested)
        snprintf(why, len, "requested %" PRIu64 ", shadow %" PRIu64, st->requested, s->requested);
    else if (st->in_use < st->requested)
        snprintf(why, len, "in_use %" PRIu64 " below requested %" PRIu64, st->in_use,
                 st->requested);
    else if (s->rounded_known && st->in_use != s->rounded)
        snprintf(why, len, "in_use %" PRIu64 ", shadow's rounded sizes %" PRIu64, st->in_use,
                 s->rounded);
    else if (st->in_use > st->capacity || st->free != st->capacity - st->in_use)
        snprintf(why, len,
                 "in_use %" PRIu64 " and free %" PRIu64 " do not add up to capacity %" PRIu64,
                 st->in_use, st->free, st->capacity);
    else if (st->largest_free > st->free || st->peak_in_use < st->in_use ||
             st->peak_footprint < st->footprint)
        snprintf(why, len, "largest_free %" PRIu64 " > free, or a peak below its current value",
                 st->largest_free);
    else
        return 0;
    return -1;
}

#endif
