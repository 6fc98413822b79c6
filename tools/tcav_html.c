/* tcav_html.c — `attx tcav --html FILE`: the tables, the CAV scores as strip plots and the
 * heatmap on one self-contained page (inline SVG; the PNG overlay as a data: URI). */
#include "cli.h"
#include "cmd_tcav.h"
#include "attx_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void put_stat_cells(attx_buf *b, const attx_tcav_stat *s, int with_p)
{
    attx_buf_printf(b, "<td>%.3f &plusmn; %.3f</td>", s->mean, s->std);
    if (with_p) attx_buf_printf(b, "<td>%.2e</td>", s->test.p);
    attx_buf_printf(b, "<td>%.2e</td><td class=\"%s\">%s</td>", s->p_bonferroni, s->significant ? "sig" : "",
                    tcav_verdict(s));
}

/* one strip per concept (and the random baseline): the n_cavs scores of one kind */
static void put_strips(attx_buf *b, const attx_tcav_result *r, const tcav_report_info *info, int j, int kind)
{
    int n = r->n_concepts + (r->baselines ? 1 : 0);
    const char **names = malloc((size_t)n * sizeof *names);
    const double **values = malloc((size_t)n * sizeof *values);
    size_t *counts = malloc((size_t)n * sizeof *counts);
    if (!names || !values || !counts) {
        b->failed = 1;
    } else {
        for (int c = 0; c < n; c++) {
            const attx_tcav_cell *cell = c < r->n_concepts ? &r->cells[j * r->n_concepts + c] : &r->baselines[j];
            names[c] = c < r->n_concepts ? info->concept_names[c] : r->classic ? "(random)" : "(null)";
            values[c] = cell->score[kind];
            counts[c] = (size_t)cell->n_cavs;
        }
        char title[160];
        snprintf(title, sizeof title, "layer %d, %s: each CAV's score (fraction of targets with S > 0)", r->layers[j],
                 kind == ATTX_TCAV_TTCAV ? "T-TCAV" : "TCAV");
        attx_svg_strips(b, title, names, values, counts, n);
    }
    free(names);
    free(values);
    free(counts);
}

