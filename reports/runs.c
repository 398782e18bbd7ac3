/* runs.c - run selection and summary rows. */
#include "runs.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int column_index(sqlite3_stmt *st, const char *name)
{
    for (int c = 0; c < sqlite3_column_count(st); c++)
        if (strcmp(sqlite3_column_name(st, c), name) == 0)
            return c;
    return -1;
}

/* The columns summary.sql must give. Each is read by name, so the SQL file
 * may reorder them; a missing one is an error naming it. */
typedef enum col_type { COL_I64, COL_REAL, COL_TEXT } col_type;
typedef struct col_spec {
    const char *name;
    col_type type;
    size_t offset, size;
} col_spec;

#define I64(f) {#f, COL_I64, offsetof(vrep_run, f), 0}
#define REAL(f) {#f, COL_REAL, offsetof(vrep_run, f), 0}
#define TEXT(f, col) {col, COL_TEXT, offsetof(vrep_run, f), sizeof(((vrep_run *)0)->f)}

static const col_spec columns[] = {
    I64(id), TEXT(policy, "policy"), TEXT(status, "status"), TEXT(ended, "ended"),
    TEXT(backend, "backend"),
    TEXT(evict_policy, "evict_policy"), TEXT(crc32, "trace_crc32"), TEXT(trace, "trace"),
    TEXT(options, "options"), TEXT(defrag, "defrag"), TEXT(layout, "layout"), TEXT(detail, "detail"), I64(capacity),
    I64(events), I64(sample_every), I64(samples), I64(peak_footprint), I64(peak_live),
    REAL(footprint_ratio), REAL(worst_ext_frag), I64(ooms), I64(ooms_despite_free),
    I64(evictions), I64(belady_evictions), I64(belady_exact),
    {"bytes_rematerialised", COL_I64, offsetof(vrep_run, bytes_rematerialised), 0},
    {"belady_bytes_rematerialised", COL_I64, offsetof(vrep_run, belady_bytes_rematerialised), 0},
    I64(alloc_p50_ns), I64(alloc_p99_ns), I64(free_p50_ns), I64(free_p99_ns),
    TEXT(preempt_mode, "preempt_mode"), I64(preemptions), I64(preempted_bytes), I64(restores),
    I64(belady_preemptions), REAL(preempt_modelled_ms), I64(evictions_weight),
    I64(evictions_kv), I64(evictions_adapter), I64(evictions_other), REAL(modelled_ms),
    TEXT(caching_conf, "caching_conf"), TEXT(tool_version, "tool_version"),
    TEXT(model, "model"), TEXT(engine, "engine"), I64(tensor_cache), I64(check_every),
    I64(time_every), I64(peak_sample_event), I64(waste_at_peak), I64(free_at_peak),
    I64(last_ts_us), TEXT(trace_abs, "trace_abs"), TEXT(trace_rel, "trace_rel"),
};

static void read_column(sqlite3_stmt *st, int c, const col_spec *spec, vrep_run *r)
{
    char *field = (char *)r + spec->offset;
    int null = sqlite3_column_type(st, c) == SQLITE_NULL;
    switch (spec->type) {
    case COL_I64: {
        int64_t v = null ? -1 : (int64_t)sqlite3_column_int64(st, c);
        memcpy(field, &v, sizeof v);
        break;
    }
    case COL_REAL: {
        double v = null ? NAN : sqlite3_column_double(st, c);
        memcpy(field, &v, sizeof v);
        break;
    }
    case COL_TEXT: {
        const unsigned char *t = sqlite3_column_text(st, c);
        snprintf(field, spec->size, "%s", t ? (const char *)t : "");
        break;
    }
    }
}

int vrep_run_finished(const vrep_run *r) { return r->ended[0] != '\0'; }

void vrep_run_why_no_samples(const vrep_run *r, char *buf, size_t len)
{
    if (!vrep_run_finished(r))
        snprintf(buf, len, "run %lld is not finished: in progress, or killed before it was"
                           " marked, with no sample written",
                 (long long)r->id);
    else if (r->sample_every == 0)
        snprintf(buf, len, "run %lld was replayed with --sample-every 0", (long long)r->id);
    else
        snprintf(buf, len, "run %lld (%s) ended before its first sample", (long long)r->id,
                 r->status);
}

/* "1-5" or "1, 4, 9" (the first few) for messages. */
static void describe_ids(vrep_db *db, const char *share, char *buf, size_t len)
{
    sqlite3_stmt *st;
    char err[256];
    buf[0] = '\0';
    if (vrep_sql_prepare(db, share, "run_ids", &st, err, sizeof err))
        return;
    int64_t first = -1, last = -1;
    int n = 0, contiguous = 1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (n && id != last + 1)
            contiguous = 0;
        if (!n)
            first = id;
        last = id;
        n++;
    }
    sqlite3_finalize(st);
    if (n == 0)
        snprintf(buf, len, "none");
    else if (contiguous)
        snprintf(buf, len, "%lld-%lld", (long long)first, (long long)last);
    else
        snprintf(buf, len, "%lld..%lld, %d in all", (long long)first, (long long)last, n);
}

