/* test_workload.c - the Azure CSV and Mooncake JSONL readers: the real
 * recordings in traces/recordings (row counts and sums computed independently
 * with Python's csv/json modules), every malformed-row class with its
 * file:line error, files without a request (refused), and JSON keys spelled
 * with escapes. */
#include "testlib.h"
#include "workload.h"

typedef struct totals {
    uint64_t rows, prompt, output, hash_sum, last_arrival, max_line;
} totals;

static totals read_all(const char *path, vworkload_format fmt)
{
    totals t = {0};
    vworkload_reader *r;
    char err[512];
    vram_status st = vworkload_open(path, fmt, &r, err, sizeof err);
    if (st) {
        fprintf(stderr, "%s\n", err);
        assert_ok(st);
    }
    vworkload_request q;
    int rc;
    while ((rc = vworkload_next(r, &q)) == 1) {
        t.rows++;
        t.prompt += q.prompt_tokens;
        t.output += q.output_tokens;
        for (size_t i = 0; i < q.n_hash; i++)
            t.hash_sum += q.hash_ids[i];
        expect_true(q.arrival_us >= t.last_arrival);
        t.last_arrival = q.arrival_us;
        t.max_line = q.line;
    }
    if (rc < 0)
        fprintf(stderr, "%s\n", vworkload_error(r));
    expect_true(rc == 0);
    vworkload_close(r);
    return t;
}

static void test_real_files(void)
{
    totals t = read_all(VRAM_RECORDINGS_DIR "/AzureLLMInferenceTrace_conv.csv", VWORKLOAD_AZURE);
    expect_eq_u64(t.rows, 19366);
    expect_eq_u64(t.prompt, 22361870);
    expect_eq_u64(t.output, 4088665);
    expect_eq_u64(t.last_arrival, 3501721937ull); /* 18:15:46.6805900 to 19:14:08.4025270 */
    expect_eq_u64(t.max_line, 19367);

    t = read_all(VRAM_RECORDINGS_DIR "/AzureLLMInferenceTrace_code.csv", VWORKLOAD_AZURE);
    expect_eq_u64(t.rows, 8819);
    expect_eq_u64(t.prompt, 18059974);
    expect_eq_u64(t.output, 245896);

    t = read_all(VRAM_RECORDINGS_DIR "/mooncake_fast25_conversation_trace.jsonl", VWORKLOAD_MOONCAKE);
    expect_eq_u64(t.rows, 12031);
    expect_eq_u64(t.prompt, 144793823);
    expect_eq_u64(t.output, 4122048);
    expect_eq_u64(t.hash_sum, 23407000830ull);
    expect_eq_u64(t.last_arrival, 3536999000ull);
}

