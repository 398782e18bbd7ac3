/* sweep_run.h - runs a sweep's replay command lines as child processes, a
 * few at a time, on this machine (docs/SWEEPS.md).
 *
 * Each job is one program run with its argv (no shell), stdin from
 * /dev/null, stdout discarded, stderr kept in a temporary file and shown,
 * each line indented under the job's line, when the job ends. A job's line
 * says how it ended and took how long: the progress of the sweep, with a
 * "still running" line naming the running jobs after 30 s without a line.
 *
 * Signals: while it runs, SIGINT, SIGTERM and SIGHUP set *stop (sim/base/signals.h)
 * and the runner sends that signal once to every job still running, starts no
 * other job and waits for them all: each replay marks the run it is in
 * "interrupted" in its database before it exits (docs/RELIABILITY.md). A job
 * that exits 2 (bad usage: every later job would be refused alike) also ends
 * the starting of jobs; the running ones finish. */
#ifndef VSIM_SWEEP_RUN_H
#define VSIM_SWEEP_RUN_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>

typedef struct vsweep_job {
    char *const *argv;  /* argv[0] is the program: a path, or a name looked up on PATH */
    const char *label;  /* what the job runs, for its line */
} vsweep_job;

typedef struct vsweep_tally {
    size_t ok;          /* exit status 0 */
    size_t failed;      /* another status, or a death by a signal not sent by the sweep */
    size_t stopped;     /* ended by the signal the sweep passed on */
    size_t not_started;
    int usage;          /* a job exited 2 */
} vsweep_tally;

/* Runs jobs[0..n) at most `parallel` at once (at least 1), writing each
 * job's line to `msgs` as it ends ("[3/8] ok (1.2 s): LABEL"). *stop is the
 * flag vsim_catch_signals sets; the caller installs it. 0, with the tally;
 * -1 when a process cannot be started (fork, a temporary file: the reason
 * on msgs), after the jobs already running have ended. */
int vsweep_run(const vsweep_job *jobs, size_t n, unsigned parallel,
               volatile sig_atomic_t *stop, FILE *msgs, vsweep_tally *tally);

#endif
