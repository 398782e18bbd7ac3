/* heap_shadow.h - a shadow model of the live blocks of a heap, for randomised
 * differential tests, fuzzers, and the plugin adapter (sim/replay/plugin.c), which
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
 * Structure: the blocks live in an array of nodes (stable indexes; freed ones
 * on a free chain); an index keeps (offset, node) keys in address order as
 * runs of at most HEAP_SHADOW_RUN keys, with each run's first offset in a
 * separate array. A lookup is a binary search over the runs' first offsets and
 * one within a run, in contiguous memory: what the plugin adapter pays per call
 * on a million-event replay (BENCHMARKS.md, "The plugin ABI's cost").
 *
 * Cost: add, remove, take and find are O(log n) comparisons plus a move of at
 * most HEAP_SHADOW_RUN keys (and, when a run splits or empties, of the run
 * array); last is O(1); pick is O(1) (a dense array of the live blocks, for
 * choosing a uniformly random one to free); visit is O(n). Self-contained:
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
#include <string.h>

#include "vram/heap.h"

#define HEAP_SHADOW_NIL 0u /* node 0 is never used: it stands for "no node" */
#define HEAP_SHADOW_RUN 64u /* keys per run of the index */

typedef struct heap_shadow_block {
    uint64_t off;
    uint64_t requested; /* bytes asked for: the live interval is [off, off + requested) */
    uint64_t rounded;   /* the block size the caller expects the policy to count; 0 unknown */
    uint32_t dense;     /* index in heap_shadow.dense */
    uint32_t next_free; /* the free chain, while the node is not live */
} heap_shadow_block;

/* A run of the index: n keys in address order. */
typedef struct heap_shadow_run {
    uint32_t n;
    struct {
        uint64_t off;
        uint32_t node;
    } k[HEAP_SHADOW_RUN];
} heap_shadow_run;

typedef struct heap_shadow {
    heap_shadow_block *node; /* node[1..] live or on the free chain */
    uint32_t node_cap;
    uint32_t free_chain;
    uint32_t *dense; /* node index of each live block, in no particular order */
    uint32_t count;
    heap_shadow_run **runs; /* the index: runs in address order, none empty */
    uint64_t *first;        /* first[i] = runs[i]->k[0].off */
    uint32_t nruns, runs_cap;
    uint64_t capacity;  /* offsets must end at or below this */
    uint64_t requested; /* sum over live blocks */
    uint64_t rounded;   /* sum of the known rounded sizes */
    int rounded_known;  /* every live block was added with rounded != 0 */
} heap_shadow;

/* An empty shadow of a heap of `capacity` bytes. 0, or -1 if malloc failed. */
static inline int heap_shadow_init(heap_shadow *s, uint64_t capacity)
{
    *s = (heap_shadow){.capacity = capacity, .rounded_known = 1};
    s->node_cap = 1024;
    s->node = calloc(s->node_cap, sizeof *s->node);
    s->dense = calloc(s->node_cap, sizeof *s->dense);
    s->runs_cap = 16;
    s->runs = calloc(s->runs_cap, sizeof *s->runs);
    s->first = calloc(s->runs_cap, sizeof *s->first);
    return s->node && s->dense && s->runs && s->first ? 0 : -1;
}

