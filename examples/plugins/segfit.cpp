// segfit.cpp - a segregated-fit allocator as a vramlab plugin (vram/plugin.h),
// in C++17: the standard containers do the bookkeeping, and no exception ever
// crosses the C ABI (each entry catches and answers VRAM_ENOHOST).
//
// Free blocks sit in one bin per power of two of their size (bin k holds sizes
// in [2^k, 2^(k+1))), each bin ordered by (size, offset), and in a map by
// offset for merging. alloc looks in the request's bin for the smallest block
// that holds it at the alignment asked for, then in each larger bin, whose
// blocks all hold it (but for the alignment padding); the block is split, the
// padding and the rest go back as free blocks. free merges with both free
// neighbours. Used blocks are in a hash map by offset.
//
// Costs: alloc O(log n) to find the bin's candidate plus, for aligned requests,
// a scan within one bin; free O(log n). In-use sizes are rounded up to the
// minimum alignment.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <new>
#include <set>
#include <unordered_map>
#include <utility>

#include "vram/plugin.h"

namespace {

constexpr int kBins = 64;

struct SegFit {
    uint64_t capacity, min_align, in_use = 0;
    std::map<uint64_t, uint64_t> free_by_offset;            // offset -> size
    std::array<std::set<std::pair<uint64_t, uint64_t>>, kBins> bins; // (size, offset)
    std::unordered_map<uint64_t, uint64_t> used;            // offset -> size

    SegFit(uint64_t cap, uint64_t align) : capacity(cap), min_align(align)
    {
        add_free(0, cap);
    }

    static int bin_of(uint64_t size) { return 63 - __builtin_clzll(size); }
    static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

    void add_free(uint64_t off, uint64_t size)
    {
        free_by_offset.emplace(off, size);
        bins[bin_of(size)].emplace(size, off);
    }
    void remove_free(uint64_t off, uint64_t size)
    {
        free_by_offset.erase(off);
        bins[bin_of(size)].erase({size, off});
    }

    // Whether the free block (size, off) holds `bytes` at alignment `align`.
    static bool holds(uint64_t off, uint64_t size, uint64_t bytes, uint64_t align)
    {
        uint64_t start = align_up(off, align);
        return start - off < size && size - (start - off) >= bytes;
    }

    vram_status alloc(uint64_t size, uint64_t align, uint64_t *offset, uint64_t *block_size)
    {
        uint64_t bytes = align_up(size, min_align);
        for (int k = bin_of(bytes); k < kBins; k++) {
            auto &bin = bins[k];
            for (auto it = bin.lower_bound({bytes, 0}); it != bin.end(); ++it) {
                auto [fsize, foff] = *it;
                if (!holds(foff, fsize, bytes, align))
                    continue; // only the alignment padding can be short: try the next
                remove_free(foff, fsize);
                uint64_t start = align_up(foff, align), end = foff + fsize;
                if (start > foff)
                    add_free(foff, start - foff);
                if (end > start + bytes)
                    add_free(start + bytes, end - start - bytes);
                used.emplace(start, bytes);
                in_use += bytes;
                *offset = start;
                *block_size = bytes;
                return VRAM_OK;
            }
        }
        return VRAM_ENOMEM;
    }

