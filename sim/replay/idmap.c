/* idmap.c - open-addressing hash maps for trace ids and shared-weight keys.
 *
 * One core serves both maps. A slot is a header {key, tag} followed by the
 * value. The invariants the core keeps:
 *   - a slot is occupied exactly when its tag is non-zero (idmap: 1; keymap:
 *     the owned copy of the string, whose hash is `key`);
 *   - every occupied slot is reachable from its home slot (hash & mask) by
 *     probing forward without crossing an empty slot (backward-shift deletion
 *     keeps this without tombstones);
 *   - count <= cap / 2 (the table doubles before it fills past half). */
#include "idmap.h"

#include <stdlib.h>
#include <string.h>

typedef struct slot_head {
    uint64_t key;
    uintptr_t tag;
} slot_head;

typedef struct map_core {
    unsigned char *slots;
    size_t stride;     /* header + value, a multiple of 8 */
    size_t value_size;
    size_t cap;        /* a power of two */
    size_t count;
    int strings;       /* keymap: tags are owned strings */
} map_core;

struct vsim_idmap {
    map_core c;
};
struct vsim_keymap {
    map_core c;
};

#define MAP_MIN_CAP 16u

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

/* The home slot hash: runs of 8 consecutive keys keep their order in 8
 * consecutive slots (trace ids are handed out in increasing order and used
 * close together, so they share cache lines), the runs spread at random. */
#define RUN_BITS 3
static uint64_t home_hash(uint64_t key)
{
    return (mix64(key >> RUN_BITS) << RUN_BITS) | (key & ((1u << RUN_BITS) - 1));
}

static uint64_t str_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static slot_head *slot_at(const map_core *c, size_t i)
{
    return (slot_head *)(void *)(c->slots + i * c->stride);
}

static void *slot_value(slot_head *s) { return (unsigned char *)s + sizeof *s; }

static vram_status core_init(map_core *c, size_t value_size, int strings)
{
    if (value_size == 0)
        return VRAM_EINVAL;
    memset(c, 0, sizeof *c);
    c->value_size = value_size;
    c->stride = (sizeof(slot_head) + value_size + 7) & ~(size_t)7;
    c->cap = MAP_MIN_CAP;
    c->strings = strings;
    c->slots = calloc(c->cap, c->stride);
    return c->slots ? VRAM_OK : VRAM_ENOHOST;
}

static void core_free(map_core *c)
{
    if (c->strings)
        for (size_t i = 0; i < c->cap; i++)
            free((void *)slot_at(c, i)->tag);
    free(c->slots);
}

static int slot_matches(const map_core *c, const slot_head *s, uint64_t key, const char *str)
{
    if (!s->tag || s->key != key)
        return 0;
    return !c->strings || strcmp((const char *)s->tag, str) == 0;
}

/* The slot holding (key, str), or the empty slot where it would go. */
static slot_head *core_find(const map_core *c, uint64_t key, const char *str)
{
    size_t mask = c->cap - 1;
    for (size_t i = home_hash(key) & mask;; i = (i + 1) & mask) {
        slot_head *s = slot_at(c, i);
        if (!s->tag || slot_matches(c, s, key, str))
            return s;
    }
}

static int core_grow(map_core *c)
{
    map_core bigger = *c;
    bigger.cap = c->cap * 2;
    bigger.slots = calloc(bigger.cap, bigger.stride);
    if (!bigger.slots)
        return 0;
    for (size_t i = 0; i < c->cap; i++) {
        slot_head *s = slot_at(c, i);
        if (s->tag)
            memcpy(core_find(&bigger, s->key, (const char *)s->tag), s, c->stride);
    }
    free(c->slots);
    *c = bigger;
    return 1;
}

static void *core_get(const map_core *c, uint64_t key, const char *str)
{
    slot_head *s = core_find(c, key, str);
    return s->tag ? slot_value(s) : NULL;
}

static void *core_put(map_core *c, uint64_t key, const char *str, int *created)
{
    if (created)
        *created = 0;
    slot_head *s = core_find(c, key, str);
    if (s->tag)
        return slot_value(s);
    if ((c->count + 1) * 2 > c->cap) {
        if (!core_grow(c))
            return NULL;
        s = core_find(c, key, str);
    }
    uintptr_t tag = 1;
    if (c->strings) {
        size_t n = strlen(str) + 1;
        char *copy = malloc(n);
        if (!copy)
            return NULL;
        memcpy(copy, str, n);
        tag = (uintptr_t)copy;
    }
    memset(s, 0, c->stride);
    s->key = key;
    s->tag = tag;
    c->count++;
    if (created)
        *created = 1;
    return slot_value(s);
}

