/* html.h - index.html: the whole report on one page, readable offline: each
 * figure is the interactive SVG beside the page (an <object>), with its PNG
 * embedded as a base64 data URI inside it, shown where the SVG is not. A
 * figure the database has nothing for (vrep_figure.absent) is left out. */
#ifndef VREP_HTML_H
#define VREP_HTML_H

#include "figures.h"
#include "summary.h"

typedef struct vrep_page {
    const char *title;
    const char *warning;      /* shown at the top when not "" */
    const vrep_series *s;
    size_t n;
    const vrep_pair *pairs;   /* the comparison, or NULL */
    size_t npairs;
    const vrep_figure *figs;
    size_t nfigs;
    const vrep_serve *serve;  /* the closed-loop runs (serve_figure.h) */
    const vrep_prefix *prefix; /* the prefix-cache runs (prefix_figure.h) */
    int prefix_absent;        /* none: no section */
} vrep_page;

/* Writes OUT/index.html. O(image bytes). The page ends with a script that
 * records, once loaded, in the hidden <p id="imgcheck" data-total="T"
 * data-rendered="R" data-interactive="I">, how many figures it has, how many
 * rendered (the SVG, or else its PNG) and how many SVGs run gnuplot's script
 * (their legend entries' inline handlers replaced: readable where the page
 * may look into its <object>s, file:// with --allow-file-access-from-files),
 * for the headless browser test. VRAM_EIO with "PATH: why" when a file
 * cannot be read or written. */
vram_status vrep_index_html(const vrep_paths *p, const vrep_page *page, char *err,
                            size_t errlen);

#endif
