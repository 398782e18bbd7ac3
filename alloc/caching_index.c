/* caching_index.c - the caching policy's lookup structures: each pool's free
 * blocks sorted by (size, offset), and the used blocks by offset. */
#include <stdlib.h>
#include <string.h>

#include "caching_internal.h"

/* The order of a pool's index: by size, then by offset (PyTorch's BlockComparatorSize). */
static int block_before(const caching_block *a, uint64_t size, uint64_t offset)
{
    return a->size < size || (a->size == size && a->offset < offset);
}

/* Index of the first entry not ordered before (size, offset). */
static size_t pool_search(const caching_pool *p, uint64_t size, uint64_t offset)
{
    size_t lo = 0, hi = p->nfree;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (block_before(p->free[mid], size, offset))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

vram_status vram__caching_pool_reserve(caching_pool *p, size_t extra)
{
    if (p->nfree + extra <= p->cap)
        return VRAM_OK;
    size_t cap = p->cap ? p->cap : 64;
    while (cap < p->nfree + extra)
        cap *= 2;
    caching_block **f = realloc(p->free, cap * sizeof *f);
    if (!f)
        return VRAM_ENOHOST;
    p->free = f;
    p->cap = cap;
    return VRAM_OK;
}

vram_status vram__caching_pool_insert(caching_pool *p, caching_block *b)
{
    vram_status st = vram__caching_pool_reserve(p, 1);
    if (st)
        return st;
    size_t i = pool_search(p, b->size, b->offset);
    memmove(&p->free[i + 1], &p->free[i], (p->nfree - i) * sizeof p->free[0]);
    p->free[i] = b;
    p->nfree++;
    b->gc_base = p->searches;
    return VRAM_OK;
}

void vram__caching_pool_remove(caching_pool *p, const caching_block *b)
{
    size_t i = pool_search(p, b->size, b->offset);
    if (i == p->nfree || p->free[i] != b)
        return; /* not indexed: check() reports the disagreement */
    memmove(&p->free[i], &p->free[i + 1], (p->nfree - i - 1) * sizeof p->free[0]);
    p->nfree--;
}

size_t vram__caching_pool_lower_bound(const caching_pool *p, uint64_t size)
{
    return pool_search(p, size, 0);
}

void vram__caching_pool_fini(caching_pool *p)
{
    free(p->free);
    memset(p, 0, sizeof *p);
}

static size_t map_hash(uint64_t offset, size_t cap)
{
    uint64_t z = offset * UINT64_C(0x9e3779b97f4a7c15);
    return (size_t)(z >> 32) & (cap - 1);
}

/* The load factor stays at most 1/2, so probes are short and a free slot exists. */
vram_status vram__caching_map_reserve(caching_map *m, size_t extra)
{
    if ((m->count + extra) * 2 <= m->cap)
        return VRAM_OK;
    size_t cap = m->cap ? m->cap : 256;
    while ((m->count + extra) * 2 > cap)
        cap *= 2;
    caching_block **slots = calloc(cap, sizeof *slots);
    if (!slots)
        return VRAM_ENOHOST;
    for (size_t i = 0; i < m->cap; i++) {
        caching_block *b = m->slots[i];
        if (!b)
            continue;
        size_t j = map_hash(b->offset, cap);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = b;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return VRAM_OK;
}

void vram__caching_map_put(caching_map *m, caching_block *b)
{
    size_t i = map_hash(b->offset, m->cap);
    while (m->slots[i])
        i = (i + 1) & (m->cap - 1);
    m->slots[i] = b;
    m->count++;
}

static size_t map_slot(const caching_map *m, uint64_t offset)
{
    if (!m->cap)
        return SIZE_MAX;
    for (size_t i = map_hash(offset, m->cap); m->slots[i]; i = (i + 1) & (m->cap - 1))
        if (m->slots[i]->offset == offset)
            return i;
    return SIZE_MAX;
}

caching_block *vram__caching_map_get(const caching_map *m, uint64_t offset)
{
    size_t i = map_slot(m, offset);
    return i == SIZE_MAX ? NULL : m->slots[i];
}

void vram__caching_map_del(caching_map *m, uint64_t offset)
{
    size_t i = map_slot(m, offset);
    if (i == SIZE_MAX)
        return;
    m->slots[i] = NULL;
    m->count--;
    /* Backward shift: move later entries of the probe run into the hole when
     * their home slot does not lie cyclically in (hole, j]. */
    size_t hole = i, mask = m->cap - 1;
    for (size_t j = (i + 1) & mask; m->slots[j]; j = (j + 1) & mask) {
        size_t home = map_hash(m->slots[j]->offset, m->cap);
        int home_in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (home_in_range)
            continue;
        m->slots[hole] = m->slots[j];
        m->slots[j] = NULL;
        hole = j;
    }
}

void vram__caching_map_fini(caching_map *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}
