/* caching_internal.h - the caching policy's blocks, segments and pools, shared by
 * heap_caching.c (allocation rules), caching_segments.c (where segments go),
 * caching_index.c (the free-block index and the live-block map) and
 * caching_check.c (walk and check).
 *
 * The model is PyTorch's CUDA caching allocator: a segment is one cudaMalloc
 * (or, with expandable segments, one pool's growing mapped range); a block is a
 * piece of a segment, used or cached free; the two pools (small: blocks of at
 * most 1 MiB, large: the rest) each index their free blocks by (size, offset). */
#ifndef VRAM_CACHING_INTERNAL_H
#define VRAM_CACHING_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "heap_internal.h"
#include "vram/caching.h"

#define CACHING_MIB (UINT64_C(1) << 20)
#define CACHING_MIN_BLOCK UINT64_C(512)           /* every block size is a multiple */
#define CACHING_SMALL_SIZE (1 * CACHING_MIB)      /* largest request of the small pool */
#define CACHING_SMALL_SEGMENT (2 * CACHING_MIB)   /* small segments; small expandable page */
#define CACHING_LARGE_SEGMENT (20 * CACHING_MIB)  /* for 1-10 MiB requests; large page */
#define CACHING_MIN_LARGE_ALLOC (10 * CACHING_MIB) /* from here segments are rounded to 2 MiB */
#define CACHING_ROUND_LARGE (2 * CACHING_MIB)     /* also the alignment of every segment base */

enum { CACHING_SMALL = 0, CACHING_LARGE = 1, CACHING_POOLS = 2 };

typedef struct caching_segment caching_segment;

/* A block. Invariants (caching_check.c verifies them): the blocks of a segment
 * tile it in address order through prev/next; no two neighbours are both free
 * (free_block merges at once); a free block is in its pool's index, a used one
 * in the live map, never both. */
typedef struct caching_block {
    uint64_t offset, size;     /* size: a multiple of CACHING_MIN_BLOCK */
    uint64_t requested;        /* bytes asked for; 0 while free */
    uint64_t gc_base;          /* the pool's search count when it was cached */
    struct caching_block *prev, *next;
    caching_segment *segment;
    int used;
} caching_block;

/* A segment: [base, base + size), base a multiple of CACHING_ROUND_LARGE (or of
 * a larger request alignment). An expandable segment is its pool's only one and
 * its size is a whole number of pages: the small pool's grows up from offset 0,
 * the large pool's down from the top of the range (its end stays fixed). */
struct caching_segment {
    uint64_t base, size;
    int pool;
    int expandable;
    caching_block *first, *last;
};

/* A pool's free blocks, sorted by (size, offset): best fit is a binary search. */
typedef struct caching_pool {
    caching_block **free;
    size_t nfree, cap;
    uint64_t searches;         /* best-fit searches so far: the gc's clock */
    caching_segment *expandable; /* the pool's growing segment, if any */
} caching_pool;

/* Used blocks by offset: open addressing, linear probing, backward-shift delete. */
typedef struct caching_map {
    caching_block **slots;     /* NULL = empty; capacity a power of two */
    size_t cap, count;
} caching_map;

typedef struct caching_heap {
    uint64_t capacity;
    vram_caching_options opt;  /* max_split_size 0 already replaced by UINT64_MAX */
    caching_segment **segs;    /* sorted by base; never overlapping */
    size_t nsegs, segcap;
    caching_pool pools[CACHING_POOLS];
    caching_map live;
    vram_caching_stats st;     /* reserved, allocated, requested and the counters */
    uint64_t live_allocs;
    /* Host memory an allocation may need, obtained before it changes anything,
     * so that a failed call leaves the heap as it was. */
    caching_block *spare[3];
    caching_segment *spare_seg;
} caching_heap;

/* caching_index.c: the pools' free indexes and the live map. Insertions fail
 * only with VRAM_ENOHOST and then change nothing. */
