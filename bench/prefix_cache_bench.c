/* prefix_cache_bench.c - ns per block of a prefix cache's lookup + insert
 * work at 10,000 and at 1,000,000 cached blocks, for every eviction policy;
 * the growth ratio is the scaling figure (issue 12: below 1.5x).
 *
 * Set-up per (policy, N): a cache of N device blocks of 16 tokens, filled
 * with N/32 chains of 32 blocks, so every block is cached and idle. Each
 * step is one request of 32 blocks: the first 16 are the prefix of one of
 * N/256 hot documents (chosen at random: lookup hits), the other 16 are new
 * (the lookup stops at the first of them; each is allocated, which evicts
 * the policy's victim, and inserted), then all 32 are released. The cache's
 * calls (acquire, 16 allocs, 16 inserts, release) are timed per request with
 * clock_gettime; the hashes are made before (vLLM hashes a request's blocks
 * when it arrives). The figure is ns per block: a request's time / 32.
 *
 * Two paths per policy, each on its own cache fed the same request stream:
 * "single" computes the missed blocks with one alloc and one insert per block,
 * "batch" with one vram_prefix_cache_alloc_n and one _insert_n per request
 * (the victims' and index lines requested together; the same blocks, the
 * same evictions).
 *
 * Warm: the caches as the workload leaves them; the runs of both sizes and
 * both paths interleaved after one warm-up run each, the median of the runs. Cold: 64
 * MiB written before each timed request, so the request's metadata comes from
 * memory: its ratio counts the cache lines a block touches, i.e. the
 * algorithm's growth; median over the requests.
 *
 * The last row is the memory floor, measured the same way: per block, one
 * read-modify-write of a random 64-byte record among N (at 10k they fit in
 * the L2 cache, at 1M they are 64 MB): how much the memory hierarchy alone
 * grows from one size to the other (heap_bench has the same row).
 *
 * usage: prefix_cache_bench [requests-per-run [runs [cold-requests]]]
 *        (defaults 100000, 5 and 1000) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vram/vram.h"

#define CHAIN 32
#define SHARED 16
#define COLD_BYTES (64u << 20)

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct bench {
    vram_prefix_cache *pc;
    uint64_t n, ndocs;
    uint64_t *docs; /* [ndocs][SHARED] hashes of the hot prefixes */
    uint64_t rng;
    uint64_t hits, blocks;
    int batch; /* the missed blocks by alloc_n + insert_n */
} bench;

static int fail(const char *what, vram_status st)
{
    fprintf(stderr, "prefix_cache_bench: %s: %s\n", what, vram_strerror(st));
    return 1;
}

/* The chain of the next request: a hot prefix, then new blocks. Chains are
 * made of real chained hashes for the prefix; the new blocks get distinct
 * random keys (a new block never repeats, so the hash function's cost is not
 * what is measured). */
static void next_chain(bench *b, uint64_t *chain)
{
    uint64_t d = mix(&b->rng) % b->ndocs;
    memcpy(chain, &b->docs[d * SHARED], SHARED * sizeof *chain);
    for (int i = SHARED; i < CHAIN; i++)
        chain[i] = mix(&b->rng) | 1;
}

/* One request through the cache; its time in ns. */
static int request(bench *b, const uint64_t *chain, double *ns)
{
    uint32_t blocks[CHAIN];
    size_t hits;
    int cached;
    double t0 = now_ns();
    vram_status st = vram_prefix_cache_acquire(b->pc, chain, CHAIN, 0, blocks, &hits);
    if (!st && b->batch && hits < CHAIN) {
        size_t got;
        st = vram_prefix_cache_alloc_n(b->pc, CHAIN - hits, blocks + hits, &got);
        if (!st)
            st = vram_prefix_cache_insert_n(b->pc, blocks + hits,
                                            hits ? blocks[hits - 1] : VRAM_PREFIX_NONE,
                                            chain + hits, CHAIN - hits, 0, NULL);
    }
    for (size_t i = hits; i < CHAIN && !st && !b->batch; i++) {
        st = vram_prefix_cache_alloc(b->pc, &blocks[i]);
        if (!st)
            st = vram_prefix_cache_insert(b->pc, blocks[i], i ? blocks[i - 1] : VRAM_PREFIX_NONE,
                                          chain[i], 0, &cached);
    }
    if (!st)
        st = vram_prefix_cache_release(b->pc, blocks, CHAIN);
    *ns = now_ns() - t0;
    if (st)
        return fail("request", st);
    b->hits += hits;
    b->blocks += CHAIN;
    return 0;
}

