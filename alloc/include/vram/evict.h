/* vram/evict.h - eviction policies: which resident handle goes first.
 *
 * A policy keeps the set of evictable handles (resident, not pinned, not in
 * use, with a backing) and hands out victims in its order. The manager owns
 * the handles; a policy only sees handle indices and the facts it needs
 * (vram_evict_item). Policies: "prio-lru" (default: lowest priority first,
 * least recently used among equals), "lru" (least recently used), "cost"
 * (GreedyDual-Size: the smallest reload cost per byte freed first, aged by
 * an inflation value so that old entries go before recently used ones).
 *
 * Victim choice never scans the set: prio-lru keeps one intrusive LRU list
 * per distinct priority (priorities in a small sorted array), lru one list,
 * cost an indexed binary heap. Costs: insert/remove/touch/pop/unpop O(1) for
 * lru, O(log P) plus an O(P) array shift when a priority appears or empties
 * for prio-lru (P = distinct priorities), O(log n) for cost. */
#ifndef VRAM_EVICT_H
#define VRAM_EVICT_H

#include <stdint.h>

#include "vram/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a policy may know about a handle when it becomes evictable or is used. */
typedef struct vram_evict_item {
    int priority;
    uint64_t last_use;  /* the manager's logical clock: strictly increasing per use */
    uint64_t size;      /* bytes freed by evicting it */
    double reload_ns;   /* modelled cost of bringing it back */
} vram_evict_item;

/* A handle's place in the policy's order: victims go in increasing key order
 * (major first, then minor). Compared with vram_evict_key_cmp. */
typedef struct vram_evict_key {
    double major;
    uint64_t minor;
} vram_evict_key;

/* The ops table of a policy. `index` is a handle index below the last
 * reserve(); an index is inserted at most once until removed or popped.
 * Only create and reserve can fail (VRAM_ENOHOST). */
typedef struct vram_evict_ops {
    const char *name;
    vram_status (*create)(void **impl);
    void (*destroy)(void *impl);
    /* Makes indices [0, n) usable; n only grows. */
    vram_status (*reserve)(void *impl, uint32_t n);
    /* The handle became evictable (now: it->last_use is the newest stamp). */
    void (*insert)(void *impl, uint32_t index, const vram_evict_item *it);
    /* The handle is no longer evictable (pinned, in use, freed). */
    void (*remove)(void *impl, uint32_t index);
    /* The handle was used now (it->last_use is the newest stamp). */
    void (*touch)(void *impl, uint32_t index, const vram_evict_item *it);
    /* Removes the next victim: 1 and *index, *key; 0 when the set is empty. */
    int (*pop)(void *impl, uint32_t *index, vram_evict_key *key);
    /* Undoes the latest pop not yet undone or confirmed: the handle gets back
     * exactly its old place. Pops are undone in reverse order. */
    void (*unpop)(void *impl, uint32_t index);
    /* The popped handle with this key was really evicted (cost: ageing). */
    void (*evicted)(void *impl, const vram_evict_key *key);
    /* The key of an inserted handle. */
    vram_evict_key (*key)(const void *impl, uint32_t index);
    /* Number of inserted handles. */
    uint64_t (*count)(const void *impl);
} vram_evict_ops;

/* The policy of that name, or NULL. vram_evict_policy_names lists them,
 * NULL-terminated, the default first. */
const vram_evict_ops *vram_evict_policy(const char *name);
extern const char *const vram_evict_policy_names[];

/* <0, 0, >0 as a goes before, with, after b. Constant time. */
int vram_evict_key_cmp(const vram_evict_key *a, const vram_evict_key *b);

#ifdef __cplusplus
}
#endif
#endif
