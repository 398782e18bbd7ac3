/* hist.c - log-bucketed latency histogram (see hist.h for the bucket layout). */
#include "hist.h"

#include <math.h>
#include <string.h>

void vhist_init(vhist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

static unsigned floor_log2(uint64_t v) { return 63u - (unsigned)__builtin_clzll(v); }

unsigned vhist_bucket_of(uint64_t value)
{
    if (value < VHIST_SUB)
        return (unsigned)value;
    unsigned e = floor_log2(value); /* >= VHIST_SUB_BITS */
    unsigned sub = (unsigned)(value >> (e - VHIST_SUB_BITS)) & (VHIST_SUB - 1);
    return (e - VHIST_SUB_BITS + 1) * VHIST_SUB + sub;
}

void vhist_bucket_range(unsigned bucket, uint64_t *lo, uint64_t *hi)
{
    if (bucket < VHIST_SUB) {
        *lo = *hi = bucket;
        return;
    }
    unsigned e = bucket / VHIST_SUB + VHIST_SUB_BITS - 1;
    uint64_t sub = bucket % VHIST_SUB;
    uint64_t width = UINT64_C(1) << (e - VHIST_SUB_BITS);
    *lo = (VHIST_SUB + sub) * width;
    *hi = *lo + (width - 1);
}

void vhist_record(vhist *h, uint64_t value)
{
    h->count++;
    h->sum = h->sum + value < h->sum ? UINT64_MAX : h->sum + value;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
    h->buckets[vhist_bucket_of(value)]++;
}

uint64_t vhist_quantile(const vhist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (!(q > 0.0))
        return h->min;
    double want = ceil(q * (double)h->count);
    uint64_t rank = want >= (double)h->count ? h->count : (uint64_t)want;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < VHIST_BUCKETS; b++) {
        seen += h->buckets[b];
        if (seen >= rank) {
            uint64_t lo, hi;
            vhist_bucket_range(b, &lo, &hi);
            if (hi > h->max)
                hi = h->max;
            return hi < h->min ? h->min : hi;
        }
    }
    return h->max;
}
