/* fuzz_heap_plugin.c - any allocator plugin (vram/plugin.h) under the heap
 * fuzzing engine (heap_fuzz.c): the same operations and the same shadow model
 * as the built-in heap targets, plus the adapter's own validation of every
 * answer and its cross-check of the plugin's walk at every check.
 *
 * The plugin: $VRAM_FUZZ_PLUGIN, as "plugin:PATH[:NAME]" or "PATH[:NAME]",
 * else the one the build names (VRAM_FUZZ_PLUGIN_DEFAULT: the first-fit
 * example), loaded once per process. A plugin that does not load ends the
 * process with exit status 2 and the loader's message. fuzz/plugin.sh runs
 * this target against a plugin for N seconds and turns a crash into a trace. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "heap_fuzz.h"
#include "plugin.h"

static vplugin *loaded; /* the process's plugin, never unloaded */

static const char *violation_of(const void *ctx) { return vplugin_violation(ctx); }

static vplugin *load(void)
{
    const char *name = getenv("VRAM_FUZZ_PLUGIN");
#ifdef VRAM_FUZZ_PLUGIN_DEFAULT
    if (!name || !*name)
        name = VRAM_FUZZ_PLUGIN_DEFAULT;
#endif
    if (!name || !*name) {
        fprintf(stderr, "fuzz_heap_plugin: name the plugin in VRAM_FUZZ_PLUGIN"
                        " (plugin:PATH[:NAME])\n");
        exit(2);
    }
    char spec[4096], msg[1024];
    snprintf(spec, sizeof spec, "%s%s", vplugin_is_spec(name) ? "" : VPLUGIN_PREFIX, name);
    vplugin *p;
    if (vplugin_open(spec, &p, msg, sizeof msg)) {
        fprintf(stderr, "fuzz_heap_plugin: %s\n", msg);
        exit(2);
    }
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!loaded)
        loaded = load();
    return fz_heap_run_ops(data, size, vplugin_heap_ops(loaded), vplugin_label(loaded),
                           "fuzz_heap_plugin", violation_of, loaded);
}
