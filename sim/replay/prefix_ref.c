/* prefix_ref.c - LRU, Belady and unlimited hit counts over a block-key
 * stream (prefix_ref.h). A small open-addressing map from key to a 64-bit
 * value (linear probing, backward-shift deletion, sized for the most keys it
 * will hold) serves all three. */
#include "prefix_ref.h"

#include <stdlib.h>

#define NONE UINT64_MAX

typedef struct ref_slot {
    uint64_t key, val;
    uint8_t used;
} ref_slot;

typedef struct ref_map {
    ref_slot *s;
    uint64_t mask;
} ref_map;

static vram_status map_init(ref_map *m, uint64_t entries)
{
    uint64_t cap = 16;
    while (cap < 2 * entries)
        cap *= 2;
    m->s = calloc(cap, sizeof *m->s);
    m->mask = cap - 1;
    return m->s ? VRAM_OK : VRAM_ENOHOST;
}

static uint64_t home(const ref_map *m, uint64_t k)
{
    k ^= k >> 33;
    k *= UINT64_C(0xff51afd7ed558ccd);
    k ^= k >> 33;
    return k & m->mask;
}

/* The slot of k, or of the empty slot where it would go. */
static ref_slot *map_slot(const ref_map *m, uint64_t k)
{
    uint64_t i = home(m, k);
    while (m->s[i].used && m->s[i].key != k)
        i = (i + 1) & m->mask;
    return &m->s[i];
}

static void map_del(ref_map *m, ref_slot *slot)
{
    uint64_t hole = (uint64_t)(slot - m->s);
    for (uint64_t j = (hole + 1) & m->mask; m->s[j].used; j = (j + 1) & m->mask) {
        uint64_t h = home(m, m->s[j].key);
        if (((j - h) & m->mask) >= ((j - hole) & m->mask)) {
            m->s[hole] = m->s[j];
            hole = j;
        }
    }
    m->s[hole].used = 0;
}

static int bad_args(const uint64_t *keys, size_t n, const uint64_t *hits)
{
    return (!keys && n) || !hits;
}

vram_status vprefix_ref_unlimited(const uint64_t *keys, size_t n, uint64_t *hits)
{
    if (bad_args(keys, n, hits))
        return VRAM_EINVAL;
    ref_map m;
    if (map_init(&m, n))
        return VRAM_ENOHOST;
    uint64_t h = 0;
    for (size_t i = 0; i < n; i++) {
        ref_slot *s = map_slot(&m, keys[i]);
        h += s->used;
        *s = (ref_slot){keys[i], 0, 1};
    }
    free(m.s);
    *hits = h;
    return VRAM_OK;
}

/* LRU: the resident keys in a doubly linked list over nodes[0 .. capacity),
 * most recent at the tail; the map gives a key's node. */
typedef struct lru_node {
    uint64_t key;
    uint32_t prev, next;
} lru_node;

vram_status vprefix_ref_lru(const uint64_t *keys, size_t n, uint64_t capacity, uint64_t *hits)
{
    if (bad_args(keys, n, hits))
        return VRAM_EINVAL;
    uint64_t cap = capacity < n ? capacity : n;
    if (cap >= UINT32_MAX)
        return VRAM_ENOHOST;
    ref_map m;
    lru_node *nodes = malloc((cap ? cap : 1) * sizeof *nodes);
    if (!nodes || map_init(&m, cap)) {
        free(nodes);
        return VRAM_ENOHOST;
    }
    const uint32_t nil = UINT32_MAX;
    uint32_t head = nil, tail = nil, used = 0;
    uint64_t h = 0;
    for (size_t i = 0; i < n && cap; i++) {
        ref_slot *s = map_slot(&m, keys[i]);
        uint32_t x;
        if (s->used) {
            h++;
            x = (uint32_t)s->val;
            if (x == tail)
                continue;
            /* unlink x (not the tail) */
            if (nodes[x].prev != nil)
                nodes[nodes[x].prev].next = nodes[x].next;
            else
                head = nodes[x].next;
            nodes[nodes[x].next].prev = nodes[x].prev;
        } else {
            if (used < cap) {
                x = used++;
            } else {
                x = head; /* evict the least recent */
                head = nodes[x].next;
                if (head != nil)
                    nodes[head].prev = nil;
                else
                    tail = nil;
                map_del(&m, map_slot(&m, nodes[x].key));
                s = map_slot(&m, keys[i]); /* the deletion may have moved slots */
            }
            nodes[x].key = keys[i];
            *s = (ref_slot){keys[i], x, 1};
        }
        nodes[x].prev = tail;
        nodes[x].next = nil;
        if (tail != nil)
            nodes[tail].next = x;
        else
            head = x;
        tail = x;
    }
    free(nodes);
    free(m.s);
    *hits = h;
    return VRAM_OK;
}