vram_status vrep_run_load(vrep_db *db, const char *share, int64_t id, vrep_run *out,
                          char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    vram_status s = vrep_sql_prepare(db, share, "summary", &st, err, errlen);
    if (s)
        return s;
    const size_t ncols = sizeof columns / sizeof columns[0];
    for (size_t i = 0; i < ncols; i++) {
        if (column_index(st, columns[i].name) < 0) {
            snprintf(err, errlen, "%s/sql/summary.sql: no column named %s", share,
                     columns[i].name);
            sqlite3_finalize(st);
            return VRAM_EIO;
        }
    }
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        for (size_t i = 0; i < ncols; i++)
            read_column(st, column_index(st, columns[i].name), &columns[i], out);
        s = VRAM_OK;
    } else if (rc == SQLITE_DONE) {
        char ids[96];
        describe_ids(db, share, ids, sizeof ids);
        snprintf(err, errlen, "%s: no run with id %lld (runs: %s)", vrep_db_path(db),
                 (long long)id, ids);
        s = VRAM_ENOTFOUND;
    } else {
        snprintf(err, errlen, "%s: reading run %lld: %s", vrep_db_path(db), (long long)id,
                 sqlite3_errmsg(sqlite3_db_handle(st)));
        s = VRAM_EIO;
    }
    sqlite3_finalize(st);
    return s;
}

/* Parses "3,5,7", the value of option `opt`, into ids; VRAM_EINVAL naming the bad item. */
static vram_status parse_list(const char *opt, const char *list, int64_t **ids, size_t *n,
                              char *err, size_t errlen)
{
    size_t cap = 1;
    for (const char *p = list; *p; p++)
        cap += *p == ',';
    int64_t *v = malloc(cap * sizeof *v);
    if (!v) {
        snprintf(err, errlen, "out of host memory");
        return VRAM_ENOHOST;
    }
    size_t k = 0;
    const char *p = list;
    for (;;) {
        char *end;
        errno = 0;
        long long x = strtoll(p, &end, 10);
        if (errno || end == p || x <= 0 || (*end != ',' && *end != '\0')) {
            size_t item = strcspn(p, ",");
            snprintf(err, errlen, "%s: \"%.*s\" is not a run id (a positive number)", opt,
                     (int)item, p);
            free(v);
            return VRAM_EINVAL;
        }
        v[k++] = x;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    *ids = v;
    *n = k;
    return VRAM_OK;
}

/* The runs not finished that the default selection left out (those after
 * run `first`, the oldest chosen), named in a note on stderr; with nothing
 * chosen (`chosen` 0), the error for a database without a finished run. */
static vram_status note_unfinished(vrep_db *db, const char *share, int64_t first, size_t chosen,
                                   char *err, size_t errlen)
{
    sqlite3_stmt *st;
    vram_status s = vrep_sql_prepare(db, share, "unfinished_runs", &st, err, errlen);
    if (s)
        return s;
    char list[512] = "";
    size_t used = 0;
    int64_t count = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (chosen && id < first)
            continue;
        if (count++ < 8 && used + 1 < sizeof list) {
            int w = snprintf(list + used, sizeof list - used, "%s%lld (%s)", used ? ", " : "",
                             (long long)id, (const char *)sqlite3_column_text(st, 1));
            used += w > 0 ? (size_t)w : 0;
        }
    }
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s: selecting runs: %s", vrep_db_path(db),
                 sqlite3_errmsg(sqlite3_db_handle(st)));
        sqlite3_finalize(st);
        return VRAM_EIO;
    }
    sqlite3_finalize(st);
    if (!chosen) {
        if (count == 0)
            snprintf(err, errlen, "%s: no runs (replay has written none to this database)",
                     vrep_db_path(db));
        else
            snprintf(err, errlen,
                     "%s: no finished run: the %lld run(s) in it were never marked (in"
                     " progress, or killed before their end): %s%s; --runs ID reports one as it"
                     " stands",
                     vrep_db_path(db), (long long)count, list, count > 8 ? ", ..." : "");
        return VRAM_ENOTFOUND;
    }
    if (count)
        fprintf(stderr,
                "report: note: %s: left out %lld run(s) not finished (in progress, or killed"
                " before they were marked): %s%s; --runs ID reports one as it stands\n",
                vrep_db_path(db), (long long)count, list, count > 8 ? ", ..." : "");
    return VRAM_OK;
}

static vram_status default_ids(vrep_db *db, const char *share, int64_t **ids, size_t *n,
                               char *err, size_t errlen)
{
    sqlite3_stmt *st;
    vram_status s = vrep_sql_prepare(db, share, "default_runs", &st, err, errlen);
    if (s)
        return s;
    size_t cap = 8, k = 0;
    int64_t *v = malloc(cap * sizeof *v);
    int rc;
    while (v && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (k == cap) {
            int64_t *bigger = realloc(v, 2 * cap * sizeof *v);
            if (!bigger) {
                free(v);
                v = NULL;
                break;
            }
            v = bigger;
            cap *= 2;
        }
        v[k++] = sqlite3_column_int64(st, 0);
    }
    if (!v) {
        sqlite3_finalize(st);
        snprintf(err, errlen, "out of host memory");
        return VRAM_ENOHOST;
    }
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s: selecting runs: %s", vrep_db_path(db),
                 sqlite3_errmsg(sqlite3_db_handle(st)));
        s = VRAM_EIO;
    }
    sqlite3_finalize(st);
    if (!s)
        s = note_unfinished(db, share, k ? v[0] : 0, k, err, errlen);
    if (s) {
        free(v);
        return s;
    }
    *ids = v;
    *n = k;
    return VRAM_OK;
}

vram_status vrep_runs_select(vrep_db *db, const char *share, const char *opt, const char *list,
                             int64_t **ids, size_t *n, char *err, size_t errlen)
{
    *ids = NULL;
    *n = 0;
    if (!list)
        return default_ids(db, share, ids, n, err, errlen);
    vram_status s = parse_list(opt, list, ids, n, err, errlen);
    for (size_t i = 0; !s && i < *n; i++) {
        vrep_run probe;
        s = vrep_run_load(db, share, (*ids)[i], &probe, err, errlen);
    }
    if (s) {
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return s;
}
