/* heapmap.h - the heap at one moment of each run, for heapmap.gp.
 *
 * The results database holds no block lists, so each run is replayed again
 * (sim/replay.h, no database) with the options it was logged with, up to the
 * event, and its managers are walked there (vram_manager_walk). The moment is
 * `at` when given, else the first sample with the run's highest footprint
 * (sql/peak_sample.sql): the peak as sampled, within sample_every events of
 * the true one. */
#ifndef VREP_HEAPMAP_H
#define VREP_HEAPMAP_H

#include "report.h"

/* Writes OUT/data/heapmap.dat: one row per run of adjacent blocks of one kind,
 * "strip from to kind" (offsets in bytes) (kind: vram_kind of the owner, 6 = free);
 * a strip per manager (two for the pool layout). The gnuplot ytics list
 * ("label" strip, ...) goes to yt and the strip count to *strips. A run whose
 * trace is gone or changed, that has no samples, or that ended before `at`
 * gets no strip and a heap_note saying why. Cost: a replay of each run up to
 * the event. VRAM_EIO when a file or the SQL fails, with the message in err. */
vram_status vrep_heapmap(const vrep_paths *p, vrep_series *s, size_t n, uint64_t at, char *yt,
                         size_t ytlen, int *strips, char *err, size_t errlen);

#endif
