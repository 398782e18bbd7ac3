/* gpu_calibrate.c - measures the device cost model's parameters
 * (docs/COST_MODEL.md, vram_cost_model) on a real GPU through the "cuda"
 * device backend, and prints each median beside the model's default.
 *
 * Measured, with clock_gettime(CLOCK_MONOTONIC), as the median of repeated
 * trials after one untimed warm-up:
 *   - vram_device_reserve / vram_device_release (cuMemAlloc / cuMemFree) of
 *     2 MiB, 20 MiB, 256 MiB and 1 GiB: segment_alloc_ns, segment_free_ns;
 *   - growable segments where the driver has the VMM API: reserve_growable
 *     and release of 1 GiB of address space, grow_segment from nothing to
 *     each size and shrink_segment back (cuMemCreate + cuMemMap per granule);
 *   - 1-byte copies (copy_latency_ns) and 64 MiB / 256 MiB copies h2d, d2h
 *     and d2d, the host side in the device's staging memory (page-locked
 *     when the driver allows), giving bandwidth = n / (median - latency), the
 *     model's form latency + n / bandwidth.
 * cuMemcpyDtoD returns before the copy ends (and so may cuMemcpyHtoD from
 * pageable memory), so every d2d copy, and every h2d copy from pageable
 * memory, is followed by a 1-byte d2h copy, which waits for it; that fence's
 * median is subtracted.
 *
 * The defaults come from a sim device (vram_device_cost_model_get), the
 * single source of the numbers. Sizes that do not fit in the free device
 * memory are reported as skipped. Ends with the measured figures as a
 * vram_cost_model initializer.
 *
 * Exit status: 0 measured, or no GPU/driver (VRAM_ENODRIVER, or a driver
 * whose cuInit finds no device): "nothing measured"; 1 any other failure;
 * 2 bad usage. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vram/vram.h"

#define MIB ((uint64_t)1 << 20)
#define GIB ((uint64_t)1 << 30)
#define MAX_TRIALS 201 /* the most trials of any measurement (full_trials) */
#define FREE_MARGIN (256 * MIB) /* device memory left free when deciding whether a size fits */
#define CUDA_ERROR_NO_DEVICE_CODE 100 /* CUresult CUDA_ERROR_NO_DEVICE (cuda.h) */

static const uint64_t seg_sizes[] = {2 * MIB, 20 * MIB, 256 * MIB, GIB};
static const uint64_t copy_sizes[] = {64 * MIB, 256 * MIB};
#define N_SEG (sizeof seg_sizes / sizeof seg_sizes[0])
#define N_COPY (sizeof copy_sizes / sizeof copy_sizes[0])

/* Trials per measurement: small segments, large segments (256 MiB and up),
 * 1-byte copies, bandwidth copies. */
typedef struct trials {
    int small, large, tiny_copy, bulk_copy;
} trials;

static const trials full_trials = {51, 11, 201, 11};
static const trials quick_trials = {5, 3, 11, 3};

/* Medians kept for the closing vram_cost_model; NAN: not measured. */
typedef struct results {
    double alloc_ns[N_SEG], free_ns[N_SEG];
    double lat_h2d, lat_d2h, lat_d2d;
    double h2d[N_COPY], d2h[N_COPY], d2d[N_COPY];
} results;

typedef struct calib {
    vram_device *dev;
    vram_cost_model model; /* the defaults */
    trials n;
    vram_hostpool *pool;
    void *host;            /* staging buffer of the largest copy size */
    int pinned;
    uint64_t dst, src;     /* device buffers for the copies (0: none) */
    uint64_t copy_max;     /* bytes of host and of each device copy buffer */
    results r;
} calib;

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

/* Sorts v in place. */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const char *size_name(uint64_t n, char *buf, size_t len)
{
    if (n >= GIB && n % GIB == 0)
        snprintf(buf, len, "%" PRIu64 " GiB", n / GIB);
    else if (n >= MIB && n % MIB == 0)
        snprintf(buf, len, "%" PRIu64 " MiB", n / MIB);
    else
        snprintf(buf, len, "%" PRIu64 " B", n);
    return buf;
}

