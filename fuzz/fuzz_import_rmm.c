/* fuzz_import_rmm.c - the RMM log importer over any bytes (import_fuzz.h). */
#include "import_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_import_run(data, size, vimport_rmm, NULL, "rmm", "fuzz_import_rmm");
}
