/* offmap.c - open-addressing hash map from offsets to pointers. */
#include "offmap.h"

#include <stdlib.h>

#define OFFMAP_MIN_SLOTS 64

/* Fibonacci hashing: offsets are multiples of a power of two, so the low bits
 * carry nothing; the multiply spreads the high ones. */
static size_t home(const vram__offmap *m, uint64_t key)
{
    return (size_t)((key * UINT64_C(0x9e3779b97f4a7c15)) >> 32) & m->mask;
}

void vram__offmap_init(vram__offmap *m) { *m = (vram__offmap){0}; }

void vram__offmap_fini(vram__offmap *m)
{
    free(m->slot);
    vram__offmap_init(m);
}

vram_status vram__offmap_reserve(vram__offmap *m, size_t extra)
{
    size_t need = m->count + extra, size = m->slot ? m->mask + 1 : 0;
    if (need < m->count || need > SIZE_MAX / 4 / sizeof(vram__offmap_slot))
        return VRAM_ENOHOST;
    if (need * 2 <= size)
        return VRAM_OK;
    size_t nsize = size ? size : OFFMAP_MIN_SLOTS;
    while (nsize < need * 2)
        nsize *= 2;
    vram__offmap_slot *ns = calloc(nsize, sizeof *ns);
    if (!ns)
        return VRAM_ENOHOST;
    vram__offmap old = *m;
    m->slot = ns;
    m->mask = nsize - 1;
    m->count = 0;
    for (size_t i = 0; i < size; i++)
        if (old.slot[i].val)
            vram__offmap_put(m, old.slot[i].key, old.slot[i].val);
    free(old.slot);
    return VRAM_OK;
}

void *vram__offmap_get(const vram__offmap *m, uint64_t key)
{
    if (!m->slot)
        return NULL;
    for (size_t i = home(m, key);; i = (i + 1) & m->mask) {
        const vram__offmap_slot *s = &m->slot[i];
        if (!s->val)
            return NULL;
        if (s->key == key)
            return s->val;
    }
}

void vram__offmap_put(vram__offmap *m, uint64_t key, void *val)
{
    size_t i = home(m, key);
    while (m->slot[i].val)
        i = (i + 1) & m->mask;
    m->slot[i] = (vram__offmap_slot){key, val};
    m->count++;
}

void vram__offmap_del(vram__offmap *m, uint64_t key)
{
    size_t i = home(m, key);
    while (m->slot[i].key != key || !m->slot[i].val)
        i = (i + 1) & m->mask;
    /* Shift back every later entry of the run whose home is not in (i, j]. */
    for (size_t j = (i + 1) & m->mask; m->slot[j].val; j = (j + 1) & m->mask) {
        size_t h = home(m, m->slot[j].key);
        int stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
        if (!stays) {
            m->slot[i] = m->slot[j];
            i = j;
        }
    }
    m->slot[i] = (vram__offmap_slot){0, NULL};
    m->count--;
}
