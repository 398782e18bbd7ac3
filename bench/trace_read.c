/* trace_read - parse throughput of the trace reader: reads a trace (default
 * traces/llama70b.trace) N times (default 5) and prints events/s per run and
 * the median. Usage: trace_read [TRACE [N]] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "trace.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : VRAM_SOURCE_DIR "/traces/llama70b.trace";
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    if (runs < 1 || runs > 100) {
        fprintf(stderr, "trace_read: runs '%s': expected 1 to 100\n", argv[2]);
        return 2;
    }
    double rate[100];
    for (int i = 0; i < runs; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        vtrace_reader *r;
        char err[512];
        if (vtrace_open(path, &r, err, sizeof err)) {
            fprintf(stderr, "trace_read: %s\n", err);
            return 1;
        }
        vtrace_event ev;
        uint64_t n = 0;
        int rc;
        while ((rc = vtrace_next(r, &ev)) == 1)
            n++;
        if (rc < 0) {
            fprintf(stderr, "trace_read: %s\n", vtrace_error(r));
            vtrace_close(r);
            return 1;
        }
        vtrace_close(r);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
        rate[i] = (double)n / s;
        printf("run %d: %llu events in %.3f s: %.2f M events/s\n", i + 1, (unsigned long long)n, s,
               rate[i] / 1e6);
    }
    qsort(rate, (size_t)runs, sizeof rate[0], cmp_double);
    printf("median: %.2f M events/s (%s)\n", rate[runs / 2] / 1e6, path);
    return 0;
}
