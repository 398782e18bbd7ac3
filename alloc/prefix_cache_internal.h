/* prefix_cache_internal.h - the prefix cache's state, shared by prefix_cache.c
 * (the API and block states), prefix_cache_index.c (the chained hash and the
 * hash indexes), prefix_cache_host.c (the host tier), prefix_cache_policy.c
 * (the eviction policies) and prefix_cache_check.c.
 *
 * Invariants (vram_prefix_cache_check verifies each, in these words):
 *  - a block is free (refs 0, hash 0, on the free stack once), held (refs > 0)
 *    or idle (refs 0, cached); cached means "in the device index under its
 *    hash", and only a block with a hash is cached; a held block with a hash
 *    that is not cached is a duplicate;
 *  - the device index maps exactly the cached blocks' hashes to them;
 *  - a cached block's link (parent, parent_gen) is valid when parent is not
 *    NIL, blocks[parent] is cached, its gen equals parent_gen and its hash
 *    equals the block's parent_hash; children of a block counts the cached
 *    blocks with a valid link to it; a leaf is a block with children 0;
 *  - the policy holds exactly the evictable blocks: idle cached blocks, and
 *    for a leaf_only policy only the leaves among them;
 *  - host entries: each used slot is in the host index under its hash and on
 *    the host list (oldest at the head) once; the unused slots are on the host
 *    free stack; no hash is both cached on the device and on the host tier;
 *  - the counters in st (free_blocks ... host_entries) match a recount. */
#ifndef VRAM_PREFIX_CACHE_INTERNAL_H
#define VRAM_PREFIX_CACHE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "heap_internal.h"
#include "vram/prefix_cache.h"

#define PC_NIL UINT32_MAX

typedef struct pc_block {
    uint64_t hash;        /* 0: none (free, or held and not full yet) */
    uint64_t parent_hash; /* VRAM_PREFIX_ROOT for a chain's first block */
    uint64_t stamp;       /* latest access */
    uint64_t hits;
    uint64_t offset;      /* heap offset with a pool */
    uint32_t refs;
    uint32_t depth;
    uint32_t parent;      /* the parent block when inserted, or PC_NIL */
    uint32_t parent_gen;  /* its gen then: a later eviction of it invalidates the link */
    uint32_t gen;         /* bumped whenever the block loses its hash */
    uint32_t children;    /* cached blocks with a valid link to this one */
    int32_t priority;
    uint8_t cached;       /* in the device index */
} pc_block;

/* One slot of an open-addressing index: key 0 marks an empty slot (0 is
 * VRAM_PREFIX_ROOT, never a block's hash). Linear probing, backward-shift
 * deletion; the capacity is a power of two at least twice the entries. */
typedef struct pc_slot {
    uint64_t key;
    uint32_t val;
} pc_slot;

typedef struct pc_index {
    pc_slot *slots;
    uint64_t mask;
    uint64_t count;
} pc_index;

typedef struct pc_host {
    uint64_t hash, parent_hash, hits;
    uint32_t depth;
    int32_t priority;
    uint32_t prev, next; /* the host list, oldest first; valid while used */
    uint8_t used;
} pc_host;

struct vram_prefix_cache {
    const vram_prefix_policy_ops *ops;
    void *policy;
    vram_heap *pool;
    uint64_t block_bytes;
    uint32_t block_tokens, nblocks;
    pc_block *blocks;      /* [nblocks] */
    uint32_t *free_stack;  /* [nblocks]: free blocks, top at free_stack[nfree - 1] */
    uint32_t nfree;
    pc_index index;        /* hash -> cached device block */
    uint64_t clock;        /* one tick per acquire, insert and release */
    /* host tier */
    uint32_t host_cap;
    pc_host *host;         /* [host_cap] */
    uint32_t *host_free;   /* [host_cap] unused slots, a stack */
    uint32_t host_nfree;
    uint32_t host_head, host_tail;
    pc_index host_index;   /* hash -> host slot */
    double read_ns, write_ns; /* modelled cost of one block's copy to / from the device */
    vram_prefix_cache_stats st;
};

/* prefix_cache_index.c: zeroed memory for n items of size bytes (NULL when
 * there is none), on huge pages when large; freed with free(). */
void *vram__pc_zalloc(size_t n, size_t size);

/* prefix_cache_index.c: the index. Create fails only with VRAM_ENOHOST. */
vram_status vram__pc_index_create(pc_index *ix, uint64_t entries);
void vram__pc_index_destroy(pc_index *ix);
/* The value under key, or PC_NIL. */
uint32_t vram__pc_index_find(const pc_index *ix, uint64_t key);
/* Requires a key not in the index and room (count < capacity / 2). */
void vram__pc_index_put(pc_index *ix, uint64_t key, uint32_t val);
/* 1 if key was there and is removed, else 0. */
int vram__pc_index_del(pc_index *ix, uint64_t key);
/* The slot where key's probe sequence starts. */
uint64_t vram__pc_index_home(const pc_index *ix, uint64_t key);
/* Requests the lines a find, put or del of key reads: the home slot's line and
 * the next one (a probe that misses, and a deletion's backward shift, run to
 * the end of the home slot's cluster, often past its line). A hint. */
void vram__pc_index_prefetch(const pc_index *ix, uint64_t key);

/* prefix_cache_host.c: the host tier. */
vram_status vram__pc_host_create(vram_prefix_cache *pc, uint32_t cap);
void vram__pc_host_destroy(vram_prefix_cache *pc);
/* The host slot of hash, or PC_NIL. */
uint32_t vram__pc_host_find(const vram_prefix_cache *pc, uint64_t hash);
/* Stores an evicted block's key (not on the host tier), dropping the oldest
 * entry when the tier is full. Requires a host tier. */
void vram__pc_host_put(vram_prefix_cache *pc, const pc_block *b);
/* Removes the entry in slot s. */
void vram__pc_host_remove(vram_prefix_cache *pc, uint32_t s);

/* prefix_cache_policy.c */
extern const vram_prefix_policy_ops vram__prefix_vllm_ops;
extern const vram_prefix_policy_ops vram__prefix_lru_ops;
extern const vram_prefix_policy_ops vram__prefix_lfu_ops;
extern const vram_prefix_policy_ops vram__prefix_priority_ops;

/* prefix_cache_policy.c: requests the line that member and remove read
 * first for block b, a hit's: the vllm queue's links of b (a member's unlink
 * writes them), the keyed policies' mark of b (most hits there are inner
 * blocks, no members: their keys and links are not read). None for other
 * tables. A hint. */
void vram__pc_policy_prefetch_hit(const vram_prefix_policy_ops *ops, const void *impl,
                                  uint32_t b);

/* prefix_cache.c: whether block b belongs in the policy's set now. */
int vram__pc_evictable(const vram_prefix_cache *pc, const pc_block *b);
/* Whether cached block b's parent link is valid (see the invariants). */
int vram__pc_link_valid(const vram_prefix_cache *pc, const pc_block *b);

#endif
