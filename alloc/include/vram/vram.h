/* vram/vram.h - libvram, everything a user includes. */
#ifndef VRAM_VRAM_H
#define VRAM_VRAM_H

#include "vram/budget.h"
#include "vram/defrag.h"
#include "vram/device.h"
#include "vram/evict.h"
#include "vram/heap.h"
#include "vram/manager.h"
#include "vram/status.h"

#endif
