/* heapmap.h - the heap at one moment of each run, for heapmap.gp.
 *
 * The results database holds no block lists, so each run is replayed again
 * (sim/replay/replay.h, no database) with the options it was logged with, up to the
 * event, and its managers are walked there (vram_manager_walk). The moments:
 * VREP_MAP_PEAK, `at` when given, else the event at which the trace's live
 * bytes peak (bounds.peak_live_event: the moment the lower bound is about,
 * the same for every run of the trace; a run without bounds: its sampled peak
 * footprint, sql/peak_sample.sql); VREP_MAP_OOM, each run's first OOM
 * (sql/first_oom.sql), for the runs that had one; VREP_MAP_PREEMPT, the event
 * before each run's first forced preemption (sql/first_preempt.sql: the heap
 * as the failing placement found it), for the runs that had one. */
#ifndef VREP_HEAPMAP_H
#define VREP_HEAPMAP_H

#include "report.h"

/* The stem of map's data file and figure: "heapmap", "heapmap_oom" or
 * "heapmap_preempt". */
const char *vrep_heapmap_stem(int map);

/* Writes OUT/data/STEM.dat (vrep_heapmap_stem(map)): one row
 * per run of adjacent blocks of one kind, "strip from to kind" (offsets in
 * bytes) (kind: vram_kind of the owner, 6 = free); a strip per manager (two
 * for the pool layout). The gnuplot ytics list ("label" strip, ...) goes to yt
 * and the strip count to *strips. A run whose trace is gone or changed, or
 * that ended before the moment, gets no strip and a map_note saying why (the
 * OOM and preemption maps: no note for a run without one). Cost: a replay of each run up
 * to the event. VRAM_EIO when a file or the SQL fails, with the message in err. */
vram_status vrep_heapmap(const vrep_paths *p, vrep_series *s, size_t n, int map, uint64_t at,
                         char *yt, size_t ytlen, int *strips, char *err, size_t errlen);

#endif
