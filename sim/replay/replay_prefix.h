/* replay_prefix.h - the replay's prefix cache: libvram's vram_prefix_cache
 * driven by a trace's prefix events (traces/FORMAT.md, "Prefix cache"), at a
 * capacity and with a policy of the caller's choosing, with the LRU, Belady
 * and unlimited references (prefix_ref.h) over the same block stream.
 *
 * What it keeps: the trie of prompt segments (`pnode`: per node its parent,
 * depth, hash id and the key of its last block: 32 bytes a node), and per
 * request with a `lookup` until its `end` the keys and device blocks of its
 * chain. The key stream of every lookup (8 bytes per block looked up) is kept
 * for the references, computed at the end.
 *
 * A request's life, as vLLM's KVCacheManager: `lookup` acquires the longest
 * cached prefix of the full blocks of its first TOKENS - 1 tokens; `fill`
 * allocates blocks up to its tokens (a partial last block included) and
 * inserts every block that became full; `end` releases its blocks, which stay
 * cached. The cache's blocks are all the KV blocks (running requests' and
 * cached ones), as in vLLM's pool: a request that finds no free or evictable
 * block for its next one stops caching there (counted as an allocation
 * failure; the engine that made the trace held that KV elsewhere). The
 * events never touch the replay's allocators: the trace's own alloc and
 * acquire events place the KV bytes. */
#ifndef VSIM_REPLAY_PREFIX_H
#define VSIM_REPLAY_PREFIX_H

#include <stddef.h>
#include <stdint.h>

#include "trace.h"
#include "vram/status.h"

typedef struct vrprefix_options {
    uint64_t blocks;       /* device blocks; 0 = the trace's prefix_cache_blocks, else the
                              device capacity in kv_block_bytes blocks */
    const char *policy;    /* a vram_prefix_policy name; NULL = "vllm" */
    uint64_t host_blocks;  /* entries of the host tier; 0 = none */
} vrprefix_options;

/* Per run; all zero without prefix events. */
typedef struct vrprefix_result {
    int on;                     /* the trace has the prefix header keys: the rest is valid */
    char policy[16];
    uint64_t blocks, host_blocks, block_tokens;
    uint64_t lookups;           /* lookup events */
    uint64_t lookup_blocks;     /* full blocks they asked for */
    uint64_t lookup_tokens;     /* their TOKENS */
    uint64_t hit_blocks;        /* found on the device tier */
    uint64_t host_hit_blocks;   /* found on the host tier (copied back) */
    double hit_ratio;           /* (hit + host hit blocks) / lookup_blocks; 0 without any */
    double token_hit_ratio;     /* hit tokens / lookup_tokens */
    uint64_t evictions;         /* cached blocks evicted from the device tier */
    uint64_t alloc_failures;    /* blocks a request could not get (every block held) */
    uint64_t saved_tokens;      /* prefill tokens the hits spared */
    double saved_ms;            /* their prefill time at the trace's rate, minus the host copies */
    uint64_t lru_hits, belady_hits, unlimited_hits; /* the references at `blocks` */
} vrprefix_result;

typedef struct vrprefix vrprefix;

/* A prefix cache for the trace whose header is `h`, or *out NULL when the
 * trace has no prefix header keys. prefill_tokens_per_s prices a saved token
 * (> 0). VRAM_EINVAL with the reason in err (an unknown policy, a capacity of
 * 0 or above VRAM_PREFIX_MAX_BLOCKS, a host tier without kv_block_bytes),
 * VRAM_ENOHOST. */
vram_status vrprefix_create(const vtrace_header *h, const vrprefix_options *o,
                            double prefill_tokens_per_s, vrprefix **out, char *err, size_t errlen);
void vrprefix_destroy(vrprefix *p);
/* One event of the trace at `path`: pnode, lookup, fill, end and a kv alloc
 * that NEEDs a request with a lookup (one block it takes) act, the others are
 * ignored. VRAM_OK; VRAM_EPARSE with "PATH:LINE: why" in err for
 * a lookup whose PROMPT does not end in NODE's segment or of a request that
 * holds its blocks (no end since its last lookup), a fill of a request
 * without a lookup or whose TOKENS go back; VRAM_ENOHOST; VRAM_ECORRUPT
 * when the cache refuses a call (a bug, named). Cost: O(blocks of the
 * request's chain) for a lookup, O(new blocks) for a fill. */
vram_status vrprefix_event(vrprefix *p, const vtrace_event *ev, const char *path, char *err,
                           size_t errlen);
/* The cache's check and this module's: every running request's blocks held
 * by it. VRAM_OK, or VRAM_ECORRUPT with the first violation in msg. */
vram_status vrprefix_check(const vrprefix *p, char *msg, size_t msglen);
/* The counters now, and the references over the key stream so far (with
 * references != 0: O(n log n) in the blocks looked up). VRAM_ENOHOST. */
vram_status vrprefix_result_get(const vrprefix *p, int references, vrprefix_result *out);

#endif
