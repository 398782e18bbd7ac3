/* bounds.h - references computed from a trace alone, beside every policy.
 *
 * Peak live bytes: the largest sum, over the trace, of the requested sizes of
 * live allocations and held shared keys (a shared key counts once while any
 * holder has it). No policy can place the trace in less device memory: it is a
 * true lower bound on footprint.
 *
 * Belady: the eviction count of the future-knowledge rule on an ideal device of
 * `capacity` bytes where every free byte is usable (no fragmentation, no
 * alignment): when room is needed, the resident evictable item whose next use
 * lies farthest in the future is evicted (an item never used again first).
 * Evictable items are those the replayer gives a backing (vreplay_backing_of):
 * KV, adapters, weights and shared keys. When all evictable items have one size
 * (paged KV blocks) the rule is optimal: no policy re-materialises fewer items.
 * With mixed sizes it is a reference, not a bound (`belady_exact` = 0).
 *
 * Cost: pass 1 reads the trace and keeps a map of the live items; for Belady it
 * logs every alloc/use/acquire of an evictable item to temporary files
 * (nextuse.h: 24 bytes per such event on disk, removed at the end) and pass 2
 * re-reads the trace and simulates. Memory follows the live items, never the
 * trace length. */
#ifndef VSIM_BOUNDS_H
#define VSIM_BOUNDS_H

#include <stddef.h>
#include <stdint.h>

#include "vram/status.h"

typedef struct vbounds {
    uint64_t events;             /* events in the trace */
    uint64_t capacity;           /* device bytes Belady ran with */
    uint64_t peak_live;          /* the lower bound on footprint */
    uint64_t peak_live_event;    /* 1-based index of the event that first reached it */
    uint64_t peak_live_line;     /* its line in the trace */
    uint64_t peak_live_kv;       /* the peak of live KV bytes alone: what the pool layout
                                    serves from blocks (vreplay_pooled) */
    uint64_t peak_live_other;    /* the peak of live bytes of everything else */
    int belady_done;             /* 0 when Belady was not asked for */
    int belady_exact;            /* all evictable items share one size: Belady is optimal */
    uint64_t evictable_size;     /* that size when exact, else 0 */
    uint64_t belady_evictions;
    uint64_t belady_rematerialisations;
    uint64_t belady_bytes_rematerialised;
    uint64_t belady_ooms;        /* non-evictable bytes alone exceeded the capacity */
    uint64_t belady_preemptions;     /* version 2: forced preemptions under the replay's rules */
    uint64_t belady_preempted_bytes; /* ... and the bytes they dropped */
} vbounds;

/* Reads the trace at `path` (once, or twice with `belady`). `capacity` 0 means
 * the trace header's capacity. Fails with the reader's status and
 * "file:line: ..." in err for a malformed trace, with VRAM_EPARSE and
 * "file:line: ..." when the events contradict each other (an id allocated
 * twice, a free or use of an id that is not live, a release of a key not held,
 * a key acquired with two sizes), VRAM_ENOHOST without host memory. */
vram_status vbounds_compute(const char *path, uint64_t capacity, int belady, vbounds *out,
                            char *err, size_t errlen);

#endif
