/* sweep_run.c - a sweep's jobs as child processes (sweep_run.h). */
#include "sweep_run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "signals.h"

/* A "still running" line after this long without a line. */
#define QUIET_S 30.0

static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define NSTOP (sizeof stop_signals / sizeof stop_signals[0])

/* A job in progress. Invariant: pid > 0 iff the slot holds a started job
 * that has not been reaped; err is then its stderr file. */
typedef struct slot {
    pid_t pid;
    size_t job;
    FILE *err;
    struct timespec t0;
} slot;

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The child's side of a start: the signals back as the replay should find
 * them (a pending stop signal now ends it before the exec, as it would after),
 * its files, the program. Never returns. */
static void child_exec(const vsweep_job *j, FILE *err, const sigset_t *orig)
{
    struct sigaction dfl, old;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (size_t i = 0; i < NSTOP; i++)
        if (sigaction(stop_signals[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
            sigaction(stop_signals[i], &dfl, NULL);
    sigaction(SIGCHLD, &dfl, NULL);
    sigprocmask(SIG_SETMASK, orig, NULL);
    int in = open("/dev/null", O_RDONLY), out = open("/dev/null", O_WRONLY);
    if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(fileno(err), 2) < 0)
        _exit(127);
    execvp(j->argv[0], j->argv);
    dprintf(2, "cannot run %s: %s\n", j->argv[0], strerror(errno));
    _exit(127);
}

static int start(const vsweep_job *jobs, size_t k, slot *s, const sigset_t *orig, FILE *msgs)
{
    s->err = tmpfile();
    if (!s->err) {
        fprintf(msgs, "sweep: cannot make a temporary file for a job's messages: %s\n",
                strerror(errno));
        return -1;
    }
    fcntl(fileno(s->err), F_SETFD, FD_CLOEXEC); /* the jobs started later do not inherit it */
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(msgs, "sweep: cannot start a process: %s\n", strerror(errno));
        fclose(s->err);
        return -1;
    }
    if (pid == 0)
        child_exec(&jobs[k], s->err, orig);
    s->pid = pid;
    s->job = k;
    clock_gettime(CLOCK_MONOTONIC, &s->t0);
    return 0;
}

/* Writes the job's line and its stderr, indented; counts it; frees the slot. */
static void finish(const vsweep_job *jobs, size_t n, slot *s, int status, int sig, size_t *ended,
                   FILE *msgs, vsweep_tally *t)
{
    char how[64];
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        snprintf(how, sizeof how, "ok");
        t->ok++;
    } else if (sig && ((WIFEXITED(status) && WEXITSTATUS(status) == 128 + sig) ||
                       (WIFSIGNALED(status) && WTERMSIG(status) == sig))) {
        snprintf(how, sizeof how, "stopped by %s", vsim_signal_name(sig));
        t->stopped++;
    } else {
        if (WIFEXITED(status))
            snprintf(how, sizeof how, "failed (exit status %d)", WEXITSTATUS(status));
        else
            snprintf(how, sizeof how, "failed (killed by signal %d)", WTERMSIG(status));
        t->usage |= WIFEXITED(status) && WEXITSTATUS(status) == 2;
        t->failed++;
    }
    fprintf(msgs, "sweep: [%zu/%zu done] run %zu %s (%.1f s): %s\n", ++*ended, n, s->job + 1, how,
            seconds_since(&s->t0), jobs[s->job].label);
    char line[4096];
    rewind(s->err);
    while (fgets(line, sizeof line, s->err))
        fprintf(msgs, "    %s%s", line, strchr(line, '\n') ? "" : "\n");
    fflush(msgs);
    fclose(s->err);
    s->pid = 0;
}

/* "sweep: [2/8 done] still running: run 3 (45 s), run 4 (40 s)" */
static void still_running(const slot *slots, unsigned parallel, size_t ended, size_t n,
                          FILE *msgs)
{
    fprintf(msgs, "sweep: [%zu/%zu done] still running:", ended, n);
    const char *sep = " ";
    for (unsigned i = 0; i < parallel; i++)
        if (slots[i].pid > 0) {
            fprintf(msgs, "%srun %zu (%.0f s)", sep, slots[i].job + 1,
                    seconds_since(&slots[i].t0));
            sep = ", ";
        }
    fputc('\n', msgs);
    fflush(msgs);
}

static void on_child(int sig)
{
    (void)sig; /* only ends the wait in pselect */
}

int vsweep_run(const vsweep_job *jobs, size_t n, unsigned parallel,
               volatile sig_atomic_t *stop, FILE *msgs, vsweep_tally *tally)
{
    memset(tally, 0, sizeof *tally);
    parallel = parallel ? parallel : 1;
    slot *slots = calloc(parallel, sizeof *slots);
    if (!slots) {
        fprintf(msgs, "sweep: out of memory\n");
        return -1;
    }
    /* The stop signals and SIGCHLD stay blocked but inside pselect, so that a
     * signal or a child's end between a look at the flags and the wait is
     * never missed; its timeout brings the "still running" lines. */
    struct sigaction sa, old_chld;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_child;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, &old_chld);
    sigset_t block, orig, wait_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    for (size_t i = 0; i < NSTOP; i++)
        sigaddset(&block, stop_signals[i]);
    sigprocmask(SIG_BLOCK, &block, &orig);
    wait_mask = orig;
    sigdelset(&wait_mask, SIGCHLD);
    for (size_t i = 0; i < NSTOP; i++)
        sigdelset(&wait_mask, stop_signals[i]);

    size_t next = 0, running = 0, ended = 0;
    int forwarded = 0, rc = 0;
    struct timespec last; /* of the last line */
    clock_gettime(CLOCK_MONOTONIC, &last);
    for (;;) {
        size_t ended_before = ended;
        int status;
        pid_t pid;
        while (running && (pid = waitpid(-1, &status, WNOHANG)) > 0)
            for (unsigned i = 0; i < parallel; i++)
                if (slots[i].pid == pid) {
                    finish(jobs, n, &slots[i], status, *stop, &ended, msgs, tally);
                    running--;
                }
        if (*stop && !forwarded) {
            forwarded = 1;
            if (running)
                fprintf(msgs, "sweep: %s: passing it to the %zu running job(s), starting no"
                              " other\n", vsim_signal_name(*stop), running);
            for (unsigned i = 0; i < parallel; i++)
                if (slots[i].pid > 0)
                    kill(slots[i].pid, *stop);
        }
        for (unsigned i = 0; i < parallel && !*stop && !tally->usage && !rc && next < n; i++)
            if (slots[i].pid == 0) {
                if (start(jobs, next, &slots[i], &orig, msgs))
                    rc = -1;
                else
                    next++, running++;
            }
        if (!running)
            break;
        if (ended != ended_before)
            clock_gettime(CLOCK_MONOTONIC, &last);
        double quiet = seconds_since(&last);
        if (quiet >= QUIET_S) {
            still_running(slots, parallel, ended, n, msgs);
            clock_gettime(CLOCK_MONOTONIC, &last);
            quiet = 0;
        }
        double left = QUIET_S - quiet;
        struct timespec timeout = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
        pselect(0, NULL, NULL, NULL, &timeout, &wait_mask);
    }
    tally->not_started = n - next;
    sigprocmask(SIG_SETMASK, &orig, NULL);
    sigaction(SIGCHLD, &old_chld, NULL);
    free(slots);
    return rc;
}
