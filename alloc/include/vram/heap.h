/* vram/heap.h - sub-allocators over an address range, behind one ops table.
 *
 * A heap manages offsets in [0, capacity) of a range it never touches: all
 * metadata lives outside the managed memory (it may be VRAM the CPU cannot see).
 * Policies: "bestfit", "buddy", "tlsf", "pool", "caching" (see vram_heap_policy).
 *
 * Contract of every policy, enforced by vram_heap_* before the policy runs:
 *   - size 0, size > capacity, or an alignment that is not a power of two is
 *     VRAM_EINVAL; an alignment below the heap's minimum is raised to it;
 *   - freeing an offset that is not the start of a live block is VRAM_ENOTFOUND,
 *     or VRAM_EDOUBLEFREE when the policy can tell it was freed already (the
 *     same for a token that names no live block, vram_heap_free_token);
 *   - a failed call leaves the heap unchanged. "caching" keeps its used blocks
 *     and capacity so, but not always its reserved segments (footprint): an
 *     allocation that ends in VRAM_ENOMEM may have released cached segments
 *     first, as PyTorch does, and a failed batch keeps cached the segments it
 *     reserved (see alloc_batch). */
#ifndef VRAM_HEAP_H
#define VRAM_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "vram/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VRAM_DEFAULT_ALIGN 256u /* what cudaMalloc guarantees */

typedef struct vram_heap vram_heap;

/* Options of the caching policy (PyTorch CUDA caching allocator rules). */
typedef struct vram_caching_options {
    uint64_t max_split_size;   /* blocks of at least this size are never split; 0 = unlimited */
    int expandable_segments;   /* one growing mapped range per pool instead of segments */
    double gc_threshold;       /* 0 = off; else free cached blocks when reserved > threshold*capacity */
} vram_caching_options;

typedef struct vram_heap_config {
    uint64_t capacity;   /* bytes managed: offsets [0, capacity) */
    uint64_t min_align;  /* 0 means VRAM_DEFAULT_ALIGN; must be a power of two */
    uint64_t block_size; /* "pool": the fixed block size (0 = 2 MiB); ignored elsewhere */
    const vram_caching_options *caching; /* "caching": NULL = defaults */
} vram_heap_config;

/* Stats of every policy. footprint is the bytes the policy needs from the
 * device now, comparable across policies and with the peak of live bytes:
 *   - range policies (bestfit, buddy, tlsf, pool): the end of the highest used
 *     block, i.e. the part of the range that must be mapped when it is mapped
 *     from offset 0 up. It measures memory needed, not placement, because every
 *     range policy packs downward: a block goes above the highest used one only
 *     when no free block below fits as well (bestfit and tlsf: the free run at
 *     the top is one block among the fits; pool: the free list below the
 *     high-water mark first; buddy: the smallest fitting block below, else the
 *     lowest fitting block above, see heap_buddy.c), so a capacity that is no
 *     power of two or a large device does not show up in it. A footprint equal
 *     to the capacity means the policy used the whole device (and evicted or
 *     failed if it needed more), not that it placed one block at the top.
 *   - "caching": the bytes of its reserved segments (PyTorch's "reserved"),
 *     wherever they are placed in the range; the end of its highest segment is
 *     not reported (placement inside the range stands for cudaMalloc's, which
 *     needs no contiguous range).
 * peak_* are high-water marks since creation. */
typedef struct vram_heap_stats {
    uint64_t capacity;      /* bytes managed (grows with vram_heap_grow) */
    uint64_t in_use;        /* bytes in used blocks (rounded sizes) */
    uint64_t requested;     /* bytes the callers asked for: in_use - requested = internal waste */
    uint64_t free;          /* capacity - in_use */
    uint64_t largest_free;  /* the largest single free block */
    uint64_t free_blocks;   /* number of free blocks */
    uint64_t live_allocs;   /* number of used blocks */
    uint64_t peak_in_use;   /* high-water mark of in_use */
    uint64_t footprint;     /* bytes needed from the device now */
    uint64_t peak_footprint;
} vram_heap_stats;

/* One block as walk() reports it, in address order. */
typedef struct vram_block_info {
    uint64_t offset;
    uint64_t size;      /* bytes of the block (rounded) */
    uint64_t requested; /* bytes asked for; 0 for free blocks */
    uint32_t refs;      /* references: 0 free, 1 for a used block, >1 for a shared pool block */
    int used;
} vram_block_info;

/* Return non-zero to stop the walk early. */
typedef int (*vram_walk_fn)(const vram_block_info *block, void *ctx);

/* The ops table of a policy. Entries marked optional may be NULL; the wrapper
 * then answers VRAM_EUNSUPPORTED (or does without: restore_peaks). The wrapper has
 * already validated arguments as the contract above says. */
