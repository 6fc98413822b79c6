/* eval_report.c — the reports of an evaluation run: P1-style text table, CSV, JSON and a
 * self-contained HTML page with inline SVG plots (strip plots / histograms of the
 * comprehensiveness per method, line plots for the sampling study). */
#include "attx_eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Summaries or NULL (no example done); the caller frees. */
static attx_eval_summary *summaries(const attx_eval_result *r, double *f1m, double *f1w)
{
    attx_eval_summary *s = calloc((size_t)r->n_methods, sizeof *s);
    if (!s) return NULL;
    if (attx_eval_summarize(r, s, f1m, f1w, NULL) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

static int is_partial(const attx_eval_result *r)
{
    return r->n_done + r->n_skipped < r->n_examples;
}

void attx_eval_report_table(attx_buf *out, const attx_eval_result *r, const attx_eval_report_info *info)
{
    if (info && info->data) {
        attx_buf_printf(out, "data: %s\n", info->data->source);
        if (info->data->note[0]) attx_buf_printf(out, "note: %s\n", info->data->note);
    }
    if (info && info->protocol) attx_buf_printf(out, "protocol: %s\n", info->protocol);
    if (is_partial(r)) attx_buf_printf(out, "partial: %zu of %zu examples\n", r->n_done + r->n_skipped, r->n_examples);
    if (r->n_skipped) attx_buf_printf(out, "skipped: %zu examples (first: %s)\n", r->n_skipped, r->first_skip);
    double f1m = NAN, f1w = NAN;
    attx_eval_summary *s = summaries(r, &f1m, &f1w);
    if (!s) {
        attx_buf_puts(out, "no example was evaluated\n");
        return;
    }
    attx_buf_printf(out, "%zu examples; the model on the full inputs: F1 macro %.4f, weighted %.4f\n", r->n_done,
                    f1m, f1w);
    attx_buf_printf(out, "%-22s %-17s %-17s %-17s %-17s %-8s %-8s %-19s %-11s %s\n", "method", "comp (P1)",
                    "suff (P1)", "AOPC comp", "AOPC suff", "F1 mac", "F1 wtd", "time/example (ms)", "fwd/bwd", "ties");
    size_t any_ties = 0;
    for (int k = 0; k < r->n_methods; k++) {
        const attx_eval_summary *m = &s[k];
        char c[4][40], t[40];
        snprintf(c[0], sizeof c[0], "%.4f ± %.4f", m->comp, m->comp_se);
        snprintf(c[1], sizeof c[1], "%.4f ± %.4f", m->suff, m->suff_se);
        snprintf(c[2], sizeof c[2], "%.4f ± %.4f", m->aopc_comp, m->aopc_comp_se);
        snprintf(c[3], sizeof c[3], "%.4f ± %.4f", m->aopc_suff, m->aopc_suff_se);
        snprintf(t, sizeof t, "%.2f ± %.2f", m->time_ms, m->time_ms_se);
        /* "±" is two bytes: pad by display width */
        char fb[40], ties[40] = "-";
        snprintf(fb, sizeof fb, "%.1f/%.1f", m->forwards, m->backwards);
        if (m->tied_examples) snprintf(ties, sizeof ties, "%.0f%%", 100.0 * (double)m->tied_examples / (double)r->n_done);
        any_ties += m->tied_examples;
        attx_buf_printf(out, "%-22s %-18s %-18s %-18s %-18s %-8.4f %-8.4f %-20s %-11s %s\n", r->methods[k], c[0], c[1],
                        c[2], c[3], m->f1_macro, m->f1_weighted, t, fb, ties);
    }
    if (any_ties)
        attx_buf_puts(out, "ties: the share of examples where a comp/suff bin falls inside a group of equal scores "
                           "(equal in float32); --ties decides how they are broken\n");
    free(s);
}

void attx_eval_report_csv(attx_buf *out, const attx_eval_result *r)
{
    attx_buf_puts(out, "example,method,n_players,gold,predicted,suff_predicted,p_full,comp,suff,aopc_comp,aopc_suff,"
                       "time_ms,forward_passes,backward_passes,tied_bins\n");
    for (size_t i = 0; i < r->n_done * (size_t)r->n_methods; i++) {
        const attx_eval_row *w = &r->rows[i];
        attx_buf_printf(out, "%zu,%s,%d,%d,%d,%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.6g,%llu,%llu,%d\n", w->example,
                        r->methods[w->method], w->n_players, w->gold, w->predicted, w->suff_predicted, w->p_full,
                        w->comp, w->suff, w->aopc_comp, w->aopc_suff, w->time_ms,
                        (unsigned long long)w->forward_passes, (unsigned long long)w->backward_passes, w->tied_bins);
    }
}

static void jw_num(attx_json_writer *w, const char *key, double v)
{
    attx_jw_key(w, key);
    if (isfinite(v)) attx_jw_double(w, v);
    else attx_jw_null(w);
}

void attx_eval_report_json(attx_buf *out, const attx_eval_result *r, const attx_eval_report_info *info)
{
    attx_json_writer w;
    attx_jw_init(&w, out, 0);
    attx_jw_object_begin(&w);
    if (info && info->model) {
        attx_jw_key(&w, "model");
        attx_jw_string(&w, info->model);
    }
    if (info && info->data) {
        attx_jw_key(&w, "data");
        attx_jw_object_begin(&w);
        attx_jw_key(&w, "preset");
        attx_jw_string(&w, info->data->preset);
        attx_jw_key(&w, "path");
        attx_jw_string(&w, info->data->path);
        attx_jw_key(&w, "source");
        attx_jw_string(&w, info->data->source);
        attx_jw_key(&w, "note");
        attx_jw_string(&w, info->data->note);
        attx_jw_object_end(&w);
    }
    if (info && info->options) {
        attx_jw_key(&w, "options");
        attx_jw_string(&w, info->options);
    }
    if (info && info->protocol) {
        attx_jw_key(&w, "protocol");
        attx_jw_string(&w, info->protocol);
    }
    attx_jw_key(&w, "examples");
    attx_jw_uint(&w, r->n_examples);
    attx_jw_key(&w, "examples_done");
    attx_jw_uint(&w, r->n_done);
    attx_jw_key(&w, "examples_skipped");
    attx_jw_uint(&w, r->n_skipped);
    attx_jw_key(&w, "partial");
    attx_jw_bool(&w, is_partial(r));
    jw_num(&w, "wall_s", r->wall_s);
    double f1m = NAN, f1w = NAN;
    attx_eval_summary *s = summaries(r, &f1m, &f1w);
    jw_num(&w, "model_f1_macro", f1m);
    jw_num(&w, "model_f1_weighted", f1w);
    attx_jw_key(&w, "summary");
    attx_jw_object_begin(&w);
    for (int k = 0; s && k < r->n_methods; k++) {
        const attx_eval_summary *m = &s[k];
        attx_jw_key(&w, r->methods[k]);
        attx_jw_object_begin(&w);
        jw_num(&w, "comp", m->comp);
        jw_num(&w, "comp_se", m->comp_se);
        jw_num(&w, "suff", m->suff);
        jw_num(&w, "suff_se", m->suff_se);
        jw_num(&w, "aopc_comp", m->aopc_comp);
        jw_num(&w, "aopc_comp_se", m->aopc_comp_se);
        jw_num(&w, "aopc_suff", m->aopc_suff);
        jw_num(&w, "aopc_suff_se", m->aopc_suff_se);
        jw_num(&w, "f1_macro", m->f1_macro);
        jw_num(&w, "f1_weighted", m->f1_weighted);
        jw_num(&w, "time_ms", m->time_ms);
        jw_num(&w, "time_ms_se", m->time_ms_se);
        jw_num(&w, "forward_passes", m->forwards);
        jw_num(&w, "backward_passes", m->backwards);
        attx_jw_key(&w, "tied_examples");
        attx_jw_uint(&w, m->tied_examples);
        attx_jw_object_end(&w);
    }
    attx_jw_object_end(&w);
    free(s);
    attx_jw_key(&w, "rows");
    attx_jw_array_begin(&w);
    for (size_t i = 0; i < r->n_done * (size_t)r->n_methods; i++) {
        const attx_eval_row *x = &r->rows[i];
        attx_jw_object_begin(&w);
        attx_jw_key(&w, "example");
        attx_jw_uint(&w, x->example);
        attx_jw_key(&w, "method");
        attx_jw_string(&w, r->methods[x->method]);
        attx_jw_key(&w, "n_players");
        attx_jw_int(&w, x->n_players);
        attx_jw_key(&w, "gold");
        attx_jw_int(&w, x->gold);
        attx_jw_key(&w, "predicted");
        attx_jw_int(&w, x->predicted);
        attx_jw_key(&w, "suff_predicted");
        attx_jw_int(&w, x->suff_predicted);
        jw_num(&w, "p_full", x->p_full);
        jw_num(&w, "comp", x->comp);
        jw_num(&w, "suff", x->suff);
        jw_num(&w, "aopc_comp", x->aopc_comp);
        jw_num(&w, "aopc_suff", x->aopc_suff);
        jw_num(&w, "time_ms", x->time_ms);
        attx_jw_key(&w, "forward_passes");
        attx_jw_uint(&w, x->forward_passes);
        attx_jw_key(&w, "backward_passes");
        attx_jw_uint(&w, x->backward_passes);
        attx_jw_key(&w, "tied_bins");
        attx_jw_int(&w, x->tied_bins);
        attx_jw_object_end(&w);
    }
    attx_jw_array_end(&w);
    attx_jw_object_end(&w);
}

/* ---- SVG ---- */

static const char *COLOURS[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                                "#7f7f7f", "#bcbd22", "#17becf"};
#define N_COLOURS ((int)(sizeof COLOURS / sizeof COLOURS[0]))

void attx_svg_strips(attx_buf *out, const char *title, const char *const *names, const double *const *values,
                     const size_t *counts, int n_groups)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int g = 0; g < n_groups; g++)
        for (size_t i = 0; i < counts[g]; i++)
            if (isfinite(values[g][i])) lo = fmin(lo, values[g][i]), hi = fmax(hi, values[g][i]);
    if (!(lo <= hi)) lo = 0, hi = 1;
    if (hi - lo < 1e-12) lo -= 0.5, hi += 0.5;
    const int left = 170, width = 520, row = 34, top = 30;
    int H = top + row * n_groups + 40, W = left + width + 20;
    attx_buf_printf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                         "font-family=\"sans-serif\" font-size=\"12\">\n", W, H);
    attx_buf_puts(out, "<text x=\"10\" y=\"18\" font-weight=\"bold\">");
    attx_buf_html(out, title);
    attx_buf_puts(out, "</text>\n");
