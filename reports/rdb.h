/* rdb.h - the report's read-only view of a results database (sim/results/schema.sql)
 * and the SQL files it runs (reports/sql/NAME.sql, one statement each). */
#ifndef VREP_RDB_H
#define VREP_RDB_H

#include <signal.h>
#include <sqlite3.h>
#include <stddef.h>

#include "vram/status.h"

typedef struct vrep_db vrep_db;

/* The number of the signal (SIGINT, SIGTERM, SIGHUP) that asked the report to
 * stop, 0 while none has (set by report.c's handler). The long loops - rows
 * exported, the heap map's replay, a gnuplot run - look at it and stop with
 * VRAM_EBUSY and "stopped by a signal" in err; report.c says what is left. */
extern volatile sig_atomic_t vrep_stop;

/* Opens `path` read-only and checks it is a vramlab results database of the
 * schema version this tool reads. O(1). Fails with VRAM_EIO and "PATH: why" in
 * err when the file is missing or unreadable, is not an SQLite database
 * (corrupt), has no vramlab meta table or another schema version; VRAM_ENOHOST
 * without memory. */
vram_status vrep_db_open(const char *path, vrep_db **out, char *err, size_t errlen);
/* Several databases read as one (a sweep's emitted jobs each write their
 * own): n == 1 is vrep_db_open; more are merged (sim/results/db_merge.h) into a
 * temporary database in $TMPDIR (else /tmp), removed by vrep_db_close, their
 * runs renumbered in the order given, each database's new run ids named on
 * stderr. vrep_db_path is then "FIRST + N more". Fails as vrep_db_open, or
 * as vdb_merge naming the database at fault. Cost: copying every row. */
vram_status vrep_db_open_many(const char *const *paths, size_t n, vrep_db **out, char *err,
                              size_t errlen);
/* NULL is a no-op. */
void vrep_db_close(vrep_db *db);
const char *vrep_db_path(const vrep_db *db);

/* Prepares the one statement in SHARE/sql/NAME.sql. O(file size). VRAM_EIO with
 * "FILE: why" when the file cannot be read or the SQL does not prepare
 * against this database. */
vram_status vrep_sql_prepare(vrep_db *db, const char *share, const char *name,
                             sqlite3_stmt **out, char *err, size_t errlen);

/* Steps `st` to the end, writing each row as tab-separated columns (NULL as
 * "?", which gnuplot skips as missing; blanks inside text as '_', so a row
 * stays one line of fields) after a "# col col ..." header line to
 * the file `path`; the row count in *rows. O(rows). VRAM_EIO with "PATH: why"
 * (or the database's message) when writing or stepping fails. */
vram_status vrep_sql_to_dat(vrep_db *db, sqlite3_stmt *st, const char *path, long *rows,
                            char *err, size_t errlen);

#endif
