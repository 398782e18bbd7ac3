/* tracegen.h - the trace generator: the engine model (engine.h) driven open
 * loop over a recorded workload, its events written as a trace
 * (traces/FORMAT.md). Deterministic for a seed.
 *
 * The engine admits a request only when its KV fits by the planner's byte
 * count (never by asking an allocator), so the trace is the same for every
 * allocator policy. traces/README.md describes the model in words. */
#ifndef VTRACEGEN_H
#define VTRACEGEN_H

#include <stdint.h>

#include "engine.h"
#include "vram/status.h"

typedef struct vtracegen_config {
    vengine_config e;            /* the model, engine and workload (vengine_defaults) */
    const char *source;          /* header `source`; default the workload's file name */
    const char *licence;         /* header `licence`; default by format (CC-BY-4.0 / Apache-2.0) */
    const char *comment;         /* written as a comment after the header (e.g. the command); may be NULL */
    int gzip;                    /* write gzip whatever the file name; default 0 */
} vtracegen_config;

/* Fills *c with the defaults above (workload NULL). */
void vtracegen_defaults(vtracegen_config *c);

/* Generates the trace into `path` (written to "path.tmp" and renamed at the end,
 * so a failed run leaves no trace behind; a device or link is written in place:
 * vtrace_output_begin). Cost: linear in the workload and in
 * the events written; memory: the requests waiting and running, and one table
 * entry per distinct prefix hash. Fails with err naming the cause: the
 * engine's (vengine_create, vengine_start), VRAM_EINVAL (an output that is a
 * directory or the workload file itself), VRAM_EIO (cannot write). *st may be
 * NULL. */
vram_status vtracegen_run(const vtracegen_config *c, const char *path, vengine_stats *st, char *err,
                          size_t errlen);

#endif
