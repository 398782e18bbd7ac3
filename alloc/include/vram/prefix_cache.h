/* vram/prefix_cache.h - a prefix cache of KV blocks (vLLM's automatic prefix
 * caching, SGLang's radix cache), keyed by chained block hashes.
 *
 * The device tier is a fixed set of `device_blocks` KV blocks of
 * `block_tokens` tokens each, numbered 0 .. device_blocks - 1 and all made at
 * creation (as vLLM's BlockPool does); with a `pool` heap each block is also a
 * heap block of `block_bytes`, taken at creation and returned by destroy. A
 * block is in exactly one state:
 *   - free: no references, no hash; handed out first by alloc;
 *   - held: refs > 0 (running requests use it); full blocks have a hash;
 *   - cached and idle: refs == 0 with a hash: kept, found by lookups, and
 *     evictable in the policy's order (leaf-only policies: once no cached
 *     block names it as parent).
 * A full block is keyed by a hash chained on its parent's (vram_prefix_hash:
 * parent hash, the block's token ids, an extra key such as a LoRA id), so a
 * key names a whole prefix; a lookup walks a request's chain of hashes and
 * finds the longest cached prefix (it stops at the first block not cached).
 * A block whose hash is already cached by another block stays private (a
 * duplicate, as in vLLM, whose block tables are append-only) and is freed
 * with its last reference.
 *
 * The request's life (vLLM's KVCacheManager in four calls):
 *   1. acquire(hashes of the prompt's full blocks) takes a reference on the
 *      longest cached prefix and says how many blocks hit;
 *   2. alloc() gives one fresh block per block still to compute (a free block,
 *      else the policy's next victim is evicted and reused);
 *   3. insert(block, parent, hash) once a block is full (prompt blocks after
 *      prefill, generated blocks as decoding fills them): it becomes cached;
 *   4. release(the request's blocks in chain order) when it finishes or is
 *      preempted: the references go from the last block to the first, so the
 *      deepest block becomes evictable first (vLLM's reverse-order free).
 *
 * Optional host tier (SGLang's host value, LMCache): `host_blocks` entries.
 * A block evicted from the device goes to the host tier (a device-to-host
 * copy, charged), pushing out the tier's oldest entry when it is full. A
 * lookup that reaches a block on the host tier counts it as a hit: acquire
 * copies it back into a device block (a host-to-device copy at the cost
 * model's latency + block_bytes / h2d bandwidth) and the entry leaves the host
 * tier (the tiers are exclusive: a hash lives in at most one).
 *
 * Eviction policies (vram_prefix_policy_ops; names in vram_prefix_policy_names):
 *   - "vllm" (default): vLLM's free queue. A block joins the tail when its last
 *     reference goes (release drops a request's blocks last to first, so its
 *     deepest block joins first); the head is evicted; a hit takes the block
 *     out of the queue. Any idle cached block may be evicted, also one whose
 *     children are still cached (they become unreachable, as in vLLM).
 *   - "lru": the least recently accessed leaf first (SGLang's LRUStrategy);
 *   - "lfu": the leaf with the fewest hits first, then the least recently
 *     accessed (SGLang's LFUStrategy);
 *   - "priority": the leaf with the lowest priority first, then the least
 *     recently accessed (SGLang's PriorityStrategy; a block's priority is the
 *     highest of the requests that inserted or hit it).
 *   The last three evict only leaves (idle cached blocks that no cached block
 *   names as parent), as SGLang's radix tree does; ties go to the deeper
 *   block, then the lower block number. An access is an acquire hit, an insert
 *   or a release, each stamped with one tick of the cache's clock per call.
 *
 * Costs: acquire O(n) expected in the chain length (it prefetches the whole
 * chain's index slots first); alloc, insert and evict O(1) expected for
 * "vllm"; for the others O(1) while keys arrive in order within their class
 * (the usual case), O(log h) in the few that do not (a side heap of h); release
 * O(n) times that; alloc_n and insert_n as n allocs or inserts, with their
 * cache misses requested together (for a large cache the cheaper way to take
 * or cache a run of blocks). Memory, all taken at creation (no call after create
 * allocates): about 120-150 bytes per device block (record, index, free list,
 * queue), 41 more for the keyed policies, about 80 per host entry; tables of 4
 * MiB and more are on 2 MiB pages where the system allows it. One cache per
 * user; not thread-safe. The library keeps no global state. (Figures:
 * bench/prefix_cache_bench, BENCHMARKS.md; design and sources:
 * docs/PREFIX_CACHE.md.) */
