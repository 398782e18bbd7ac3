/* replay_cost - the replay's throughput per policy on a real trace.
 *
 * The trace is parsed once (evstream.h) and its peak live bytes walked, both
 * timed; then every policy replays it from memory, R rounds of all the
 * policies in turn (so the machine's load falls on all alike), every call
 * timed as the `replay` tool times it (--time-every 1), samples and checks at
 * the tool's defaults. Per run: the thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID: time other processes take on a shared machine is
 * not counted). Printed, medians over the rounds: events per CPU second and
 * CPU ns per event. The part of it that is the replay's own and not the
 * policy's calls needs a profile (bench/replay_speed.sh: perf's samples in
 * and out of the calls): on a shared machine the calls' own timings are wall
 * time, which other processes inflate and CPU time does not.
 * Usage: replay_cost TRACE [--rounds R] [--policy LIST] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bounds.h"
#include "clock.h"
#include "evstream.h"
#include "replay.h"

#define ROUNDS_MAX 64
#define POLICIES_MAX 8

static double thread_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    const char *trace = NULL, *list = "bestfit,buddy,tlsf,pool,caching";
    int rounds = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc)
            list = argv[++i];
        else if (argv[i][0] != '-' && !trace)
            trace = argv[i];
        else {
            fprintf(stderr, "usage: replay_cost TRACE [--rounds R] [--policy LIST]\n");
            return 2;
        }
    }
    if (!trace || rounds < 1 || rounds > ROUNDS_MAX) {
        fprintf(stderr, "usage: replay_cost TRACE [--rounds 1..%d] [--policy LIST]\n", ROUNDS_MAX);
        return 2;
    }
    char *names = strdup(list), *policy[POLICIES_MAX];
    int np = 0;
    for (char *save = NULL, *p = strtok_r(names, ",", &save); p && np < POLICIES_MAX;
         p = strtok_r(NULL, ",", &save))
        policy[np++] = p;

    char err[1024];
    double t0 = thread_s();
    vevs *s = NULL;
    if (vevs_build(trace, NULL, 0, VEVS_LIMIT_DEFAULT, NULL, &s, err, sizeof err) || !s) {
        fprintf(stderr, "replay_cost: %s\n", s ? err : "the trace does not fit in memory");
        return 1;
    }
    double parse_s = thread_s() - t0;
    vbounds b;
    t0 = thread_s();
    if (vbounds_compute_stream(s, trace, 0, 0, NULL, &b, err, sizeof err)) {
        fprintf(stderr, "replay_cost: %s\n", err);
        return 1;
    }
    double bounds_s = thread_s() - t0;
    uint64_t events = vevs_events(s);
    printf("%s: %" PRIu64 " events parsed once in %.3f s CPU (%.1f ns/event, %.1f MB in memory);"
           " peak live walked in %.3f s\n",
           trace, events, parse_s, parse_s * 1e9 / (double)events, (double)vevs_memory(s) / 1e6,
           bounds_s);

    static vreplay_result res;
    static double cpu[POLICIES_MAX][ROUNDS_MAX];
    double timer_ns = 0;
    for (int r = 0; r < rounds; r++)
        for (int p = 0; p < np; p++) {
            vreplay_options o = {.trace_path = trace, .stream = s, .policy = policy[p],
                                 .sample_every = events / 1000 ? events / 1000 : 1,
                                 .check_every = 250000, .time_every = 1, .bounds = &b};
            t0 = thread_s();
            vram_status st = vreplay_run(&o, &res);
            cpu[p][r] = thread_s() - t0;
            if (!st && res.status == VREPLAY_RUN_NOT_APPLICABLE) { /* pool without KV blocks */
                cpu[p][r] = -1;
                continue;
            }
            if (st || res.status != VREPLAY_RUN_OK) {
                fprintf(stderr, "replay_cost: %s: %s\n", policy[p], res.message);
                return 1;
            }
            timer_ns = res.timer_ns;
        }
    printf("clock: %s, %.0f ns per reading (median); %d rounds, medians\n\n", vclock_source(),
           timer_ns, rounds);
    printf("| policy | M events/s per core | CPU ns/event |\n|---|---:|---:|\n");
    for (int p = 0; p < np; p++) {
        double per[ROUNDS_MAX];
        if (cpu[p][0] < 0) {
            printf("| %s | n/a | n/a |\n", policy[p]);
            continue;
        }
        for (int r = 0; r < rounds; r++)
            per[r] = cpu[p][r] * 1e9 / (double)events;
        double m = median(per, rounds);
        printf("| %s | %.2f | %.1f |\n", policy[p], 1e3 / m, m);
    }
    vevs_destroy(s);
    free(names);
    return 0;
}
