/* evict_bench.c - ns per allocation that triggers an eviction, at 10,000 and
 * at 1,000,000 live handles, for every eviction policy; the growth ratio is
 * the scaling figure (issue 3: below 2x).
 *
 * Set-up per (heap, policy, N): a sim device without host backing (copies are
 * only counted), a heap of exactly N blocks of 4 KiB ("pool" of 4 KiB blocks:
 * the paged KV cache; "bestfit": the general heap), N host-backed handles of
 * 4 KiB filling it. Each timed step allocates one more 4 KiB handle, which
 * must evict the coldest handle (the oldest: no handle is touched, so every
 * policy picks it), then frees that evicted handle, so the number of live
 * handles stays N. Only the vram_alloc call is timed (clock_gettime around
 * it; the same overhead at every N). Median over repeated runs, the runs of
 * both sizes interleaved, after one warm-up run each.
 *
 * The heap's share is measured apart: the same heap calls an evicting
 * allocation makes (a failed alloc, stats, the free of the victim's block, the
 * alloc), timed the same way on a bare heap of N blocks. The manager's own
 * cost is the difference.
 *
 * usage: evict_bench [steps-per-run [runs]]   (defaults 100000 and 7) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vram/vram.h"

#define BLOCK 4096u

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

static int fail(const char *what, vram_status st)
{
    fprintf(stderr, "evict_bench: %s: %s\n", what, vram_strerror(st));
    return 1;
}

typedef struct bench {
    vram_manager *m;
    vram_handle *ring; /* live handles, oldest at head */
    uint64_t n, head;
} bench;

static int bench_open(bench *b, const char *heap, const char *policy, uint64_t n)
{
    vram_manager_config cfg = {0};
    cfg.device.capacity = n * BLOCK;
    cfg.heap_policy = heap;
    cfg.heap.block_size = BLOCK;
    cfg.evict_policy = policy;
    cfg.evict = 1;
    vram_status st = vram_manager_create(&cfg, &b->m);
    if (st)
        return fail("create", st);
    b->n = n;
    b->head = 0;
    b->ring = malloc(n * sizeof *b->ring);
    if (!b->ring)
        return fail("ring", VRAM_ENOHOST);
    vram_alloc_desc d = {.size = BLOCK, .kind = VRAM_KIND_KV, .backing = VRAM_BACKING_HOST};
    for (uint64_t i = 0; i < n; i++)
        if ((st = vram_alloc(b->m, &d, &b->ring[i])))
            return fail("fill", st);
    return 0;
}

/* One run: mean ns per evicting vram_alloc over `steps` steps. */
static int bench_run(bench *b, long steps, double *ns)
{
    vram_alloc_desc d = {.size = BLOCK, .kind = VRAM_KIND_KV, .backing = VRAM_BACKING_HOST};
    vram_manager_stats before, after;
    vram_manager_stats_get(b->m, &before);
    double total = 0;
    for (long s = 0; s < steps; s++) {
        vram_handle h;
        double t0 = now_ns();
        vram_status st = vram_alloc(b->m, &d, &h);
        total += now_ns() - t0;
        if (st)
            return fail("evicting alloc", st);
        /* the victim was the oldest handle: it holds no device bytes now */
        if ((st = vram_free(b->m, b->ring[b->head])))
            return fail("free of the victim", st);
        b->ring[b->head] = h;
        b->head = (b->head + 1) % b->n;
    }
    vram_manager_stats_get(b->m, &after);
    if (after.evictions - before.evictions != (uint64_t)steps) {
        fprintf(stderr, "evict_bench: %" PRIu64 " evictions in %ld steps\n",
                after.evictions - before.evictions, steps);
        return 1;
    }
    *ns = total / (double)steps;
    return 0;
}

static int bench_close(bench *b)
{
    char msg[256];
    vram_status st = vram_manager_check(b->m, msg, sizeof msg);
    if (st) {
        fprintf(stderr, "evict_bench: check: %s\n", msg);
        return 1;
    }
    for (uint64_t i = 0; i < b->n; i++)
        vram_free(b->m, b->ring[i]);
    vram_manager_destroy(b->m, stderr);
    free(b->ring);
    return 0;
}

typedef struct heap_bench {
    vram_heap *h;
    uint64_t *ring; /* block offsets, oldest at head */
    uint64_t n, head;
} heap_bench;

static int heap_open(heap_bench *b, const char *heap, uint64_t n)
{
    vram_heap_config cfg = {.capacity = n * BLOCK, .block_size = BLOCK};
    vram_status st = vram_heap_create(vram_heap_policy(heap), &cfg, &b->h);
    if (st)
        return fail("heap create", st);
    b->n = n;
    b->head = 0;
    b->ring = malloc(n * sizeof *b->ring);
    if (!b->ring)
        return fail("ring", VRAM_ENOHOST);
    for (uint64_t i = 0; i < n; i++)
        if ((st = vram_heap_alloc(b->h, BLOCK, 0, &b->ring[i])))
            return fail("heap fill", st);
    return 0;
}

