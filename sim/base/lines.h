/* lines.h - a line source for the bench's text readers (traces, workloads).
 *
 * Reads a file (plain or gzip, through zlib) or a memory buffer through one
 * fixed buffer: memory does not grow with the file. Owns the position (line
 * number) and the first error, formatted "name:line: message"; after an error
 * every call returns -1. Internal to sim/ (not installed). */
#ifndef VLINES_H
#define VLINES_H

#include <stddef.h>
#include <stdint.h>

#include "vram/status.h"

typedef struct vlines vlines;

/* Opens `path`; lines longer than line_max bytes (without the newline) are an
 * error. VRAM_EIO when the file cannot be opened (err says why), VRAM_ENOHOST,
 * VRAM_EINVAL for a NULL path or line_max 0 or above 1 MiB. */
vram_status vlines_open(const char *path, size_t line_max, vlines **out, char *err, size_t errlen);
/* The same over `len` bytes at `buf` (not copied: it must outlive the source);
 * `name` stands in for the file name in messages. */
vram_status vlines_open_buffer(const void *buf, size_t len, const char *name, size_t line_max,
                               vlines **out, char *err, size_t errlen);
/* 1: the next line is [*start, *end), without its "\n" or "\r\n", valid until
 * the next call; 0: end of input; -1: error (line too long, NUL byte, read error). */
int vlines_next(vlines *s, const char **start, const char **end);
/* Records the first error as "name:line: message" and returns -1. */
int vlines_fail(vlines *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "name:line: message" of the first error, "" if none. */
const char *vlines_error(const vlines *s);
uint64_t vlines_line(const vlines *s);       /* number of the line last returned */
/* Input bytes consumed (compressed bytes for gzip). */
uint64_t vlines_offset(const vlines *s);
/* Host bytes held; fixed at open. */
size_t vlines_memory(const vlines *s);
void vlines_close(vlines *s);

/* A printable copy of [p, q) for messages: at most 40 bytes, others as '?'. */
const char *vlines_show(const char *p, const char *q, char out[48]);

#endif
