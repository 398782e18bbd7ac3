/* lines.c - the line source of the text readers: one fixed buffer over a file
 * (plain, or gzip inflated through zlib) or over memory; lines are handed out
 * in place.
 *
 * gzip is inflated here rather than through zlib's gzread, which ends quietly
 * at bytes after a gzip member that do not start another member: such trailing
 * data is an error here, while members that follow one another (`cat a.gz
 * b.gz`) are read as one stream, each checked by inflate. */
#include "lines.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define LINE_LIMIT (1024 * 1024)
#define NAME_BYTES 256
#define ERR_BYTES 512
#define IN_BYTES (128 * 1024) /* compressed input read at once */

enum { MODE_UNKNOWN, MODE_PLAIN, MODE_GZIP };

struct vlines {
    int fd;                    /* -1 when reading memory */
    int mode;                  /* MODE_*: decided by the first two bytes of the file */
    z_stream z;                /* gzip: the inflater (initialised when zinit) */
    int zinit;
    int member_end;            /* gzip: inflate finished a member; another may follow */
    unsigned char *in;         /* gzip: compressed bytes, z.next_in into it */
    int in_eof;                /* the file has no more bytes */
    uint64_t in_total;         /* bytes read from the file */
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
    if (s) {
        s->fd = -1;
        s->buf = malloc(cap);
    }
    if (!s || !s->buf) {
        if (s)
            free(s->buf);
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
    s->in = malloc(IN_BYTES);
    if (!s->in) {
        if (err && errlen)
            snprintf(err, errlen, "%s: out of host memory", path);
        vlines_close(s);
        return VRAM_ENOHOST;
    }
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        vlines_close(s);
        return VRAM_EIO;
    }
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

/* Reads up to `n` bytes of the file into dst: the count, 0 at its end, -1 on
 * a read error (recorded). */
static ssize_t read_file(vlines *s, void *dst, size_t n)
{
    ssize_t got;
    do
        got = read(s->fd, dst, n);
    while (got < 0 && errno == EINTR);
    if (got < 0) {
        s->line++;
        return vlines_fail(s, "cannot read: %s", strerror(errno));
    }
    s->in_total += (uint64_t)got;
    return got;
}

/* gzip: more compressed bytes after the unread ones (moved to the front). */
static int read_more_in(vlines *s)
{
    if (s->z.avail_in && s->z.next_in != s->in)
        memmove(s->in, s->z.next_in, s->z.avail_in);
    s->z.next_in = s->in;
    ssize_t got = read_file(s, s->in + s->z.avail_in, IN_BYTES - s->z.avail_in);
    if (got < 0)
        return -1;
    s->z.avail_in += (uInt)got;
    s->in_eof = got == 0;
    return 0;
}

/* The first bytes decide: gzip's magic (1f 8b) or plain text. */
static int sniff(vlines *s)
{
    size_t n = 0;
    while (n < 2) {
        ssize_t got = read_file(s, s->in + n, IN_BYTES - n);
        if (got < 0)
            return -1;
        if (got == 0) {
            s->in_eof = 1;
            break;
        }
        n += (size_t)got;
    }
    if (n >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b) {
        s->mode = MODE_GZIP;
        if (inflateInit2(&s->z, 15 + 16) != Z_OK) { /* gzip wrapper only */
            s->line++;
            return vlines_fail(s, "cannot read: out of host memory");
        }
        s->zinit = 1;
        s->z.next_in = s->in;
        s->z.avail_in = (uInt)n;
        return 0;
    }
    /* plain: the bytes go to the line buffer, empty now (room >= 256 KiB > IN_BYTES) */
    s->mode = MODE_PLAIN;
    memcpy(s->buf + s->end, s->in, n);
    s->end += n;
    s->eof = n == 0;
    return 0;
}

/* gzip: inflates into buf[end ..]; 0 with bytes added or eof set, -1 on error. */
static int inflate_some(vlines *s, size_t room)
{
    for (;;) {
        if (s->member_end) {
            /* after a member: the end of the file, another member, or trailing data */
            if (s->z.avail_in < 2 && !s->in_eof && read_more_in(s) < 0)
                return -1;
            if (s->z.avail_in < 2 && !s->in_eof)
                continue;
            if (s->z.avail_in == 0) {
                s->eof = 1;
                return 0;
            }
            if (s->z.avail_in < 2 || s->z.next_in[0] != 0x1f || s->z.next_in[1] != 0x8b) {
                s->line++;
                return vlines_fail(s, "trailing data after the gzip stream (at byte %llu of the "
                                      "file)", (unsigned long long)(s->in_total - s->z.avail_in));
            }
            if (inflateReset(&s->z) != Z_OK) {
                s->line++;
                return vlines_fail(s, "cannot read: inflateReset failed");
            }
            s->member_end = 0;
        }
        if (s->z.avail_in == 0 && !s->in_eof && read_more_in(s) < 0)
            return -1;
        s->z.next_out = (Bytef *)s->buf + s->end;
        s->z.avail_out = (uInt)room;
        int rc = inflate(&s->z, Z_NO_FLUSH);
        size_t made = room - s->z.avail_out;
        s->end += made;
        if (rc == Z_STREAM_END) {
            s->member_end = 1;
            if (made)
                return 0;
            continue;
        }
        if (rc == Z_OK || rc == Z_BUF_ERROR) {
            if (made)
                return 0;
            if (s->z.avail_in == 0 && s->in_eof) {
                s->line++;
                return vlines_fail(s, "cannot read: unexpected end of file");
            }
            continue;
        }
        s->line++;
        if (rc == Z_MEM_ERROR)
            return vlines_fail(s, "cannot read: out of host memory");
        return vlines_fail(s, "cannot read: %s", s->z.msg ? s->z.msg : "compressed data error");
    }
}

/* Appends input bytes at buf[end ..]; sets eof when there are none. */
static int refill(vlines *s)
{
    size_t room = s->cap - s->end;
    if (s->fd < 0) {
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
    if (s->mode == MODE_UNKNOWN)
        return sniff(s);
    if (s->mode == MODE_GZIP)
        return inflate_some(s, room > UINT_MAX ? UINT_MAX : room);
    ssize_t got = read_file(s, s->buf + s->end, room);
    if (got < 0)
        return -1;
    s->end += (size_t)got;
    s->eof = got == 0;
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
    if (s->fd < 0)
        return s->mem_pos - (s->end - s->pos);
    if (s->mode == MODE_GZIP)
        return s->in_total - s->z.avail_in;
    return s->in_total - (s->end - s->pos);
}

size_t vlines_memory(const vlines *s)
{
    return sizeof *s + s->cap + (s->in ? IN_BYTES : 0);
}

void vlines_close(vlines *s)
{
    if (!s)
        return;
    if (s->zinit)
        inflateEnd(&s->z);
    if (s->fd >= 0)
        close(s->fd);
    free(s->in);
    free(s->buf);
    free(s);
}
