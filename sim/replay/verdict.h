/* verdict.h - the policies of one workload ranked, each with one sentence of
 * why, from measures that replay's table and report's summary both show
 * (docs/METRICS.md defines each).
 *
 * The ranking, best first (vverdict_rule says it in words): runs that ended
 * ok before the others; then fewer OOMs plus forced preemptions (requests the
 * engine could not serve as planned); then the lower footprint / peak live at
 * the 3 decimals shown; then the lower modelled time at the 0.1 ms shown; then
 * the lower alloc p99 (measured, so noisy: it only breaks ties). An unknown
 * value (NaN) ranks as the worst of its measure; unknown OOMs or preemptions
 * (a version-1 trace has no preemptions) count 0. */
#ifndef VSIM_VERDICT_H
#define VSIM_VERDICT_H

#include <stddef.h>

typedef struct vverdict_run {
    const char *label;        /* the run as the tables name it */
    const char *policy;       /* its heap policy: names the mechanism in the sentence */
    const char *status;       /* "ok"; anything else is listed after the ranked runs */
    double ratio;             /* peak footprint / peak live */
    double ooms, preemptions; /* forced preemptions; NaN for a version-1 trace */
    double modelled_ms;       /* the device cost model's time, preemptions included */
    double preempt_ms;        /* of which the forced preemptions' */
    double alloc_p99_ns;
    /* At the sampled peak footprint: in use minus requested (rounding) and
     * footprint minus in use (free between blocks, or cached); NaN unknown. */
    double waste_at_peak, free_at_peak;
} vverdict_run;

/* One sentence: how the ranking is decided. */
extern const char vverdict_rule[];

/* order[0..n) = the runs' indices, best first. O(n^2). */
void vverdict_rank(const vverdict_run *runs, size_t n, size_t *order);

/* Entry k of the ranking (order from vverdict_rank), plain text without its
 * number: "bestfit: 1.000 x peak live, no OOM or forced preemption, 21.073 ms
 * modelled, alloc p99 447 ns. Freed blocks leave ... below its peak
 * footprint. Ahead of tlsf on alloc p99 (447 ns vs 463 ns)." Values are
 * printed as the report's summary prints them (ms with 3 decimals). */
void vverdict_entry(const vverdict_run *runs, const size_t *order, size_t n, size_t k,
                    char *buf, size_t len);

#endif