#define XPOS(v) (left + ((v) - lo) / (hi - lo) * width)
    for (int g = 0; g < n_groups; g++) {
        int y0 = top + g * row;
        const char *col = COLOURS[g % N_COLOURS];
        attx_buf_printf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 8, y0 + row / 2 + 4);
        attx_buf_html(out, names[g]);
        attx_buf_puts(out, "</text>\n");
        /* histogram: 20 bins, bar height by count */
        int bins[20] = {0}, peak = 1;
        double sum = 0;
        size_t finite = 0;
        for (size_t i = 0; i < counts[g]; i++) {
            double v = values[g][i];
            if (!isfinite(v)) continue;
            int b = (int)((v - lo) / (hi - lo) * 20);
            bins[b < 0 ? 0 : b > 19 ? 19 : b]++;
            sum += v;
            finite++;
        }
        for (int b = 0; b < 20; b++) peak = bins[b] > peak ? bins[b] : peak;
        for (int b = 0; b < 20; b++) {
            if (!bins[b]) continue;
            double h = (double)bins[b] / peak * (row - 6);
            attx_buf_printf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
                                 "fill-opacity=\"0.18\"><title>%d</title></rect>\n",
                            left + b * width / 20.0, y0 + row - 3 - h, width / 20.0, h, col, bins[b]);
        }
        for (size_t i = 0; i < counts[g]; i++) {
            double v = values[g][i];
            if (!isfinite(v)) continue;
            double jitter = (double)((i * 2654435761u) % 17) - 8;   /* deterministic vertical spread */
            attx_buf_printf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\" fill=\"%s\" fill-opacity=\"0.6\"/>\n",
                            XPOS(v), y0 + row / 2.0 + jitter * 0.8, col);
        }
        if (finite) {
            double mu = sum / (double)finite;
            attx_buf_printf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"black\" stroke-width=\"2\">"
                                 "<title>mean %.4f</title></line>\n", XPOS(mu), XPOS(mu), y0 + 3, y0 + row - 3, mu);
        }
    }
    int ya = top + row * n_groups + 4;
    attx_buf_printf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#444\"/>\n", left, left + width, ya, ya);
    for (int t = 0; t <= 4; t++) {
        double v = lo + (hi - lo) * t / 4;
        attx_buf_printf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.3g</text>\n", XPOS(v), ya + 16, v);
    }
