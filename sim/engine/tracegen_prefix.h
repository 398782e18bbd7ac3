/* tracegen_prefix.h - the generator's model of a prefix cache (vLLM-style):
 * KV segments keyed by a hash id, each either absent or resident; a resident
 * segment is held by `refs` running requests and, once none holds it, kept by
 * the cache on an LRU list until evicted. Internal to the generator. */
#ifndef VTRACEGEN_PREFIX_H
#define VTRACEGEN_PREFIX_H

#include <stdint.h>

#include "vram/status.h"

typedef struct vtg_prefix vtg_prefix;

vram_status vtg_prefix_create(vtg_prefix **out);
void vtg_prefix_destroy(vtg_prefix *c);
/* Whether `hash` is resident (held by requests or kept by the cache). O(1) expected. */
int vtg_prefix_resident(const vtg_prefix *c, uint64_t hash);
/* Whether `hash` is resident with no request holding it (evictable). */
int vtg_prefix_idle(const vtg_prefix *c, uint64_t hash);
/* A request takes `hash` (making it resident, off the LRU list). *was_resident
 * says whether it was a hit. VRAM_ENOHOST when the table cannot grow. */
vram_status vtg_prefix_take(vtg_prefix *c, uint64_t hash, int *was_resident);
/* A request drops `hash`; with the last holder it joins the LRU tail. 0, or -1
 * if no request held it (a generator bug, reported by the caller). */
int vtg_prefix_drop(vtg_prefix *c, uint64_t hash);
/* Evicts the least recently dropped idle segment: 1 and *hash, or 0 if none. */
int vtg_prefix_evict(vtg_prefix *c, uint64_t *hash);
/* Idle (evictable) segments. */
uint64_t vtg_prefix_idle_count(const vtg_prefix *c);

#endif
