/* shared.c - shared weights: one buffer per key, one reference per acquire.
 *
 * The registry maps a key to the index of its handle; the handle keeps the
 * reference count (shared_refs), so there is one count, kept in one place.
 * Under eviction a shared buffer is one handle like any other: evicted once,
 * re-materialised by its loader; a holder that acquired the handle
 * (vram_acquire) keeps it resident. */
#include <stdlib.h>
#include <string.h>

#include "manager_internal.h"

#define FIRST_CAP 16u

void vram__shared_fini(vram__shared *s)
{
    free(s->slots);
    memset(s, 0, sizeof *s);
}

/* FNV-1a. */
static uint32_t key_hash(const char *key)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

/* The slot holding key, or the empty slot where it would go; *found says which. */
static uint32_t shared_probe(const vram__shared *s, const char *key, int *found)
{
    uint32_t mask = s->cap - 1;
    for (uint32_t k = key_hash(key) & mask;; k = (k + 1) & mask) {
        if (!s->slots[k].key[0]) {
            *found = 0;
            return k;
        }
        if (strcmp(s->slots[k].key, key) == 0) {
            *found = 1;
            return k;
        }
    }
}

/* Makes room for one more key (the load factor stays at most 1/2). */
static vram_status shared_reserve(vram__shared *s)
{
    if (s->cap && (s->count + 1) * 2 <= s->cap)
        return VRAM_OK;
    uint32_t cap = s->cap ? s->cap * 2 : FIRST_CAP;
    if (cap <= s->cap)
        return VRAM_EOVERFLOW;
    vram__shared grown = {.cap = cap, .count = s->count};
    grown.slots = calloc(cap, sizeof *grown.slots);
    if (!grown.slots)
        return VRAM_ENOHOST;
    for (uint32_t k = 0; k < s->cap; k++)
        if (s->slots[k].key[0]) {
            int found;
            grown.slots[shared_probe(&grown, s->slots[k].key, &found)] = s->slots[k];
        }
    free(s->slots);
    *s = grown;
    return VRAM_OK;
}

/* Deletes slot k, shifting later members of its probe run back (no tombstones). */
static void shared_delete(vram__shared *s, uint32_t k)
{
    uint32_t mask = s->cap - 1;
    uint32_t hole = k;
    for (uint32_t j = (k + 1) & mask; s->slots[j].key[0]; j = (j + 1) & mask) {
        uint32_t home = key_hash(s->slots[j].key) & mask;
        /* j may move to the hole when its home is not in (hole, j] cyclically. */
        int stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            s->slots[hole] = s->slots[j];
            hole = j;
        }
    }
    s->slots[hole].key[0] = '\0';
    s->count--;
}

/* Keys are 1 to VRAM__KEY_MAX - 1 bytes. */
static vram_status key_check(const char *key)
{
    if (!key)
        return VRAM_EINVAL;
    size_t len = strnlen(key, VRAM__KEY_MAX);
    return len == 0 || len >= VRAM__KEY_MAX ? VRAM_EINVAL : VRAM_OK;
}

static vram_status shared_add(vram_manager *m, const char *key, uint64_t size, int priority,
                              vram_remat_fn loader, void *loader_ctx, uint32_t *index)
{
    vram_status st = shared_reserve(&m->shared);
    if (st)
        return st;
    vram_alloc_desc d = {
        .size = size,
        .priority = priority,
        .kind = VRAM_KIND_WEIGHT,
        .backing = loader ? VRAM_BACKING_CALLBACK : VRAM_BACKING_NONE,
        .remat = loader,
        .remat_ctx = loader_ctx,
    };
    uint32_t i;
    st = vram__alloc_index(m, &d, &i);
    if (st)
        return st;
    if (loader) {
        vram__handle *s = &m->handles.slots[i];
        st = loader(loader_ctx, m->dev, vram__addr(m, s), size);
        if (st) {
            vram__free_index(m, i);
            return st;
        }
        s->tagged = 0; /* the loader wrote what it wanted */
    }
    int found;
    vram__shared_entry *e = &m->shared.slots[shared_probe(&m->shared, key, &found)];
    strcpy(e->key, key);
    e->index = i;
    m->shared.count++;
    *index = i;
    return VRAM_OK;
}

vram_status vram_acquire_shared(vram_manager *m, const char *key, uint64_t size, int priority,
                                vram_remat_fn loader, void *loader_ctx, vram_handle *out)
{
    if (!m || !out || size == 0)
        return VRAM_EINVAL;
    vram_status st = key_check(key);
    if (st)
        return st;
    int found = 0;
    uint32_t k = m->shared.cap ? shared_probe(&m->shared, key, &found) : 0;
    uint32_t i;
    if (found) {
        i = m->shared.slots[k].index;
        vram__handle *s = &m->handles.slots[i];
        if (s->size != size)
            return VRAM_EMISMATCH;
        if (s->shared_refs == UINT32_MAX)
            return VRAM_EOVERFLOW;
        st = vram__use_index(m, i);
        if (st)
            return st;
    } else {
        st = shared_add(m, key, size, priority, loader, loader_ctx, &i);
        if (st)
            return st;
    }
    m->handles.slots[i].shared_refs++;
    *out = vram__handles_value(&m->handles, i);
    return VRAM_OK;
}

vram_status vram_release_shared(vram_manager *m, const char *key)
{
    if (!m)
        return VRAM_EINVAL;
    vram_status st = key_check(key);
    if (st)
        return st;
    int found = 0;
    uint32_t k = m->shared.cap ? shared_probe(&m->shared, key, &found) : 0;
    if (!found)
        return VRAM_ENOTFOUND;
    uint32_t i = m->shared.slots[k].index;
    vram__handle *s = &m->handles.slots[i];
    if (s->shared_refs > 1) {
        s->shared_refs--;
        return VRAM_OK;
    }
    /* The last reference: the buffer goes, unless a holder still uses it. */
    if (s->pins || s->uses)
        return VRAM_EBUSY;
    s->shared_refs = 0;
    shared_delete(&m->shared, k);
    return vram__free_index(m, i);
}
