/* manager_internal.h - what the manager's files share inside libvram:
 * the handle table (handles.c), the eviction engine (evict.c), the shared
 * registry (shared.c), the façade (manager.c), its check (manager_check.c)
 * and defragmentation (defrag.c). */
#ifndef VRAM_MANAGER_INTERNAL_H
#define VRAM_MANAGER_INTERNAL_H

#include <stdint.h>

#include "vram/evict.h"
#include "vram/manager.h"

extern const vram_evict_ops vram__evict_prio_lru_ops;
extern const vram_evict_ops vram__evict_lru_ops;
extern const vram_evict_ops vram__evict_cost_ops;

/* A heap block as the manager holds it: its offset and the heap's token for
 * it, which frees it without a lookup (vram_heap_free_token). */
typedef struct vram__block {
    uint64_t offset, token;
} vram__block;

/* One slot of the handle table. A slot is live between vram__handles_new and
 * vram__handles_release; the live handle's value is (gen << 32) | index and
 * gen is never 0, so the value 0 is never a valid handle.
 *   resident:  offset is a live heap block holding `size` bytes, which token
 *              names to the heap; else the handle holds no device bytes (host_copy holds its contents
 *              when backing is HOST and the device keeps real contents).
 *   evictable: the handle is in the eviction policy's set, which is exactly
 *              when resident && pins == 0 && uses == 0 && backing != NONE.
 *   tagged:    on a host-backed device, the block holds the fill pattern of
 *              the handle's value (fresh blocks, and kept through host copies
 *              and moves); a callback that rewrote the block clears it. */
typedef struct vram__handle {
    uint64_t size;         /* bytes requested */
    uint64_t align;        /* alignment requested (0 = the heap's minimum) */
    uint64_t offset;       /* heap offset while resident */
    uint64_t token;        /* the heap's token of that block while resident */
    uint64_t last_use;     /* manager clock of the last use */
    uint64_t key_since;    /* manager clock when it last entered the set or its key changed */
    void *host_copy;       /* contents while evicted (HOST backing) */
    vram_remat_fn remat;   /* CALLBACK backing; the loader of a shared buffer */
    void *remat_ctx;
    uint32_t gen;
    uint32_t next_free;    /* free-list link while the slot is free */
    uint32_t pins, uses;
    uint32_t shared_refs;  /* > 0 exactly for a shared buffer: its holders */
    int priority;
    uint8_t kind, backing;
    uint8_t live, resident, evictable, tagged;
} vram__handle;

/* The handle table: slots[0, used) have been handed out at least once; free
 * slots form a LIFO list through next_free. Grows by doubling. */
typedef struct vram__handles {
    vram__handle *slots;
    uint32_t cap, used, live;
    uint32_t free_head; /* UINT32_MAX: empty */
} vram__handles;

/* The shared registry: key -> handle index, open addressing with linear
 * probing and backward-shift deletion (no tombstones). */
#define VRAM__KEY_MAX 64 /* bytes of a key including the NUL */
typedef struct vram__shared_entry {
    char key[VRAM__KEY_MAX]; /* "" = empty slot */
    uint32_t index;
} vram__shared_entry;

typedef struct vram__shared {
    vram__shared_entry *slots;
    uint32_t cap, count; /* cap a power of two (or 0); count <= cap / 2 */
} vram__shared;

/* The key of the latest eviction round's last victim (see manager_check.c). */
typedef struct vram__round {
    int valid;
    uint64_t start;       /* manager clock when the round began */
    vram_evict_key last;  /* key of its last victim */
} vram__round;

struct vram_manager {
    vram_device *dev;
    vram_heap *heap;
    uint64_t base;         /* device address of heap offset 0 (one segment) */
    uint64_t capacity;     /* heap capacity */
    int evict;             /* evict when an allocation does not fit */
    int verify;            /* host-backed device: fill and verify contents */
    int host_copies;       /* evictions keep real host copies (in hostpool) */
    struct vram_hostpool *hostpool;
    int defrag_on_oom;
    uint64_t defrag_budget;
    double copy_latency_ns, h2d_bytes_per_ns; /* for reload costs */
    vram__handles handles;
    const vram_evict_ops *policy;
    void *policy_impl;
    uint32_t policy_cap;   /* indices the policy has reserved */
    vram__shared shared;
    uint64_t clock;        /* logical clock: +1 per use */
    uint64_t resident_handles, resident_bytes, evictable_bytes;
    vram__round round;
    uint64_t releases;     /* handle blocks given back to the heap (evictions, frees) */
    /* The latest automatic compaction that could not make room for
     * futile_size bytes happened when releases was futile_releases. */
    int futile;
    uint64_t futile_size, futile_releases;
    /* Back-off after futile automatic compactions (evict.c): defrag_skip
     * attempts are passed over; defrag_streak futile passes since the last
     * successful one or the last free. */
    uint32_t defrag_streak;
    uint64_t defrag_skip;
    int has_budget;
    vram_budget_profile budget;
    vram_manager_stats counters; /* the counting fields only; the rest is filled on read */
};

