/* attx_eval.h — the papers' experiments over a data set, as a library (attx eval is its CLI):
 *
 *   data          P1's presets (sst2-short, sst2, imdb, agnews) and P2's IMDb split for attn1
 *                 (p2-imdb), or any labelled file (attx_dataset_read)
 *   faithfulness  per example and method: the explanation (attx_explain_ids, so every method and
 *                 option of attx explain), P1's comprehensiveness / sufficiency, ERASER's AOPC,
 *                 the prediction on the 20% sufficiency input (for the data-set F1), time and
 *                 forward / backward counts; the summary per method (mean ± standard error)
 *   reports       text table, CSV (one row per example and method), JSON, a self-contained HTML
 *                 page with inline SVG plots drawn here
 *   P2            Theorem 4.1 (closed form vs autograd), Eq. (19) (LIME vs its approximation),
 *                 correlations of α-avg with G-avg and with LIME, on attn1
 *   sampling      error of the sampled Shapley methods against their exact values as a function
 *                 of the number of samples, per sampler
 *
 * Conventions as attx_explain.h: 0 / -1 with attx_error; nothing prints or exits. The loops over
 * examples are the caller's (one call per example), so a caller can show progress, stop early
 * (a partial result is a valid result) or split examples across processes. */
#ifndef ATTX_EVAL_H
#define ATTX_EVAL_H

#include "attx_explain.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Data                                                                                        */

typedef struct attx_eval_data {
    attx_dataset ds;            /* the selected examples (texts, labels) in evaluation order */
    size_t rows_read;           /* rows in the file before the selection */
    char preset[32];            /* the preset's name, or "" for a file */
    char path[1024];            /* the file read */
    char source[2048];          /* one line: where the data came from and what was selected */
    char note[512];             /* caveats for the report ("" when none) */
} attx_eval_data;

/* Loads `name`: a preset (paths under data_dir, NULL = "../shared/data") or a file path read
 * with spec (NULL = auto). Presets (P1, research-notes §1.1; P2 §2.1):
 *   sst2-short  sst2/dev.tsv, the sentences with at most 15 tokens by m's tokenizer (specials
 *               excluded, before truncation)
 *   sst2        sst2/dev.tsv, all 872
 *   imdb        imdb/test.tsv, all 25,000 in a fixed seeded order (the file is sorted by label;
 *               shuffled with seed 42 so that a --limit takes both classes); the explanation
 *               truncates each review to the model's positions
 *   agnews      agnews/test.csv (7,600; labels 0-3); the note says that attx's AG News model saw
 *               only the 5,000-row training subset while P1's saw all 120,000 rows
 *   p2-imdb     imdb/test.tsv in the same seeded order, each review preprocessed as P2's code
 *               does (runs of characters other than A-Z a-z 0-9 become one space); for attn1
 * m may be NULL except for sst2-short. Errors: unknown file, a file without usable rows. */
int attx_eval_data_load(attx_eval_data *d, const attx_model *m, const char *name, const char *data_dir,
                        const attx_dataset_spec *spec, attx_error *err);
void attx_eval_data_free(attx_eval_data *d);
/* 1 if name is one of the presets above. */
int attx_eval_is_preset(const char *name);

/* The explained sequence of one text: ids as attx_explain_ids takes them (BERT: [CLS] content
 * [SEP] truncated to the positions; attn1: [cls] w1..wn unpadded), *n_players. Caller frees
 * *ids. */
