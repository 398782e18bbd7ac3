/* spread.c - repeats of a run and the rank test over them. */
#include "spread.h"

#include <stdio.h>
#include <string.h>

vram_status vrep_spread_load(vrep_db *db, const char *share, int64_t run, vrep_spread *out,
                             char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    vram_status s = vrep_sql_prepare(db, share, "repeats", &st, err, errlen);
    if (s)
        return s;
    sqlite3_bind_int64(st, 1, run);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        out->runs++;
        for (int k = 0; k < VREP_LAT_COUNT; k++) {
            if (sqlite3_column_type(st, k + 1) == SQLITE_NULL)
                continue;
            int64_t v = sqlite3_column_int64(st, k + 1);
            if (!out->have[k]++ || v < out->lo[k])
                out->lo[k] = v;
            if (out->have[k] == 1 || v > out->hi[k])
                out->hi[k] = v;
        }
    }
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s: the repeats of run %lld: %s", vrep_db_path(db), (long long)run,
                 sqlite3_errmsg(sqlite3_db_handle(st)));
        s = VRAM_EIO;
    }
    sqlite3_finalize(st);
    return s;
}

/* 1 / C(a + b, a): the chance that a random order of a + b values puts all a
 * of one side above all b of the other. */
static double separation_chance(int a, int b)
{
    double c = 1;
    for (int i = 1; i <= a; i++)
        c = c * (double)(b + i) / i;
    return 1 / c;
}

int vrep_spread_judge(const vrep_spread *before, const vrep_spread *after, int lat, char *why,
                      size_t len)
{
    int nb = before->have[lat], na = after->have[lat];
    if (!nb || !na) {
        snprintf(why, len, "not measured on %s", nb ? "the after side" : "the before side");
        return 0;
    }
    if (separation_chance(nb, na) > VREP_SPREAD_ALPHA) {
        snprintf(why, len, "not judged: %d repeat%s before, %d after (3 a side are needed to tell"
                 " a difference from the run-to-run spread)", nb, nb == 1 ? "" : "s", na);
        return 0;
    }
    int j = after->lo[lat] > before->hi[lat] ? 1 : after->hi[lat] < before->lo[lat] ? -1 : 0;
    snprintf(why, len, "%s the run-to-run spread of %d and %d repeats (%lld-%lld ns before,"
             " %lld-%lld ns after)", j ? "beyond" : "within", nb, na,
             (long long)before->lo[lat], (long long)before->hi[lat], (long long)after->lo[lat],
             (long long)after->hi[lat]);
    return j;
}
