/* plugin.h - allocators from shared libraries as heap policies.
 *
 * "plugin:PATH[:NAME]" names the allocator NAME (default: the library's own
 * default) of the shared library at PATH, built against vram/plugin.h (the
 * ABI, its contract and its costs). vplugin_open loads and checks it and
 * builds a vram_heap_ops table, the adapter, that any vram_heap_create or
 * vram_manager_config.heap_ops accepts, so a plugin goes wherever a built-in
 * policy goes: replay, the manager, the heap fuzzing engine.
 *
 * The adapter trusts nothing the plugin answers. Each instance keeps a shadow
 * of the live blocks (heap_shadow.h) and checks every answer before passing it
 * on: an allocation inside [0, capacity), aligned as asked, overlapping no live
 * block, with a block_size of at least the size asked; a free of a live block
 * that succeeds. The first violation is kept in words (vplugin_violation) and
 * the instance refuses every later call with VRAM_ECORRUPT. Frees of offsets
 * that are not live never reach the plugin (VRAM_ENOTFOUND, VRAM_EDOUBLEFREE).
 * The adapter's check() cross-checks the plugin's walk and stats against the
 * shadow, then runs the plugin's own check.
 *
 * What the adapter reports as the heap's stats: capacity, requested,
 * live_allocs, in_use (the sum of alloc's block_size answers) and footprint
 * (the end of the highest live block) from the shadow; largest_free and
 * free_blocks from the plugin's stats entry, or counted over the gaps between
 * live blocks (O(live blocks) per call) without one. walk() gives the shadow's
 * blocks and the gaps between them as free blocks.
 *
 * Cost: open is one dlopen and one read of the file (its CRC-32); each
 * adapted alloc or free costs the plugin's call plus O(log n) expected. */
#ifndef VSIM_PLUGIN_H
#define VSIM_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "vram/heap.h"
#include "vram/plugin.h"

typedef struct vplugin vplugin;

#define VPLUGIN_PREFIX "plugin:"

/* Whether a policy name is a plugin spec (starts with "plugin:"). */
int vplugin_is_spec(const char *policy);

/* Loads the plugin a spec names and checks its table. VRAM_OK and *out, or,
 * with the reason in msg (naming the file, and the entry when one is at
 * fault): VRAM_EINVAL for a spec that is not "plugin:PATH[:NAME]", a NULL
 * required entry or a bad name; VRAM_ENOTFOUND for a file that cannot be
 * read or opened by dlopen, no VRAM_PLUGIN_ENTRY symbol, or no allocator of
 * that NAME; VRAM_EMISMATCH for a table version of 0 or newer than
 * VRAM_PLUGIN_VERSION, or a table smaller than its version's; VRAM_ENOHOST.
 * A PATH without '/' is taken relative to the current directory (dlopen's
 * library search is never used). */
vram_status vplugin_open(const char *spec, vplugin **out, char *msg, size_t msglen);

/* Unloads the library; every heap of the adapter must be destroyed first.
 * NULL is a no-op. */
void vplugin_close(vplugin *p);

/* The adapter's table (its name is vplugin_label), valid until vplugin_close. */
const vram_heap_ops *vplugin_heap_ops(const vplugin *p);

const char *vplugin_label(const vplugin *p); /* "plugin:NAME", the runs table's policy */
const char *vplugin_name(const vplugin *p);  /* NAME, from the plugin's table */
const char *vplugin_path(const vplugin *p);  /* the file, as opened */
const char *vplugin_crc32(const vplugin *p); /* the file's CRC-32, 8 hex digits */
uint64_t vplugin_bytes(const vplugin *p);    /* the file's size */

/* One line for runs.layout: checksum, size, path, ABI version and the
 * optional entries the plugin has. */
void vplugin_describe(const vplugin *p, char *buf, size_t len);

/* The spec that loads a logged run's plugin again (the report's heap maps
 * replay runs): "plugin:PATH:NAME" from runs.policy ("plugin:NAME") and
 * runs.layout (vplugin_describe's line, which ends with ": PATH"). 1 with the
 * spec, or 0 when the row is not a plugin's or its layout is not such a line. */
int vplugin_spec_of_run(const char *policy, const char *layout, char *spec, size_t len);

/* The first violation of the plugin's latest instance in words ("" while
 * there is none). An instance's creation clears it. */
const char *vplugin_violation(const vplugin *p);

#endif
