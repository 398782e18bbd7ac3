/* trace_keys.c - the prefix block keys of traces/FORMAT.md (trace.h). */
#include "trace.h"
#include "vram/prefix_cache.h"

uint64_t vtrace_segment_key(uint64_t prev, uint64_t hash_id, uint32_t j)
{
    const uint32_t t[3] = {(uint32_t)hash_id, (uint32_t)(hash_id >> 32), j};
    uint64_t k;
    vram_prefix_hash(prev, t, 3, 0, &k);
    return k;
}

uint64_t vtrace_request_key(uint64_t prev, uint64_t req, uint32_t i)
{
    const uint32_t t[4] = {(uint32_t)req, (uint32_t)(req >> 32), i, 1};
    uint64_t k;
    vram_prefix_hash(prev, t, 4, 0, &k);
    return k;
}