/* Prints why a device call failed, naming the call and the bytes; returns 1. */
static int dev_fail(const calib *c, const char *call, uint64_t bytes, vram_status st)
{
    char sz[40] = "";
    if (bytes >= MIB) {
        char name[32];
        snprintf(sz, sizeof sz, " (%s)", size_name(bytes, name, sizeof name));
    }
    fprintf(stderr, "gpu_calibrate: %s of %" PRIu64 " byte%s%s failed: %s (%s)%s%s\n", call, bytes,
            bytes == 1 ? "" : "s", sz, vram_status_name(st), vram_strerror(st),
            *vram_device_errmsg(c->dev) ? ": " : "", vram_device_errmsg(c->dev));
    return 1;
}

/* ---- the table ---- */

static void table_header(void)
{
    printf("| parameter | call | median | model | measured / model |\n");
    printf("|---|---|---:|---:|---:|\n");
}

static void row_ns(const char *param, const char *call, double measured, double model)
{
    printf("| %s | %s | %.0f ns | %.0f ns | %.3g |\n", param, call, measured, model,
           measured / model);
}

static void row_gbps(const char *param, const char *call, double measured, double model)
{
    printf("| %s | %s | %.1f GB/s | %.1f GB/s | %.3g |\n", param, call, measured, model,
           measured / model);
}

static void row_skipped(const char *param, const char *call, const char *why, double model,
                        const char *unit)
{
    printf("| %s | %s | skipped: %s | %.*f %s | - |\n", param, call, why,
           strcmp(unit, "ns") == 0 ? 0 : 1, model, unit);
}

/* ---- device set-up ---- */

/* No GPU here: no loadable driver, or a driver whose cuInit finds no device
 * (the backend reports that as VRAM_EDEVICE naming the CUresult). */
static int no_gpu(vram_status st, const char *msg)
{
    char code[32];
    snprintf(code, sizeof code, "(CUresult %d)", CUDA_ERROR_NO_DEVICE_CODE);
    return st == VRAM_ENODRIVER ||
           (st == VRAM_EDEVICE && strstr(msg, "cuInit failed") && strstr(msg, code));
}

/* The model's defaults, from a sim device with a zero (= default) cost model. */
static int default_model(vram_cost_model *out)
{
    vram_device_config cfg = {.backend = "sim", .capacity = GIB};
    vram_device *sim;
    vram_status st = vram_device_create(&cfg, &sim);
    if (st) {
        fprintf(stderr, "gpu_calibrate: cannot create a sim device for the defaults: %s\n",
                vram_status_name(st));
        return 1;
    }
    vram_device_cost_model_get(sim, out);
    vram_device_destroy(sim);
    return 0;
}

/* 1: measured nothing, exit 0; -1: failed, exit 1; 0: c->dev is open. */
static int open_cuda(calib *c)
{
    char err[512] = "";
    vram_device_config cfg = {.backend = "cuda", .errbuf = err, .errbuf_len = sizeof err};
    vram_status st = vram_device_create(&cfg, &c->dev);
    if (!st)
        return 0;
    if (no_gpu(st, err)) {
        printf("gpu_calibrate: no NVIDIA GPU/driver: nothing measured\n");
        printf("gpu_calibrate: (%s: %s)\n", vram_status_name(st), err);
        return 1;
    }
    if (st == VRAM_EUNSUPPORTED)
        fprintf(stderr, "gpu_calibrate: this build has no cuda backend (cuda.h was not found when "
                        "it was configured); rebuild where the CUDA toolkit's headers are "
                        "installed: %s\n", err);
    else
        fprintf(stderr, "gpu_calibrate: cannot open the cuda device (ordinal 0): %s: %s\n",
                vram_status_name(st), err);
    return -1;
}

/* Whether `size` more device bytes fit, leaving FREE_MARGIN free. */
static int fits(calib *c, uint64_t size, char *why, size_t len)
{
    uint64_t free_b = 0, total_b = 0;
    vram_status st = vram_device_mem_info(c->dev, &free_b, &total_b);
    if (st) {
        snprintf(why, len, "mem_info failed: %s", vram_status_name(st));
        return 0;
    }
    if (free_b >= FREE_MARGIN && size <= free_b - FREE_MARGIN)
        return 1;
    snprintf(why, len, "%.2f GiB free", (double)free_b / (double)GIB);
    return 0;
}

