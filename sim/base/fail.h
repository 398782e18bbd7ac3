/* fail.h - the bench's way to fail with a message: an error text written to
 * a caller's buffer, and TRY for a chain of calls that each return a status.
 * Internal to sim/. */
#ifndef VSIM_FAIL_H
#define VSIM_FAIL_H

#include <stddef.h>

#include "vram/status.h"

/* Writes the message to err (when err is not NULL and errlen > 0) and
 * returns st, so that `return vsim_fail(err, errlen, VRAM_EIO, ...)` reads as
 * what it does. */
vram_status vsim_fail(char *err, size_t errlen, vram_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Returns the status of x when it is not VRAM_OK. */
#define TRY(x)                                                                             \
    do {                                                                                   \
        vram_status st_ = (x);                                                             \
        if (st_)                                                                           \
            return st_;                                                                    \
    } while (0)

#endif
