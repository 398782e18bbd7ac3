/* heap_bench.c - cost of one alloc+free pair per heap policy, at 1,000 and at
 * 100,000 live blocks, and how it grows between the two.
 *
 * For each registered policy whose create succeeds: pre-fill the heap to N live
 * blocks, run a warm-up, then repeatedly free a random live block and allocate
 * a new one, timing each pair (or each batch of pairs when the clock is coarse)
 * with clock_gettime(CLOCK_MONOTONIC). Sizes: a quarter are a fixed KV block
 * (2 MiB), the rest log-uniform in [256 B, 64 MiB]; "pool" gets block-sized
 * requests. The range (2^46 bytes) never runs out and is never touched. Each
 * configuration runs several times and the run with the lowest median is
 * reported (the least disturbed one on a shared machine). The seed is fixed.
 *
 * Two tables. "Warm" leaves the caches as the workload leaves them: at 100k
 * live blocks any policy's metadata outgrows the L2, so its growth includes the
 * memory hierarchy's, which the "memory floor" row (one random 64-byte record
 * among N) shows alone. "Cold" evicts the caches before each pair, so both
 * sizes pay a miss per line touched and the ratio shows how the work of the
 * algorithm (lines touched) grows. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vram/heap.h"

#define CAPACITY (UINT64_C(1) << 46)
#define KV_BLOCK (UINT64_C(2) << 20)
#define MIN_SIZE 256.0
#define MAX_SIZE (64.0 * 1024 * 1024)
#define SEED UINT64_C(0x5eed2026)
#define EVICT_MIB 64 /* cold mode: twice the L3 of this machine; less leaves metadata in it */

typedef struct bench_opts {
    int quick;
    int warm, cold;   /* which tables (neither given: both) */
    const char *only; /* one policy, or NULL for all */
} bench_opts;

typedef struct bench_result {
    double median, p99; /* ns per pair */
    int ok;
} bench_result;