#ifndef VRAM_PREFIX_CACHE_H
#define VRAM_PREFIX_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "vram/device.h"
#include "vram/heap.h"
#include "vram/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The parent hash of a chain's first block; never a block's hash. */
#define VRAM_PREFIX_ROOT UINT64_C(0)
/* "No block": the parent of a chain's first block in insert. */
#define VRAM_PREFIX_NONE UINT32_MAX
/* The most device blocks or host entries a cache holds. */
#define VRAM_PREFIX_MAX_BLOCKS (UINT32_C(1) << 30)

/* The chained hash of a full block (vLLM's hash_block_tokens): parent is the
 * previous block's hash (VRAM_PREFIX_ROOT for a chain's first block), tokens
 * the block's token ids, extra a key that separates otherwise equal chains (a
 * LoRA id, a cache salt; 0 for none). A 64-bit mix, deterministic across runs
 * and machines, never VRAM_PREFIX_ROOT. VRAM_EINVAL for NULL tokens or out, or
 * ntokens 0. O(ntokens). */
vram_status vram_prefix_hash(uint64_t parent, const uint32_t *tokens, size_t ntokens,
                             uint64_t extra, uint64_t *out);

/* What a policy may know about a block when it becomes evictable. */
typedef struct vram_prefix_item {
    uint64_t stamp;  /* the cache's clock at the block's latest access */
    uint64_t hits;   /* acquires that found it (on either tier) */
    uint32_t depth;  /* its place in its chain: 0 for a first block */
    int priority;    /* the highest priority of the requests that used it */
} vram_prefix_item;

/* The ops table of an eviction policy over block numbers. A block is inserted
 * at most once until removed or popped. Only create can fail (VRAM_ENOHOST).
 * With leaf_only set the cache inserts only blocks that no cached block names
 * as parent, and inserts a parent when its last cached child goes. */
typedef struct vram_prefix_policy_ops {
    const char *name;
    int leaf_only;
    vram_status (*create)(uint32_t nblocks, void **impl);
    void (*destroy)(void *impl);
    /* The block became evictable. */
    void (*insert)(void *impl, uint32_t block, const vram_prefix_item *it);
    /* The block is no longer evictable (a hit took it). */
    void (*remove)(void *impl, uint32_t block);
    /* Removes the next victim: 1 and *block, or 0 when none is inserted. */
    int (*pop)(void *impl, uint32_t *block);
    /* Whether the block is inserted. */
    int (*member)(const void *impl, uint32_t block);
    uint64_t (*count)(const void *impl);
    /* VRAM_OK, or VRAM_ECORRUPT with the first violated invariant of the
     * policy's own structure (links, heap order) in msg. */
    vram_status (*check)(const void *impl, char *msg, size_t msglen);
    /* Optional (NULL: none), a hint only: the next victims in the order pop
     * would take them as far as the policy can tell without popping, up to
     * max (>= 1), written to next[]; returns how many. The cache prefetches
     * their metadata: two ahead while the caller works between single
     * evictions, a batch's worth before alloc_n evicts. The built-in
     * policies give every member they can reach in order (vllm: the queue
     * from its head; the others: the lists and the heap's first entries, the
     * first three exact). */
    int (*peek)(const void *impl, uint32_t *next, int max);
} vram_prefix_policy_ops;

/* The policy of that name, or NULL. vram_prefix_policy_names lists them,
 * NULL-terminated, the default ("vllm") first. */
const vram_prefix_policy_ops *vram_prefix_policy(const char *name);
extern const char *const vram_prefix_policy_names[];

