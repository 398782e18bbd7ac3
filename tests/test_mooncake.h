/* test_mooncake.h - the engine over a stretch of the Mooncake conversation
 * recording that fills a small device: 20 s from 600 s, Llama-3.1-70B on 50
 * GiB, so that the prefix cache evicts and requests are preempted. */
#ifndef TEST_MOONCAKE_H
#define TEST_MOONCAKE_H

#include "engine.h"

static inline void test_mooncake_small(vengine_config *c)
{
    c->workload = VRAM_RECORDINGS_DIR "/mooncake_fast25_conversation_trace.jsonl";
    c->format = VWORKLOAD_MOONCAKE;
    c->model = "llama-3.1-70b";
    c->start_s = 600;
    c->duration_s = 20;
    c->capacity = UINT64_C(50) << 30;
}

#endif
