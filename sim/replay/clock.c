/* clock.c - source choice and TSC calibration (clock.h). */
#include "clock.h"

#include <pthread.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

int vclock__tsc;
/* ns = ticks * mult >> 32, mult = 2^32 x nanoseconds per tick (calibrated;
 * 2^32 for clock_gettime), the product taken in 128 bits. */
static uint64_t mult = UINT64_C(1) << 32;
static pthread_once_t once = PTHREAD_ONCE_INIT;

uint64_t vclock_mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

#if defined(__x86_64__)
static int invariant_tsc(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000007u)
        return 0;
    __get_cpuid(0x80000007u, &a, &b, &c, &d);
    return (d >> 8) & 1;
}
#endif

static void calibrate(void)
{
#if defined(__x86_64__)
    if (!invariant_tsc())
        return;
    uint64_t n0 = vclock_mono_ns(), t0 = __rdtsc(), n1, t1;
    do {
        n1 = vclock_mono_ns();
        t1 = __rdtsc();
    } while (n1 - n0 < 20000000u);
    if (t1 <= t0)
        return;
    mult = (uint64_t)(((unsigned __int128)(n1 - n0) << 32) / (t1 - t0));
    vclock__tsc = mult > 0;
    if (!vclock__tsc)
        mult = UINT64_C(1) << 32;
#endif
}

void vclock_init(void) { pthread_once(&once, calibrate); }

const char *vclock_source(void) { return vclock__tsc ? "tsc" : "clock_gettime"; }

uint64_t vclock_ns(uint64_t ticks)
{
    if (!vclock__tsc)
        return ticks;
    return (uint64_t)(((unsigned __int128)ticks * mult) >> 32);
}