static void test_values(void)
{
    static const char csv[] = "TIMESTAMP,ContextTokens,GeneratedTokens\r\n"
                              "2023-12-31 23:59:59.9999999,10,1\r\n"
                              "2024-01-01 00:00:01,20,2\n"
                              "\n"
                              "2024-02-29 00:00:01.5,30,3";
    vworkload_reader *r;
    char err[512];
    vworkload_request q;
    assert_ok(vworkload_open_buffer(csv, sizeof csv - 1, "c", VWORKLOAD_AZURE, &r, err, sizeof err));
    assert_true(vworkload_next(r, &q) == 1);
    expect_true(q.arrival_us == 0 && q.prompt_tokens == 10 && q.output_tokens == 1 && q.line == 2 &&
                q.n_hash == 0 && q.hash_ids == NULL);
    assert_true(vworkload_next(r, &q) == 1);
    expect_eq_u64(q.arrival_us, 1000001); /* over the new year: 1.000001 s later (fraction truncated to us) */
    assert_true(vworkload_next(r, &q) == 1);
    expect_eq_u64(q.line, 5);
    expect_eq_u64(q.arrival_us, (59ull * 86400 + 1) * 1000000 + 500001);
    expect_true(vworkload_next(r, &q) == 0);
    vworkload_close(r);

    static const char jsonl[] = "{\"timestamp\": 5, \"input_length\": 513, \"output_length\": 2, "
                                "\"hash_ids\": [7, 8]}\n"
                                "{ \"hash_ids\" : [ 9 ] , \"output_length\":1,\"input_length\":512,\"timestamp\":5 }\n";
    assert_ok(vworkload_open_buffer(jsonl, sizeof jsonl - 1, "j", VWORKLOAD_MOONCAKE, &r, err, sizeof err));
    assert_true(vworkload_next(r, &q) == 1);
    expect_true(q.arrival_us == 0 && q.prompt_tokens == 513 && q.output_tokens == 2 && q.n_hash == 2 &&
                q.hash_ids[0] == 7 && q.hash_ids[1] == 8);
    assert_true(vworkload_next(r, &q) == 1);
    expect_true(q.arrival_us == 0 && q.prompt_tokens == 512 && q.n_hash == 1 && q.hash_ids[0] == 9);
    expect_true(vworkload_next(r, &q) == 0);
    vworkload_close(r);

    /* keys spelled with JSON escapes read as the plain keys */
    static const char escaped[] = "{\"\\u0074imestamp\": 5, \"input\\u005flength\": 513, "
                                  "\"output_length\": 2, \"hash\\u005Fids\": [7, 8]}\n";
    assert_ok(vworkload_open_buffer(escaped, sizeof escaped - 1, "e", VWORKLOAD_MOONCAKE, &r, err,
                                    sizeof err));
    assert_true(vworkload_next(r, &q) == 1);
    expect_true(q.prompt_tokens == 513 && q.output_tokens == 2 && q.n_hash == 2 && q.hash_ids[1] == 8);
    expect_true(vworkload_next(r, &q) == 0);
    vworkload_close(r);

    vworkload_format f;
    expect_true(vworkload_format_parse("azure", &f) == 0 && f == VWORKLOAD_AZURE);
    expect_true(vworkload_format_parse("mooncake", &f) == 0 && f == VWORKLOAD_MOONCAKE);
    expect_true(vworkload_format_parse("csv", &f) == -1);
}

#define CSVH "TIMESTAMP,ContextTokens,GeneratedTokens\n"
#define ROW "2023-11-16 18:15:46.6805900,374,44\n"
#define J(ts, in, out, ids) "{\"timestamp\": " ts ", \"input_length\": " in ", \"output_length\": " out ", \"hash_ids\": " ids "}\n"

