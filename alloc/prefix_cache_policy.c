/* prefix_cache_policy.c - the prefix cache's eviction policies behind
 * vram_prefix_policy_ops: "vllm" (a free queue), "lru", "lfu" and "priority"
 * (an indexed binary min-heap each, on the key below).
 *
 * "vllm": a doubly linked queue over block numbers (vLLM's
 * FreeKVCacheBlockQueue): insert appends at the tail, pop takes the head,
 * remove unlinks. The order is exactly the order of the inserts, which the
 * cache makes from the last block of a released chain to the first.
 * Invariant: the links of the members form one list from head to tail with
 * consistent back links, and its length is n.
 *
 * Heap policies: the key is three unsigned words compared in order:
 *   lru       (stamp, deeper first, block)
 *   lfu       (hits, stamp, deeper first and block)
 *   priority  (priority, stamp, deeper first and block)
 * so a victim is the minimum and ties never depend on the heap's shape.
 * Invariant: heap[0 .. n) is a min-heap on the key, and pos[heap[i].block]
 * == i for every i; pos is PC_NIL for every other block. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "prefix_cache_internal.h"

/* ---- vllm: the free queue ---- */

typedef struct queue_policy {
    uint32_t *prev, *next; /* [nblocks] */
    uint8_t *in;           /* [nblocks] membership */
    uint32_t head, tail, nblocks;
    uint64_t n;
} queue_policy;

static void queue_destroy(void *impl)
{
    queue_policy *q = impl;
    if (!q)
        return;
    free(q->prev);
    free(q->next);
    free(q->in);
    free(q);
}

static vram_status queue_create(uint32_t nblocks, void **impl)
{
    queue_policy *q = calloc(1, sizeof *q);
    if (!q)
        return VRAM_ENOHOST;
    q->prev = malloc((size_t)nblocks * sizeof *q->prev);
    q->next = malloc((size_t)nblocks * sizeof *q->next);
    q->in = calloc(nblocks, 1);
    if (!q->prev || !q->next || !q->in) {
        queue_destroy(q);
        return VRAM_ENOHOST;
    }
    q->head = q->tail = PC_NIL;
    q->nblocks = nblocks;
    *impl = q;
    return VRAM_OK;
}

static void queue_insert(void *impl, uint32_t b, const vram_prefix_item *it)
{
    (void)it;
    queue_policy *q = impl;
    q->prev[b] = q->tail;
    q->next[b] = PC_NIL;
    if (q->tail != PC_NIL)
        q->next[q->tail] = b;
    else
        q->head = b;
    q->tail = b;
    q->in[b] = 1;
    q->n++;
}

static void queue_remove(void *impl, uint32_t b)
{
    queue_policy *q = impl;
    if (q->prev[b] != PC_NIL)
        q->next[q->prev[b]] = q->next[b];
    else
        q->head = q->next[b];
    if (q->next[b] != PC_NIL)
        q->prev[q->next[b]] = q->prev[b];
    else
        q->tail = q->prev[b];
    q->in[b] = 0;
    q->n--;
}

static int queue_pop(void *impl, uint32_t *b)
{
    queue_policy *q = impl;
    if (q->head == PC_NIL)
        return 0;
    *b = q->head;
    queue_remove(q, q->head);
    return 1;
}

static int queue_member(const void *impl, uint32_t b) { return ((const queue_policy *)impl)->in[b]; }
static uint64_t queue_count(const void *impl) { return ((const queue_policy *)impl)->n; }