int attx_eval_encode(const attx_model *m, const char *text, int32_t **ids, int *length, int *n_players,
                     attx_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Faithfulness over a data set                                                                */

typedef struct attx_eval_options {
    attx_explain_options explain;   /* passed to attx_explain_ids (klass is ignored: P1 explains
                                       and evaluates the predicted class) */
    int f1_percent;                 /* sufficiency input of the F1; 0 = 20 */
    attx_tie_rule ties;             /* tied scores in comp/suff (attx_faithfulness_options) */
    int padded_length;              /* ATTX_TIES_P1: the data set's longest input (P1 pads to it) */
    int tie_samples;                /* ATTX_TIES_AVERAGE: 0 = 64 */
} attx_eval_options;

void attx_eval_options_init(attx_eval_options *o);

/* One example explained by one method. */
typedef struct attx_eval_row {
    size_t example;             /* index in the data */
    int method;                 /* index in the method list */
    int n_players;
    int gold, predicted;        /* gold label, prediction on the full input */
    int suff_predicted;         /* prediction on the f1_percent sufficiency input */
    double comp, suff;          /* P1: K = {0,10,20,50} %, / 5 */
    double aopc_comp, aopc_suff;   /* ERASER: B = {1,5,10,20,50} %, / 6 */
    int tied_bins;              /* P1 bins whose top-k falls inside a group of tied scores */
    double p_full;              /* p(predicted | x) */
    double time_ms;             /* the method's explanation time (attx_method_result) */
    uint64_t forward_passes, backward_passes;   /* of the explanation */
} attx_eval_row;

/* Explains example `example` (text, gold label) with the methods names[n_names] and evaluates
 * each: rows[n_names]. Ranking for the metrics: by score, except shap by |score| (as P1).
 * Removal: [MASK] (attn1: UNK in place). Errors: the explanation's or the model's. */
int attx_eval_example(const attx_model *m, const char *text, int gold, size_t example, const char *const *names,
                      int n_names, const attx_eval_options *o, attx_eval_row *rows, attx_error *err);

/* The results of a run (possibly partial). */
typedef struct attx_eval_result {
    int n_methods;
    char (*methods)[32];        /* [n_methods] names */
    size_t n_examples;          /* planned */
    size_t n_done;              /* examples evaluated; rows[n_done * n_methods], example-major */
    attx_eval_row *rows;
    size_t cap;
    size_t n_skipped;           /* examples that could not be explained (counted by the caller) */
    char first_skip[160];       /* the first of their errors */
    double wall_s;              /* wall time of the run */
} attx_eval_result;

int attx_eval_result_init(attx_eval_result *r, const char *const *names, int n_names, size_t n_examples,
                          attx_error *err);
/* Appends one example's rows[n_methods]. */
int attx_eval_result_add(attx_eval_result *r, const attx_eval_row *rows, attx_error *err);
void attx_eval_result_free(attx_eval_result *r);

/* Per method, over the examples done. */
typedef struct attx_eval_summary {
    double comp, comp_se, suff, suff_se;
    double aopc_comp, aopc_comp_se, aopc_suff, aopc_suff_se;
    double f1_macro, f1_weighted;   /* suff_predicted vs gold (attx_f1_scores) */
    double time_ms, time_ms_se;
    double forwards, backwards;     /* mean per example */
    size_t tied_examples;           /* examples with a P1 bin inside a group of tied scores */
} attx_eval_summary;

/* out[r->n_methods]. Also the model's own F1 on the full inputs (may be NULL). Errors: no
 * examples. */
int attx_eval_summarize(const attx_eval_result *r, attx_eval_summary *out, double *model_f1_macro,
                        double *model_f1_weighted, attx_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Reports (appended to a buffer)                                                              */

typedef struct attx_eval_report_info {
    const char *model;          /* the model's path */
    const attx_eval_data *data;
    const char *options;        /* one line of the options used (e.g. the command line) */
    const char *protocol;       /* a line on the protocol when it is not attx's default (or NULL) */
} attx_eval_report_info;

/* "partial: N of M examples" when r is partial, then one line per method like P1's table. */
void attx_eval_report_table(attx_buf *out, const attx_eval_result *r, const attx_eval_report_info *info);
/* Header: example,method,n_players,gold,predicted,suff_predicted,p_full,comp,suff,aopc_comp,
 * aopc_suff,time_ms,forward_passes,backward_passes,tied_bins; one row per example and method. */
void attx_eval_report_csv(attx_buf *out, const attx_eval_result *r);
/* {"model","data":{...},"examples","examples_done","partial","summary":{METHOD:{...}},"rows":[...]} */
void attx_eval_report_json(attx_buf *out, const attx_eval_result *r, const attx_eval_report_info *info);
/* A self-contained HTML page: the table and, per method, a strip plot with a histogram of the
 * comprehensiveness as inline SVG (no external resources). */
void attx_eval_report_html(attx_buf *out, const attx_eval_result *r, const attx_eval_report_info *info);

/* Inline SVG drawing (used by the HTML report; public for reuse). */
typedef struct attx_svg_series {
    const char *name;
    const double *x, *y;        /* [n] */
    int n;
} attx_svg_series;
/* A line plot of the series (log10 x when log_x), axes and a legend. */
void attx_svg_lines(attx_buf *out, const char *title, const char *x_label, const char *y_label,
                    const attx_svg_series *series, int n_series, int log_x);
/* One horizontal strip per group: the values as dots, the mean as a bar, a 20-bin histogram
 * shaded behind. values[g] has counts[g] entries. */
void attx_svg_strips(attx_buf *out, const char *title, const char *const *names, const double *const *values,
                     const size_t *counts, int n_groups);

/* ------------------------------------------------------------------------------------------ */
/* P2's experiments on attn1                                                                   */

/* Theorem 4.1 on one example: the closed form (attx_attn1_theorem41) against the tape's
 * gradient of the class-klass logit, for every position t >= 1 (words and padding; [CLS]
 * excluded): per position rel_t = ||closed - tape||_2 / ||tape||_2. */
typedef struct attx_p2_gradient_stats {
    int positions;              /* T - 1 */
    double rel_max, rel_mean;   /* over the positions */
    double abs_max;             /* largest |closed - tape| of a component */
    double corr_att_gavg;       /* Pearson r over the words of alpha-avg and G-avg (NAN when n < 2) */
} attx_p2_gradient_stats;

int attx_p2_theorem41_example(const attx_model *m, const int32_t *ids, int length, int klass,
                              attx_p2_gradient_stats *out, attx_error *err);

/* Eq. (19) on one example: LIME (attx_lime on the UNK-in-place game, the raw logit of class
 * klass as P2's predict_proba, d = distinct word ids, all features, `repeats` runs of
 * num_samples averaged) against attx_attn1_lime_approx. */
typedef struct attx_p2_lime_stats {
    int features;               /* d */
    double l2_error;            /* ||beta_lime - beta_approx||_2 (P2's per-document error) */
    double rel_error;           /* l2_error / ||beta_lime||_2 */
    double max_abs_error;
    double corr_lime_approx;    /* Pearson r over the features */
    double corr_att_lime;       /* Pearson r over the words of alpha-avg and LIME (word's coef) */
    uint64_t evaluations;
} attx_p2_lime_stats;

int attx_p2_lime_example(const attx_model *m, const int32_t *ids, int length, int klass, int num_samples,
                         int repeats, uint64_t seed, attx_p2_lime_stats *out, attx_error *err);

/* P2's correlations on a deep model (a BERT): per example, Pearson r over the tokens between
 * alpha-avg (att-avg: the last layer's [CLS] row, mean over heads) and G-avg (grad-avg), and
 * between alpha-avg and LIME (each token its word's coefficient); and P2's open question on
 * subwords, LIME over whole words against LIME over WordPiece tokens (lime-tokens). All of the
 * class klass; LIME with num_samples samples, seeded by seed. NAN where r is undefined. */
typedef struct attx_p2_deep_stats {
    int tokens, words;          /* players, and their word occurrences (tokens not starting "##") */
    double corr_att_gavg, corr_att_lime, corr_lime_words_tokens;
    uint64_t forwards;
} attx_p2_deep_stats;

int attx_p2_deep_example(const attx_model *m, const int32_t *ids, int length, int klass, int num_samples,
                         uint64_t seed, attx_p2_deep_stats *out, attx_error *err);

/* Pearson correlation of x[n] and y[n]; NAN when n < 2 or a vector is constant. */
double attx_pearson(const double *x, const double *y, int n);

/* ------------------------------------------------------------------------------------------ */
/* Sampling study (P1's open question 3)                                                       */

/* For one example and one method with an exact value (closed form or enumeration): the mean
 * absolute error over the players of the sampled estimate, for every sampler in samplers[ns] and
 * sample count in counts[nc]: mae[s * nc + c] (NAN for a cell the sampler cannot do, e.g.
 * Kernel SHAP with fewer coalitions than players). The exact values are the method's with
 * opts->exact (pairwise games: enumeration, which the tests hold equal to the closed form;
 * shapley-input: enumeration). Errors: the exact explanation's. */
int attx_sampling_study_example(const attx_model *m, const int32_t *ids, int length, const char *method,
                                const attx_explain_options *opts, const attx_sampler *samplers, int ns,
                                const int *counts, int nc, double *mae, attx_error *err);
const char *attx_sampler_name(attx_sampler s);

#ifdef __cplusplus
}
#endif

#endif
