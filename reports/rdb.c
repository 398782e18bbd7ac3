/* rdb.c - read-only access to a results database and the report's SQL files. */
#include "rdb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "db_merge.h"

volatile sig_atomic_t vrep_stop;

struct vrep_db {
    sqlite3 *h;
    char *path;
    char *merged; /* the temporary merge of several databases (removed at close), or NULL */
};

const char *vrep_db_path(const vrep_db *db) { return db->path; }

/* The schema version in meta, checked against the one this tool was built with. */
static vram_status check_meta(vrep_db *db, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->h, "SELECT value FROM meta WHERE key = 'schema_version'", -1,
                                &st, NULL);
    if (rc != SQLITE_OK) {
        if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT)
            snprintf(err, errlen, "%s: not an SQLite database (corrupt?): %s", db->path,
                     sqlite3_errmsg(db->h));
        else
            snprintf(err, errlen, "%s: not a vramlab results database (%s)", db->path,
                     sqlite3_errmsg(db->h));
        sqlite3_finalize(st);
        return VRAM_EIO;
    }
    rc = sqlite3_step(st);
    vram_status res = VRAM_OK;
    if (rc != SQLITE_ROW) {
        snprintf(err, errlen, "%s: not a vramlab results database (no schema_version in meta%s%s)",
                 db->path, rc == SQLITE_DONE ? "" : ": ",
                 rc == SQLITE_DONE ? "" : sqlite3_errmsg(db->h));
        res = VRAM_EIO;
    } else {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        if (!v || atoi(v) != VDB_SCHEMA_VERSION) {
            snprintf(err, errlen, "%s: schema version %s, this report reads version %d", db->path,
                     v ? v : "NULL", VDB_SCHEMA_VERSION);
            res = VRAM_EIO;
        }
    }
    sqlite3_finalize(st);
    return res;
}

vram_status vrep_db_open(const char *path, vrep_db **out, char *err, size_t errlen)
{
    *out = NULL;
    struct stat s;
    if (access(path, R_OK) != 0 || stat(path, &s) != 0) {
        snprintf(err, errlen, "%s: cannot read the database: %s", path, strerror(errno));
        return VRAM_EIO;
    }
    if (S_ISDIR(s.st_mode) || s.st_size == 0) {
        snprintf(err, errlen, "%s: %s, not a results database (replay --db writes one)", path,
                 S_ISDIR(s.st_mode) ? "a directory" : "an empty file");
        return VRAM_EIO;
    }
    vrep_db *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(path))) {
        free(db);
        snprintf(err, errlen, "%s: out of host memory", path);
        return VRAM_ENOHOST;
    }
    if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot open: %s", path,
                 db->h ? sqlite3_errmsg(db->h) : "out of memory");
        vrep_db_close(db);
        return VRAM_EIO;
    }
    sqlite3_busy_timeout(db->h, 5000);
    vram_status st = check_meta(db, err, errlen);
    if (st) {
        vrep_db_close(db);
        return st;
    }
    *out = db;
    return VRAM_OK;
}

/* Removes the temporary merge at `path` and the WAL files beside it. */
static void remove_merged(const char *path)
{
    char side[4200];
    remove(path);
    snprintf(side, sizeof side, "%s-wal", path);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", path);
    remove(side);
}

