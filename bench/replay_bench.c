/* replay_bench - replay throughput and memory.
 *
 * Writes a synthetic paged-KV serving trace (weights, a shared embedding, per
 * step activations and workspaces, requests growing KV blocks, one use per
 * running request per step; deterministic for the seed) and measures:
 *   1. events/s per policy, trace parsing included, without and with SQLite
 *      logging (alternating runs; medians; the logging cost as the median of
 *      the per-pair ratios), beside the parse-only rate. Rates are events per
 *      second of this process's CPU time (CLOCK_PROCESS_CPUTIME_ID), which a
 *      shared, loaded machine does not distort; wall-clock rates are shown too.
 *      The bounds pass (peak live, Belady) is run once and not timed;
 *   2. the replayer's peak RSS (a forked child per run, getrusage) against the
 *      trace length at a fixed live set (flat if replay streams) and against
 *      the number of live allocations.
 * Usage: replay_bench [--events N] [--runs R] [--policy NAME] [--no-rss]
 *        replay_bench --write-trace PATH [--events N] [--batch B]  (writes the trace, exits) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "replay.h"
#include "trace.h"

#define BLOCK UINT64_C(1310720) /* 16 tokens of Llama-3-70B TP=4 bf16 */

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct request {
    uint64_t id, tokens, left; /* tokens so far, output tokens still to come */
    uint64_t *blocks;
    size_t n, cap;
} request;

typedef struct gen {
    vtrace_writer *w;
    uint64_t next_id, events, ts;
    int failed;
} gen;

static void put(gen *g, vtrace_event ev)
{
    ev.ts_us = g->ts;
    if (vtrace_write(g->w, &ev))
        g->failed = 1;
    g->events++;
}

static uint64_t put_alloc(gen *g, uint64_t size, vram_kind kind, int prio)
{
    uint64_t id = ++g->next_id;
    put(g, (vtrace_event){.type = VTRACE_ALLOC, .id = id, .size = size, .kind = kind,
                          .priority = prio});
    return id;
}

static void put_id(gen *g, vtrace_type t, uint64_t id) { put(g, (vtrace_event){.type = t, .id = id}); }

static int add_block(gen *g, request *r)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        uint64_t *b = realloc(r->blocks, cap * sizeof *b);
        if (!b)
            return 0;
        r->blocks = b;
        r->cap = cap;
    }
    r->blocks[r->n++] = put_alloc(g, BLOCK, VRAM_KIND_KV, 10);
    return 1;
}

static int admit(gen *g, request *r, uint64_t *seed, uint64_t *next_req)
{
    r->id = ++*next_req;
    r->tokens = 100 + rng(seed) % 1900;
    r->left = 50 + rng(seed) % 450;
    r->n = 0;
    put_id(g, VTRACE_REQUEST_BEGIN, r->id);
    for (uint64_t t = 0; t < r->tokens; t += 16)
        if (!add_block(g, r))
            return 0;
    return 1;
}

static void retire(gen *g, request *r)
{
    for (size_t i = 0; i < r->n; i++)
        put_id(g, VTRACE_FREE, r->blocks[i]);
    put_id(g, VTRACE_REQUEST_END, r->id);
}

