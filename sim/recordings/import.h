/* import.h - importers of allocation recordings users already have, into traces.
 *
 * rmm:   the CSV of RAPIDS RMM's logging_resource_adaptor
 *        (`Thread,Time,Action,Pointer,Size,Stream`).
 * torch: a PyTorch CUDA memory snapshot (torch.cuda.memory._dump_snapshot), a
 *        pickle read by the strict reader of pickle.h: no Python, no torch.
 *
 * Both write an `engine import:NAME` trace (traces/FORMAT.md) with one `alloc`
 * per recorded allocation and one `free` when its memory became reusable, ids
 * 1, 2, ... in order of appearance, kind `other`, priority 0, alignment 0.
 *
 * Frees of blocks allocated before the recording began (a ring buffer that
 * wrapped, a log switched on late) are accepted: each such block gets an `alloc`
 * at time 0, before every recorded event, so the replay holds its bytes from the
 * start as the device did; they take the ids 1..preexisting in the order of
 * their frees. A free of an address that was allocated and freed earlier in the
 * recording is a double free and an error, as is an alloc of a live address or a
 * free whose size differs from the alloc's.
 *
 * Timestamps are microseconds from the first record; one earlier than the
 * record before it is written as the one before (counted in clamped_ts; the
 * first such record is named in clamped_at, for the caller's warning).
 *
 * The output is written to OUT.tmp and renamed to OUT only when complete: after
 * a failure nothing is left under either name. Errors name the input's
 * file:line (rmm) or file and trace entry (torch) and what was expected. */
#ifndef VSIM_IMPORT_H
#define VSIM_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "vram/manager.h"
#include "vram/status.h"

typedef struct vimport_options {
    uint64_t capacity;   /* device bytes for the header; 0 = derived: torch, the bytes of the
                            snapshot's segments on the device or the peak of live bytes if
                            larger; rmm, the peak of live bytes rounded up to a whole GiB */
    int device;          /* torch: the device whose trace is imported (default 0) */
    const char *source;  /* header `source`; NULL = the input's file name and format */
    const char *licence; /* header `licence`; NULL = "unknown" */
    uint64_t max_pickle_bytes; /* torch: the most bytes of pickle read into memory;
                                  0 = VPICKLE_MAX_BYTES (4 GiB, pickle.h) */
    int history_only;    /* torch: the history alone, not the blocks live at the dump */
    int no_frames;       /* torch: no frame lines, no allocs' frames= (traces/FORMAT.md) */
} vimport_options;

typedef struct vimport_stats {
    uint64_t records;         /* rows (rmm) or device trace entries (torch) read */
    uint64_t allocs;          /* alloc events written, pre-existing ones included */
    uint64_t frees;           /* free events written */
    uint64_t preexisting;     /* blocks freed but allocated before the recording began */
    uint64_t live_at_end;     /* allocations the recording never frees */
    uint64_t failures;        /* rmm `allocate failure` rows; torch `oom` entries (skipped) */
    uint64_t free_requested;  /* torch: checked against the live blocks, not written */
    uint64_t segment_events;  /* torch: segment_alloc/free/map/unmap (counted, not written) */
    uint64_t snapshots;       /* torch: `snapshot` entries (skipped) */
    uint64_t clamped_ts;      /* timestamps that went backwards */
    uint64_t clamped_back_us; /* how far the first of them went back */
    char clamped_at[256];     /* where the first of them is ("FILE:LINE", "FILE: device_traces[D][I]") */
    uint64_t peak_live_bytes; /* the most bytes live at once, pre-existing blocks included */
    uint64_t capacity;        /* as written in the header */
    uint64_t frames;          /* torch: frame lines written (distinct code places named) */
    uint64_t allocs_with_frames; /* torch: allocs that name their code */
    uint64_t allocs_by_kind[VRAM_KIND_COUNT]; /* torch: allocs by kind (categories, when present) */
    /* torch: the state at the dump (the snapshot's segments) */
    uint64_t state_blocks;    /* live at the dump, not allocated by the history: allocated at time 0 */
    uint64_t state_bytes;
    uint64_t explained_blocks; /* live at the dump and allocated by the history */
    uint64_t state_mismatch;  /* of those, recorded in the history with another size (a warning) */
    uint64_t state_mismatch_addr;        /* the first of them */
    uint64_t history_not_in_state;       /* live at the history's end, not at the dump (a warning) */
    uint64_t history_not_in_state_addr;  /* the first of them */
    int no_history;           /* the device has no trace entries: the state alone (a warning) */
    /* torch: the capacity rule (import.h, vimport_torch) */
    uint64_t reserved_at_dump, segments_at_dump;
    uint64_t peak_reserved;   /* reserved at the dump, walked back through the segment events */
    uint64_t oom_capacity;    /* largest "reserved at an oom + the device's free bytes then"; 0 none */
    int segments_inconsistent; /* the history maps more than the dump holds (a warning) */
    char capacity_rule[256];  /* which figure gave the capacity, in words */
    /* torch: allocator_settings as written to the header ("" none recorded), and
     * the recorded settings the caching policy does not model (a warning) */
    char allocator_settings[256];
    char settings_dropped[256];
} vimport_stats;

/* Imports an RMM log. Cost: two streaming reads of the input, memory O(distinct
 * pointers). Fails with VRAM_EPARSE and "FILE:LINE: what" for a malformed row
 * (wrong header, column count, action, pointer, size or time) or an inconsistent
 * one (see above), VRAM_EIO when the input cannot be read (or is no regular
 * file: the log is read twice) or the output written,
 * VRAM_EINVAL for NULL paths, an output that is the input file itself (or a
 * directory), or a log that allocates nothing when no --capacity is given (no
 * capacity can be derived), VRAM_ENOHOST without memory. `opt` and `stats` may
 * be NULL; err may be NULL. */
