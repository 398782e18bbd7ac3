/* prefix_cache_policy.c - the prefix cache's eviction policies behind
 * vram_prefix_policy_ops: "vllm" (a free queue) and "lru", "lfu", "priority"
 * (keyed: lists per class plus a side heap).
 *
 * "vllm": a doubly linked queue over block numbers (vLLM's
 * FreeKVCacheBlockQueue): insert appends at the tail, pop takes the head,
 * remove unlinks. The order is exactly the order of the inserts, which the
 * cache makes from the last block of a released chain to the first.
 * Invariant: the links of the members form one list from head to tail with
 * consistent back links, and its length is n.
 *
 * Keyed policies: a victim is the member with the smallest key, three
 * unsigned words compared in order (the class first):
 *   lru       (0, stamp, deeper first and block)
 *   lfu       (hits, stamp, deeper first and block)
 *   priority  (priority, stamp, deeper first and block)
 * so ties never depend on the structure's shape. Keys mostly arrive in order
 * within their class (a release stamps its blocks with the newest tick), so
 * each class has a list that an insert appends to in O(1) when the key is not
 * below the list's tail; the lists of the classes in use (up to 64) are in an
 * array sorted by class. A key that arrives out of order (a parent that
 * becomes a leaf when its child is evicted keeps its older stamp), or whose
 * class finds no list slot, goes to a side binary heap, O(log h) in its size.
 * The victim is the smaller of the first list's head and the heap's top.
 * Invariants: every list is in key order and non-empty, the lists are in
 * strictly increasing class order, the heap is a min-heap with hpos[heap[i]]
 * == i, and where[] marks exactly the list and heap members. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "prefix_cache_internal.h"

/* ---- vllm: the free queue ---- */

#define OUT (PC_NIL - 1) /* next of a block not in the queue */

typedef struct queue_node {
    uint32_t prev, next; /* next == OUT: not a member */
} queue_node;

typedef struct queue_policy {
    queue_node *node; /* [nblocks]: one 8-byte record per block, one cache line for both links */
    uint32_t head, tail, nblocks;
    uint64_t n;
} queue_policy;

static void queue_destroy(void *impl)
{
    queue_policy *q = impl;
    if (!q)
        return;
    free(q->node);
    free(q);
}

static vram_status queue_create(uint32_t nblocks, void **impl)
{
    queue_policy *q = calloc(1, sizeof *q);
    if (!q)
        return VRAM_ENOHOST;
    q->node = vram__pc_zalloc(nblocks, sizeof *q->node);
    if (!q->node) {
        queue_destroy(q);
        return VRAM_ENOHOST;
    }
    for (uint32_t b = 0; b < nblocks; b++)
        q->node[b] = (queue_node){PC_NIL, OUT};
    q->head = q->tail = PC_NIL;
    q->nblocks = nblocks;
    *impl = q;
    return VRAM_OK;
}

static void queue_insert(void *impl, uint32_t b, const vram_prefix_item *it)
{
    (void)it;
    queue_policy *q = impl;
    q->node[b] = (queue_node){q->tail, PC_NIL};
    if (q->tail != PC_NIL)
        q->node[q->tail].next = b;
    else
        q->head = b;
    q->tail = b;
    q->n++;
}