typedef struct vram_prefix_cache_config {
    uint32_t block_tokens;   /* tokens per block, > 0 (vLLM's default: 16) */
    uint32_t device_blocks;  /* blocks of the device tier: 1 .. VRAM_PREFIX_MAX_BLOCKS */
    uint64_t block_bytes;    /* bytes of one block's KV; > 0 with a pool or a host tier */
    const char *policy;      /* a vram_prefix_policy name; NULL = "vllm" */
    const vram_prefix_policy_ops *policy_ops; /* a table of one's own; overrides policy */
    vram_heap *pool;         /* optional (not owned; must outlive the cache): every
                                block is also a heap block of block_bytes from it */
    uint32_t host_blocks;    /* entries of the host tier; 0 = no host tier */
    vram_cost_model cost;    /* host copies: copy_latency_ns, h2d_gbps, d2h_gbps;
                                zeros = the device defaults (docs/COST_MODEL.md) */
} vram_prefix_cache_config;

typedef struct vram_prefix_cache_stats {
    /* counters since creation */
    uint64_t lookups;          /* acquire calls */
    uint64_t lookup_blocks;    /* blocks asked for by acquire */
    uint64_t hit_blocks;       /* of those, found on the device tier */
    uint64_t host_hit_blocks;  /* of those, found on the host tier and copied back */
    uint64_t inserts;          /* blocks that became cached */
    uint64_t duplicates;       /* inserts whose hash another block held already */
    uint64_t allocs;           /* blocks handed out by alloc */
    uint64_t alloc_failures;   /* allocs refused with VRAM_ENOMEM */
    uint64_t evictions;        /* cached blocks evicted from the device tier */
    uint64_t host_writes;      /* of those, copied to the host tier */
    uint64_t host_drops;       /* host entries pushed out by a fuller host tier */
    double host_read_ns;       /* modelled time of the host-to-device copies of hits */
    double host_write_ns;      /* modelled time of the device-to-host copies */
    /* the state now */
    uint64_t free_blocks;      /* no references, no hash */
    uint64_t held_blocks;      /* refs > 0 */
    uint64_t cached_blocks;    /* found by lookups on the device tier (held or idle) */
    uint64_t evictable_blocks; /* in the policy's set */
    uint64_t host_entries;     /* on the host tier */
    uint32_t block_tokens;
    uint32_t device_blocks;
    uint32_t host_capacity;
} vram_prefix_cache_stats;

/* One block as vram_prefix_cache_block_get reports it. */
typedef struct vram_prefix_block_info {
    uint64_t hash;        /* 0 while it has none */
    uint64_t parent_hash; /* VRAM_PREFIX_ROOT for a chain's first block */
    uint64_t offset;      /* its heap offset with a pool; else block * block_bytes */
    uint64_t stamp, hits;
    uint32_t refs, depth;
    uint32_t children;    /* cached blocks that name it as parent */
    int priority;
    int cached;           /* found by lookups (not free, not a duplicate) */
    int evictable;        /* in the policy's set */
} vram_prefix_block_info;

typedef struct vram_prefix_cache vram_prefix_cache;

/* VRAM_EINVAL for NULL cfg or out, block_tokens 0, device_blocks 0 or above
 * VRAM_PREFIX_MAX_BLOCKS, host_blocks above it, block_bytes 0 with a pool or a
 * host tier, a negative cost, an unknown policy name or a policy table with a
 * NULL entry; VRAM_ENOHOST without host memory; with a pool, the heap's status
 * when it cannot give every block (nothing is kept then). O(device_blocks +
 * host_blocks), plus one heap allocation per block with a pool. */
vram_status vram_prefix_cache_create(const vram_prefix_cache_config *cfg,
                                     vram_prefix_cache **out);
/* Returns the pool's blocks (with a pool) and frees the cache; held blocks are
 * dropped with it. NULL is a no-op. */
void vram_prefix_cache_destroy(vram_prefix_cache *pc);

