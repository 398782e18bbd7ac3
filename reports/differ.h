/* differ.h - the settings that differ between the two runs of a comparison,
 * which it shows first: the change under test (a caching setting, a device
 * size, a policy) and anything else that changed with it. */
#ifndef VREP_DIFFER_H
#define VREP_DIFFER_H

#include <stddef.h>

#include "runs.h"

typedef struct vrep_difference {
    const char *name;               /* "caching settings", "capacity", ... */
    char before[1100], after[1100]; /* as the runs table reads them */
} vrep_difference;

#define VREP_SETTINGS 16

/* The settings of `before` and `after` that differ, in a fixed order, into
 * out[VREP_SETTINGS]; their number (0: the same trace and settings). */
size_t vrep_differences(const vrep_run *before, const vrep_run *after, vrep_difference *out);

#endif
