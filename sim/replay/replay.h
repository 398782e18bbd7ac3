/* replay.h - the replay engine: streams a trace through the manager façade for
 * one heap policy, measures every operation, samples the heap, and logs to an
 * optional results database (db.h). The `replay` tool runs it once per policy.
 *
 * Event mapping: alloc -> vram_alloc (backing by kind, vreplay_backing_of),
 * free -> vram_free, use -> vram_touch, acquire/release -> vram_acquire_shared /
 * vram_release_shared, step/begin/end -> counters. Events come from a cursor
 * (evstream.h): the trace parsed once in memory, or the file parsed as the
 * run goes. Trace ids map to handles in a table indexed by the ids' dense
 * slots, as large as the most ids live at once, so replay memory does not grow
 * with trace length.
 *
 * Outcomes per event: an allocation the device cannot hold (VRAM_ENOMEM) is an
 * OOM, recorded with whether total free bytes covered the request; replay goes
 * on, the id is marked failed and its later free/use are skipped (counted). A
 * request the policy refuses (VRAM_EINVAL, e.g. a size the pool cannot serve)
 * is recorded as an error event and skipped the same way. Either failure for a
 * size above the device's capacity (no device of that size could hold it) is
 * also counted in over_capacity, with the first lines kept. A trace that
 * contradicts itself (id allocated twice, free of an id never allocated), a
 * malformed line, a violated invariant (--check-every) or any other failure of
 * the library ends the run as failed, with the event's file:line; so does a
 * plugin's first answer that breaks the heap contract (plugin.h), whether or
 * not its own check agrees. A plugin's heap is also checked after the last
 * event (its walk against the shadow) when check_every is 0.
 *
 * Tensor cache (option tensor_cache > 0): that many bytes of the device are a
 * heap of their own with a vram_tensor_cache in front of it; activation and
 * workspace allocations (alignment at most VRAM_DEFAULT_ALIGN) are served
 * there first. The trace carries no shapes, so a buffer's shape key is its
 * size: dims {size}, dtype u8. An allocation takes an idle buffer of that size
 * (a hit) or a new block of the cache's heap (a miss; when the heap is full the
 * idle buffers are trimmed and it is tried once more); its free returns the
 * buffer to the cache, which adopts the new blocks as idle buffers. What the
 * cache's heap cannot hold goes to the lanes as usual. Its heap's footprint
 * counts in the run's footprint. */
#ifndef VSIM_REPLAY_H
#define VSIM_REPLAY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "db.h"
#include "evstream.h"
#include "hist.h"
#include "replay_prefix.h"
#include "vram/manager.h"

/* The timed operations, in the order of the latency histograms. */
typedef enum vreplay_op {
    VREPLAY_OP_ALLOC,
    VREPLAY_OP_FREE,
    VREPLAY_OP_USE,
    VREPLAY_OP_ACQUIRE,
    VREPLAY_OP_RELEASE,
    VREPLAY_OP_COUNT
} vreplay_op;

const char *vreplay_op_name(vreplay_op op); /* "alloc", "free", "use", "acquire", "release" */

/* How the replayer backs each kind: KV and adapters are host-backed (evictable,
 * copied back on use), weights are re-loaded by a callback, activations,
 * workspaces and other buffers are never evicted. Shared keys use a callback. */
vram_backing vreplay_backing_of(vram_kind kind);

/* Whether the pool layout serves an allocation from its KV block pool: a KV
 * allocation (key NULL) or a "kv:" shared key (prefix blocks, key not NULL)
 * of at most kv_block_bytes; with kv_block_bytes 0, every KV allocation and
 * "kv:" key. Everything else goes to the bestfit lane (and counts as "other"
 * in the bounds). */
int vreplay_pooled(uint64_t kv_block_bytes, vram_kind kind, const char *key, uint64_t size);

typedef enum vreplay_status {
    VREPLAY_RUN_OK,
    VREPLAY_RUN_FAILED,         /* trace error, violation, library or database failure */
    VREPLAY_RUN_INTERRUPTED,    /* *stop was set */
    VREPLAY_RUN_NOT_APPLICABLE  /* the policy cannot run this trace (message says why) */
} vreplay_status;

const char *vreplay_status_name(vreplay_status st); /* "ok", "failed", ... as in runs.status */

/* Where a run is, for a watchdog in another process (--isolate, isolate.h):
 * the event being replayed (1-based) and its trace line, stored before the
 * event is, and the run's row once it is written. */
