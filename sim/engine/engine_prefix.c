/* engine_prefix.c - the engine's prefix block stream (traces/FORMAT.md,
 * "Prefix cache"), so that a replay can drive libvram's prefix cache with
 * another policy or capacity than the engine's: Mooncake's hash ids as a trie
 * of 512-token segments (pnode events, each node defined before the first
 * lookup that reaches it), a lookup at every admission (again after a
 * preemption, with the tokens generated before), a fill whenever a request's
 * full blocks grow. The engine's own cache (engine_blocks.c) keys its blocks
 * the same way; this stream does not change it. */
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

/* A trie node: the segment hash_id under node `parent`. */
typedef struct trie_entry {
    uint64_t parent, hash_id, node;
} trie_entry;

/* The map key of (parent, hash_id); the entry holds both, so a collision of
 * keys is detected, not merged. */
static uint64_t trie_key(uint64_t parent, uint64_t hash_id)
{
    uint64_t z = hash_id ^ (parent * 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

vram_status vengine__prefix_open(vengine *e)
{
    if (!e->sharing)
        return VRAM_OK;
    e->plan.prefix_blocks = e->plan.pool / e->plan.block_bytes;
    if (vsim_idmap_create(sizeof(trie_entry), &e->trie))
        return vengine_fail(e, VRAM_ENOHOST, "out of host memory");
    return VRAM_OK;
}

void vengine__prefix_close(vengine *e)
{
    vsim_idmap_destroy(e->trie);
}

vram_status vengine__prefix_path(vengine *e, ereq *r, const uint64_t *hash_ids, size_t n)
{
    if (!e->trie || !n)
        return VRAM_OK;
    /* the segments the prompt reaches; a last one may be partial */
    size_t reach = (size_t)vengine__ceil_div(r->prompt, SEGMENT_TOKENS);
    r->npath = n < reach ? n : reach;
    r->path_prompt = r->prompt < r->npath * SEGMENT_TOKENS ? r->prompt : r->npath * SEGMENT_TOKENS;
    r->path = malloc(r->npath * sizeof *r->path);
    if (!r->path)
        return vengine_fail(e, VRAM_ENOHOST, "out of host memory");
    memcpy(r->path, hash_ids, r->npath * sizeof *r->path);
    return VRAM_OK;
}

vram_status vengine__prefix_lookup(vengine *e, ereq *r)
{
    if (!r->npath)
        return VRAM_OK;
    uint64_t node = 0;
    for (size_t i = 0; i < r->npath; i++) {
        int created;
        trie_entry *t = vsim_idmap_put(e->trie, trie_key(node, r->path[i]), &created);
        if (!t)
            return vengine_fail(e, VRAM_ENOHOST, "out of host memory");
        if (created) {
            *t = (trie_entry){.parent = node, .hash_id = r->path[i], .node = ++e->pnodes};
            vtrace_event ev = {.type = VTRACE_PNODE, .id = t->node, .node = node, .hash = t->hash_id};
            TRY(vengine__emit(e, &ev));
        } else if (t->parent != node || t->hash_id != r->path[i]) {
            return vengine_fail(e, VRAM_ECORRUPT, "prefix trie: two segments share the key %llu",
                                (unsigned long long)trie_key(node, r->path[i]));
        }
        node = t->node;
    }
    r->filled_blocks = 0;
    vtrace_event ev = {.type = VTRACE_LOOKUP, .id = r->rid, .node = node, .prompt = r->path_prompt,
                       .tokens = r->prompt};
    return vengine__emit(e, &ev);
}

vram_status vengine__prefix_fill(vengine *e, ereq *r)
{
    uint64_t full = r->computed / e->c->block_tokens;
    if (!r->npath || full <= r->filled_blocks)
        return VRAM_OK;
    r->filled_blocks = full;
    vtrace_event ev = {.type = VTRACE_FILL, .id = r->rid, .tokens = r->computed};
    return vengine__emit(e, &ev);
}