static inline void heap_shadow_fini(heap_shadow *s)
{
    for (uint32_t i = 0; i < s->nruns; i++)
        free(s->runs[i]);
    free(s->runs);
    free(s->first);
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

/* The run that holds off or would: the last whose first offset is <= off, or
 * run 0 when off is below them all (nruns > 0). */
static inline uint32_t heap_shadow_run_of_(const heap_shadow *s, uint64_t off)
{
    uint32_t lo = 0, hi = s->nruns;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->first[mid] <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? lo - 1 : 0;
}

/* The first key of run r at or above off (r->n when none is). */
static inline uint32_t heap_shadow_pos_(const heap_shadow_run *r, uint64_t off)
{
    uint32_t lo = 0, hi = r->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (r->k[mid].off < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The live block starting at off, or NULL. */
static inline const heap_shadow_block *heap_shadow_find(const heap_shadow *s, uint64_t off)
{
    if (!s->nruns)
        return NULL;
    const heap_shadow_run *r = s->runs[heap_shadow_run_of_(s, off)];
    uint32_t p = heap_shadow_pos_(r, off);
    return p < r->n && r->k[p].off == off ? &s->node[r->k[p].node] : NULL;
}

/* The live block with the highest offset, or NULL when none is live. */
static inline const heap_shadow_block *heap_shadow_last(const heap_shadow *s)
{
    if (!s->nruns)
        return NULL;
    const heap_shadow_run *r = s->runs[s->nruns - 1];
    return &s->node[r->k[r->n - 1].node];
}

/* Calls fn for every live block in address order until it returns non-zero
 * (then returns 1; else 0). The shadow must not change during the visit. */
static inline int heap_shadow_visit(const heap_shadow *s,
                                    int (*fn)(const heap_shadow_block *b, void *ctx), void *ctx)
{
    for (uint32_t i = 0; i < s->nruns; i++)
        for (uint32_t j = 0; j < s->runs[i]->n; j++)
            if (fn(&s->node[s->runs[i]->k[j].node], ctx))
                return 1;
    return 0;
}

/* Room for one more run in the run arrays; 0, or -1 if realloc failed. */
static inline int heap_shadow_runs_room_(heap_shadow *s)
{
    if (s->nruns < s->runs_cap)
        return 0;
    uint32_t cap = s->runs_cap * 2;
    heap_shadow_run **runs = realloc(s->runs, cap * sizeof *runs);
    if (runs)
        s->runs = runs;
    uint64_t *first = realloc(s->first, cap * sizeof *first);
    if (first)
        s->first = first;
    if (!runs || !first)
        return -1;
    s->runs_cap = cap;
    return 0;
}

/* Puts run r at index i of the run arrays (room made beforehand). */
static inline void heap_shadow_run_insert_(heap_shadow *s, uint32_t i, heap_shadow_run *r)
{
    memmove(&s->runs[i + 1], &s->runs[i], (s->nruns - i) * sizeof *s->runs);
    memmove(&s->first[i + 1], &s->first[i], (s->nruns - i) * sizeof *s->first);
    s->runs[i] = r;
    s->first[i] = r->k[0].off;
    s->nruns++;
}

static inline void heap_shadow_run_delete_(heap_shadow *s, uint32_t i)
{
    free(s->runs[i]);
    memmove(&s->runs[i], &s->runs[i + 1], (s->nruns - i - 1) * sizeof *s->runs);
    memmove(&s->first[i], &s->first[i + 1], (s->nruns - i - 1) * sizeof *s->first);
    s->nruns--;
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
    /* The neighbours in address order: the keys before and at the position. */
    uint32_t i = s->nruns ? heap_shadow_run_of_(s, off) : 0;
    heap_shadow_run *r = s->nruns ? s->runs[i] : NULL;
    uint32_t p = r ? heap_shadow_pos_(r, off) : 0;
    const heap_shadow_block *nb[2] = {NULL, NULL};
    if (r && p > 0)
        nb[0] = &s->node[r->k[p - 1].node];
    else if (r && i > 0)
        nb[0] = &s->node[s->runs[i - 1]->k[s->runs[i - 1]->n - 1].node];
    if (r && p < r->n)
        nb[1] = &s->node[r->k[p].node];
    else if (r && i + 1 < s->nruns)
        nb[1] = &s->node[s->runs[i + 1]->k[0].node];
    for (int q = 0; q < 2; q++) {
        const heap_shadow_block *o = nb[q];
        if (o && o->off < off + requested && off < o->off + o->requested) {
            snprintf(why, len,
                     "block [%" PRIu64 ", +%" PRIu64 ") overlaps live block [%" PRIu64 ", +%" PRIu64
                     ")",
                     off, requested, o->off, o->requested);
            return -1;
        }
    }
    /* Memory first, so that nothing changes when it runs out. */
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
    heap_shadow_run *fresh = NULL;
    if (!r || r->n == HEAP_SHADOW_RUN) {
        fresh = malloc(sizeof *fresh);
        if (!fresh || heap_shadow_runs_room_(s)) {
            free(fresh);
            snprintf(why, len, "shadow: out of host memory");
            return -1;
        }
    }
    uint32_t t = s->free_chain;
    if (t != HEAP_SHADOW_NIL)
        s->free_chain = s->node[t].next_free;
    else
        t = s->count + 1; /* without a free chain, nodes 1..count are exactly the live ones */
    s->node[t] = (heap_shadow_block){.off = off,
                                     .requested = requested,
                                     .rounded = rounded,
                                     .dense = s->count};
    s->dense[s->count++] = t;
    if (!r) { /* the first run */
        fresh->n = 0;
        fresh->k[0].off = off;
        heap_shadow_run_insert_(s, 0, fresh);
        r = fresh;
    } else if (fresh) { /* split the full run: its upper half moves to a new run after it */
        uint32_t half = HEAP_SHADOW_RUN / 2;
        fresh->n = HEAP_SHADOW_RUN - half;
        memcpy(fresh->k, &r->k[half], fresh->n * sizeof r->k[0]);
        r->n = half;
        heap_shadow_run_insert_(s, i + 1, fresh);
        if (p > half) {
            r = fresh;
            p -= half;
            i++;
        }
    }
    memmove(&r->k[p + 1], &r->k[p], (r->n - p) * sizeof r->k[0]);
    r->k[p].off = off;
    r->k[p].node = t;
    r->n++;
    s->first[i] = r->k[0].off;
    s->requested += requested;
    s->rounded += rounded;
    if (!rounded)
        s->rounded_known = 0;
    return 0;
}

/* Forgets the live block at off after the heap freed it, and copies it to
 * *out when out is not NULL. 0, or -1 if no live block starts there. */
static inline int heap_shadow_take(heap_shadow *s, uint64_t off, heap_shadow_block *out)
{
    if (!s->nruns)
        return -1;
    uint32_t i = heap_shadow_run_of_(s, off);
    heap_shadow_run *r = s->runs[i];
    uint32_t p = heap_shadow_pos_(r, off);
    if (p == r->n || r->k[p].off != off)
        return -1;
    uint32_t m = r->k[p].node;
    memmove(&r->k[p], &r->k[p + 1], (r->n - p - 1) * sizeof r->k[0]);
    if (--r->n == 0) {
        heap_shadow_run_delete_(s, i);
    } else {
        s->first[i] = r->k[0].off;
        /* Runs stay at least a quarter full on average: a small run joins the next. */
        if (i + 1 < s->nruns && r->n + s->runs[i + 1]->n <= HEAP_SHADOW_RUN / 2) {
            heap_shadow_run *next = s->runs[i + 1];
            memcpy(&r->k[r->n], next->k, next->n * sizeof r->k[0]);
            r->n += next->n;
            heap_shadow_run_delete_(s, i + 1);
        }
    }
    heap_shadow_block *b = &s->node[m];
    if (out)
        *out = *b;
    s->requested -= b->requested;
    s->rounded -= b->rounded;
    uint32_t last = s->dense[--s->count];
    s->dense[b->dense] = last;
    s->node[last].dense = b->dense;
    b->next_free = s->free_chain;
    s->free_chain = m;
    if (s->count == 0) {
        s->rounded_known = 1;
        s->rounded = 0;
    }
    return 0;
}

/* heap_shadow_take without the copy. */
static inline int heap_shadow_remove(heap_shadow *s, uint64_t off)
{
    return heap_shadow_take(s, off, NULL);
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