/* The longest cached prefix of the chain hashes[0 .. n): *device_hits blocks
 * found on the device tier and *host_hits on the host tier (in any mix along
 * the prefix; either pointer may be NULL). Block i matches only a block
 * inserted under the parent hash hashes[i - 1] (VRAM_PREFIX_ROOT for i = 0).
 * Changes nothing and counts nothing. VRAM_EINVAL for NULL pc or hashes, n 0,
 * or a hash equal to VRAM_PREFIX_ROOT. O(n) expected. */
vram_status vram_prefix_cache_lookup(const vram_prefix_cache *pc, const uint64_t *hashes,
                                     size_t n, size_t *device_hits, size_t *host_hits);

/* The longest prefix of the chain hashes[0 .. n) cached on the device tier
 * (lookup's walk, ending at the first block not on the device): *hits blocks,
 * of which *idle (may be NULL) no request holds. A caller that must know
 * before acquiring whether the rest of a request fits counts those idle hits
 * out of what eviction could free (vLLM's scheduler does, as it subtracts the
 * hit blocks with no reference from the free queue's length). Changes nothing,
 * counts nothing. VRAM_EINVAL as lookup, or for NULL hits. O(n) expected. */
vram_status vram_prefix_cache_match(const vram_prefix_cache *pc, const uint64_t *hashes, size_t n,
                                    size_t *hits, size_t *idle);

/* Takes a reference on each block of the longest cached prefix of
 * hashes[0 .. n) and writes their numbers to blocks[0 .. *hits); the rest of
 * blocks is untouched. A block found on the host tier is copied into a device
 * block (alloc's rule, which may evict) and leaves the host tier; when no
 * device block can be had the prefix ends there. Every block taken gets the
 * access stamp, one more hit and at least `priority`. Counted as one lookup of
 * n blocks. VRAM_EINVAL as lookup, or for NULL blocks or hits; a miss is not
 * an error (*hits 0). O(n) expected plus the evictions. */
vram_status vram_prefix_cache_acquire(vram_prefix_cache *pc, const uint64_t *hashes, size_t n,
                                      int priority, uint32_t *blocks, size_t *hits);

/* A block for tokens the caller computes: held (one reference), no hash. A
 * free block if any (the most recently freed first), else the policy's next
 * victim is evicted (to the host tier when there is one) and reused.
 * VRAM_ENOMEM when every block is held or none is evictable (counted);
 * VRAM_EINVAL for NULL. O(1) for "vllm", O(log n) for the others. */
vram_status vram_prefix_cache_alloc(vram_prefix_cache *pc, uint32_t *block);

/* n successive allocs, stopping at the first that fails: blocks[0 .. *got)
 * are exactly the blocks those calls give (the free blocks first, then the
 * victims in the policy's order), counted as *got allocs, and when *got < n
 * the failed call is counted too (one alloc failure) and the status is
 * VRAM_ENOMEM; the blocks given stay given (the evictions that made them
 * cannot be undone). The victims' records, index slots and parents are
 * prefetched for up to 32 evictions at a time before they are done, so that
 * their cache misses overlap (vLLM's allocate_slots takes a request's blocks
 * together so). VRAM_EINVAL for NULL pc, blocks or got, or n 0 (nothing
 * changed). Cost: n allocs, with the memory latency of a batch of evictions
 * paid about once instead of once per block. */
vram_status vram_prefix_cache_alloc_n(vram_prefix_cache *pc, size_t n, uint32_t *blocks,
                                      size_t *got);

/* `block`, held by the caller and now full, holds the tokens whose chained
 * hash is `hash`; `parent` is the block before it in the caller's chain (held
 * by the caller, with a hash) or VRAM_PREFIX_NONE for a chain's first block.
 * The block becomes cached (it stays held) with the parent's hash as its
 * parent hash, *cached = 1; when another block already caches `hash` it stays
 * private and *cached = 0 (a duplicate: it is freed with its last reference).
 * A host-tier entry of the same hash is dropped (the device copy supersedes
 * it). VRAM_EINVAL for NULL pc or cached, hash VRAM_PREFIX_ROOT, a block or
 * parent number out of range, a block or parent not held, a parent without a
 * hash, or parent == block; VRAM_EBUSY for a block that has a hash already
 * (inserted twice). O(1) expected (plus O(log n) for the heap policies when a
 * host entry is dropped). */
