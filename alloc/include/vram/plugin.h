/* vram/plugin.h - the plugin ABI: bring your own allocator to the bench.
 *
 * A plugin is a shared library (built with -shared -fPIC, in any language that
 * can export a C function) that exports one symbol, VRAM_PLUGIN_ENTRY
 * ("vram_plugin_entry"), a vram_plugin_entry_fn. The bench opens it with
 * dlopen(RTLD_NOW | RTLD_LOCAL), calls the entry once and receives a table of
 * function pointers, vram_plugin_ops, that manages offsets [0, capacity) of a
 * range it never touches, as a built-in heap policy does (vram/heap.h). Then
 * `replay --policy plugin:PATH[:NAME]` replays traces through it beside the
 * built-in policies, and fuzz_heap_plugin fuzzes it (README, "Test your
 * allocator"). This header needs only <stddef.h>, <stdint.h> and
 * vram/status.h: a plugin does not link libvram.
 *
 * Versioning, as SQLite's sqlite3_vfs: the table starts with `version` and
 * `size`, which the host checks before it reads anything else. Later versions
 * only append entries, and the host reads an entry only when the table's
 * version and size both cover it, so a host built with a newer header still
 * runs a plugin built with an older one. A table whose version is 0 or newer
 * than the host's VRAM_PLUGIN_VERSION (the plugin may rely on entries the host
 * would not call) is refused; so are a size below the version's table, a
 * NULL required entry and a name that is not 1-31 of [A-Za-z0-9_.-]. Each
 * refusal names the file and the entry.
 *
 * Trust: the bench trusts nothing a plugin answers. It keeps a shadow of the
 * live blocks and validates every answer before the manager sees it: an
 * allocation must lie inside [0, capacity), start at a multiple of the
 * alignment asked for, overlap no live block (its bytes [offset, offset +
 * size) against theirs), and report a block_size of at least the size asked
 * for; a free of a live block must succeed. The first violation ends the run
 * as failed with the trace line and the violation in words, whether or not
 * the plugin's own check agrees. The plugin's walk, when it has one, is
 * cross-checked against the shadow whenever the bench checks the heap
 * (`replay --check-every`, the end of a run, every fuzz operation).
 *
 * What the host guarantees to the plugin (so a plugin need not check):
 *   - calls on one instance never overlap (one thread at a time);
 *   - create gets 1 <= capacity <= 2^48 and a power-of-two min_align <= capacity;
 *   - alloc gets 1 <= size <= capacity and a power-of-two align >= min_align;
 *   - free and free_batch get only offsets alloc returned and not freed since,
 *     each at most once per call;
 *   - grow gets a non-zero multiple of min_align that keeps the capacity <= 2^48.
 *
 * What the plugin must never do: touch the managed range (it may be device
 * memory the CPU cannot see: metadata lives in host memory), exit or abort
 * on a request, throw a C++ exception or longjmp through the ABI, keep
 * mutable global state shared between instances (the bench creates several
 * instances, one after another and at once).
 *
 * Costs: a replay of traces/llama70b.trace makes about a million calls, so
 * alloc and free should be O(1) or O(log n) in the live blocks; stats is called
 * per sample (every 1000 events by default) and on each failed allocation;
 * walk and check are called only by the checks and may be O(n). The bench's
 * own cost per call (validation, shadow) is O(log n): BENCHMARKS.md, "The
 * plugin ABI's cost".
 *
 * Statuses (vram/status.h): VRAM_OK; VRAM_ENOMEM when the request does not fit
 * now (nothing changed); VRAM_EINVAL or VRAM_EUNSUPPORTED for a request the
 * allocator will never serve by design (the replay records it as refused);
 * VRAM_ENOHOST when host memory ran out (nothing changed); anything else ends
 * the run as a failure of the plugin. */
#ifndef VRAM_PLUGIN_H
#define VRAM_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "vram/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version of this header: what a table built against it declares. */
#define VRAM_PLUGIN_VERSION 1u

/* The name of the one symbol a plugin exports. */
#define VRAM_PLUGIN_ENTRY "vram_plugin_entry"

/* Marks the entry for export when the plugin hides everything else
 * (-fvisibility=hidden, recommended: the library then exports one symbol). */
#if defined(__GNUC__) || defined(__clang__)
#define VRAM_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define VRAM_PLUGIN_EXPORT
#endif

/* The heap an instance manages. The host sets `size` to the bytes of this
 * struct it passes; a field past `size` is absent (a newer plugin under an
 * older host): read it only when offsetof(field) + sizeof(field) <= size. */
typedef struct vram_plugin_config {
    uint32_t size;      /* sizeof(vram_plugin_config) as the host was built */
    uint32_t version;   /* the host's VRAM_PLUGIN_VERSION */
    uint64_t capacity;  /* bytes managed: offsets [0, capacity); 1 to 2^48 */
    uint64_t min_align; /* a power of two <= capacity: every align passed to alloc is >= it */
} vram_plugin_config;

/* What only the plugin knows about its free space. The host zeroes the struct
 * and sets `size`; the plugin writes the fields that fit in `size`. */
