/* evict_policy_cost.c - "cost": GreedyDual-Size over an indexed binary heap.
 *
 * Each evictable handle has a value H = L + reload_ns / size: the modelled
 * cost of bringing it back per byte its eviction frees, plus the inflation
 * value L, which is the H of the latest victim. Victims go in increasing H
 * (ties: older stamp first), so buffers that are cheap to reload per byte go
 * first, and a buffer not used for a while loses to ones used since (their H
 * was set from a larger L). Priority is not used by this policy.
 *
 * Invariant: heap[] is a binary min-heap on (H, stamp) of the n inserted
 * indices, and pos[heap[i]] == i for every i < n. */
#include <stdlib.h>

#include "manager_internal.h"

typedef struct cost_policy {
    uint32_t *heap;   /* [cap] heap order */
    uint32_t *pos;    /* [cap] index -> position in heap */
    double *h;        /* [cap] H of each index (kept after a pop, for unpop) */
    uint64_t *stamp;  /* [cap] */
    uint32_t cap, n;
    double inflation; /* L */
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
    free(p->h);
    free(p->stamp);
    free(p);
}

static vram_status cost_reserve(void *impl, uint32_t n)
{
    cost_policy *p = impl;
    if (n <= p->cap)
        return VRAM_OK;
    uint32_t *heap = realloc(p->heap, (size_t)n * sizeof *heap);
    if (!heap)
        return VRAM_ENOHOST;
    p->heap = heap;
    uint32_t *pos = realloc(p->pos, (size_t)n * sizeof *pos);
    if (!pos)
        return VRAM_ENOHOST;
    p->pos = pos;
    double *h = realloc(p->h, (size_t)n * sizeof *h);
    if (!h)
        return VRAM_ENOHOST;
    p->h = h;
    uint64_t *stamp = realloc(p->stamp, (size_t)n * sizeof *stamp);
    if (!stamp)
        return VRAM_ENOHOST;
    p->stamp = stamp;
    p->cap = n;
    return VRAM_OK;
}

static vram_evict_key cost_key(const void *impl, uint32_t index)
{
    const cost_policy *p = impl;
    return (vram_evict_key){.major = p->h[index], .minor = p->stamp[index]};
}

static int cost_less(const cost_policy *p, uint32_t a, uint32_t b)
{
    vram_evict_key ka = cost_key(p, a), kb = cost_key(p, b);
    return vram_evict_key_cmp(&ka, &kb) < 0;
}

static void cost_place(cost_policy *p, uint32_t at, uint32_t index)
{
    p->heap[at] = index;
    p->pos[index] = at;
}

static void cost_sift_up(cost_policy *p, uint32_t at)
{
    uint32_t index = p->heap[at];
    while (at > 0) {
        uint32_t parent = (at - 1) / 2;
        if (!cost_less(p, index, p->heap[parent]))
            break;
        cost_place(p, at, p->heap[parent]);
        at = parent;
    }
    cost_place(p, at, index);
}

static void cost_sift_down(cost_policy *p, uint32_t at)
{
    uint32_t index = p->heap[at];
    for (;;) {
        uint32_t child = 2 * at + 1;
        if (child >= p->n)
            break;
        if (child + 1 < p->n && cost_less(p, p->heap[child + 1], p->heap[child]))
            child++;
        if (!cost_less(p, p->heap[child], index))
            break;
        cost_place(p, at, p->heap[child]);
        at = child;
    }
    cost_place(p, at, index);
}

static void cost_push(cost_policy *p, uint32_t index)
{
    cost_place(p, p->n++, index);
    cost_sift_up(p, p->n - 1);
}

static double cost_value(const cost_policy *p, const vram_evict_item *it)
{
    return p->inflation + it->reload_ns / (double)(it->size ? it->size : 1);
}

static void cost_insert(void *impl, uint32_t index, const vram_evict_item *it)
{
    cost_policy *p = impl;
    p->h[index] = cost_value(p, it);
    p->stamp[index] = it->last_use;
    cost_push(p, index);
}

static void cost_remove(void *impl, uint32_t index)
{
    cost_policy *p = impl;
    uint32_t at = p->pos[index];
    uint32_t last = p->heap[--p->n];
    if (at == p->n)
        return;
    cost_place(p, at, last);
    cost_sift_up(p, at);
    cost_sift_down(p, p->pos[last]);
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
    *index = p->heap[0];
    *key = cost_key(p, *index);
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
