/* hist.h - a log-bucketed latency histogram (HDR-style, fixed size).
 *
 * Values below 16 have a bucket each; above, every power of two is split into
 * 16 equal buckets, so a bucket's width is at most 1/16 (6.25%) of its lower
 * bound. A percentile is reported as the upper bound of the bucket that holds
 * it, clamped to the largest value recorded: never below the true value, at
 * most 6.25% above it. Recording is O(1) and never allocates. */
#ifndef VSIM_HIST_H
#define VSIM_HIST_H

#include <stdint.h>

#define VHIST_SUB_BITS 4
#define VHIST_SUB (1u << VHIST_SUB_BITS)
/* 16 exact buckets, then 16 per power of two from 2^4 to 2^63. */
#define VHIST_BUCKETS (VHIST_SUB + (64 - VHIST_SUB_BITS) * VHIST_SUB)

typedef struct vhist {
    uint64_t count;
    uint64_t sum;   /* saturates at UINT64_MAX */
    uint64_t min;   /* UINT64_MAX while empty */
    uint64_t max;
    uint64_t buckets[VHIST_BUCKETS];
} vhist;

/* An empty histogram. Neither call can fail. */
void vhist_init(vhist *h);
/* O(1). */
void vhist_record(vhist *h, uint64_t value);
/* The bucket index of `value`, and the inclusive range [lo, hi] a bucket covers. */
unsigned vhist_bucket_of(uint64_t value);
void vhist_bucket_range(unsigned bucket, uint64_t *lo, uint64_t *hi);
/* O(buckets). The q-quantile (0 < q <= 1) as described above; 0 when empty. */
uint64_t vhist_quantile(const vhist *h, double q);

#endif
