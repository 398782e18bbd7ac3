/* db_merge.h - several results databases as one: the runs of each source,
 * with all their rows, copied into one destination database (a sweep's
 * emitted jobs each write their own; `report A.db B.db ...` and
 * `sweep --merge OUT.db A.db B.db ...` read them as one; docs/SWEEPS.md). */
#ifndef VSIM_DB_MERGE_H
#define VSIM_DB_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "vram/status.h"

/* Opens (creating if needed, as vdb_open does) the database at `dst` and
 * appends every run of src[0..n), in that order and each source's in id
 * order, with the rows of every table that refers to them (runs.id, or a
 * run_id column: every table but meta). The runs get new ids after dst's
 * highest; the first and last new id of source i go to ids[i] when ids is not
 * NULL ({0, 0} for a source without runs). A source is read only (opened
 * read-only; it may be a copy from another machine). Each source is copied in
 * one transaction, so dst holds whole sources only; a source that is not a
 * readable, non-empty regular file, or is dst itself, is refused before
 * anything is written. VRAM_EIO with "PATH: why"
 * in err when dst cannot be opened (vdb_open's reasons), a source cannot be
 * read, is not a results database or holds another schema version, dst and a
 * source are the same file, or a table has no run_id (a schema this merge
 * does not know); VRAM_ENOHOST without memory. Cost: O(rows copied). */
vram_status vdb_merge(const char *dst, const char *const *src, size_t n, int64_t (*ids)[2],
                      char *err, size_t errlen);

#endif
