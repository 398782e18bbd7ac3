/* report.h - what one report covers: the series (a run of a database, with its
 * file-name tag and legend label) and where the report's files go. */
#ifndef VREP_REPORT_H
#define VREP_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "rdb.h"
#include "runs.h"
#include "spread.h"

/* The heap maps (heapmap.h): at the trace's peak of live bytes (or --at), at
 * each run's first OOM, and just before its first forced preemption. */
enum { VREP_MAP_PEAK, VREP_MAP_OOM, VREP_MAP_PREEMPT, VREP_MAPS };

/* Bit i set: the op vreplay_op_name(i) has latency data. */
typedef unsigned vrep_ops;

typedef struct vrep_series {
    vrep_db *db;          /* the database the run lives in (not owned) */
    vrep_run run;         /* its summary row */
    char tag[24];         /* data file stem: "a3" = run 3 of results.db, "b3" of --compare's */
    char label[64];       /* legend title, no blanks (gnuplot splits lists on them) */
    vrep_ops ops;         /* ops with latency data (export) */
    char trace_path[4096];          /* the trace found again (tracefind.h), or why not */
    int trace_found;
    uint64_t map_at[VREP_MAPS];     /* each heap map's event, 0 when there is none */
    char map_note[VREP_MAPS][1024]; /* its moment, or why it is missing ("": no OOM or
                                     * preemption map) */
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

/* A before/after pair of series for the comparison, with the spread of each
 * side's latencies over its repeats (spread.h; loaded by vrep_pairs_spread). */
typedef struct vrep_pair {
    const vrep_series *before, *after;
    vrep_spread before_spread, after_spread;
} vrep_pair;

/* The command line (cli.c). */
typedef struct vrep_cli {
    const char *db, *out, *runs, *compare, *compare_runs;
    const char *const *dbs;   /* every RESULTS.db given (db is the first), ndb of them */
    size_t ndb;
    const char *share;        /* --share or $VREPORT_DIR; NULL: vrep_default_share */
    const char *gnuplot;      /* $VREPORT_GNUPLOT or "gnuplot" */
    uint64_t at;              /* --at, 0 = the trace's peak of live bytes */
    int no_heapmap;           /* --no-heapmap: no heap maps, and a missing trace is no error */
    int list;                 /* --list: the runs on stdout (listing.h), no report */
    int list_format;          /* VREP_LIST_TABLE, or --json / --csv's */
} vrep_cli;

/* cli.c: parses the arguments; 0 ok, 2 bad usage (the reason printed), -1
 * --help printed. */
int vrep_cli_parse(int argc, char **argv, vrep_cli *c);
/* cli.c: the share directory when neither --share nor $VREPORT_DIR gave one:
 * the source directory the tool was built from while it exists, else the
 * installed ../share/vramlab/reports beside the executable (written to buf). */
const char *vrep_default_share(char *buf, size_t len);

/* One report in progress. */
typedef struct vrep_report {
    vrep_cli c;
    vrep_paths paths;
    vrep_db *db, *base;       /* RESULTS.db and --compare's BASE.db */
    vrep_series *s;           /* RESULTS.db's series first, then BASE.db's */
    size_t n;
    vrep_pair *pairs;         /* the comparison, npairs = 0 without one */
    size_t npairs;
    char warning[2048];       /* a missing trace (heap maps not drawn): shown on the page,
                                 exit 1; "" when none */
    char err[8192];           /* why the report failed */
    int bad_usage;            /* the failure is a malformed option value (exit 2) */
} vrep_report;

/* select.c: the series (--runs, --compare-runs or the default selection, and
 * --compare's base runs), their labels and the comparison pairs; checks --at
 * against every run. O(runs). VRAM_EINVAL/VRAM_ENOTFOUND/VRAM_EIO/VRAM_ENOHOST
 * with the reason in r->err; r->bad_usage set when the --runs or --compare-runs
 * list itself is malformed. */
vram_status vrep_select(vrep_report *r);

#endif
