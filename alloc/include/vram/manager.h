/* vram/manager.h - the façade: one entry point for the replayer and for an
 * inference engine. A manager owns a device, one heap policy over it, the
 * eviction manager (handles), the shared-weights registry and the budget.
 *
 * Callers hold handles, never addresses: the manager may evict a handle (its
 * device bytes are released, the handle keeps its identity) and re-materialise
 * it on next use, or move it (defragmentation). A handle is an index plus a
 * generation, so a stale or forged handle is refused with VRAM_ESTALE /
 * VRAM_ENOTFOUND, never a crash. */
#ifndef VRAM_MANAGER_H
#define VRAM_MANAGER_H

#include <stdint.h>
#include <stdio.h>

#include "vram/budget.h"
#include "vram/device.h"
#include "vram/heap.h"
#include "vram/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vram_manager vram_manager;

/* index in the low 32 bits, generation in the high 32; 0 is never a valid handle. */
typedef struct vram_handle {
    uint64_t v;
} vram_handle;

typedef enum vram_kind {
    VRAM_KIND_WEIGHT,
    VRAM_KIND_KV,
    VRAM_KIND_ACTIVATION,
    VRAM_KIND_WORKSPACE,
    VRAM_KIND_ADAPTER,
    VRAM_KIND_OTHER,
    VRAM_KIND_COUNT
} vram_kind;

/* "weight", "kv", "activation", "workspace", "adapter", "other". */
const char *vram_kind_name(vram_kind k);
/* VRAM_OK and *out, or VRAM_ENOTFOUND for an unknown name. */
vram_status vram_kind_parse(const char *name, vram_kind *out);

/* How an evicted handle gets its contents back. */
typedef enum vram_backing {
    VRAM_BACKING_NONE,     /* never evicted (activations, workspaces) */
    VRAM_BACKING_HOST,     /* copied to host memory on eviction, copied back on use */
    VRAM_BACKING_CALLBACK  /* dropped on eviction; the callback rewrites it on use */
} vram_backing;

/* Writes the contents of a re-materialised buffer at device address `addr`. */
typedef vram_status (*vram_remat_fn)(void *ctx, vram_device *dev, uint64_t addr, uint64_t size);

typedef struct vram_alloc_desc {
    uint64_t size;
    uint64_t align;        /* 0 = the heap's minimum */
    int priority;          /* higher survives eviction longer */
    vram_kind kind;
    vram_backing backing;
    vram_remat_fn remat;   /* VRAM_BACKING_CALLBACK */
    void *remat_ctx;
    int pinned;            /* 1: the handle starts pinned once, as by vram_pin right after
                              the allocation, without ever entering the eviction set */
} vram_alloc_desc;

typedef struct vram_manager_config {
    vram_device_config device;   /* backend, capacity, host backing, cost model */
    const char *heap_policy;     /* "bestfit" (default), "buddy", "tlsf", "pool", "caching" */
    const vram_heap_ops *heap_ops; /* if not NULL: this table instead of heap_policy (a plugin) */
    vram_heap_config heap;       /* capacity 0 = the device capacity */
    const char *evict_policy;    /* "prio-lru" (default), "lru", "cost" */
    int evict;                   /* 0: an allocation that does not fit fails, nothing is evicted */
    /* Compaction (vram/defrag.h) when an allocation fails although the heap
     * has enough free bytes in total; defrag_budget bytes moved per pass at
     * most (0 = no limit). */
    int defrag_on_oom;
    uint64_t defrag_budget;
    /* Optional: the memory profile of the model served (vram/budget.h), copied. */
    const vram_budget_profile *budget;
} vram_manager_config;

