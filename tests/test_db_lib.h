/* test_db_lib.h - what the tests that read a results database share: removing
 * a database with its WAL files, one-value queries, and replay options for a
 * test run (a sample and a check after every event). */
#ifndef TEST_DB_LIB_H
#define TEST_DB_LIB_H

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "replay.h"
#include "testlib.h"

/* Removes the database and the files SQLite keeps beside it. */
static inline void test_remove_db(const char *path)
{
    static const char *const side[] = {"", "-wal", "-shm", "-journal"};
    char p[1024];
    for (size_t i = 0; i < sizeof side / sizeof side[0]; i++) {
        snprintf(p, sizeof p, "%s%s", path, side[i]);
        unlink(p);
    }
}

/* Reports when `text` lacks `want`. */
static inline void expect_contains(const char *text, const char *want)
{
    if (!strstr(text, want)) {
        fprintf(stderr, "FAILED: \"%s\" lacks \"%s\"\n", text, want);
        test_failures++;
    }
}

/* Opens a database for queries; stops the test when it cannot. */
static inline sqlite3 *test_open_db(const char *path)
{
    sqlite3 *q;
    assert_true(sqlite3_open(path, &q) == SQLITE_OK);
    return q;
}

/* Prepares the printf-formatted query; a query that does not prepare is a
 * test failure (NULL returned). */
static inline sqlite3_stmt *test_prepare_(sqlite3 *db, const char *fmt, va_list ap)
{
    char sql[2048];
    vsnprintf(sql, sizeof sql, fmt, ap);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        fprintf(stderr, "FAILED: bad query %s: %s\n", sql, sqlite3_errmsg(db));
        test_failures++;
        return NULL;
    }
    return s;
}

/* The first column of the first row as an integer; -1 for no row or NULL. */
static inline int64_t test_q1(sqlite3 *db, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline int64_t test_q1(sqlite3 *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *s = test_prepare_(db, fmt, ap);
    va_end(ap);
    int64_t v = -1;
    if (s && sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* The first column of the first row as a double; -1 for no row or NULL. */
static inline double test_qd(sqlite3 *db, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline double test_qd(sqlite3 *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *s = test_prepare_(db, fmt, ap);
    va_end(ap);
    double v = -1;
    if (s && sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        v = sqlite3_column_double(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* Options replaying `trace` through `policy` into `db` (may be NULL), with a
 * sample and a check after every event, recorded as options `text`. */
static inline vreplay_options test_replay_opts(const char *trace, const char *policy,
                                               const vbounds *b, vdb *db, const char *text)
{
    vreplay_options o;
    memset(&o, 0, sizeof o);
    o.trace_path = trace;
    o.policy = policy;
    o.sample_every = 1;
    o.check_every = 1;
    o.options_text = text;
    o.bounds = b;
    o.db = db;
    return o;
}

static inline int test_first_used_(const vram_block_info *blk, void *ctx)
{
    if (!blk->used)
        return 0;
    *(uint64_t *)ctx = blk->offset;
    return 1;
}

/* A replay's inspect callback that frees the first used block of the first
 * lane's heap behind the manager's back: its handle then points to free heap
 * memory, which vram_manager_check must report. */
static inline void test_corrupt_lane0(void *ctx, uint64_t event_index, vram_manager *const *lanes,
                                      int nlanes)
{
    (void)ctx;
    (void)event_index;
    (void)nlanes;
    uint64_t offset = UINT64_MAX;
    vram_heap *h = vram_manager_heap(lanes[0]);
    vram_heap_walk(h, test_first_used_, &offset);
    if (offset != UINT64_MAX)
        vram_heap_free(h, offset);
}

#endif
