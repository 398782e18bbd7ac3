/* lines.c - the line source of the text readers: one fixed buffer over zlib
 * (plain or gzip file) or over memory; lines are handed out in place. */
#include "lines.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define LINE_LIMIT (1024 * 1024)
#define NAME_BYTES 256
#define ERR_BYTES 512

struct vlines {
    gzFile gz;                 /* NULL when reading memory */
    const unsigned char *mem;
    size_t mem_len, mem_pos;
    size_t line_max;
    size_t cap;                /* buffer bytes: max(256 KiB, 2 * line_max) */
    char *buf;                 /* the unread bytes are buf[pos .. end) */
    size_t pos, end;
    int eof;                   /* the input has no more bytes */
    int failed;
    uint64_t line;
    char name[NAME_BYTES];
    char err[ERR_BYTES];
};

int vlines_fail(vlines *s, const char *fmt, ...)
{
    if (!s->failed) {
        /* an error before the first line (an empty input) is reported at line 1 */
        uint64_t line = s->line ? s->line : 1;
        int n = snprintf(s->err, sizeof s->err, "%s:%llu: ", s->name, (unsigned long long)line);
        va_list ap;
        va_start(ap, fmt);
        if (n > 0 && (size_t)n < sizeof s->err)
            vsnprintf(s->err + n, sizeof s->err - (size_t)n, fmt, ap);
        va_end(ap);
        s->failed = 1;
    }
    return -1;
}

const char *vlines_show(const char *p, const char *q, char out[48])
{
    size_t n = 0;
    for (; p < q && n < 40; p++)
        out[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
    if (p < q) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

static vlines *lines_new(const char *name, size_t line_max, char *err, size_t errlen)
{
    if (line_max == 0 || line_max > LINE_LIMIT) {
        if (err && errlen)
            snprintf(err, errlen, "%s: line limit %zu out of range", name, line_max);
        return NULL;
    }
    vlines *s = calloc(1, sizeof *s);
    size_t cap = line_max * 2 < 256 * 1024 ? 256 * 1024 : line_max * 2;
    if (s)
        s->buf = malloc(cap);
    if (!s || !s->buf) {
        free(s);
        if (err && errlen)
            snprintf(err, errlen, "%s: out of host memory", name);
        return NULL;
    }
    s->cap = cap;
    s->line_max = line_max;
    snprintf(s->name, sizeof s->name, "%s", name);
    return s;
}

vram_status vlines_open(const char *path, size_t line_max, vlines **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!path) {
        if (err && errlen)
            snprintf(err, errlen, "(null): no file name");
        return VRAM_EINVAL;
    }
    vlines *s = lines_new(path, line_max, err, errlen);
    if (!s)
        return line_max == 0 || line_max > LINE_LIMIT ? VRAM_EINVAL : VRAM_ENOHOST;
    errno = 0;
    s->gz = gzopen(path, "rb");
    if (!s->gz) {
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
        vlines_close(s);
        return VRAM_EIO;
    }
    gzbuffer(s->gz, 128 * 1024);
    *out = s;
    return VRAM_OK;
}

vram_status vlines_open_buffer(const void *buf, size_t len, const char *name, size_t line_max,
                               vlines **out, char *err, size_t errlen)
{
    *out = NULL;
    vlines *s = lines_new(name ? name : "(buffer)", line_max, err, errlen);
    if (!s)
        return line_max == 0 || line_max > LINE_LIMIT ? VRAM_EINVAL : VRAM_ENOHOST;
    s->mem = buf;
    s->mem_len = buf ? len : 0;
    *out = s;
    return VRAM_OK;
}

/* Appends input bytes at buf[end ..]; sets eof when there are none. */
static int refill(vlines *s)
{
    size_t room = s->cap - s->end;
    if (!s->gz) {
        size_t n = s->mem_len - s->mem_pos;
        if (n > room)
            n = room;
        if (n) /* mem is NULL for a NULL buffer: memcpy wants a pointer even for 0 bytes */
            memcpy(s->buf + s->end, s->mem + s->mem_pos, n);
        s->mem_pos += n;
        s->end += n;
        s->eof = n == 0;
        return 0;
    }
    int n = gzread(s->gz, s->buf + s->end, (unsigned)room);
    if (n <= 0) {
        int zerr = Z_OK;
        const char *msg = gzerror(s->gz, &zerr);
        if (n < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
            s->line++;
            return vlines_fail(s, "cannot read: %s", zerr == Z_ERRNO ? strerror(errno) : msg);
        }
        s->eof = 1;
        return 0;
    }
    s->end += (size_t)n;
    return 0;
}

int vlines_next(vlines *s, const char **start, const char **end)
{
    if (s->failed)
        return -1;
    for (;;) {
        char *p = s->buf + s->pos;
        size_t avail = s->end - s->pos;
        char *nl = memchr(p, '\n', avail);
        if (nl || (s->eof && avail)) {
            char *stop = nl ? nl : p + avail;
            s->line++;
            if ((size_t)(stop - p) > s->line_max)
                return vlines_fail(s, "line too long (more than %zu bytes)", s->line_max);
            s->pos = (size_t)(stop - s->buf) + (nl != NULL);
            if (stop > p && stop[-1] == '\r')
                stop--;
            if (memchr(p, '\0', (size_t)(stop - p)))
                return vlines_fail(s, "NUL byte in the line");
            *start = p;
            *end = stop;
            return 1;
        }
        if (s->eof)
            return 0;
        if (avail > s->line_max) {
            s->line++;
            return vlines_fail(s, "line too long (more than %zu bytes)", s->line_max);
        }
        /* the partial line moves to the front: cap >= 2 * line_max leaves room */
        memmove(s->buf, p, avail);
        s->pos = 0;
        s->end = avail;
        if (refill(s) < 0)
            return -1;
    }
}

const char *vlines_error(const vlines *s)
{
    return s->failed ? s->err : "";
}

uint64_t vlines_line(const vlines *s)
{
    return s->line;
}

uint64_t vlines_offset(const vlines *s)
{
    if (!s->gz)
        return s->mem_pos - (s->end - s->pos);
    z_off_t off = gzoffset(s->gz);
    return off < 0 ? 0 : (uint64_t)off;
}

size_t vlines_memory(const vlines *s)
{
    return sizeof *s + s->cap;
}

void vlines_close(vlines *s)
{
    if (!s)
        return;
    if (s->gz)
        gzclose(s->gz);
    free(s->buf);
    free(s);
}
