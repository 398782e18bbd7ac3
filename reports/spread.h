/* spread.h - how much a run's measured latencies vary between repeats of it,
 * so that a comparison flags only a difference beyond that spread
 * (docs/METRICS.md, "Comparisons").
 *
 * The repeats of a run are the runs of its database that ended ok with the
 * same trace (CRC-32), policy, device, backend, eviction policy, compaction,
 * caching settings, tensor cache, preemption mode, layout, check and timing
 * intervals and tool version (sql/repeats.sql): replaying one command again
 * into the database adds one. A latency is judged worse (better) only when
 * every repeat after lies above (below) every repeat before, and the chance
 * of that order by luck alone, 1 / C(before + after, before) (an exact
 * one-sided rank test: no overlap at all), is at most VREP_SPREAD_ALPHA:
 * 3 repeats a side are the fewest that can be judged (1/20). */
#ifndef VREP_SPREAD_H
#define VREP_SPREAD_H

#include <stddef.h>
#include <stdint.h>

#include "rdb.h"

enum { VREP_LAT_ALLOC50, VREP_LAT_ALLOC99, VREP_LAT_FREE50, VREP_LAT_FREE99, VREP_LAT_COUNT };
#define VREP_SPREAD_ALPHA 0.05

typedef struct vrep_spread {
    int runs;                           /* repeats with the quantile, the run itself included */
    int64_t lo[VREP_LAT_COUNT], hi[VREP_LAT_COUNT]; /* their least and greatest value (ns) */
    int have[VREP_LAT_COUNT];           /* repeats that have each quantile */
} vrep_spread;

/* The spread of run `run` of `db` over its repeats. O(runs of the database).
 * VRAM_EIO with the database's message when the SQL fails. */
vram_status vrep_spread_load(vrep_db *db, const char *share, int64_t run, vrep_spread *out,
                             char *err, size_t errlen);

/* 1 worse, -1 better, 0 not judged, for quantile `lat`; `why` says which
 * and on how many repeats ("within the run-to-run spread of 3 and 3
 * repeats", "not judged: 1 repeat before and 1 after; ..."). */
int vrep_spread_judge(const vrep_spread *before, const vrep_spread *after, int lat, char *why,
                      size_t len);

#endif