typedef struct vram_manager_stats {
    vram_heap_stats heap;
    vram_device_stats device;
    uint64_t handles;             /* live handles (resident + evicted) */
    uint64_t resident_handles;
    uint64_t resident_bytes;
    uint64_t evictions, rematerialisations;
    uint64_t bytes_evicted, bytes_rematerialised;
    /* evictions and bytes_evicted by the kind of the evicted handle (vram_evict's
     * included: they sum to evictions and bytes_evicted) */
    uint64_t evictions_by_kind[VRAM_KIND_COUNT];
    uint64_t bytes_evicted_by_kind[VRAM_KIND_COUNT];
    uint64_t failed_allocs;       /* VRAM_ENOMEM returned by vram_alloc / touch / acquire */
    uint64_t failed_despite_free; /* ... of which total free bytes were >= the request */
    uint64_t shared_keys;
    uint64_t defrag_passes, defrag_moves, defrag_bytes_moved;
    uint64_t defrag_oom_saved;    /* allocations that failed and fit after an automatic pass */
    double defrag_modelled_ns;    /* the device cost model's time for the moves' copies */
} vram_manager_stats;

typedef struct vram_handle_info {
    uint64_t size;
    uint64_t addr;      /* device address while resident, 0 while evicted */
    int priority;
    vram_kind kind;
    int resident;
    uint32_t pins;
    uint32_t uses;      /* acquire without unacquire */
    uint64_t last_use;  /* logical clock of the last touch/acquire */
    uint32_t shared_refs; /* a shared buffer's holders; 0 for a plain handle */
} vram_handle_info;

/* Creates the device, the heap over one device segment of the heap's capacity
 * (a block's address is the segment's base + its offset) and the eviction
 * state. Fails with VRAM_EINVAL (NULL cfg/out), VRAM_ENOTFOUND (unknown heap
 * or eviction policy, unknown backend), the device's or the heap's creation
 * status, VRAM_ENOMEM (heap capacity beyond the device), VRAM_ENOHOST. */
vram_status vram_manager_create(const vram_manager_config *cfg, vram_manager **out);
/* Destroys the manager. Live handles are not freed silently: each is reported
 * to `leak_report` (if not NULL) and the count is returned. O(handles). */
uint64_t vram_manager_destroy(vram_manager *m, FILE *leak_report);

/* Costs: handle lookups O(1); an allocation is one heap allocation, plus, when
 * it does not fit, one eviction per victim (policy order, vram/evict.h) with
 * a heap retry after each. Any handle call fails with VRAM_EINVAL for a NULL
 * manager or out-pointer, VRAM_ENOTFOUND for a handle never issued (0, forged),
 * VRAM_ESTALE for a freed handle whose slot was reused, VRAM_EDOUBLEFREE for a
 * freed handle whose slot was not reused yet. A call that needs device bytes
 * (alloc, and touch/acquire/pin of an evicted handle) fails with VRAM_ENOMEM
 * when eviction cannot make room: the state is unchanged when the evictable
 * bytes plus the free bytes are below the request; when they are not but the
 * free bytes stay fragmented, the evictions done stay done (alloc/evict.c
 * states the rule). A failed device copy (VRAM_EDEVICE), host memory
 * (VRAM_ENOHOST) or contents that do not verify (VRAM_ECORRUPT) end the call.
 *
 * On a host-backed sim device the manager fills every new block with a
 * pattern of the handle's value and verifies it on eviction, move and free. */

/* VRAM_EINVAL also for size 0, a kind out of range, an alignment that is not
 * 0 or a power of two, CALLBACK backing without remat; the heap's VRAM_EINVAL
 * for a size beyond its capacity. */
vram_status vram_alloc(vram_manager *m, const vram_alloc_desc *desc, vram_handle *out);
/* Frees the device bytes or the host copy and the handle. VRAM_EBUSY for a
 * pinned or acquired handle or a shared buffer (vram_release_shared frees it);
 * VRAM_ECORRUPT when the contents did not verify (the handle is freed anyway). */
vram_status vram_free(vram_manager *m, vram_handle h);
/* Marks the handle used now; re-materialises it if evicted (which may evict others). */
vram_status vram_touch(vram_manager *m, vram_handle h);
/* touch + in use: not evicted nor moved until vram_unacquire; *addr may be NULL.
 * Counts nest; VRAM_EOVERFLOW past 2^32 - 1. */
