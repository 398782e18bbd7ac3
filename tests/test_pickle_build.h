/* test_pickle_build.h - writes pickles byte by byte (protocol 2, the opcodes
 * sim/recordings/pickle.h reads) for tests that need snapshots with known contents:
 * PyTorch memory snapshots without Python or torch. */
#ifndef TEST_PICKLE_BUILD_H
#define TEST_PICKLE_BUILD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

typedef struct pkb {
    unsigned char *b;
    size_t n, cap;
} pkb;

static inline void pkb_byte(pkb *p, unsigned char c)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 4096;
        p->b = realloc(p->b, p->cap);
        assert_true(p->b != NULL);
    }
    p->b[p->n++] = c;
}

static inline void pkb_le(pkb *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        pkb_byte(p, (unsigned char)(v >> (8 * i)));
}

/* PROTO 2; pkb_end writes STOP. */
static inline void pkb_begin(pkb *p)
{
    p->n = 0;
    pkb_byte(p, 0x80);
    pkb_byte(p, 2);
}

static inline void pkb_end(pkb *p) { pkb_byte(p, '.'); }

static inline void pkb_str(pkb *p, const char *s)
{
    size_t n = strlen(s);
    if (n < 256) {
        pkb_byte(p, 0x8c); /* SHORT_BINUNICODE */
        pkb_byte(p, (unsigned char)n);
    } else {
        pkb_byte(p, 'X'); /* BINUNICODE */
        pkb_le(p, n, 4);
    }
    for (size_t i = 0; i < n; i++)
        pkb_byte(p, (unsigned char)s[i]);
}

static inline void pkb_int(pkb *p, int64_t v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    pkb_byte(p, 0x8a); /* LONG1 of 8 bytes */
    pkb_byte(p, 8);
    pkb_le(p, u, 8);
}

/* 2^64-1 as PyTorch's SIZE_MAX pickles: LONG1 of 9 bytes. */
static inline void pkb_size_max(pkb *p)
{
    pkb_byte(p, 0x8a);
    pkb_byte(p, 9);
    pkb_le(p, UINT64_MAX, 8);
    pkb_byte(p, 0);
}

static inline void pkb_float(pkb *p, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    pkb_byte(p, 'G'); /* BINFLOAT, big-endian */
    for (int i = 7; i >= 0; i--)
        pkb_byte(p, (unsigned char)(u >> (8 * i)));
}

static inline void pkb_bool(pkb *p, int b) { pkb_byte(p, b ? 0x88 : 0x89); }
static inline void pkb_none(pkb *p) { pkb_byte(p, 'N'); }

/* Containers: EMPTY_DICT/EMPTY_LIST, MARK, the items, SETITEMS/APPENDS. */
static inline void pkb_dict(pkb *p) { pkb_byte(p, '}'); pkb_byte(p, '('); }
static inline void pkb_dict_end(pkb *p) { pkb_byte(p, 'u'); }
static inline void pkb_list(pkb *p) { pkb_byte(p, ']'); pkb_byte(p, '('); }
static inline void pkb_list_end(pkb *p) { pkb_byte(p, 'e'); }

static inline void pkb_key_int(pkb *p, const char *k, int64_t v) { pkb_str(p, k); pkb_int(p, v); }
static inline void pkb_key_str(pkb *p, const char *k, const char *v) { pkb_str(p, k); pkb_str(p, v); }

/* One device_traces entry: {action, addr, size, stream, time_us}. */
static inline void pkb_entry_on(pkb *p, const char *action, int64_t addr, int64_t size, int64_t stream,
                         int64_t t)
{
    pkb_dict(p);
    pkb_key_str(p, "action", action);
    pkb_key_int(p, "addr", addr);
    pkb_key_int(p, "size", size);
    pkb_key_int(p, "stream", stream);
    pkb_key_int(p, "time_us", t);
    pkb_dict_end(p);
}

static inline void pkb_entry(pkb *p, const char *action, int64_t addr, int64_t size, int64_t t)
{
    pkb_entry_on(p, action, addr, size, 0, t);
}

/* One block of a segment: {address, size, requested_size, state}. */
static inline void pkb_block(pkb *p, int64_t addr, int64_t size, int64_t requested, const char *state)
{
    pkb_dict(p);
    pkb_key_int(p, "address", addr);
    pkb_key_int(p, "size", size);
    pkb_key_int(p, "requested_size", requested);
    pkb_key_str(p, "state", state);
    pkb_dict_end(p);
}

/* The start of a segment dict up to its open 'blocks' list (close with
 * pkb_list_end, then pkb_dict_end). */
static inline void pkb_segment_begin(pkb *p, int64_t device, int64_t addr, int64_t total, int large)
{
    pkb_dict(p);
    pkb_key_int(p, "device", device);
    pkb_key_int(p, "address", addr);
    pkb_key_int(p, "total_size", total);
    pkb_key_int(p, "stream", 0);
    pkb_key_str(p, "segment_type", large ? "large" : "small");
    pkb_str(p, "is_expandable");
    pkb_bool(p, 0);
    pkb_str(p, "blocks");
    pkb_list(p);
}

static inline void pkb_segment_end(pkb *p)
{
    pkb_list_end(p);
    pkb_dict_end(p);
}

static inline void pkb_save(const pkb *p, const char *path)
{
    FILE *f = fopen(path, "wb");
    assert_true(f != NULL);
    assert_true(fwrite(p->b, 1, p->n, f) == p->n);
    assert_true(fclose(f) == 0);
}

#endif
