/* budget_models.c - built-in model configurations of the budget planner.
 *
 * Numbers from each model's published config.json (Hugging Face):
 *   meta-llama/Meta-Llama-3-70B, Meta-Llama-3-8B (max_position_embeddings 8192),
 *   meta-llama/Llama-3.1-70B (131072), mistralai/Mixtral-8x7B-v0.1 (32768).
 * All bf16 (2 bytes), tp = 1, untied embeddings. */
#include <string.h>

#include "vram/budget.h"

static const vram_model_config builtin_models[] = {
    {.name = "llama-3-70b", .layers = 80, .hidden = 8192, .heads = 64, .kv_heads = 8,
     .head_dim = 128, .intermediate = 28672, .vocab = 128256, .dtype_bytes = 2, .tp = 1,
     .context_max = 8192},
    {.name = "llama-3.1-70b", .layers = 80, .hidden = 8192, .heads = 64, .kv_heads = 8,
     .head_dim = 128, .intermediate = 28672, .vocab = 128256, .dtype_bytes = 2, .tp = 1,
     .context_max = 131072},
    {.name = "llama-3-8b", .layers = 32, .hidden = 4096, .heads = 32, .kv_heads = 8,
     .head_dim = 128, .intermediate = 14336, .vocab = 128256, .dtype_bytes = 2, .tp = 1,
     .context_max = 8192},
    {.name = "mixtral-8x7b", .layers = 32, .hidden = 4096, .heads = 32, .kv_heads = 8,
     .head_dim = 128, .intermediate = 14336, .vocab = 32000, .dtype_bytes = 2, .tp = 1,
     .context_max = 32768, .experts = 8, .active_experts = 2},
};

#define BUILTIN_COUNT (sizeof builtin_models / sizeof builtin_models[0])

const vram_model_config *vram_model_builtin(size_t i)
{
    return i < BUILTIN_COUNT ? &builtin_models[i] : NULL;
}

vram_status vram_model_find(const char *name, vram_model_config *out)
{
    if (!name || !out)
        return VRAM_EINVAL;
    for (size_t i = 0; i < BUILTIN_COUNT; i++)
        if (strcmp(builtin_models[i].name, name) == 0) {
            *out = builtin_models[i];
            return VRAM_OK;
        }
    return VRAM_ENOTFOUND;
}
