/* test_plugin.c - the plugin loader (sim/replay/plugin.h): every refusal of a bad
 * plugin with its message, word for word where the words are ours (naming the
 * file and the entry), and the adapter over a good table: what the host
 * guarantees the plugin, what it derives from its shadow. The plugins are
 * tests/plugins/bad_plugin.c (one table per way of breaking the ABI, chosen
 * by NAME) and tests/plugins/no_entry.c (no entry symbol). */
#include <stdio.h>
#include <string.h>

#include "plugin.h"
#include "testlib.h"
#include "vram/heap.h"

#define expect_contains(s, sub)                                                            \
    do {                                                                                   \
        if (!strstr((s), (sub))) {                                                         \
            fprintf(stderr, "%s:%d: FAILED: \"%s\" does not contain \"%s\"\n", __FILE__,   \
                    __LINE__, (s), (sub));                                                 \
            test_failures++;                                                               \
        }                                                                                  \
    } while (0)

#define BAD VRAM_TEST_PLUGIN_BAD
#define NO_ENTRY VRAM_TEST_PLUGIN_NO_ENTRY

/* Opening spec must fail with `want` and a message equal to `text`. */
static void refused(const char *spec, vram_status want, const char *text)
{
    vplugin *p = (vplugin *)1;
    char msg[512];
    expect_status(vplugin_open(spec, &p, msg, sizeof msg), want);
    expect_true(p == NULL);
    if (strcmp(msg, text) != 0) {
        fprintf(stderr, "FAILED: %s\n  message: %s\n  wanted:  %s\n", spec, msg, text);
        test_failures++;
    }
}

static void test_refusals(void)
{
    char spec[1024], text[2048];
    /* Syntax. */
    refused("bestfit", VRAM_EINVAL, "\"bestfit\" is not plugin:PATH[:NAME]");
    refused("plugin:", VRAM_EINVAL, "\"plugin:\" names no file: plugin:PATH[:NAME]");
    refused("plugin::bump", VRAM_EINVAL, "\"plugin::bump\" names no file: plugin:PATH[:NAME]");
    snprintf(spec, sizeof spec, "plugin:%s:", BAD);
    snprintf(text, sizeof text, "\"%s\": empty NAME after the last ':'", spec);
    refused(spec, VRAM_EINVAL, text);
    /* The file. */
    refused("plugin:/no/such/libplugin.so", VRAM_ENOTFOUND,
            "/no/such/libplugin.so: cannot open the plugin: No such file or directory");
    refused("plugin:no-such-libplugin.so", VRAM_ENOTFOUND,
            "./no-such-libplugin.so: cannot open the plugin: No such file or directory");
    vplugin *p;
    char msg[512];
    expect_status(vplugin_open("plugin:" VRAM_SOURCE_DIR "/tests/data/small.trace", &p, msg,
                               sizeof msg),
                  VRAM_ENOTFOUND);
    expect_contains(msg, VRAM_SOURCE_DIR "/tests/data/small.trace: dlopen failed: ");
    /* The symbol. */
    snprintf(text, sizeof text,
             "%s: not a vramlab plugin: no symbol \"vram_plugin_entry\" (export it with"
             " VRAM_PLUGIN_EXPORT, vram/plugin.h)",
             NO_ENTRY);
    refused("plugin:" NO_ENTRY, VRAM_ENOTFOUND, text);
    /* The entry's answer. */
    snprintf(text, sizeof text,
             "%s: vram_plugin_entry returned no table (NULL) for the default allocator", BAD);
    refused("plugin:" BAD, VRAM_ENOTFOUND, text);
    snprintf(text, sizeof text, "%s: vram_plugin_entry has no allocator named \"nosuch\"", BAD);
    refused("plugin:" BAD ":nosuch", VRAM_ENOTFOUND, text);
    snprintf(text, sizeof text,
             "%s: asked for allocator \"othername\", vram_plugin_entry returned \"somebody-else\"",
             BAD);
    refused("plugin:" BAD ":othername", VRAM_ENOTFOUND, text);
    /* Version and size, checked before anything else is read. */
    snprintf(text, sizeof text, "%s: the table's version is 0: set it to VRAM_PLUGIN_VERSION (1)",
             BAD);
    refused("plugin:" BAD ":version0", VRAM_EMISMATCH, text);
    snprintf(text, sizeof text,
             "%s: the table is ABI version 2, newer than this bench's 1: rebuild the plugin"
             " against this bench's vram/plugin.h",
             BAD);
    refused("plugin:" BAD ":version2", VRAM_EMISMATCH, text);
    snprintf(text, sizeof text,
             "%s: the table is %zu bytes, too small for ABI version 1 (%zu bytes): set size to"
             " sizeof(vram_plugin_ops)",
             BAD, offsetof(vram_plugin_ops, check), VRAM_PLUGIN_OPS_V1_SIZE);
    refused("plugin:" BAD ":small", VRAM_EMISMATCH, text);
    /* The name, then each required entry. */
    snprintf(text, sizeof text, "%s: required entry \"name\" is NULL", BAD);
    refused("plugin:" BAD ":noname", VRAM_EINVAL, text);
    snprintf(text, sizeof text,
             "%s: entry \"name\" is \"bad name!\": not 1-31 characters of [A-Za-z0-9_.-]", BAD);
    refused("plugin:" BAD ":badname", VRAM_EINVAL, text);
    static const char *const entries[] = {"create", "destroy", "alloc", "free"};
    for (int i = 0; i < 4; i++) {
        snprintf(spec, sizeof spec, "plugin:%s:no%s", BAD, entries[i]);
        snprintf(text, sizeof text, "%s: plugin \"no%s\": required entry \"%s\" is NULL", BAD,
                 entries[i], entries[i]);
        refused(spec, VRAM_EINVAL, text);
    }
}

