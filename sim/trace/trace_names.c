/* trace_names.c - the words of the trace format: event names and kind names.
 *
 * The kind words are part of the file format (traces/FORMAT.md), so they are
 * spelled here rather than taken from the library: a renamed kind in libvram
 * must not make committed traces unreadable. */
#include <stdio.h>
#include <string.h>

#include "trace.h"

static const char *const type_names[VTRACE_TYPE_COUNT] = {
    [VTRACE_ALLOC] = "alloc",
    [VTRACE_FREE] = "free",
    [VTRACE_USE] = "use",
    [VTRACE_SHARED_ACQUIRE] = "acquire",
    [VTRACE_SHARED_RELEASE] = "release",
    [VTRACE_STEP] = "step",
    [VTRACE_REQUEST_BEGIN] = "begin",
    [VTRACE_REQUEST_END] = "end",
    [VTRACE_PIN] = "pin",
    [VTRACE_UNPIN] = "unpin",
    [VTRACE_PNODE] = "pnode",
    [VTRACE_LOOKUP] = "lookup",
    [VTRACE_FILL] = "fill",
};

static const char *const kind_names[VRAM_KIND_COUNT] = {
    [VRAM_KIND_WEIGHT] = "weight",
    [VRAM_KIND_KV] = "kv",
    [VRAM_KIND_ACTIVATION] = "activation",
    [VRAM_KIND_WORKSPACE] = "workspace",
    [VRAM_KIND_ADAPTER] = "adapter",
    [VRAM_KIND_OTHER] = "other",
};

const char *vtrace_type_name(vtrace_type t)
{
    return (unsigned)t < VTRACE_TYPE_COUNT ? type_names[t] : "?";
}

const char *vtrace_need_text(vtrace_need need, uint64_t owner, char buf[21])
{
    switch (need) {
    case VTRACE_NEED_NONE:
        return "-";
    case VTRACE_NEED_ENGINE:
        return "engine";
    case VTRACE_NEED_REQUEST:
        snprintf(buf, 21, "%llu", (unsigned long long)owner);
        return buf;
    }
    return "?";
}

const char *vtrace_kind_name(vram_kind k)
{
    return (unsigned)k < VRAM_KIND_COUNT ? kind_names[k] : "?";
}

int vtrace_kind_parse(const char *word, size_t len, vram_kind *out)
{
    vram_kind k;
    switch (len) { /* each kind word has its own length */
    case 2: k = VRAM_KIND_KV; break;
    case 5: k = VRAM_KIND_OTHER; break;
    case 6: k = VRAM_KIND_WEIGHT; break;
    case 7: k = VRAM_KIND_ADAPTER; break;
    case 9: k = VRAM_KIND_WORKSPACE; break;
    case 10: k = VRAM_KIND_ACTIVATION; break;
    default: return -1;
    }
    if (memcmp(kind_names[k], word, len) != 0)
        return -1;
    *out = k;
    return 0;
}