vram_status vrep_db_open_many(const char *const *paths, size_t n, vrep_db **out, char *err,
                              size_t errlen)
{
    if (n == 1)
        return vrep_db_open(paths[0], out, err, errlen);
    *out = NULL;
    const char *dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char tmp[4096], shown[4200];
    snprintf(tmp, sizeof tmp, "%s/vramlab-report-XXXXXX.db", dir);
    int fd = mkstemps(tmp, 3);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot make a temporary database to read %zu databases as"
                              " one: %s", tmp, n, strerror(errno));
        return VRAM_EIO;
    }
    close(fd);
    int64_t(*ids)[2] = calloc(n, sizeof *ids);
    snprintf(shown, sizeof shown, "%s + %zu more", paths[0], n - 1);
    char *merged = strdup(tmp), *path = strdup(shown);
    vram_status st = ids && merged && path ? vdb_merge(tmp, paths, n, ids, err, errlen)
                                           : VRAM_ENOHOST;
    if (st == VRAM_ENOHOST && !(ids && merged && path))
        snprintf(err, errlen, "out of host memory");
    if (!st)
        st = vrep_db_open(tmp, out, err, errlen);
    if (st) {
        remove_merged(tmp);
        free(ids), free(merged), free(path);
        return st;
    }
    free((*out)->path);
    (*out)->path = path;
    (*out)->merged = merged;
    for (size_t i = 0; i < n; i++)
        if (ids[i][0])
            fprintf(stderr, "report: note: %s: its runs are runs %lld to %lld here\n", paths[i],
                    (long long)ids[i][0], (long long)ids[i][1]);
        else
            fprintf(stderr, "report: note: %s holds no run\n", paths[i]);
    free(ids);
    return VRAM_OK;
}

void vrep_db_close(vrep_db *db)
{
    if (!db)
        return;
    sqlite3_close(db->h);
    if (db->merged)
        remove_merged(db->merged);
    free(db->merged);
    free(db->path);
    free(db);
}

/* The whole file at `path`, NUL-terminated; NULL with err set on failure. */
static char *slurp(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot read: %s (set VREPORT_DIR or --share to the"
                 " directory holding sql/ and the .gp scripts)", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger)
                free(buf);
            buf = bigger;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        snprintf(err, errlen, "%s: %s", path, buf ? "read error" : "out of host memory");
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

vram_status vrep_sql_prepare(vrep_db *db, const char *share, const char *name,
                             sqlite3_stmt **out, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/sql/%s.sql", share, name);
    char *sql = slurp(path, err, errlen);
    if (!sql)
        return VRAM_EIO;
    int rc = sqlite3_prepare_v2(db->h, sql, -1, out, NULL);
    free(sql);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: does not prepare against %s: %s", path, db->path,
                 sqlite3_errmsg(db->h));
        sqlite3_finalize(*out);
        *out = NULL;
        return VRAM_EIO;
    }
    return VRAM_OK;
}

static void write_value(FILE *f, sqlite3_stmt *st, int col)
{
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_NULL:
        fputc('?', f);
        break;
    case SQLITE_INTEGER:
        fprintf(f, "%lld", (long long)sqlite3_column_int64(st, col));
        break;
    case SQLITE_FLOAT:
        fprintf(f, "%.17g", sqlite3_column_double(st, col));
        break;
    default: {
        /* Text: tabs and newlines would split the row. */
        const unsigned char *t = sqlite3_column_text(st, col);
        for (; t && *t; t++)
            fputc(*t == '\t' || *t == '\n' || *t == ' ' ? '_' : *t, f);
    }
    }
}

vram_status vrep_sql_to_dat(vrep_db *db, sqlite3_stmt *st, const char *path, long *rows,
                            char *err, size_t errlen)
{
    *rows = 0;
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        return VRAM_EIO;
    }
    int cols = sqlite3_column_count(st);
    fputc('#', f);
    for (int c = 0; c < cols; c++)
        fprintf(f, " %s", sqlite3_column_name(st, c));
    fputc('\n', f);
    int rc;
    while (!vrep_stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int c = 0; c < cols; c++) {
            if (c)
                fputc('\t', f);
            write_value(f, st, c);
        }
        fputc('\n', f);
        ++*rows;
    }
    vram_status res = VRAM_OK;
    if (vrep_stop) {
        snprintf(err, errlen, "%s: stopped by a signal", path);
        res = VRAM_EBUSY;
    } else if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s: %s", db->path, sqlite3_errmsg(db->h));
        res = VRAM_EIO;
    }
    const int bad = ferror(f); /* a write failed before the close */
    if ((fclose(f) != 0 || bad) && !res) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        res = VRAM_EIO;
    }
    return res;
}
