/* idmap.h - hash maps from trace ids (uint64) and shared-weight keys (strings)
 * to a fixed-size value, for the replayer and the bounds pass.
 *
 * Open addressing with linear probing and backward-shift deletion (no
 * tombstones), so a map's memory follows the number of live entries, not the
 * number of operations. A value pointer returned by get/put stays valid until
 * the next put or remove on the same map. */
#ifndef VSIM_IDMAP_H
#define VSIM_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "vram/status.h"

typedef struct vsim_idmap vsim_idmap;

/* A map whose values are `value_size` bytes (zeroed when put creates them).
 * Fails with VRAM_EINVAL for value_size 0, VRAM_ENOHOST without memory. */
vram_status vsim_idmap_create(size_t value_size, vsim_idmap **out);
void vsim_idmap_destroy(vsim_idmap *m);
/* Expected O(1). The value of `key`, or NULL if absent. */
void *vsim_idmap_get(const vsim_idmap *m, uint64_t key);
/* Expected O(1) amortised. The value of `key`, created zeroed if absent
 * (*created = 1); NULL only when growing the table failed (no host memory). */
void *vsim_idmap_put(vsim_idmap *m, uint64_t key, int *created);
/* Expected O(1). 1 if the key was present and is now removed, else 0. */
int vsim_idmap_remove(vsim_idmap *m, uint64_t key);
size_t vsim_idmap_count(const vsim_idmap *m);
/* Calls fn on every entry (its id, key NULL, and value), in no particular
 * order; fn must not put or remove. O(capacity). For tear-down and checks. */
void vsim_idmap_each(vsim_idmap *m, void (*fn)(uint64_t id, const char *key, void *value, void *ctx),
                     void *ctx);

typedef struct vsim_keymap vsim_keymap;

/* The same over NUL-terminated string keys (copied into the map). */
vram_status vsim_keymap_create(size_t value_size, vsim_keymap **out);
void vsim_keymap_destroy(vsim_keymap *m);
void *vsim_keymap_get(const vsim_keymap *m, const char *key);
void *vsim_keymap_put(vsim_keymap *m, const char *key, int *created);
int vsim_keymap_remove(vsim_keymap *m, const char *key);
size_t vsim_keymap_count(const vsim_keymap *m);
/* As vsim_idmap_each: fn gets the key's hash and the key. */
void vsim_keymap_each(vsim_keymap *m,
                      void (*fn)(uint64_t hash, const char *key, void *value, void *ctx), void *ctx);

#endif