vram_status vram_acquire(vram_manager *m, vram_handle h, uint64_t *addr);
/* VRAM_EINVAL when the handle is not acquired. Ending a use counts as a use. */
vram_status vram_unacquire(vram_manager *m, vram_handle h);
vram_status vram_pin(vram_manager *m, vram_handle h);   /* makes resident and keeps it so */
/* Evicts h now, as the eviction policy would (a host copy for HOST backing,
 * the contents dropped for CALLBACK), whatever the policy's order: for an
 * engine that drops memory it knows it will not need soon, e.g. the KV of a
 * request it preempts. The handle keeps its identity and comes back on its
 * next use. VRAM_OK also when already evicted; VRAM_EBUSY when pinned or
 * acquired; VRAM_EINVAL for BACKING_NONE; a failed copy (VRAM_EDEVICE,
 * VRAM_ENOHOST, VRAM_ECORRUPT) leaves it resident. O(1) plus the copy. */
vram_status vram_evict(vram_manager *m, vram_handle h);
vram_status vram_unpin(vram_manager *m, vram_handle h); /* VRAM_EINVAL when not pinned */
/* vram_unpin then vram_free in one call, the handle never entering the
 * eviction set in between (the pair an engine makes for memory it needed
 * until now). VRAM_EINVAL when not pinned, VRAM_EBUSY when pinned more than
 * once, acquired or shared; otherwise as vram_free. */
vram_status vram_unpin_free(vram_manager *m, vram_handle h);
vram_status vram_handle_get(const vram_manager *m, vram_handle h, vram_handle_info *out);

/* Shared weights: one buffer per key, a reference per acquire. The first acquire
 * allocates `size` and calls `loader` to fill it (and again after an eviction);
 * a later acquire with another size is VRAM_EMISMATCH. Keys are 1 to 63 bytes
 * (else VRAM_EINVAL); a NULL loader makes a buffer that is never evicted. A
 * later acquire touches the buffer (re-materialising it) and keeps its first
 * priority; the handle is a plain handle for touch/acquire/pin. The loader's
 * failure status is returned and nothing is kept. O(1) expected (hash map). */
vram_status vram_acquire_shared(vram_manager *m, const char *key, uint64_t size, int priority,
                                vram_remat_fn loader, void *loader_ctx, vram_handle *out);
/* Drops one reference; the buffer is freed with the last. Not held: VRAM_ENOTFOUND.
 * The last reference of a buffer still acquired or pinned: VRAM_EBUSY, nothing changes. */
vram_status vram_release_shared(vram_manager *m, const char *key);

/* O(1) plus the heap's stats. Cannot fail (NULL arguments: nothing is written). */
void vram_manager_stats_get(const vram_manager *m, vram_manager_stats *out);
/* VRAM_OK, or VRAM_ECORRUPT with the first violated invariant (of the heap, the
 * handles, the shared registry or the eviction order) written to msg;
 * VRAM_EINVAL for a NULL manager, VRAM_ENOHOST. O(n log n) in handles plus a
 * heap walk and the heap's check. */
vram_status vram_manager_check(const vram_manager *m, char *msg, size_t msglen);

/* Every heap block in address order with the kind of the handle that owns it
 * (VRAM_KIND_OTHER for free blocks): the basis of heap maps. */
typedef int (*vram_manager_walk_fn)(const vram_block_info *block, vram_kind kind, void *ctx);
/* O(n log n) in resident handles plus the walk. VRAM_EINVAL (NULL m or fn), VRAM_ENOHOST. */
vram_status vram_manager_walk(const vram_manager *m, vram_manager_walk_fn fn, void *ctx);

/* The budget profile given at creation, or NULL. O(1). */
const vram_budget_profile *vram_manager_budget(const vram_manager *m);
/* vram_budget_auto_context over the heap's capacity: how many context tokens
 * this manager's memory holds at `utilisation`. VRAM_ENOTFOUND when the
 * manager has no profile; otherwise fails as vram_budget_auto_context. O(1). */
vram_status vram_manager_auto_context(const vram_manager *m, double utilisation, uint64_t *tokens,
                                      int *fits);

vram_heap *vram_manager_heap(vram_manager *m);
vram_device *vram_manager_device(vram_manager *m);

#ifdef __cplusplus
}
#endif
#endif
