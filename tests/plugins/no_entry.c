/* no_entry.c - a shared library that is no plugin: it exports a function,
 * but not vram_plugin_entry. */
int vram_plugin_entry_misspelt(void);
int vram_plugin_entry_misspelt(void) { return 0; }
