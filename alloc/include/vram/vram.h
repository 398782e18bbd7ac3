/* vram/vram.h - libvram, everything a user includes. */
#ifndef VRAM_VRAM_H
#define VRAM_VRAM_H

#include "vram/budget.h"
#include "vram/caching.h"
#include "vram/defrag.h"
#include "vram/device.h"
#include "vram/evict.h"
#include "vram/heap.h"
#include "vram/hostpool.h"
#include "vram/manager.h"
#include "vram/prefix_cache.h"
#include "vram/status.h"
#include "vram/tensor_cache.h"

#endif