vram_status vimport_rmm(const char *in_path, const char *out_path, const vimport_options *opt,
                        vimport_stats *stats, char *err, size_t errlen);

/* Imports a torch snapshot's device: the history (device_traces): `alloc` ->
 * alloc, `free_completed` -> free (the memory is reusable then);
 * `free_requested` is only checked; segment_* entries are counted (and give the
 * peak of reserved bytes), and written as one comment line. Then the state at
 * the dump (segments): every live block (active_allocated, active_pending_free)
 * the history does not allocate was allocated before the history began; it is
 * allocated at time 0 with its requested size, never freed, and the blocks
 * live at the start (these and the history's pre-existing ones) are numbered in
 * the order of their addresses, so a replay starts from the recorded layout.
 * With opt->history_only, the history alone (pre-existing blocks in the order
 * of their frees), as before the state was read.
 *
 * The header carries allocator_settings from the snapshot's (stats say what was
 * dropped). The capacity, unless given, is the largest of: the peak of reserved
 * bytes (the segments at the dump, walked back through the history's segment
 * events), for each oom entry the bytes reserved then plus the free device bytes
 * it recorded, and the peak of live bytes; stats.capacity_rule says which.
 * A device with no trace entries imports its state (stats.no_history); one with
 * neither entries nor segments, or whose only content is segments without a
 * live block, is VRAM_EINVAL with what was found; a device the snapshot does not
 * list, VRAM_ENOTFOUND.
 * Cost: the whole pickle in memory (about 3x its size) plus O(distinct addresses).
 * The input must be a regular file of at most opt->max_pickle_bytes (VRAM_EIO
 * "FILE: not a regular file: ..." for a FIFO or device, refused without
 * waiting; VRAM_EINVAL "FILE: N bytes: larger than the limit ..." beyond it).
 * Fails as vimport_rmm, with "FILE: device_traces[D][I]: what" for a bad entry
 * and the pickle reader's messages for a bad or refused pickle; VRAM_ENOTFOUND
 * when the device has no trace. */
vram_status vimport_torch(const char *in_path, const char *out_path, const vimport_options *opt,
                          vimport_stats *stats, char *err, size_t errlen);

/* The caching policy against PyTorch's own record (import_compare.c): the
 * snapshot's device replayed through a "caching" heap (the capacity
 * vimport_torch would write) that starts as PyTorch's did when the history
 * began: its segments then (the dump's the history never touches and those it
 * releases before making them; with expandable segments each pool's mapped
 * bytes) made as cached segments (vram_heap_caching_seed), then the blocks
 * live then placed in address order; each history record (alloc, free_completed, and an
 * oom's failed request) compared with the segment entries PyTorch wrote for it
 * (those before it, since the previous record). */
typedef struct vimport_compare {
    char settings[256];          /* the caching options used: the recorded ones unless given */
    uint64_t capacity;
    uint64_t start_blocks;       /* placed before the history */
    uint64_t seeded_segments;    /* PyTorch's segments (or pools' mappings) at the history's
                                    start, made cached in ours before the start blocks */
    uint64_t torch_start_reserved; /* PyTorch's reserved bytes when the history began */
    uint64_t ours_start_reserved;  /* ours after placing the start blocks */
    /* segment_alloc and segment_map entries (or our segments and mappings), their
     * bytes; segment_free and segment_unmap (our releases and unmaps), theirs */
    uint64_t torch_allocs, torch_alloc_bytes, torch_frees, torch_free_bytes;
    uint64_t ours_allocs, ours_alloc_bytes, ours_frees, ours_free_bytes;
    uint64_t torch_ooms, ours_ooms;
    /* PyTorch's segment allocations ours reproduces: a segment of the same size
     * made for the same record (or the same bytes mapped there) */
    uint64_t mirrored_releases;  /* records before which PyTorch released cached memory (an
                                    empty_cache or a failed cudaMalloc's retry) and ours did too */
    uint64_t matched;
    uint64_t records_compared;   /* records where either side touched a segment */
    uint64_t records_agreeing;   /* of them, where both did the same */
    uint64_t departed;           /* records that differ */
    size_t departure_entry;      /* the first one's device_traces index */
    char departure[512];         /* "device_traces[D][I] (alloc of N bytes): PyTorch: ...; ours: ..." */
} vimport_compare;

/* Fills *out (see vimport_compare) for opt->device of the snapshot at in_path;
 * caching_conf (PYTORCH_CUDA_ALLOC_CONF syntax) replaces the recorded
 * allocator_settings when not NULL. Cost: the import's pass 1 plus one replay.
 * Fails as vimport_torch, and with the parser's status and message for settings
 * the caching policy does not model, or VRAM_ENOMEM when the blocks live at the
 * start do not fit the capacity. */
vram_status vimport_torch_compare(const char *in_path, const vimport_options *opt,
                                  const char *caching_conf, vimport_compare *out, char *err,
                                  size_t errlen);

/* The segments a torch snapshot records for one device, for comparing the
 * caching heap policy with what PyTorch did. */
typedef struct vimport_torch_segments {
    uint64_t *alloc_sizes;    /* sizes of the `segment_alloc` trace entries, in order */
    size_t n_alloc;
    uint64_t *snapshot_sizes; /* total_size of each segment alive at the dump, file order */
    int *snapshot_large;      /* 1 for segment_type "large", 0 for "small" */
    size_t n_snapshot;
} vimport_torch_segments;

/* Fills *out (free it with vimport_torch_segments_free). Fails as vimport_torch. */
vram_status vimport_torch_segments_read(const char *in_path, int device,
                                        vimport_torch_segments *out, char *err, size_t errlen);
void vimport_torch_segments_free(vimport_torch_segments *s);

#endif
