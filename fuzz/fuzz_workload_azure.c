/* fuzz_workload_azure.c - the Azure CSV workload reader over any bytes. */
#include "workload_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_workload_run(data, size, VWORKLOAD_AZURE, "fuzz_workload_azure");
}