#undef XPOS
    attx_buf_puts(out, "</svg>\n");
}

void attx_svg_lines(attx_buf *out, const char *title, const char *x_label, const char *y_label,
                    const attx_svg_series *series, int n_series, int log_x)
{
    double xl = INFINITY, xh = -INFINITY, yl = INFINITY, yh = -INFINITY;
    for (int s = 0; s < n_series; s++)
        for (int i = 0; i < series[s].n; i++) {
            double x = log_x ? log10(series[s].x[i]) : series[s].x[i], y = series[s].y[i];
            if (!isfinite(x) || !isfinite(y)) continue;
            xl = fmin(xl, x), xh = fmax(xh, x), yl = fmin(yl, y), yh = fmax(yh, y);
        }
    if (!(xl <= xh)) xl = 0, xh = 1;
    if (!(yl <= yh)) yl = 0, yh = 1;
    if (xh - xl < 1e-12) xl -= 0.5, xh += 0.5;
    yl = fmin(yl, 0);
    if (yh - yl < 1e-12) yh = yl + 1;
    const int left = 70, top = 30, w = 460, h = 260;
    attx_buf_printf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                         "font-family=\"sans-serif\" font-size=\"12\">\n", left + w + 170, top + h + 50);
    attx_buf_puts(out, "<text x=\"10\" y=\"18\" font-weight=\"bold\">");
    attx_buf_html(out, title);
    attx_buf_puts(out, "</text>\n");
