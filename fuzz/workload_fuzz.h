/* workload_fuzz.h - the workload readers (sim/recordings/workload.h) over any bytes: they
 * must read to the end or stop with a clean "fuzz.workload:LINE: ..." error,
 * never crash, leak or hang, and every request must satisfy the header's
 * promises: prompt and output tokens >= 1, arrivals never decreasing, lines
 * increasing, hash ids only for Mooncake and at most VWORKLOAD_HASH_MAX. */
#ifndef VRAM_WORKLOAD_FUZZ_H
#define VRAM_WORKLOAD_FUZZ_H

#include <string.h>

#include "fuzz_input.h"
#include "workload.h"

static inline int fz_workload_run(const uint8_t *data, size_t size, vworkload_format fmt, const char *target)
{
    const char *name = fmt == VWORKLOAD_AZURE ? "azure" : "mooncake";
    char err[512];
    vworkload_reader *r = NULL;
    vram_status st = vworkload_open_buffer(data, size, "fuzz.workload", fmt, &r, err, sizeof err);
    if (st) {
        if (r || strncmp(err, "fuzz.workload", 13) != 0)
            fz_fail(target, name, 0, "open: %s, error '%s'", vram_status_name(st), err);
        return 0;
    }
    vworkload_request q, prev = {0};
    uint64_t n = 0;
    int more;
    while ((more = vworkload_next(r, &q)) == 1) {
        n++;
        if (q.prompt_tokens == 0 || q.output_tokens == 0 || q.arrival_us < prev.arrival_us ||
            q.line <= prev.line || q.n_hash > VWORKLOAD_HASH_MAX ||
            (fmt == VWORKLOAD_AZURE ? q.hash_ids != NULL || q.n_hash : q.n_hash && !q.hash_ids))
            fz_fail(target, name, n,
                    "line %" PRIu64 ": prompt %" PRIu64 " output %" PRIu64 " arrival %" PRIu64 " (before %" PRIu64
                    ") hash ids %zu",
                    q.line, q.prompt_tokens, q.output_tokens, q.arrival_us, prev.arrival_us, q.n_hash);
        uint64_t sum = 0;
        for (size_t i = 0; i < q.n_hash; i++)
            sum += q.hash_ids[i]; /* every id is readable (ASan) */
        volatile uint64_t sink = sum; /* keeps the reads */
        (void)sink;
        prev = q;
    }
    if (more == -1 && strncmp(vworkload_error(r), "fuzz.workload:", 14) != 0)
        fz_fail(target, name, n, "error without file:line: '%s'", vworkload_error(r));
    vworkload_close(r);
    return 0;
}

#endif
