/* replay_internal.h - the replay engine's state, shared by replay.c (events,
 * lanes, samples, the run's rows) and replay_need.c (what an engine step
 * needs: requests, pins, forced preemptions). Internal to sim/. */
#ifndef VSIM_REPLAY_INTERNAL_H
#define VSIM_REPLAY_INTERNAL_H

#include <stdint.h>

#include "evstream.h"
#include "idmap.h"
#include "plugin.h"
#include "replay.h"
#include "trace.h"
#include "vram/tensor_cache.h"

#define MAX_LANES 2
#define LANE_MAIN 0
#define LANE_KV 1
#define LANE_TC 2 /* an id served by the tensor cache (not a manager lane) */

/* A trace id's state, kept in the slot the event stream gives the id
 * (evstream.h) while it is live. h.v 0 (never a valid handle): the
 * allocation failed, later events on the id are skipped. LANE_TC: h.v is the
 * offset in the tensor cache's heap plus 1. size_lane: the requested size,
 * with the lane in the top two bits (a placed allocation is below 2^48, the
 * heap's limit; the size of a failed one is never read). `gen` counts the
 * allocations the slot has held, so (gen, slot) names one allocation
 * (id_ref). Version 2: `held` is 1 while the replay holds one manager pin for
 * the id's NEED (engine: from alloc to free; a request: while it runs and is
 * not preempted); `pins` counts the trace's `pin`s that took hold,
 * `pins_failed` those that could not be placed. */
typedef struct id_entry {
    vram_handle h;
    uint64_t size_lane;
    uint64_t owner;          /* the request, for need VTRACE_NEED_REQUEST */
    uint64_t id;             /* the trace's id */
    uint32_t pins, pins_failed;
    uint32_t gen;
    uint8_t need;            /* vtrace_need */
    uint8_t held;
    uint8_t live;            /* the slot holds a live id; the rest is stale when 0 */
} id_entry;

/* One allocation of a slot, as requests list what they own. */
static inline uint64_t id_ref(uint32_t slot, const id_entry *it)
{
    return (uint64_t)it->gen << 32 | slot;
}

#define LANE_SHIFT 62
static inline uint64_t id_size(const id_entry *it)
{
    return it->size_lane & ((UINT64_C(1) << LANE_SHIFT) - 1);
}
static inline int id_lane(const id_entry *it) { return (int)(it->size_lane >> LANE_SHIFT); }

/* A shared key: acquisitions the manager holds and acquisitions that failed;
 * `pins`: the manager pins the replay holds on h, one per reference whose
 * NEED holds now (replay_need.c). */
typedef struct key_entry {
    uint64_t size;
    uint64_t held, failed;
    uint32_t lane;
    uint32_t pins;
    vram_handle h;
} key_entry;

/* One reference to a shared key held by a NEED (a request, the engine, or
 * nobody): `pinned` while it holds a manager pin, `failed` when its acquire
 * could not be placed. */
typedef struct key_ref {
    char key[VTRACE_KEY_MAX];
    uint8_t pinned, failed;
} key_ref;

/* A request of a version-2 trace (and the two pseudo-requests "engine" and
 * "-"): what it owns and whether it runs. `ids` lists allocations (id_ref) in
 * the order they were made, some freed since: each is judged by its slot's
 * entry (the same allocation, still live, owned by the request), so every
 * walk is idempotent; the list is compacted when it fills. `order`: when it
 * was last begun or restored (the newest goes first when the engine must
 * preempt, vLLM's rule). */
typedef struct req_entry {
    uint64_t *ids;
    uint32_t nids, cap_ids;
    key_ref *refs;
    uint32_t nrefs, cap_refs;
    uint64_t order;
    uint8_t running, preempted;
} req_entry;