static const struct {
    vworkload_format fmt;
    const char *text;
    const char *error;
} bad[] = {
    {VWORKLOAD_AZURE, "", "w:1: empty file (expected the header 'TIMESTAMP,ContextTokens,GeneratedTokens')"},
    {VWORKLOAD_AZURE, "time,in,out\n",
     "w:1: expected the header 'TIMESTAMP,ContextTokens,GeneratedTokens', found 'time,in,out'"},
    {VWORKLOAD_AZURE, CSVH "2023-11-16,374,44\n",
     "w:2: TIMESTAMP: expected YYYY-MM-DD HH:MM:SS[.fraction], found '2023-11-16'"},
    {VWORKLOAD_AZURE, CSVH "2023-02-29 10:00:00,1,1\n", "w:2: TIMESTAMP: no such date or time: '2023-02-29 10:00:00'"},
    {VWORKLOAD_AZURE, CSVH "2023-11-16 24:00:00,1,1\n", "w:2: TIMESTAMP: no such date or time: '2023-11-16 24:00:00'"},
    {VWORKLOAD_AZURE, CSVH "2023-11-16 10:00:00.,1,1\n",
     "w:2: TIMESTAMP: expected 1 to 9 fraction digits, found '2023-11-16 10:00:00.'"},
    {VWORKLOAD_AZURE, CSVH "2023-11-16 10:00:00Z,1,1\n", "w:2: TIMESTAMP: unexpected text in '2023-11-16 10:00:00Z'"},
    {VWORKLOAD_AZURE, CSVH ROW "2023-11-16 18:15:46.6805899,1,1\n", "w:3: timestamp goes backwards (1 us before the previous request)"},
    {VWORKLOAD_AZURE, CSVH "2023-11-16 10:00:00\n", "w:2: missing ContextTokens (expected TIMESTAMP,ContextTokens,GeneratedTokens)"},
    {VWORKLOAD_AZURE, CSVH "2023-11-16 10:00:00,5\n", "w:2: missing GeneratedTokens (expected TIMESTAMP,ContextTokens,GeneratedTokens)"},
    {VWORKLOAD_AZURE, CSVH "2023-11-16 10:00:00,,5\n", "w:2: missing ContextTokens"},
    {VWORKLOAD_AZURE, CSVH "2023-11-16 10:00:00,-5,5\n", "w:2: ContextTokens: expected a non-negative integer, found '-5'"},
    {VWORKLOAD_AZURE, CSVH "2023-11-16 10:00:00,5,1.5\n", "w:2: GeneratedTokens: expected a non-negative integer, found '1.5'"},
    {VWORKLOAD_AZURE, CSVH "2023-11-16 10:00:00,0,5\n", "w:2: ContextTokens 0 out of range (expected 1 to 1000000000)"},
    {VWORKLOAD_AZURE, CSVH "2023-11-16 10:00:00,5,99999999999999999999\n", "w:2: GeneratedTokens out of range: '99999999999999999999'"},
    {VWORKLOAD_AZURE, CSVH "2023-11-16 10:00:00,5,5,5\n",
     "w:2: trailing text ',5' (expected TIMESTAMP,ContextTokens,GeneratedTokens)"},
    {VWORKLOAD_MOONCAKE, "[1, 2]\n", "w:1: expected a JSON object '{', found '[1, 2]'"},
    {VWORKLOAD_MOONCAKE, "{timestamp: 1}\n", "w:1: expected a quoted key"},
    {VWORKLOAD_MOONCAKE, "{\"timestamp", "w:1: unterminated key"},
    {VWORKLOAD_MOONCAKE, "{\"ts\": 1}\n", "w:1: unknown key 'ts' (expected timestamp, input_length, output_length, hash_ids)"},
    {VWORKLOAD_MOONCAKE, "{\"timestamp\": 1, \"timestamp\": 2}\n", "w:1: duplicate key 'timestamp'"},
    {VWORKLOAD_MOONCAKE, "{\"timestamp\" 1}\n", "w:1: expected ':' after key 'timestamp'"},
    {VWORKLOAD_MOONCAKE, "{\"timestamp\": 1.5}\n", "w:1: timestamp: expected a non-negative integer, found '1.5'"},
    {VWORKLOAD_MOONCAKE, "{\"timestamp\": \"1\"}\n", "w:1: timestamp: expected a non-negative integer, found '\"1\"'"},
    {VWORKLOAD_MOONCAKE, "{\"timestamp\": 1 \"input_length\": 2}\n", "w:1: expected ',' or '}' after the value of 'timestamp'"},
    {VWORKLOAD_MOONCAKE, "{\"timestamp\": 1}\n", "w:1: missing key 'input_length'"},
    {VWORKLOAD_MOONCAKE, "{\"timestamp\": 1} x\n", "w:1: trailing text 'x' after the object"},
    {VWORKLOAD_MOONCAKE, J("1", "2", "3", "7"), "w:1: hash_ids: expected '['"},
    {VWORKLOAD_MOONCAKE, J("1", "2", "3", "[7 8]"), "w:1: hash_ids: expected ',' or ']' after id 1"},
    {VWORKLOAD_MOONCAKE, J("1", "2", "3", "[7, -8]"), "w:1: hash id: expected a non-negative integer, found '-8'"},
    {VWORKLOAD_MOONCAKE, J("1", "513", "3", "[7]"), "w:1: hash_ids has 1 ids, expected ceil(input_length / 512) = 2"},
    {VWORKLOAD_MOONCAKE, J("1", "0", "3", "[]"), "w:1: input_length 0 out of range (expected 1 to 1000000000)"},
    {VWORKLOAD_MOONCAKE, J("5", "2", "3", "[7]") J("4", "2", "3", "[7]"),
     "w:2: timestamp goes backwards (1000 us before the previous request)"},
    {VWORKLOAD_MOONCAKE, J("18446744073709552", "2", "3", "[7]"), "w:1: timestamp 18446744073709552 ms out of range"},
    /* a recording without a request is refused in both formats */
    {VWORKLOAD_MOONCAKE, "",
     "w:1: empty file (expected one JSON object a line, with timestamp, input_length, output_length and hash_ids)"},
    {VWORKLOAD_MOONCAKE, "\n\r\n",
     "w:2: empty file (expected one JSON object a line, with timestamp, input_length, output_length and hash_ids)"},
    {VWORKLOAD_AZURE, CSVH, "w:1: no requests after the header (expected TIMESTAMP,ContextTokens,GeneratedTokens rows)"},
    {VWORKLOAD_AZURE, CSVH "\n", "w:2: no requests after the header (expected TIMESTAMP,ContextTokens,GeneratedTokens rows)"},
    /* keys are JSON strings: escapes decoded before the key is looked up */
    {VWORKLOAD_MOONCAKE, "{\"t\\u0073\": 1}\n", "w:1: unknown key 'ts' (expected timestamp, input_length, output_length, hash_ids)"},
    {VWORKLOAD_MOONCAKE, "{\"time\\\"stamp\": 1}\n",
     "w:1: unknown key 'time\"stamp' (expected timestamp, input_length, output_length, hash_ids)"},
    {VWORKLOAD_MOONCAKE, "{\"\\ud83d\\ude00\": 1}\n",
     "w:1: unknown key '?\?\?\?' (expected timestamp, input_length, output_length, hash_ids)"},
    {VWORKLOAD_MOONCAKE, "{\"\\u0074imestamp\": 1, \"timestamp\": 2}\n", "w:1: duplicate key 'timestamp'"},
    {VWORKLOAD_MOONCAKE, "{\"a\\q\": 1}\n",
     "w:1: bad escape '\\q' in a key (expected \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX)"},
    {VWORKLOAD_MOONCAKE, "{\"\\u00g1\": 1}\n", "w:1: bad escape '\\u00g1' in a key (expected \\u and 4 hex digits)"},
    {VWORKLOAD_MOONCAKE, "{\"\\u00", "w:1: bad escape '\\u00' in a key (expected \\u and 4 hex digits)"},
    {VWORKLOAD_MOONCAKE, "{\"\\ud800x\": 1}\n", "w:1: bad escape '\\ud800' in a key (a high surrogate without a low one)"},
    {VWORKLOAD_MOONCAKE, "{\"\\udc00\": 1}\n", "w:1: bad escape '\\udc00' in a key (a low surrogate without a high one)"},
    {VWORKLOAD_MOONCAKE, "{\"ab\\", "w:1: unterminated key"},
};

