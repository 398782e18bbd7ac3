/* tlsf_map.h - the TLSF policy's offset -> block index: an open-addressing hash
 * (linear probing, backward-shift deletion, no tombstones) from a block's start
 * offset to its node index. Keys live in the slots, so a probe reads only the
 * table's own contiguous memory, never the nodes.
 *
 * Invariant kept here: the table is at most half full, so every probe sequence
 * ends at an empty slot and expected probe lengths stay O(1). */
#ifndef VRAM_TLSF_MAP_H
#define VRAM_TLSF_MAP_H

#include <stdint.h>
#include <stdlib.h>

#include "vram/status.h"

#define TLSF_MAP_EMPTY UINT32_MAX

typedef struct tlsf_slot {
    uint64_t key;
    uint32_t idx;       /* node index, or TLSF_MAP_EMPTY */
} tlsf_slot;

typedef struct tlsf_map {
    tlsf_slot *slots;
    uint64_t mask;      /* slot count - 1 (a power of two minus one) */
    uint64_t count;     /* occupied slots */
    unsigned shift;     /* 64 - log2(slot count), for the multiplicative hash */
    unsigned key_shift; /* keys are multiples of 2^key_shift: dropped before hashing */
} tlsf_map;

static inline uint64_t tlsf_map_home(const tlsf_map *m, uint64_t key)
{
    return ((key >> m->key_shift) * UINT64_C(0x9E3779B97F4A7C15)) >> m->shift;
}

/* Allocates an empty table of 2^bits slots. VRAM_ENOHOST if malloc fails. */
static inline vram_status tlsf_map_init(tlsf_map *m, unsigned bits, unsigned key_shift)
{
    uint64_t n = UINT64_C(1) << bits;
    m->slots = malloc(n * sizeof *m->slots);
    if (!m->slots)
        return VRAM_ENOHOST;
    for (uint64_t i = 0; i < n; i++)
        m->slots[i].idx = TLSF_MAP_EMPTY;
    m->mask = n - 1;
    m->count = 0;
    m->shift = 64 - bits;
    m->key_shift = key_shift;
    return VRAM_OK;
}

static inline void tlsf_map_free(tlsf_map *m) { free(m->slots); }

/* The slot holding `key`, or the empty slot where it would go. O(1) expected. */
static inline uint64_t tlsf_map_slot(const tlsf_map *m, uint64_t key)
{
    uint64_t i = tlsf_map_home(m, key);
    while (m->slots[i].idx != TLSF_MAP_EMPTY && m->slots[i].key != key)
        i = (i + 1) & m->mask;
    return i;
}

/* The node index stored for `key`, or TLSF_MAP_EMPTY. O(1) expected. */
static inline uint32_t tlsf_map_get(const tlsf_map *m, uint64_t key)
{
    return m->slots[tlsf_map_slot(m, key)].idx;
}

/* Inserts `key`, which must not be present, with room reserved. O(1) expected. */
static inline void tlsf_map_put(tlsf_map *m, uint64_t key, uint32_t idx)
{
    uint64_t i = tlsf_map_home(m, key);
    while (m->slots[i].idx != TLSF_MAP_EMPTY)
        i = (i + 1) & m->mask;
    m->slots[i].key = key;
    m->slots[i].idx = idx;
    m->count++;
}

/* Makes room for `extra` more keys (doubling and rehashing if the table would be
 * more than half full). On VRAM_ENOHOST the table is unchanged. Amortised O(1). */
static inline vram_status tlsf_map_reserve(tlsf_map *m, uint64_t extra)
{
    if ((m->count + extra) * 2 <= m->mask + 1)
        return VRAM_OK;
    unsigned bits = 64 - m->shift;
    while ((m->count + extra) * 2 > (UINT64_C(1) << bits))
        bits++;
    tlsf_map grown;
    vram_status st = tlsf_map_init(&grown, bits, m->key_shift);
    if (st)
        return st;
    for (uint64_t i = 0; i <= m->mask; i++)
        if (m->slots[i].idx != TLSF_MAP_EMPTY)
            tlsf_map_put(&grown, m->slots[i].key, m->slots[i].idx);
    free(m->slots);
    *m = grown;
    return VRAM_OK;
}

/* Removes `key`, which must be present, shifting later entries of its probe run
 * back so that no lookup needs a tombstone. O(1) expected. */
static inline void tlsf_map_remove(tlsf_map *m, uint64_t key)
{
    uint64_t hole = tlsf_map_slot(m, key);
    uint64_t j = hole;
    for (;;) {
        j = (j + 1) & m->mask;
        if (m->slots[j].idx == TLSF_MAP_EMPTY)
            break;
        uint64_t home = tlsf_map_home(m, m->slots[j].key);
        /* The entry at j may move into the hole unless its home lies cyclically in (hole, j]. */
        int home_in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!home_in_range) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole].idx = TLSF_MAP_EMPTY;
    m->count--;
}

#endif
