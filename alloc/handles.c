/* handles.c - the handle table: index + generation, a free list of indices,
 * growth by doubling. */
#include <stdlib.h>
#include <string.h>

#include "manager_internal.h"

#define NO_SLOT UINT32_MAX
#define FIRST_CAP 64u

void vram__handles_init(vram__handles *t)
{
    memset(t, 0, sizeof *t);
    t->free_head = NO_SLOT;
}

void vram__handles_fini(vram__handles *t)
{
    free(t->slots);
    vram__handles_init(t);
}

static vram_status handles_grow(vram__handles *t)
{
    /* NO_SLOT is never an index: at most NO_SLOT slots. */
    if (t->cap >= NO_SLOT)
        return VRAM_EOVERFLOW;
    uint64_t want = t->cap ? (uint64_t)t->cap * 2 : FIRST_CAP;
    if (want > NO_SLOT)
        want = NO_SLOT;
    vram__handle *slots = realloc(t->slots, (size_t)want * sizeof *slots);
    if (!slots)
        return VRAM_ENOHOST;
    t->slots = slots;
    t->cap = (uint32_t)want;
    return VRAM_OK;
}

vram_status vram__handles_new(vram__handles *t, uint32_t *index)
{
    uint32_t i;
    if (t->free_head != NO_SLOT) {
        i = t->free_head;
        t->free_head = t->slots[i].next_free;
    } else {
        if (t->used == t->cap) {
            vram_status st = handles_grow(t);
            if (st)
                return st;
        }
        i = t->used++;
        t->slots[i].gen = 1;
    }
    uint32_t gen = t->slots[i].gen;
    memset(&t->slots[i], 0, sizeof t->slots[i]);
    t->slots[i].gen = gen;
    t->slots[i].live = 1;
    t->slots[i].next_free = NO_SLOT;
    t->live++;
    *index = i;
    return VRAM_OK;
}

void vram__handles_release(vram__handles *t, uint32_t index)
{
    vram__handle *s = &t->slots[index];
    s->live = 0;
    /* Generation 0 is never issued: a wrap skips it. */
    s->gen = s->gen == UINT32_MAX ? 1 : s->gen + 1;
    s->next_free = t->free_head;
    t->free_head = index;
    t->live--;
}

vram_status vram__handles_lookup(const vram__handles *t, vram_handle h, uint32_t *index)
{
    uint32_t i = (uint32_t)h.v, gen = (uint32_t)(h.v >> 32);
    if (gen == 0 || i >= t->used)
        return VRAM_ENOTFOUND;
    const vram__handle *s = &t->slots[i];
    if (s->live && s->gen == gen) {
        *index = i;
        return VRAM_OK;
    }
    /* The slot's generation counts the frees of this index: a handle from a
     * later generation than the slot's was never issued. */
    uint32_t issued = s->live ? s->gen : s->gen - 1;
    if (gen > issued)
        return VRAM_ENOTFOUND;
    if (!s->live && gen == s->gen - 1)
        return VRAM_EDOUBLEFREE;
    return VRAM_ESTALE;
}

vram_handle vram__handles_value(const vram__handles *t, uint32_t index)
{
    return (vram_handle){((uint64_t)t->slots[index].gen << 32) | index};
}

static int by_offset_cmp(const void *a, const void *b)
{
    uint64_t x = ((const vram__placed *)a)->offset, y = ((const vram__placed *)b)->offset;
    return (x > y) - (x < y);
}

vram_status vram__handles_resident_by_offset(const vram__handles *t, vram__placed **out,
                                             uint32_t *n)
{
    *out = NULL;
    *n = 0;
    vram__placed *v = malloc(((size_t)t->live + 1) * sizeof *v);
    if (!v)
        return VRAM_ENOHOST;
    uint32_t k = 0;
    for (uint32_t i = 0; i < t->used; i++)
        if (t->slots[i].live && t->slots[i].resident)
            v[k++] = (vram__placed){.offset = t->slots[i].offset, .index = i};
    qsort(v, k, sizeof *v, by_offset_cmp);
    *out = v;
    *n = k;
    return VRAM_OK;
}

uint32_t vram__placed_find(const vram__placed *sorted, uint32_t n, uint64_t offset)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (sorted[mid].offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && sorted[lo].offset == offset ? sorted[lo].index : UINT32_MAX;
}