/* splitmix64 */
static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t request_size(uint64_t *s, int pool)
{
    if (pool || rnd(s) % 4 == 0)
        return KV_BLOCK;
    double u = (double)(rnd(s) >> 11) / 9007199254740992.0; /* [0, 1) */
    return (uint64_t)exp(log(MIN_SIZE) + u * (log(MAX_SIZE) - log(MIN_SIZE)));
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* What one configuration is measured with. */
typedef struct bench_mode {
    uint64_t pairs;          /* timed pairs per run */
    int reps;                /* runs; the one with the lowest median is kept */
    uint64_t batch;          /* pairs per clock sample */
    unsigned char *evict;    /* cold mode: written before each sample; NULL = warm */
    size_t evict_len;
} bench_mode;

/* Writes one byte per cache line of the eviction buffer, pushing the heap's
 * metadata out of the caches (and the TLB) before the next sample. */
static void evict_caches(const bench_mode *m, uint64_t k)
{
    for (size_t i = 0; i < m->evict_len; i += 64)
        m->evict[i] = (unsigned char)(k + i);
}

/* The memory floor: one read-modify-write of a random 64-byte record among
 * `live`, timed like a pair; how much the memory hierarchy alone grows. */
static int floor_pairs(uint64_t live, const bench_mode *m, uint64_t *samples)
{
    unsigned char(*rec)[64] = calloc(live, 64);
    if (!rec)
        return -1;
    uint64_t s = SEED, warm = m->pairs / 10, nsamples = m->pairs / m->batch, t0 = 0;
    for (uint64_t k = 0; k < warm + nsamples * m->batch; k++) {
        uint64_t j = k - warm, i = rnd(&s) % live;
        if (k >= warm && j % m->batch == 0) {
            if (m->evict)
                evict_caches(m, k);
            t0 = now_ns();
        }
        *(volatile unsigned char *)&rec[i][i % 64] += 1;
        if (k >= warm && j % m->batch == m->batch - 1)
            samples[j / m->batch] = now_ns() - t0;
    }
    free(rec);
    return 0;
}

/* Pre-fills a heap to `live` blocks, warms up, then times pairs (free a random
 * live block, allocate a new one), by token as the manager does
 * (vram_heap_free_token). Only the two heap calls are timed: picking the victim
 * and the size (and the cache miss on tokens[i]) is the bench's work, done
 * before the clock starts. */
static int heap_pairs(vram_heap *h, uint64_t live, const bench_mode *m, uint64_t *samples)
{
    const char *name = vram_heap_name(h);
    int pool = strcmp(name, "pool") == 0;
    uint64_t *tokens = malloc(live * sizeof *tokens), off;
    if (!tokens)
        return -1;
    uint64_t s = SEED;
    vram_status st = VRAM_OK;
    for (uint64_t i = 0; i < live && !st; i++) {
        st = vram_heap_alloc_token(h, request_size(&s, pool), 0, &off, &tokens[i]);
        if (st)
            fprintf(stderr, "heap_bench: %s: pre-fill allocation %" PRIu64 " failed: %s\n", name,
                    i, vram_strerror(st));
    }
    uint64_t warm = m->pairs / 10, nsamples = m->pairs / m->batch, t0 = 0;
    for (uint64_t k = 0; k < warm + nsamples * m->batch && !st; k++) {
        uint64_t j = k - warm; /* the timed pair's number, once k >= warm */
        uint64_t i = rnd(&s) % live;
        uint64_t size = request_size(&s, pool), victim = tokens[i], fresh = 0;
        if (k >= warm && j % m->batch == 0) {
            if (m->evict)
                evict_caches(m, k);
            t0 = now_ns();
        }
        st = vram_heap_free_token(h, victim);
        if (!st)
            st = vram_heap_alloc_token(h, size, 0, &off, &fresh);
        if (k >= warm && j % m->batch == m->batch - 1)
            samples[j / m->batch] = now_ns() - t0;
        if (st)
            fprintf(stderr, "heap_bench: %s: pair %" PRIu64 " at %" PRIu64 " live failed: %s\n",
                    name, k, live, vram_strerror(st));
        tokens[i] = fresh;
    }
    free(tokens);
    char msg[256];
    if (!st && (st = vram_heap_check(h, msg, sizeof msg)) != VRAM_OK)
        fprintf(stderr, "heap_bench: %s: check failed after the run: %s\n", name, msg);
    return st ? -1 : 0;
}

/* One run of a policy (ops) or of the memory floor (ops NULL). Returns 0 with
 * r->ok = 0 when the policy cannot be created, -1 after printing an error. */
static int run_once(const vram_heap_ops *ops, uint64_t live, const bench_mode *m, bench_result *r)
{
    r->ok = 0;
    uint64_t nsamples = m->pairs / m->batch;
    uint64_t *samples = malloc(nsamples * sizeof *samples);
    if (!samples) {
        fprintf(stderr, "heap_bench: out of host memory\n");
        return -1;
    }
    int rc;
    if (ops) {
        vram_heap_config cfg = {.capacity = CAPACITY, .block_size = KV_BLOCK};
        vram_heap *h = NULL;
        if (vram_heap_create(ops, &cfg, &h)) {
            free(samples);
            return 0;
        }
        rc = heap_pairs(h, live, m, samples);
        vram_heap_destroy(h);
    } else {
        rc = floor_pairs(live, m, samples);
        if (rc)
            fprintf(stderr, "heap_bench: out of host memory for %" PRIu64 " records\n", live);
    }
    if (rc == 0) {
        qsort(samples, nsamples, sizeof *samples, cmp_u64);
        r->median = (double)samples[nsamples / 2] / (double)m->batch;
        r->p99 = (double)samples[nsamples * 99 / 100] / (double)m->batch;
        r->ok = 1;
    }
    free(samples);
    return rc;
}

/* The best of m->reps runs (lowest median). */
static int run_best(const vram_heap_ops *ops, uint64_t live, const bench_mode *m,
                    bench_result *best)
{
    best->ok = 0;
    for (int rep = 0; rep < m->reps; rep++) {
        bench_result r;
        if (run_once(ops, live, m, &r))
            return -1;
        if (!r.ok)
            return 0;
        if (!best->ok || r.median < best->median)
            *best = r;
    }
    return 0;
}

/* One markdown row: a policy (ops) or the memory floor (ops NULL). */
static int print_row(const char *name, const vram_heap_ops *ops, const bench_mode *m)
{
    static const uint64_t lives[2] = {1000, 100000};
    bench_result r[2];
    for (int k = 0; k < 2; k++) {
        if (run_best(ops, lives[k], m, &r[k])) {
            printf("| %s | failed (see stderr) | | | | | |\n", name);
            return -1;
        }
    }
    if (!r[0].ok || !r[1].ok)
        printf("| %s | not available (create failed) | | | | | |\n", name);
    else
        printf("| %s | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f |\n", name, r[0].median, r[0].p99,
               r[1].median, r[1].p99, r[1].median / r[0].median, r[1].p99 / r[0].p99);
    fflush(stdout);
    return 0;
}

static int print_table(const bench_mode *m, const char *only)
{
    int rc = 0;
    printf("| policy | median ns @1k | p99 ns @1k | median ns @100k | p99 ns @100k | "
           "median 100k/1k | p99 100k/1k |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    for (const char *const *name = vram_heap_policy_names; *name; name++)
        if (!only || strcmp(only, *name) == 0)
            rc |= print_row(*name, vram_heap_policy(*name), m);
    if (!only)
        rc |= print_row("(memory floor: 1 random 64 B record)", NULL, m);
    printf("\n");
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: heap_bench [--quick] [--warm] [--cold] [--policy NAME] [--help]\n"
            "Per heap policy, median and p99 ns per alloc+free pair at 1,000 and 100,000 live\n"
            "blocks (steady state: free a random live block, allocate a new one), and the\n"
            "100k/1k ratio. Sizes: 1/4 KV blocks of 2 MiB, 3/4 log-uniform 256 B..64 MiB;\n"
            "\"pool\" gets 2 MiB blocks. Fixed seed; markdown tables on stdout.\n"
            "Two tables: warm (caches as the workload leaves them) and cold (a %d MiB buffer\n"
            "is written before each pair, so every metadata access misses: the ratio then\n"
            "counts cache lines touched, i.e. the algorithm's growth, not the cache sizes).\n"
            "  --quick        fewer pairs, one run per configuration\n"
            "  --warm, --cold the tables to print (default: both)\n"
            "  --policy NAME  only this policy (bestfit, buddy, tlsf, pool, caching)\n",
            EVICT_MIB);
}

static int parse_args(int argc, char **argv, bench_opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(argv[i], "--quick") == 0) {
            o->quick = 1;
        } else if (strcmp(argv[i], "--warm") == 0) {
            o->warm = 1;
        } else if (strcmp(argv[i], "--cold") == 0) {
            o->cold = 1;
        } else if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc) {
            o->only = argv[++i];
            if (!vram_heap_policy(o->only)) {
                fprintf(stderr, "heap_bench: unknown policy '%s'\n", o->only);
                return -1;
            }
        } else {
            fprintf(stderr, "heap_bench: unknown or incomplete argument '%s'\n", argv[i]);
            usage(stderr);
            return -1;
        }
    }
    if (!o->warm && !o->cold)
        o->warm = o->cold = 1;
    return 0;
}

