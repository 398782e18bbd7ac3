/* trace_settings.c - the allocator settings a trace records (trace.h), for the
 * caching policy's default in a replay. */
#include <stdio.h>
#include <string.h>

#include "trace.h"
#include "vram/caching.h"

int vtrace_recorded_settings(const char *path, char conf[VTRACE_TEXT_MAX], vram_caching_options *out,
                             char *err, size_t errlen)
{
    conf[0] = '\0';
    vtrace_reader *r = NULL;
    char open_err[16];
    if (vtrace_open(path, &r, open_err, sizeof open_err))
        return 0; /* the replay reports the trace itself */
    const vtrace_header *h = vtrace_header_of(r);
    int got = 0;
    if (h->allocator_settings[0]) {
        char why[256] = "";
        vram_caching_options o;
        if (vram_caching_options_parse(h->allocator_settings, &o, why, sizeof why)) {
            if (err && errlen)
                snprintf(err, errlen, "%s: allocator_settings '%s': %s (give --caching-conf to "
                         "override)", path, h->allocator_settings, why);
            got = -1;
        } else {
            memcpy(conf, h->allocator_settings, VTRACE_TEXT_MAX);
            *out = o;
            got = 1;
        }
    }
    vtrace_close(r);
    return got;
}
