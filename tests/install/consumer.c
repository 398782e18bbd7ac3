/* consumer.c - a program outside vramlab built against an installed libvram (the
 * install_consumer test, tests/install/run.cmake): every public header through
 * <vram/vram.h>, a heap created, one block allocated, checked and freed. */
#include <stdio.h>

#include <vram/vram.h>

int main(void)
{
    const vram_heap_ops *ops = vram_heap_policy("tlsf");
    vram_heap_config cfg = {.capacity = UINT64_C(1) << 30};
    vram_heap *h = NULL;
    uint64_t off = 0;
    vram_heap_stats st;
    vram_status s;
    char msg[256];
    if (!ops) {
        fprintf(stderr, "consumer: no tlsf policy\n");
        return 1;
    }
    if ((s = vram_heap_create(ops, &cfg, &h)) != VRAM_OK ||
        (s = vram_heap_alloc(h, 1000, VRAM_DEFAULT_ALIGN, &off)) != VRAM_OK) {
        fprintf(stderr, "consumer: %s\n", vram_strerror(s));
        return 1;
    }
    vram_heap_stats_get(h, &st);
    int ok = st.live_allocs == 1 && st.requested == 1000 && vram_heap_free(h, off) == VRAM_OK &&
             vram_heap_check(h, msg, sizeof msg) == VRAM_OK;
    vram_heap_destroy(h);
    printf("consumer: %s heap, one block at %llu: %s\n", ops->name, (unsigned long long)off,
           ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
