/* isolate.c - vreplay_run in a child process, watched (isolate.h). */
#include "isolate.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plugin.h"

/* What the child sends: its status, then its result. */
typedef struct child_answer {
    vram_status st;
    vreplay_result r;
} child_answer;

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* The child: the run with its own database connection; never returns. */
static void child(const vreplay_options *opt, const char *db_path, unsigned batch,
                  vreplay_position *pos, int fd)
{
    child_answer *a = calloc(1, sizeof *a);
    if (!a)
        _exit(3);
    vreplay_options o = *opt;
    o.position = pos;
    o.db = NULL;
    char err[512];
    if (db_path) {
        a->st = vdb_open(db_path, &o.db, err, sizeof err);
        if (a->st)
            snprintf(a->r.message, sizeof a->r.message, "%s", err);
        else if (batch)
            vdb_set_batch(o.db, batch);
    }
    if (!a->st)
        a->st = vreplay_run(&o, &a->r);
    if (o.db && vdb_close(o.db, err, sizeof err) && !a->st) {
        a->st = VRAM_EIO;
        a->r.status = VREPLAY_RUN_FAILED;
        snprintf(a->r.message, sizeof a->r.message, "%s", err);
    }
    _exit(write_all(fd, a, sizeof *a) ? 3 : 0);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The policy as the tables show it: plugin:NAME when it loads, else as given. */
static void label_of(const char *policy, char *out, size_t len)
{
    vplugin *p;
    char msg[256];
    if (vplugin_is_spec(policy) && vplugin_open(policy, &p, msg, sizeof msg) == VRAM_OK) {
        snprintf(out, len, "%s", vplugin_label(p));
        vplugin_close(p);
    } else {
        snprintf(out, len, "%s", policy);
    }
}

/* A run the child did not finish: the message, the event row, the run row. */
static vram_status unfinished(const vreplay_options *opt, const vreplay_position *pos,
                              vreplay_status status, const char *what, vreplay_result *out)
{
    char who[128], where[600];
    label_of(opt->policy, who, sizeof who);
    uint64_t line = pos->line, event = pos->event;
    if (event)
        snprintf(where, sizeof where, "%s:%llu: %s", opt->trace_path, (unsigned long long)line,
                 who);
    else
        snprintf(where, sizeof where, "%s: %s, before the first event,", opt->trace_path, who);
    if (snprintf(out->message, sizeof out->message, "%s %s (--isolate)", where, what) < 0)
        out->message[0] = '\0';
    out->status = status;
    out->events = event ? event - 1 : 0; /* the event under way did not complete */
    out->run_id = pos->run_id;
    vdb *db = opt->db;
    if (!db || !out->run_id)
        return VRAM_OK;
    vdb_event row = {.event_index = event, .line = line, .kind = "error",
                     .message = out->message};
    vdb_summary sum;
    memset(&sum, 0, sizeof sum);
    sum.events = out->events;
    vram_status st = vdb_event_add(db, out->run_id, &row);
    vram_status end = vdb_run_end(db, out->run_id,
                                  status == VREPLAY_RUN_INTERRUPTED ? "interrupted" : "failed",
                                  out->message, &sum);
    if (st || end) {
        out->status = VREPLAY_RUN_FAILED;
        snprintf(out->message, sizeof out->message, "%s", vdb_error(db));
        return VRAM_EIO;
    }
    return VRAM_OK;
}

vram_status vreplay_run_isolated(const vreplay_options *opt, const char *db_path, unsigned batch,
                                 unsigned timeout_s, vreplay_result *out)
{
    memset(out, 0, sizeof *out);
    child_answer *a = calloc(1, sizeof *a);
    vreplay_position *pos = mmap(NULL, sizeof *pos, PROT_READ | PROT_WRITE,
                                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int fd[2] = {-1, -1};
    if (!a || pos == MAP_FAILED || pipe(fd)) {
        snprintf(out->message, sizeof out->message, "--isolate: cannot set up a child: %s",
                 strerror(errno));
        free(a);
        if (pos != MAP_FAILED)
            munmap(pos, sizeof *pos);
        return VRAM_ENOHOST;
    }
    memset((void *)pos, 0, sizeof *pos);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        child(opt, db_path, batch, pos, fd[1]);
    }
    close(fd[1]);
    if (pid < 0) {
        snprintf(out->message, sizeof out->message, "--isolate: fork failed: %s", strerror(errno));
        close(fd[0]);
        free(a);
        munmap(pos, sizeof *pos);
        return VRAM_ENOHOST;
    }
    size_t got = 0;
    uint64_t seen = 0;
    double since = now_s(), stopped = 0;
    int hung = 0, killed_on_stop = 0;
    for (;;) {
        struct pollfd p = {.fd = fd[0], .events = POLLIN};
        int n = poll(&p, 1, 100);
        if (n > 0) {
            ssize_t k = read(fd[0], (char *)a + got, sizeof *a - got);
            if (k > 0) {
                got += (size_t)k;
                continue;
            }
            if (k == 0 || errno != EINTR)
                break; /* the child is gone (or finished: got is complete) */
            continue;
        }
        if (n < 0 && errno != EINTR)
            break;
        double t = now_s();
        if (pos->event != seen) {
            seen = pos->event;
            since = t;
        }
        if (opt->stop && *opt->stop && !stopped)
            stopped = t;
        if (timeout_s && (t - since >= timeout_s || (stopped && t - stopped >= timeout_s))) {
            kill(pid, SIGKILL);
            hung = !stopped;
            killed_on_stop = stopped != 0;
            break;
        }
    }
    close(fd[0]);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    vram_status st;
    if (got == sizeof *a && !hung && !killed_on_stop) {
        *out = a->r;
        st = a->st;
    } else {
        char what[160];
        if (hung)
            snprintf(what, sizeof what, "made no progress for %u s in this event: killed",
                     timeout_s);
        else if (killed_on_stop)
            snprintf(what, sizeof what, "did not stop within %u s of the interruption: killed",
                     timeout_s);
        else if (WIFSIGNALED(ws))
            snprintf(what, sizeof what, "crashed in this event: signal %d (%s)", WTERMSIG(ws),
                     strsignal(WTERMSIG(ws)));
        else
            snprintf(what, sizeof what, "ended the process in this event: exit status %d",
                     WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
        st = unfinished(opt, pos, killed_on_stop ? VREPLAY_RUN_INTERRUPTED : VREPLAY_RUN_FAILED,
                        what, out);
    }
    free(a);
    munmap(pos, sizeof *pos);
    return st;
}