typedef struct vram_plugin_stats {
    uint32_t size;         /* set by the host: sizeof(vram_plugin_stats) as it was built */
    uint32_t reserved;     /* 0 */
    uint64_t in_use;       /* bytes of the used blocks as the plugin rounds them (cross-checked
                              against the sum of alloc's block_size answers) */
    uint64_t largest_free; /* the largest free block, in bytes */
    uint64_t free_blocks;  /* the number of free blocks */
} vram_plugin_stats;

/* One block as walk reports it. */
typedef struct vram_plugin_block {
    uint64_t offset;
    uint64_t size;     /* bytes of the block: a used block's block_size, a free block's extent */
    uint32_t used;     /* 1 used (one per live allocation), 0 free */
    uint32_t reserved; /* 0 */
} vram_plugin_block;

/* walk's callback: return non-zero to stop the walk. */
typedef int (*vram_plugin_walk_fn)(void *ctx, const vram_plugin_block *block);

/* The table. Entries are version 1 unless marked; "required" entries must
 * not be NULL, an optional NULL entry means the host does without it. */
typedef struct vram_plugin_ops {
    uint32_t version; /* VRAM_PLUGIN_VERSION the plugin was built against (not 0) */
    uint32_t size;    /* sizeof(vram_plugin_ops) as the plugin was built */
    /* Required: 1-31 characters of [A-Za-z0-9_.-]. The runs table holds
     * "plugin:NAME" as the policy. */
    const char *name;

    /* Required. A new instance over [0, cfg->capacity): VRAM_OK and *impl
     * (any value, passed back to every call), or VRAM_ENOHOST, or VRAM_EINVAL
     * for a configuration the allocator does not support (the replay then
     * reports the run as not applicable). Cost: free, or O(capacity /
     * granule) at most. */
    vram_status (*create)(const vram_plugin_config *cfg, void **impl);

    /* Required. Frees the instance with whatever blocks are still live. */
    void (*destroy)(void *impl);

    /* Required. Places `size` bytes at a multiple of `align`: VRAM_OK with
     * *offset, and optionally *block_size (the host presets it to `size`;
     * set it to the bytes the block really takes, >= size, so that in_use,
     * footprint and heap maps count the rounding), or VRAM_ENOMEM with
     * nothing changed. Cost: O(1) or O(log n) expected (see above). */
    vram_status (*alloc)(void *impl, uint64_t size, uint64_t align, uint64_t *offset,
                         uint64_t *block_size);

    /* Required. Frees the live block starting at `offset` (the host
     * guarantees it is one): must return VRAM_OK. Cost: as alloc. */
    vram_status (*free)(void *impl, uint64_t offset);

    /* Optional. Appends `bytes` at the end of the range: VRAM_OK, or
     * VRAM_EUNSUPPORTED / VRAM_ENOHOST with nothing changed. NULL: the host
     * answers VRAM_EUNSUPPORTED. */
    vram_status (*grow)(void *impl, uint64_t bytes);

    /* Optional. Frees n >= 1 distinct live blocks, as n calls of free would;
     * must return VRAM_OK. NULL: the host calls free n times. (Batched
     * allocation is the host's: it allocates one by one and undoes a batch
     * that does not fit.) */
    vram_status (*free_batch)(void *impl, size_t n, const uint64_t *offsets);

    /* Optional. Fills *out (see vram_plugin_stats). O(1) expected. NULL: the
     * host derives largest_free and free_blocks from its shadow, counting the
     * gaps between live blocks, in O(live blocks) per call. */
    void (*stats)(const void *impl, vram_plugin_stats *out);

    /* Optional. Calls fn for every block in address order (used blocks one
     * per live allocation; free blocks may be omitted), stopping early when
     * fn returns non-zero; VRAM_OK. O(n). */
    vram_status (*walk)(const void *impl, vram_plugin_walk_fn fn, void *ctx);

    /* Optional. The plugin's own invariants: VRAM_OK, or VRAM_ECORRUPT with
     * the first violation in words written to msg (NUL-terminated, at most
     * msglen bytes). O(n). */
    vram_status (*check)(const void *impl, char *msg, size_t msglen);
} vram_plugin_ops;

/* The size of a version-1 table: a table of version >= 1 must be at least this
 * large. (A later version defines VRAM_PLUGIN_OPS_V2_SIZE, and so on.) */
#define VRAM_PLUGIN_OPS_V1_SIZE (offsetof(vram_plugin_ops, check) + sizeof(void (*)(void)))

/* The entry point. host_version is the host's VRAM_PLUGIN_VERSION (a plugin
 * may return an older table to an older host); name is the NAME of
 * "plugin:PATH:NAME", or NULL when none was given (the library's default
 * allocator). Returns the table, which must stay valid until the library is
 * closed, or NULL when the library has no allocator of that name. Called once
 * per load, before any other call. */
typedef const vram_plugin_ops *(*vram_plugin_entry_fn)(uint32_t host_version, const char *name);

#ifdef __cplusplus
}
#endif
#endif