static int heap_run(heap_bench *b, long steps, double *ns)
{
    double total = 0;
    for (long s = 0; s < steps; s++) {
        uint64_t off;
        vram_heap_stats hs;
        double t0 = now_ns();
        vram_status full = vram_heap_alloc(b->h, BLOCK, 0, &off);
        vram_heap_stats_get(b->h, &hs);
        vram_status st = vram_heap_free(b->h, b->ring[b->head]);
        if (!st)
            st = vram_heap_alloc(b->h, BLOCK, 0, &b->ring[b->head]);
        total += now_ns() - t0;
        if (full != VRAM_ENOMEM || st)
            return fail("heap step", st ? st : full);
        b->head = (b->head + 1) % b->n;
    }
    *ns = total / (double)steps;
    return 0;
}

/* Median ns per step of the heap calls alone, at both sizes (as measure()). */
static int measure_heap(const char *heap, long steps, int runs, double *small, double *large)
{
    heap_bench a, b;
    if (heap_open(&a, heap, 10000) || heap_open(&b, heap, 1000000))
        return 1;
    double *ra = malloc((size_t)runs * sizeof *ra), *rb = malloc((size_t)runs * sizeof *rb);
    if (!ra || !rb)
        return fail("results", VRAM_ENOHOST);
    double warm;
    if (heap_run(&a, steps, &warm) || heap_run(&b, steps, &warm))
        return 1;
    for (int r = 0; r < runs; r++)
        if (heap_run(&a, steps, &ra[r]) || heap_run(&b, steps, &rb[r]))
            return 1;
    qsort(ra, (size_t)runs, sizeof *ra, cmp_double);
    qsort(rb, (size_t)runs, sizeof *rb, cmp_double);
    *small = ra[runs / 2];
    *large = rb[runs / 2];
    free(ra);
    free(rb);
    vram_heap_destroy(a.h);
    vram_heap_destroy(b.h);
    free(a.ring);
    free(b.ring);
    return 0;
}

/* Medians for both sizes; runs alternate between them so that drifts of the
 * machine (other processes, frequency) hit both alike. The first run of each
 * is a warm-up and not counted. */
static int measure(const char *heap, const char *policy, long steps, int runs, double *small,
                   double *large)
{
    bench a, b;
    if (bench_open(&a, heap, policy, 10000) || bench_open(&b, heap, policy, 1000000))
        return 1;
    double *ra = malloc((size_t)runs * sizeof *ra), *rb = malloc((size_t)runs * sizeof *rb);
    if (!ra || !rb)
        return fail("results", VRAM_ENOHOST);
    double warm;
    if (bench_run(&a, steps, &warm) || bench_run(&b, steps, &warm))
        return 1;
    for (int r = 0; r < runs; r++)
        if (bench_run(&a, steps, &ra[r]) || bench_run(&b, steps, &rb[r]))
            return 1;
    qsort(ra, (size_t)runs, sizeof *ra, cmp_double);
    qsort(rb, (size_t)runs, sizeof *rb, cmp_double);
    *small = ra[runs / 2];
    *large = rb[runs / 2];
    free(ra);
    free(rb);
    return bench_close(&a) || bench_close(&b);
}

int main(int argc, char **argv)
{
    long steps = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    int runs = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 7;
    if (steps <= 0 || runs <= 0 || argc > 3) {
        fprintf(stderr, "usage: evict_bench [steps-per-run [runs]] (positive numbers)\n");
        return 2;
    }
    printf("| heap | eviction policy | ns per evicting alloc, 10,000 handles | 1,000,000 handles "
           "| growth | manager's own ns (total - heap calls), 10,000 | 1,000,000 | growth |\n");
    printf("|---|---|---:|---:|---:|---:|---:|---:|\n");
    static const char *const heaps[] = {"pool", "bestfit"};
    for (size_t k = 0; k < sizeof heaps / sizeof heaps[0]; k++) {
        double heap_small = 0, heap_large = 0;
        if (measure_heap(heaps[k], steps, runs, &heap_small, &heap_large))
            return 1;
        for (const char *const *p = vram_evict_policy_names; *p; p++) {
            double small = 0, large = 0;
            if (measure(heaps[k], *p, steps, runs, &small, &large))
                return 1;
            double own_small = small - heap_small, own_large = large - heap_large;
            printf("| %s | %s | %.0f | %.0f | %.2fx | %.0f | %.0f | %.2fx |\n", heaps[k], *p, small,
                   large, large / small, own_small, own_large, own_large / own_small);
        }
        printf("| %s | (heap calls alone) | %.0f | %.0f | %.2fx | | | |\n", heaps[k], heap_small,
               heap_large, heap_large / heap_small);
    }
    printf("\n(median of %d runs of %ld evicting allocations; 4 KiB blocks, sim backend)\n", runs,
           steps);
    return 0;
}