static int core_remove(map_core *c, uint64_t key, const char *str)
{
    slot_head *s = core_find(c, key, str);
    if (!s->tag)
        return 0;
    if (c->strings)
        free((void *)s->tag);
    size_t mask = c->cap - 1;
    size_t hole = (size_t)((unsigned char *)s - c->slots) / c->stride;
    /* Backward shift: move later entries of the run into the hole when their
     * home slot does not lie cyclically in (hole, i]. */
    for (size_t i = (hole + 1) & mask;; i = (i + 1) & mask) {
        slot_head *t = slot_at(c, i);
        if (!t->tag)
            break;
        size_t home = home_hash(t->key) & mask;
        int home_after_hole = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!home_after_hole) {
            memcpy(slot_at(c, hole), t, c->stride);
            hole = i;
        }
    }
    memset(slot_at(c, hole), 0, c->stride);
    c->count--;
    return 1;
}

vram_status vsim_idmap_create(size_t value_size, vsim_idmap **out)
{
    *out = NULL;
    vsim_idmap *m = malloc(sizeof *m);
    if (!m)
        return VRAM_ENOHOST;
    vram_status st = core_init(&m->c, value_size, 0);
    if (st) {
        free(m);
        return st;
    }
    *out = m;
    return VRAM_OK;
}

void vsim_idmap_destroy(vsim_idmap *m)
{
    if (!m)
        return;
    core_free(&m->c);
    free(m);
}

void *vsim_idmap_get(const vsim_idmap *m, uint64_t key) { return core_get(&m->c, key, NULL); }
void *vsim_idmap_put(vsim_idmap *m, uint64_t key, int *created)
{
    return core_put(&m->c, key, NULL, created);
}
int vsim_idmap_remove(vsim_idmap *m, uint64_t key) { return core_remove(&m->c, key, NULL); }
size_t vsim_idmap_count(const vsim_idmap *m) { return m->c.count; }

/* Every occupied slot's key (the id, or the string) and value. */
static void core_each(map_core *c, void (*fn)(uint64_t id, const char *key, void *value, void *ctx),
                      void *ctx)
{
    for (size_t i = 0; i < c->cap; i++) {
        slot_head *h = (slot_head *)(void *)(c->slots + i * c->stride);
        if (h->tag)
            fn(h->key, c->strings ? (const char *)h->tag : NULL, (unsigned char *)h + sizeof *h,
               ctx);
    }
}

void vsim_idmap_each(vsim_idmap *m, void (*fn)(uint64_t id, const char *key, void *value, void *ctx),
                     void *ctx)
{
    if (m)
        core_each(&m->c, fn, ctx);
}

void vsim_keymap_each(vsim_keymap *m,
                      void (*fn)(uint64_t hash, const char *key, void *value, void *ctx), void *ctx)
{
    if (m)
        core_each(&m->c, fn, ctx);
}

vram_status vsim_keymap_create(size_t value_size, vsim_keymap **out)
{
    *out = NULL;
    vsim_keymap *m = malloc(sizeof *m);
    if (!m)
        return VRAM_ENOHOST;
    vram_status st = core_init(&m->c, value_size, 1);
    if (st) {
        free(m);
        return st;
    }
    *out = m;
    return VRAM_OK;
}

void vsim_keymap_destroy(vsim_keymap *m)
{
    if (!m)
        return;
    core_free(&m->c);
    free(m);
}

void *vsim_keymap_get(const vsim_keymap *m, const char *key)
{
    return core_get(&m->c, str_hash(key), key);
}
void *vsim_keymap_put(vsim_keymap *m, const char *key, int *created)
{
    return core_put(&m->c, str_hash(key), key, created);
}
int vsim_keymap_remove(vsim_keymap *m, const char *key)
{
    return core_remove(&m->c, str_hash(key), key);
}
size_t vsim_keymap_count(const vsim_keymap *m) { return m->c.count; }
