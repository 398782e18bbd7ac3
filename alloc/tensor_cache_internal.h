/* tensor_cache_internal.h - the tensor cache's state, shared by tensor_cache.c
 * (the API), tensor_cache_index.c (lookup tables) and tensor_cache_check.c.
 *
 * Each distinct (dims, dtype) has an entry with a stack of its idle buffers;
 * entries are found through a hash table of entry indexes. Every buffer, idle or
 * handed out, is in the buffer table (offset -> entry, state). Invariants
 * (vram_tensor_cache_check verifies them): an entry's idle stack holds exactly
 * its buffers in state IDLE, and its capacity covers all of its buffers, so a
 * release never allocates; idle_bytes + out_bytes <= limit. */
#ifndef VRAM_TENSOR_CACHE_INTERNAL_H
#define VRAM_TENSOR_CACHE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "heap_internal.h"
#include "vram/tensor_cache.h"

enum { BUF_EMPTY = 0, BUF_IDLE = 1, BUF_OUT = 2 };

typedef struct tc_entry {
    vram_tensor_shape shape; /* dims past ndim are zero */
    uint64_t bytes;
    uint64_t *idle;          /* offsets of idle buffers, a stack */
    size_t nidle, cap;       /* cap >= nidle + nout */
    size_t nout;
} tc_entry;

typedef struct tc_buf {
    uint64_t offset;
    uint32_t entry;
    uint32_t state;          /* BUF_EMPTY marks a free slot */
} tc_buf;

struct vram_tensor_cache {
    vram_heap *heap;
    uint64_t limit, align;
    tc_entry *entries;
    size_t nentries, entcap;
    uint32_t *slots;         /* entry index + 1; 0 = empty; capacity a power of two */
    size_t slotcap;
    tc_buf *bufs;            /* open addressing by offset, backward-shift delete */
    size_t bufcap, nbufs;
    vram_tensor_cache_stats st;
};

/* tensor_cache_index.c. Functions returning a status fail only with
 * VRAM_ENOHOST and then change nothing. */
/* The key of a shape: ndim, dtype and the used dims, zeros past ndim. */
vram_tensor_shape vram__tc_normalise(const vram_tensor_shape *s);
tc_buf *vram__tc_buf_find(const vram_tensor_cache *tc, uint64_t offset);
/* Room for `extra` more buffers in the table. */
vram_status vram__tc_buf_reserve(vram_tensor_cache *tc, size_t extra);
/* Requires room and an offset not in the table. */
void vram__tc_buf_put(vram_tensor_cache *tc, uint64_t offset, uint32_t entry, uint32_t state);
void vram__tc_buf_del(vram_tensor_cache *tc, tc_buf *slot);
/* The entry of key k (normalised), or NULL. */
tc_entry *vram__tc_entry_find(const vram_tensor_cache *tc, const vram_tensor_shape *k);
/* The entry of key k, created if new; entries are never removed. */
vram_status vram__tc_entry_get(vram_tensor_cache *tc, const vram_tensor_shape *k, uint64_t bytes,
                               tc_entry **out);
/* Room in e's stack and in the buffer table for `extra` more buffers. */
vram_status vram__tc_entry_reserve(vram_tensor_cache *tc, tc_entry *e, size_t extra);
uint32_t vram__tc_entry_index(const vram_tensor_cache *tc, const tc_entry *e);

#endif