static vram_status queue_check(const void *impl, char *msg, size_t len)
{
    const queue_policy *q = impl;
    uint64_t listed = 0, flagged = 0;
    uint32_t prev = PC_NIL;
    for (uint32_t b = q->head; b != PC_NIL; prev = b, b = q->next[b]) {
        if (b >= q->nblocks)
            return vram__violation(msg, len, "free queue: block %u out of range", b);
        if (!q->in[b])
            return vram__violation(msg, len, "free queue: block %u listed but not marked", b);
        if (q->prev[b] != prev)
            return vram__violation(msg, len, "free queue: back link of block %u broken", b);
        if (++listed > q->n)
            return vram__violation(msg, len, "free queue longer than its count %" PRIu64, q->n);
    }
    if (prev != q->tail)
        return vram__violation(msg, len, "free queue: tail is not the last block listed");
    for (uint32_t b = 0; b < q->nblocks; b++)
        flagged += q->in[b];
    if (listed != q->n || flagged != q->n)
        return vram__violation(msg, len, "free queue: %" PRIu64 " listed, %" PRIu64
                               " marked, count %" PRIu64, listed, flagged, q->n);
    return VRAM_OK;
}

const vram_prefix_policy_ops vram__prefix_vllm_ops = {
    .name = "vllm",
    .leaf_only = 0,
    .create = queue_create,
    .destroy = queue_destroy,
    .insert = queue_insert,
    .remove = queue_remove,
    .pop = queue_pop,
    .member = queue_member,
    .count = queue_count,
    .check = queue_check,
};

/* ---- the heap policies ---- */

typedef struct heap_entry {
    uint64_t k1, k2, k3;
    uint32_t block;
} heap_entry;

typedef enum { KEY_LRU, KEY_LFU, KEY_PRIORITY } key_kind;

typedef struct heap_policy {
    key_kind kind;
    heap_entry *heap;  /* [nblocks] */
    uint32_t *pos;     /* [nblocks] */
    uint32_t nblocks, n;
} heap_policy;

/* Deeper first, then the lower block number. */
static inline uint64_t depth_block(uint32_t depth, uint32_t b)
{
    return (uint64_t)(UINT32_MAX - depth) << 32 | b;
}

static heap_entry key_of(key_kind kind, uint32_t b, const vram_prefix_item *it)
{
    heap_entry e = {.block = b};
    switch (kind) {
    case KEY_LRU:
        e.k1 = it->stamp;
        e.k2 = depth_block(it->depth, b);
        break;
    case KEY_LFU:
        e.k1 = it->hits;
        e.k2 = it->stamp;
        e.k3 = depth_block(it->depth, b);
        break;
    case KEY_PRIORITY:
        e.k1 = (uint64_t)(int64_t)it->priority ^ UINT64_C(0x8000000000000000); /* signed order */
        e.k2 = it->stamp;
        e.k3 = depth_block(it->depth, b);
        break;
    }
    return e;
}

static inline int less(const heap_entry *a, const heap_entry *b)
{
    if (a->k1 != b->k1)
        return a->k1 < b->k1;
    if (a->k2 != b->k2)
        return a->k2 < b->k2;
    return a->k3 < b->k3;
}

static void heap_destroy(void *impl)
{
    heap_policy *p = impl;
    if (!p)
        return;
    free(p->heap);
    free(p->pos);
    free(p);
}

static vram_status heap_create(uint32_t nblocks, key_kind kind, void **impl)
{
    heap_policy *p = calloc(1, sizeof *p);
    if (!p)
        return VRAM_ENOHOST;
    p->kind = kind;
    p->heap = malloc((size_t)nblocks * sizeof *p->heap);
    p->pos = malloc((size_t)nblocks * sizeof *p->pos);
    if (!p->heap || !p->pos) {
        heap_destroy(p);
        return VRAM_ENOHOST;
    }
    memset(p->pos, 0xff, (size_t)nblocks * sizeof *p->pos);
    p->nblocks = nblocks;
    *impl = p;
    return VRAM_OK;
}

static vram_status lru_create(uint32_t n, void **impl) { return heap_create(n, KEY_LRU, impl); }
static vram_status lfu_create(uint32_t n, void **impl) { return heap_create(n, KEY_LFU, impl); }
static vram_status prio_create(uint32_t n, void **impl) { return heap_create(n, KEY_PRIORITY, impl); }

