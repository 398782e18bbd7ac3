/* bounds.h - references computed from a trace alone, beside every policy.
 *
 * Peak live bytes: the largest sum, over the trace, of the requested sizes of
 * live allocations and held shared keys (a shared key counts once while any
 * holder has it). No policy can place the trace in less device memory: it is a
 * true lower bound on footprint.
 *
 * Belady: a reference run of the future-knowledge rule on an ideal device of
 * `capacity` bytes where every free byte is usable (no fragmentation, no
 * alignment), under the replay's rules for what an engine step needs
 * (traces/FORMAT.md, "Needed memory"; sim/replay/replay_need.c and
 * docs/ENGINE_SEMANTICS.md). An item is NEEDED while its NEED is `engine`
 * (alloc/acquire to free/release), while its NEED is a request that runs
 * (between `begin` and `end`) and is not preempted, or while it is pinned; a
 * shared key while any of its references is (they are counted per NEED). The
 * eviction candidates are the resident items that are evictable (those the
 * replayer gives a backing, vreplay_backing_of: KV, adapters, weights, shared
 * keys) and not needed; when room is needed the one whose next use lies
 * farthest goes first (one never used again before any). A next use is an
 * alloc, use, pin or acquire of the item, or a `begin` of the request that
 * owns it (a re-admitted request needs its memory again).
 *
 * Preemption is the replay's rule, vLLM's: when the candidates cannot make
 * room for a placement (alloc, acquire, or a use or pin of something not
 * resident), the newest running, not preempted request (begun or restored
 * last) that holds resident memory is preempted, the asking request included
 * (after which it preempts no one more); what only its running needed is
 * dropped (belady_preemptions, belady_preempted_bytes); repeated until the
 * item fits. A placement for a request that does not run or waits preempts
 * no one. What still does not fit is an OOM (belady_ooms; the walk goes on: a
 * new item stays unplaced for good, an evicted one is tried again at its next
 * reference). A preempted request waits; at each `step` the waiting requests
 * come back, the most recently preempted first and none after the first that
 * does not fit, each only if all it owns fits by evicting candidates (never
 * by preempting): its items are made resident again
 * (belady_rematerialisations) and it counts as begun then. A `begin` makes
 * what the request owns resident the same way, and one that does not fit
 * waits as if preempted. On this ideal device a request that does not fit is
 * known beforehand, so nothing is evicted for it (the replay's allocators
 * evict before they find out); what it alone needed is dropped, uncounted.
 *
 * A version-1 trace has no NEED and no pins: nothing is needed, every
 * evictable item is a candidate, requests change nothing, and the figures
 * are those of plain Belady. When all evictable items have one size (paged
 * KV blocks) and no request was preempted or had to wait, the rule is
 * optimal: no policy re-materialises fewer items under the same needed sets
 * (`belady_exact`). With mixed sizes, preemptions or waits (the replay's
 * rule, not an optimum) it is a reference, not a bound (`belady_exact` = 0).
 *
 * Cost: pass 1 reads the trace and keeps a map of the live items and
 * requests; for Belady it logs every reference of an evictable item to
 * temporary files (nextuse.h: 24 bytes per reference on disk, removed at the
 * end) and pass 2 re-reads the trace and simulates. Memory follows the live
 * items and requests, never the trace length. */
#ifndef VSIM_BOUNDS_H
#define VSIM_BOUNDS_H

#include <signal.h>
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
    int belady_exact;            /* all evictable items share one size and no request was
                                    preempted or waited: Belady is optimal */
    uint64_t evictable_size;     /* that size when exact, else 0 */
    uint64_t belady_evictions;
    uint64_t belady_rematerialisations;
    uint64_t belady_bytes_rematerialised;
    uint64_t belady_ooms;        /* placements that did not fit once the rules above had
                                    evicted and preempted all they may */
    uint64_t belady_preemptions;     /* version 2: forced preemptions under the replay's rules */
    uint64_t belady_preempted_bytes; /* ... and the bytes they dropped (failed restores too) */
} vbounds;

/* Reads the trace at `path` (once, or twice with `belady`). `capacity` 0 means
 * the trace header's capacity. Fails with the reader's status and
 * "file:line: ..." in err for a malformed trace, with VRAM_EPARSE and
 * "file:line: ..." when the events contradict each other (an id allocated
 * twice; a free, use, pin or unpin of an id that is not live; an unpin of an
 * id not pinned; a free of an id still pinned; a release of a key not held,
 * or by a NEED that holds no reference of it; a key acquired with two sizes;
 * in version 2, a begin of a running request or an end of one not running),
 * VRAM_ENOHOST without host memory. */
vram_status vbounds_compute(const char *path, uint64_t capacity, int belady, vbounds *out,
                            char *err, size_t errlen);
/* vbounds_compute that stops when *stop (may be NULL) is non-zero, looked at
 * after every event of both passes and between them: VRAM_EBUSY with "the
 * bounds pass was stopped" in err, the temporary files removed. For a signal
 * handler's flag (replay, report). */
vram_status vbounds_compute_stop(const char *path, uint64_t capacity, int belady,
                                 volatile sig_atomic_t *stop, vbounds *out, char *err,
                                 size_t errlen);
/* vbounds_compute_stop over the trace parsed once (evstream.h; `path` names it
 * in messages): both passes read the stream, not the file. With stream NULL,
 * vbounds_compute_stop itself. */
struct vevs;
vram_status vbounds_compute_stream(const struct vevs *stream, const char *path,
                                   uint64_t capacity, int belady, volatile sig_atomic_t *stop,
                                   vbounds *out, char *err, size_t errlen);

#endif
