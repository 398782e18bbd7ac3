/* fail.c - the error text of fail.h. */
#include "fail.h"

#include <stdarg.h>
#include <stdio.h>

vram_status vsim_fail(char *err, size_t errlen, vram_status st, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}
