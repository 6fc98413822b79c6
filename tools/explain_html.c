/* explain_html.c — `attx explain --html FILE`: the teaching page, one self-contained file (no
 * network: the script, the style and the data are inline). explain_document's teaching object
 * is embedded as JSON (<script type="application/json" id="attx-data">) and drawn by the
 * page's script (web/explain_page.js): the input shaded by each method (an image under a heat
 * overlay), A and dA per layer and head, the influence matrix and its game, the faithfulness
 * curves and the samplers' convergence. The WebAssembly page (make web) runs the same script
 * on the same document computed in the browser. */
#include "cli.h"
#include "explain_view.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The picture as the model sees it (resized, enlarged to >= 224 pixels a side), a PNG data:
 * URI: the heat map of heatmap_png.c with every score 0, read back by html.c. */
static int picture_uri(attx_buf *b, const attx_model *m, const attx_explanation *ex, const char *image_path,
                       attx_error *err)
{
    char tmp[] = "/tmp/attx-picture-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) return attx_fail(err, "%s: cannot make a temporary file", tmp);
    close(fd);
    double *zeros = calloc((size_t)ex->n_players, sizeof *zeros);
    int rc = zeros ? cli_patch_heatmap_png(m, image_path, zeros, tmp, err) : attx_fail(err, "out of memory");
    if (rc == 0) rc = html_data_uri(b, "image/png", tmp, err);
    unlink(tmp);
    free(zeros);
    return rc;
}

int explain_write_html(const char *path, const attx_model *m, const attx_explanation *ex,
                       const explain_doc_options *d, attx_error *err)
{
    explain_doc_options o = *d;
    attx_buf picture = {0}, json = {0}, b = {0};
    o.teaching = 1;
    o.attentions = 1;
    if (ex->arch == ATTX_ARCH_VIT && o.input) {
        if (picture_uri(&picture, m, ex, o.input, err) != 0) goto fail;
        o.picture_uri = picture.data;
    }
    if (explain_document(&json, m, ex, &o, err) != 0) goto fail;
    attx_buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                      "<title>attx explain</title>\n<style>\n");
    attx_buf_puts(&b, explain_page_css);
    attx_buf_puts(&b, "</style></head><body>\n<main id=\"attx-page\"><noscript>This page draws its views with "
                      "JavaScript.</noscript></main>\n<script type=\"application/json\" id=\"attx-data\">");
    for (const char *s = json.data; *s; s++) {   /* "</" would end the script element */
        if (s[0] == '<' && s[1] == '/') attx_buf_puts(&b, "<\\");
        else attx_buf_append(&b, s, 1);
    }
    attx_buf_puts(&b, "</script>\n<script>\n");
    attx_buf_puts(&b, explain_page_js);
    attx_buf_puts(&b, "attxRender(document.getElementById(\"attx-page\"),\n"
                      "           JSON.parse(document.getElementById(\"attx-data\").textContent));\n"
                      "</script>\n</body></html>\n");
    attx_buf_free(&picture);
    attx_buf_free(&json);
    return html_write(path, &b, err);
fail:
    attx_buf_free(&picture);
    attx_buf_free(&json);
    return -1;
}
