/* caching_internal.h - the caching policy's blocks, segments and pools, shared by
 * heap_caching.c (the ops), caching_blocks.c (best fit, split, merge),
 * caching_grow.c (new segments and pages), caching_release.c (giving memory
 * back), caching_segments.c (where segments go), caching_index.c (the
 * free-block indexes and the live-block map), caching_check.c (walk, check)
 * and caching_conf.c (PYTORCH_CUDA_ALLOC_CONF).
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
#include "rbtree.h"
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
    vram__rb_node node;        /* in the pool's index while free */
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

/* A pool's free blocks in a red-black tree ordered by (size, offset), PyTorch's
 * BlockComparatorSize: best fit is a lower bound, O(log n). */
typedef struct caching_pool {
    vram__rb_tree free;
    /* Equal sizes by descending offset: the large pool of expandable segments,
     * which grows down where PyTorch's grows up, so that best fit's tie goes to
     * the block PyTorch's lowest address would be (caching_blocks.c). */
    int mirrored;
    uint64_t searches;         /* best-fit searches so far: the gc's clock */
    caching_segment *expandable; /* the pool's growing segment, if any */
} caching_pool;

/* Used blocks by offset: open addressing, linear probing, backward-shift delete.
 * A slot keeps the offset beside the block, so probing touches no block. */
typedef struct caching_slot {
    uint64_t offset;
    caching_block *block;      /* NULL = empty slot */
} caching_slot;

typedef struct caching_map {
    caching_slot *slots;       /* capacity a power of two */
    size_t cap, count;
} caching_map;

typedef struct caching_heap {
    uint64_t capacity;
    /* Where segments go, standing for cudaMalloc: a "bestfit" heap over the
     * range rounded down to 2 MiB, one used block per segment. NULL with
     * expandable segments (their two ranges need no placement) or when the
     * range holds no 2 MiB at all. */
    vram_heap *space;
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

/* caching_index.c: the pools' free indexes (they never allocate) and the live
 * map (its insertion needs room reserved first). */
void vram__caching_pool_insert(caching_pool *p, caching_block *b);
/* 1 when a comes before b in p's index order. */
int vram__caching_before(const caching_pool *p, const caching_block *a, const caching_block *b);
void vram__caching_pool_remove(caching_pool *p, caching_block *b);
/* The first free block with size >= size in (size, offset) order, or NULL. */
caching_block *vram__caching_pool_lower_bound(const caching_pool *p, uint64_t size);
caching_block *vram__caching_pool_first(const caching_pool *p);
caching_block *vram__caching_pool_last(const caching_pool *p);
caching_block *vram__caching_pool_next(const caching_block *b);
caching_block *vram__caching_pool_prev(const caching_block *b);

vram_status vram__caching_map_reserve(caching_map *m, size_t extra);
/* Requires room (vram__caching_map_reserve) and that offset is not present. */
void vram__caching_map_put(caching_map *m, caching_block *b);
caching_block *vram__caching_map_get(const caching_map *m, uint64_t offset);
void vram__caching_map_del(caching_map *m, uint64_t offset);
void vram__caching_map_fini(caching_map *m);

/* caching_segments.c: the segments in [0, capacity) and their placement. */
/* Creates c->space for a non-expandable heap (see caching_heap). */
vram_status vram__caching_space_init(caching_heap *c);
/* Makes room for bytes more of range (vram_heap_grow). */
vram_status vram__caching_space_grow(caching_heap *c, uint64_t bytes);
/* A base for a new segment of `size` bytes aligned to `align` (cudaMalloc):
 * VRAM_ENOMEM when no stretch of the range holds it. */
vram_status vram__caching_space_take(caching_heap *c, uint64_t size, uint64_t align, uint64_t *base);
/* Gives a segment's range back (cudaFree). */
void vram__caching_space_give(caching_heap *c, uint64_t base);
vram_status vram__caching_seg_reserve(caching_heap *c);
/* Lists s by its base; requires room (vram__caching_seg_reserve). */
void vram__caching_seg_insert(caching_heap *c, caching_segment *s);
void vram__caching_seg_remove(caching_heap *c, const caching_segment *s);
/* Index of the segment containing offset, or nsegs. */
size_t vram__caching_seg_find(const caching_heap *c, uint64_t offset);

/* caching_blocks.c */
/* One of the three spare blocks caching_alloc obtained, zeroed. */
caching_block *vram__caching_spare(caching_heap *c);
/* Puts free block b into its pool's index. */
void vram__caching_index(caching_heap *c, caching_block *b);
/* PyTorch's get_free_block: the best-fitting cached block of the pool for a
 * rounded request, or NULL (also when the oversize rules refuse it). */
caching_block *vram__caching_find_free(caching_heap *c, int pool, uint64_t rsize, uint64_t align);
/* Hands out free block b (which fits): splits off an alignment pad in front
 * and, by the split rules, a remainder behind; returns the used block. */
caching_block *vram__caching_take(caching_heap *c, caching_block *b, uint64_t rsize,
                                  uint64_t align, uint64_t requested);
/* Hands out [offset, offset + bsize) of free block b, which holds it (two
 * spares): the pieces before and after stay free and indexed. */
caching_block *vram__caching_take_at(caching_heap *c, caching_block *b, uint64_t offset,
                                     uint64_t bsize, uint64_t requested);
/* Frees used block b: merges it with free neighbours and caches the result. */
void vram__caching_put_back(caching_heap *c, caching_block *b);
/* caching_grow.c: a new segment (or more pages of the pool's expandable
 * segment) with a free, indexed block that fits; VRAM_ENOMEM when the range
 * has no room. */
vram_status vram__caching_reserve_more(caching_heap *c, int pool, uint64_t rsize, uint64_t align,
                                       caching_block **out);
/* A cached segment of exactly `size` bytes (expandable: pages for `size` bytes
 * more at the pool's growing end), for vram_heap_caching_seed. */
vram_status vram__caching_seed(caching_heap *c, int pool, uint64_t size);
/* A cached segment of exactly `size` bytes (not expandable), its free block
 * in *out; VRAM_ENOMEM when the range has no room. */
vram_status vram__caching_seed_segment(caching_heap *c, int pool, uint64_t size,
                                       caching_block **out);

/* caching_release.c */
/* Releases every whole free segment and unmaps the free pages at the growing
 * end of expandable segments (PyTorch's release_cached_blocks). */
void vram__caching_release_all(caching_heap *c);
/* PyTorch's release_available_cached_blocks: with a max_split_size, releases
 * oversize whole segments of the pool worth at least the request; non-zero if
 * so (zero also when it released some, largest first, that were not enough). */
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