/* handles.c */
void vram__handles_init(vram__handles *t);
void vram__handles_fini(vram__handles *t);
/* A fresh live slot (zeroed except gen): O(1) amortised; ENOHOST when the
 * table cannot grow, EOVERFLOW past 2^32 - 1 slots. */
vram_status vram__handles_new(vram__handles *t, uint32_t *index);
/* Frees a live slot: the generation moves on, so old handles become stale. */
void vram__handles_release(vram__handles *t, uint32_t index);
/* The live slot of h: ENOTFOUND (never issued, forged), ESTALE (freed and
 * reused, or freed long ago), EDOUBLEFREE (freed, the slot not reused). */
vram_status vram__handles_lookup(const vram__handles *t, vram_handle h, uint32_t *index);
vram_handle vram__handles_value(const vram__handles *t, uint32_t index);
/* The resident handles sorted by offset (malloc'd; the caller frees):
 * O(n log n). ENOHOST. */
typedef struct vram__placed {
    uint64_t offset;
    uint32_t index;
} vram__placed;
vram_status vram__handles_resident_by_offset(const vram__handles *t, vram__placed **out,
                                             uint32_t *n);
/* The handle index resident at offset in `sorted`, or UINT32_MAX: O(log n). */
uint32_t vram__placed_find(const vram__placed *sorted, uint32_t n, uint64_t offset);

/* manager.c: the façade's steps on a live index (no lookup). */
vram_status vram__alloc_index(vram_manager *m, const vram_alloc_desc *d, uint32_t *index);
vram_status vram__free_index(vram_manager *m, uint32_t index);
/* A use: re-materialises an evicted handle (counting an ENOMEM), stamps it. */
vram_status vram__use_index(vram_manager *m, uint32_t index);

/* evict.c */
/* Keeps the evictable flag and the policy's set in line with the handle's
 * state (call after any change of residency, pins, uses). */
void vram__evict_sync(vram_manager *m, uint32_t index);
/* A use of the handle now: new stamp, the policy's order updated. */
void vram__evict_use(vram_manager *m, uint32_t index);
/* A heap block for size/align, evicting as the rule in evict.c says. */
vram_status vram__place(vram_manager *m, uint64_t size, uint64_t align, vram__block *b);
/* vram_evict on a slot: evicts a resident, evictable handle out of turn. */
vram_status vram__evict_index(vram_manager *m, uint32_t index);
/* Brings an evicted handle back (may evict others). */
vram_status vram__remat(vram_manager *m, uint32_t index);
/* Frees the handle's device bytes or host copy (verifying its contents). */
vram_status vram__drop_contents(vram_manager *m, uint32_t index);
/* Bookkeeping of a handle that now holds the heap block b. */
void vram__mark_resident(vram_manager *m, uint32_t index, vram__block b);
/* Counts an ENOMEM answered to a caller (failed_despite_free when the heap had
 * `size` free bytes in total). */
void vram__count_oom(vram_manager *m, uint64_t size);

/* shared.c */
void vram__shared_fini(vram__shared *s);

/* defrag.c: whether a block offered for a handle will do. */
typedef int (*vram__offer_fn)(const void *ctx, uint64_t offset, uint64_t size);
/* A new heap block for the handle that `accept` takes, among at most a few
 * offers of the heap: VRAM_OK and *dst (allocated), VRAM_ENOMEM when none. */
vram_status vram__defrag_offer(vram_manager *m, uint32_t index, vram__offer_fn accept,
                               const void *ctx, vram__block *dst);
/* Moves the resident handle into the allocated block dst (device copy,
 * contents verified on a host-backed device); on failure dst is freed and
 * the handle stays where it was. Counts the move. */
vram_status vram__defrag_relocate(vram_manager *m, uint32_t index, vram__block dst);
/* defrag_target.c: evacuates a window of the heap so that size/align fits
 * (the automatic compaction on OOM): VRAM_OK when it made room, VRAM_ENOMEM
 * when no window could be evacuated. */
vram_status vram__defrag_for(vram_manager *m, uint64_t size, uint64_t align);

static inline uint64_t vram__addr(const vram_manager *m, const vram__handle *s)
{
    return m->base + s->offset;
}

#endif