#define PX(x) (left + ((x) - xl) / (xh - xl) * w)
#define PY(y) (top + h - ((y) - yl) / (yh - yl) * h)
    attx_buf_printf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>\n", left,
                    top, w, h);
    for (int t = 0; t <= 4; t++) {
        double y = yl + (yh - yl) * t / 4, x = xl + (xh - xl) * t / 4;
        attx_buf_printf(out, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n", left - 4, PY(y) + 4, y);
        attx_buf_printf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.4g</text>\n", PX(x), top + h + 16,
                        log_x ? pow(10, x) : x);
    }
    attx_buf_printf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", left + w / 2, top + h + 36);
    attx_buf_html(out, x_label);
    attx_buf_printf(out, "</text>\n<text x=\"14\" y=\"%d\" transform=\"rotate(-90 14 %d)\" text-anchor=\"middle\">",
                    top + h / 2, top + h / 2);
    attx_buf_html(out, y_label);
    attx_buf_puts(out, "</text>\n");
    for (int s = 0; s < n_series; s++) {
        const char *col = COLOURS[s % N_COLOURS];
        attx_buf_printf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col);
        for (int i = 0; i < series[s].n; i++) {
            double x = log_x ? log10(series[s].x[i]) : series[s].x[i], y = series[s].y[i];
            if (isfinite(x) && isfinite(y)) attx_buf_printf(out, "%.1f,%.1f ", PX(x), PY(y));
        }
        attx_buf_puts(out, "\"/>\n");
        for (int i = 0; i < series[s].n; i++) {
            double x = log_x ? log10(series[s].x[i]) : series[s].x[i], y = series[s].y[i];
            if (isfinite(x) && isfinite(y))
                attx_buf_printf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>%.4g</title></circle>\n",
                                PX(x), PY(y), col, y);
        }
        attx_buf_printf(out, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"3\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">",
                        left + w + 12, top + 10 + 18 * s, col, left + w + 30, top + 15 + 18 * s);
        attx_buf_html(out, series[s].name);
        attx_buf_puts(out, "</text>\n");
    }
#undef PX
#undef PY
    attx_buf_puts(out, "</svg>\n");
}

