/* serve.h - the closed loop: the engine model (engine.h) serving a recorded
 * workload with live libvram managers as its memory, so that the allocator
 * decides what runs. docs/ENGINE_MODEL.md describes the model.
 *
 * Two managers split the share of the device the engine plans with
 * (utilisation x capacity), as vLLM splits it: the KV region (the planner's
 * KV budget, vLLM's KV cache tensor) is a manager with the heap policy under
 * test and holds every KV allocation (paged blocks, cached prefix blocks among
 * them, or per-request buffers); the rest (weights, shared embeddings, adapters, the
 * step's activation and workspace) is a bestfit manager. Every engine event
 * is a manager call (alloc, free, acquire/release shared); nothing is ever
 * evicted by a manager: when the KV region cannot place an allocation the
 * engine makes room by its own rules (idle cached prefix blocks, then preemption
 * of the newest running request) or, for an admission, the request waits.
 *
 * The KV ledger, sampled after each step's memory is placed and weighted by
 * the step's modelled duration, splits the KV region's bytes into token
 * states, reserved (future tokens of running requests), internal waste (slots
 * no token will fill, plus the heap's rounding), free but unusable (free
 * pieces smaller than the smallest KV allocation the engine asks for next:
 * external fragmentation) and free usable; they add up to the region's bytes
 * (checked at every sample). */
#ifndef VSERVE_H
#define VSERVE_H

#include <signal.h>
#include <stdint.h>

#include "engine.h"
#include "vram/status.h"

/* The KV region at one moment, bytes. */
typedef struct vserve_ledger {
    uint64_t kv_bytes;        /* the region: the sum of the five parts below */
    uint64_t tokens, reserved, waste, free_unusable, free_usable;
} vserve_ledger;

/* One sample: after step `step`'s memory was placed; it holds for dur_us. */
typedef struct vserve_sample {
    uint64_t step, ts_us, dur_us;
    uint64_t running, waiting;
    vserve_ledger l;
} vserve_sample;

typedef struct vserve_options {
    vengine_config e;            /* model, engine, workload (vengine_defaults) */
    const char *policy;          /* the KV region's heap policy: bestfit, buddy, tlsf, caching,
                                    or pool (paged only: blocks of the KV block) */
    uint64_t check_every;        /* the engine's, the ledger's and both managers' checks every N
                                    steps and at the end; 0 = at the end only */
    volatile sig_atomic_t *stop; /* may be NULL; non-zero ends the run (VRAM_EBUSY) */
    /* Called with every sample (may be NULL). A non-zero status ends the run with it. */
    vram_status (*sample)(void *ctx, const vserve_sample *s);
    void *sample_ctx;
    /* Called every progress_every steps (if both set) with the steps so far. */
    void (*progress)(void *ctx, uint64_t steps);
    void *progress_ctx;
    uint64_t progress_every;
} vserve_options;

/* Time-weighted shares of the KV region (0 to 1; they sum to 1). */
typedef struct vserve_shares {
    double tokens, reserved, waste, free_unusable, free_usable;
} vserve_shares;

typedef struct vserve_result {
    vengine_stats engine;        /* requests, finished, preemptions by cause, admissions refused, OOMs */
    uint64_t kv_bytes;           /* the KV region */
    double modelled_s;           /* engine time at the end */
    double tokens_per_s;         /* generated tokens (finished requests) per modelled second */
    double queue_mean_ms, queue_p99_ms; /* arrival to first admission */
    double ttft_mean_ms, ttft_p99_ms;   /* arrival to first token */
    double mean_batch;           /* running requests per step */
    vserve_shares avg;           /* the ledger, weighted by step duration */
    uint64_t samples;
    double cpu_s;                /* CPU time of the run (process clock) */
} vserve_result;

/* The policies serve accepts, NULL-terminated. */
extern const char *const vserve_policy_names[];

/* Runs the workload through the engine, closed loop, for one policy. Fails
 * with err (errlen bytes) naming the cause: the engine's (vengine_create:
 * options, the workload's file:line), VRAM_EINVAL (an unknown policy; pool
 * with a style other than paged or with prefix sharing), the managers'
 * creation status, VRAM_ENOMEM (the weights do not fit their manager),
 * VRAM_ECORRUPT (a check failed: the first violation in words), VRAM_EBUSY
 * (stopped), the sample callback's status. *out holds what was measured so
 * far either way. Cost: the engine's plus one manager call per event, and a
 * walk of the KV heap per sample when its largest free piece could hold the
 * next allocation. */
vram_status vserve_run(const vserve_options *o, vserve_result *out, char *err, size_t errlen);

#endif
