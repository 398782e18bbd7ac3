/* prefix_cache_host.c - the host tier: the keys of blocks evicted from the
 * device, in a fixed table of host_cap entries, an index by hash and a doubly
 * linked list in the order they arrived (the head is the oldest and is
 * dropped first when a new entry finds the tier full). A hit removes its
 * entry (acquire copies it back to the device), so an entry is never touched
 * in place and arrival order is also least-recent-use order. The bytes
 * themselves are not kept: the tier models where a block is and what moving
 * it costs (vram_prefix_cache_stats.host_*_ns). */
#include <stdlib.h>

#include "prefix_cache_internal.h"

vram_status vram__pc_host_create(vram_prefix_cache *pc, uint32_t cap)
{
    pc->host_cap = cap;
    pc->host_head = pc->host_tail = PC_NIL;
    if (!cap)
        return VRAM_OK;
    pc->host = calloc(cap, sizeof *pc->host);
    pc->host_free = malloc((size_t)cap * sizeof *pc->host_free);
    if (!pc->host || !pc->host_free || vram__pc_index_create(&pc->host_index, cap))
        return VRAM_ENOHOST;
    for (uint32_t i = 0; i < cap; i++)
        pc->host_free[i] = cap - 1 - i; /* slot 0 on top */
    pc->host_nfree = cap;
    return VRAM_OK;
}

void vram__pc_host_destroy(vram_prefix_cache *pc)
{
    free(pc->host);
    free(pc->host_free);
    vram__pc_index_destroy(&pc->host_index);
}

uint32_t vram__pc_host_find(const vram_prefix_cache *pc, uint64_t hash)
{
    return pc->host_cap ? vram__pc_index_find(&pc->host_index, hash) : PC_NIL;
}

void vram__pc_host_remove(vram_prefix_cache *pc, uint32_t s)
{
    pc_host *e = &pc->host[s];
    if (e->prev != PC_NIL)
        pc->host[e->prev].next = e->next;
    else
        pc->host_head = e->next;
    if (e->next != PC_NIL)
        pc->host[e->next].prev = e->prev;
    else
        pc->host_tail = e->prev;
    vram__pc_index_del(&pc->host_index, e->hash);
    *e = (pc_host){0};
    pc->host_free[pc->host_nfree++] = s;
    pc->st.host_entries--;
}

void vram__pc_host_put(vram_prefix_cache *pc, const pc_block *b)
{
    if (!pc->host_nfree) {
        vram__pc_host_remove(pc, pc->host_head);
        pc->st.host_drops++;
    }
    uint32_t s = pc->host_free[--pc->host_nfree];
    pc->host[s] = (pc_host){.hash = b->hash, .parent_hash = b->parent_hash, .hits = b->hits,
                            .depth = b->depth, .priority = b->priority,
                            .prev = pc->host_tail, .next = PC_NIL, .used = 1};
    if (pc->host_tail != PC_NIL)
        pc->host[pc->host_tail].next = s;
    else
        pc->host_head = s;
    pc->host_tail = s;
    vram__pc_index_put(&pc->host_index, b->hash, s);
    pc->st.host_entries++;
}