static void queue_remove(void *impl, uint32_t b)
{
    queue_policy *q = impl;
    queue_node x = q->node[b];
    if (x.prev != PC_NIL)
        q->node[x.prev].next = x.next;
    else
        q->head = x.next;
    if (x.next != PC_NIL)
        q->node[x.next].prev = x.prev;
    else
        q->tail = x.prev;
    q->node[b] = (queue_node){PC_NIL, OUT};
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

static int queue_peek(const void *impl, uint32_t *next, int max)
{
    const queue_policy *q = impl;
    int k = 0;
    for (uint32_t b = q->head; b != PC_NIL && k < max; b = q->node[b].next)
        next[k++] = b;
    return k;
}

static int queue_member(const void *impl, uint32_t b)
{
    return ((const queue_policy *)impl)->node[b].next != OUT;
}

static uint64_t queue_count(const void *impl) { return ((const queue_policy *)impl)->n; }

static vram_status queue_check(const void *impl, char *msg, size_t len)
{
    const queue_policy *q = impl;
    uint64_t listed = 0, flagged = 0;
    uint32_t prev = PC_NIL;
    for (uint32_t b = q->head; b != PC_NIL; prev = b, b = q->node[b].next) {
        if (b >= q->nblocks)
            return vram__violation(msg, len, "free queue: block %u out of range", b);
        if (q->node[b].next == OUT)
            return vram__violation(msg, len, "free queue: block %u listed but not marked", b);
        if (q->node[b].prev != prev)
            return vram__violation(msg, len, "free queue: back link of block %u broken", b);
        if (++listed > q->n)
            return vram__violation(msg, len, "free queue longer than its count %" PRIu64, q->n);
    }
    if (prev != q->tail)
        return vram__violation(msg, len, "free queue: tail is not the last block listed");
    for (uint32_t b = 0; b < q->nblocks; b++)
        flagged += q->node[b].next != OUT;
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
    .peek = queue_peek,
};

/* ---- the keyed policies: lru, lfu, priority ---- */

typedef struct key3 {
    uint64_t cls, k2, k3; /* compared in this order */
} key3;

typedef enum { KEY_LRU, KEY_LFU, KEY_PRIORITY } key_kind;

enum { NOWHERE = 0, IN_LIST = 1, IN_HEAP = 2 };
#define MAX_CLASSES 64

typedef struct klist {
    uint64_t cls;
    uint32_t head, tail;
} klist;

typedef struct keyed_policy {
    key_kind kind;
    uint32_t nblocks, n;
    key3 *key;         /* [nblocks] the key of each member */
    queue_node *node;  /* [nblocks] list links of list members */
    uint8_t *where;    /* [nblocks] NOWHERE, IN_LIST, IN_HEAP */
    uint32_t *hpos;    /* [nblocks] position in heap of heap members */
    uint32_t *heap;    /* [nblocks] block numbers, a min-heap on key */
    uint32_t nheap;
    klist lists[MAX_CLASSES]; /* non-empty lists, sorted by class */
    uint32_t nlists;
} keyed_policy;

/* Deeper first, then the lower block number. */
static inline uint64_t depth_block(uint32_t depth, uint32_t b)
{
    return (uint64_t)(UINT32_MAX - depth) << 32 | b;
}

static key3 key_of(key_kind kind, uint32_t b, const vram_prefix_item *it)
{
    key3 k = {0, it->stamp, depth_block(it->depth, b)};
    if (kind == KEY_LFU)
        k.cls = it->hits;
    else if (kind == KEY_PRIORITY)
        k.cls = (uint64_t)(int64_t)it->priority ^ UINT64_C(0x8000000000000000); /* signed order */
    return k;
}

static inline int key_less(const key3 *a, const key3 *b)
{
    if (a->cls != b->cls)
        return a->cls < b->cls;
    if (a->k2 != b->k2)
        return a->k2 < b->k2;
    return a->k3 < b->k3;
}

static inline int block_less(const keyed_policy *p, uint32_t a, uint32_t b)
{
    return key_less(&p->key[a], &p->key[b]);
}

static void keyed_destroy(void *impl)
{
    keyed_policy *p = impl;
    if (!p)
        return;
    free(p->key);
    free(p->node);
    free(p->where);
    free(p->hpos);
    free(p->heap);
    free(p);
}

static vram_status keyed_create(uint32_t nblocks, key_kind kind, void **impl)
{
    keyed_policy *p = calloc(1, sizeof *p);
    if (!p)
        return VRAM_ENOHOST;
    p->kind = kind;
    p->nblocks = nblocks;
    p->key = vram__pc_zalloc(nblocks, sizeof *p->key);
    p->node = vram__pc_zalloc(nblocks, sizeof *p->node);
    p->where = vram__pc_zalloc(nblocks, 1);
    p->hpos = vram__pc_zalloc(nblocks, sizeof *p->hpos);
    p->heap = vram__pc_zalloc(nblocks, sizeof *p->heap);
    if (!p->key || !p->node || !p->where || !p->hpos || !p->heap) {
        keyed_destroy(p);
        return VRAM_ENOHOST;
    }
    *impl = p;
    return VRAM_OK;
}

static vram_status lru_create(uint32_t n, void **impl) { return keyed_create(n, KEY_LRU, impl); }
static vram_status lfu_create(uint32_t n, void **impl) { return keyed_create(n, KEY_LFU, impl); }
static vram_status prio_create(uint32_t n, void **impl) { return keyed_create(n, KEY_PRIORITY, impl); }

/* -- the side heap -- */

static inline void hplace(keyed_policy *p, uint32_t i, uint32_t b)
{
    p->heap[i] = b;
    p->hpos[b] = i;
}

static void sift_up(keyed_policy *p, uint32_t i, uint32_t b)
{
    while (i > 0) {
        uint32_t up = (i - 1) / 2;
        if (!block_less(p, b, p->heap[up]))
            break;
        hplace(p, i, p->heap[up]);
        i = up;
    }
    hplace(p, i, b);
}

static void sift_down(keyed_policy *p, uint32_t i, uint32_t b)
{
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= p->nheap)
            break;
        if (c + 1 < p->nheap && block_less(p, p->heap[c + 1], p->heap[c]))
            c++;
        if (!block_less(p, p->heap[c], b))
            break;
        hplace(p, i, p->heap[c]);
        i = c;
    }
    hplace(p, i, b);
}

