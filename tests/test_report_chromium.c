/* test_report_chromium.c - the report page in headless Chromium: once loaded,
 * every figure on it has rendered as its interactive SVG, whose gnuplot script
 * ran (the page's own check writes the counts into <p id="imgcheck">, read
 * back with --dump-dom), the verdict ranks both runs, an SVG opened alone runs
 * its script too (its legend entries' inline handlers replaced by listeners),
 * and a screenshot of the page is a real picture. Exits 77 (ctest: skipped)
 * with the reason where Chromium is not installed or cannot start here.
 * $VREPORT_CHROMIUM names another binary. */
#include <limits.h>

#include "test_report_lib.h"

#define WORK "report_chromium_work"
#define SKIP 77

/* The browser: $VREPORT_CHROMIUM, else chromium on PATH; NULL if none. */
static const char *find_chromium(char *buf, size_t len)
{
    const char *env = getenv("VREPORT_CHROMIUM");
    if (env)
        return access(env, X_OK) == 0 ? env : NULL;
    const char *path = getenv("PATH");
    while (path && *path) {
        size_t n = strcspn(path, ":");
        snprintf(buf, len, "%.*s/chromium", (int)n, path);
        if (access(buf, X_OK) == 0)
            return buf;
        path += n + (path[n] == ':');
    }
    return NULL;
}

static int chromium(const char *bin, const char *mode, const char *url, const char *log)
{
    char profile[PATH_MAX + 32];
    char *cwd = getcwd(NULL, 0);
    assert_true(cwd != NULL);
    snprintf(profile, sizeof profile, "--user-data-dir=%s/" WORK "/profile", cwd);
    free(cwd);
    char *argv[] = {(char *)bin, "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", profile,
                    /* the page's check looks into its <object>s, file:// beside it */
                    "--allow-file-access-from-files",
                    "--virtual-time-budget=10000", "--window-size=1200,2400", (char *)mode,
                    (char *)url, NULL};
    return run_logged(argv, NULL, log);
}

int main(void)
{
    char buf[PATH_MAX];
    const char *bin = find_chromium(buf, sizeof buf);
    if (!bin) {
        printf("SKIPPED: chromium is not installed (Debian: apt-get install chromium; or set"
               " VREPORT_CHROMIUM)\n");
        return SKIP;
    }
    rm_tree(WORK);
    mkdir(WORK, 0777);
    const char *const policies[] = {"bestfit", "pool", NULL};
    make_db(WORK "/mix.db", MIX_TRACE, policies);
    char *argv[] = {REPORT_BIN, WORK "/mix.db", "-o", WORK "/out", NULL};
    expect_eq_u64(run_logged(argv, NULL, WORK "/report.log"), 0);

    char *cwd = getcwd(NULL, 0);
    assert_true(cwd != NULL);
    char url[PATH_MAX + 64], shot[PATH_MAX + 64];
    snprintf(url, sizeof url, "file://%s/" WORK "/out/index.html", cwd);
    snprintf(shot, sizeof shot, "--screenshot=%s/" WORK "/shot.png", cwd);
    free(cwd);

    int rc = chromium(bin, "--dump-dom", url, WORK "/dom.html");
    char *dom = read_file(WORK "/dom.html", NULL);
    if (rc != 0 || !dom || !strstr(dom, "</html>")) {
        printf("SKIPPED: %s cannot run here (exit %d); its output is in %s/" WORK "/dom.html\n",
               bin, rc, VRAM_BINARY_DIR "/tests");
        free(dom);
        return SKIP;
    }
    /* Headless Chromium now and then shows an <object>'s fallback PNG instead of
     * its SVG (a load given up under --virtual-time-budget, "(png)" in
     * data-static): the page is loaded afresh, three times at most. */
    int rendered = -1, total = -1, live = -1;
    for (int attempt = 0; attempt < 3 && (attempt == 0 || live != total); attempt++) {
        if (attempt) {
            rm_tree(WORK "/profile");
            free(dom);
            chromium(bin, "--dump-dom", url, WORK "/dom.html");
            dom = read_file(WORK "/dom.html", NULL);
            assert_true(dom != NULL);
        }
        const char *check = strstr(dom, "id=\"imgcheck\"");
        const char *r = check ? strstr(check, "data-rendered=\"") : NULL;
        const char *t = check ? strstr(check, "data-total=\"") : NULL;
        const char *in = check ? strstr(check, "data-interactive=\"") : NULL;
        const char *st = check ? strstr(check, "data-static=\"") : NULL;
        rendered = r ? atoi(r + 15) : -1, total = t ? atoi(t + 12) : -1;
        live = in ? atoi(in + 18) : -1;
        printf("chromium: %d figures, %d rendered, %d interactive; static:%.*s\n", total,
               rendered, live, st ? (int)strcspn(st + 13, "\"") : 0, st ? st + 13 : "");
    }
    expect_eq_u64(total, 5); /* footprint, frag, latency, heap map, evictions */
    expect_eq_u64(rendered, total);
    expect_eq_u64(live, total);
    /* the verdict: both runs ranked, in the rendered page */
    const char *v = strstr(dom, "<ol id=\"verdict\">");
    const char *vend = v ? strstr(v, "</ol>") : NULL;
    int items = 0;
    for (const char *li = v; li && vend && (li = strstr(li + 1, "<li>")) && li < vend;)
        items++;
    expect_eq_u64(items, 2);
    expect_true(v && strstr(v, " x peak live, ") != NULL);
    free(dom);

    /* an SVG alone: gnuplot's script replaced the legend's inline handlers */
    char svg_url[PATH_MAX + 64];
    snprintf(svg_url, sizeof svg_url, "%.*sfootprint.svg",
             (int)(strlen(url) - strlen("index.html")), url);
    char *file = read_file(WORK "/out/footprint.svg", NULL);
    expect_true(file && strstr(file, "_keyentry\" visibility=\"visible\" onclick=") != NULL);
    free(file);
    expect_eq_u64(chromium(bin, "--dump-dom", svg_url, WORK "/svg.html"), 0);
    char *svg = read_file(WORK "/svg.html", NULL);
    expect_true(svg && strstr(svg, "_keyentry") != NULL);
    expect_true(svg && strstr(svg, "_keyentry\" visibility=\"visible\" onclick=") == NULL);
    free(svg);

    expect_eq_u64(chromium(bin, shot, url, WORK "/shot.log"), 0);
    /* A blank 1200 x 2400 page compresses to a few KiB; tables and plots do not. */
    expect_true(png_ok(WORK "/shot.png", 1000, 60000));
    return test_finish("report_chromium");
}
