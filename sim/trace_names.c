/* trace_names.c - the event names of the trace format. */
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
};

const char *vtrace_type_name(vtrace_type t)
{
    return (unsigned)t < VTRACE_TYPE_COUNT ? type_names[t] : "?";
}
