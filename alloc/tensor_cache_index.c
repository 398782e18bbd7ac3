/* tensor_cache_index.c - the tensor cache's lookup tables: shapes to entries
 * (open addressing over entry indexes) and offsets to buffers (open
 * addressing, backward-shift delete). Loads stay at most 1/2. */
#include <stdlib.h>
#include <string.h>

#include "tensor_cache_internal.h"

vram_tensor_shape vram__tc_normalise(const vram_tensor_shape *s)
{
    vram_tensor_shape k = {.ndim = s->ndim, .dtype = s->dtype};
    memcpy(k.dims, s->dims, s->ndim * sizeof k.dims[0]);
    return k;
}

static uint64_t mix(uint64_t h, uint64_t x) { return (h ^ x) * UINT64_C(0x100000001b3); }

static size_t shape_hash(const vram_tensor_shape *k, size_t cap)
{
    uint64_t h = mix(mix(UINT64_C(0xcbf29ce484222325), k->ndim), (uint64_t)k->dtype);
    for (uint32_t i = 0; i < k->ndim; i++)
        h = mix(h, k->dims[i]);
    return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static int same_shape(const vram_tensor_shape *a, const vram_tensor_shape *b)
{
    return a->ndim == b->ndim && a->dtype == b->dtype &&
           memcmp(a->dims, b->dims, a->ndim * sizeof a->dims[0]) == 0;
}

static size_t buf_home(uint64_t offset, size_t cap)
{
    return (size_t)((offset * UINT64_C(0x9e3779b97f4a7c15)) >> 32) & (cap - 1);
}

tc_buf *vram__tc_buf_find(const vram_tensor_cache *tc, uint64_t offset)
{
    if (!tc->bufcap)
        return NULL;
    for (size_t i = buf_home(offset, tc->bufcap); tc->bufs[i].state; i = (i + 1) & (tc->bufcap - 1))
        if (tc->bufs[i].offset == offset)
            return &tc->bufs[i];
    return NULL;
}

vram_status vram__tc_buf_reserve(vram_tensor_cache *tc, size_t extra)
{
    if ((tc->nbufs + extra) * 2 <= tc->bufcap)
        return VRAM_OK;
    size_t cap = tc->bufcap ? tc->bufcap : 64;
    while ((tc->nbufs + extra) * 2 > cap)
        cap *= 2;
    tc_buf *b = calloc(cap, sizeof *b);
    if (!b)
        return VRAM_ENOHOST;
    for (size_t i = 0; i < tc->bufcap; i++) {
        if (!tc->bufs[i].state)
            continue;
        size_t j = buf_home(tc->bufs[i].offset, cap);
        while (b[j].state)
            j = (j + 1) & (cap - 1);
        b[j] = tc->bufs[i];
    }
    free(tc->bufs);
    tc->bufs = b;
    tc->bufcap = cap;
    return VRAM_OK;
}

void vram__tc_buf_put(vram_tensor_cache *tc, uint64_t offset, uint32_t entry, uint32_t state)
{
    size_t i = buf_home(offset, tc->bufcap);
    while (tc->bufs[i].state)
        i = (i + 1) & (tc->bufcap - 1);
    tc->bufs[i] = (tc_buf){.offset = offset, .entry = entry, .state = state};
    tc->nbufs++;
}

void vram__tc_buf_del(vram_tensor_cache *tc, tc_buf *slot)
{
    size_t mask = tc->bufcap - 1, hole = (size_t)(slot - tc->bufs);
    tc->bufs[hole].state = BUF_EMPTY;
    tc->nbufs--;
    /* Backward shift: an entry moves into the hole unless its home lies
     * cyclically in (hole, j]. */
    for (size_t j = (hole + 1) & mask; tc->bufs[j].state; j = (j + 1) & mask) {
        size_t home = buf_home(tc->bufs[j].offset, tc->bufcap);
        int stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (stays)
            continue;
        tc->bufs[hole] = tc->bufs[j];
        tc->bufs[j].state = BUF_EMPTY;
        hole = j;
    }
}

tc_entry *vram__tc_entry_find(const vram_tensor_cache *tc, const vram_tensor_shape *k)
{
    if (!tc->slotcap)
        return NULL;
    for (size_t i = shape_hash(k, tc->slotcap); tc->slots[i]; i = (i + 1) & (tc->slotcap - 1))
        if (same_shape(&tc->entries[tc->slots[i] - 1].shape, k))
            return &tc->entries[tc->slots[i] - 1];
    return NULL;
}

static vram_status slots_rebuild(vram_tensor_cache *tc, size_t cap)
{
    uint32_t *s = calloc(cap, sizeof *s);
    if (!s)
        return VRAM_ENOHOST;
    for (size_t e = 0; e < tc->nentries; e++) {
        size_t i = shape_hash(&tc->entries[e].shape, cap);
        while (s[i])
            i = (i + 1) & (cap - 1);
        s[i] = (uint32_t)(e + 1);
    }
    free(tc->slots);
    tc->slots = s;
    tc->slotcap = cap;
    return VRAM_OK;
}

vram_status vram__tc_entry_get(vram_tensor_cache *tc, const vram_tensor_shape *k, uint64_t bytes,
                               tc_entry **out)
{
    if ((*out = vram__tc_entry_find(tc, k)))
        return VRAM_OK;
    if (tc->nentries >= UINT32_MAX - 1)
        return VRAM_ENOHOST;
    if (tc->nentries == tc->entcap) {
        size_t cap = tc->entcap ? tc->entcap * 2 : 16;
        tc_entry *e = realloc(tc->entries, cap * sizeof *e);
        if (!e)
            return VRAM_ENOHOST;
        tc->entries = e;
        tc->entcap = cap;
    }
    if ((tc->nentries + 1) * 2 > tc->slotcap) {
        vram_status st = slots_rebuild(tc, tc->slotcap ? tc->slotcap * 2 : 32);
        if (st)
            return st;
    }
    tc_entry *e = &tc->entries[tc->nentries];
    *e = (tc_entry){.shape = *k, .bytes = bytes};
    size_t i = shape_hash(k, tc->slotcap);
    while (tc->slots[i])
        i = (i + 1) & (tc->slotcap - 1);
    tc->slots[i] = (uint32_t)++tc->nentries;
    *out = e;
    return VRAM_OK;
}

vram_status vram__tc_entry_reserve(vram_tensor_cache *tc, tc_entry *e, size_t extra)
{
    size_t need = e->nidle + e->nout + extra;
    if (need > e->cap) {
        size_t cap = e->cap ? e->cap : 4;
        while (cap < need)
            cap *= 2;
        uint64_t *idle = realloc(e->idle, cap * sizeof *idle);
        if (!idle)
            return VRAM_ENOHOST;
        e->idle = idle;
        e->cap = cap;
    }
    return vram__tc_buf_reserve(tc, extra);
}

uint32_t  vram__tc_entry_index(const vram_tensor_cache *tc, const tc_entry *e)
{
    return (uint32_t)(e - tc->entries);
}
