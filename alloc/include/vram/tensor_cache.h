/* vram/tensor_cache.h - a cache of device buffers for common tensor shapes.
 *
 * Inference runs allocate the same few activation and workspace shapes over and
 * over. A tensor cache holds buffers of such shapes, keyed by (dims, dtype),
 * pre-allocated from a vram_heap: acquire hands out an idle buffer of exactly
 * that shape and release takes it back, both without touching the heap. A miss
 * (no idle buffer of the shape) is counted and left to the caller, who
 * allocates from the heap itself; on free the caller may offer such a block to
 * the cache (adopt), which keeps it if its byte limit allows. The limit bounds
 * every byte the cache holds, idle or handed out.
 *
 * The cache never frees a handed-out buffer: trim and destroy return idle
 * buffers to the heap, and destroy also the handed-out ones (the caller must
 * not use them afterwards). One cache per heap user; not thread-safe. */
#ifndef VRAM_TENSOR_CACHE_H
#define VRAM_TENSOR_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "vram/heap.h"
#include "vram/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vram_dtype {
    VRAM_DTYPE_F32,
    VRAM_DTYPE_F16,
    VRAM_DTYPE_BF16,
    VRAM_DTYPE_FP8, /* either float8 format: one byte */
    VRAM_DTYPE_F64,
    VRAM_DTYPE_I64,
    VRAM_DTYPE_I32,
    VRAM_DTYPE_I16,
    VRAM_DTYPE_I8,
    VRAM_DTYPE_U8,
    VRAM_DTYPE_BOOL,
    VRAM_DTYPE_COUNT
} vram_dtype;

#define VRAM_TENSOR_MAX_DIMS 8

typedef struct vram_tensor_shape {
    uint32_t ndim;                       /* 0 = a scalar */
    uint64_t dims[VRAM_TENSOR_MAX_DIMS]; /* dims[0..ndim) are used, each >= 1 */
    vram_dtype dtype;
} vram_tensor_shape;

/* Bytes of one element of dtype; 0 for a value outside the enum. */
uint64_t vram_dtype_size(vram_dtype dtype);
/* "f32", "bf16", ...; "?" for a value outside the enum. */
const char *vram_dtype_name(vram_dtype dtype);
/* Bytes of a tensor of this shape (product of dims times the element size).
 * VRAM_EINVAL for NULL, ndim > VRAM_TENSOR_MAX_DIMS, a zero dim or an unknown
 * dtype; VRAM_EOVERFLOW when the product does not fit 64 bits. O(ndim). */
vram_status vram_tensor_bytes(const vram_tensor_shape *shape, uint64_t *bytes);

typedef struct vram_tensor_cache_config {
    uint64_t limit_bytes; /* the most bytes the cache holds, idle or handed out; > 0 */
    uint64_t align;       /* buffer alignment; 0 = the heap's minimum */
} vram_tensor_cache_config;

typedef struct vram_tensor_cache_stats {
    uint64_t hits;         /* acquires served from an idle buffer */
    uint64_t misses;       /* acquires that found none */
    uint64_t idle_bytes;   /* bytes held but not handed out: what the cache costs */
    uint64_t idle_buffers;
    uint64_t out_bytes;    /* bytes handed out now */
    uint64_t out_buffers;
    uint64_t shapes;       /* distinct (dims, dtype) keys with at least one buffer */
    uint64_t adopted;      /* blocks the cache kept when offered (adopt) */
    uint64_t refused;      /* blocks it refused for its limit */
    uint64_t limit_bytes;
} vram_tensor_cache_stats;

typedef struct vram_tensor_cache vram_tensor_cache;

/* A cache over `heap` (not owned: it must outlive the cache). VRAM_EINVAL for
 * NULL arguments, a zero limit or an alignment that is not a power of two;
 * VRAM_ENOHOST without host memory. Constant time. */
vram_status vram_tensor_cache_create(vram_heap *heap, const vram_tensor_cache_config *cfg,
                                     vram_tensor_cache **out);
/* Returns every buffer, idle and handed out, to the heap. NULL is a no-op. */
void vram_tensor_cache_destroy(vram_tensor_cache *tc);

/* Pre-allocates `count` idle buffers of `shape` from the heap, all or none.
 * Fails with the vram_tensor_bytes errors, VRAM_EINVAL for count 0, VRAM_ENOMEM
 * when they would take the cache over its limit (nothing is allocated then) or
 * the heap has no room, VRAM_ENOHOST without host memory. Cost: count heap
 * allocations. */
vram_status vram_tensor_cache_reserve(vram_tensor_cache *tc, const vram_tensor_shape *shape,
                                      uint32_t count);
/* Hands out an idle buffer of exactly `shape` (a hit): its heap offset goes to
 * *offset. VRAM_ENOTFOUND when none is idle (a miss, counted); the vram_tensor_bytes
 * errors for a bad shape (not counted). O(1) expected. */
vram_status vram_tensor_cache_acquire(vram_tensor_cache *tc, const vram_tensor_shape *shape,
                                      uint64_t *offset);
/* Takes back a buffer that acquire handed out; it becomes idle. VRAM_ENOTFOUND
 * when offset is no buffer of the cache (a heap block the caller owns),
 * VRAM_EDOUBLEFREE when it is idle already. O(1) expected. */
vram_status vram_tensor_cache_release(vram_tensor_cache *tc, uint64_t offset);
/* Offers a heap block of `shape` at `offset` that the caller is done with: the
 * cache keeps it as an idle buffer (VRAM_OK; the caller must not free it) or
 * refuses it with VRAM_ENOMEM when it would exceed the limit (the caller frees
 * it to the heap). VRAM_EBUSY when offset is already a buffer of the cache; the
 * vram_tensor_bytes errors for a bad shape. The block must be a live heap block
 * of at least the shape's bytes (check() verifies it). O(1) expected. */
vram_status vram_tensor_cache_adopt(vram_tensor_cache *tc, const vram_tensor_shape *shape,
                                    uint64_t offset);
/* Returns the idle buffers of `shape` (all shapes when NULL) to the heap; the
 * bytes freed go to *freed (may be NULL). A shape the cache never saw frees
 * nothing. Fails with the vram_tensor_bytes errors, or with the heap's status
 * when it refuses a buffer (an adopted offset that was no heap block): the
 * buffers not yet freed stay. Cost: one heap free per buffer. */
vram_status vram_tensor_cache_trim(vram_tensor_cache *tc, const vram_tensor_shape *shape,
                                   uint64_t *freed);

void vram_tensor_cache_stats_get(const vram_tensor_cache *tc, vram_tensor_cache_stats *out);
/* VRAM_OK, or VRAM_ECORRUPT with the first violated invariant in msg: counters
 * agree with the buffers, the limit holds, and every buffer is a live heap block
 * of at least its shape's bytes. Cost: one heap walk. */
vram_status vram_tensor_cache_check(const vram_tensor_cache *tc, char *msg, size_t msglen);

#ifdef __cplusplus
}
#endif
#endif
