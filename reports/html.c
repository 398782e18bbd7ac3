/* html.c - the report page. */
#include "html.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ranking.h"
#include "trace.h"

static const char css[] =
    "body{font-family:sans-serif;margin:2em;max-width:1200px;color:#222}"
    "table{border-collapse:collapse;margin:1em 0;font-size:90%}"
    "td,th{border:1px solid #ccc;padding:3px 6px}th{background:#f3f3f3}"
    "td.num{text-align:right;white-space:nowrap}td.worse{background:#fbd0d0;font-weight:bold}"
    "td.better{background:#d5f0d5}td.bad{color:#b00;font-weight:bold}"
    "figure{margin:2em 0}img{max-width:100%;border:1px solid #ddd}"
    "figcaption{font-size:90%;color:#444}.note{color:#666;font-size:85%}"
    "object.fig{max-width:100%;border:1px solid #ddd;display:block}"
    "p.warning{background:#fde2c8;border:1px solid #e0a060;padding:6px}"
    "div.wide{overflow-x:auto}dt{font-weight:bold}dd{margin-bottom:4px}";

/* Base64 of the file at `path` into f; 0 when it cannot be read. */
static int base64_file(FILE *f, const char *path)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    FILE *in = fopen(path, "rb");
    if (!in)
        return 0;
    unsigned char b[3];
    size_t k;
    while ((k = fread(b, 1, 3, in)) > 0) {
        unsigned v = (unsigned)b[0] << 16 | (k > 1 ? (unsigned)b[1] << 8 : 0) |
                     (k > 2 ? b[2] : 0);
        fputc(al[v >> 18 & 63], f);
        fputc(al[v >> 12 & 63], f);
        fputc(k > 1 ? al[v >> 6 & 63] : '=', f);
        fputc(k > 2 ? al[v & 63] : '=', f);
    }
    int ok = !ferror(in);
    fclose(in);
    return ok;
}

