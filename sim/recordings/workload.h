/* workload.h - readers of recorded request workloads (arrival, prompt and
 * output lengths), streaming, with file:line errors:
 *
 *   Azure LLM inference trace CSV (AzurePublicDataset, Splitwise):
 *     TIMESTAMP,ContextTokens,GeneratedTokens
 *     2023-11-16 18:15:46.6805900,374,44
 *   Mooncake trace JSONL (FAST'25 release), one object a line:
 *     {"timestamp": 0, "input_length": 6758, "output_length": 500, "hash_ids": [0, 1, 2]}
 *     timestamp in milliseconds; hash_ids name 512-token prefix blocks (equal ids,
 *     equal prefix).
 *
 * Memory is fixed at open: the reader keeps one line and one request. */
#ifndef VWORKLOAD_H
#define VWORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "vram/status.h"

#define VWORKLOAD_HASH_MAX 4096          /* hash ids one request may carry */
#define VWORKLOAD_MOONCAKE_BLOCK_TOKENS 512

typedef enum vworkload_format {
    VWORKLOAD_AZURE,     /* CSV */
    VWORKLOAD_MOONCAKE   /* JSONL */
} vworkload_format;

typedef struct vworkload_request {
    uint64_t line;            /* line of the file (1-based) */
    uint64_t arrival_us;      /* microseconds after the first request of the file */
    uint64_t prompt_tokens;   /* >= 1 */
    uint64_t output_tokens;   /* >= 1 */
    const uint64_t *hash_ids; /* Mooncake: n_hash ids, valid until the next call; NULL for Azure */
    size_t n_hash;
} vworkload_request;

typedef struct vworkload_reader vworkload_reader;

/* Opens a workload file (plain or gzip) of the given format and checks its
 * first line (the Azure CSV header). On failure *out is NULL and err holds
 * "file:line: what was expected": VRAM_EIO (cannot open), VRAM_EPARSE (bad
 * header), VRAM_ENOHOST. Cost: one buffer of a few hundred KiB. */
vram_status vworkload_open(const char *path, vworkload_format fmt, vworkload_reader **out, char *err,
                           size_t errlen);
/* The same over `len` bytes of memory (fuzzers, tests); `name` stands in for the file name. */
vram_status vworkload_open_buffer(const void *buf, size_t len, const char *name, vworkload_format fmt,
                                  vworkload_reader **out, char *err, size_t errlen);
/* 1: *req holds the next request; 0: end of file; -1: error (vworkload_error
 * names file:line: a missing or non-numeric field, a value out of range, a bad
 * date, a timestamp earlier than the one before, an unknown JSON key, trailing
 * text, too many hash ids, and a file without a single request: an empty
 * Mooncake file, an Azure file with only its header). JSON keys are decoded as
 * JSON strings (escapes, \uXXXX). Requests come in file order; arrivals never decrease.
 * Cost: linear in the line length. */
int vworkload_next(vworkload_reader *r, vworkload_request *req);
/* "file:line: message" of the first error, "" if none. */
const char *vworkload_error(const vworkload_reader *r);
/* "azure" or "mooncake" to a format: 0, or -1 for another name. */
int vworkload_format_parse(const char *name, vworkload_format *out);
void vworkload_close(vworkload_reader *r);

#endif