static int bench_open(bench *b, const char *policy, uint64_t n, int batch)
{
    memset(b, 0, sizeof *b);
    b->batch = batch;
    vram_prefix_cache_config cfg = {.block_tokens = 16, .device_blocks = (uint32_t)n,
                                    .policy = policy};
    vram_status st = vram_prefix_cache_create(&cfg, &b->pc);
    if (st)
        return fail("create", st);
    b->n = n;
    b->rng = n;
    b->ndocs = n / 256;
    b->docs = malloc(b->ndocs * SHARED * sizeof *b->docs);
    if (!b->docs)
        return fail("docs", VRAM_ENOHOST);
    for (uint64_t d = 0; d < b->ndocs; d++) {
        uint64_t parent = VRAM_PREFIX_ROOT;
        for (int j = 0; j < SHARED; j++) {
            uint32_t tok[16];
            for (int t = 0; t < 16; t++)
                tok[t] = (uint32_t)(d * 7919 + (uint64_t)j * 16 + (uint64_t)t);
            vram_prefix_hash(parent, tok, 16, 0, &b->docs[d * SHARED + j]);
            parent = b->docs[d * SHARED + j];
        }
    }
    /* fill: n / CHAIN new chains, every block cached and idle */
    uint64_t chain[CHAIN];
    double ns;
    for (uint64_t r = 0; r < n / CHAIN; r++) {
        for (int i = 0; i < CHAIN; i++)
            chain[i] = mix(&b->rng) | 1;
        if (request(b, chain, &ns))
            return 1;
    }
    b->hits = b->blocks = 0;
    return 0;
}

static void bench_close(bench *b)
{
    vram_prefix_cache_destroy(b->pc);
    free(b->docs);
}

/* ns per block over `steps` requests. */
static int run_warm(bench *b, long steps, double *per_block)
{
    uint64_t chain[CHAIN];
    double total = 0, ns;
    for (long s = 0; s < steps; s++) {
        next_chain(b, chain);
        if (request(b, chain, &ns))
            return 1;
        total += ns;
    }
    *per_block = total / ((double)steps * CHAIN);
    return 0;
}

static volatile unsigned char *cold_buf;

static int run_cold(bench *b, long steps, double *median)
{
    double *t = malloc((size_t)steps * sizeof *t);
    if (!t)
        return fail("cold", VRAM_ENOHOST);
    uint64_t chain[CHAIN];
    for (long s = 0; s < steps; s++) {
        next_chain(b, chain);
        for (size_t i = 0; i < COLD_BYTES; i += 64)
            cold_buf[i] = (unsigned char)(i + (size_t)s);
        if (request(b, chain, &t[s])) {
            free(t);
            return 1;
        }
        t[s] /= CHAIN;
    }
    qsort(t, (size_t)steps, sizeof *t, cmp_double);
    *median = t[steps / 2];
    free(t);
    return 0;
}

/* The memory floor: per "request", CHAIN random 64-byte records among n
 * updated; ns per record, warm (median of runs) and cold (median of
 * requests, COLD_BYTES written before each). */