static void print_device(calib *c)
{
    uint64_t free_b = 0, total_b = 0;
    vram_device_mem_info(c->dev, &free_b, &total_b);
    char g[32];
    printf("gpu_calibrate: cuda device 0: %.2f GiB free of %.2f GiB, granularity %s; "
           "trials per median: %d (small segments), %d (256 MiB and up), %d (1-byte copies), "
           "%d (bulk copies)\n\n",
           (double)free_b / (double)GIB, (double)total_b / (double)GIB,
           size_name(vram_device_granularity(c->dev), g, sizeof g), c->n.small, c->n.large,
           c->n.tiny_copy, c->n.bulk_copy);
}

/* ---- (a) fixed segments ---- */

static int trials_for(const calib *c, uint64_t size)
{
    return size >= 256 * MIB ? c->n.large : c->n.small;
}

static int measure_segment(calib *c, size_t i)
{
    uint64_t size = seg_sizes[i];
    char sz[32], call[64], why[64];
    size_name(size, sz, sizeof sz);
    if (!fits(c, size, why, sizeof why)) {
        snprintf(call, sizeof call, "reserve %s", sz);
        row_skipped("segment_alloc_ns", call, why, c->model.segment_alloc_ns, "ns");
        return 0;
    }
    int n = trials_for(c, size);
    double ra[MAX_TRIALS], rr[MAX_TRIALS];
    for (int t = -1; t < n; t++) { /* t == -1: the warm-up */
        uint64_t addr;
        double t0 = now_ns();
        vram_status st = vram_device_reserve(c->dev, size, &addr);
        double t1 = now_ns();
        if (st)
            return dev_fail(c, "vram_device_reserve", size, st);
        st = vram_device_release(c->dev, addr);
        double t2 = now_ns();
        if (st)
            return dev_fail(c, "vram_device_release", size, st);
        if (t >= 0) {
            ra[t] = t1 - t0;
            rr[t] = t2 - t1;
        }
    }
    c->r.alloc_ns[i] = median(ra, n);
    c->r.free_ns[i] = median(rr, n);
    snprintf(call, sizeof call, "reserve %s (cuMemAlloc)", sz);
    row_ns("segment_alloc_ns", call, c->r.alloc_ns[i], c->model.segment_alloc_ns);
    snprintf(call, sizeof call, "release %s (cuMemFree)", sz);
    row_ns("segment_free_ns", call, c->r.free_ns[i], c->model.segment_free_ns);
    return 0;
}

/* ---- (b) growable segments ---- */

/* reserve_growable + release of 1 GiB of address space. *vmm = 0 when the
 * driver has no VMM API. */
static int measure_address_space(calib *c, int *vmm)
{
    int n = c->n.small;
    double ra[MAX_TRIALS], rr[MAX_TRIALS];
    *vmm = 1;
    for (int t = -1; t < n; t++) {
        uint64_t addr;
        double t0 = now_ns();
        vram_status st = vram_device_reserve_growable(c->dev, GIB, &addr);
        double t1 = now_ns();
        if (st == VRAM_EUNSUPPORTED) {
            *vmm = 0;
            return 0;
        }
        if (st)
            return dev_fail(c, "vram_device_reserve_growable", GIB, st);
        st = vram_device_release(c->dev, addr);
        double t2 = now_ns();
        if (st)
            return dev_fail(c, "vram_device_release (growable, nothing mapped)", GIB, st);
        if (t >= 0) {
            ra[t] = t1 - t0;
            rr[t] = t2 - t1;
        }
    }
    row_ns("segment_alloc_ns", "reserve_growable 1 GiB (address space)", median(ra, n),
           c->model.segment_alloc_ns);
    row_ns("segment_free_ns", "release growable 1 GiB (nothing mapped)", median(rr, n),
           c->model.segment_free_ns);
    return 0;
}