    vram_status release(uint64_t offset)
    {
        auto u = used.find(offset);
        if (u == used.end())
            return VRAM_ENOTFOUND;
        uint64_t off = offset, size = u->second;
        used.erase(u);
        in_use -= size;
        auto next = free_by_offset.find(off + size);
        if (next != free_by_offset.end()) {
            uint64_t nsize = next->second;
            remove_free(off + size, nsize);
            size += nsize;
        }
        auto prev = free_by_offset.lower_bound(off);
        if (prev != free_by_offset.begin()) {
            --prev;
            if (prev->first + prev->second == off) {
                uint64_t poff = prev->first, psize = prev->second;
                remove_free(poff, psize);
                off = poff;
                size += psize;
            }
        }
        add_free(off, size);
        return VRAM_OK;
    }
};

vram_status sf_create(const vram_plugin_config *cfg, void **impl)
{
    try {
        *impl = new SegFit(cfg->capacity, cfg->min_align);
        return VRAM_OK;
    } catch (const std::bad_alloc &) {
        return VRAM_ENOHOST;
    }
}

void sf_destroy(void *impl) { delete static_cast<SegFit *>(impl); }

vram_status sf_alloc(void *impl, uint64_t size, uint64_t align, uint64_t *offset,
                     uint64_t *block_size)
{
    try {
        return static_cast<SegFit *>(impl)->alloc(size, align, offset, block_size);
    } catch (const std::bad_alloc &) {
        return VRAM_ENOHOST; // a split may be half done: the replay ends the run on ENOHOST
    }
}

vram_status sf_free(void *impl, uint64_t offset)
{
    try {
        return static_cast<SegFit *>(impl)->release(offset);
    } catch (const std::bad_alloc &) {
        return VRAM_ENOHOST;
    }
}

void sf_stats(const void *impl, vram_plugin_stats *out)
{
    auto *h = static_cast<const SegFit *>(impl);
    out->in_use = h->in_use;
    out->free_blocks = h->free_by_offset.size();
    out->largest_free = 0;
    for (int k = kBins - 1; k >= 0; k--)
        if (!h->bins[k].empty()) {
            out->largest_free = h->bins[k].rbegin()->first;
            break;
        }
}

// Free blocks from the map, used blocks from the hash map, merged in address
// order (used blocks are sorted here: walk is for checks, O(n log n) is fine).
vram_status sf_walk(const void *impl, vram_plugin_walk_fn fn, void *ctx)
{
    try {
        auto *h = static_cast<const SegFit *>(impl);
        std::map<uint64_t, std::pair<uint64_t, uint32_t>> all;
        for (auto [off, size] : h->free_by_offset)
            all.emplace(off, std::make_pair(size, 0u));
        for (auto [off, size] : h->used)
            all.emplace(off, std::make_pair(size, 1u));
        for (auto &[off, b] : all) {
            vram_plugin_block blk{off, b.first, b.second, 0};
            if (fn(ctx, &blk))
                break;
        }
        return VRAM_OK;
    } catch (const std::bad_alloc &) {
        return VRAM_ENOHOST;
    }
}

// Every free block is in the bin its size maps to; no two free blocks touch.
vram_status sf_check(const void *impl, char *msg, size_t msglen)
{
    auto *h = static_cast<const SegFit *>(impl);
    size_t binned = 0;
    for (int k = 0; k < kBins; k++)
        binned += h->bins[k].size();
    if (binned != h->free_by_offset.size()) {
        std::snprintf(msg, msglen, "%zu blocks in the bins, %zu free blocks", binned,
                      h->free_by_offset.size());
        return VRAM_ECORRUPT;
    }
    uint64_t prev_end = UINT64_MAX;
    for (auto [off, size] : h->free_by_offset) {
        if (!h->bins[SegFit::bin_of(size)].count({size, off})) {
            std::snprintf(msg, msglen, "free block at %llu is not in bin %d",
                          (unsigned long long)off, SegFit::bin_of(size));
            return VRAM_ECORRUPT;
        }
        if (off == prev_end) {
            std::snprintf(msg, msglen, "free blocks meet at %llu: they should have merged",
                          (unsigned long long)off);
            return VRAM_ECORRUPT;
        }
        prev_end = off + size;
    }
    return VRAM_OK;
}

const vram_plugin_ops segfit_ops = [] {
    vram_plugin_ops ops{};
    ops.version = VRAM_PLUGIN_VERSION;
    ops.size = sizeof(vram_plugin_ops);
    ops.name = "segfit";
    ops.create = sf_create;
    ops.destroy = sf_destroy;
    ops.alloc = sf_alloc;
    ops.free = sf_free;
    ops.stats = sf_stats;
    ops.walk = sf_walk;
    ops.check = sf_check;
    return ops;
}();

} // namespace

extern "C" VRAM_PLUGIN_EXPORT const vram_plugin_ops *vram_plugin_entry(uint32_t, const char *name)
{
    if (name && std::strcmp(name, "segfit") != 0)
        return nullptr;
    return &segfit_ops;
}
