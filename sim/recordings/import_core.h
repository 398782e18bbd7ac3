/* import_core.h - what every importer shares: recorded addresses to trace ids,
 * pre-existing blocks, timestamps, and the OUT.tmp -> OUT output (import.h).
 *
 * An importer is a source of records read twice: pass 1 (vimport__scan)
 * checks consistency and measures (pre-existing blocks, peak live bytes); pass 2
 * (vimport__emit) writes the trace. The source must give the same records in
 * the same order both times. */
#ifndef VSIM_IMPORT_CORE_H
#define VSIM_IMPORT_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "import.h"
#include "idmap.h"
#include "trace.h"

typedef enum vimport__rec_type {
    VIMPORT__ALLOC,      /* addr becomes live with size bytes */
    VIMPORT__FREE,       /* addr's bytes are reusable */
    VIMPORT__CHECK_LIVE  /* addr must be live (or pre-existing) with this size; nothing changes */
} vimport__rec_type;

typedef struct vimport__rec {
    vimport__rec_type type;
    uint64_t addr, size;
    uint64_t ts_us; /* absolute, in the recording's clock */
    /* ALLOC, optional (zeroed before each record, kind VRAM_KIND_OTHER): */
    vram_kind kind;
    unsigned nframes;                  /* the code that asked, innermost first */
    uint32_t frames[VTRACE_FRAMES_MAX];
    const vtrace_frame *new_frames;    /* frame lines to write before this record: */
    unsigned n_new;                    /* those its frames name for the first time */
} vimport__rec;

typedef struct vimport__source {
    /* 1: *rec is the next record; 0: end; -1: error, message already in the core's err. */
    int (*next)(void *ctx, vimport__rec *rec);
    /* Back to the first record, for pass 2 (counters of skipped rows start again). */
    vram_status (*rewind)(void *ctx);
    /* Where the last record came from ("FILE:LINE"), for messages. */
    void (*where)(void *ctx, char *buf, size_t len);
    void *ctx;
} vimport__source;

/* A block live when the recording begins. */
typedef struct vimport__block {
    uint64_t addr, size;
} vimport__block;

typedef struct vimport__core {
    vsim_idmap *addrs;    /* address -> struct addr_state (import_core.c) */
    /* The blocks live at the start, ids 1..n_start in this order: the
     * pre-existing ones (freed by the recording, allocated before it began) in
     * the order of their frees, then any the importer adds
     * (vimport__core_add_start); vimport__core_sort_start puts them in address
     * order. */
    vimport__block *start;
    size_t n_start, start_cap;
    size_t n_pre;         /* of them, freed by the recording */
    uint64_t pre_bytes;   /* their bytes */
    uint64_t total_bytes; /* every alloc and start block: kept <= 2^63-1 */
    vimport_stats stats;
    char *err;
    size_t errlen;
} vimport__core;

vram_status vimport__core_init(vimport__core *c, char *err, size_t errlen);
void vimport__core_fini(vimport__core *c);
/* vimport__core_init for an import from in_path to out_path: also refuses an
 * output that is the input itself. On failure nothing is left to finalise. */
vram_status vimport__core_open(vimport__core *c, const char *in_path, const char *out_path,
                               char *err, size_t errlen);
/* Writes "WHERE: message" to the core's err and returns st. */
vram_status vimport__fail(vimport__core *c, const vimport__source *src, vram_status st,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Pass 1: every record checked; stats.preexisting, live_at_end and peak_live_bytes set. */
vram_status vimport__scan(vimport__core *c, const vimport__source *src);
/* After pass 1: what the recording says of `addr` at its end: 0 never seen, 1
 * live (*size its size), 2 freed (and not allocated again). */
int vimport__addr_at_end(const vimport__core *c, uint64_t addr, uint64_t *size);
/* Calls fn for every address live at the end of pass 1. */
void vimport__each_live(vimport__core *c, void (*fn)(uint64_t addr, uint64_t size, void *ctx),
                        void *ctx);
/* After pass 1: a block live from the start to the end that the recording
 * never names (the state a snapshot holds): allocated at time 0, never freed;
 * counted in live_at_end and peak_live_bytes. VRAM_EPARSE "the sizes add up
 * to more than 2^63-1 bytes" or VRAM_ENOHOST. */
vram_status vimport__add_start(vimport__core *c, uint64_t addr, uint64_t size);
/* Puts the start blocks in address order (ids follow it); VRAM_EPARSE with
 * both blocks named when two of them overlap. */
vram_status vimport__sort_start(vimport__core *c, const char *path);
/* Pass 2: rewinds the source and writes the trace with header `h` (capacity
 * set) to out_path via out_path.tmp; `comment` (may be NULL) goes after the header. */
vram_status vimport__emit(vimport__core *c, const vimport__source *src, const char *out_path,
                          const vtrace_header *h, const char *comment);
/* Copies s into a header text field: control bytes other than tab become '?',
 * blanks at the ends are dropped, and at most VTRACE_TEXT_MAX-1 bytes are kept. */
void vimport__header_text(char dst[VTRACE_TEXT_MAX], const char *s);
/* The last path component of `path`. */
const char *vimport__basename(const char *path);

#endif
