/* vram/status.h - the one status type of libvram.
 *
 * Every fallible call returns a vram_status; results go through out-parameters.
 * VRAM_OK is 0, so `if (st) ...` tests for failure. The library never aborts or
 * exits on bad input and keeps no global mutable state. */
#ifndef VRAM_STATUS_H
#define VRAM_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vram_status {
    VRAM_OK = 0,
    VRAM_EINVAL,       /* bad argument: zero or absurd size, alignment not a power of two, ... */
    VRAM_ENOMEM,       /* device memory exhausted: no block large enough, nothing evictable */
    VRAM_ENOHOST,      /* host memory (malloc) exhausted */
    VRAM_ENOTFOUND,    /* unknown offset, id, key or name */
    VRAM_EDOUBLEFREE,  /* offset or handle already freed */
    VRAM_ESTALE,       /* handle whose generation no longer matches (released and reused) */
    VRAM_EBUSY,        /* object pinned or in use, or still referenced */
    VRAM_EMISMATCH,    /* shared key acquired with a different size; wrong policy for a call */
    VRAM_EUNSUPPORTED, /* the policy or backend does not implement this call */
    VRAM_EDEVICE,      /* the device backend reported an error */
    VRAM_ENODRIVER,    /* no CUDA driver (libcuda.so.1) could be loaded */
    VRAM_ECORRUPT,     /* an invariant check failed or device contents did not verify */
    VRAM_EOVERFLOW,    /* arithmetic would overflow (sizes, token counts) */
    VRAM_EIO,          /* file or database error */
    VRAM_EPARSE,       /* malformed input (trace, import file) */
    VRAM_STATUS_COUNT_
} vram_status;

/* A static, human-readable description of `st`; never NULL, also for unknown values. */
const char *vram_strerror(vram_status st);

/* The symbolic name ("VRAM_ENOMEM"); never NULL. */
const char *vram_status_name(vram_status st);

#ifdef __cplusplus
}
#endif
#endif