static void runs_table(FILE *f, const vrep_page *pg)
{
    fputs("<h2>Runs</h2>\n<table><tr><th>run</th><th>database</th><th>id</th><th>trace</th>"
          "<th>capacity</th><th>backend / evict / defrag</th><th>status</th><th>layout, detail, heap map"
          "</th></tr>\n", f);
    for (size_t i = 0; i < pg->n; i++) {
        const vrep_series *s = &pg->s[i];
        fputs("<tr><td>", f);
        vrep_html_text(f, s->label);
        fputs("</td><td>", f);
        vrep_html_text(f, vrep_db_path(s->db));
        fprintf(f, "</td><td class=\"num\">%lld</td><td>", (long long)s->run.id);
        vrep_html_text(f, s->run.trace);
        fprintf(f, " <span class=\"note\">crc32 %s</span></td><td class=\"num\">%.3f GiB</td><td>",
                s->run.crc32, (double)s->run.capacity / 1073741824.0);
        vrep_html_text(f, s->run.backend);
        fputs(" / ", f);
        vrep_html_text(f, s->run.evict_policy[0] ? s->run.evict_policy : "default");
        fputs(" / defrag ", f);
        vrep_html_text(f, s->run.defrag[0] ? s->run.defrag : "off");
        if (s->run.preempt_mode[0]) {
            char preempt[160];
            vrep_preempt_text(&s->run, preempt, sizeof preempt);
            fputs("<br>", f);
            vrep_html_text(f, preempt);
        }
        fputs("</td><td>", f);
        vrep_html_text(f, s->run.status);
        fputs("</td><td>", f);
        if (s->run.layout[0]) {
            vrep_html_text(f, s->run.layout);
            fputs("<br>", f);
        }
        if (s->run.detail[0]) {
            vrep_html_text(f, s->run.detail);
            fputs("<br>", f);
        }
        fputs("<span class=\"note\">heap map: ", f);
        vrep_html_text(f, s->map_note[VREP_MAP_PEAK][0] ? s->map_note[VREP_MAP_PEAK]
                                                        : "not drawn");
        if (s->map_note[VREP_MAP_OOM][0]) {
            fputs("<br>at its first OOM: ", f);
            vrep_html_text(f, s->map_note[VREP_MAP_OOM]);
        }
        if (s->map_note[VREP_MAP_PREEMPT][0]) {
            fputs("<br>at its first forced preemption: ", f);
            vrep_html_text(f, s->map_note[VREP_MAP_PREEMPT]);
        }
        fputs("</span></td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static int figure(FILE *f, const vrep_paths *p, const vrep_figure *fig, char *err,
                  size_t errlen)
{
    fprintf(f, "<figure id=\"%s\">\n", fig->stem);
    if (fig->made) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s.png", p->out, fig->stem);
        fprintf(f, "<object class=\"fig\" type=\"image/svg+xml\" data=\"%s.svg\"><img alt=\"",
                fig->stem);
        vrep_html_text(f, fig->caption);
        fputs("\" src=\"data:image/png;base64,", f);
        if (!base64_file(f, path)) {
            snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
            return 0;
        }
        fputs("\"></object>\n<figcaption>", f);
        vrep_html_text(f, fig->caption);
        fprintf(f, ". <span class=\"note\">Hover for values, click a legend entry to hide its"
                   " curve (<a href=\"%s.svg\">SVG</a>, <a href=\"%s.png\">PNG</a>).</span>"
                   "</figcaption>\n", fig->stem, fig->stem);
    } else {
        fputs("<figcaption>", f);
        vrep_html_text(f, fig->caption);
        fputs(": <b>not drawn</b>: ", f);
        vrep_html_text(f, fig->why);
        fputs("</figcaption>\n", f);
    }
    fputs("</figure>\n", f);
    return 1;
}

static const char self_check[] =
    "<p id=\"imgcheck\" hidden></p>\n"
    "<script>\n"
    "function vrepCheck(tries) {\n"
    "  var figs = document.querySelectorAll('object.fig'), shown = 0, live = 0, dead = '';\n"
    "  for (var i = 0; i < figs.length; i++) {\n"
    "    var doc = null, img = figs[i].querySelector('img');\n"
    "    try { doc = figs[i].contentDocument; } catch (e) {}\n"
    "    if (doc && doc.documentElement && doc.documentElement.nodeName == 'svg') {\n"
    "      shown++;\n"
    "      if (doc.querySelector('g[id$=\"_keyentry\"]') &&\n"
    "          !doc.querySelector('g[id$=\"_keyentry\"][onclick]')) live++;\n"
    "      else dead += ' ' + figs[i].getAttribute('data');\n"
    "    } else if (img && img.complete && img.naturalWidth > 0) {\n"
    "      shown++;\n"
    "      dead += ' ' + figs[i].getAttribute('data') + '(png)';\n"
    "    }\n"
    "  }\n"
    "  var p = document.getElementById('imgcheck');\n"
    "  p.setAttribute('data-total', figs.length);\n"
    "  p.setAttribute('data-rendered', shown);\n"
    "  p.setAttribute('data-interactive', live);\n"
    "  p.setAttribute('data-static', dead);\n"
    "  /* an SVG's own script may run after this page's load: look again */\n"
    "  if (live < figs.length && tries > 0)\n"
    "    setTimeout(function () { vrepCheck(tries - 1); }, 100);\n"
    "}\n"
    "window.addEventListener('load', function () { vrepCheck(30); });\n"
    "</script>\n";

vram_status vrep_index_html(const vrep_paths *p, const vrep_page *pg, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/index.html", p->out);
    vtrace_output out; /* the page replaces the last one only when complete */
    if (vtrace_output_begin(path, &out, err, errlen))
        return VRAM_EIO;
    FILE *f = fopen(out.write_path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write: %s", out.write_path, strerror(errno));
        vtrace_output_abort(&out);
        return VRAM_EIO;
    }
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>", f);
    vrep_html_text(f, pg->title);
    fprintf(f, "</title>\n<style>%s</style></head><body>\n<h1>", css);
    vrep_html_text(f, pg->title);
    fputs("</h1>\n", f);
    if (pg->warning && pg->warning[0]) {
        fputs("<p class=\"warning\" id=\"warning\"><b>Warning</b>: ", f);
        vrep_html_text(f, pg->warning);
        fputs(".</p>\n", f);
    }
    fputs("<h2>Verdict</h2>\n", f);
    vrep_ranking_html(f, pg->s, pg->n);
    fputs("<h2>Summary</h2>\n<div class=\"wide\">\n", f);
    vrep_summary_html(f, pg->s, pg->n);
    fputs("</div>\n", f);
    fputs("<h2>Definitions</h2>\n", f);
    vrep_terms_html(f);
    if (pg->npairs) {
        fputs("<h2>Comparison</h2>\n", f);
        vrep_compare_html(f, pg->pairs, pg->npairs);
        fputs("<p class=\"note\">", f);
        vrep_html_text(f, vrep_compare_note);
        fputs("</p>\n", f);
    }
    fputs("<h2>Closed loop (serve)</h2>\n", f);
    vrep_serve_html(f, pg->serve);
    if (!pg->prefix_absent) {
        fputs("<h2>Prefix cache</h2>\n", f);
        vrep_prefix_html(f, pg->prefix);
    }
    int ok = 1;
    for (size_t i = 0; i < pg->nfigs && ok; i++)
        ok = pg->figs[i].absent || figure(f, p, &pg->figs[i], err, errlen);
    if (ok) {
        runs_table(f, pg);
        fputs(self_check, f);
        fputs("</body></html>\n", f);
    }
    const int bad = ferror(f); /* a write failed before the close */
    if ((fclose(f) != 0 || bad) && ok) {
        snprintf(err, errlen, "%s: write failed: %s", out.write_path, strerror(errno));
        ok = 0;
    }
    if (!ok) {
        vtrace_output_abort(&out);
        return VRAM_EIO;
    }
    return vtrace_output_commit(&out, err, errlen);
}
