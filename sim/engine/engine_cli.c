/* engine_cli.c - the engine's command-line options (engine_cli.h). */
#include "engine_cli.h"
#include "vram/prefix_cache.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vram/budget.h"

void vengine_cli_init(vengine_cli *o)
{
    *o = (vengine_cli){.gib = 80};
    vengine_defaults(&o->c);
}

void vengine_cli_usage(FILE *f)
{
    fprintf(f,
            "  --workload FILE        Azure LLM CSV or Mooncake JSONL recording, plain or gzip; a\n"
            "                         regular file (a FIFO or device is refused) (required)\n"
            "  --format azure|mooncake  default: mooncake for *.jsonl, else azure\n"
            "  --model NAME           a budget-planner built-in (default llama-3-70b):");
    for (size_t i = 0; vram_model_builtin(i); i++)
        fprintf(f, " %s", vram_model_builtin(i)->name);
    fprintf(f,
            "\n"
            "  --tp N                 tensor-parallel degree (default 4)\n"
            "  --engine STYLE         how KV is reserved (default paged): paged (blocks of\n"
            "                         --block-tokens), contiguous (a buffer per request, doubled\n"
            "                         when full), max (the model's context per request), pow2\n"
            "                         (prompt + output rounded up to a power of two), oracle\n"
            "                         (exactly prompt + the recorded output)\n"
            "  --capacity-gib N       device memory (default 80)\n"
            "  --utilisation F        share of the device the engine plans with (default 0.9)\n"
            "  --start-s S            first arrival taken, seconds into the recording (default 0)\n"
            "  --duration-s S         arrivals taken, seconds (default 0: to the end)\n"
            "  --speedup F            arrivals come F times faster (default 1)\n"
            "  --max-batch-tokens N   tokens per engine step (default 8192)\n"
            "  --max-batch-seqs N     requests per engine step (default 256)\n"
            "  --block-tokens N       tokens per paged KV block (default 16)\n"
            "  --adapters N           distinct LoRA adapters (default 8; 0: none)\n"
            "  --max-loras N          adapters resident at once (default 4)\n"
            "  --lora-rank N          (default 64)\n"
            "  --adapter-share F      share of requests using an adapter (default 0.3)\n"
            "  --no-prefix-cache      Mooncake: do not share KV between equal hash ids\n"
            "  --prefix-policy NAME   the paged KV cache's eviction policy: vllm (default), lru,\n"
            "                         lfu or priority (docs/PREFIX_CACHE.md)\n"
            "  --seed N               adapter assignment (default 1)\n");
}

static int bad(const char *tool, const char *opt, const char *val, const char *what)
{
    fprintf(stderr, "%s: %s '%s': expected %s\n", tool, opt, val ? val : "", what);
    return 2;
}

static int parse_u64(const char *tool, const char *opt, const char *val, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!val || !*val || *val == '-' || *val == '+')
        return bad(tool, opt, val, "a non-negative integer");
    unsigned long long v = strtoull(val, &end, 10);
    if (*end || errno || v > max)
        return bad(tool, opt, val, "a non-negative integer in range");
    *out = v;
    return 0;
}

static int parse_u32(const char *tool, const char *opt, const char *val, uint32_t *out)
{
    uint64_t v;
    int rc = parse_u64(tool, opt, val, UINT32_MAX, &v);
    *out = (uint32_t)v;
    return rc;
}

static int parse_double(const char *tool, const char *opt, const char *val, double *out)
{
    char *end;
    errno = 0;
    if (!val || !*val)
        return bad(tool, opt, val, "a number");
    double v = strtod(val, &end);
    if (*end || errno || !isfinite(v) || v < 0)
        return bad(tool, opt, val, "a non-negative number");
    *out = v;
    return 0;
}

/* One entry per option taking a value; kind says how it is parsed. */
typedef enum opt_kind { O_STR, O_U32, O_U64, O_DOUBLE } opt_kind;

