/* listing.h - report --list: the runs of a database, oldest first, on stdout:
 * a table that fits 100 columns (id, policy, status, capacity, peak footprint,
 * events, trace), or with --json / --csv every column of the runs table
 * (sim/results/schema.sql) under the database's own names, NULL as null (JSON) or an
 * empty field (CSV), as replay --json / --csv print their runs. */
#ifndef VREP_LISTING_H
#define VREP_LISTING_H

#include <stddef.h>

#include "rdb.h"

enum { VREP_LIST_TABLE, VREP_LIST_JSON, VREP_LIST_CSV };

/* O(runs). VRAM_EIO with the database's message when the SQL fails. */
vram_status vrep_list(vrep_db *db, const char *share, int format, char *err, size_t errlen);

#endif