typedef struct vreplay_position {
    volatile uint64_t event, line;
    volatile int64_t run_id;
} vreplay_position;

typedef struct vreplay_options {
    const char *trace_path;      /* the trace file; with trace_data, the name in messages */
    const void *trace_data;      /* if not NULL: the trace is these trace_size bytes (fuzzers) */
    size_t trace_size;
    const vevs *stream;          /* if not NULL: the trace parsed once (evstream.h), read from
                                    memory instead of the file; trace_path names it */
    const char *policy;          /* a heap policy name (vram_heap_policy_names), or
                                    "plugin:PATH[:NAME]" (plugin.h): runs.policy is then
                                    "plugin:NAME" and runs.layout the file and its CRC-32 */
    const char *backend;         /* "sim" (NULL) or "cuda" */
    uint64_t capacity;           /* device bytes; 0 = the trace header's */
    const char *evict_policy;    /* NULL = the manager's default */
    int defrag_on_oom;           /* compact when an allocation fails despite enough free bytes */
    uint64_t defrag_every;       /* a compaction pass every N events; 0 = never */
    uint64_t sample_every;       /* a sample every N events; 0 = none */
    uint64_t check_every;        /* vram_manager_check every N events and after the last
                                    one; 0 = never */
    uint64_t time_every;         /* measure one call in N (0 and 1: every call) */
    const vram_caching_options *caching; /* the caching policy's options; NULL = defaults */
    const char *caching_conf;    /* the text they were parsed from (runs.caching_conf), or NULL */
    uint64_t tensor_cache;       /* bytes of the tensor cache (above); 0 = none */
    /* Version-2 traces (traces/FORMAT.md, "Needed memory"): how a forced
     * preemption drops a request's KV: 0 recompute (vLLM's default: dropped,
     * its tokens charged at the prefill rate when it runs again), 1 swap
     * (copied to the host and back over the modelled PCIe link). */
    int preempt_swap;
    double prefill_tokens_per_s; /* 0: the trace header's, else VREPLAY_PREFILL_DEFAULT */
    vrprefix_options prefix;     /* the prefix cache of a trace with prefix events */
    const char *options_text;    /* free text stored in runs.options (the command line) */
    const char *trace_crc32;     /* vreplay_trace_crc32 of the trace, computed once by a caller
                                    running several policies; NULL: the run computes it */
    uint64_t trace_bytes;        /* with trace_crc32: the file's size */
    const vbounds *bounds;       /* may be NULL; the pool layout needs peak_live_other */
    vdb *db;                     /* may be NULL: nothing is logged */
    volatile sig_atomic_t *stop; /* may be NULL; non-zero ends the run as interrupted */
    /* Called every `progress_every` events (if both set) with the events so far. */
    void (*progress)(void *ctx, uint64_t events);
    void *progress_ctx;
    uint64_t progress_every;
    /* Called once, right after event `inspect_at` (1-based) was replayed, with
     * the run's managers: one, or two for the pool layout ([0] the bestfit lane,
     * [1] the KV pool). For heap maps of a chosen moment (the report tool); the
     * callback may set *stop to end the run there. NULL or inspect_at 0: never. */
    void (*inspect)(void *ctx, uint64_t event_index, vram_manager *const *lanes, int nlanes);
    void *inspect_ctx;
    uint64_t inspect_at;
    vreplay_position *position; /* may be NULL; kept up to date when not (memory the
                                   watchdog shares, isolate.c) */
} vreplay_options;

#define VREPLAY_OVER_CAPACITY_KEPT 4
/* Prefill tokens per second when neither the options nor the trace say
 * (docs/COST_MODEL.md: a 70B model on a 4 x H100 node). */
#define VREPLAY_PREFILL_DEFAULT 16667.0