/* Writes about `events` events with `batch` running requests; 0 on failure. */
static int generate(const char *path, uint64_t events, unsigned batch, uint64_t seed)
{
    vtrace_header h;
    memset(&h, 0, sizeof h);
    h.version = VTRACE_VERSION;
    snprintf(h.model, sizeof h.model, "synthetic llama-3-70b tp=4 bf16");
    snprintf(h.engine, sizeof h.engine, "paged");
    h.capacity = UINT64_C(80) << 30;
    h.kv_block_bytes = BLOCK;
    snprintf(h.source, sizeof h.source, "bench/replay_bench.c seed %" PRIu64, seed);
    snprintf(h.licence, sizeof h.licence, "CC0-1.0");
    gen g = {0};
    if (vtrace_writer_open(path, &h, &g.w))
        return 0;
    vtrace_event acq = {.type = VTRACE_SHARED_ACQUIRE, .size = UINT64_C(1) << 30, .priority = 100};
    snprintf(acq.key, sizeof acq.key, "base:embed");
    put(&g, acq);
    uint64_t weights[80];
    for (int i = 0; i < 80; i++)
        weights[i] = put_alloc(&g, UINT64_C(400) << 20, VRAM_KIND_WEIGHT, 100);
    request *reqs = calloc(batch, sizeof *reqs);
    if (!reqs)
        return 0;
    uint64_t next_req = 0, step = 0;
    int ok = 1;
    for (unsigned i = 0; i < batch && ok; i++)
        ok = admit(&g, &reqs[i], &seed, &next_req);
    while (ok && g.events < events) {
        g.ts += 20000;
        put_id(&g, VTRACE_STEP, ++step);
        uint64_t act = put_alloc(&g, (UINT64_C(1) << 20) * (1 + rng(&seed) % 64),
                                 VRAM_KIND_ACTIVATION, 50);
        uint64_t ws = put_alloc(&g, UINT64_C(16) << 20, VRAM_KIND_WORKSPACE, 50);
        for (unsigned i = 0; i < batch && ok; i++) {
            request *r = &reqs[i];
            if (r->tokens++ % 16 == 0)
                ok = add_block(&g, r);
            put_id(&g, VTRACE_USE, r->blocks[r->n - 1]);
            if (--r->left == 0) {
                retire(&g, r);
                ok = ok && admit(&g, r, &seed, &next_req);
            }
        }
        put_id(&g, VTRACE_FREE, act);
        put_id(&g, VTRACE_FREE, ws);
    }
    for (unsigned i = 0; i < batch; i++) {
        retire(&g, &reqs[i]);
        free(reqs[i].blocks);
    }
    free(reqs);
    for (int i = 0; i < 80; i++)
        put_id(&g, VTRACE_FREE, weights[i]);
    vtrace_event rel = {.type = VTRACE_SHARED_RELEASE};
    snprintf(rel.key, sizeof rel.key, "base:embed");
    put(&g, rel);
    return vtrace_writer_close(g.w) == VRAM_OK && ok && !g.failed;
}

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu_s(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Events per CPU second of parsing alone. */
static double parse_rate(const char *path)
{
    vtrace_reader *r;
    char err[256];
    if (vtrace_open(path, &r, err, sizeof err))
        return 0;
    double t0 = cpu_s();
    vtrace_event ev;
    uint64_t n = 0;
    while (vtrace_next(r, &ev) == 1)
        n++;
    double s = cpu_s() - t0;
    vtrace_close(r);
    return (double)n / s;
}

typedef struct rate {
    double cpu, wall; /* events per second of CPU time, of wall time */
} rate;

static void remove_db(const char *path)
{
    char p[512];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* One timed replay (the whole call: open, parse, replay, log); 0 rates on
 * failure. The trace's checksum is computed once per trace, as `replay` does. */
static rate replay_rate(const char *trace, const char *policy, const vbounds *b,
                        const char *db_path, uint64_t time_every, uint64_t *events)
{
    static char crc[9], crc_of[256];
    static uint64_t bytes;
    if (db_path && strcmp(crc_of, trace) != 0) {
        vreplay_trace_crc32(trace, crc, &bytes);
        snprintf(crc_of, sizeof crc_of, "%s", trace);
    }
    rate none = {0, 0};
    vdb *db = NULL;
    char err[512];
    if (db_path) {
        remove_db(db_path);
        if (vdb_open(db_path, &db, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return none;
        }
    }
    static vreplay_result res;
    vreplay_options o;
    memset(&o, 0, sizeof o);
    o.trace_path = trace;
    o.policy = policy;
    o.sample_every = 1000;
    o.time_every = time_every;
    o.bounds = b;
    o.db = db;
    o.trace_crc32 = crc;
    o.trace_bytes = bytes;
    double t0 = now_s(), c0 = cpu_s();
    vram_status st = vreplay_run(&o, &res);
    if (db && vdb_close(db, err, sizeof err))
        st = VRAM_EIO;
    double s = now_s() - t0, c = cpu_s() - c0;
    if (db_path)
        remove_db(db_path);
    if (st || res.status != VREPLAY_RUN_OK) {
        if (res.status != VREPLAY_RUN_NOT_APPLICABLE)
            fprintf(stderr, "%s: %s %s\n", policy, vram_strerror(st), res.message);
        return none;
    }
    *events = res.events;
    return (rate){(double)res.events / c, (double)res.events / s};
}

static void throughput(const char *trace, const char *only, int runs)
{
    char db_path[64], err[512];
    snprintf(db_path, sizeof db_path, "/tmp/replay_bench_%d.db", (int)getpid());
    vbounds b;
    if (vbounds_compute(trace, 0, 0, &b, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    printf("parse only: %.2f M events/CPU-s\n\n", parse_rate(trace) / 1e6);
    printf("| policy | events | M events/CPU-s, no log | M events/CPU-s, SQLite | logging cost |"
           " M events/wall-s, no log / SQLite | M events/CPU-s, no log, 1 call in 16 timed |\n");
    printf("|---|---|---|---|---|---|---|\n");
    for (const char *const *p = vram_heap_policy_names; *p; p++) {
        if (only && strcmp(only, *p) != 0)
            continue;
        double plain[32], logged[32], ratio[32], wplain[32], wlogged[32], sparse[32];
        uint64_t events = 0;
        int n = 0;
        for (; n < runs; n++) {
            rate a = replay_rate(trace, *p, &b, NULL, 1, &events);
            rate l = replay_rate(trace, *p, &b, db_path, 1, &events);
            rate t = replay_rate(trace, *p, &b, NULL, 16, &events);
            if (a.cpu == 0 || l.cpu == 0 || t.cpu == 0)
                break;
            sparse[n] = t.cpu;
            plain[n] = a.cpu;
            logged[n] = l.cpu;
            wplain[n] = a.wall;
            wlogged[n] = l.wall;
            ratio[n] = a.cpu / l.cpu - 1; /* extra CPU time per event with logging */
        }
        if (n < runs) {
            printf("| %s | - | n/a | n/a | - | - | - |\n", *p);
            continue;
        }
        printf("| %s | %" PRIu64 " | %.2f | %.2f | %+.1f%% | %.2f / %.2f | %.2f |\n", *p, events,
               median(plain, n) / 1e6, median(logged, n) / 1e6, 100 * median(ratio, n),
               median(wplain, n) / 1e6, median(wlogged, n) / 1e6, median(sparse, n) / 1e6);
    }
}

/* Peak RSS (KiB) of a child that replays the trace once (bestfit, no log),
 * after computing the bounds with Belady when `bounds` is set. */
static long child_rss(const char *trace, int bounds)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        uint64_t events;
        vbounds b;
        char err[256];
        if (bounds && vbounds_compute(trace, 0, 1, &b, err, sizeof err))
            _exit(1);
        _exit(replay_rate(trace, "bestfit", NULL, NULL, 1, &events).cpu > 0 ? 0 : 1);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
        return -1;
    return ru.ru_maxrss;
}

static void rss_table(const char *dir)
{
    char path[256];
    snprintf(path, sizeof path, "%s/replay_bench_rss_%d.trace", dir, (int)getpid());
    printf("\nPeak RSS of one replay (bestfit, no log; forked child, getrusage), alone and after"
           " the bounds pass with Belady:\n\n");
    printf("| trace events | running requests | live allocations (about) | peak RSS MiB |"
           " with bounds MiB |\n");
    printf("|---|---|---|---|---|\n");
    const struct {
        uint64_t events;
        unsigned batch;
    } cases[] = {{250000, 64}, {1000000, 64}, {4000000, 64}, {1000000, 16}, {1000000, 256},
                 {1000000, 1024}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!generate(path, cases[i].events, cases[i].batch, 1)) {
            fprintf(stderr, "cannot write %s\n", path);
            return;
        }
        long kib = child_rss(path, 0), with_bounds = child_rss(path, 1);
        /* each running request holds its prompt (100-2000 tokens) plus output, in 16-token blocks */
        printf("| %" PRIu64 " | %u | %u | %.1f | %.1f |\n", cases[i].events, cases[i].batch,
               cases[i].batch * 70 + 82, (double)kib / 1024, (double)with_bounds / 1024);
    }
    unlink(path);
}

int main(int argc, char **argv)
{
    uint64_t events = 2000000;
    int runs = 5, rss = 1;
    unsigned batch = 64;
    const char *only = NULL, *write_to = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--events") == 0 && i + 1 < argc)
            events = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--no-rss") == 0)
            rss = 0;
        else if (strcmp(argv[i], "--write-trace") == 0 && i + 1 < argc)
            write_to = argv[++i];
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            batch = (unsigned)atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: replay_bench [--events N] [--runs R] [--policy NAME] "
                            "[--no-rss]\n       replay_bench --write-trace PATH [--events N] "
                            "[--batch B]\n");
            return 2;
        }
    }
    if (write_to) {
        if (batch < 1 || !generate(write_to, events, batch, 1)) {
            fprintf(stderr, "replay_bench: cannot write %s\n", write_to);
            return 1;
        }
        return 0;
    }
    if (runs < 1 || runs > 32) {
        fprintf(stderr, "replay_bench: --runs must be 1..32\n");
        return 2;
    }
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char trace[256];
    snprintf(trace, sizeof trace, "%s/replay_bench_%d.trace", dir, (int)getpid());
    if (!generate(trace, events, 64, 1)) {
        fprintf(stderr, "replay_bench: cannot write %s\n", trace);
        return 1;
    }
    printf("synthetic paged trace: about %" PRIu64 " events, 64 running requests, %s\n", events,
           trace);
    printf("medians of %d runs; logging: sample every 1000 events, 4096 rows per transaction\n",
           runs);
    throughput(trace, only, runs);
    unlink(trace);
    if (rss)
        rss_table(dir);
    return 0;
}
