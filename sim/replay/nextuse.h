/* nextuse.h - the next use of every reference in a trace, for Belady, with
 * memory bounded by the live items rather than by the trace length.
 *
 * The references (of an evictable item, as the caller defines them: bounds.c
 * logs its alloc, use, pin and acquire, and each `begin` of the request that
 * owns it while it is live; several may share an event index) are logged in
 * trace order to a temporary file; a backward scan of that log, with a map of
 * the items whose creation lies behind the scan (the live ones), gives each
 * reference the event index of its item's next reference; those are read back
 * in trace order. Disk: 24 bytes per reference in two tmpfile()s (removed on
 * destroy, or by the system if the process dies); memory: the live items plus
 * fixed buffers. */
#ifndef VSIM_NEXTUSE_H
#define VSIM_NEXTUSE_H

#include <signal.h>
#include <stdint.h>

#include "vram/status.h"

#define VNEXTUSE_NEVER UINT64_MAX

typedef struct vnextuse vnextuse;

/* Fails with VRAM_EIO when no temporary file can be made, VRAM_ENOHOST
 * without memory. */
vram_status vnextuse_create(vnextuse **out);
void vnextuse_destroy(vnextuse *n);

/* Logs a reference of `item` (a number unique over the trace, below 2^63) at
 * event `index`; `first` marks the item's creation (its first reference).
 * O(1) amortised; VRAM_EIO when the file cannot be written, and on every call
 * after that. */
vram_status vnextuse_log(vnextuse *n, uint64_t item, uint64_t index, int first);

/* Ends logging and computes every next use: one backward pass over the log.
 * VRAM_EIO on a read or write error, VRAM_ENOHOST without memory, VRAM_EBUSY
 * when the stop flag (vnextuse_set_stop) was seen set. */
vram_status vnextuse_finish(vnextuse *n);
/* A flag (a signal handler's; NULL: none) that vnextuse_finish looks at every
 * few thousand references and stops on. */
void vnextuse_set_stop(vnextuse *n, volatile sig_atomic_t *stop);

/* The next use (an event index, or VNEXTUSE_NEVER) of the next logged
 * reference, in logging order; VNEXTUSE_NEVER once all were read. VRAM_EIO
 * when the file cannot be read. Only after vnextuse_finish. */
vram_status vnextuse_next(vnextuse *n, uint64_t *next_use);

#endif
