/* clock.h - the replay's clock for timing calls: cheap readings in ticks,
 * turned into nanoseconds only when recorded.
 *
 * Source: on x86-64 with an invariant TSC (CPUID 0x80000007 EDX bit 8, the
 * TSC runs at one rate whatever the core's frequency or sleep state) the
 * time-stamp counter, read with RDTSC, calibrated once per process against
 * CLOCK_MONOTONIC over about 20 ms; elsewhere (another architecture, a CPU
 * or hypervisor that does not report an invariant TSC) CLOCK_MONOTONIC itself,
 * where a tick is a nanosecond. RDTSC does not serialise: a reading may move
 * a few instructions against the call it brackets, which is below the
 * histogram's 6.25% bucket width for any call above ~100 cycles. Calibration
 * error is below 0.1% (20 ms against a clock with ns resolution). */
#ifndef VSIM_CLOCK_H
#define VSIM_CLOCK_H

#include <stdint.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

/* Set by vclock_init: 1 when readings are TSC ticks. */
extern int vclock__tsc;

/* Chooses the source and calibrates it; thread-safe, idempotent (the first
 * call does the work: ~20 ms with a TSC). Call before vclock_ticks. */
void vclock_init(void);

/* "tsc" or "clock_gettime": what vclock_ticks reads. */
const char *vclock_source(void);

/* A reading in ticks; only differences mean anything. */
static inline uint64_t vclock_ticks(void)
{
#if defined(__x86_64__)
    if (vclock__tsc)
        return __rdtsc();
#endif
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Nanoseconds in a difference of readings. */
uint64_t vclock_ns(uint64_t ticks);

/* Nanoseconds of CLOCK_MONOTONIC (for wall times, not per-call timing). */
uint64_t vclock_mono_ns(void);

#endif