typedef struct walked {
    vram_block_info b[8];
    int n;
} walked;

static int keep(const vram_block_info *b, void *ctx)
{
    walked *w = ctx;
    if (w->n < 8)
        w->b[w->n] = *b;
    w->n++;
    return 0;
}

/* The good table through the adapter: what the host checks itself, and the
 * stats and walk it derives from its shadow (the bump plugin has neither). */
static void test_adapter(void)
{
    vplugin *p;
    char msg[512];
    assert_ok(vplugin_open("plugin:" BAD ":bump", &p, msg, sizeof msg));
    expect_true(strcmp(vplugin_label(p), "plugin:bump") == 0);
    expect_true(strcmp(vplugin_name(p), "bump") == 0);
    expect_true(strcmp(vplugin_path(p), BAD) == 0);
    expect_true(strlen(vplugin_crc32(p)) == 8);
    expect_true(vplugin_bytes(p) > 0);
    char line[512];
    vplugin_describe(p, line, sizeof line);
    snprintf(msg, sizeof msg, "plugin bump, crc32 %s, %llu bytes, ABI version 1: %s",
             vplugin_crc32(p), (unsigned long long)vplugin_bytes(p), BAD);
    expect_true(strcmp(line, msg) == 0);
    /* The line gives the plugin back to whoever replays the run again (the report). */
    char spec[1024];
    expect_true(vplugin_spec_of_run("plugin:bump", line, spec, sizeof spec));
    expect_true(strcmp(spec, "plugin:" BAD ":bump") == 0);
    expect_true(!vplugin_spec_of_run("tlsf", line, spec, sizeof spec));
    expect_true(!vplugin_spec_of_run("plugin:other", line, spec, sizeof spec));
    expect_true(!vplugin_spec_of_run("plugin:bump", "vLLM layout: ...", spec, sizeof spec));
    expect_true(!vplugin_spec_of_run("plugin:bump", line, spec, 8));

    vram_heap_config cfg = {.capacity = 1 << 20};
    vram_heap *h;
    assert_ok(vram_heap_create(vplugin_heap_ops(p), &cfg, &h));
    expect_true(strcmp(vram_heap_name(h), "plugin:bump") == 0);
    uint64_t a, b;
    assert_ok(vram_heap_alloc(h, 1000, 0, &a));
    assert_ok(vram_heap_alloc(h, 100, 4096, &b));
    expect_eq_u64(a, 0);
    expect_eq_u64(b, 4096);
    /* Offsets that are no live block never reach the plugin. */
    expect_status(vram_heap_free(h, 1), VRAM_ENOTFOUND);
    uint64_t twice[2] = {a, a};
    expect_status(vram_heap_free_batch(h, 2, twice), VRAM_EDOUBLEFREE);
    expect_status(vram_heap_grow(h, 4096), VRAM_EUNSUPPORTED);
    expect_status(vram_heap_retain(h, a), VRAM_EUNSUPPORTED);
    vram_heap_stats s;
    vram_heap_stats_get(h, &s);
    expect_eq_u64(s.live_allocs, 2);
    expect_eq_u64(s.requested, 1100);
    expect_eq_u64(s.in_use, 1100);
    expect_eq_u64(s.footprint, 4196);
    expect_eq_u64(s.peak_footprint, 4196);
    expect_eq_u64(s.free_blocks, 2); /* [1000, 4096) and [4196, 1 MiB) */
    expect_eq_u64(s.largest_free, (1 << 20) - 4196);
    expect_eq_u64(vram_heap_max_alloc(h), (1 << 20) - 4196);
    walked w = {.n = 0};
    assert_ok(vram_heap_walk(h, keep, &w));
    expect_eq_u64(w.n, 4);
    expect_true(w.b[0].used && w.b[0].offset == 0 && w.b[0].size == 1000);
    expect_true(!w.b[1].used && w.b[1].offset == 1000 && w.b[1].size == 3096);
    expect_true(w.b[2].used && w.b[2].offset == 4096 && w.b[2].requested == 100);
    expect_true(!w.b[3].used && w.b[3].offset == 4196);
    assert_ok(vram_heap_check(h, msg, sizeof msg));
    assert_ok(vram_heap_free(h, b));
    vram_heap_stats_get(h, &s);
    expect_eq_u64(s.footprint, 1000);
    expect_eq_u64(s.peak_footprint, 4196);
    vram_heap_restore_peaks(h, 0, 0);
    vram_heap_stats_get(h, &s);
    expect_eq_u64(s.peak_footprint, 1000);
    expect_eq_u64(s.peak_in_use, 1000);
    /* The bump plugin never reuses: a request above what is left is ENOMEM. */
    expect_status(vram_heap_alloc(h, 1 << 20, 0, &b), VRAM_ENOMEM);
    assert_ok(vram_heap_free(h, a));
    expect_true(vplugin_violation(p)[0] == '\0');
    vram_heap_destroy(h);
    vplugin_close(p);
}

int main(void)
{
    test_refusals();
    test_adapter();
    return test_finish("plugin");
}
