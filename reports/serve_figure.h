/* serve_figure.h - the closed loop's comparison (issue 14 item 5): one bar per
 * serve run (KV reservation style x heap policy) split into the KV ledger's
 * time-weighted shares, next to its throughput, drawn by reports/serve.gp from
 * the database (sql/serve.sql) as OUT/serve.png and .svg with its rows in
 * OUT/data/serve.dat, and the same numbers as a table with the ledger's
 * definitions on the page. A database without serve runs says so instead. */
#ifndef VREP_SERVE_FIGURE_H
#define VREP_SERVE_FIGURE_H

#include <stdio.h>

#include "plot.h"
#include "rdb.h"

/* The ledger's parts, in the order of kv_ledger's columns and serve.gp's bars. */
enum { VREP_LEDGER_PARTS = 5 };

typedef struct vrep_serve_run {
    long long id;
    char style[32], policy[32];         /* runs.engine (the KV style), runs.policy */
    double share[VREP_LEDGER_PARTS];     /* of the KV region, weighted by step duration */
    double tokens_per_s;
} vrep_serve_run;

typedef struct vrep_serve {
    vrep_serve_run *run;                 /* oldest first; NULL when n == 0 */
    size_t n;
    char workload[256];                  /* the runs' workload's file name, or "several
                                            workloads" */
    char model[128];                     /* their model, or "several models" */
} vrep_serve;

/* Loads the database's serve runs (sql/serve.sql) and writes DATA/serve.dat
 * (one row per run: "STYLE POLICY #ID" and the five shares and tokens/s, as
 * serve.gp reads them; not written without runs). Sets the figure's
 * parameters in `p` (data, title, model), or `why` when there is nothing to draw.
 * O(ledger samples). VRAM_EIO with "PATH: why", VRAM_ENOHOST without memory. */
vram_status vrep_serve_load(vrep_db *db, const char *share, const char *datadir, vrep_serve *sv,
                            vrep_params *p, char *why, size_t whylen, char *err, size_t errlen);
void vrep_serve_free(vrep_serve *sv);

/* The page's section: the runs' shares and throughput with the parts'
 * definitions, or the sentence that the database has no serve runs. */
void vrep_serve_md(FILE *f, const vrep_serve *sv);
void vrep_serve_html(FILE *f, const vrep_serve *sv);

#endif
