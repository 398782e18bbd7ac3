/* db_merge.c - several results databases copied into one (db_merge.h). */
#include "db_merge.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"

/* `path` as a file: URI that opens it read-only, the characters a URI path
 * reserves percent-encoded; NULL without memory (sqlite3_free it). */
static char *ro_uri(const char *path)
{
    sqlite3_str *u = sqlite3_str_new(NULL);
    sqlite3_str_appendall(u, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        if (*p == '%' || *p == '?' || *p == '#' || *p < 0x20)
            sqlite3_str_appendf(u, "%%%02X", *p);
        else
            sqlite3_str_appendchar(u, 1, (char)*p);
    sqlite3_str_appendall(u, "?mode=ro");
    return sqlite3_str_finish(u);
}

typedef struct merger {
    sqlite3 *h;
    const char *dst;
    char *err;
    size_t errlen;
} merger;

static vram_status fail(merger *m, const char *where, const char *what)
{
    snprintf(m->err, m->errlen, "%s: %s: %s", where, what, sqlite3_errmsg(m->h));
    return VRAM_EIO;
}

static vram_status exec(merger *m, const char *sql, const char *where, const char *what)
{
    return sqlite3_exec(m->h, sql, NULL, NULL, NULL) == SQLITE_OK ? VRAM_OK
                                                                   : fail(m, where, what);
}

/* One integer from a query: 0, or -1 when it fails or gives no row. */
static int query_i64(merger *m, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(m->h, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* The source attached as "src" is a results database of this version. */
static vram_status check_source(merger *m, const char *path)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(m->h, "SELECT value FROM src.meta WHERE key = 'schema_version'", -1,
                           &st, NULL) != SQLITE_OK)
        return fail(m, path, "not a vramlab results database");
    int rc = sqlite3_step(st);
    const char *v = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    vram_status res = VRAM_OK;
    if (!v || atoi(v) != VDB_SCHEMA_VERSION) {
        snprintf(m->err, m->errlen, "%s: %s%s, this tool reads version %d", path,
                 v ? "schema version " : "no schema_version in its meta table", v ? v : "",
                 VDB_SCHEMA_VERSION);
        res = VRAM_EIO;
    }
    sqlite3_finalize(st);
    return res;
}

/* INSERT INTO main.T (cols) SELECT cols FROM src.T, with the run ids moved
 * by `offset` (runs.id, any run_id). */
static vram_status copy_table(merger *m, const char *table, int64_t offset, const char *path)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(m->h, "SELECT name FROM pragma_table_info(?1, 'main')", -1, &st,
                           NULL) != SQLITE_OK)
        return fail(m, m->dst, "reading the schema");
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_str *cols = sqlite3_str_new(m->h), *sel = sqlite3_str_new(m->h);
    int has_run = 0, is_runs = strcmp(table, "runs") == 0;
    const char *sep = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(st, 0);
        int run = strcmp(c, "run_id") == 0 || (is_runs && strcmp(c, "id") == 0);
        has_run |= run;
        sqlite3_str_appendf(cols, "%s\"%w\"", sep, c);
        sqlite3_str_appendf(sel, "%s\"%w\"", sep, c);
        if (run)
            sqlite3_str_appendf(sel, " + %lld", (long long)offset);
        sep = ", ";
    }
    sqlite3_finalize(st);
    char *c = sqlite3_str_finish(cols), *e = sqlite3_str_finish(sel);
    char *sql = c && e ? sqlite3_mprintf("INSERT INTO main.\"%w\" (%s) SELECT %s FROM src.\"%w\"%s",
                                         table, c, e, table, is_runs ? " ORDER BY id" : "")
                       : NULL;
    vram_status res;
    if (!sql) {
        snprintf(m->err, m->errlen, "out of host memory");
        res = VRAM_ENOHOST;
    } else if (!has_run) {
        snprintf(m->err, m->errlen, "%s: table %s has no run_id: a schema this merge does not"
                                    " know", m->dst, table);
        res = VRAM_EIO;
    } else {
        res = exec(m, sql, path, "copying its rows");
    }
    sqlite3_free(c), sqlite3_free(e), sqlite3_free(sql);
    return res;
}

