/* caching_index.c - the caching policy's lookup structures: each pool's free
 * blocks ordered by (size, offset), and the used blocks by offset. */
#include <stdlib.h>
#include <string.h>

#include "caching_internal.h"

static caching_block *of(const vram__rb_node *n)
{
    return n ? vram__rb_entry(n, caching_block, node) : NULL;
}

/* The order of a pool's index: by size, then by offset (descending in a
 * mirrored pool). */
int vram__caching_before(const caching_pool *p, const caching_block *a, const caching_block *b)
{
    return a->size < b->size ||
           (a->size == b->size && (p->mirrored ? a->offset > b->offset : a->offset < b->offset));
}

void vram__caching_pool_insert(caching_pool *p, caching_block *b)
{
    vram__rb_node **link = &p->free.root, *parent = NULL;
    while (*link) {
        parent = *link;
        link = vram__caching_before(p, b, of(parent)) ? &parent->left : &parent->right;
    }
    vram__rb_link(&p->free, &b->node, parent, link);
    b->gc_base = p->searches;
}

void vram__caching_pool_remove(caching_pool *p, caching_block *b) { vram__rb_erase(&p->free, &b->node); }

caching_block *vram__caching_pool_lower_bound(const caching_pool *p, uint64_t size)
{
    vram__rb_node *n = p->free.root, *best = NULL;
    while (n) {
        if (of(n)->size >= size) {
            best = n;
            n = n->left;
        } else {
            n = n->right;
        }
    }
    return of(best);
}

caching_block *vram__caching_pool_first(const caching_pool *p) { return of(vram__rb_first(&p->free)); }
caching_block *vram__caching_pool_last(const caching_pool *p) { return of(vram__rb_last(&p->free)); }
caching_block *vram__caching_pool_next(const caching_block *b) { return of(vram__rb_next(&b->node)); }
caching_block *vram__caching_pool_prev(const caching_block *b) { return of(vram__rb_prev(&b->node)); }

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
    caching_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return VRAM_ENOHOST;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].block)
            continue;
        size_t j = map_hash(m->slots[i].offset, cap);
        while (slots[j].block)
            j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return VRAM_OK;
}

void vram__caching_map_put(caching_map *m, caching_block *b)
{
    size_t i = map_hash(b->offset, m->cap);
    while (m->slots[i].block)
        i = (i + 1) & (m->cap - 1);
    m->slots[i] = (caching_slot){.offset = b->offset, .block = b};
    m->count++;
}

static size_t map_slot(const caching_map *m, uint64_t offset)
{
    if (!m->cap)
        return SIZE_MAX;
    for (size_t i = map_hash(offset, m->cap); m->slots[i].block; i = (i + 1) & (m->cap - 1))
        if (m->slots[i].offset == offset)
            return i;
    return SIZE_MAX;
}

caching_block *vram__caching_map_get(const caching_map *m, uint64_t offset)
{
    size_t i = map_slot(m, offset);
    return i == SIZE_MAX ? NULL : m->slots[i].block;
}

void vram__caching_map_del(caching_map *m, uint64_t offset)
{
    size_t i = map_slot(m, offset);
    if (i == SIZE_MAX)
        return;
    m->slots[i].block = NULL;
    m->count--;
    /* Backward shift: move later entries of the probe run into the hole when
     * their home slot does not lie cyclically in (hole, j]. */
    size_t hole = i, mask = m->cap - 1;
    for (size_t j = (i + 1) & mask; m->slots[j].block; j = (j + 1) & mask) {
        size_t home = map_hash(m->slots[j].offset, m->cap);
        int home_in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (home_in_range)
            continue;
        m->slots[hole] = m->slots[j];
        m->slots[j].block = NULL;
        hole = j;
    }
}

void vram__caching_map_fini(caching_map *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}
