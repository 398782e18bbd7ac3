/* verdict.c - the ranking and its sentences. */
#include "verdict.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "units.h"

const char vverdict_rule[] =
    "Ranked by, in turn: runs that ended ok first; fewer OOMs plus forced preemptions; lower"
    " footprint / peak live (3 decimals); lower modelled time (0.1 ms); lower alloc p99"
    " (measured, noisy: it only breaks ties).";

enum { K_OK, K_FAILS, K_RATIO, K_MODELLED, K_P99, K_COUNT };
static const char *const key_name[K_COUNT] = {"status", "OOMs + forced preemptions",
                                              "footprint / peak live", "modelled time",
                                              "alloc p99"};

static double known(double v) { return isnan(v) ? 0 : v; }

/* The run's value of key k as the tables show it; lower is better. */
static double raw(const vverdict_run *r, int k)
{
    switch (k) {
    case K_OK: return strcmp(r->status, "ok") != 0;
    case K_FAILS: return known(r->ooms) + known(r->preemptions);
    case K_RATIO: return r->ratio;
    case K_MODELLED: return r->modelled_ms;
    default: return r->alloc_p99_ns;
    }
}

/* The value ranked: rounded as shown, unknown as the worst. */
static double key(const vverdict_run *r, int k)
{
    double v = raw(r, k);
    if (k == K_RATIO)
        v = round(v * 1000);
    else if (k == K_MODELLED)
        v = round(v * 10);
    return isnan(v) ? INFINITY : v;
}

/* The first key on which a and b differ (K_COUNT: none), *sign < 0 when a is better. */
static int first_difference(const vverdict_run *a, const vverdict_run *b, int *sign)
{
    for (int k = 0; k < K_COUNT; k++) {
        double x = key(a, k), y = key(b, k);
        if (x != y) {
            *sign = x < y ? -1 : 1;
            return k;
        }
    }
    *sign = 0;
    return K_COUNT;
}

void vverdict_rank(const vverdict_run *runs, size_t n, size_t *order)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    /* insertion sort: stable, so equal runs keep the tables' order */
    for (size_t i = 1; i < n; i++) {
        size_t x = order[i], j = i;
        int sign;
        while (j > 0 && (first_difference(&runs[x], &runs[order[j - 1]], &sign), sign < 0)) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = x;
    }
}

/* A key's value as the tables print it. */
static void show(const vverdict_run *r, int k, char *buf, size_t len)
{
    static const char *const fmt[K_COUNT] = {"", "%.0f", "%.3f", "%.3f ms", "%.0f ns"};
    double v = raw(r, k);
    if (k == K_OK)
        snprintf(buf, len, "%s", r->status);
    else if (isnan(v))
        snprintf(buf, len, "n/a");
    else
        snprintf(buf, len, fmt[k], v);
}

/* snprintf at the end of buf. */
static void add(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

/* Why the policy's footprint exceeds the live bytes: its mechanism
 * (docs/ARCHITECTURE.md, "Heap policies") and the larger of its rounding
 * and its free space at the sampled peak footprint. */
static void footprint_why(const vverdict_run *r, char *buf, size_t len)
{
    char b[48];
    int buddy = strcmp(r->policy, "buddy") == 0, pool = strcmp(r->policy, "pool") == 0;
    if (isnan(r->waste_at_peak) || isnan(r->free_at_peak))
        snprintf(buf, len, "Its peak footprint was not sampled.");
    else if (r->waste_at_peak >= r->free_at_peak && r->waste_at_peak > 0)
        snprintf(buf, len, "%s: %s of internal waste at its peak footprint.",
                 buddy  ? "It rounds every block up to a power of two"
                 : pool ? "Its KV pool hands out whole blocks"
                        : "It rounds requests up to its block sizes",
                 vsim_bytes(r->waste_at_peak, b, sizeof b));
    else if (r->free_at_peak > 0 && strcmp(r->policy, "caching") == 0)
        snprintf(buf, len, "It keeps freed blocks cached in its segments: %s reserved but free"
                 " at its peak footprint.", vsim_bytes(r->free_at_peak, b, sizeof b));
    else if (r->free_at_peak > 0)
        snprintf(buf, len, "Freed blocks leave holes below its highest block: %s free below its"
                 " peak footprint.", vsim_bytes(r->free_at_peak, b, sizeof b));
    else
        snprintf(buf, len, "At its peak footprint every byte below it was requested.");
}

void vverdict_entry(const vverdict_run *runs, const size_t *order, size_t n, size_t k,
                    char *buf, size_t len)
{
    const vverdict_run *r = &runs[order[k]];
    char ratio[32], fails[128], modelled[32], p99[32], why[256];
    show(r, K_RATIO, ratio, sizeof ratio);
    show(r, K_MODELLED, modelled, sizeof modelled);
    show(r, K_P99, p99, sizeof p99);
    double ooms = known(r->ooms), pre = known(r->preemptions);
    fails[0] = '\0';
    if (ooms + pre == 0)
        add(fails, sizeof fails, "no OOM or forced preemption");
    if (ooms)
        add(fails, sizeof fails, "%.0f OOM%s%s", ooms, ooms == 1 ? "" : "s", pre ? " and " : "");
    if (pre)
        add(fails, sizeof fails, "%.0f forced preemption%s (%.3f ms of the modelled time)", pre,
            pre == 1 ? "" : "s", known(r->preempt_ms));
    footprint_why(r, why, sizeof why);
    snprintf(buf, len, "%s: %s x peak live, %s, %s modelled, alloc p99 %s", r->label, ratio,
             fails, modelled, p99);
    if (strcmp(r->status, "ok") != 0)
        add(buf, len, " (%s)", r->status);
    add(buf, len, ". %s", why);
    if (n < 2)
        return;
    /* against its neighbour: the one above, or for the first the one below */
    const vverdict_run *o = &runs[order[k ? k - 1 : 1]];
    int sign, d = first_difference(r, o, &sign);
    char mine[48], theirs[48];
    if (d == K_COUNT) {
        add(buf, len, " Level with %s on every measure.", o->label);
        return;
    }
    show(r, d, mine, sizeof mine);
    show(o, d, theirs, sizeof theirs);
    add(buf, len, " %s %s on %s (%s vs %s).", k ? "Behind" : "Ahead of", o->label, key_name[d],
        mine, theirs);
}
