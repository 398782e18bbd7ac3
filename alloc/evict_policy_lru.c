/* evict_policy_lru.c - the list policies: "prio-lru" and "lru".
 *
 * Evictable handles sit in intrusive doubly linked lists (links indexed by
 * handle index), one list per distinct priority; "lru" puts everything in the
 * priority-0 list. The lists' heads live in a small array sorted by priority,
 * so the next victim is the head of the first list: constant time.
 *
 * Invariant: within a list, stamps increase from head to tail, because insert
 * and touch append with the newest stamp of the manager's clock and unpop puts
 * the handle back at the head it was popped from. A priority has an entry in
 * the array exactly while its list is non-empty. */
#include <stdlib.h>
#include <string.h>

#include "manager_internal.h"

#define NIL UINT32_MAX

typedef struct lru_node {
    uint32_t prev, next;
    int prio;
    uint64_t stamp;
} lru_node;

typedef struct lru_list {
    int prio;
    uint32_t head, tail;
} lru_list;

typedef struct lru_policy {
    int by_priority;     /* 0: "lru", every handle in the priority-0 list */
    lru_node *nodes;     /* [cap] */
    lru_list *lists;     /* [cap]: at most one list per inserted handle; nlists used, sorted */
    uint32_t cap, nlists;
    uint64_t count;
} lru_policy;

static vram_status lru_create_common(void **impl, int by_priority)
{
    lru_policy *p = calloc(1, sizeof *p);
    if (!p)
        return VRAM_ENOHOST;
    p->by_priority = by_priority;
    *impl = p;
    return VRAM_OK;
}

static vram_status prio_lru_create(void **impl) { return lru_create_common(impl, 1); }
static vram_status plain_lru_create(void **impl) { return lru_create_common(impl, 0); }

static void lru_destroy(void *impl)
{
    lru_policy *p = impl;
    if (!p)
        return;
    free(p->nodes);
    free(p->lists);
    free(p);
}

static vram_status lru_reserve(void *impl, uint32_t n)
{
    lru_policy *p = impl;
    if (n <= p->cap)
        return VRAM_OK;
    lru_node *nodes = realloc(p->nodes, (size_t)n * sizeof *nodes);
    if (!nodes)
        return VRAM_ENOHOST;
    p->nodes = nodes;
    lru_list *lists = realloc(p->lists, (size_t)n * sizeof *lists);
    if (!lists)
        return VRAM_ENOHOST;
    p->lists = lists;
    p->cap = n;
    return VRAM_OK;
}

/* Position of the list of `prio` in the sorted array, or where it would go. */
static uint32_t lru_find(const lru_policy *p, int prio, int *found)
{
    uint32_t lo = 0, hi = p->nlists;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p->lists[mid].prio < prio)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < p->nlists && p->lists[lo].prio == prio;
    return lo;
}

/* The list of `prio`, created empty if absent (the array has room: see lists). */
static lru_list *lru_list_of(lru_policy *p, int prio)
{
    int found;
    uint32_t at = lru_find(p, prio, &found);
    if (!found) {
        memmove(&p->lists[at + 1], &p->lists[at], (size_t)(p->nlists - at) * sizeof p->lists[0]);
        p->lists[at] = (lru_list){.prio = prio, .head = NIL, .tail = NIL};
        p->nlists++;
    }
    return &p->lists[at];
}

static int lru_prio(const lru_policy *p, int prio) { return p->by_priority ? prio : 0; }

static void lru_append(lru_policy *p, uint32_t index)
{
    lru_node *n = &p->nodes[index];
    lru_list *l = lru_list_of(p, n->prio);
    n->next = NIL;
    n->prev = l->tail;
    if (l->tail != NIL)
        p->nodes[l->tail].next = index;
    else
        l->head = index;
    l->tail = index;
    p->count++;
}

static void lru_unlink(lru_policy *p, uint32_t index)
{
    lru_node *n = &p->nodes[index];
    int found;
    uint32_t at = lru_find(p, n->prio, &found);
    lru_list *l = &p->lists[at];
    if (n->prev != NIL)
        p->nodes[n->prev].next = n->next;
    else
        l->head = n->next;
    if (n->next != NIL)
        p->nodes[n->next].prev = n->prev;
    else
        l->tail = n->prev;
    p->count--;
    if (l->head == NIL) {
        memmove(&p->lists[at], &p->lists[at + 1], (size_t)(p->nlists - at - 1) * sizeof p->lists[0]);
        p->nlists--;
    }
}

static void lru_insert(void *impl, uint32_t index, const vram_evict_item *it)
{
    lru_policy *p = impl;
    p->nodes[index].prio = lru_prio(p, it->priority);
    p->nodes[index].stamp = it->last_use;
    lru_append(p, index);
}

static void lru_remove(void *impl, uint32_t index) { lru_unlink(impl, index); }

static void lru_touch(void *impl, uint32_t index, const vram_evict_item *it)
{
    lru_policy *p = impl;
    lru_unlink(p, index);
    p->nodes[index].stamp = it->last_use;
    lru_append(p, index);
}

static vram_evict_key lru_key(const void *impl, uint32_t index)
{
    const lru_policy *p = impl;
    return (vram_evict_key){.major = p->nodes[index].prio, .minor = p->nodes[index].stamp};
}

static int lru_pop(void *impl, uint32_t *index, vram_evict_key *key)
{
    lru_policy *p = impl;
    if (p->nlists == 0)
        return 0;
    *index = p->lists[0].head;
    *key = lru_key(p, *index);
    lru_unlink(p, *index);
    return 1;
}

static void lru_unpop(void *impl, uint32_t index)
{
    lru_policy *p = impl;
    lru_node *n = &p->nodes[index];
    lru_list *l = lru_list_of(p, n->prio);
    n->prev = NIL;
    n->next = l->head;
    if (l->head != NIL)
        p->nodes[l->head].prev = index;
    else
        l->tail = index;
    l->head = index;
    p->count++;
}

static void lru_evicted(void *impl, const vram_evict_key *key)
{
    (void)impl;
    (void)key;
}

static uint64_t lru_count(const void *impl) { return ((const lru_policy *)impl)->count; }

const vram_evict_ops vram__evict_prio_lru_ops = {
    .name = "prio-lru", .create = prio_lru_create, .destroy = lru_destroy,
    .reserve = lru_reserve, .insert = lru_insert, .remove = lru_remove,
    .touch = lru_touch, .pop = lru_pop, .unpop = lru_unpop,
    .evicted = lru_evicted, .key = lru_key, .count = lru_count,
};

const vram_evict_ops vram__evict_lru_ops = {
    .name = "lru", .create = plain_lru_create, .destroy = lru_destroy,
    .reserve = lru_reserve, .insert = lru_insert, .remove = lru_remove,
    .touch = lru_touch, .pop = lru_pop, .unpop = lru_unpop,
    .evicted = lru_evicted, .key = lru_key, .count = lru_count,
};
