/* fuzz_serve.c - the closed loop (sim/engine/serve.h) over any workload: the first
 * bytes choose the heap policy, the KV style, the device (48 to 80 GiB, so
 * that the KV region runs full), the format, prefix sharing and the prefix
 * cache's eviction policy; the rest is
 * the recording (Azure CSV or Mooncake JSONL). Every run checks the engine,
 * the ledger and both managers after every step (check_every 1), for at most
 * STEPS_MAX steps (the engine's check walks every block of its KV pool's
 * prefix cache, thousands, so a long decode would outlast the fuzzer's
 * timeout); it must end cleanly, at that limit, or with the workload's
 * "fuzz.workload:LINE: ..." error, never with a violated invariant
 * (VRAM_ECORRUPT), and a finished run's ledger shares must sum to 1 and its
 * requests be finished or rejected. */
#include <signal.h>
#include <string.h>

#include "fuzz_input.h"
#include "serve.h"
#include "vram/prefix_cache.h"

#define STEPS_MAX 300

static volatile sig_atomic_t stop;

static void at_step(void *ctx, uint64_t steps)
{
    (void)ctx;
    if (steps >= STEPS_MAX)
        stop = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {data, size};
    static const char *const policies[] = {"bestfit", "buddy", "tlsf", "pool", "caching"};
    const char *policy = policies[fz_u8(&in) % 5];
    stop = 0;
    vserve_options o = {.policy = policy, .check_every = 1, .stop = &stop, .progress = at_step,
                        .progress_every = 1};
    vengine_defaults(&o.e);
    o.e.kv = (vengine_kv_style)(fz_u8(&in) % VENGINE_KV_COUNT);
    o.e.capacity = (UINT64_C(48) + fz_u8(&in) % 33) << 30;
    uint8_t flags = fz_u8(&in);
    o.e.format = flags & 1 ? VWORKLOAD_MOONCAKE : VWORKLOAD_AZURE;
    o.e.prefix_cache = !(flags & 2);
    o.e.prefix_policy = vram_prefix_policy_names[(flags >> 2) & 3];
    if (!strcmp(policy, "pool")) /* pool serves paged blocks alone */
        o.e.kv = VENGINE_KV_PAGED;
    o.e.workload = "fuzz.workload";
    o.e.workload_data = in.p;
    o.e.workload_size = in.n;
    vserve_result r;
    char err[512];
    vram_status st = vserve_run(&o, &r, err, sizeof err);
    if (st == VRAM_EBUSY && stop)
        return 0; /* checked at each of its STEPS_MAX steps */
    const char *what = vengine_kv_name(o.e.kv);
    if (st == VRAM_ECORRUPT || st == VRAM_ENOMEM)
        fz_fail("fuzz_serve", what, r.engine.steps, "%s: %s: %s", policy, vram_status_name(st), err);
    if (st == VRAM_EPARSE && strncmp(err, "fuzz.workload:", 14) != 0)
        fz_fail("fuzz_serve", what, 0, "%s: a workload error without file:line: '%s'", policy, err);
    if (!st) {
        const vserve_shares *a = &r.avg;
        double sum = a->tokens + a->reserved + a->waste + a->free_unusable + a->free_usable;
        if (r.samples && (sum < 0.999999 || sum > 1.000001))
            fz_fail("fuzz_serve", what, r.engine.steps, "%s: the ledger's shares sum to %.9f", policy, sum);
        if (r.engine.finished + r.engine.rejected != r.engine.requests)
            fz_fail("fuzz_serve", what, r.engine.steps, "%s: %llu requests, %llu finished, %llu rejected",
                    policy, (unsigned long long)r.engine.requests, (unsigned long long)r.engine.finished,
                    (unsigned long long)r.engine.rejected);
    }
    return 0;
}
