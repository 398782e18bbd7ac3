/* fuzz_caching_conf.c - the PYTORCH_CUDA_ALLOC_CONF parser
 * (vram_caching_options_parse) on any string:
 *   - the status is VRAM_OK, VRAM_EINVAL or VRAM_EUNSUPPORTED; a failure
 *     leaves the output untouched and says why, naming the item it refused
 *     (quoted, as it appears in the string);
 *   - accepted options are in PyTorch's ranges: max_split_size 0 or a whole
 *     number of MiB above 20 MiB, expandable_segments 0 or 1, the threshold 0
 *     or in (0, 1);
 *   - printing them back in the syntax and parsing that gives the same options;
 *   - a caching heap accepts them: a few allocations and frees with check()
 *     after each, and the heap is empty at the end.
 * Input: the bytes up to the first NUL, at most 4,095 of them. */
#include <string.h>

#include "fuzz_input.h"
#include "vram/caching.h"
#include "vram/heap.h"

#define TARGET "fuzz_caching_conf"
#define MIB (UINT64_C(1) << 20)

static void fail(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "fuzz: " TARGET ": ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    __builtin_trap();
}

static int contains(const char *hay, size_t n, const char *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return 1;
    return 0;
}

static int same(const vram_caching_options *a, const vram_caching_options *b)
{
    return a->max_split_size == b->max_split_size &&
           a->expandable_segments == b->expandable_segments && a->gc_threshold == b->gc_threshold;
}

/* The options as PYTORCH_CUDA_ALLOC_CONF would spell them. */
static void print_conf(const vram_caching_options *o, char *buf, size_t len)
{
    int n = snprintf(buf, len, "expandable_segments:%s", o->expandable_segments ? "True" : "False");
    if (o->max_split_size)
        n += snprintf(buf + n, len - (size_t)n, ",max_split_size_mb:%llu",
                      (unsigned long long)(o->max_split_size / MIB));
    if (o->gc_threshold > 0)
        snprintf(buf + n, len - (size_t)n, ",garbage_collection_threshold:%.17g", o->gc_threshold);
}

static void use_in_a_heap(const vram_caching_options *o, const char *conf)
{
    vram_heap_config cfg = {.capacity = 256 * MIB, .caching = o};
    vram_heap *h = NULL;
    if (vram_heap_create(vram_heap_policy("caching"), &cfg, &h) != VRAM_OK)
        fail("\"%s\": accepted, but a caching heap refuses the options%s", conf, "");
    static const uint64_t sizes[] = {512, 3 * MIB, 1, 30 * MIB, 700 * 1024, 64 * MIB};
    uint64_t off[sizeof sizes / sizeof sizes[0]];
    char msg[256];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (vram_heap_alloc(h, sizes[i], 0, &off[i]) != VRAM_OK)
            fail("\"%s\": an allocation failed on an empty 256 MiB caching heap%s", conf, "");
        if (vram_heap_check(h, msg, sizeof msg) != VRAM_OK)
            fail("\"%s\": check after an allocation: %s", conf, msg);
    }
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i += 2)
        if (vram_heap_free(h, off[i]) != VRAM_OK || vram_heap_check(h, msg, sizeof msg))
            fail("\"%s\": a free failed or left a bad heap: %s", conf, msg);
    for (size_t i = 1; i < sizeof sizes / sizeof sizes[0]; i += 2)
        if (vram_heap_free(h, off[i]) != VRAM_OK || vram_heap_check(h, msg, sizeof msg))
            fail("\"%s\": a free failed or left a bad heap: %s", conf, msg);
    vram_heap_stats s;
    vram_heap_stats_get(h, &s);
    if (s.live_allocs || s.in_use)
        fail("\"%s\": blocks left after freeing all%s", conf, "");
    vram_heap_destroy(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char conf[4096];
    size_t n = 0;
    while (n < size && n < sizeof conf - 1 && data[n])
        n++;
    memcpy(conf, data, n);
    conf[n] = '\0';

    const vram_caching_options sentinel = {.max_split_size = 12345, .gc_threshold = 2.5};
    vram_caching_options o = sentinel;
    char err[256] = "";
    vram_status st = vram_caching_options_parse(conf, &o, err, sizeof err);
    if (st != VRAM_OK) {
        if (st != VRAM_EINVAL && st != VRAM_EUNSUPPORTED)
            fail("\"%s\": status %s", conf, vram_status_name(st));
        if (!same(&o, &sentinel))
            fail("\"%s\": refused (%s) but wrote the output", conf, err);
        /* The message starts with the refused item in quotes, a piece of the
         * string (cut short with the message when it is long). */
        size_t len = strlen(err);
        const char *q2 = len ? strchr(err + 1, '\'') : NULL;
        size_t item = q2 ? (size_t)(q2 - err - 1) : len - 1;
        if (err[0] != '\'' || (!q2 && len < sizeof err - 1) ||
            (item && !contains(conf, n, err + 1, item)))
            fail("\"%s\": the message does not quote an item of the string: %s", conf, err);
        return 0;
    }
    if ((o.max_split_size && (o.max_split_size % MIB || o.max_split_size <= 20 * MIB)) ||
        (o.expandable_segments != 0 && o.expandable_segments != 1) ||
        !(o.gc_threshold == 0 || (o.gc_threshold > 0 && o.gc_threshold < 1)))
        fail("\"%s\": accepted out of range%s", conf, "");
    char again[256];
    print_conf(&o, again, sizeof again);
    vram_caching_options o2;
    if (vram_caching_options_parse(again, &o2, err, sizeof err) != VRAM_OK || !same(&o, &o2))
        fail("\"%s\": printed back as \"%s\", parsed differently", conf, again);
    use_in_a_heap(&o, conf);
    return 0;
}
