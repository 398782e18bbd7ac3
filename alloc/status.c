/* status.c - names and descriptions of vram_status values. */
#include "vram/status.h"

#include <stddef.h>

static const struct {
    const char *name;
    const char *text;
} status_table[VRAM_STATUS_COUNT_] = {
    [VRAM_OK] = {"VRAM_OK", "success"},
    [VRAM_EINVAL] = {"VRAM_EINVAL", "invalid argument"},
    [VRAM_ENOMEM] = {"VRAM_ENOMEM", "out of device memory"},
    [VRAM_ENOHOST] = {"VRAM_ENOHOST", "out of host memory"},
    [VRAM_ENOTFOUND] = {"VRAM_ENOTFOUND", "not found"},
    [VRAM_EDOUBLEFREE] = {"VRAM_EDOUBLEFREE", "already freed"},
    [VRAM_ESTALE] = {"VRAM_ESTALE", "stale handle"},
    [VRAM_EBUSY] = {"VRAM_EBUSY", "pinned, in use or still referenced"},
    [VRAM_EMISMATCH] = {"VRAM_EMISMATCH", "does not match the existing object"},
    [VRAM_EUNSUPPORTED] = {"VRAM_EUNSUPPORTED", "not supported by this policy or backend"},
    [VRAM_EDEVICE] = {"VRAM_EDEVICE", "device error"},
    [VRAM_ENODRIVER] = {"VRAM_ENODRIVER", "no CUDA driver"},
    [VRAM_ECORRUPT] = {"VRAM_ECORRUPT", "invariant violated or contents corrupt"},
    [VRAM_EOVERFLOW] = {"VRAM_EOVERFLOW", "arithmetic overflow"},
    [VRAM_EIO] = {"VRAM_EIO", "input/output error"},
    [VRAM_EPARSE] = {"VRAM_EPARSE", "malformed input"},
};

const char *vram_strerror(vram_status st)
{
    if ((unsigned)st >= VRAM_STATUS_COUNT_)
        return "unknown status";
    return status_table[st].text;
}

const char *vram_status_name(vram_status st)
{
    if ((unsigned)st >= VRAM_STATUS_COUNT_)
        return "VRAM_E?";
    return status_table[st].name;
}
