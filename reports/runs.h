/* runs.h - which runs a report covers, and each run's summary row
 * (sql/summary.sql, read by column name). */
#ifndef VREP_RUNS_H
#define VREP_RUNS_H

#include <stddef.h>
#include <stdint.h>

#include "rdb.h"

/* A run's summary. Integers are -1 and reals NaN where the database has NULL
 * (a run that did not finish, or no bounds row). */
typedef struct vrep_run {
    int64_t id;
    char policy[32], status[16], backend[16], evict_policy[32], crc32[16], defrag[32];
    char ended[40];           /* "" when the run was never marked: in progress, or killed */
    char trace[1024], options[1024], layout[512], detail[512];
    char trace_abs[1024], trace_rel[1024]; /* where the trace was ("": not recorded) */
    int64_t capacity, events, sample_every, samples;
    int64_t peak_footprint, peak_live;
    double footprint_ratio, worst_ext_frag;
    int64_t ooms, ooms_despite_free;
    int64_t evictions, belady_evictions, belady_exact;
    int64_t bytes_rematerialised, belady_bytes_rematerialised;
    int64_t alloc_p50_ns, alloc_p99_ns, free_p50_ns, free_p99_ns;
    /* Version-2 traces (traces/FORMAT.md, "Needed memory"); preempt_mode is ""
     * and the rest -1/NaN for version 1 (belady_preemptions too: summary.sql
     * gives NULL where the run has no preempt_mode). */
    char preempt_mode[16];
    int64_t preemptions, preempted_bytes, restores, belady_preemptions;
    double preempt_modelled_ms;
    /* What the policy evicted, by kind (sum: evictions). */
    int64_t evictions_weight, evictions_kv, evictions_adapter, evictions_other;
    double modelled_ms;       /* the device cost model's time, preemptions included */
    /* The options a comparison names when they differ (runs columns). */
    char caching_conf[512], tool_version[64], model[128], engine[32];
    int64_t tensor_cache, check_every, time_every;
    /* The first sample with the highest footprint (sql/summary.sql): its event,
     * internal waste and footprint - in_use; the last sample's timestamp (0 or
     * -1: the trace has none). */
    int64_t peak_sample_event, waste_at_peak, free_at_peak, last_ts_us;
} vrep_run;

/* 1 when the run was marked at its end (ok, failed or interrupted, with an end
 * time); 0 while it is in progress or when its process was killed first. */
int vrep_run_finished(const vrep_run *r);

/* Why the run has no samples, in words ("not finished: killed or in progress
 * before its first sample was written", "replayed with --sample-every 0", ...). */
void vrep_run_why_no_samples(const vrep_run *r, char *buf, size_t len);

/* Loads run `id`'s summary. O(samples of the run). VRAM_ENOTFOUND with
 * "PATH: no run with id N (runs: ...)" when there is none; VRAM_EIO when the
 * SQL fails. */
vram_status vrep_run_load(vrep_db *db, const char *share, int64_t id, vrep_run *out,
                          char *err, size_t errlen);

/* The runs to report: `list` ("3,5,7", the value of option `opt`) when not NULL,
 * each checked to exist, else sql/default_runs.sql: the newest finished run
 * (vrep_run_finished) of each policy over the trace of the newest finished
 * run; the runs not finished that it leaves out are named in a note on
 * stderr. *ids is malloc'ed. VRAM_EINVAL "OPT: \"x\" is not a run id" for a
 * malformed list, VRAM_ENOTFOUND "PATH: no run with id N (runs: 1-5)" for an
 * unknown id, "PATH: no runs (replay wrote none)" for an empty database or
 * "PATH: no finished run ..." when no run was marked, VRAM_EIO when the SQL
 * fails, VRAM_ENOHOST without memory. */
vram_status vrep_runs_select(vrep_db *db, const char *share, const char *opt, const char *list,
                             int64_t **ids, size_t *n, char *err, size_t errlen);

#endif
