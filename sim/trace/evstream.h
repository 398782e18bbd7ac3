/* evstream.h - a trace parsed once: the events of a trace as a compact
 * binary stream in memory, read by any number of cursors (the bounds pass,
 * Belady, every policy's replay, at once from several threads), and dense
 * slots for the trace's ids.
 *
 * Slots: every live id has a slot, a small integer below the stream's
 * `slots` (the most ids live at once), so a consumer keeps its per-id state
 * in an array instead of a hash map. An alloc of an id that is not live takes
 * the most recently freed slot (or a new one); a free gives it back; a use,
 * pin or unpin names the id's slot. An event on an id that is not live, and
 * an alloc of a live id, carry VEVS_NO_SLOT and change nothing: the
 * consumer reports the contradiction.
 *
 * Memory: the stream holds 7-11 bytes per event (varint fields, lines and
 * timestamps as deltas, shared keys interned), 10.6 MB for the 1 M events of
 * traces/llama70b.trace. A trace whose stream would pass `limit` bytes is not
 * kept: vevs_build answers NULL, and each cursor then reads and parses the
 * file itself as it goes (the reader streams: memory stays flat in the trace
 * length, the parse is paid once per consumer). The slot assigner needs
 * memory for the live ids only.
 *
 * A trace that ends in a reader error keeps the events before it and the
 * error: a cursor gives them, then the error, as the reader would. */
#ifndef VSIM_EVSTREAM_H
#define VSIM_EVSTREAM_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "trace.h"

#define VEVS_NO_SLOT UINT32_MAX
/* The default bound on a stream kept in memory (replay --stream-memory). */
#define VEVS_LIMIT_DEFAULT ((size_t)256 << 20)

typedef struct vevs vevs;

/* Parses the trace at `path` (or the `size` bytes at `data` when data is not
 * NULL, `path` naming them in messages) into a stream of at most `limit`
 * bytes. VRAM_OK with *out set; VRAM_OK with *out NULL when the stream would
 * pass `limit` (read the trace with live cursors); otherwise the reader's
 * status with its message in err ("file: cannot open: ...", or an error on
 * the header), VRAM_EBUSY when *stop (may be NULL) became non-zero, VRAM_ENOHOST.
 * A reader error after the header is no failure: the stream ends in it. Cost:
 * one pass over the trace, O(1) expected per event. */
vram_status vevs_build(const char *path, const void *data, size_t size, size_t limit,
                       volatile sig_atomic_t *stop, vevs **out, char *err, size_t errlen);
void vevs_destroy(vevs *s);
uint64_t vevs_events(const vevs *s);
size_t vevs_memory(const vevs *s);  /* bytes held */
/* The stream's invariants: VRAM_OK, or VRAM_ECORRUPT with the first violation
 * in words (every record decodes within the buffer; lines increase and
 * timestamps never go back; slots below `slots`, key indices below the key
 * count; the events counted). O(events). */
vram_status vevs_check(const vevs *s, char *msg, size_t len);

typedef struct vevs_cursor vevs_cursor;

/* A reader of the stream `s` from its first event; or, with s NULL, of the
 * trace at path (data/size as for vevs_build) parsed as it goes, with the
 * same slots. Fails as vtrace_open (message in err), or VRAM_ENOHOST. */
vram_status vevs_open(const vevs *s, const char *path, const void *data, size_t size,
                      vevs_cursor **out, char *err, size_t errlen);
const vtrace_header *vevs_header(const vevs_cursor *c);
/* 1: *ev holds the next event (as vtrace_next gives it) and *slot its id's
 * slot (VEVS_NO_SLOT for events without one); 0: the end; -1: the trace's
 * error, see vevs_error (sticky). */
int vevs_next(vevs_cursor *c, vtrace_event *ev, uint32_t *slot);
const char *vevs_error(const vevs_cursor *c);
/* The slot of the event vevs_next gives next, without reading it: for a
 * consumer to prefetch its state; VEVS_NO_SLOT when it has none, or the
 * cursor reads a file (a live cursor does not look ahead). Cost: two varints. */
uint32_t vevs_peek_slot(const vevs_cursor *c);
/* The number of slots used so far (all of them for a stream in memory): an
 * upper bound on every slot given until then. */
uint32_t vevs_slots(const vevs_cursor *c);
void vevs_close(vevs_cursor *c);

#endif