typedef struct vreplay_result {
    vreplay_status status;
    char message[512];           /* failed / not applicable: why, with file:line when known */
    char layout[256];            /* how the policy was laid out (the pool split), or "" */
    int64_t run_id;              /* runs.id, 0 without a database */
    uint64_t capacity;           /* the device's bytes (0 when the trace did not open) */
    uint64_t events;             /* events replayed */
    uint64_t steps, requests;    /* step and request-begin markers */
    uint64_t skipped;            /* free/use/release of ids whose allocation failed */
    uint64_t errors;             /* requests the policy refused (error events) */
    /* Failed requests (refused or OOM) larger than the device; the trace line
     * and size of the first VREPLAY_OVER_CAPACITY_KEPT. */
    uint64_t over_capacity;
    uint64_t over_capacity_line[VREPLAY_OVER_CAPACITY_KEPT];
    uint64_t over_capacity_size[VREPLAY_OVER_CAPACITY_KEPT];
    uint64_t ooms, ooms_despite_free;
    uint64_t evictions, rematerialisations, bytes_evicted, bytes_rematerialised;
    /* Evictions the policy chose (not preemptions), by kind of the evicted handle;
     * evictions and bytes_evicted above are their sums. */
    uint64_t evictions_by_kind[VRAM_KIND_COUNT], bytes_evicted_by_kind[VRAM_KIND_COUNT];
    /* Forced preemptions (version 2): a placement failed and only memory a
     * running request needs could make room; the newest such request lost its
     * memory (preempted_bytes), to be recomputed or swapped back in when it
     * next runs (restores; restore_waits: a step at which it did not fit and
     * waited, as a request in vLLM's waiting queue).
     * preempt_ns: the modelled cost (recompute: recompute_tokens at the
     * prefill rate; swap: both copies). */
    int needs;                   /* the trace is version 2: the fields below apply */
    uint64_t preemptions, preempted_bytes, restores, restore_waits, recompute_tokens;
    double preempt_ns;
    vrprefix_result prefix;      /* the prefix cache (prefix.on: the trace drives one) */
    uint64_t peak_footprint;     /* heap footprint high-water mark (sampled every event) */
    uint64_t peak_in_use;
    uint64_t peak_live;          /* the requested bytes of live, placed allocations */
    uint64_t peak_live_event;    /* where peak_live was first reached */
    uint64_t samples;            /* samples taken */
    double worst_ext_frag;       /* max over samples of 1 - largest free / total free */
    /* The first sample with the highest footprint (the verdict's why, verdict.h):
     * its footprint, in use minus requested, and footprint minus in use. */
    uint64_t peak_sample_footprint, waste_at_peak, free_at_peak;
    uint64_t defrag_passes, defrag_moves, defrag_bytes_moved, defrag_oom_saved;
    double defrag_modelled_ns;   /* the cost model's time for the moves' copies */
    /* The caching policy: reserved - allocated after the call that took the
     * reserved bytes highest (the "reserved but unallocated" of PyTorch's OOM
     * message at peak); has_unallocated 0 for other policies. */
    int has_unallocated;
    uint64_t peak_reserved, reserved_unallocated;
    /* The tensor cache (tensor_cache > 0): acquires served from an idle buffer
     * and not, the most bytes held idle at once, its heap's peak footprint. */
    uint64_t tc_hits, tc_misses, tc_idle_peak, tc_peak_footprint;
    double modelled_ns;          /* the device cost model's time */
    double wall_s;               /* the replay's wall time, parse included */
    double timer_ns;             /* the clock's own cost per reading (median), for the reader */
    vhist lat[VREPLAY_OP_COUNT]; /* measured ns per op kind (the timed calls) */
} vreplay_result;

/* CRC-32 of the file's bytes as 8 hex digits and its size; hex "" when the
 * file cannot be read. Cost: one read of the file. */
void vreplay_trace_crc32(const char *path, char hex[9], uint64_t *bytes);

/* Replays the trace for one policy. Cost: one pass over the trace, O(1)
 * expected per event plus the library's own cost, memory following the live
 * ids. Returns VRAM_OK when the run was carried out to an end (its status in
 * out->status: ok, failed, interrupted, not applicable); otherwise the run
 * could not be carried out and the status says why, with out->message in
 * words: VRAM_EIO for a database write failure, VRAM_ENODRIVER/VRAM_EDEVICE
 * when the device cannot be created (cuda without a driver), VRAM_EINVAL for no
 * trace_path or an unknown heap or eviction policy, vplugin_open's status for a
 * plugin that does not load, VRAM_ENOHOST without memory, the reader's
 * status when the trace cannot be opened. Whenever a run row was written it is
 * left marked (ok, failed, interrupted) unless the database itself failed while
 * marking it, in which case it reads "failed" with no end time (not finished,
 * db.h); it reads "ok" only when the run finished and all its rows are in. */
vram_status vreplay_run(const vreplay_options *opt, vreplay_result *out);

#endif
