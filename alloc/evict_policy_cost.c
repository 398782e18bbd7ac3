/* evict_policy_cost.c - "cost": GreedyDual-Size over an indexed binary heap.
 *
 * Each evictable handle has a value H = L + reload_ns / size: the modelled
 * cost of bringing it back per byte its eviction frees, plus the inflation
 * value L, which is the H of the latest victim. Victims go in increasing H
 * (ties: older stamp first), so buffers that are cheap to reload per byte go
 * first, and a buffer not used for a while loses to ones used since (their H
 * was set from a larger L). Priority is not used by this policy.
 *
 * Invariant: heap[0, n) is a binary min-heap on (h, stamp) of the inserted
 * indices, each entry carrying its key (for locality), and
 * pos[heap[i].index] == i for every i < n. key[index] keeps the key of every
 * index ever inserted (a popped index gets it back on unpop). */
#include <stdlib.h>

#include "manager_internal.h"

typedef struct cost_entry {
    double h;
    uint64_t stamp;
    uint32_t index;
} cost_entry;

typedef struct cost_policy {
    cost_entry *heap;    /* [cap] heap order */
    uint32_t *pos;       /* [cap] index -> position in heap */
    vram_evict_key *key; /* [cap] index -> its latest key */
    uint32_t cap, n;
    double inflation;    /* L */
} cost_policy;

static vram_status cost_create(void **impl)
{
    cost_policy *p = calloc(1, sizeof *p);
    if (!p)
        return VRAM_ENOHOST;
    *impl = p;
    return VRAM_OK;
}

static void cost_destroy(void *impl)
{
    cost_policy *p = impl;
    if (!p)
        return;
    free(p->heap);
    free(p->pos);
    free(p->key);
    free(p);
}

static vram_status cost_reserve(void *impl, uint32_t n)
{
    cost_policy *p = impl;
    if (n <= p->cap)
        return VRAM_OK;
    cost_entry *heap = realloc(p->heap, (size_t)n * sizeof *heap);
    if (!heap)
        return VRAM_ENOHOST;
    p->heap = heap;
    uint32_t *pos = realloc(p->pos, (size_t)n * sizeof *pos);
    if (!pos)
        return VRAM_ENOHOST;
    p->pos = pos;
    vram_evict_key *key = realloc(p->key, (size_t)n * sizeof *key);
    if (!key)
        return VRAM_ENOHOST;
    p->key = key;
    p->cap = n;
    return VRAM_OK;
}

static vram_evict_key cost_key(const void *impl, uint32_t index)
{
    return ((const cost_policy *)impl)->key[index];
}

static inline int cost_less(const cost_entry *a, const cost_entry *b)
{
    return a->h < b->h || (a->h == b->h && a->stamp < b->stamp);
}

static inline void cost_place(cost_policy *p, uint32_t at, cost_entry e)
{
    p->heap[at] = e;
    p->pos[e.index] = at;
}

static void cost_sift_up(cost_policy *p, uint32_t at)
{
    cost_entry e = p->heap[at];
    while (at > 0) {
        uint32_t parent = (at - 1) / 2;
        if (!cost_less(&e, &p->heap[parent]))
            break;
        cost_place(p, at, p->heap[parent]);
        at = parent;
    }
    cost_place(p, at, e);
}

static void cost_sift_down(cost_policy *p, uint32_t at)
{
    cost_entry e = p->heap[at];
    for (;;) {
        uint32_t child = 2 * at + 1;
        if (child >= p->n)
            break;
        if (child + 1 < p->n && cost_less(&p->heap[child + 1], &p->heap[child]))
            child++;
        if (!cost_less(&p->heap[child], &e))
            break;
        cost_place(p, at, p->heap[child]);
        at = child;
    }
    cost_place(p, at, e);
}

/* Adds the index with its kept key. */
static void cost_push(cost_policy *p, uint32_t index)
{
    cost_entry e = {.h = p->key[index].major, .stamp = p->key[index].minor, .index = index};
    cost_place(p, p->n++, e);
    cost_sift_up(p, p->n - 1);
}

static void cost_insert(void *impl, uint32_t index, const vram_evict_item *it)
{
    cost_policy *p = impl;
    double per_byte = it->reload_ns / (double)(it->size ? it->size : 1);
    p->key[index] = (vram_evict_key){.major = p->inflation + per_byte, .minor = it->last_use};
    cost_push(p, index);
}

static void cost_remove(void *impl, uint32_t index)
{
    cost_policy *p = impl;
    uint32_t at = p->pos[index];
    cost_entry last = p->heap[--p->n];
    if (at == p->n)
        return;
    cost_place(p, at, last);
    cost_sift_up(p, at);
    cost_sift_down(p, p->pos[last.index]);
}

static void cost_touch(void *impl, uint32_t index, const vram_evict_item *it)
{
    cost_remove(impl, index);
    cost_insert(impl, index, it);
}

static int cost_pop(void *impl, uint32_t *index, vram_evict_key *key)
{
    cost_policy *p = impl;
    if (p->n == 0)
        return 0;
    *index = p->heap[0].index;
    *key = p->key[*index];
    cost_remove(p, *index);
    return 1;
}

static void cost_unpop(void *impl, uint32_t index) { cost_push(impl, index); }

static void cost_evicted(void *impl, const vram_evict_key *key)
{
    cost_policy *p = impl;
    if (key->major > p->inflation)
        p->inflation = key->major;
}

static uint64_t cost_count(const void *impl) { return ((const cost_policy *)impl)->n; }

const vram_evict_ops vram__evict_cost_ops = {
    .name = "cost", .create = cost_create, .destroy = cost_destroy,
    .reserve = cost_reserve, .insert = cost_insert, .remove = cost_remove,
    .touch = cost_touch, .pop = cost_pop, .unpop = cost_unpop,
    .evicted = cost_evicted, .key = cost_key, .count = cost_count,
};
