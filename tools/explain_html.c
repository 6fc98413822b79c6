/* explain_html.c — `attx explain --html FILE`: one self-contained page (no scripts, no external
 * resources). A row per method: the tokens shaded by their score (red positive, blue negative,
 * the strongest |score| of the method at full strength; hovering shows the value), or for an
 * image the picture with the patch grid laid over it in the same colours. */
#include "cli.h"
#include "cmd_explain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double max_abs(const double *x, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

/* The patch grid of one method as SVG rectangles over the picture (a data: URI, or none). */
static void put_patch_grid(attx_buf *b, const attx_explanation *ex, const attx_method_result *r,
                           const char *picture_uri, int width, int height)
{
    double scale = max_abs(r->scores, r->n);
    int pw = width / ex->grid_w, ph = height / ex->grid_h;
    attx_buf_printf(b, "<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">", 2 * width, 2 * height, width, height);
    if (picture_uri)
        attx_buf_printf(b, "<image href=\"%s\" width=\"%d\" height=\"%d\" style=\"image-rendering:pixelated\"/>",
                        picture_uri, width, height);
    for (int y = 0; y < ex->grid_h; y++)
        for (int x = 0; x < ex->grid_w; x++) {
            double s = r->scores[y * ex->grid_w + x];
            attx_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"", x * pw, y * ph, pw, ph);
            html_score_colour(b, s, scale);
            attx_buf_printf(b, "\"><title>patch %d,%d: %.6g</title></rect>", y, x, s);
        }
    attx_buf_puts(b, "</svg>");
}

int explain_write_html(const char *path, const attx_model *m, const attx_explanation *ex, const char *model_path,
                       const char *input, const char *picture_uri, attx_error *err)
{
    const attx_config *cfg = attx_model_config(m);
    attx_buf b = {0};
    attx_buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>attx explain</title>\n"
                      "<style>body{font-family:sans-serif;margin:2em;color:#222}"
                      "table{border-collapse:collapse}td,th{padding:.5em .8em;border-bottom:1px solid #ddd;"
                      "vertical-align:top;text-align:left}th{font-weight:600;white-space:nowrap}"
                      ".tok{padding:.15em .25em;margin:.1em;border-radius:.25em;display:inline-block;"
                      "font-family:monospace;font-size:1.1em}.how{color:#777;font-size:.85em}"
                      ".key span{padding:.1em .5em;margin-right:.5em}</style></head><body>\n");
    attx_buf_puts(&b, "<h1>attx explain</h1>\n<p>model <code>");
    attx_buf_html(&b, model_path);
    attx_buf_puts(&b, "</code>, input <code>");
    attx_buf_html(&b, input);
    attx_buf_puts(&b, "</code></p>\n<p>prediction: <b>");
    attx_buf_html(&b, cfg->labels[ex->predicted]);
    attx_buf_printf(&b, "</b> (p = %.4f)", ex->probs[ex->predicted]);
    if (ex->klass != ex->predicted) {
        attx_buf_puts(&b, "; explaining class <b>");
        attx_buf_html(&b, cfg->labels[ex->klass]);
        attx_buf_printf(&b, "</b> (p = %.4f)", ex->probs[ex->klass]);
    }
    attx_buf_printf(&b, "; %d players (%s)</p>\n", ex->n_players, ex->grid_w ? "patches" : "content tokens");
    attx_buf_puts(&b, "<p class=\"key\"><span style=\"background:rgba(214,39,40,.85)\">for the class</span>"
                      "<span style=\"background:rgba(31,119,180,.85)\">against it</span>"
                      "each row scaled to its own largest |score|; hover for the values</p>\n<table>\n");
    for (int k = 0; k < ex->n_methods; k++) {
        const attx_method_result *r = &ex->methods[k];
        attx_buf_puts(&b, "<tr><th>");
        attx_buf_html(&b, r->name);
        attx_buf_puts(&b, "<div class=\"how\">");
        attx_buf_html(&b, r->how);
        attx_buf_printf(&b, "<br>%.1f ms, %llu forward, %llu backward</div></th><td>", r->time_ms,
                        (unsigned long long)r->forward_passes, (unsigned long long)r->backward_passes);
        if (ex->grid_w) {
            put_patch_grid(&b, ex, r, picture_uri, cfg->image_width, cfg->image_height);
        } else {
            double scale = max_abs(r->scores, r->n);
            char label[64];
            for (int i = 0; i < r->n; i++) {
                attx_buf_puts(&b, "<span class=\"tok\" style=\"background:");
                html_score_colour(&b, r->scores[i], scale);
                attx_buf_printf(&b, "\" title=\"%.6g\">", r->scores[i]);
                attx_buf_html(&b, explain_player_label(m, ex, i, label, sizeof label));
                attx_buf_puts(&b, "</span>");
            }
        }
        attx_buf_puts(&b, "</td></tr>\n");
    }
    attx_buf_puts(&b, "</table>\n</body></html>\n");
    return html_write(path, &b, err);
}
