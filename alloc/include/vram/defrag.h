/* vram/defrag.h - compaction through handles.
 *
 * Callers hold handles, not addresses, so the manager may move a resident
 * handle: a pass walks the resident handles from the highest offset down and
 * moves each movable one into a lower heap block that fits (the heap policy
 * chooses the block; a handle is moved only when its new block starts below
 * the old one), copying through vram_device_copy_d2d, so gaps close and the
 * free space gathers at the top. Pinned and in-use (acquired) handles are not
 * moved; every other resident handle may be, including never-evicted ones.
 * On a host-backed device the contents are verified before and after each move.
 *
 * The manager's automatic compaction (vram_manager_config.defrag_on_oom) works
 * differently, for one request: it evacuates the window of consecutive heap
 * blocks (free blocks and movable handles) that spans the request with the
 * fewest bytes to move, moving those handles to blocks outside the window;
 * on a buddy heap the window is the naturally aligned block of the request's
 * power-of-two size, the only free range buddies merge into. The caching
 * policy's free blocks do not merge across segments: it may gain nothing. */
#ifndef VRAM_DEFRAG_H
#define VRAM_DEFRAG_H

#include <stdint.h>

#include "vram/manager.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vram_defrag_report {
    uint64_t candidates;          /* movable resident handles considered */
    uint64_t moves;               /* handles moved */
    uint64_t bytes_moved;         /* bytes copied device to device */
    double modelled_ns;           /* the device cost model's time for the pass */
    double frag_before, frag_after; /* 1 - largest free block / total free bytes (0: none free) */
    uint64_t largest_free_before, largest_free_after;
} vram_defrag_report;

/* One pass, moving at most byte_budget bytes (0 = no limit); `report` may be
 * NULL. Cost: O(n log n) in resident handles plus one heap allocation per
 * movable handle and the copies. Fails with VRAM_EINVAL for a NULL manager,
 * VRAM_ENOHOST when the pass's work list cannot be allocated, or the status of
 * a failed copy (VRAM_EDEVICE) or verification (VRAM_ECORRUPT): the handle
 * being moved then stays where it was, moves done before stay done. */
vram_status vram_manager_defrag(vram_manager *m, uint64_t byte_budget, vram_defrag_report *report);

#ifdef __cplusplus
}
#endif
#endif
