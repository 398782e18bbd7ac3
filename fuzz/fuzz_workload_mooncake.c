/* fuzz_workload_mooncake.c - the Mooncake JSONL workload reader over any bytes. */
#include "workload_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_workload_run(data, size, VWORKLOAD_MOONCAKE, "fuzz_workload_mooncake");
}