/* Belady: next[i] is the position of keys[i]'s next reference (NONE: never).
 * The resident keys are in a map to their current next use and in a max-heap
 * of (next use, key) entries; an entry whose next use is no longer its key's
 * current one (the key was referenced since, or evicted) is stale and
 * skipped when it comes up. */
typedef struct bel_entry {
    uint64_t next, key;
} bel_entry;

static void heap_push(bel_entry *h, size_t *n, bel_entry e)
{
    size_t i = (*n)++;
    while (i && h[(i - 1) / 2].next < e.next) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = e;
}

static bel_entry heap_pop(bel_entry *h, size_t *n)
{
    bel_entry top = h[0], e = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && h[c + 1].next > h[c].next)
            c++;
        if (h[c].next <= e.next)
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n)
        h[i] = e;
    return top;
}

static vram_status next_uses(const uint64_t *keys, size_t n, uint64_t *next)
{
    ref_map m;
    if (map_init(&m, n))
        return VRAM_ENOHOST;
    for (size_t i = n; i--;) {
        ref_slot *s = map_slot(&m, keys[i]);
        next[i] = s->used ? s->val : NONE;
        *s = (ref_slot){keys[i], i, 1};
    }
    free(m.s);
    return VRAM_OK;
}

vram_status vprefix_ref_belady(const uint64_t *keys, size_t n, uint64_t capacity,
                               uint64_t *hits)
{
    if (bad_args(keys, n, hits))
        return VRAM_EINVAL;
    uint64_t cap = capacity < n ? capacity : n;
    uint64_t *next = malloc((n ? n : 1) * sizeof *next);
    bel_entry *heap = malloc((n ? n : 1) * sizeof *heap);
    ref_map res = {0};
    vram_status st = VRAM_ENOHOST;
    if (!next || !heap || map_init(&res, cap) || (st = next_uses(keys, n, next))) {
        free(next);
        free(heap);
        free(res.s);
        return st;
    }
    size_t hn = 0;
    uint64_t h = 0, resident = 0;
    for (size_t i = 0; i < n && cap; i++) {
        ref_slot *s = map_slot(&res, keys[i]);
        if (s->used) {
            h++;
            s->val = next[i];
            heap_push(heap, &hn, (bel_entry){next[i], keys[i]});
            continue;
        }
        if (resident == cap) {
            /* the farthest resident key, skipping stale entries */
            bel_entry v;
            ref_slot *vs;
            for (;;) {
                v = heap_pop(heap, &hn);
                vs = map_slot(&res, v.key);
                if (vs->used && vs->val == v.next)
                    break;
            }
            if (next[i] == NONE || next[i] > v.next) {
                heap_push(heap, &hn, v); /* the new key is the farthest: not cached */
                continue;
            }
            map_del(&res, vs);
            resident--;
            s = map_slot(&res, keys[i]);
        }
        *s = (ref_slot){keys[i], next[i], 1};
        resident++;
        heap_push(heap, &hn, (bel_entry){next[i], keys[i]});
    }
    free(next);
    free(heap);
    free(res.s);
    *hits = h;
    return VRAM_OK;
}
