/* tracegen_prefix.c - the prefix cache model: an open-addressing table of
 * segments (never shrinks: entries of evicted segments stay, absent) and an
 * intrusive doubly linked LRU list of the idle ones. */
#include "tracegen_prefix.h"

#include <stdlib.h>

#define NIL UINT32_MAX

typedef struct entry {
    uint64_t hash;
    uint32_t refs;       /* running requests holding the segment */
    uint32_t prev, next; /* LRU links; valid while idle */
    uint8_t used;        /* the slot holds a hash */
    uint8_t resident;    /* resident: refs > 0, or refs == 0 and on the LRU list */
} entry;

struct vtg_prefix {
    entry *slots;
    uint32_t cap, count; /* cap a power of two; count <= cap / 2 */
    uint32_t lru_head, lru_tail;
    uint64_t idle;
};

static uint32_t slot_of(uint64_t h, uint32_t cap)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (uint32_t)h & (cap - 1);
}

static entry *find(const vtg_prefix *c, uint64_t hash)
{
    for (uint32_t i = slot_of(hash, c->cap);; i = (i + 1) & (c->cap - 1)) {
        if (!c->slots[i].used)
            return NULL;
        if (c->slots[i].hash == hash)
            return &c->slots[i];
    }
}

vram_status vtg_prefix_create(vtg_prefix **out)
{
    vtg_prefix *c = calloc(1, sizeof *c);
    if (c)
        c->slots = calloc(1024, sizeof *c->slots);
    if (!c || !c->slots) {
        free(c);
        return VRAM_ENOHOST;
    }
    c->cap = 1024;
    c->lru_head = c->lru_tail = NIL;
    *out = c;
    return VRAM_OK;
}

void vtg_prefix_destroy(vtg_prefix *c)
{
    if (c)
        free(c->slots);
    free(c);
}

static void lru_unlink(vtg_prefix *c, entry *e)
{
    if (e->prev != NIL)
        c->slots[e->prev].next = e->next;
    else
        c->lru_head = e->next;
    if (e->next != NIL)
        c->slots[e->next].prev = e->prev;
    else
        c->lru_tail = e->prev;
    c->idle--;
}

/* Doubles the table; the LRU list is rebuilt in its order. */
static vram_status grow(vtg_prefix *c)
{
    if (c->cap > UINT32_MAX / 4)
        return VRAM_ENOHOST;
    vtg_prefix n = {.cap = c->cap * 2, .lru_head = NIL, .lru_tail = NIL};
    n.slots = calloc(n.cap, sizeof *n.slots);
    if (!n.slots)
        return VRAM_ENOHOST;
    for (uint32_t i = 0; i < c->cap; i++) {
        if (!c->slots[i].used)
            continue;
        uint32_t j = slot_of(c->slots[i].hash, n.cap);
        while (n.slots[j].used)
            j = (j + 1) & (n.cap - 1);
        n.slots[j] = c->slots[i];
        n.count++;
    }
    /* relink the idle entries in LRU order */
    for (uint32_t i = c->lru_head; i != NIL; i = c->slots[i].next) {
        entry *e = find(&n, c->slots[i].hash);
        uint32_t k = (uint32_t)(e - n.slots);
        e->prev = n.lru_tail;
        e->next = NIL;
        if (n.lru_tail != NIL)
            n.slots[n.lru_tail].next = k;
        else
            n.lru_head = k;
        n.lru_tail = k;
        n.idle++;
    }
    free(c->slots);
    *c = n;
    return VRAM_OK;
}

int vtg_prefix_resident(const vtg_prefix *c, uint64_t hash)
{
    const entry *e = find(c, hash);
    return e && e->resident;
}

int vtg_prefix_idle(const vtg_prefix *c, uint64_t hash)
{
    const entry *e = find(c, hash);
    return e && e->resident && e->refs == 0;
}

vram_status vtg_prefix_take(vtg_prefix *c, uint64_t hash, int *was_resident)
{
    entry *e = find(c, hash);
    if (!e) {
        if (c->count + 1 > c->cap / 2 && grow(c))
            return VRAM_ENOHOST;
        uint32_t i = slot_of(hash, c->cap);
        while (c->slots[i].used)
            i = (i + 1) & (c->cap - 1);
        e = &c->slots[i];
        *e = (entry){.hash = hash, .used = 1, .prev = NIL, .next = NIL};
        c->count++;
    }
    *was_resident = e->resident;
    if (e->resident && e->refs == 0)
        lru_unlink(c, e);
    e->resident = 1;
    e->refs++;
    return VRAM_OK;
}

int vtg_prefix_drop(vtg_prefix *c, uint64_t hash)
{
    entry *e = find(c, hash);
    if (!e || !e->resident || e->refs == 0)
        return -1;
    if (--e->refs == 0) {
        uint32_t k = (uint32_t)(e - c->slots);
        e->prev = c->lru_tail;
        e->next = NIL;
        if (c->lru_tail != NIL)
            c->slots[c->lru_tail].next = k;
        else
            c->lru_head = k;
        c->lru_tail = k;
        c->idle++;
    }
    return 0;
}

int vtg_prefix_evict(vtg_prefix *c, uint64_t *hash)
{
    if (c->lru_head == NIL)
        return 0;
    entry *e = &c->slots[c->lru_head];
    lru_unlink(c, e);
    e->resident = 0;
    *hash = e->hash;
    return 1;
}

uint64_t vtg_prefix_idle_count(const vtg_prefix *c)
{
    return c->idle;
}
