/* caching_conf.c - PyTorch's PYTORCH_CUDA_ALLOC_CONF syntax for the caching
 * policy's options (vram/caching.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vram/caching.h"

static vram_status conf_error(vram_status st, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static vram_status conf_error(vram_status st, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* Keys PyTorch accepts that change nothing about where device memory goes. */
static int ignored_key(const char *key, size_t len)
{
    static const char *const keys[] = {"backend", "release_lock_on_cudamalloc",
                                       "pinned_use_cuda_host_register",
                                       "pinned_num_register_threads",
                                       "pinned_use_background_threads"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strlen(keys[i]) == len && memcmp(keys[i], key, len) == 0)
            return 1;
    return 0;
}

static int key_is(const char *key, size_t len, const char *name)
{
    return strlen(name) == len && memcmp(key, name, len) == 0;
}

/* One "key:value" item of `len` bytes. */
static vram_status parse_item(const char *item, size_t len, vram_caching_options *o, char *err,
                              size_t errlen)
{
    const char *colon = memchr(item, ':', len);
    if (!colon || colon == item || colon + 1 == item + len)
        return conf_error(VRAM_EINVAL, err, errlen, "'%.*s': expected key:value", (int)len, item);
    size_t klen = (size_t)(colon - item);
    char value[64];
    size_t vlen = len - klen - 1;
    if (vlen >= sizeof value)
        return conf_error(VRAM_EINVAL, err, errlen, "'%.*s': value too long", (int)len, item);
    memcpy(value, colon + 1, vlen);
    value[vlen] = '\0';
    char *end;
    errno = 0;
    if (key_is(item, klen, "max_split_size_mb")) {
        unsigned long long mb = strtoull(value, &end, 10);
        if (*end || errno || value[0] == '-' || mb <= 20 || mb > (UINT64_MAX >> 20))
            return conf_error(VRAM_EINVAL, err, errlen,
                              "'%.*s': max_split_size_mb must be an integer > 20", (int)len, item);
        o->max_split_size = (uint64_t)mb << 20;
    } else if (key_is(item, klen, "expandable_segments")) {
        if (strcmp(value, "True") && strcmp(value, "False"))
            return conf_error(VRAM_EINVAL, err, errlen,
                              "'%.*s': expandable_segments must be True or False", (int)len, item);
        o->expandable_segments = value[0] == 'T';
    } else if (key_is(item, klen, "garbage_collection_threshold")) {
        double t = strtod(value, &end);
        if (*end || errno || !(t > 0.0 && t < 1.0))
            return conf_error(VRAM_EINVAL, err, errlen,
                              "'%.*s': garbage_collection_threshold must be in (0, 1)", (int)len,
                              item);
        o->gc_threshold = t;
    } else if (!ignored_key(item, klen)) {
        return conf_error(VRAM_EUNSUPPORTED, err, errlen, "'%.*s': key not modelled by the caching"
                          " policy", (int)len, item);
    }
    return VRAM_OK;
}

vram_status vram_caching_options_parse(const char *conf, vram_caching_options *out, char *err,
                                       size_t errlen)
{
    if (!conf || !out)
        return conf_error(VRAM_EINVAL, err, errlen, "no configuration string or output");
    vram_caching_options o = {0};
    for (const char *p = conf; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        vram_status st = parse_item(p, len, &o, err, errlen);
        if (st)
            return st;
        p += len + (comma != NULL);
    }
    *out = o;
    return VRAM_OK;
}