static int floor_row(uint64_t n, long steps, int runs, long cold_steps, double *warm,
                     double *cold)
{
    unsigned char(*rec)[64] = calloc(n, 64);
    double *t = malloc((size_t)(cold_steps > runs ? cold_steps : runs) * sizeof *t);
    if (!rec || !t) {
        free(rec);
        free(t);
        return fail("floor", VRAM_ENOHOST);
    }
    uint64_t rng = n;
    for (int r = -1; r < runs; r++) { /* run -1 warms up */
        double total = 0;
        for (long s = 0; s < steps; s++) {
            uint64_t idx[CHAIN];
            for (int i = 0; i < CHAIN; i++)
                idx[i] = mix(&rng) % n;
            double t0 = now_ns();
            for (int i = 0; i < CHAIN; i++)
                rec[idx[i]][i]++;
            total += now_ns() - t0;
        }
        if (r >= 0)
            t[r] = total / ((double)steps * CHAIN);
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    *warm = t[runs / 2];
    for (long s = 0; s < cold_steps; s++) {
        uint64_t idx[CHAIN];
        for (int i = 0; i < CHAIN; i++)
            idx[i] = mix(&rng) % n;
        for (size_t i = 0; i < COLD_BYTES; i += 64)
            cold_buf[i] = (unsigned char)(i + (size_t)s);
        double t0 = now_ns();
        for (int i = 0; i < CHAIN; i++)
            rec[idx[i]][i]++;
        t[s] = (now_ns() - t0) / CHAIN;
    }
    qsort(t, (size_t)cold_steps, sizeof *t, cmp_double);
    *cold = t[cold_steps / 2];
    free(rec);
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    long steps = argc > 1 ? atol(argv[1]) : 100000;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    long cold_steps = argc > 3 ? atol(argv[3]) : 1000;
    if (steps < 1 || runs < 1 || runs > 99 || cold_steps < 1) {
        fprintf(stderr, "usage: prefix_cache_bench [requests-per-run [runs [cold-requests]]]\n");
        return 2;
    }
    cold_buf = malloc(COLD_BYTES);
    if (!cold_buf)
        return fail("cold buffer", VRAM_ENOHOST);
    const uint64_t sizes[2] = {10000, 1000000};
    printf("prefix_cache_bench: %ld requests of %d blocks (%d shared with one of N/256 hot"
           " prefixes) per run, median of %d runs; cold: median of %ld requests\n\n",
           steps, CHAIN, SHARED, runs, cold_steps);
    printf("| policy | path | warm ns/block @10k | @1M | growth | cold ns/block @10k | @1M |"
           " growth | hit ratio @10k | @1M |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    static const char *const path_name[2] = {"single", "batch"};
    for (const char *const *p = vram_prefix_policy_names; *p; p++) {
        bench b[2][2]; /* [path][size] */
        double warm[2][2][99], cold[2][2], med[2][2], ratio[2][2];
        for (int a = 0; a < 2; a++)
            for (int k = 0; k < 2; k++) {
                double ignored;
                if (bench_open(&b[a][k], *p, sizes[k], a) ||
                    run_warm(&b[a][k], steps, &ignored))
                    return 1;
            }
        for (int r = 0; r < runs; r++)
            for (int k = 0; k < 2; k++)
                for (int a = 0; a < 2; a++)
                    if (run_warm(&b[a][k], steps, &warm[a][k][r]))
                        return 1;
        for (int k = 0; k < 2; k++)
            for (int a = 0; a < 2; a++) {
                qsort(warm[a][k], (size_t)runs, sizeof warm[a][k][0], cmp_double);
                med[a][k] = warm[a][k][runs / 2];
                ratio[a][k] = (double)b[a][k].hits / (double)b[a][k].blocks;
                if (run_cold(&b[a][k], cold_steps, &cold[a][k]))
                    return 1;
            }
        for (int a = 0; a < 2; a++)
            for (int k = 0; k < 2; k++) {
                char msg[256];
                if (vram_prefix_cache_check(b[a][k].pc, msg, sizeof msg)) {
                    fprintf(stderr, "prefix_cache_bench: check(): %s\n", msg);
                    return 1;
                }
                bench_close(&b[a][k]);
            }
        for (int a = 0; a < 2; a++)
            printf("| %s | %s | %.1f | %.1f | %.2fx | %.1f | %.1f | %.2fx | %.3f | %.3f |\n", *p,
                   path_name[a], med[a][0], med[a][1], med[a][1] / med[a][0], cold[a][0],
                   cold[a][1], cold[a][1] / cold[a][0], ratio[a][0], ratio[a][1]);
        fflush(stdout);
    }
    double fw[2], fc[2];
    for (int k = 0; k < 2; k++)
        if (floor_row(sizes[k], steps, runs, cold_steps, &fw[k], &fc[k]))
            return 1;
    printf("| (memory floor: 1 random 64 B record per block) | | %.1f | %.1f | %.2fx | %.1f | %.1f |"
           " %.2fx | | |\n", fw[0], fw[1], fw[1] / fw[0], fc[0], fc[1], fc[1] / fc[0]);
    free((void *)cold_buf);
    return 0;
}