int tcav_write_html(const char *path, const attx_model *m, const attx_tcav_result *r, const tcav_report_info *info,
                    attx_error *err)
{
    const attx_config *cfg = attx_model_config(m);
    attx_buf b = {0};
    attx_buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>attx tcav</title>\n"
                      "<style>body{font-family:sans-serif;margin:2em;color:#222}"
                      "table{border-collapse:collapse;margin:.5em 0 1em}td,th{padding:.3em .7em;"
                      "border-bottom:1px solid #ddd;text-align:left}th{font-weight:600}.sig{font-weight:600}"
                      ".tok{padding:.15em .25em;margin:.1em;border-radius:.25em;display:inline-block;"
                      "font-family:monospace;font-size:1.1em}.how{color:#666;font-size:.9em}</style></head><body>\n"
                      "<h1>attx tcav</h1>\n<p>model <code>");
    attx_buf_html(&b, info->model_path);
    attx_buf_printf(&b, "</code>; class %d (<b>", r->klass);
    attx_buf_html(&b, cfg->labels[r->klass]);
    attx_buf_printf(&b, "</b>); %d targets from <code>", r->n_targets);
    attx_buf_html(&b, info->targets_path);
    attx_buf_printf(&b, "</code></p>\n<p class=\"how\">%s, %d CAVs per concept and layer; %s; p-values "
                        "Bonferroni-corrected over %d tests, significant below %g; (+) above %s, (&minus;) below. "
                        "T-TCAV: S(x) = mean<sub>t</sub> a<sub>t</sub> d&#771;<sub>t</sub> with the [CLS] attention "
                        "a<sub>t</sub> (P1); TCAV: S(x) = &sum;<sub>t</sub> d<sub>t</sub>, without attention; "
                        "gradients of the %s.</p>\n",
                    tcav_cav_description(r), r->n_cavs, tcav_test_description(r), r->tests, info->alpha,
                    r->baselines ? "the baseline" : "0.5",
                    r->objective == ATTX_TCAV_CENTRED ? "centred logit z<sub>k</sub> &minus; mean<sub>j</sub> z<sub>j</sub> (not P1's)"
                    : r->objective == ATTX_TCAV_LOGSOFTMAX ? "log-softmax log p<sub>k</sub> (Kim et al.'s; not P1's)"
                    : r->objective == ATTX_TCAV_MARGIN ? "margin z<sub>k</sub> &minus; max<sub>j&ne;k</sub> z<sub>j</sub> (not P1's)"
                    : "class logit (P1's)");
    for (int j = 0; j < r->n_layers; j++) {
        attx_buf_printf(&b, "<h2>layer %d</h2>\n<table><tr><th rowspan=\"2\">concept</th><th colspan=\"4\">T-TCAV</th>"
                            "<th colspan=\"3\">TCAV</th></tr>\n<tr><th>score</th><th>p</th><th>p (corrected)</th>"
                            "<th>verdict</th><th>score</th><th>p (corrected)</th><th>verdict</th></tr>\n",
                        r->layers[j]);
        for (int c = 0; c < r->n_concepts; c++) {
            const attx_tcav_cell *cell = &r->cells[j * r->n_concepts + c];
            attx_buf_puts(&b, "<tr><td>");
            attx_buf_html(&b, info->concept_names[c]);
            attx_buf_puts(&b, "</td>");
            put_stat_cells(&b, &cell->stat[ATTX_TCAV_TTCAV], 1);
            put_stat_cells(&b, &cell->stat[ATTX_TCAV_TCAV], 0);
            attx_buf_puts(&b, "</tr>\n");
        }
        if (r->baselines) {
            const attx_tcav_cell *bl = &r->baselines[j];
            attx_buf_printf(&b, "<tr><td>%s</td><td>%.3f &plusmn; %.3f</td><td></td><td></td><td></td>"
                                "<td>%.3f &plusmn; %.3f</td><td></td><td></td></tr>\n",
                            r->classic ? "(random)" : "(null)", bl->stat[ATTX_TCAV_TTCAV].mean,
                            bl->stat[ATTX_TCAV_TTCAV].std, bl->stat[ATTX_TCAV_TCAV].mean,
                            bl->stat[ATTX_TCAV_TCAV].std);
        }
        attx_buf_puts(&b, "</table>\n");
        put_strips(&b, r, info, j, ATTX_TCAV_TTCAV);
        put_strips(&b, r, info, j, ATTX_TCAV_TCAV);
    }
    if (r->heat_T > 0) {
        double scale = 0;
        for (int t = 0; t < r->heat_T; t++) scale = fmax(scale, fabs(r->heat[t]));
        attx_buf_printf(&b, "<h2>heatmap</h2>\n<p class=\"how\">target %d", r->heat_target);
        if (info->heat_input) {
            attx_buf_puts(&b, " (<code>");
            attx_buf_html(&b, info->heat_input);
            attx_buf_puts(&b, "</code>)");
        }
        attx_buf_printf(&b, ", layer %d, concept ", r->heat_layer);
        attx_buf_html(&b, info->concept_names[r->heat_concept]);
        attx_buf_printf(&b, ", CAV %d: s<sub>t</sub> = a<sub>t</sub> d&#771;<sub>t</sub> per token, S = %.4g "
                            "(red: towards the concept raises the class logit)</p>\n",
                        r->heat_cav, r->heat_S);
        if (r->heat_ids) {
            const attx_wordpiece *wp = attx_model_tokenizer(m);
            attx_buf_puts(&b, "<p>");
            for (int t = 0; t < r->heat_T; t++) {
                const char *tok = attx_wordpiece_token(wp, r->heat_ids[t]);
                attx_buf_puts(&b, "<span class=\"tok\" style=\"background:");
                html_score_colour(&b, r->heat[t], scale);
                attx_buf_printf(&b, "\" title=\"%.6g\">", r->heat[t]);
                attx_buf_html(&b, tok ? tok : "?");
                attx_buf_puts(&b, "</span>");
            }
            attx_buf_puts(&b, "</p>\n");
        } else {
            /* the patches ([CLS] = s_0 is not drawn), each cell titled with its value */
            int P = cfg->patch_size, gw = cfg->image_width / P, gh = cfg->image_height / P, cell = 24;
            if (info->png) {
                attx_buf_puts(&b, "<p><img alt=\"heatmap over the target\" src=\"");
                if (html_data_uri(&b, "image/png", info->png, err) != 0) {
                    attx_buf_free(&b);
                    return -1;
                }
                attx_buf_puts(&b, "\"></p>\n");
            }
            attx_buf_printf(&b, "<svg width=\"%d\" height=\"%d\">", gw * cell, gh * cell);
            for (int y = 0; y < gh; y++)
                for (int x = 0; x < gw; x++) {
                    double s = r->heat[1 + y * gw + x];
                    attx_buf_printf(&b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" stroke=\"#ccc\" fill=\"",
                                    x * cell, y * cell, cell, cell);
                    html_score_colour(&b, s, scale);
                    attx_buf_printf(&b, "\"><title>patch %d,%d: %.6g</title></rect>", y, x, s);
                }
            attx_buf_printf(&b, "</svg>\n<p class=\"how\">[CLS]: s<sub>0</sub> = %.6g</p>\n", r->heat[0]);
        }
    }
    attx_buf_puts(&b, "</body></html>\n");
    return html_write(path, &b, err);
}
