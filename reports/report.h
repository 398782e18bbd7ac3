/* report.h - what one report covers: the series (a run of a database, with its
 * file-name tag and legend label) and where the report's files go. */
#ifndef VREP_REPORT_H
#define VREP_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "rdb.h"
#include "runs.h"

/* Bit i set: the op vreplay_op_name(i) has latency data. */
typedef unsigned vrep_ops;

typedef struct vrep_series {
    vrep_db *db;          /* the database the run lives in (not owned) */
    vrep_run run;         /* its summary row */
    char tag[24];         /* data file stem: "a3" = run 3 of results.db, "b3" of --compare's */
    char label[64];       /* legend title, no blanks (gnuplot splits lists on them) */
    vrep_ops ops;         /* ops with latency data (export) */
    uint64_t heap_at;     /* the heap map's event, 0 when there is none */
    char heap_note[1024];  /* the heap map's moment, or why it is missing */
} vrep_series;

typedef struct vrep_paths {
    const char *share;    /* holds sql/ and *.gp: VREPORT_DIR, --share or the source dir */
    const char *out;      /* the report directory */
    char data[4096];      /* OUT/data */
} vrep_paths;

/* export.c: writes OUT/data/samples_TAG.dat and lat_TAG_OP.dat (every op with
 * data; s->ops says which) from sql/samples.sql and sql/latency_*.sql.
 * O(samples + buckets). VRAM_EIO with "PATH: why". */
vram_status vrep_export(const vrep_paths *p, vrep_series *s, char *err, size_t errlen);

/* export.c: writes an empty lat_TAG_OP.dat for each op in `ops` the series
 * lacks, so latency.gp finds a file for every (series, op). */
vram_status vrep_export_missing_ops(const vrep_paths *p, const vrep_series *s, vrep_ops ops,
                                    char *err, size_t errlen);

#endif
