/* import_fuzz.h - the importers (sim/recordings/import.h) over any bytes. They read and
 * write files, so the input goes to a file in a fresh directory under $TMPDIR
 * (or /tmp), removed afterwards. The importer must either succeed or fail with
 * VRAM_EPARSE (VRAM_ENOTFOUND: torch, no trace for the device; VRAM_EINVAL:
 * nothing allocated, so no capacity to derive) and a message naming the input,
 * leaving neither OUT nor OUT.tmp behind; never crash, leak
 * or hang. On success the trace it wrote is read back with the trace reader:
 * the header says `engine import:NAME` and the stats' capacity, the alloc and
 * free events match the stats' counts, ids are 1..allocs in order, and every
 * free names a live id (no free of an unknown or freed id). */
#ifndef VRAM_IMPORT_FUZZ_H
#define VRAM_IMPORT_FUZZ_H

#include <string.h>
#include <unistd.h>

#include "fuzz_input.h"
#include "import.h"
#include "trace.h"

typedef vram_status (*fz_importer)(const char *in_path, const char *out_path, const vimport_options *opt,
                                   vimport_stats *stats, char *err, size_t errlen);

/* Reads back the trace the importer wrote and checks it against the stats. */
static inline void fz_import_check_trace(const char *target, const char *fmt, const char *path,
                                         const vimport_stats *s)
{
    char err[512], engine[32];
    vtrace_reader *r;
    vram_status st = vtrace_open(path, &r, err, sizeof err);
    if (st)
        fz_fail(target, fmt, 0, "the imported trace does not read: %s", err);
    snprintf(engine, sizeof engine, "import:%s", fmt);
    if (strcmp(vtrace_header_of(r)->engine, engine) != 0 || vtrace_header_of(r)->capacity != s->capacity)
        fz_fail(target, fmt, 0, "header engine '%s' capacity %" PRIu64 ", stats capacity %" PRIu64,
                vtrace_header_of(r)->engine, vtrace_header_of(r)->capacity, s->capacity);
    uint8_t *live = calloc(s->allocs + 1, 1);
    if (!live)
        fz_fail(target, fmt, 0, "out of host memory for %" PRIu64 " ids", s->allocs);
    uint64_t allocs = 0, frees = 0;
    vtrace_event ev;
    int more;
    while ((more = vtrace_next(r, &ev)) == 1) {
        if (ev.type == VTRACE_ALLOC) {
            if (ev.id != ++allocs || allocs > s->allocs)
                fz_fail(target, fmt, allocs, "alloc id %" PRIu64 " where %" PRIu64 " was due (of %" PRIu64 ")",
                        ev.id, allocs, s->allocs);
            live[ev.id] = 1;
        } else if (ev.type == VTRACE_FREE) {
            frees++;
            if (ev.id > s->allocs || !live[ev.id])
                fz_fail(target, fmt, frees, "free of id %" PRIu64 ", not live", ev.id);
            live[ev.id] = 0;
        }
    }
    if (more != 0)
        fz_fail(target, fmt, 0, "the imported trace does not read: %s", vtrace_error(r));
    if (allocs != s->allocs || frees != s->frees)
        fz_fail(target, fmt, 0, "%" PRIu64 " allocs and %" PRIu64 " frees in the trace, stats %" PRIu64
                " and %" PRIu64, allocs, frees, s->allocs, s->frees);
    free(live);
    vtrace_close(r);
}

/* A further reader of the same input file (torch: the segment reader), or NULL. */
typedef void (*fz_import_extra)(const char *in_path, const char *target);

static inline int fz_import_run(const uint8_t *data, size_t size, fz_importer imp, fz_import_extra extra,
                                const char *fmt, const char *target)
{
    const char *tmp = getenv("TMPDIR");
    char dir[512], in[600], out[600], out_tmp[610], err[1024];
    snprintf(dir, sizeof dir, "%s/vram-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        fz_fail(target, fmt, 0, "mkdtemp %s failed", dir);
    snprintf(in, sizeof in, "%s/in", dir);
    snprintf(out, sizeof out, "%s/out.trace", dir);
    snprintf(out_tmp, sizeof out_tmp, "%s.tmp", out);
    FILE *f = fopen(in, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        fz_fail(target, fmt, 0, "cannot write %s", in);
    vimport_stats s;
    err[0] = '\0';
    vram_status st = imp(in, out, NULL, &s, err, sizeof err);
    if (st == VRAM_OK) {
        fz_import_check_trace(target, fmt, out, &s);
    } else {
        /* VRAM_EINVAL: a recording with nothing allocated gives no capacity to derive. */
        int allowed = st == VRAM_EPARSE || st == VRAM_ENOTFOUND || st == VRAM_EINVAL;
        if (!allowed || strncmp(err, in, strlen(in)) != 0)
            fz_fail(target, fmt, 0, "%s, error '%s'", vram_status_name(st), err);
        if (access(out, F_OK) == 0 || access(out_tmp, F_OK) == 0)
            fz_fail(target, fmt, 0, "a failed import (%s) left its output behind", err);
    }
    if (extra)
        extra(in, target);
    unlink(in);
    unlink(out);
    unlink(out_tmp);
    rmdir(dir);
    return 0;
}

#endif