vram_status vram__caching_pool_insert(caching_pool *p, caching_block *b);
void vram__caching_pool_remove(caching_pool *p, const caching_block *b);
/* Index of the first free block with size >= size (nfree if none). */
size_t vram__caching_pool_lower_bound(const caching_pool *p, uint64_t size);
vram_status vram__caching_pool_reserve(caching_pool *p, size_t extra);
void vram__caching_pool_fini(caching_pool *p);

vram_status vram__caching_map_reserve(caching_map *m, size_t extra);
/* Requires room (vram__caching_map_reserve) and that offset is not present. */
void vram__caching_map_put(caching_map *m, caching_block *b);
caching_block *vram__caching_map_get(const caching_map *m, uint64_t offset);
void vram__caching_map_del(caching_map *m, uint64_t offset);
void vram__caching_map_fini(caching_map *m);

/* caching_segments.c: placing segments in [0, capacity) - what cudaMalloc does. */
/* The best-fitting gap (smallest, then lowest) for `size` bytes at a base
 * aligned to `align`: VRAM_ENOMEM if none; *pos is the insertion index. */
vram_status vram__caching_gap_find(const caching_heap *c, uint64_t size, uint64_t align,
                                   uint64_t *base, size_t *pos);
vram_status vram__caching_seg_reserve(caching_heap *c);
/* Requires room (vram__caching_seg_reserve). */
void vram__caching_seg_insert(caching_heap *c, caching_segment *s, size_t pos);
void vram__caching_seg_remove(caching_heap *c, const caching_segment *s);
/* Index of the segment containing offset, or nsegs. */
size_t vram__caching_seg_find(const caching_heap *c, uint64_t offset);
/* Bytes free between segment i and its neighbour above (or the range end). */
uint64_t vram__caching_room_above(const caching_heap *c, size_t i);
/* Bytes free between segment i and its neighbour below (or offset 0). */
uint64_t vram__caching_room_below(const caching_heap *c, size_t i);

/* caching_blocks.c */
/* PyTorch's get_free_block: the best-fitting cached block of the pool for a
 * rounded request, or NULL (also when the oversize rules refuse it). */
caching_block *vram__caching_find_free(caching_heap *c, int pool, uint64_t rsize, uint64_t align);
/* Hands out free block b (which fits): splits off an alignment pad in front
 * and, by the split rules, a remainder behind; returns the used block. */
caching_block *vram__caching_take(caching_heap *c, caching_block *b, uint64_t rsize,
                                  uint64_t align, uint64_t requested);
/* Frees used block b: merges it with free neighbours and caches the result. */
void vram__caching_put_back(caching_heap *c, caching_block *b);
/* A new segment (or more pages of the pool's expandable segment) with a free,
 * indexed block that fits; VRAM_ENOMEM when the range has no room. */
vram_status vram__caching_reserve_more(caching_heap *c, int pool, uint64_t rsize, uint64_t align,
                                       caching_block **out);

/* caching_release.c */
/* Releases every whole free segment and unmaps the free pages at the growing
 * end of expandable segments (PyTorch's release_cached_blocks); returns bytes. */
uint64_t vram__caching_release_all(caching_heap *c);
/* PyTorch's release_available_cached_blocks: with a max_split_size, releases
 * oversize whole segments of the pool worth at least the request; non-zero if so. */
int vram__caching_release_oversize(caching_heap *c, int pool, uint64_t rsize);
/* PyTorch's garbage collector: when reserved exceeds gc_threshold x capacity,
 * releases the large pool's older whole free segments until it no longer does. */
void vram__caching_gc(caching_heap *c);

/* caching_check.c */
vram_status vram__caching_walk(const void *impl, vram_walk_fn fn, void *ctx);
vram_status vram__caching_check(const void *impl, char *msg, size_t msglen);

/* x rounded up to a multiple of m, which need not be a power of two (20 MiB). */
static inline uint64_t vram__caching_round_up(uint64_t x, uint64_t m) { return (x + m - 1) / m * m; }

static inline uint64_t vram__caching_page(int pool)
{
    return pool == CACHING_SMALL ? CACHING_SMALL_SEGMENT : CACHING_LARGE_SEGMENT;
}

#endif