static inline void place(heap_policy *p, uint32_t i, const heap_entry *e)
{
    p->heap[i] = *e;
    p->pos[e->block] = i;
}

static void sift_up(heap_policy *p, uint32_t i, heap_entry e)
{
    while (i > 0) {
        uint32_t up = (i - 1) / 2;
        if (!less(&e, &p->heap[up]))
            break;
        place(p, i, &p->heap[up]);
        i = up;
    }
    place(p, i, &e);
}

static void sift_down(heap_policy *p, uint32_t i, heap_entry e)
{
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= p->n)
            break;
        if (c + 1 < p->n && less(&p->heap[c + 1], &p->heap[c]))
            c++;
        if (!less(&p->heap[c], &e))
            break;
        place(p, i, &p->heap[c]);
        i = c;
    }
    place(p, i, &e);
}

static void heap_insert(void *impl, uint32_t b, const vram_prefix_item *it)
{
    heap_policy *p = impl;
    sift_up(p, p->n++, key_of(p->kind, b, it));
}

static void heap_remove(void *impl, uint32_t b)
{
    heap_policy *p = impl;
    uint32_t i = p->pos[b];
    p->pos[b] = PC_NIL;
    heap_entry last = p->heap[--p->n];
    if (i == p->n)
        return;
    if (i > 0 && less(&last, &p->heap[(i - 1) / 2]))
        sift_up(p, i, last);
    else
        sift_down(p, i, last);
}

static int heap_pop(void *impl, uint32_t *b)
{
    heap_policy *p = impl;
    if (!p->n)
        return 0;
    *b = p->heap[0].block;
    heap_remove(p, *b);
    return 1;
}

static int heap_member(const void *impl, uint32_t b)
{
    return ((const heap_policy *)impl)->pos[b] != PC_NIL;
}

static uint64_t heap_count(const void *impl) { return ((const heap_policy *)impl)->n; }

static vram_status heap_check(const void *impl, char *msg, size_t len)
{
    const heap_policy *p = impl;
    uint64_t members = 0;
    for (uint32_t i = 0; i < p->n; i++) {
        const heap_entry *e = &p->heap[i];
        if (e->block >= p->nblocks || p->pos[e->block] != i)
            return vram__violation(msg, len, "heap entry %u (block %u): position index broken",
                                   i, e->block);
        if (i > 0 && less(e, &p->heap[(i - 1) / 2]))
            return vram__violation(msg, len, "heap entry %u (block %u) goes before its parent",
                                   i, e->block);
    }
    for (uint32_t b = 0; b < p->nblocks; b++)
        members += p->pos[b] != PC_NIL;
    if (members != p->n)
        return vram__violation(msg, len, "heap: %" PRIu64 " blocks have a position, %u entries",
                               members, p->n);
    return VRAM_OK;
}

#define HEAP_OPS(NAME, CREATE)                                                                     \
    {                                                                                              \
        .name = NAME, .leaf_only = 1, .create = CREATE, .destroy = heap_destroy,                   \
        .insert = heap_insert, .remove = heap_remove, .pop = heap_pop, .member = heap_member,      \
        .count = heap_count, .check = heap_check,                                                  \
    }

const vram_prefix_policy_ops vram__prefix_lru_ops = HEAP_OPS("lru", lru_create);
const vram_prefix_policy_ops vram__prefix_lfu_ops = HEAP_OPS("lfu", lfu_create);
const vram_prefix_policy_ops vram__prefix_priority_ops = HEAP_OPS("priority", prio_create);

const char *const vram_prefix_policy_names[] = {"vllm", "lru", "lfu", "priority", NULL};

const vram_prefix_policy_ops *vram_prefix_policy(const char *name)
{
    static const vram_prefix_policy_ops *const tables[] = {
        &vram__prefix_vllm_ops, &vram__prefix_lru_ops, &vram__prefix_lfu_ops,
        &vram__prefix_priority_ops};
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        if (!strcmp(name, tables[i]->name))
            return tables[i];
    return NULL;
}
