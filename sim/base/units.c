/* units.c - numbers for people. */
#include "units.h"

#include <stdio.h>

const char *vsim_bytes(double v, char *buf, size_t len)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (v < 1024) {
        snprintf(buf, len, "%.0f B", v);
        return buf;
    }
    int u = 0;
    for (v /= 1024; v >= 1024 && u < 3; u++)
        v /= 1024;
    snprintf(buf, len, "%.3f %s", v, units[u]);
    return buf;
}