/* grow_segment from nothing to `size`, shrink_segment back to nothing. */
static int measure_grow(calib *c, uint64_t addr, uint64_t size)
{
    char sz[32], call[64], why[64];
    size_name(size, sz, sizeof sz);
    if (!fits(c, size, why, sizeof why)) {
        snprintf(call, sizeof call, "grow_segment 0 -> %s", sz);
        row_skipped("segment_alloc_ns", call, why, c->model.segment_alloc_ns, "ns");
        return 0;
    }
    int n = trials_for(c, size);
    double rg[MAX_TRIALS], rs[MAX_TRIALS];
    for (int t = -1; t < n; t++) {
        double t0 = now_ns();
        vram_status st = vram_device_grow_segment(c->dev, addr, size);
        double t1 = now_ns();
        if (st)
            return dev_fail(c, "vram_device_grow_segment", size, st);
        st = vram_device_shrink_segment(c->dev, addr, 0);
        double t2 = now_ns();
        if (st)
            return dev_fail(c, "vram_device_shrink_segment", size, st);
        if (t >= 0) {
            rg[t] = t1 - t0;
            rs[t] = t2 - t1;
        }
    }
    snprintf(call, sizeof call, "grow_segment 0 -> %s (map)", sz);
    row_ns("segment_alloc_ns", call, median(rg, n), c->model.segment_alloc_ns);
    snprintf(call, sizeof call, "shrink_segment %s -> 0 (unmap)", sz);
    row_ns("segment_free_ns", call, median(rs, n), c->model.segment_free_ns);
    return 0;
}

static int measure_growable(calib *c, int *vmm)
{
    if (measure_address_space(c, vmm))
        return 1;
    if (!*vmm) {
        row_skipped("segment_alloc_ns", "reserve_growable / grow_segment",
                    "the driver has no VMM API (VRAM_EUNSUPPORTED)", c->model.segment_alloc_ns,
                    "ns");
        return 0;
    }
    uint64_t addr;
    vram_status st = vram_device_reserve_growable(c->dev, GIB, &addr);
    if (st)
        return dev_fail(c, "vram_device_reserve_growable", GIB, st);
    for (size_t i = 0; i < N_SEG; i++)
        if (measure_grow(c, addr, seg_sizes[i]))
            return 1;
    st = vram_device_release(c->dev, addr);
    return st ? dev_fail(c, "vram_device_release (growable)", GIB, st) : 0;
}

/* ---- (c), (d) copies ---- */

/* Device buffers src and dst and a host buffer of the largest copy size for
 * which all three fit; copy_max 0 when not even the smallest does. */
static int setup_copies(calib *c)
{
    char why[64];
    for (size_t i = N_COPY; i-- > 0;)
        if (fits(c, 2 * copy_sizes[i], why, sizeof why)) {
            c->copy_max = copy_sizes[i];
            break;
        }
    if (!c->copy_max)
        return 0;
    vram_status st = vram_device_reserve(c->dev, c->copy_max, &c->dst);
    if (st)
        return dev_fail(c, "vram_device_reserve (copy destination)", c->copy_max, st);
    st = vram_device_reserve(c->dev, c->copy_max, &c->src);
    if (st)
        return dev_fail(c, "vram_device_reserve (copy source)", c->copy_max, st);
    vram_hostpool_config pc = {.chunk_bytes = c->copy_max};
    st = vram_hostpool_create(c->dev, &pc, &c->pool);
    if (!st)
        st = vram_hostpool_get(c->pool, c->copy_max, &c->host);
    if (st) {
        fprintf(stderr, "gpu_calibrate: cannot get %" PRIu64 " bytes of host staging memory: %s\n",
                c->copy_max, vram_status_name(st));
        return 1;
    }
    vram_hostpool_stats ps;
    vram_hostpool_stats_get(c->pool, &ps);
    c->pinned = ps.pinned_chunks > 0;
    memset(c->host, 0x5a, c->copy_max); /* touches every page before the timing */
    return 0;
}

typedef enum { H2D, D2H, D2D } direction;
static const char *const dir_name[] = {"h2d", "d2h", "d2d"};

/* One copy of n bytes in direction d; h2d (unless the host side is pinned)
 * and d2d are followed by a 1-byte d2h fence. */
static vram_status copy_once(calib *c, direction d, uint64_t n)
{
    vram_status st;
    if (d == H2D)
        st = vram_device_copy_h2d(c->dev, c->dst, c->host, n);
    else if (d == D2H)
        return vram_device_copy_d2h(c->dev, c->host, c->src, n);
    else
        st = vram_device_copy_d2d(c->dev, c->dst, c->src, n);
    if (st || (d == H2D && c->pinned))
        return st;
    return vram_device_copy_d2h(c->dev, c->host, c->dst, 1);
}