/* Pairs per sample: 1 when the clock resolves well below a pair's cost. */
static uint64_t choose_batch(void)
{
    struct timespec res;
    if (clock_getres(CLOCK_MONOTONIC, &res) || res.tv_sec || res.tv_nsec > 20)
        return 64;
    return 1;
}

/* What an empty timed sample costs (two clock reads), included in the figures. */
static double clock_overhead_ns(void)
{
    uint64_t v[1001];
    for (int i = 0; i < 1001; i++) {
        uint64_t t0 = now_ns();
        v[i] = now_ns() - t0;
    }
    qsort(v, 1001, sizeof v[0], cmp_u64);
    return (double)v[500];
}

int main(int argc, char **argv)
{
    bench_opts o;
    if (parse_args(argc, argv, &o))
        return 2;
    int rc = 0;
    printf("heap_bench: seed 0x%" PRIx64 ", range 2^46 bytes, clock overhead %.0f ns per sample "
           "(included in the figures)\n\n",
           SEED, clock_overhead_ns());
    if (o.warm) {
        bench_mode m = {o.quick ? 20000 : 200000, o.quick ? 1 : 3, choose_batch(), NULL, 0};
        printf("Warm: %" PRIu64 " timed pairs per run, best of %d run(s), %" PRIu64
               " pair(s) per sample.\n\n",
               m.pairs, m.reps, m.batch);
        rc |= print_table(&m, o.only);
    }
    if (o.cold) {
        bench_mode m = {o.quick ? 200 : 1000, 1, 1, NULL,
                        (size_t)EVICT_MIB << 20};
        m.evict = malloc(m.evict_len);
        if (!m.evict) {
            fprintf(stderr, "heap_bench: out of host memory for the eviction buffer\n");
            return 1;
        }
        printf("Cold: %d MiB written before each pair; %" PRIu64
               " timed pairs per run, best of %d run(s).\n\n",
               EVICT_MIB, m.pairs, m.reps);
        rc |= print_table(&m, o.only);
        free(m.evict);
    }
    return rc ? 1 : 0;
}