typedef struct engine {
    const vreplay_options *opt;
    vreplay_result *res;
    vevs_cursor *c;
    vram_manager *lane[MAX_LANES];
    int lanes;
    int kv_lane;             /* lane of what vreplay_pooled() selects */
    uint64_t block;          /* the trace's kv_block_bytes */
    id_entry *ids;           /* by slot (evstream.h) */
    uint32_t nids;           /* entries of ids */
    vsim_keymap *keys;
    uint64_t live;           /* requested bytes of live, placed allocations */
    uint64_t index;          /* events read so far */
    vtrace_event ev;
    uint32_t slot;           /* the event's slot, VEVS_NO_SLOT if none */
    int done;                /* the run has ended (failed or interrupted) */
    int ran;                 /* the replay loop ran: latencies and bounds are worth logging */
    int device_failed;       /* set-up failed in the device layer, not in the policy */
    uint64_t evictions_seen, bytes_evicted_seen; /* at the previous sample */
    uint64_t time_every, to_time; /* time one timed call in time_every; countdown */
    int caching;             /* the main lane's heap is the caching policy */
    vplugin *plugin;         /* the main lane's heap is this plugin's (policy "plugin:...") */
    uint64_t capacity;       /* the device's bytes (all lanes and the tensor cache) */
    vram_heap *tc_heap;      /* the tensor cache's heap and the cache, or NULL */
    vram_tensor_cache *tc;
    vrprefix *prefix;        /* the prefix cache, or NULL (replay_prefix.h) */
    /* Version 2 (replay_need.c); `needs` is 0 for a version-1 trace, which
     * replays without any of it. */
    int needs;
    int swap;                /* preemptions swap KV to the host (else recompute) */
    double prefill_tokens_per_s, kv_token_bytes;
    vsim_idmap *reqs;        /* request id -> req_entry */
    uint64_t last_rid;       /* vreplay__need_owner's last answer, while last_req is set */
    req_entry *last_req;
    req_entry engine_refs;   /* the shared references of NEED engine (always running) */
    req_entry nobody_refs;   /* ... of NEED "-" (never running) */
    uint64_t *running;       /* running, not preempted requests, oldest first */
    size_t nrunning, cap_running;
    uint64_t *preempted;     /* running but preempted requests, in preemption order */
    size_t npreempted, cap_preempted;
    uint64_t order;          /* the last req_entry.order given */
    double recompute_ns;     /* modelled prefill time of recomputed KV */
    uint64_t undone_remats, undone_remat_bytes; /* of restores that did not fit */
    uint64_t dropped_by_kind[VRAM_KIND_COUNT]; /* evictions that were preemptions */
    uint64_t dropped_bytes_by_kind[VRAM_KIND_COUNT];
} engine;

/* replay.c: ends the run with the event's file:line. */
void vreplay__trace_error(engine *e, const char *what);
void vreplay__library_failure(engine *e, const char *call, vram_status st);
void vreplay__record_oom(engine *e, int lane, const char *op, uint64_t size);
/* The 'preempt' event row of request `rid`, preempted because the current
 * event's `size` bytes did not fit; `bytes`: what the preemption dropped. */
void vreplay__record_preempt(engine *e, uint64_t rid, int has_owner, uint64_t owner,
                             uint64_t size, uint64_t bytes);

/* replay_need.c */
vram_status vreplay__need_open(engine *e, const vtrace_header *hdr);
void vreplay__need_close(engine *e);
/* The request of the current event's NEED REQ, created when new; NULL (the
 * run ended) without host memory. */
req_entry *vreplay__need_owner(engine *e);
/* Whether the current event's NEED holds now (owner: its request, or NULL). */
int vreplay__need_holds_now(const engine *e, const req_entry *owner);
/* After the current event's alloc (placed or not): records its NEED, `held`
 * (placed with desc.pinned) and, for a request's, the id in its list. */
void vreplay__need_alloc(engine *e, id_entry *it, req_entry *owner, int held);
/* Before a free: 1 when the replay holds a pin (free with vram_unpin_free),
 * 0 when not, -1 when the run ended (a free of an id the trace pinned). */
int vreplay__need_free(engine *e, id_entry *it);
/* The current event's acquire of key k (its manager call done, status st). */
void vreplay__need_acquire(engine *e, key_entry *k, vram_status st);
/* The current event's release of a key; *failed_ref: the reference dropped
 * was a failed acquire (no manager call to make). 0 to go on, -1 when the run
 * ended. Call before vram_release_shared. */
int vreplay__need_release(engine *e, key_entry *k, int *failed_ref);
void vreplay__need_pin(engine *e);
void vreplay__need_unpin(engine *e);
void vreplay__need_begin(engine *e);
void vreplay__need_end(engine *e);
void vreplay__need_step(engine *e);
/* The engine's answer to VRAM_ENOMEM in `lane` for memory of request `owner`
 * (has_owner 0: the engine's own), vLLM's rule: the newest running request
 * that holds memory in the lane is preempted, which may be `owner` itself;
 * once `owner` is preempted nothing more is; each preemption is logged as a
 * 'preempt' event row naming the `size` bytes that did not fit. 1 when one was
 * preempted (retry), 0 when none is left, -1 when the run ended (a library
 * failure). It only reads the id and key maps, so the caller's entries stay
 * valid. */
int vreplay__need_preempt(engine *e, int lane, int has_owner, uint64_t owner, uint64_t size);
/* The invariants of replay_need.c: VRAM_OK, or VRAM_ECORRUPT with the first
 * violation in words. O(live ids + requests x running + keys). */
vram_status vreplay__need_check(engine *e, char *msg, size_t len);
/* The KV remat callback in recompute mode: charges the prefill time. */
vram_status vreplay__recompute(void *ctx, vram_device *dev, uint64_t addr, uint64_t size);

#endif
