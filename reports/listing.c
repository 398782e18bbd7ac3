/* listing.c - the runs table as a listing. */
#include "listing.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "emit.h"
#include "units.h"

/* Column `name` of the row, or -1. */
static int column(sqlite3_stmt *st, const char *name)
{
    for (int c = 0; c < sqlite3_column_count(st); c++)
        if (strcmp(sqlite3_column_name(st, c), name) == 0)
            return c;
    return -1;
}

static const char *text(sqlite3_stmt *st, const char *name)
{
    int c = column(st, name);
    const unsigned char *t = c >= 0 ? sqlite3_column_text(st, c) : NULL;
    return t ? (const char *)t : "-";
}

static void bytes(sqlite3_stmt *st, const char *name, char *buf, size_t len)
{
    int c = column(st, name);
    if (c < 0 || sqlite3_column_type(st, c) == SQLITE_NULL)
        snprintf(buf, len, "-");
    else
        vsim_bytes(sqlite3_column_double(st, c), buf, len);
}

/* One row of the 100-column table; the trace by its file name. */
static void table_row(sqlite3_stmt *st)
{
    char cap[32], peak[32];
    bytes(st, "capacity", cap, sizeof cap);
    bytes(st, "peak_footprint", peak, sizeof peak);
    const char *trace = text(st, "trace"), *slash = strrchr(trace, '/');
    printf("| %s | %.24s | %s | %s | %s | %s | %.40s |\n", text(st, "id"), text(st, "policy"),
           text(st, "status"), cap, peak, text(st, "events"), slash ? slash + 1 : trace);
}

/* Column c of the row as JSON or CSV. */
static void field(sqlite3_stmt *st, int c, int json)
{
    switch (sqlite3_column_type(st, c)) {
    case SQLITE_NULL:
        if (json)
            fputs("null", stdout);
        break;
    case SQLITE_INTEGER:
        printf("%lld", (long long)sqlite3_column_int64(st, c));
        break;
    case SQLITE_FLOAT: {
        double v = sqlite3_column_double(st, c);
        if (isfinite(v))
            printf("%.15g", v);
        else if (json)
            fputs("null", stdout);
        break;
    }
    default: {
        const char *t = (const char *)sqlite3_column_text(st, c);
        json ? vsim_json_string(stdout, t ? t : "") : vsim_csv_field(stdout, t ? t : "");
    }
    }
}

vram_status vrep_list(vrep_db *db, const char *share, int format, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    vram_status s = vrep_sql_prepare(db, share, "list", &st, err, errlen);
    if (s)
        return s;
    const int json = format == VREP_LIST_JSON, cols = sqlite3_column_count(st);
    if (format == VREP_LIST_TABLE)
        printf("| id | policy | status | capacity | peak footprint | events | trace |\n"
               "|---|---|---|---|---|---|---|\n");
    if (format == VREP_LIST_CSV) {
        for (int c = 0; c < cols; c++)
            printf("%s%s", c ? "," : "", sqlite3_column_name(st, c));
        printf("\r\n");
    }
    if (json)
        printf("[");
    int rc, rows = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (format == VREP_LIST_TABLE) {
            table_row(st);
        } else {
            if (json)
                printf("%s\n  {", rows ? "," : "");
            for (int c = 0; c < cols; c++) {
                if (json)
                    printf("%s\"%s\": ", c ? ", " : "", sqlite3_column_name(st, c));
                else if (c)
                    putchar(',');
                field(st, c, json);
            }
            printf(json ? "}" : "\r\n");
        }
        rows++;
    }
    if (json)
        printf("%s]\n", rows ? "\n" : "");
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s: listing the runs: %s", vrep_db_path(db),
                 sqlite3_errmsg(sqlite3_db_handle(st)));
        s = VRAM_EIO;
    }
    sqlite3_finalize(st);
    return s;
}
