/* import_torch_internal.h - the torch importer's state shared by
 * import_torch.c (the trace) and import_compare.c (the caching policy against
 * the snapshot's segment events). */
#ifndef VSIM_IMPORT_TORCH_INTERNAL_H
#define VSIM_IMPORT_TORCH_INTERNAL_H

#include "import_core.h"
#include "pickle.h"

/* The state at the dump: the device's segments and their live blocks. */
typedef struct tseg {
    uint64_t addr, size;
    int large, expandable;
} tseg;

typedef struct tblk {
    uint64_t addr, size; /* size: what the program asked for (requested_size), else the block's */
    uint64_t block_size;
} tblk;

typedef struct dump_state {
    tseg *segs;
    size_t nsegs, segcap;
    tblk *live; /* active_allocated and active_pending_free blocks */
    size_t nlive, livecap;
    uint64_t reserved;      /* the segments' total_size */
    uint64_t devices;       /* bit d: a segment of device d < 64 exists */
    int has_blocks;         /* some segment of the device lists its blocks */
    size_t segments_listed; /* segments of every device */
} dump_state;

/* The history: device_traces[device] as a vimport__source. */
typedef struct torch_src {
    vimport__core *core;
    const char *path;
    const vpickle_value *entries; /* device_traces[device]; NULL: no history */
    int device;
    size_t next;                  /* index of the next entry */
    size_t cur;                   /* index of the entry last read */
    /* counters of the current pass */
    uint64_t records, free_requested, segment_events, ooms, snapshots;
    /* reserved bytes relative to the history's start (segment_alloc and
     * segment_map add, segment_free and segment_unmap take away), their
     * maximum, and the largest "reserved then + device_free" of an oom entry */
    int64_t seg_delta, seg_delta_max, oom_best;
    size_t oom_at;
    uint64_t oom_free;
    /* frames: "LINE\tFILE\tFUNC" -> struct frame_seen (import_torch.c); ids from 1,
     * kept across passes; a frame is written before the first alloc of a pass
     * that names it */
    vsim_keymap *frame_ids;
    uint32_t next_frame_id;
    uint32_t pass;
    vtrace_frame new_frames[VTRACE_FRAMES_MAX];
    uint64_t allocs_with_frames;
    uint64_t by_kind[VRAM_KIND_COUNT];
} torch_src;

/* A snapshot read and measured (pass 1, the state, the capacity), ready to be
 * written as a trace or replayed. */
typedef struct vimport__torch {
    vimport__core core;        /* start blocks in core.start, stats in core.stats */
    vimport_options opt;
    const char *path;
    vpickle_doc *doc;
    const vpickle_value *entries; /* device_traces[device]; NULL: none */
    torch_src src;
    dump_state dump;
    uint64_t capacity;         /* given, or the rule's (core.stats.capacity_rule) */
} vimport__torch;

/* Loads the snapshot at in_path and does everything but writing: pass 1, the
 * state at the dump (unless opt->history_only), the capacity, the settings.
 * Fails as vimport_torch; call vimport__torch_fini either way. */
vram_status vimport__torch_prepare(const char *in_path, const vimport_options *opt,
                                   vimport__torch *t, char *err, size_t errlen);
void vimport__torch_fini(vimport__torch *t);

#endif