vram_status vram_prefix_cache_insert(vram_prefix_cache *pc, uint32_t block, uint32_t parent,
                                     uint64_t hash, int priority, int *cached);

/* A chain of n full blocks inserted in order, exactly as n successive inserts
 * of blocks[i] under parent blocks[i - 1] (under `parent` for i = 0) with
 * hashes[i] and `priority`; cached_out[i] (cached_out may be NULL) gets each
 * call's *cached (vLLM's cache_full_blocks). Every argument is validated
 * first, as the calls would see them: VRAM_EINVAL for NULL pc, blocks or
 * hashes, n 0, a hash VRAM_PREFIX_ROOT, a block out of range or not held, or
 * a `parent` insert would refuse for blocks[0]; VRAM_EBUSY for a block that
 * has a hash or appears twice; nothing changed then. The index slots of the
 * hashes (and of the host index with a host tier) are requested 32 at a time
 * before those inserts, the first 32 blocks' records before the validation.
 * O(n) expected, as n inserts. */
vram_status vram_prefix_cache_insert_n(vram_prefix_cache *pc, const uint32_t *blocks,
                                       uint32_t parent, const uint64_t *hashes, size_t n,
                                       int priority, int *cached_out);

/* Drops one reference on each of blocks[0 .. n), given in chain order (a
 * request's blocks, first to last; a block may appear as often as it has
 * references); they are dropped from the last to the first. A block left
 * without references becomes idle and evictable when cached, or free
 * otherwise. Every number is validated first: VRAM_EINVAL for NULL pc or
 * blocks, n 0 or a number out of range, VRAM_EDOUBLEFREE for a block with
 * fewer references than it appears; nothing changed then. O(n) (times log n
 * for the heap policies). */
vram_status vram_prefix_cache_release(vram_prefix_cache *pc, const uint32_t *blocks, size_t n);

/* Evicts the policy's next victim (to the host tier when there is one); it
 * becomes free. *hash (may be NULL) gets its hash. VRAM_ENOTFOUND when nothing
 * is evictable; VRAM_EINVAL for NULL pc. Cost as alloc. */
vram_status vram_prefix_cache_evict(vram_prefix_cache *pc, uint64_t *hash);
/* evict, also naming the block (may be NULL), which is free on return: for a
 * caller that keeps something per block, such as an engine's allocation id. */
vram_status vram_prefix_cache_evict_block(vram_prefix_cache *pc, uint32_t *block, uint64_t *hash);

/* VRAM_EINVAL for NULL arguments or a block out of range. O(1). */
vram_status vram_prefix_cache_block_get(const vram_prefix_cache *pc, uint32_t block,
                                        vram_prefix_block_info *out);
/* Whether `hash` is on the host tier: 1 or 0 (0 also for NULL). O(1) expected. */
int vram_prefix_cache_host_has(const vram_prefix_cache *pc, uint64_t hash);
const char *vram_prefix_cache_policy_name(const vram_prefix_cache *pc);
void vram_prefix_cache_stats_get(const vram_prefix_cache *pc, vram_prefix_cache_stats *out);

/* VRAM_OK, or VRAM_ECORRUPT with the first violated invariant in msg: every
 * block in exactly one state, the free list and the hash index exactly the
 * free and the cached blocks, parent links and child counts, the policy's set
 * exactly the evictable blocks (and its own check), the host tier's index and
 * list, no hash on both tiers, the counters, and with a pool every block a
 * live heap block of at least block_bytes. VRAM_ENOHOST when it cannot get
 * its scratch memory. O(n) plus one heap walk. */
vram_status vram_prefix_cache_check(const vram_prefix_cache *pc, char *msg, size_t msglen);

#ifdef __cplusplus
}
#endif
#endif
