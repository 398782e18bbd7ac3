/* fuzz_import_torch.c - the PyTorch snapshot importer over any bytes (import_fuzz.h). */
#include "import_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_import_run(data, size, vimport_torch, "torch", "fuzz_import_torch");
}
