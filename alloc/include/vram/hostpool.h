/* vram/hostpool.h - a pool of host memory for the backing copies of evicted
 * handles, so that eviction and re-materialisation do not call malloc each time.
 *
 * The pool takes a few big chunks from the device's host allocator (page-locked
 * through cuMemHostAlloc on the cuda backend when the driver allows, else plain
 * memory) and hands out blocks from them first fit. Blocks are 64-byte aligned;
 * each costs a 64-byte header in front of it. Chunks are kept until
 * vram_hostpool_trim or vram_hostpool_destroy. Not thread-safe. */
#ifndef VRAM_HOSTPOOL_H
#define VRAM_HOSTPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "vram/device.h"
#include "vram/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vram_hostpool vram_hostpool;

typedef struct vram_hostpool_config {
    uint64_t chunk_bytes; /* bytes per chunk (0 = 64 MiB); a larger request gets a chunk of its own */
    uint64_t max_bytes;   /* limit on the bytes of all chunks (0 = none) */
} vram_hostpool_config;

typedef struct vram_hostpool_stats {
    uint64_t held;          /* bytes of all chunks */
    uint64_t in_use;        /* bytes of live blocks, headers and rounding included */
    uint64_t peak_in_use;
    uint64_t live_blocks;   /* blocks handed out and not put back */
    uint64_t chunks;
    uint64_t pinned_chunks; /* of which page-locked */
    uint64_t gets;          /* successful vram_hostpool_get calls */
    uint64_t chunk_allocs;  /* host allocations the pool made: gets - chunk_allocs were free */
} vram_hostpool_stats;

/* A pool drawing chunks from d's host allocator; d must outlive the pool.
 * cfg may be NULL (defaults). Fails with VRAM_EINVAL for a NULL d or out, or
 * a chunk size below 4 KiB; VRAM_ENOHOST when malloc fails. Takes no chunk yet. */
vram_status vram_hostpool_create(vram_device *d, const vram_hostpool_config *cfg,
                                 vram_hostpool **out);
/* Frees every chunk, live blocks included. NULL is a no-op. */
void vram_hostpool_destroy(vram_hostpool *p);

/* A block of at least size bytes, 64-byte aligned, contents undefined. Cost:
 * first fit, O(chunks + free ranges); a new chunk when none fits. Fails with
 * VRAM_EINVAL for size 0 or a NULL out, VRAM_EOVERFLOW for a size that cannot
 * be rounded, VRAM_ENOHOST when a new chunk would pass max_bytes or the host
 * allocator fails (nothing changes then). */
vram_status vram_hostpool_get(vram_hostpool *p, uint64_t size, void **out);
/* Returns a block; it merges with free neighbours. O(chunks + free ranges).
 * VRAM_EDOUBLEFREE for a block already put back, VRAM_ENOTFOUND for any other
 * pointer that get did not return (a pointer outside every chunk is never read),
 * VRAM_ENOHOST when the chunk's list of free ranges cannot grow (the block stays
 * out; putting it again later may succeed). */
vram_status vram_hostpool_put(vram_hostpool *p, void *ptr);
/* Frees the chunks that hold no live block; returns how many. O(chunks). */
uint64_t vram_hostpool_trim(vram_hostpool *p);

void vram_hostpool_stats_get(const vram_hostpool *p, vram_hostpool_stats *out);
/* VRAM_OK, or VRAM_ECORRUPT with the first violated invariant written to msg:
 * every chunk is tiled by live blocks (valid headers) and free ranges, free
 * ranges are sorted and coalesced, counters agree. O(blocks + free ranges). */
vram_status vram_hostpool_check(const vram_hostpool *p, char *msg, size_t msglen);

#ifdef __cplusplus
}
#endif
#endif
