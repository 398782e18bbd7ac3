/* prefix_ref.h - reference hit counts over a stream of block keys, to hold a
 * prefix cache's hit ratio against (issue 12): LRU, Belady and an unlimited
 * cache, all at a capacity counted in blocks of one size.
 *
 * The stream is the sequence of keys (chained block hashes) a workload looks
 * up, each request's blocks in chain order; every reference is one block, a
 * hit when the key is cached at that moment. Each reference is then cached
 * (demand caching); a full cache first evicts:
 *   - LRU: the least recently referenced key;
 *   - Belady (MIN): the key, the new one included, whose next reference is
 *     farthest (never counts as farthest), so a key that would be evicted at
 *     once is simply not cached. With blocks of one size this is the exact
 *     optimum: no policy, however it chooses, gets more hits from the stream.
 * A prefix cache's lookup stops at the first miss, so it can count fewer hits
 * than the key stream allows. Belady is unaffected: a block's parent is
 * referenced just before it whenever it is, so the parent's next reference is
 * always the nearer and Belady keeps prefixes whole; its count is an upper
 * bound for every prefix-cache policy at that capacity. Textbook LRU may keep
 * a child and lose its parent, so its count can exceed an LRU prefix cache's;
 * the module's "lru" policy (leaf-first) matches it when chains have length 1.
 *
 * Memory: the keys are in memory (the caller's array); Belady adds 8 bytes
 * per reference (the next-use array) plus its heap and maps, O(n log n) time;
 * LRU and unlimited hold a map of the resident or distinct keys, O(n). */
#ifndef VSIM_PREFIX_REF_H
#define VSIM_PREFIX_REF_H

#include <stddef.h>
#include <stdint.h>

#include "vram/status.h"

/* Hits of an LRU cache of `capacity` blocks over keys[0 .. n). Any 64-bit key
 * (0 included). VRAM_EINVAL for NULL keys (with n > 0) or hits; VRAM_ENOHOST
 * without memory. */
vram_status vprefix_ref_lru(const uint64_t *keys, size_t n, uint64_t capacity, uint64_t *hits);

/* Hits of Belady's MIN at `capacity` blocks: the optimum. Errors as LRU. */
vram_status vprefix_ref_belady(const uint64_t *keys, size_t n, uint64_t capacity,
                               uint64_t *hits);

/* Hits of an unlimited cache: n minus the distinct keys. Errors as LRU. */
vram_status vprefix_ref_unlimited(const uint64_t *keys, size_t n, uint64_t *hits);

#endif
