/* fuzz_trace.c - the trace reader (sim/trace.c) over any bytes: it must open
 * and read to the end or stop with a clean "fuzz.trace:LINE: ..." error, never
 * crash, leak or hang, and every event it returns must satisfy
 * traces/FORMAT.md: a known type and kind, sizes 1 to 2^63-1, alignments 0 or a
 * power of two up to 2^30, keys of 1-63 printable bytes, priorities >= 0, line
 * numbers increasing, timestamps never decreasing. Gzip input is read too (a
 * seed in the corpus is gzip). */
#include <string.h>

#include "fuzz_input.h"
#include "trace.h"

#define TARGET "fuzz_trace"

static void check_key(const vtrace_event *ev, uint64_t n)
{
    size_t len = strnlen(ev->key, VTRACE_KEY_MAX);
    if (len == 0 || len >= VTRACE_KEY_MAX)
        fz_fail(TARGET, "key", n, "line %" PRIu64 ": key of %zu bytes", ev->line, len);
    for (size_t i = 0; i < len; i++)
        if (ev->key[i] < '!' || ev->key[i] > '~')
            fz_fail(TARGET, "key", n, "line %" PRIu64 ": byte %zu of the key is %d", ev->line, i, ev->key[i]);
}

static void check_event(const vtrace_event *ev, const vtrace_event *prev, uint64_t n)
{
    if ((unsigned)ev->type >= VTRACE_TYPE_COUNT)
        fz_fail(TARGET, "event", n, "type %d", (int)ev->type);
    if (ev->line <= prev->line || ev->ts_us < prev->ts_us)
        fz_fail(TARGET, "event", n, "line %" PRIu64 " after %" PRIu64 ", time %" PRIu64 " after %" PRIu64,
                ev->line, prev->line, ev->ts_us, prev->ts_us);
    switch (ev->type) {
    case VTRACE_ALLOC:
        if ((unsigned)ev->kind >= VRAM_KIND_COUNT || ev->priority < 0 || ev->size == 0 ||
            ev->size > INT64_MAX || (ev->align & (ev->align - 1)) || ev->align > (UINT64_C(1) << 30))
            fz_fail(TARGET, "alloc", n, "line %" PRIu64 ": size %" PRIu64 " align %" PRIu64 " kind %d prio %d",
                    ev->line, ev->size, ev->align, (int)ev->kind, ev->priority);
        break;
    case VTRACE_SHARED_ACQUIRE:
        if (ev->size == 0 || ev->size > INT64_MAX || ev->priority < 0)
            fz_fail(TARGET, "acquire", n, "line %" PRIu64 ": size %" PRIu64 " prio %d", ev->line, ev->size,
                    ev->priority);
        check_key(ev, n);
        break;
    case VTRACE_SHARED_RELEASE:
        check_key(ev, n);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    vtrace_reader *r = NULL;
    vram_status st = vtrace_open_buffer(data, size, "fuzz.trace", &r, err, sizeof err);
    if (st) {
        if (r || strncmp(err, "fuzz.trace", 10) != 0)
            fz_fail(TARGET, "open", 0, "%s with reader %p and error '%s'", vram_status_name(st), (void *)r, err);
        return 0;
    }
    const vtrace_header *h = vtrace_header_of(r);
    if (h->version != VTRACE_VERSION || h->capacity == 0 || h->capacity > INT64_MAX)
        fz_fail(TARGET, "header", 0, "version %d, capacity %" PRIu64, h->version, h->capacity);
    size_t mem = vtrace_memory(r);
    vtrace_event ev, prev = {0};
    uint64_t n = 0;
    int more;
    while ((more = vtrace_next(r, &ev)) == 1) {
        check_event(&ev, &prev, ++n);
        prev = ev;
        if (vtrace_memory(r) != mem)
            fz_fail(TARGET, "memory", n, "reader memory grew from %zu to %zu", mem, vtrace_memory(r));
    }
    if (more == -1 && strncmp(vtrace_error(r), "fuzz.trace:", 11) != 0)
        fz_fail(TARGET, "error", n, "error without file:line: '%s'", vtrace_error(r));
    if (more == -1 && vtrace_next(r, &ev) != -1)
        fz_fail(TARGET, "error", n, "a read after an error did not fail again");
    vtrace_close(r);
    return 0;
}
