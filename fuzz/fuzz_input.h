/* fuzz_input.h - what every fuzz target shares: reading operands from the
 * input bytes, reporting a violation, and the optional .trace of a run.
 *
 * Reading past the end of the input yields zeros, so every decoder is total:
 * any byte string is a valid program. A violation prints one line naming the
 * target, the operation number and what was wrong, then __builtin_trap(), which
 * libFuzzer and the plain regression driver both report as a crash.
 *
 * The trace writer is used only when the environment names a file in
 * VRAM_FUZZ_TO_TRACE (fuzz/to-trace sets it): heap and manager targets then
 * write the operations they ran as a trace (traces/FORMAT.md) that `replay`
 * runs. Static inline functions only; no global state. */
#ifndef VRAM_FUZZ_INPUT_H
#define VRAM_FUZZ_INPUT_H

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The entry point of every target (libFuzzer's, and the plain driver's). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fz_in {
    const uint8_t *p;
    size_t n;
} fz_in;

static inline uint8_t fz_u8(fz_in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static inline uint16_t fz_u16(fz_in *in)
{
    uint16_t lo = fz_u8(in);
    return (uint16_t)(lo | (uint16_t)fz_u8(in) << 8);
}

static inline uint32_t fz_u32(fz_in *in)
{
    uint32_t lo = fz_u16(in);
    return lo | (uint32_t)fz_u16(in) << 16;
}

static inline uint64_t fz_u64(fz_in *in)
{
    uint64_t lo = fz_u32(in);
    return lo | (uint64_t)fz_u32(in) << 32;
}

/* A size spread over every octave below 2^max_log2: 1 to 2^max_log2 - 1 bytes. */
static inline uint64_t fz_size(fz_in *in, unsigned max_log2)
{
    unsigned e = fz_u8(in) % max_log2;
    uint64_t base = UINT64_C(1) << e;
    return base + (base * fz_u8(in) >> 8);
}

/* `what` names the unit under test (a policy, an input format). */
static void fz_fail(const char *target, const char *what, uint64_t op, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn, unused));
static void fz_fail(const char *target, const char *what, uint64_t op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz: %s: %s: op %" PRIu64 ": ", target, what, op);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    __builtin_trap();
}

/* The trace of one run: NULL f when VRAM_FUZZ_TO_TRACE is unset. */
typedef struct fz_trace {
    FILE *f;
} fz_trace;

/* Opens the trace named by VRAM_FUZZ_TO_TRACE (truncating it) and writes its
 * header; a file that cannot be opened is reported and tracing stays off. */
static inline void fz_trace_open(fz_trace *t, const char *target, const char *what, uint64_t capacity)
{
    const char *path = getenv("VRAM_FUZZ_TO_TRACE");
    t->f = path && *path ? fopen(path, "w") : NULL;
    if (path && *path && !t->f) {
        perror(path);
        return;
    }
    if (!t->f)
        return;
    setvbuf(t->f, NULL, _IOLBF, 0); /* whole lines reach the file before a trap */
    fprintf(t->f,
            "vramtrace 2\n# written by %s (VRAM_FUZZ_TO_TRACE): %s\nmodel fuzz\nengine fuzz:%s\n"
            "capacity %" PRIu64 "\nsource fuzz input\nlicence none\n",
            target, what, target, capacity);
}

static void fz_trace_line(fz_trace *t, const char *fmt, ...) __attribute__((format(printf, 2, 3), unused));
static void fz_trace_line(fz_trace *t, const char *fmt, ...)
{
    if (!t->f)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(t->f, fmt, ap);
    va_end(ap);
    fputc('\n', t->f);
}

static inline void fz_trace_close(fz_trace *t)
{
    if (t->f)
        fclose(t->f);
    t->f = NULL;
}

#endif