typedef struct opt_spec {
    const char *name;
    opt_kind kind;
    size_t off;          /* in vengine_cli */
    uint64_t max;        /* O_U64 */
} opt_spec;

#define AT(f) offsetof(vengine_cli, f)
static const opt_spec specs[] = {
    {"--workload", O_STR, AT(c.workload), 0},
    {"--format", O_STR, AT(format), 0},
    {"--model", O_STR, AT(c.model), 0},
    {"--engine", O_STR, 0, 0}, /* parsed by name below */
    {"--tp", O_U32, AT(c.tp), 0},
    {"--capacity-gib", O_U64, AT(gib), UINT64_C(1) << 30},
    {"--utilisation", O_DOUBLE, AT(c.utilisation), 0},
    {"--start-s", O_DOUBLE, AT(c.start_s), 0},
    {"--duration-s", O_DOUBLE, AT(c.duration_s), 0},
    {"--speedup", O_DOUBLE, AT(c.speedup), 0},
    {"--max-batch-tokens", O_U64, AT(c.max_batch_tokens), UINT32_MAX},
    {"--max-batch-seqs", O_U64, AT(c.max_batch_seqs), 1u << 20},
    {"--block-tokens", O_U32, AT(c.block_tokens), 0},
    {"--adapters", O_U32, AT(c.adapters), 0},
    {"--max-loras", O_U32, AT(c.max_loras), 0},
    {"--lora-rank", O_U32, AT(c.lora_rank), 0},
    {"--adapter-share", O_DOUBLE, AT(c.adapter_share), 0},
    {"--seed", O_U64, AT(c.seed), UINT64_MAX},
    {"--prefix-policy", O_STR, AT(c.prefix_policy), 0},
};

int vengine_cli_option(vengine_cli *o, const char *tool, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--no-prefix-cache")) {
        o->c.prefix_cache = 0;
        return 1;
    }
    const opt_spec *s = NULL;
    for (size_t k = 0; k < sizeof specs / sizeof specs[0] && !s; k++)
        if (!strcmp(a, specs[k].name))
            s = &specs[k];
    if (!s)
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value (see --help)\n", tool, a);
        return 2;
    }
    const char *v = argv[++*i];
    char *field = (char *)o + s->off;
    int rc = 0;
    if (!strcmp(a, "--engine"))
        rc = vengine_kv_parse(v, &o->c.kv) ? bad(tool, a, v, "paged, contiguous, max, pow2 or oracle") : 0;
    else if (!strcmp(a, "--prefix-policy") && !vram_prefix_policy(v))
        rc = bad(tool, a, v, "vllm, lru, lfu or priority");
    else if (s->kind == O_STR)
        memcpy(field, &v, sizeof v);
    else if (s->kind == O_U32)
        rc = parse_u32(tool, a, v, (uint32_t *)(void *)field);
    else if (s->kind == O_U64)
        rc = parse_u64(tool, a, v, s->max, (uint64_t *)(void *)field);
    else
        rc = parse_double(tool, a, v, (double *)(void *)field);
    return rc ? rc : 1;
}

int vengine_cli_finish(vengine_cli *o, const char *tool)
{
    vengine_config *c = &o->c;
    size_t n = strlen(c->workload);
    if (o->format ? vworkload_format_parse(o->format, &c->format) != 0 : 0)
        return bad(tool, "--format", o->format, "azure or mooncake");
    if (!o->format)
        c->format = n >= 6 && !strcmp(c->workload + n - 6, ".jsonl") ? VWORKLOAD_MOONCAKE : VWORKLOAD_AZURE;
    c->capacity = o->gib << 30;
    /* A FIFO with no writer would block the open forever, and a device may never
     * end (a trace names its workload as a file, too). A directory or a
     * missing file is named by the reader. */
    struct stat sb;
    if (stat(c->workload, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) {
        fprintf(stderr,
                "%s: %s: not a regular file (a FIFO with no writer would wait forever, a "
                "device may never end); save the workload to a file first\n",
                tool, c->workload);
        return 1;
    }
    return 0;
}
