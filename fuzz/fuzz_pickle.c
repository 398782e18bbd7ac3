/* fuzz_pickle.c - the strict pickle reader (sim/recordings/pickle.h) over any bytes: a
 * document or a clean "fuzz.pickle: byte N: ..." error, never a crash, leak or
 * hang. A document is walked from the root (a bounded number of visits: the
 * graph may share and even contain itself) and every value must be well formed:
 * a known type, strings readable over their whole length, sequences with
 * non-NULL items and len <= cap, dicts with an even number of items, and the
 * accessors (vpickle_len, vpickle_item) agreeing with the fields. */
#include <string.h>

#include "fuzz_input.h"
#include "pickle.h"

#define TARGET "fuzz_pickle"
#define MAX_VISITS 100000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    vpickle_doc *d = NULL;
    vram_status st = vpickle_parse(data, size, "fuzz.pickle", NULL, &d, err, sizeof err);
    if (st) {
        if (d || (st != VRAM_EPARSE && st != VRAM_ENOHOST) || strncmp(err, "fuzz.pickle: ", 13) != 0)
            fz_fail(TARGET, "parse", 0, "%s, error '%s'", vram_status_name(st), err);
        return 0;
    }
    const vpickle_value **stack = malloc(MAX_VISITS * sizeof *stack);
    size_t top = 0, visits = 0;
    if (!stack) {
        vpickle_free(d);
        return 0;
    }
    stack[top++] = vpickle_root(d);
    while (top && visits < MAX_VISITS) {
        const vpickle_value *v = stack[--top];
        visits++;
        if (!v)
            fz_fail(TARGET, "walk", visits, "a NULL value");
        switch (v->type) {
        case VPICKLE_NONE: case VPICKLE_BOOL: case VPICKLE_INT: case VPICKLE_FLOAT:
            break;
        case VPICKLE_UINT:
            if (v->u.u <= INT64_MAX)
                fz_fail(TARGET, "walk", visits, "uint %" PRIu64 " fits an int", v->u.u);
            break;
        case VPICKLE_STR: case VPICKLE_BYTES:
            if (v->u.s.len) {
                if (!v->u.s.ptr)
                    fz_fail(TARGET, "walk", visits, "string of %zu bytes without bytes", v->u.s.len);
                volatile char first = v->u.s.ptr[0], last = v->u.s.ptr[v->u.s.len - 1]; /* ASan checks both */
                (void)first;
                (void)last;
            }
            break;
        case VPICKLE_LIST: case VPICKLE_TUPLE: case VPICKLE_DICT: {
            size_t n = v->u.seq.len;
            if (n > v->u.seq.cap || (n && !v->u.seq.items) || (v->type == VPICKLE_DICT && n % 2) ||
                vpickle_len(v) != (v->type == VPICKLE_DICT ? n / 2 : n))
                fz_fail(TARGET, "walk", visits, "%s of %zu items, cap %zu, vpickle_len %zu",
                        vpickle_type_name(v->type), n, v->u.seq.cap, vpickle_len(v));
            for (size_t i = 0; i < n && top < MAX_VISITS; i++) {
                if (v->type != VPICKLE_DICT && vpickle_item(v, i) != v->u.seq.items[i])
                    fz_fail(TARGET, "walk", visits, "vpickle_item(%zu) disagrees with items[]", i);
                stack[top++] = v->u.seq.items[i];
            }
            break;
        }
        default:
            fz_fail(TARGET, "walk", visits, "unknown type %d", (int)v->type);
        }
    }
    free(stack);
    vpickle_free(d);
    return 0;
}