static int fenced(const calib *c, direction d)
{
    return d == D2D || (d == H2D && !c->pinned);
}

/* Median ns of `count` copies of n bytes in direction d, fence included. */
static int time_copies(calib *c, direction d, uint64_t n, int count, double *out)
{
    double v[MAX_TRIALS];
    for (int t = -1; t < count; t++) {
        double t0 = now_ns();
        vram_status st = copy_once(c, d, n);
        double t1 = now_ns();
        if (st) {
            char call[64];
            snprintf(call, sizeof call, "vram_device_copy_%s%s", dir_name[d],
                     fenced(c, d) ? " (or its 1-byte d2h fence)" : "");
            return dev_fail(c, call, n, st);
        }
        if (t >= 0)
            v[t] = t1 - t0;
    }
    *out = median(v, count);
    return 0;
}

static int measure_latencies(calib *c)
{
    double *lat[] = {&c->r.lat_h2d, &c->r.lat_d2h, &c->r.lat_d2d};
    /* d2h first: it is the fence of the others. */
    static const direction order[] = {D2H, H2D, D2D};
    for (size_t k = 0; k < 3; k++) {
        direction d = order[k];
        if (time_copies(c, d, 1, c->n.tiny_copy, lat[d]))
            return 1;
        if (fenced(c, d))
            *lat[d] = fmax(*lat[d] - c->r.lat_d2h, 0);
    }
    row_ns("copy_latency_ns",
           c->pinned ? "copy_h2d 1 B" : "copy_h2d 1 B (pageable, fenced, fence subtracted)",
           c->r.lat_h2d, c->model.copy_latency_ns);
    row_ns("copy_latency_ns", "copy_d2h 1 B", c->r.lat_d2h, c->model.copy_latency_ns);
    row_ns("copy_latency_ns", "copy_d2d 1 B (fenced, fence subtracted)", c->r.lat_d2d,
           c->model.copy_latency_ns);
    return 0;
}

/* GB/s (10^9 bytes) from the median time t of n bytes, latency and fence off. */
static double gbps(double n, double t, double overhead)
{
    return n / (t > overhead ? t - overhead : t);
}

static int measure_bandwidth(calib *c, direction d, size_t i)
{
    const double model[] = {c->model.h2d_gbps, c->model.d2h_gbps, c->model.d2d_gbps};
    const double lat[] = {c->r.lat_h2d, c->r.lat_d2h, c->r.lat_d2d};
    double *res[] = {c->r.h2d, c->r.d2h, c->r.d2d};
    char param[32], sz[32], call[64];
    snprintf(param, sizeof param, "%s_gbps", dir_name[d]);
    snprintf(call, sizeof call, "copy_%s %s", dir_name[d], size_name(copy_sizes[i], sz, sizeof sz));
    if (copy_sizes[i] > c->copy_max) {
        row_skipped(param, call, "too little free device memory", model[d], "GB/s");
        return 0;
    }
    double t;
    if (time_copies(c, d, copy_sizes[i], c->n.bulk_copy, &t))
        return 1;
    double overhead = lat[d] + (fenced(c, d) ? c->r.lat_d2h : 0);
    res[d][i] = gbps((double)copy_sizes[i], t, overhead);
    if (d == H2D && !c->pinned)
        strncat(call, " (pageable)", sizeof call - strlen(call) - 1);
    row_gbps(param, call, res[d][i], model[d]);
    return 0;
}

static int measure_copies(calib *c)
{
    if (setup_copies(c))
        return 1;
    if (!c->copy_max) {
        row_skipped("copy_latency_ns, *_gbps", "every copy", "too little free device memory",
                    c->model.copy_latency_ns, "ns");
        return 0;
    }
    if (measure_latencies(c))
        return 1;
    for (int d = H2D; d <= D2D; d++)
        for (size_t i = 0; i < N_COPY; i++)
            if (measure_bandwidth(c, (direction)d, i))
                return 1;
    return 0;
}

/* ---- summary ---- */

/* The mean of the finite values among v[0..n). 0 (= the default) when none is. */
static double mean_finite(const double *v, size_t n)
{
    double sum = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            sum += v[i];
            k++;
        }
    return k ? sum / (double)k : 0;
}