/* Copies the attached source's runs in one transaction. */
static vram_status copy_source(merger *m, const char *path, int64_t ids[2])
{
    vram_status st = exec(m, "BEGIN IMMEDIATE", m->dst, "starting the copy");
    if (st)
        return st;
    int64_t base = 0, first = 0, last = 0;
    if (query_i64(m, "SELECT coalesce(max(id), 0) FROM main.runs", &base) ||
        query_i64(m, "SELECT coalesce(min(id), 0) FROM src.runs", &first) ||
        query_i64(m, "SELECT coalesce(max(id), 0) FROM src.runs", &last))
        st = fail(m, path, "reading its runs");
    /* Moved past dst's highest id and down to 1 for the source's lowest. */
    int64_t offset = base - (first ? first - 1 : 0);
    sqlite3_stmt *tables = NULL;
    if (!st && sqlite3_prepare_v2(m->h,
                                  "SELECT name FROM main.sqlite_master WHERE type = 'table' AND"
                                  " name <> 'meta' AND name NOT LIKE 'sqlite_%'"
                                  " ORDER BY name <> 'runs', name",
                                  -1, &tables, NULL) != SQLITE_OK)
        st = fail(m, m->dst, "listing its tables");
    while (!st && sqlite3_step(tables) == SQLITE_ROW)
        st = copy_table(m, (const char *)sqlite3_column_text(tables, 0), offset, path);
    sqlite3_finalize(tables);
    if (!st)
        st = exec(m, "COMMIT", m->dst, "committing the copy");
    if (st)
        sqlite3_exec(m->h, "ROLLBACK", NULL, NULL, NULL);
    else if (ids)
        ids[0] = first ? first + offset : 0, ids[1] = last ? last + offset : 0;
    return st;
}

/* A source that can be read, is a regular file with bytes in it, and is
 * not the destination. */
static vram_status check_file(const char *dst, const char *path, char *err, size_t errlen)
{
    struct stat a, b;
    if (access(path, R_OK) != 0 || stat(path, &a) != 0) {
        snprintf(err, errlen, "%s: cannot read the database: %s", path, strerror(errno));
        return VRAM_EIO;
    }
    if (!S_ISREG(a.st_mode) || a.st_size == 0) {
        snprintf(err, errlen, "%s: %s, not a results database", path,
                 S_ISREG(a.st_mode) ? "an empty file" : "not a regular file");
        return VRAM_EIO;
    }
    if (stat(dst, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
        snprintf(err, errlen, "%s: the destination itself", path);
        return VRAM_EIO;
    }
    return VRAM_OK;
}

static vram_status merge_one(merger *m, const char *path, int64_t ids[2])
{
    char *uri = ro_uri(path);
    char *attach = uri ? sqlite3_mprintf("ATTACH DATABASE %Q AS src", uri) : NULL;
    vram_status st = attach ? exec(m, attach, path, "cannot open") : VRAM_ENOHOST;
    if (!attach)
        snprintf(m->err, m->errlen, "out of host memory");
    sqlite3_free(uri);
    sqlite3_free(attach);
    if (st)
        return st;
    st = check_source(m, path);
    if (!st)
        st = copy_source(m, path, ids);
    sqlite3_exec(m->h, "DETACH DATABASE src", NULL, NULL, NULL);
    return st;
}

vram_status vdb_merge(const char *dst, const char *const *src, size_t n, int64_t (*ids)[2],
                      char *err, size_t errlen)
{
    vram_status st = VRAM_OK;
    for (size_t i = 0; i < n && !st; i++) /* before anything is written */
        st = check_file(dst, src[i], err, errlen);
    vdb *created = NULL; /* the schema, made or checked as every writer does */
    if (!st)
        st = vdb_open(dst, &created, err, errlen);
    if (st)
        return st;
    vdb_close(created, NULL, 0);
    merger m = {.dst = dst, .err = err, .errlen = errlen};
    if (sqlite3_open_v2(dst, &m.h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
        st = fail(&m, dst, "cannot open");
        sqlite3_close(m.h);
        return st;
    }
    sqlite3_busy_timeout(m.h, (int)VDB_BUSY_TIMEOUT_MS);
    for (size_t i = 0; i < n && !st; i++)
        st = merge_one(&m, src[i], ids ? ids[i] : NULL);
    sqlite3_close(m.h);
    return st;
}
