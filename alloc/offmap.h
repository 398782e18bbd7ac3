/* offmap.h - a hash map from offsets to pointers (open addressing, linear
 * probing, backward-shift deletion), for the O(1) offset -> block index of a
 * heap policy.
 *
 * Invariants (kept by put and del): the table size is a power of two and at
 * least twice the entry count, so probes end at an empty slot; every entry sits
 * between its home slot and the first empty slot after it (deletion shifts the
 * entries behind a removed one back to keep this). An empty slot has val NULL. */
#ifndef VRAM_OFFMAP_H
#define VRAM_OFFMAP_H

#include <stddef.h>
#include <stdint.h>

#include "vram/status.h"

typedef struct vram__offmap_slot {
    uint64_t key;
    void *val; /* NULL: empty */
} vram__offmap_slot;

typedef struct vram__offmap {
    vram__offmap_slot *slot;
    size_t mask; /* table size - 1; no table while slot is NULL */
    size_t count;
} vram__offmap;

/* An empty map; allocates nothing yet. */
void vram__offmap_init(vram__offmap *m);
void vram__offmap_fini(vram__offmap *m);
/* Makes room for `extra` more entries, so that the next puts cannot fail.
 * VRAM_ENOHOST (the map unchanged) if malloc fails. O(count) when it grows,
 * O(1) amortised. */
vram_status vram__offmap_reserve(vram__offmap *m, size_t extra);
/* The value stored for key, or NULL. O(1) expected. */
void *vram__offmap_get(const vram__offmap *m, uint64_t key);
/* Stores key -> val (val not NULL); key must be absent and room reserved. O(1) expected. */
void vram__offmap_put(vram__offmap *m, uint64_t key, void *val);
/* Removes key, which must be present. O(1) expected. */
void vram__offmap_del(vram__offmap *m, uint64_t key);

#endif