/* The value at the largest size measured; 0 (= the default) when none was. */
static double largest_finite(const double *v, size_t n)
{
    for (size_t i = n; i-- > 0;)
        if (isfinite(v[i]))
            return v[i];
    return 0;
}

static void print_model(const calib *c)
{
    const results *r = &c->r;
    const double lat[] = {r->lat_h2d, r->lat_d2h};
    printf("\nhost staging memory: %s\n", !c->copy_max ? "none (no copies measured)"
                                          : c->pinned ? "page-locked (cuMemHostAlloc)"
                                                      : "pageable (cuMemHostAlloc unavailable)");
    printf("As a vram_cost_model (segments: the mean of the 2 MiB and 20 MiB medians, the sizes "
           "the policies reserve; copy latency: the mean of h2d and d2h; bandwidths: the largest "
           "size measured; 0 = not measured, keep the default):\n");
    printf("    vram_cost_model cost = {.segment_alloc_ns = %.0f, .segment_free_ns = %.0f,\n"
           "                            .copy_latency_ns = %.0f, .h2d_gbps = %.1f, "
           ".d2h_gbps = %.1f, .d2d_gbps = %.1f};\n",
           mean_finite(r->alloc_ns, 2), mean_finite(r->free_ns, 2),
           mean_finite(lat, 2), largest_finite(r->h2d, N_COPY),
           largest_finite(r->d2h, N_COPY), largest_finite(r->d2d, N_COPY));
}

/* ---- main ---- */

static void results_init(results *r)
{
    r->lat_h2d = r->lat_d2h = r->lat_d2d = NAN;
    for (size_t i = 0; i < N_SEG; i++)
        r->alloc_ns[i] = r->free_ns[i] = NAN;
    for (size_t i = 0; i < N_COPY; i++)
        r->h2d[i] = r->d2h[i] = r->d2d[i] = NAN;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gpu_calibrate [--quick] [--help]\n"
            "Measures the device cost model's parameters (docs/COST_MODEL.md) on CUDA device 0\n"
            "through the cuda backend (the driver libcuda.so.1, or VRAM_CUDA_DRIVER): segment\n"
            "reserve/release at 2 MiB, 20 MiB, 256 MiB and 1 GiB, growable segments (VMM)\n"
            "where the driver has them, 1-byte copy latency and h2d/d2h/d2d bandwidth at\n"
            "64 MiB and 256 MiB. Prints medians beside the model's defaults (markdown table)\n"
            "and the measured figures as a vram_cost_model initializer.\n"
            "  --quick   fewer trials per median (a smoke run; the figures are rougher)\n"
            "Exit status: 0 measured, or no NVIDIA GPU/driver (\"nothing measured\");\n"
            "1 a device call failed; 2 bad usage.\n");
}

static int parse_args(int argc, char **argv, int *quick)
{
    *quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(argv[i], "--quick") == 0) {
            *quick = 1;
        } else {
            fprintf(stderr, "gpu_calibrate: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return -1;
        }
    }
    return 0;
}

static int run(calib *c)
{
    print_device(c);
    table_header();
    for (size_t i = 0; i < N_SEG; i++)
        if (measure_segment(c, i))
            return 1;
    int vmm;
    if (measure_growable(c, &vmm))
        return 1;
    if (measure_copies(c))
        return 1;
    if (!vmm)
        printf("\ngrowable segments: the driver has no VMM API (VRAM_EUNSUPPORTED): not measured\n");
    print_model(c);
    return 0;
}

int main(int argc, char **argv)
{
    int quick;
    setvbuf(stdout, NULL, _IOLBF, 0); /* rows as they are measured, in order with the errors */
    if (parse_args(argc, argv, &quick))
        return 2;
    calib c = {.n = quick ? quick_trials : full_trials};
    results_init(&c.r);
    if (default_model(&c.model))
        return 1;
    int open = open_cuda(&c);
    if (open)
        return open > 0 ? 0 : 1;
    int rc = run(&c);
    fflush(stdout);
    vram_hostpool_destroy(c.pool); /* before the device it draws from */
    vram_device_destroy(c.dev);    /* releases every segment still live */
    return rc;
}