static void heap_del(keyed_policy *p, uint32_t b)
{
    uint32_t i = p->hpos[b];
    uint32_t last = p->heap[--p->nheap];
    if (i == p->nheap)
        return;
    if (i > 0 && block_less(p, last, p->heap[(i - 1) / 2]))
        sift_up(p, i, last);
    else
        sift_down(p, i, last);
}

/* -- the lists -- */

/* The index of the list of class cls, or where it would go (*found 0). */
static uint32_t list_find(const keyed_policy *p, uint64_t cls, int *found)
{
    uint32_t lo = 0, hi = p->nlists;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (p->lists[mid].cls < cls)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < p->nlists && p->lists[lo].cls == cls;
    return lo;
}

static void list_unlink(keyed_policy *p, uint32_t b)
{
    int found;
    uint32_t li = list_find(p, p->key[b].cls, &found);
    klist *l = &p->lists[li];
    queue_node x = p->node[b];
    if (x.prev != PC_NIL)
        p->node[x.prev].next = x.next;
    else
        l->head = x.next;
    if (x.next != PC_NIL)
        p->node[x.next].prev = x.prev;
    else
        l->tail = x.prev;
    if (l->head == PC_NIL) {
        memmove(l, l + 1, (p->nlists - li - 1) * sizeof *l);
        p->nlists--;
    }
}

/* A key arriving in order (not below its class's tail) is appended to the
 * class's list; one below it, or of a new class when MAX_CLASSES lists are
 * in use, goes to the side heap. */
static void keyed_insert(void *impl, uint32_t b, const vram_prefix_item *it)
{
    keyed_policy *p = impl;
    key3 k = key_of(p->kind, b, it);
    p->key[b] = k;
    p->n++;
    int found;
    uint32_t li = list_find(p, k.cls, &found);
    if (found && !key_less(&k, &p->key[p->lists[li].tail])) {
        klist *l = &p->lists[li];
        p->node[b] = (queue_node){l->tail, PC_NIL};
        p->node[l->tail].next = b;
        l->tail = b;
        p->where[b] = IN_LIST;
    } else if (!found && p->nlists < MAX_CLASSES) {
        memmove(&p->lists[li + 1], &p->lists[li], (p->nlists - li) * sizeof p->lists[0]);
        p->lists[li] = (klist){k.cls, b, b};
        p->nlists++;
        p->node[b] = (queue_node){PC_NIL, PC_NIL};
        p->where[b] = IN_LIST;
    } else {
        p->where[b] = IN_HEAP;
        sift_up(p, p->nheap++, b);
    }
}

static void keyed_remove(void *impl, uint32_t b)
{
    keyed_policy *p = impl;
    if (p->where[b] == IN_LIST)
        list_unlink(p, b);
    else
        heap_del(p, b);
    p->where[b] = NOWHERE;
    p->n--;
}

/* The smallest member: the first list's head or the heap's top. */
static uint32_t keyed_min(const keyed_policy *p)
{
    uint32_t a = p->nlists ? p->lists[0].head : PC_NIL;
    uint32_t h = p->nheap ? p->heap[0] : PC_NIL;
    if (a == PC_NIL || (h != PC_NIL && block_less(p, h, a)))
        return h;
    return a;
}

static int keyed_pop(void *impl, uint32_t *b)
{
    keyed_policy *p = impl;
    if (!p->n)
        return 0;
    *b = keyed_min(p);
    keyed_remove(p, *b);
    return 1;
}

/* The heap members that keyed_peek orders: heap[0 .. HEAP_AHEAD) holds the
 * heap's three smallest (a third smallest is a child of the first or the
 * second), so the first three it gives from the heap are exact. */
#define HEAP_AHEAD 7

/* The lists merged with the heap's first entries: the lists' concatenation
 * is in key order (each list is, and the lists are in class order), so the
 * first three victims are exact and the rest a hint. */
