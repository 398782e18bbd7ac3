/* vram/caching.h - what the "caching" heap policy reports beyond vram_heap_stats.
 *
 * The caching policy follows PyTorch's CUDA caching allocator: requests are
 * rounded up to 512 B; requests of at most 1 MiB come from 2 MiB segments of the
 * small pool; larger ones from the large pool, whose new segments are 20 MiB for
 * requests below 10 MiB and the request rounded up to 2 MiB otherwise; best fit
 * by (size, offset) within a pool; freed blocks are cached (merged with free
 * neighbours) and segments are released only when a new one does not fit, by
 * the garbage collector, or never. Options: vram_caching_options in vram/heap.h.
 * An allocation failing with VRAM_ENOMEM may have released cached segments
 * first (used blocks never move): the one exception to vram/heap.h's "a failed
 * call leaves the heap unchanged".
 *
 * Names follow torch.cuda.memory_stats(): "reserved" is bytes in segments,
 * "allocated" bytes in used blocks; their difference is the "reserved but
 * unallocated" figure of PyTorch's out-of-memory message. */
#ifndef VRAM_CACHING_H
#define VRAM_CACHING_H

#include <stddef.h>
#include <stdint.h>

#include "vram/heap.h"
#include "vram/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vram_caching_stats {
    uint64_t reserved;             /* bytes in segments (= vram_heap_stats.footprint) */
    uint64_t allocated;            /* bytes in used blocks (= vram_heap_stats.in_use) */
    uint64_t requested;            /* bytes the callers asked for */
    uint64_t reserved_unallocated; /* reserved - allocated: cached, not handed out */
    uint64_t largest_cached;       /* the largest cached (free) block inside a segment */
    uint64_t cached_blocks;        /* cached blocks; vram_heap_stats' largest_free and
                                      free_blocks also count the unreserved gaps */
    uint64_t peak_reserved, peak_allocated;
    uint64_t segments;             /* live segments, both pools */
    uint64_t small_segments, large_segments;
    uint64_t segment_allocs, segment_alloc_bytes; /* cumulative: cudaMalloc calls, bytes */
    uint64_t segment_frees, segment_free_bytes;   /* cumulative: cudaFree calls, bytes */
    uint64_t maps, map_bytes;      /* expandable segments: pages mapped (calls, bytes) */
    uint64_t unmaps, unmap_bytes;  /* expandable segments: pages unmapped */
    uint64_t cache_hits;           /* allocations served from a cached block */
    uint64_t alloc_retries;        /* times all cached segments were released to retry */
    uint64_t gc_frees;             /* segments released by the garbage collector */
    uint64_t ooms;                 /* allocations that failed with VRAM_ENOMEM */
} vram_caching_stats;

/* Fills *out for a heap of the "caching" policy. O(log cached blocks): the
 * largest cached block is the maximum of each pool's tree of cached blocks;
 * the rest are counters. Fails with VRAM_EINVAL when h or out is NULL and
 * VRAM_EMISMATCH when h has another policy. */
vram_status vram_heap_caching_stats(const vram_heap *h, vram_caching_stats *out);

/* *reserved and *allocated as vram_heap_caching_stats reports them, for a
 * caller that reads them after every call (the replay's peak of reserved
 * bytes). Constant time: a pointer compare for the policy, two loads. Fails
 * with VRAM_EINVAL when an argument is NULL and VRAM_EMISMATCH when h has
 * another policy; the outputs are then unchanged. */
vram_status vram_heap_caching_reserved(const vram_heap *h, uint64_t *reserved, uint64_t *allocated);

/* torch.cuda.empty_cache(): releases every whole cached segment and unmaps the
 * free pages at the growing ends of expandable segments, as the last retry of
 * a failed allocation does. Used blocks never change. O(cached blocks). Fails
 * with VRAM_EINVAL for NULL and VRAM_EMISMATCH for another policy. */
vram_status vram_heap_caching_empty_cache(vram_heap *h);

/* Adds a cached (free) segment of `size` bytes to the small pool (large = 0)
 * or the large pool, as a cudaMalloc made earlier would have: for starting a
 * heap from a recorded allocator's segments (a snapshot's, sim/recordings/import_compare.c).
 * With expandable segments, maps pages for `size` more bytes at the pool's
 * growing end. Counted as a segment allocation (or map). Cost: one placement.
 * Fails with VRAM_EINVAL for a NULL heap or a size that is 0, no multiple of
 * 512 B or (without expandable segments) of 2 MiB, VRAM_EMISMATCH for another
 * policy, VRAM_ENOMEM when the range has no room, VRAM_ENOHOST. */
vram_status vram_heap_caching_seed(vram_heap *h, uint64_t size, int large);

/* The same for a non-expandable heap, with used blocks already in the new
 * segment: block i at at[i] bytes from the segment's start, of block_size[i]
 * bytes (a multiple of 512 B) with requested[i] asked for, in address order,
 * not overlapping; the gaps are cached free blocks. offsets[i] receives block
 * i's heap offset: free it with vram_heap_free as any block. For starting a
 * heap from a recorded layout. Fails as vram_heap_caching_seed, and with
 * VRAM_EINVAL for an expandable heap or blocks out of order or outside. */
vram_status vram_heap_caching_seed_segment(vram_heap *h, uint64_t size, int large, size_t n,
                                           const uint64_t *at, const uint64_t *block_size,
                                           const uint64_t *requested, uint64_t *offsets);

/* Parses a PYTORCH_CUDA_ALLOC_CONF string ("max_split_size_mb:128,
 * expandable_segments:True,garbage_collection_threshold:0.6") into *out, so a
 * replay can use the settings a user runs in production. Keys that do not
 * change where memory goes (backend:native, release_lock_on_cudamalloc,
 * pinned_*) are accepted and ignored; an empty string gives the defaults.
 * Fails with VRAM_EINVAL for NULL arguments, a malformed item or a value out of
 * PyTorch's range (max_split_size_mb > 20, threshold in (0, 1)) and with
 * VRAM_EUNSUPPORTED for a key we do not model (roundup_power2_divisions, ...);
 * err (may be NULL) then names the item. O(length). */
vram_status vram_caching_options_parse(const char *conf, vram_caching_options *out, char *err,
                                       size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
