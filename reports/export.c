/* export.c - each run's data for the plots, by the SQL in sql/. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "replay.h"
#include "report.h"

vram_status vrep_export(const vrep_paths *p, vrep_series *s, char *err, size_t errlen)
{
    char path[4200];
    sqlite3_stmt *st;
    long rows;
    vram_status r = vrep_sql_prepare(s->db, p->share, "samples", &st, err, errlen);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, s->run.id);
    snprintf(path, sizeof path, "%s/samples_%s.dat", p->data, s->tag);
    r = vrep_sql_to_dat(s->db, st, path, &rows, err, errlen);
    sqlite3_finalize(st);
    if (r)
        return r;

    sqlite3_stmt *ops;
    r = vrep_sql_prepare(s->db, p->share, "latency_ops", &ops, err, errlen);
    if (r)
        return r;
    r = vrep_sql_prepare(s->db, p->share, "latency_cdf", &st, err, errlen);
    if (r) {
        sqlite3_finalize(ops);
        return r;
    }
    s->ops = 0;
    sqlite3_bind_int64(ops, 1, s->run.id);
    while (!r && sqlite3_step(ops) == SQLITE_ROW) {
        const char *op = (const char *)sqlite3_column_text(ops, 0);
        int k = 0;
        while (k < VREPLAY_OP_COUNT && strcmp(vreplay_op_name((vreplay_op)k), op) != 0)
            k++;
        if (k == VREPLAY_OP_COUNT)
            continue; /* an op this tool does not plot */
        s->ops |= 1u << k;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, s->run.id);
        sqlite3_bind_text(st, 2, op, -1, SQLITE_TRANSIENT);
        snprintf(path, sizeof path, "%s/lat_%s_%s.dat", p->data, s->tag, op);
        r = vrep_sql_to_dat(s->db, st, path, &rows, err, errlen);
    }
    sqlite3_finalize(st);
    sqlite3_finalize(ops);
    return r;
}

vram_status vrep_export_missing_ops(const vrep_paths *p, const vrep_series *s, vrep_ops ops,
                                    char *err, size_t errlen)
{
    for (int k = 0; k < VREPLAY_OP_COUNT; k++) {
        if (!(ops & (1u << k)) || (s->ops & (1u << k)))
            continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/lat_%s_%s.dat", p->data, s->tag,
                 vreplay_op_name((vreplay_op)k));
        FILE *f = fopen(path, "w");
        int ok = f && fprintf(f, "# no %s calls in this run\n",
                              vreplay_op_name((vreplay_op)k)) > 0;
        if (f) {
            const int bad = ferror(f); /* a write failed before the close */
            if (fclose(f) != 0 || bad)
                ok = 0;
        }
        if (!ok) {
            snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
            return VRAM_EIO;
        }
    }
    return VRAM_OK;
}