typedef struct vram_heap_ops {
    const char *name;
    vram_status (*create)(const vram_heap_config *cfg, void **impl);
    void (*destroy)(void *impl);
    vram_status (*alloc)(void *impl, uint64_t size, uint64_t align, uint64_t *offset);
    vram_status (*free)(void *impl, uint64_t offset);
    vram_status (*grow)(void *impl, uint64_t bytes);   /* VRAM_EUNSUPPORTED if it cannot */
    void (*stats)(const void *impl, vram_heap_stats *out);
    vram_status (*walk)(const void *impl, vram_walk_fn fn, void *ctx);
    /* VRAM_OK, or VRAM_ECORRUPT with the first violated invariant written to msg. */
    vram_status (*check)(const void *impl, char *msg, size_t msglen);
    /* Validates every offset before freeing any: on failure nothing was freed. */
    vram_status (*free_batch)(void *impl, size_t n, const uint64_t *offsets);
    vram_status (*retain)(void *impl, uint64_t offset);          /* optional ("pool") */
    /* Largest request alloc() could satisfy now (policy rounding included). */
    uint64_t (*max_alloc)(const void *impl);
    /* Sets the high-water marks to the given values, never below the current
     * in_use / footprint (see vram_heap_restore_peaks). Optional. */
    void (*restore_peaks)(void *impl, uint64_t peak_in_use, uint64_t peak_footprint);
    /* Optional, for tables built at run time (a plugin's adapter, sim/replay/plugin.c):
     * when set, vram_heap_create calls it instead of create and passes the
     * table itself, so that its entries can find the state they share. */
    vram_status (*create_from)(const struct vram_heap_ops *self, const vram_heap_config *cfg,
                               void **impl);
    /* Optional pair, free without a lookup: alloc_token is alloc that also
     * answers a token naming the block, and free_token frees the block its token
     * names, as free frees it by offset (the two may be mixed on one heap).
     * Without the pair the wrapper's token is the offset (see vram_heap_alloc_token). */
    vram_status (*alloc_token)(void *impl, uint64_t size, uint64_t align, uint64_t *offset,
                               uint64_t *token);
    vram_status (*free_token)(void *impl, uint64_t token);
} vram_heap_ops;

/* The registered policies by name ("bestfit", "buddy", "tlsf", "pool", "caching");
 * NULL for an unknown name. vram_heap_policy_names lists them, NULL-terminated. */
const vram_heap_ops *vram_heap_policy(const char *name);
extern const char *const vram_heap_policy_names[];

vram_status vram_heap_create(const vram_heap_ops *ops, const vram_heap_config *cfg,
                             vram_heap **out);
void vram_heap_destroy(vram_heap *h);
const char *vram_heap_name(const vram_heap *h);
uint64_t vram_heap_min_align(const vram_heap *h);

vram_status vram_heap_alloc(vram_heap *h, uint64_t size, uint64_t align, uint64_t *offset);
vram_status vram_heap_free(vram_heap *h, uint64_t offset);
/* Free without a lookup, as OffsetAllocator's allocation handle: alloc_token is
 * vram_heap_alloc that also answers a token, an opaque 64-bit value that names
 * the block until it is freed; vram_heap_free_token(token) frees it as
 * vram_heap_free(offset) would, without finding the block by its offset ("tlsf"
 * and "bestfit": the token holds the block's record index and that record's
 * allocation count; the other policies' token is the offset: pool's lookup is
 * arithmetic, buddy's and caching's a hash). A token that names no live block
 * (freed already, forged, another heap's) is refused and changes nothing:
 * VRAM_EDOUBLEFREE when the policy can tell that the block was freed and not
 * reallocated since, else VRAM_ENOTFOUND. Both O(1) but as vram_heap_alloc and
 * vram_heap_free cost otherwise. A token is only for vram_heap_free_token: a
 * block freed by offset is gone for its token too, and vice versa. */
vram_status vram_heap_alloc_token(vram_heap *h, uint64_t size, uint64_t align, uint64_t *offset,
                                  uint64_t *token);
vram_status vram_heap_free_token(vram_heap *h, uint64_t token);
/* All-or-nothing: on failure no block of the batch stays allocated (they are
 * freed; "caching" keeps the segments reserved for them cached, as any free). */
vram_status vram_heap_alloc_batch(vram_heap *h, size_t n, const uint64_t *sizes, uint64_t align,
                                  uint64_t *offsets);
/* Offsets in any order; coalesces as fully as n single frees. Every offset is
 * validated first: on failure nothing was freed. */
vram_status vram_heap_free_batch(vram_heap *h, size_t n, const uint64_t *offsets);
/* Appends `bytes` at the end of the range (a multiple of the minimum alignment). */
vram_status vram_heap_grow(vram_heap *h, uint64_t bytes);
/* Adds a reference to a live block (pool); vram_heap_free drops one. */
vram_status vram_heap_retain(vram_heap *h, uint64_t offset);
void vram_heap_stats_get(const vram_heap *h, vram_heap_stats *out);
vram_status vram_heap_walk(const vram_heap *h, vram_walk_fn fn, void *ctx);
vram_status vram_heap_check(const vram_heap *h, char *msg, size_t msglen);
uint64_t vram_heap_max_alloc(const vram_heap *h);
/* Undoes what trial allocations, freed again, did to the high-water marks: the
 * peaks become the given ones (taken by vram_heap_stats_get before the trial)
 * or the current in_use / footprint, whichever is higher, so a block that was
 * only tried never counts as footprint. A policy without the entry keeps its
 * peaks. O(1). Cannot fail; NULL is a no-op. */
void vram_heap_restore_peaks(vram_heap *h, uint64_t peak_in_use, uint64_t peak_footprint);

#ifdef __cplusplus
}
#endif
#endif