static int keyed_peek(const void *impl, uint32_t *next, int max)
{
    const keyed_policy *p = impl;
    uint32_t h[HEAP_AHEAD];
    int nh = 0;
    for (uint32_t i = 0; i < p->nheap && i < HEAP_AHEAD; i++) {
        int j = nh++;
        for (; j > 0 && block_less(p, p->heap[i], h[j - 1]); j--)
            h[j] = h[j - 1];
        h[j] = p->heap[i];
    }
    uint32_t li = 0, l = p->nlists ? p->lists[0].head : PC_NIL;
    int k = 0, hi = 0;
    while (k < max && (l != PC_NIL || hi < nh)) {
        if (l == PC_NIL || (hi < nh && block_less(p, h[hi], l))) {
            next[k++] = h[hi++];
            continue;
        }
        next[k++] = l;
        l = p->node[l].next;
        if (l == PC_NIL && ++li < p->nlists)
            l = p->lists[li].head;
    }
    return k;
}

static int keyed_member(const void *impl, uint32_t b)
{
    return ((const keyed_policy *)impl)->where[b] != NOWHERE;
}

static uint64_t keyed_count(const void *impl) { return ((const keyed_policy *)impl)->n; }

static vram_status keyed_check(const void *impl, char *msg, size_t len)
{
    const keyed_policy *p = impl;
    uint64_t listed = 0, in_list = 0, in_heap = 0;
    for (uint32_t li = 0; li < p->nlists; li++) {
        const klist *l = &p->lists[li];
        if (li && p->lists[li - 1].cls >= l->cls)
            return vram__violation(msg, len, "lists %u and %u are not in class order", li - 1, li);
        uint32_t prev = PC_NIL;
        for (uint32_t b = l->head; b != PC_NIL; prev = b, b = p->node[b].next) {
            if (b >= p->nblocks || p->where[b] != IN_LIST)
                return vram__violation(msg, len, "list %u holds block %u, not marked as listed",
                                       li, b);
            if (p->node[b].prev != prev)
                return vram__violation(msg, len, "list %u: back link of block %u broken", li, b);
            if (p->key[b].cls != l->cls)
                return vram__violation(msg, len, "list %u holds block %u of another class", li, b);
            if (prev != PC_NIL && key_less(&p->key[b], &p->key[prev]))
                return vram__violation(msg, len, "list %u: block %u goes before block %u ahead"
                                       " of it", li, b, prev);
            if (++listed > p->n)
                return vram__violation(msg, len, "the lists hold more than the %u members", p->n);
        }
        if (prev != l->tail || l->head == PC_NIL)
            return vram__violation(msg, len, "list %u: empty, or its tail is not its last block",
                                   li);
    }
    for (uint32_t i = 0; i < p->nheap; i++) {
        uint32_t b = p->heap[i];
        if (b >= p->nblocks || p->where[b] != IN_HEAP || p->hpos[b] != i)
            return vram__violation(msg, len, "heap entry %u (block %u): position index broken",
                                   i, b);
        if (i > 0 && block_less(p, b, p->heap[(i - 1) / 2]))
            return vram__violation(msg, len, "heap entry %u (block %u) goes before its parent",
                                   i, b);
    }
    for (uint32_t b = 0; b < p->nblocks; b++) {
        in_list += p->where[b] == IN_LIST;
        in_heap += p->where[b] == IN_HEAP;
    }
    if (listed != in_list || in_heap != p->nheap || in_list + in_heap != p->n)
        return vram__violation(msg, len, "%" PRIu64 " blocks listed of %" PRIu64 " marked, %u in"
                               " the heap of %" PRIu64 " marked, count %u", listed, in_list,
                               p->nheap, in_heap, p->n);
    return VRAM_OK;
}

#define KEYED_OPS(NAME, CREATE)                                                                    \
    {                                                                                              \
        .name = NAME, .leaf_only = 1, .create = CREATE, .destroy = keyed_destroy,                  \
        .insert = keyed_insert, .remove = keyed_remove, .pop = keyed_pop, .member = keyed_member,  \
        .count = keyed_count, .check = keyed_check, .peek = keyed_peek,                            \
    }

const vram_prefix_policy_ops vram__prefix_lru_ops = KEYED_OPS("lru", lru_create);
const vram_prefix_policy_ops vram__prefix_lfu_ops = KEYED_OPS("lfu", lfu_create);
const vram_prefix_policy_ops vram__prefix_priority_ops = KEYED_OPS("priority", prio_create);

/* ---- a prefetch hint for a hit (built-in policies only) ---- */

/* A table using the built-in queue or keyed functions has their structure
 * behind impl; any other table gets no hint. */
void vram__pc_policy_prefetch_hit(const vram_prefix_policy_ops *ops, const void *impl, uint32_t b)
{
    if (ops->remove == queue_remove)
        __builtin_prefetch(&((const queue_policy *)impl)->node[b], 1);
    else if (ops->remove == keyed_remove)
        __builtin_prefetch(&((const keyed_policy *)impl)->where[b]);
}

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
