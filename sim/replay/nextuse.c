/* nextuse.c - next uses by a backward scan over a reference log (nextuse.h). */
#include "nextuse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idmap.h"

#define CHUNK 8192 /* entries per read or write */
#define FIRST_BIT (UINT64_C(1) << 63)

typedef struct ref_entry {
    uint64_t item; /* FIRST_BIT: the item's creation */
    uint64_t index;
} ref_entry;

/* Reads fixed-size entries of a file from its end towards its start. */
typedef struct back_reader {
    FILE *f;
    size_t size;         /* bytes per entry */
    uint64_t remaining;  /* entries not yet loaded, counted from the start */
    unsigned char *buf;  /* CHUNK entries */
    size_t pos;          /* entries of buf not yet returned */
} back_reader;

struct vnextuse {
    FILE *log;           /* ref_entry, trace order */
    FILE *out;           /* uint64_t next uses, reverse trace order */
    ref_entry wbuf[CHUNK];
    size_t wn;
    uint64_t logged;
    back_reader next;    /* over `out`: trace order again */
    volatile sig_atomic_t *stop; /* non-zero: vnextuse_finish stops (a signal); may be NULL */
};

static int back_init(back_reader *b, FILE *f, size_t size, uint64_t entries)
{
    memset(b, 0, sizeof *b);
    b->f = f;
    b->size = size;
    b->remaining = entries;
    b->buf = malloc(CHUNK * size);
    return b->buf != NULL && fflush(f) == 0;
}

/* The previous entry into *out: 1, 0 at the start of the file, -1 on error. */
static int back_read(back_reader *b, void *out)
{
    if (b->pos == 0) {
        if (b->remaining == 0)
            return 0;
        size_t n = b->remaining < CHUNK ? (size_t)b->remaining : CHUNK;
        b->remaining -= n;
        ssize_t got = pread(fileno(b->f), b->buf, n * b->size, (off_t)(b->remaining * b->size));
        if (got != (ssize_t)(n * b->size))
            return -1;
        b->pos = n;
    }
    b->pos--;
    memcpy(out, b->buf + b->pos * b->size, b->size);
    return 1;
}

vram_status vnextuse_create(vnextuse **out)
{
    *out = NULL;
    vnextuse *n = calloc(1, sizeof *n);
    if (!n)
        return VRAM_ENOHOST;
    n->log = tmpfile();
    n->out = tmpfile();
    if (!n->log || !n->out) {
        vnextuse_destroy(n);
        return VRAM_EIO;
    }
    *out = n;
    return VRAM_OK;
}

void vnextuse_destroy(vnextuse *n)
{
    if (!n)
        return;
    if (n->log)
        fclose(n->log);
    if (n->out)
        fclose(n->out);
    free(n->next.buf);
    free(n);
}

static vram_status flush_log(vnextuse *n)
{
    if (n->wn && fwrite(n->wbuf, sizeof n->wbuf[0], n->wn, n->log) != n->wn)
        return VRAM_EIO;
    n->wn = 0;
    return VRAM_OK;
}

/* A full buffer is flushed before the next entry goes in, so a failed flush
 * leaves it full and every later call fails the same way (never writes past it). */
vram_status vnextuse_log(vnextuse *n, uint64_t item, uint64_t index, int first)
{
    if (n->wn == CHUNK && flush_log(n))
        return VRAM_EIO;
    n->wbuf[n->wn++] = (ref_entry){item | (first ? FIRST_BIT : 0), index};
    n->logged++;
    return VRAM_OK;
}

/* The backward scan: `later` maps a live item to the event index of its
 * reference seen last, i.e. the next one in trace order; an item leaves the
 * map at its creation, so the map holds the items live at the scan point. */
static vram_status scan_back(vnextuse *n, vsim_idmap *later, back_reader *log)
{
    uint64_t obuf[CHUNK];
    size_t on = 0;
    ref_entry r;
    int got;
    while ((got = back_read(log, &r)) == 1) {
        uint64_t item = r.item & ~FIRST_BIT;
        uint64_t *seen = vsim_idmap_get(later, item);
        obuf[on++] = seen ? *seen : VNEXTUSE_NEVER;
        if (r.item & FIRST_BIT) {
            vsim_idmap_remove(later, item);
        } else {
            int created;
            if (!seen && !(seen = vsim_idmap_put(later, item, &created)))
                return VRAM_ENOHOST;
            *seen = r.index;
        }
        if (on == CHUNK) {
            if (fwrite(obuf, sizeof obuf[0], on, n->out) != on)
                return VRAM_EIO;
            on = 0;
            if (n->stop && *n->stop)
                return VRAM_EBUSY;
        }
    }
    if (got < 0 || (on && fwrite(obuf, sizeof obuf[0], on, n->out) != on))
        return VRAM_EIO;
    return VRAM_OK;
}

void vnextuse_set_stop(vnextuse *n, volatile sig_atomic_t *stop) { n->stop = stop; }

vram_status vnextuse_finish(vnextuse *n)
{
    vram_status st = flush_log(n);
    if (st)
        return st;
    vsim_idmap *later = NULL;
    back_reader log;
    if (!back_init(&log, n->log, sizeof(ref_entry), n->logged)) {
        free(log.buf);
        return VRAM_EIO;
    }
    st = vsim_idmap_create(sizeof(uint64_t), &later);
    if (!st)
        st = scan_back(n, later, &log);
    vsim_idmap_destroy(later);
    free(log.buf);
    if (!st && !back_init(&n->next, n->out, sizeof(uint64_t), n->logged))
        st = VRAM_EIO;
    return st;
}

vram_status vnextuse_next(vnextuse *n, uint64_t *next_use)
{
    *next_use = VNEXTUSE_NEVER;
    if (!n->next.buf)
        return VRAM_OK;
    return back_read(&n->next, next_use) < 0 ? VRAM_EIO : VRAM_OK;
}
