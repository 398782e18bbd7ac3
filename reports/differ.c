/* differ.c - the settings of two runs side by side. */
#include "differ.h"

#include <stdio.h>
#include <string.h>

#include "units.h"

enum { S_POLICY, S_TRACE, S_MODEL, S_CAPACITY, S_BACKEND, S_EVICT, S_DEFRAG, S_CACHING,
       S_TENSOR_CACHE, S_PREEMPT, S_LAYOUT, S_SAMPLE, S_CHECK, S_TIME, S_VERSION, S_COUNT };
static const char *const names[S_COUNT] = {
    "policy", "trace", "model / engine", "capacity", "backend", "eviction policy", "compaction",
    "caching settings", "tensor cache", "preemption", "layout", "sample every", "check every",
    "time every", "tool version"};

/* Setting k of run r as the page shows it; unset values by their meaning. */
static void setting(const vrep_run *r, int k, char *buf, size_t len)
{
    char b[48];
    switch (k) {
    case S_POLICY: snprintf(buf, len, "%s", r->policy); break;
    case S_TRACE: snprintf(buf, len, "%s (crc32 %s)", r->trace, r->crc32); break;
    case S_MODEL: snprintf(buf, len, "%s / %s", r->model, r->engine); break;
    case S_CAPACITY: snprintf(buf, len, "%s", vsim_bytes((double)r->capacity, b, sizeof b)); break;
    case S_BACKEND: snprintf(buf, len, "%s", r->backend); break;
    case S_EVICT: snprintf(buf, len, "%s", r->evict_policy[0] ? r->evict_policy : "default"); break;
    case S_DEFRAG: snprintf(buf, len, "%s", r->defrag[0] ? r->defrag : "off"); break;
    case S_CACHING:
        snprintf(buf, len, "%s", r->caching_conf[0] ? r->caching_conf : "defaults");
        break;
    case S_TENSOR_CACHE:
        if (r->tensor_cache > 0)
            vsim_bytes((double)r->tensor_cache, buf, len);
        else
            snprintf(buf, len, "none");
        break;
    case S_PREEMPT:
        snprintf(buf, len, "%s", r->preempt_mode[0] ? r->preempt_mode : "n/a (version-1 trace)");
        break;
    case S_LAYOUT: snprintf(buf, len, "%s", r->layout[0] ? r->layout : "-"); break;
    case S_SAMPLE: snprintf(buf, len, "%lld", (long long)r->sample_every); break;
    case S_CHECK: snprintf(buf, len, "%lld", (long long)r->check_every); break;
    case S_TIME: snprintf(buf, len, "%lld", (long long)r->time_every); break;
    default: snprintf(buf, len, "%s", r->tool_version); break;
    }
}

size_t vrep_differences(const vrep_run *before, const vrep_run *after, vrep_difference *out)
{
    size_t n = 0;
    for (int k = 0; k < S_COUNT; k++) {
        vrep_difference *d = &out[n];
        setting(before, k, d->before, sizeof d->before);
        setting(after, k, d->after, sizeof d->after);
        if (strcmp(d->before, d->after) != 0) {
            d->name = names[k];
            n++;
        }
    }
    return n;
}