static void test_bad_rows(void)
{
    char err[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vworkload_reader *r;
        const char *got = err;
        if (vworkload_open_buffer(bad[i].text, strlen(bad[i].text), "w", bad[i].fmt, &r, err, sizeof err) == VRAM_OK) {
            vworkload_request q;
            int rc;
            while ((rc = vworkload_next(r, &q)) == 1)
                ;
            snprintf(err, sizeof err, "%s", rc < 0 ? vworkload_error(r) : "");
            expect_true(vworkload_next(r, &q) == (rc < 0 ? -1 : 0));
            vworkload_close(r);
        }
        if (strcmp(got, bad[i].error) != 0) {
            fprintf(stderr, "case %zu:\n  got:    %s\n  wanted: %s\n", i, got, bad[i].error);
            test_failures++;
        }
    }

    /* too many hash ids */
    size_t cap = 64 * 1024;
    char *big = malloc(cap);
    assert_true(big != NULL);
    int n = snprintf(big, cap, "{\"timestamp\": 1, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [");
    for (int i = 0; i <= VWORKLOAD_HASH_MAX; i++)
        n += snprintf(big + n, cap - (size_t)n, "%s1", i ? "," : "");
    n += snprintf(big + n, cap - (size_t)n, "]}\n");
    vworkload_reader *r;
    vworkload_request q;
    assert_ok(vworkload_open_buffer(big, (size_t)n, "w", VWORKLOAD_MOONCAKE, &r, err, sizeof err));
    expect_true(vworkload_next(r, &q) == -1);
    expect_true(strcmp(vworkload_error(r), "w:1: hash_ids: more than 4096 ids") == 0);
    vworkload_close(r);
    free(big);

    expect_status(vworkload_open("/nonexistent.csv", VWORKLOAD_AZURE, &r, err, sizeof err), VRAM_EIO);
    expect_true(strcmp(err, "/nonexistent.csv: cannot open: No such file or directory") == 0);
}

int main(void)
{
    test_real_files();
    test_values();
    test_bad_rows();
    return test_finish("workload");
}
