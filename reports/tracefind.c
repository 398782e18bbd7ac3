/* tracefind.c - candidates for a run's trace, checked by CRC-32. */
#include "tracefind.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "paths.h"
#include "replay.h"

int vrep_trace_find(const vrep_series *s, char *path, size_t len)
{
    const vrep_run *r = &s->run;
    char dir[4096], from_db[8300];
    vsim_dir_of(vrep_db_path(s->db), dir, sizeof dir);
    snprintf(from_db, sizeof from_db, "%s/%s", dir, r->trace_rel);
    const char *const cand[] = {r->trace, r->trace_abs, r->trace_rel[0] ? from_db : ""};
    const char *changed = NULL;
    for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++) {
        if (!cand[i][0] || access(cand[i], R_OK) != 0)
            continue;
        char crc[9];
        uint64_t bytes;
        vreplay_trace_crc32(cand[i], crc, &bytes);
        if (!r->crc32[0] || strcmp(crc, r->crc32) == 0) {
            snprintf(path, len, "%s", cand[i]);
            return 1;
        }
        changed = changed ? changed : cand[i];
    }
    if (changed)
        snprintf(path, len, "the trace %.1000s has changed since the run (CRC-32 differs from %s)",
                 changed, r->crc32);
    else
        snprintf(path, len,
                 "the trace cannot be read: not at %.1000s (from here)%s%.1000s%s%.1000s",
                 r->trace, r->trace_abs[0] ? ", " : "", r->trace_abs,
                 r->trace_rel[0] ? ", " : "", r->trace_rel[0] ? from_db : "");
    return 0;
}
