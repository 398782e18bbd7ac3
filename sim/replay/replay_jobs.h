/* replay_jobs.h - the runs of one replay command (one trace, several
 * policies) on one thread or several.
 *
 * Runs are started in index order; a run that could not be carried out
 * (vreplay_run's status not VRAM_OK: the database, the device or the trace
 * fails every policy alike) or a stop flag ends the starting, and the runs
 * under way finish (or, with the flag, end interrupted). So the runs started
 * are always a prefix [0, started). With one job the calling thread runs them
 * one after the other on the caller's database connection; with more, each
 * worker thread opens its own connection to the same file (concurrent writers
 * are safe: docs/RELIABILITY.md) and takes the next run when it is free. Each
 * run has its own engine, managers, histograms and result: libvram and the
 * replay share no mutable state between runs, so a run's figures do not
 * depend on the number of jobs (only its timings and its row's id do). */
#ifndef VSIM_REPLAY_JOBS_H
#define VSIM_REPLAY_JOBS_H

#include <signal.h>
#include <stddef.h>

#include "replay.h"

typedef struct vreplay_job {
    vreplay_options opt; /* the run's options; opt.db is set by vreplay_jobs_run */
    int isolated;        /* a plugin run in a child process (vreplay_run_isolated) */
    vram_status st;      /* what vreplay_run (or vreplay_run_isolated) answered */
    int db_failed;       /* its database connection failed */
    vreplay_result *res; /* where its result goes */
} vreplay_job;

typedef struct vreplay_jobs_config {
    unsigned jobs;                 /* threads (at least 1) */
    vdb *db;                       /* the caller's connection, or NULL: nothing is logged */
    const char *db_path;           /* its file: each worker opens its own (jobs > 1) */
    unsigned batch;                /* vdb_set_batch of the workers' connections */
    unsigned isolate_timeout;      /* vreplay_run_isolated's timeout */
    volatile sig_atomic_t *stop;   /* may be NULL; non-zero: start no more runs */
    /* Called in the thread that runs it, right before run i starts (may be NULL). */
    void (*started)(void *ctx, size_t i);
    void *started_ctx;
} vreplay_jobs_config;

/* Runs jobs[0..n) as above; returns how many were started. A worker that
 * cannot open its connection fails the run it took with VRAM_EIO and the
 * reason in res->message. Cost: the runs', spread over min(jobs, n) threads. */
size_t vreplay_jobs_run(vreplay_job *jobs, size_t n, const vreplay_jobs_config *cfg);

#endif
