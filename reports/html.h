/* html.h - index.html: the whole report on one page, readable offline (PNGs
 * embedded as base64 data URIs, SVGs linked beside it). */
#ifndef VREP_HTML_H
#define VREP_HTML_H

#include "figures.h"
#include "summary.h"

typedef struct vrep_page {
    const char *title;
    const vrep_series *s;
    size_t n;
    const vrep_pair *pairs;   /* the comparison, or NULL */
    size_t npairs;
    const vrep_figure *figs;
    size_t nfigs;
} vrep_page;

/* Writes OUT/index.html. O(image bytes). The page ends with a script that
 * records, once loaded, how many of its images rendered in
 * <p id="imgcheck" data-rendered="R" data-total="T"> (the headless browser
 * test reads it). VRAM_EIO with "PATH: why" when a file cannot be read or written. */
vram_status vrep_index_html(const vrep_paths *p, const vrep_page *page, char *err,
                            size_t errlen);

#endif
