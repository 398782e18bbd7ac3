/* tracegen - writes a trace (traces/FORMAT.md) from a recorded workload, a
 * model configuration and an engine style; see --help. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "partial_output.h"
#include "tracegen.h"
#include "vram/budget.h"
#include "vramlab_version.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tracegen --workload FILE -o OUT.trace [options]\n"
            "\n"
            "Generates an allocation trace of one inference server (one tensor-parallel shard)\n"
            "serving a recorded workload with a continuous-batching scheduler. The same options\n"
            "and seed give a byte-identical trace.\n"
            "\n"
            "  --workload FILE        Azure LLM CSV or Mooncake JSONL recording, plain or gzip; a\n"
            "                         regular file (a FIFO or device is refused) (required)\n"
            "  --format azure|mooncake  default: mooncake for *.jsonl, else azure\n"
            "  -o, --output OUT       the trace to write (replaced only when complete; a device or\n"
            "                         symbolic link, e.g. /dev/stdout, is written in place)\n"
            "  --gzip                 gzip the output whatever its name (also: OUT ending in .gz)\n"
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
            "  --seed N               adapter assignment (default 1)\n"
            "  --source TEXT, --licence TEXT  header fields (defaults: the file name; CC-BY-4.0\n"
            "                         for Azure, Apache-2.0 for Mooncake)\n"
            "  -h, --help\n"
            "  --version              the version and git commit\n"
            "\n"
            "Exit status: 0 written, 1 generation failed (the message names the cause), 2 usage.\n");
}

static int bad(const char *opt, const char *val, const char *what)
{
    fprintf(stderr, "tracegen: %s '%s': expected %s\n", opt, val ? val : "", what);
    return 2;
}

static int parse_u64(const char *opt, const char *val, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!val || !*val || *val == '-' || *val == '+')
        return bad(opt, val, "a non-negative integer");
    unsigned long long v = strtoull(val, &end, 10);
    if (*end || errno || v > max)
        return bad(opt, val, "a non-negative integer in range");
    *out = v;
    return 0;
}

static int parse_double(const char *opt, const char *val, double *out)
{
    char *end;
    errno = 0;
    if (!val || !*val)
        return bad(opt, val, "a number");
    double v = strtod(val, &end);
    if (*end || errno || !isfinite(v) || v < 0)
        return bad(opt, val, "a non-negative number");
    *out = v;
    return 0;
}

static int parse_u32(const char *opt, const char *val, uint32_t *out)
{
    uint64_t v;
    int rc = parse_u64(opt, val, UINT32_MAX, &v);
    *out = (uint32_t)v;
    return rc;
}

static const char *const value_options[] = {
    "--workload", "-o", "--output", "--format", "--model", "--source", "--licence", "--engine", "--tp",
    "--capacity-gib", "--utilisation", "--start-s", "--duration-s", "--speedup", "--max-batch-tokens",
    "--max-batch-seqs", "--block-tokens", "--adapters", "--max-loras", "--lora-rank", "--adapter-share",
    "--seed",
};

static int takes_value(const char *a)
{
    for (size_t i = 0; i < sizeof value_options / sizeof value_options[0]; i++)
        if (!strcmp(a, value_options[i]))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    vtracegen_config c;
    vtracegen_defaults(&c);
    const char *out = NULL, *format = NULL;
    uint64_t gib = 80;
    int rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            return vramlab_print_version(argv[0]);
        } else if (!strcmp(a, "--gzip")) {
            c.gzip = 1;
            takes = 0;
        } else if (!strcmp(a, "--no-prefix-cache")) {
            c.e.prefix_cache = 0;
            takes = 0;
        } else if (!takes_value(a)) {
            fprintf(stderr, "tracegen: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (!v) {
            fprintf(stderr, "tracegen: %s needs a value (see --help)\n", a);
            return 2;
        } else if (!strcmp(a, "--workload")) {
            c.e.workload = v;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            out = v;
        } else if (!strcmp(a, "--format")) {
            format = v;
        } else if (!strcmp(a, "--model")) {
            c.e.model = v;
        } else if (!strcmp(a, "--source")) {
            c.source = v;
        } else if (!strcmp(a, "--licence")) {
            c.licence = v;
        } else if (!strcmp(a, "--engine")) {
            if (vengine_kv_parse(v, &c.e.kv))
                rc = bad(a, v, "paged, contiguous, max, pow2 or oracle");
        } else if (!strcmp(a, "--tp")) {
            rc = parse_u32(a, v, &c.e.tp);
        } else if (!strcmp(a, "--capacity-gib")) {
            rc = parse_u64(a, v, UINT64_C(1) << 30, &gib);
        } else if (!strcmp(a, "--utilisation")) {
            rc = parse_double(a, v, &c.e.utilisation);
        } else if (!strcmp(a, "--start-s")) {
            rc = parse_double(a, v, &c.e.start_s);
        } else if (!strcmp(a, "--duration-s")) {
            rc = parse_double(a, v, &c.e.duration_s);
        } else if (!strcmp(a, "--speedup")) {
            rc = parse_double(a, v, &c.e.speedup);
        } else if (!strcmp(a, "--max-batch-tokens")) {
            rc = parse_u64(a, v, UINT32_MAX, &c.e.max_batch_tokens);
        } else if (!strcmp(a, "--max-batch-seqs")) {
            rc = parse_u64(a, v, 1u << 20, &c.e.max_batch_seqs);
        } else if (!strcmp(a, "--block-tokens")) {
            rc = parse_u32(a, v, &c.e.block_tokens);
        } else if (!strcmp(a, "--adapters")) {
            rc = parse_u32(a, v, &c.e.adapters);
        } else if (!strcmp(a, "--max-loras")) {
            rc = parse_u32(a, v, &c.e.max_loras);
        } else if (!strcmp(a, "--lora-rank")) {
            rc = parse_u32(a, v, &c.e.lora_rank);
        } else if (!strcmp(a, "--adapter-share")) {
            rc = parse_double(a, v, &c.e.adapter_share);
        } else {
            rc = parse_u64(a, v, UINT64_MAX, &c.e.seed); /* --seed, the last of value_options */
        }
        i += takes;
    }
    if (rc)
        return rc;
    if (!c.e.workload || !out) {
        fprintf(stderr, "tracegen: --workload and -o are required (see --help)\n");
        return 2;
    }
    size_t n = strlen(c.e.workload);
    if (format ? vworkload_format_parse(format, &c.e.format) != 0 : 0)
        return bad("--format", format, "azure or mooncake");
    if (!format)
        c.e.format = n >= 6 && !strcmp(c.e.workload + n - 6, ".jsonl") ? VWORKLOAD_MOONCAKE : VWORKLOAD_AZURE;
    size_t olen = strlen(out);
    if (olen >= 3 && !strcmp(out + olen - 3, ".gz"))
        c.gzip = 1;
    c.e.capacity = gib << 30;

    /* A FIFO with no writer would block the open forever, and a device may never
     * end (the trace names its workload as a file, too). A directory or a
     * missing file is named by the reader. */
    struct stat sb;
    if (stat(c.e.workload, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) {
        fprintf(stderr,
                "tracegen: %s: not a regular file (a FIFO with no writer would wait forever, a "
                "device may never end); save the workload to a file first\n",
                c.e.workload);
        return 1;
    }

    /* the command, as a comment in the trace: the workload by its file name */
    char cmd[2048];
    size_t len = (size_t)snprintf(cmd, sizeof cmd, "generated by: tracegen");
    for (int i = 1; i < argc && len < sizeof cmd; i++) {
        const char *a = argv[i];
        if (i > 1 && !strcmp(argv[i - 1], "--workload")) {
            const char *s = strrchr(a, '/');
            a = s ? s + 1 : a;
        }
        len += (size_t)snprintf(cmd + len, sizeof cmd - len, " %s", a);
    }
    c.comment = len < sizeof cmd && !strpbrk(cmd, "\n\r") ? cmd : NULL;

    vengine_stats st;
    char err[1024];
    partial_output_arm(out);
    const vram_status rs = vtracegen_run(&c, out, &st, err, sizeof err);
    partial_output_disarm();
    if (rs) {
        fprintf(stderr, "tracegen: %s\n", err);
        return 1;
    }
    fprintf(stderr,
            "tracegen: %s: %llu events, %llu requests (%llu rejected, %llu preemptions), %llu steps, "
            "peak KV %.1f%% of %.1f GiB, %.0f s of engine time\n",
            out, (unsigned long long)st.events, (unsigned long long)st.requests,
            (unsigned long long)st.rejected, (unsigned long long)st.preemptions,
            (unsigned long long)st.steps, 100.0 * (double)st.peak_kv_bytes / (double)st.kv_pool_bytes,
            (double)st.kv_pool_bytes / (1u << 30), (double)st.end_us / 1e6);
    return 0;
}