void attx_eval_report_html(attx_buf *out, const attx_eval_result *r, const attx_eval_report_info *info)
{
    attx_buf_puts(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>attx eval</title>\n<style>"
                       "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
                       "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child{text-align:left}"
                       ".note{color:#a33}</style></head><body>\n<h1>attx eval</h1>\n<p>");
    if (info && info->model) {
        attx_buf_puts(out, "model: <code>");
        attx_buf_html(out, info->model);
        attx_buf_puts(out, "</code><br>\n");
    }
    if (info && info->data) {
        attx_buf_puts(out, "data: ");
        attx_buf_html(out, info->data->source);
        attx_buf_puts(out, "<br>\n");
        if (info->data->note[0]) {
            attx_buf_puts(out, "<span class=\"note\">note: ");
            attx_buf_html(out, info->data->note);
            attx_buf_puts(out, "</span><br>\n");
        }
    }
    if (info && info->options) {
        attx_buf_puts(out, "options: <code>");
        attx_buf_html(out, info->options);
        attx_buf_puts(out, "</code><br>\n");
    }
    if (is_partial(r))
        attx_buf_printf(out, "<b class=\"note\">partial: %zu of %zu examples</b><br>\n", r->n_done + r->n_skipped,
                        r->n_examples);
    if (r->n_skipped) {
        attx_buf_printf(out, "skipped: %zu examples (first: ", r->n_skipped);
        attx_buf_html(out, r->first_skip);
        attx_buf_puts(out, ")<br>\n");
    }
    attx_buf_puts(out, "</p>\n");
    double f1m = NAN, f1w = NAN;
    attx_eval_summary *s = summaries(r, &f1m, &f1w);
    if (!s) {
        attx_buf_puts(out, "<p>no example was evaluated</p></body></html>\n");
        return;
    }
    attx_buf_printf(out, "<p>%zu examples; the model on the full inputs: F1 macro %.4f, weighted %.4f. "
                         "comp / suff: P1 (K = {0,10,20,50}%%, [MASK] removal, / 5); AOPC: ERASER "
                         "(B = {1,5,10,20,50}%%, / 6); F1 on the 20%% sufficiency input; mean ± standard error.</p>\n",
                    r->n_done, f1m, f1w);
    attx_buf_puts(out, "<table><tr><th>method</th><th>comp ↑</th><th>suff ↓</th><th>AOPC comp</th><th>AOPC suff</th>"
                       "<th>F1 macro</th><th>F1 weighted</th><th>ms / example</th><th>forward / backward</th></tr>\n");
    for (int k = 0; k < r->n_methods; k++) {
        const attx_eval_summary *m = &s[k];
        attx_buf_puts(out, "<tr><td>");
        attx_buf_html(out, r->methods[k]);
        attx_buf_printf(out, "</td><td>%.4f ± %.4f</td><td>%.4f ± %.4f</td><td>%.4f ± %.4f</td><td>%.4f ± %.4f</td>"
                             "<td>%.4f</td><td>%.4f</td><td>%.2f ± %.2f</td><td>%.1f / %.1f</td></tr>\n",
                        m->comp, m->comp_se, m->suff, m->suff_se, m->aopc_comp, m->aopc_comp_se, m->aopc_suff,
                        m->aopc_suff_se, m->f1_macro, m->f1_weighted, m->time_ms, m->time_ms_se, m->forwards,
                        m->backwards);
    }
    attx_buf_puts(out, "</table>\n<h2>Comprehensiveness per example</h2>\n");
    size_t N = r->n_done, M = (size_t)r->n_methods;
    double *vals = malloc((N ? N : 1) * M * sizeof *vals);
    const double **ptr = malloc(M * sizeof *ptr);
    size_t *counts = malloc(M * sizeof *counts);
    const char **names = malloc(M * sizeof *names);
    if (vals && ptr && counts && names) {
        for (size_t k = 0; k < M; k++) {
            for (size_t i = 0; i < N; i++) vals[k * N + i] = r->rows[i * M + k].comp;
            ptr[k] = vals + k * N;
            counts[k] = N;
            names[k] = r->methods[k];
        }
        attx_svg_strips(out, "comprehensiveness (P1): dots = examples, bar = mean, shading = histogram", names, ptr,
                        counts, (int)M);
    }
    free(vals), free(ptr), free(counts), free(names);
    free(s);
    attx_buf_puts(out, "</body></html>\n");
}
