/* cmd_eval.c — `attx eval MODEL DATASET`: the papers' experiments over a data set (the logic is
 * explain/eval*.c, attx_eval.h): faithfulness of every method (P1's table), P2's Theorem 4.1,
 * Eq. (19) and correlations on attn1, and the sampling study. Progress with ETA on stderr;
 * SIGINT stops after the current example and the reports are written for what was done. */
#include "cli.h"
#include "attx_eval.h"
#include "cmd_explain.h"   /* the SHAP options */

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef ATTX_MPI
#include <mpi.h>
#endif

static int run_eval(int argc, char **argv);

#define BERT_METHODS "att,grad-sam,att-cls,grad-att-cls,att-mutual,grad-att-mutual,att-max-mutual,grad-att-max-mutual,shap"
#define ATTN1_METHODS "att-avg,att-max,grad-att-cls,grad-avg,grad-l1,grad-l2,grad-x-input,integrated-gradients,shap"
#define STUDY_METHODS "grad-att-max-mutual,grad-att-mutual,shapley-input"

const cli_command cmd_eval = {
    "eval", "the papers' experiments over a data set (faithfulness table, P2, sampling study)",
    "usage: attx eval MODEL DATASET [--methods LIST] [--limit N] [--seed S] [--samples N]\n"
    "                 [--sampler S] [--exact] [--ties RULE] [--json] [--csv FILE] [--html FILE]\n"
    "                 [--int8 | --bf16] [--threads N]\n"
    "       attx eval MODEL p2-theorem41|p2-lime|p2-correlations [--data DATASET] [--limit N] [--json]\n"
    "       attx eval MODEL DATASET --sampling-study [--methods LIST] [--counts LIST] [--samplers LIST]\n"
    "       attx eval MODEL DATASET --accuracy [--json]\n"
    "\n"
    "For every example of DATASET: every method's attribution (as attx explain computes it, of\n"
    "the predicted class), P1's comprehensiveness and sufficiency (K = {0,10,20,50}%, [MASK]\n"
    "removal, / 5), ERASER's AOPC (B = {1,5,10,20,50}%, / 6), the prediction on the 20%\n"
    "sufficiency input (macro and weighted F1 against the gold labels), time and forward /\n"
    "backward passes per example. Prints the summary (mean ± standard error) per method.\n"
    "\n"
    "DATASET: a preset (files under ../shared/data, or --data-dir DIR)\n"
    "  sst2-short   SST-2 validation sentences with at most 15 tokens (the model's tokenizer)\n"
    "  sst2         SST-2 validation          imdb     IMDb test (seeded order, truncated)\n"
    "  agnews       AG News test              p2-imdb  IMDb test as P2 (attn1 models)\n"
    "or a file, read as attx train reads it (--format F, --text-col C, --label-col C).\n"
    "\n"
    "  --methods LIST   comma-separated methods of attx explain, or all (default: P1's local\n"
    "                   methods " BERT_METHODS "\n"
    "                   (sst2-short: and shapley-input, exact);\n"
    "                   attn1: " ATTN1_METHODS ")\n"
    "  --limit N        the first N examples only\n"
    "  --seed S, --samples N, --sampler S, --exact, --max-players N, --steps N, --batch N\n"
    "                   as attx explain\n"
    EXPLAIN_SHAP_HELP
    "  --p1             P1's pipeline end to end: --shap-p1 (class 1's logit-odds, shap's Text\n"
    "                   masker and tree) and --ties p1, each unless given otherwise\n"
    "  --ties RULE      scores equal in float32 at a comp/suff bin's edge: first (default: by the\n"
    "                   double score, then the lower position), p1 (the tokens torch.topk picks\n"
    "                   on the CPU, as P1 ranks over inputs padded to the longest), average (the\n"
    "                   expectation over the tied choices: exact up to --tie-samples N choices,\n"
    "                   default 64, else N random ones). The table's ties column counts them.\n"
    "  --json           print the whole result as one JSON object instead of the table\n"
    "  --csv FILE       one row per example and method\n"
    "  --html FILE      a self-contained report: the table and SVG plots of the comprehensiveness\n"
    "  --int8           run the model's encoder in int8 (attx predict --help); gradients are those\n"
    "                   of the fp32 layers at the int8 activations\n"
    "  --bf16           run it in bf16 (attx predict --help: AVX512_BF16 where the CPU has it, else\n"
    "                   an exact emulation, slower); gradients as with --int8\n"
    "  --threads N      threads to use (default: all cores)\n"
    "\n"
    "P2's experiments (an attn1 model; data --data, default p2-imdb; P2 explains class 1):\n"
    "  p2-theorem41     Theorem 4.1's closed-form gradient vs autograd, relative error per\n"
    "                   position t >= 1 ([CLS] excluded)\n"
    "  p2-lime          LIME (mean of 5 runs, --samples per run, default 5000) vs Eq. (19)\n"
    "  p2-correlations  Pearson r of alpha-avg with G-avg and with LIME, per example; on a BERT\n"
    "                   (data default sst2): alpha-avg = the last layer's [CLS] row (att-avg), r over\n"
    "                   the tokens, and LIME over whole words vs LIME over WordPiece tokens\n"
    "                   (lime-tokens); --samples sets LIME's samples (default 5000)\n"
    "\n"
    "--sampling-study: mean absolute error of the sampled Shapley values against the exact ones,\n"
    "  per method (default " STUDY_METHODS "), sampler (--samplers, default\n"
    "  permutation,kernel,paper-random,paper-kernel) and sample count (--counts, default\n"
    "  10,30,100,300,1000), averaged over the examples (shapley-input: at most 16 players).\n"
    "\n"
    "--accuracy: the model's accuracy on DATASET (every example, truncated to the model's\n"
    "  positions), with each class's support, recall and precision (--json: the confusion matrix).\n"
    "  For an image model (ViT) DATASET is a folder with one sub-folder of images per class, named\n"
    "  as the model's labels.\n"
    "\n"
    "Ctrl-C stops after the current example; the reports then say \"partial: N of M examples\"\n"
    "and the exit status is 130 (a second Ctrl-C stops at once, without reports).\n"
    "\n"
    "build/attx-mpi (make mpi): mpirun -n K build/attx-mpi eval ... gives every rank every K-th\n"
    "example and gathers the rows on rank 0, which writes the same report (same numbers, same\n"
    "order; times are each rank's own). P2's experiments and the sampling study run on rank 0.\n",
    run_eval,
};

static volatile sig_atomic_t interrupted = 0;
static int mpi_rank = 0, mpi_size = 1;   /* build/attx-mpi: this process and how many there are */

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* the progress bar, drawn by rank 0 only */
static void progress(size_t done, size_t total, double start)
{
    if (mpi_rank == 0) cli_progress(done, total, start, "example");
}

static char **split_list(const char *list, int *count)
{
    char *copy = strdup(list);
    int cap = 256, n = 0;
    char **names = malloc((size_t)cap * sizeof *names);
    if (!copy || !names) cli_failf("out of memory");
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok && n < cap; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        if (*tok) names[n++] = strdup(tok);
    }
    free(copy);
    *count = n;
    return names;
}

static char **parse_methods(const char *list, int *count)
{
    int n;
    char **raw = split_list(list, &n), **names = malloc((size_t)(n + attx_method_count()) * sizeof *names);
    int k = 0;
    if (!names) cli_failf("out of memory");
    for (int i = 0; i < n; i++) {
        if (strcmp(raw[i], "all") == 0) {
            for (int j = 0; j < attx_method_count(); j++) names[k++] = strdup(attx_method_name(j));
            free(raw[i]);
            continue;
        }
        if (attx_method_find(raw[i]) < 0) cli_usage_error(&cmd_eval, "unknown method '%s' (see attx explain --help)", raw[i]);
        names[k++] = raw[i];
    }
    free(raw);
    if (k == 0) cli_usage_error(&cmd_eval, "--methods needs at least one method");
    *count = k;
    return names;
}

static void free_list(char **names, int n)
{
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

static void write_file(const char *path, const attx_buf *b)
{
    FILE *f = fopen(path, "wb");
    if (!f) cli_failf("%s: cannot write", path);
    if (b->len && fwrite(b->data, 1, b->len, f) != b->len) cli_failf("%s: write failed", path);
    if (fclose(f) != 0) cli_failf("%s: write failed", path);
}

typedef struct eval_args {
    const char *model_path, *dataset, *data, *data_dir, *methods, *csv, *html, *threads, *counts, *samplers;
    attx_dataset_spec spec;
    attx_eval_options opt;
    size_t limit;
    int json, study, accuracy, p1;
    cli_precision precision;
    char command_line[1024];
    char model_label[1024];       /* the model as the text reports name it: "PATH", "PATH (int8)", "PATH (bf16)" */
} eval_args;

static attx_sampler parse_sampler(const char *v)
{
    if (strcmp(v, "permutation") == 0) return ATTX_SAMPLER_PERMUTATION;
    if (strcmp(v, "kernel") == 0) return ATTX_SAMPLER_KERNEL;
    if (strcmp(v, "paper-random") == 0) return ATTX_SAMPLER_PAPER_RANDOM;
    if (strcmp(v, "paper-kernel") == 0) return ATTX_SAMPLER_PAPER_KERNEL;
    cli_usage_error(&cmd_eval, "sampler must be permutation, kernel, paper-random or paper-kernel, not '%s'", v);
}

static void load_data(const eval_args *a, const attx_model *m, const char *name, attx_eval_data *d)
{
    attx_error err;
    if (attx_eval_data_load(d, m, name, a->data_dir, &a->spec, &err) != 0) cli_fail(&err);
    if (a->limit && d->ds.n > a->limit) {
        for (size_t i = a->limit; i < d->ds.n; i++) free(d->ds.texts[i]);
        d->ds.n = a->limit;
    }
}

/* ---- faithfulness ---- */

#ifdef ATTX_MPI
static int row_cmp(const void *a, const void *b)   /* example, then method */
{
    const attx_eval_row *x = a, *y = b;
    if (x->example != y->example) return x->example < y->example ? -1 : 1;
    return (x->method > y->method) - (x->method < y->method);
}

/* Every rank's rows to rank 0, merged in example order (the single-process order); skips
 * summed, the first skip message kept, the wall time the largest. */
static int gather_results(attx_eval_result *res)
{
    int local = (int)(res->n_done * (size_t)res->n_methods * sizeof *res->rows);
    int *bytes = mpi_rank == 0 ? calloc((size_t)mpi_size, sizeof *bytes) : NULL;
    int *displ = mpi_rank == 0 ? calloc((size_t)mpi_size, sizeof *displ) : NULL;
    char *skips = mpi_rank == 0 ? calloc((size_t)mpi_size, sizeof res->first_skip) : NULL;
    if (mpi_rank == 0 && (!bytes || !displ || !skips)) return -1;
    MPI_Gather(&local, 1, MPI_INT, bytes, 1, MPI_INT, 0, MPI_COMM_WORLD);
    unsigned long long skipped = res->n_skipped, total_skipped = 0;
    MPI_Reduce(&skipped, &total_skipped, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    double wall = res->wall_s, max_wall = 0;
    MPI_Reduce(&wall, &max_wall, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Gather(res->first_skip, (int)sizeof res->first_skip, MPI_CHAR, skips, (int)sizeof res->first_skip, MPI_CHAR,
               0, MPI_COMM_WORLD);
    attx_eval_row *all = NULL;
    size_t total = 0;
    if (mpi_rank == 0) {
        for (int r = 0; r < mpi_size; r++) {
            displ[r] = (int)total;
            total += (size_t)bytes[r];
        }
        if (!(all = malloc(total ? total : 1))) return -1;
    }
    MPI_Gatherv(res->rows, local, MPI_BYTE, all, bytes, displ, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (mpi_rank == 0) {
        size_t n_rows = total / sizeof *all;
        qsort(all, n_rows, sizeof *all, row_cmp);
        free(res->rows);
        res->rows = all;
        res->cap = n_rows;
        res->n_done = n_rows / (size_t)res->n_methods;
        res->n_skipped = (size_t)total_skipped;
        res->wall_s = max_wall;
        res->first_skip[0] = 0;
        for (int r = 0; r < mpi_size && !res->first_skip[0]; r++)
            memcpy(res->first_skip, skips + (size_t)r * sizeof res->first_skip, sizeof res->first_skip);
    }
    free(bytes), free(displ), free(skips);
    return 0;
}
#endif

static int run_faithfulness(const eval_args *a, attx_model *m)
{
    attx_eval_data d;
    load_data(a, m, a->dataset, &d);
    int attn1 = attx_model_config(m)->arch == ATTX_ARCH_ATTN1, n_names;
    /* sst2-short's sentences are short enough for P1's exact Shapley-Input (2^n forwards, n <= 15) */
    const char *defaults = attn1 ? ATTN1_METHODS : strcmp(a->dataset, "sst2-short") == 0 ? BERT_METHODS ",shapley-input"
                                                                                         : BERT_METHODS;
    char **names = parse_methods(a->methods ? a->methods : defaults, &n_names);
    attx_eval_result res;
    attx_error err;
    if (attx_eval_result_init(&res, (const char *const *)names, n_names, d.ds.n, &err) != 0) cli_fail(&err);
    attx_eval_row *rows = malloc((size_t)n_names * sizeof *rows);
    if (!rows) cli_failf("out of memory");
    if (d.note[0]) fprintf(stderr, "attx: note: %s\n", d.note);
    attx_eval_options opt = a->opt;
    if (opt.ties == ATTX_TIES_P1) {
        /* P1 pads the list of inputs it is given to the longest (torch.topk then ranks vectors
         * of that length): the longest of the examples evaluated, [CLS] and [SEP] included */
        for (size_t i = 0; i < d.ds.n; i++) {
            int32_t *ids = NULL;
            int length = 0, n_players;
            if (attx_eval_encode(m, d.ds.texts[i], &ids, &length, &n_players, &err) == 0 && length > opt.padded_length)
                opt.padded_length = length;
            free(ids);
        }
    }
    if (!a->opt.explain.samples && wants_method(names, n_names, "shapley-input") && mpi_rank == 0)
        explain_exact_estimate(m, (const char *const *)d.ds.texts, d.ds.n, a->opt.explain.max_players);
    double start = cli_now();
    for (size_t i = (size_t)mpi_rank; i < d.ds.n && !interrupted; i += (size_t)mpi_size) {   /* MPI: round robin */
        if (attx_eval_example(m, d.ds.texts[i], d.ds.labels[i], i, (const char *const *)names, n_names, &opt,
                              rows, &err) != 0) {
            if (!res.n_skipped) snprintf(res.first_skip, sizeof res.first_skip, "%.150s", err.msg);
            res.n_skipped++;
            fprintf(stderr, "%sattx: warning: %s (skipped)\n", isatty(STDERR_FILENO) ? "\n" : "", err.msg);
        } else if (attx_eval_result_add(&res, rows, &err) != 0) {
            cli_fail(&err);
        }
        progress(i + 1, d.ds.n, start);
    }
    res.wall_s = cli_now() - start;
#ifdef ATTX_MPI
    if (gather_results(&res) != 0) cli_failf("MPI: gathering the results failed");
    if (mpi_rank != 0) {
        free(rows);
        free_list(names, n_names);
        attx_eval_result_free(&res);
        attx_eval_data_free(&d);
        return EXIT_OK;
    }
#endif
    if (interrupted) fprintf(stderr, "\nattx: interrupted: partial: %zu of %zu examples\n", res.n_done + res.n_skipped,
                             d.ds.n);
    char protocol[400] = "";
    if (a->p1)
        snprintf(protocol, sizeof protocol,
                 "P1's pipeline (--p1): shap explains class 1's logit-odds with shap's Text masker and tree%s; "
                 "ties are broken %s", a->opt.explain.shap_masker == ATTX_SHAP_MASKER_TEXT &&
                 a->opt.explain.shap_tree == ATTX_SHAP_TREE_SHAP ? "" : " (as overridden)",
                 opt.ties == ATTX_TIES_P1 ? "as torch.topk breaks them on the CPU" : "by --ties");
    attx_eval_report_info info = {.model = a->model_path, .data = &d, .options = a->command_line,
                                  .protocol = protocol[0] ? protocol : NULL};
    attx_buf out = {0};
    if (a->json) {
        attx_eval_report_json(&out, &res, &info);
        cli_print_json(&out);
    } else {
        attx_eval_report_table(&out, &res, &info);
        fwrite(out.data, 1, out.len, stdout);
    }
    if (a->csv) {
        attx_buf_free(&out);
        attx_eval_report_csv(&out, &res);
        write_file(a->csv, &out);
    }
    if (a->html) {
        attx_buf_free(&out);
        attx_eval_report_html(&out, &res, &info);
        write_file(a->html, &out);
    }
    attx_buf_free(&out);
    int rc = interrupted ? 130 : res.n_done || !d.ds.n ? EXIT_OK : EXIT_BAD_INPUT;
    free(rows);
    free_list(names, n_names);
    attx_eval_result_free(&res);
    attx_eval_data_free(&d);
    return rc;
}

/* ---- P2 ---- */

typedef struct stat_acc {
    double sum, sumsq, max, min;
    size_t n;
} stat_acc;

static void acc_add(stat_acc *s, double v)
{
    if (!isfinite(v)) return;
    if (!s->n) s->max = s->min = v;
    s->sum += v;
    s->sumsq += v * v;
    s->max = fmax(s->max, v);
    s->min = fmin(s->min, v);
    s->n++;
}

static double acc_mean(const stat_acc *s)
{
    return s->n ? s->sum / (double)s->n : NAN;
}

static double acc_se(const stat_acc *s)
{
    if (s->n < 2) return 0;
    double mu = acc_mean(s), var = (s->sumsq - (double)s->n * mu * mu) / (double)(s->n - 1);
    return sqrt(fmax(var, 0) / (double)s->n);
}

static void jw_stat(attx_json_writer *w, const char *key, const stat_acc *s)
{
    attx_jw_key(w, key);
    attx_jw_object_begin(w);
    double v[4] = {acc_mean(s), acc_se(s), s->min, s->max};
    const char *k[4] = {"mean", "se", "min", "max"};
    for (int i = 0; i < 4; i++) {
        attx_jw_key(w, k[i]);
        if (s->n && isfinite(v[i])) attx_jw_double(w, v[i]);
        else attx_jw_null(w);
    }
    attx_jw_key(w, "count");
    attx_jw_uint(w, s->n);
    attx_jw_object_end(w);
}

static void print_stat(const char *what, const stat_acc *s)
{
    printf("  %-44s mean %.3e ± %.1e   min %.3e   max %.3e   (%zu)\n", what, acc_mean(s), acc_se(s), s->min, s->max,
           s->n);
}

/* The fields every P2 report starts with: experiment, model, data and the example counts. */
static void p2_json_head(attx_json_writer *w, const eval_args *a, const attx_eval_data *d, size_t done,
                         size_t skipped)
{
    attx_jw_key(w, "experiment");
    attx_jw_string(w, a->dataset);
    attx_jw_key(w, "model");
    attx_jw_string(w, a->model_path);
    attx_jw_key(w, "data");
    attx_jw_string(w, d->source);
    attx_jw_key(w, "examples");
    attx_jw_uint(w, d->ds.n);
    attx_jw_key(w, "examples_done");
    attx_jw_uint(w, done);
    attx_jw_key(w, "examples_skipped");
    attx_jw_uint(w, skipped);
    attx_jw_key(w, "partial");
    attx_jw_bool(w, done + skipped < d->ds.n);
}

/* p2-correlations on a deep model (BERT): attx_p2_deep_example per example. */
static int run_p2_deep(const eval_args *a, attx_model *m)
{
    attx_eval_data d;
    load_data(a, m, a->data ? a->data : "sst2", &d);
    stat_acc c_ag = {0}, c_al = {0}, c_wt = {0}, tokens = {0}, words = {0};
    size_t done = 0, skipped = 0;
    int samples = a->opt.explain.samples > 0 ? a->opt.explain.samples : 5000;
    double start = cli_now();
    attx_error err;
    for (size_t i = 0; i < d.ds.n && !interrupted; i++) {
        int32_t *ids;
        int length, n;
        attx_p2_deep_stats st;
        int ok = attx_eval_encode(m, d.ds.texts[i], &ids, &length, &n, &err) == 0;
        if (ok) {
            ok = attx_p2_deep_example(m, ids, length, 1, samples, a->opt.explain.seed + i, &st, &err) == 0;
            free(ids);
        }
        if (ok) {
            acc_add(&c_ag, st.corr_att_gavg);
            acc_add(&c_al, st.corr_att_lime);
            acc_add(&c_wt, st.corr_lime_words_tokens);
            acc_add(&tokens, st.tokens);
            acc_add(&words, st.words);
            done++;
        } else {
            skipped++;
            fprintf(stderr, "attx: warning: example %zu: %s (skipped)\n", i, err.msg);
        }
        progress(i + 1, d.ds.n, start);
    }
    int partial = done + skipped < d.ds.n;
    if (a->json) {
        attx_buf out = {0};
        attx_json_writer w;
        attx_jw_init(&w, &out, 0);
        attx_jw_object_begin(&w);
        p2_json_head(&w, a, &d, done, skipped);
        attx_jw_key(&w, "lime_samples");
        attx_jw_int(&w, samples);
        jw_stat(&w, "tokens", &tokens);
        jw_stat(&w, "words", &words);
        jw_stat(&w, "corr_alpha_avg_g_avg", &c_ag);
        jw_stat(&w, "corr_alpha_avg_lime", &c_al);
        jw_stat(&w, "corr_lime_words_lime_tokens", &c_wt);
        attx_jw_object_end(&w);
        cli_print_json(&out);
        attx_buf_free(&out);
    } else {
        printf("%s on %s (a %d-layer %s), class 1\ndata: %s\n", a->dataset, a->model_label,
               attx_model_config(m)->num_layers, attx_arch_name(attx_model_config(m)->arch), d.source);
        if (partial) printf("partial: %zu of %zu examples\n", done + skipped, d.ds.n);
        printf("%zu examples (%zu skipped); %.1f tokens and %.1f words an example on average\n", done, skipped,
               acc_mean(&tokens), acc_mean(&words));
        printf("Pearson correlation over the tokens of each example (alpha-avg: the last layer's [CLS] row, mean "
               "over heads; LIME: %d samples, the probability of class 1):\n", samples);
        print_stat("alpha-avg vs G-avg", &c_ag);
        print_stat("alpha-avg vs LIME (whole words)", &c_al);
        print_stat("LIME whole words vs LIME WordPiece tokens", &c_wt);
    }
    attx_eval_data_free(&d);
    return interrupted ? 130 : done ? EXIT_OK : EXIT_BAD_INPUT;
}

static int run_p2(const eval_args *a, attx_model *m)
{
    if (attx_model_config(m)->arch != ATTX_ARCH_ATTN1 && strcmp(a->dataset, "p2-correlations") == 0)
        return run_p2_deep(a, m);
    if (attx_model_config(m)->arch != ATTX_ARCH_ATTN1)
        cli_failf("%s: %s is P2's closed form on the attn1 model; this is a %s model (p2-correlations runs on it)",
                  a->model_path, a->dataset, attx_arch_name(attx_model_config(m)->arch));
    int grad = strcmp(a->dataset, "p2-lime") != 0, lime = strcmp(a->dataset, "p2-theorem41") != 0;
    attx_eval_data d;
    load_data(a, m, a->data ? a->data : "p2-imdb", &d);
    stat_acc rel_max = {0}, rel_mean = {0}, abs_max = {0}, c_ag = {0}, l2 = {0}, rel = {0}, maxabs = {0}, c_la = {0},
             c_al = {0};
    size_t done = 0, skipped = 0, below = 0;
    int samples = a->opt.explain.samples > 0 ? a->opt.explain.samples : 5000;
    double start = cli_now();
    attx_error err;
    for (size_t i = 0; i < d.ds.n && !interrupted; i++) {
        int32_t *ids;
        int length, n;
        int ok = attx_eval_encode(m, d.ds.texts[i], &ids, &length, &n, &err) == 0;
        if (ok && grad) {
            attx_p2_gradient_stats g;
            ok = attx_p2_theorem41_example(m, ids, length, 1, &g, &err) == 0;
            if (ok) {
                acc_add(&rel_max, g.rel_max);
                acc_add(&rel_mean, g.rel_mean);
                acc_add(&abs_max, g.abs_max);
                acc_add(&c_ag, g.corr_att_gavg);
                below += g.rel_max < 1e-4;
            }
        }
        if (ok && lime) {
            attx_p2_lime_stats l;
            ok = attx_p2_lime_example(m, ids, length, 1, samples, 5, a->opt.explain.seed + i, &l, &err) == 0;
            if (ok) {
                acc_add(&l2, l.l2_error);
                acc_add(&rel, l.rel_error);
                acc_add(&maxabs, l.max_abs_error);
                acc_add(&c_la, l.corr_lime_approx);
                acc_add(&c_al, l.corr_att_lime);
            }
        }
        free(ids);
        if (ok) done++;
        else {
            skipped++;
            fprintf(stderr, "attx: warning: example %zu: %s (skipped)\n", i, err.msg);
        }
        progress(i + 1, d.ds.n, start);
    }
    int partial = done + skipped < d.ds.n;
    if (a->json) {
        attx_buf out = {0};
        attx_json_writer w;
        attx_jw_init(&w, &out, 0);
        attx_jw_object_begin(&w);
        p2_json_head(&w, a, &d, done, skipped);
        if (grad && strcmp(a->dataset, "p2-theorem41") == 0) {
            jw_stat(&w, "relative_error_max_per_example", &rel_max);
            jw_stat(&w, "relative_error_mean_per_example", &rel_mean);
            jw_stat(&w, "abs_error_max_per_example", &abs_max);
            attx_jw_key(&w, "examples_below_1e-4");
            attx_jw_uint(&w, below);
        }
        if (lime && strcmp(a->dataset, "p2-lime") == 0) {
            attx_jw_key(&w, "lime_samples");
            attx_jw_int(&w, samples);
            jw_stat(&w, "l2_error", &l2);
            jw_stat(&w, "relative_error", &rel);
            jw_stat(&w, "max_abs_error", &maxabs);
            jw_stat(&w, "corr_lime_approx", &c_la);
        }
        if (strcmp(a->dataset, "p2-correlations") == 0) {
            jw_stat(&w, "corr_alpha_avg_g_avg", &c_ag);
            jw_stat(&w, "corr_alpha_avg_lime", &c_al);
        }
        attx_jw_object_end(&w);
        cli_print_json(&out);
        attx_buf_free(&out);
    } else {
        printf("%s on %s\ndata: %s\n", a->dataset, a->model_label, d.source);
        if (partial) printf("partial: %zu of %zu examples\n", done + skipped, d.ds.n);
        printf("%zu examples (%zu skipped)\n", done, skipped);
        if (strcmp(a->dataset, "p2-theorem41") == 0) {
            printf("Theorem 4.1, closed form vs autograd, class 1, positions t >= 1 ([CLS] excluded):\n");
            print_stat("max over positions of ||diff|| / ||autograd||", &rel_max);
            print_stat("mean over positions of the same", &rel_mean);
            print_stat("largest |diff| of a component", &abs_max);
            printf("  examples whose every position is below 1e-4: %zu of %zu\n", below, done);
        } else if (strcmp(a->dataset, "p2-lime") == 0) {
            printf("LIME (mean of 5 runs x %d samples, raw logit of class 1, removed words -> UNK in place) vs "
                   "Eq. (19):\n", samples);
            print_stat("||beta_lime - beta_approx||_2", &l2);
            print_stat("the same / ||beta_lime||_2", &rel);
            print_stat("largest |difference| of a word", &maxabs);
            print_stat("Pearson r (LIME, Eq. 19) over the words", &c_la);
        } else {
            printf("Pearson correlation over the words of each example:\n");
            print_stat("alpha-avg vs G-avg", &c_ag);
            print_stat("alpha-avg vs LIME", &c_al);
        }
    }
    attx_eval_data_free(&d);
    return interrupted ? 130 : done ? EXIT_OK : EXIT_BAD_INPUT;
}

/* ---- sampling study ---- */

static int *parse_counts(const char *list, int *count)
{
    int n;
    char **raw = split_list(list, &n);
    int *c = malloc((size_t)(n ? n : 1) * sizeof *c);
    if (!c) cli_failf("out of memory");
    for (int i = 0; i < n; i++) c[i] = (int)cli_parse_long(&cmd_eval, "--counts", raw[i], 1, 10000000);
    free_list(raw, n);
    if (!n) cli_usage_error(&cmd_eval, "--counts needs at least one number");
    *count = n;
    return c;
}

static int run_study(const eval_args *a, attx_model *m)
{
    attx_eval_data d;
    load_data(a, m, a->dataset, &d);
    int n_methods, nc, ns;
    char **methods = parse_methods(a->methods ? a->methods : STUDY_METHODS, &n_methods);
    int *counts = parse_counts(a->counts ? a->counts : "10,30,100,300,1000", &nc);
    char **sn = split_list(a->samplers ? a->samplers : "permutation,kernel,paper-random,paper-kernel", &ns);
    if (!ns) cli_usage_error(&cmd_eval, "--samplers needs at least one sampler");
    attx_sampler *samplers = malloc((size_t)ns * sizeof *samplers);
    size_t cells = (size_t)n_methods * (size_t)ns * (size_t)nc;
    stat_acc *acc = calloc(cells, sizeof *acc);
    double *mae = malloc((size_t)ns * (size_t)nc * sizeof *mae);
    if (!samplers || !acc || !mae) cli_failf("out of memory");
    for (int s = 0; s < ns; s++) samplers[s] = parse_sampler(sn[s]);
    size_t done = 0, skipped = 0;
    double start = cli_now();
    attx_error err;
    for (size_t i = 0; i < d.ds.n && !interrupted; i++) {
        int32_t *ids;
        int length, n, ok = attx_eval_encode(m, d.ds.texts[i], &ids, &length, &n, &err) == 0;
        for (int k = 0; ok && k < n_methods; k++) {
            ok = attx_sampling_study_example(m, ids, length, methods[k], &a->opt.explain, samplers, ns, counts, nc,
                                             mae, &err) == 0;
            for (int c = 0; ok && c < ns * nc; c++) acc_add(&acc[(size_t)k * ns * nc + c], mae[c]);
        }
        free(ids);
        if (ok) done++;
        else {
            skipped++;
            fprintf(stderr, "attx: warning: example %zu: %s (skipped)\n", i, err.msg);
        }
        progress(i + 1, d.ds.n, start);
    }
    int partial = done + skipped < d.ds.n;
    attx_buf out = {0};
    if (a->json) {
        attx_json_writer w;
        attx_jw_init(&w, &out, 0);
        attx_jw_object_begin(&w);
        attx_jw_key(&w, "experiment");
        attx_jw_string(&w, "sampling-study");
        attx_jw_key(&w, "model");
        attx_jw_string(&w, a->model_path);
        attx_jw_key(&w, "data");
        attx_jw_string(&w, d.source);
        attx_jw_key(&w, "examples_done");
        attx_jw_uint(&w, done);
        attx_jw_key(&w, "partial");
        attx_jw_bool(&w, partial);
        attx_jw_key(&w, "counts");
        attx_jw_array_begin(&w);
        for (int c = 0; c < nc; c++) attx_jw_int(&w, counts[c]);
        attx_jw_array_end(&w);
        attx_jw_key(&w, "mae");
        attx_jw_object_begin(&w);
        for (int k = 0; k < n_methods; k++) {
            attx_jw_key(&w, methods[k]);
            attx_jw_object_begin(&w);
            for (int s = 0; s < ns; s++) {
                attx_jw_key(&w, attx_sampler_name(samplers[s]));
                attx_jw_array_begin(&w);
                for (int c = 0; c < nc; c++) {
                    const stat_acc *x = &acc[((size_t)k * ns + s) * nc + c];
                    if (x->n) attx_jw_double(&w, acc_mean(x));
                    else attx_jw_null(&w);
                }
                attx_jw_array_end(&w);
            }
            attx_jw_object_end(&w);
        }
        attx_jw_object_end(&w);
        attx_jw_object_end(&w);
        cli_print_json(&out);
    } else {
        printf("sampling study on %s\ndata: %s\n", a->model_label, d.source);
        if (partial) printf("partial: %zu of %zu examples\n", done + skipped, d.ds.n);
        printf("%zu examples (%zu skipped); mean absolute error against the exact values (mean ± se over examples)\n",
               done, skipped);
        for (int k = 0; k < n_methods; k++) {
            printf("%s\n  %-14s", methods[k], "samples");
            for (int c = 0; c < nc; c++) printf(" %-20d", counts[c]);
            printf("\n");
            for (int s = 0; s < ns; s++) {
                printf("  %-14s", attx_sampler_name(samplers[s]));
                for (int c = 0; c < nc; c++) {
                    const stat_acc *x = &acc[((size_t)k * ns + s) * nc + c];
                    char cell[48];
                    if (x->n) snprintf(cell, sizeof cell, "%.3e ± %.1e", acc_mean(x), acc_se(x));
                    else snprintf(cell, sizeof cell, "-");
                    printf(" %-21s", cell);
                }
                printf("\n");
            }
        }
    }
    if (a->html) {
        attx_buf_free(&out);
        attx_buf_puts(&out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>attx sampling study</title>"
                            "</head><body style=\"font-family:sans-serif\">\n<h1>Sampling study</h1>\n<p>");
        attx_buf_printf(&out, "%zu examples%s. Mean absolute error of the sampled Shapley values against the exact "
                              "ones; x: samples (log scale).</p>\n", done, partial ? " (partial)" : "");
        double *xs = malloc((size_t)nc * sizeof *xs), *ys = malloc((size_t)ns * (size_t)nc * sizeof *ys);
        attx_svg_series *series = malloc((size_t)ns * sizeof *series);
        if (!xs || !ys || !series) cli_failf("out of memory");
        for (int c = 0; c < nc; c++) xs[c] = counts[c];
        for (int k = 0; k < n_methods; k++) {
            for (int s = 0; s < ns; s++) {
                for (int c = 0; c < nc; c++) {
                    const stat_acc *x = &acc[((size_t)k * ns + s) * nc + c];
                    ys[s * nc + c] = x->n ? acc_mean(x) : NAN;
                }
                series[s] = (attx_svg_series){attx_sampler_name(samplers[s]), xs, ys + s * nc, nc};
            }
            attx_svg_lines(&out, methods[k], "samples", "mean |estimate - exact|", series, ns, 1);
        }
        attx_buf_puts(&out, "</body></html>\n");
        write_file(a->html, &out);
        free(xs), free(ys), free(series);
    }
    attx_buf_free(&out);
    free_list(methods, n_methods);
    free_list(sn, ns);
    free(counts), free(samplers), free(acc), free(mae);
    attx_eval_data_free(&d);
    return interrupted ? 130 : done ? EXIT_OK : EXIT_BAD_INPUT;
}

/* ---- --accuracy: the model's predictions against the gold labels ---- */

/* The examples --accuracy classifies: a text data set, or an image folder (one sub-folder per
 * class, matched to the model's labels by name). */
typedef struct accuracy_data {
    attx_eval_data text;
    attx_image_folder images;
    int is_images;
    int32_t *gold;                /* [n] the model's class of each example */
    size_t n;
    char source[2200];
} accuracy_data;

static void accuracy_load(const eval_args *a, const attx_model *m, accuracy_data *d)
{
    const attx_config *cfg = attx_model_config(m);
    memset(d, 0, sizeof *d);
    d->is_images = cfg->arch == ATTX_ARCH_VIT;
    attx_error err;
    if (!d->is_images) {
        load_data(a, m, a->dataset, &d->text);
        d->n = d->text.ds.n;
        d->gold = d->text.ds.labels;
        snprintf(d->source, sizeof d->source, "%s", d->text.source);
        return;
    }
    if (attx_image_folder_read(&d->images, a->dataset, &err) != 0) cli_fail(&err);
    d->n = d->images.n;
    if (a->limit && d->n > a->limit) d->n = a->limit;
    if (!(d->gold = malloc((d->n ? d->n : 1) * sizeof *d->gold))) cli_failf("out of memory");
    for (size_t i = 0; i < d->n; i++) {
        const char *name = d->images.classes[d->images.labels[i]];
        d->gold[i] = -1;
        for (int c = 0; c < cfg->num_labels; c++)
            if (strcmp(cfg->labels[c], name) == 0) d->gold[i] = c;
        if (d->gold[i] < 0) cli_failf("%s: the class folder '%s' is not one of the model's classes", a->dataset, name);
    }
    snprintf(d->source, sizeof d->source, "%s (%zu images in %d class folders%s)", a->dataset, d->n,
             d->images.num_classes, d->n < d->images.n ? ", --limit" : "");
}

static void accuracy_free(accuracy_data *d)
{
    if (d->is_images) {
        free(d->gold);
        attx_image_folder_free(&d->images);
    } else {
        attx_eval_data_free(&d->text);
    }
}

static int run_accuracy(const eval_args *a, attx_model *m)
{
    accuracy_data d;
    accuracy_load(a, m, &d);
    const attx_config *cfg = attx_model_config(m);
    int C = cfg->num_labels;
    size_t *confusion = calloc((size_t)C * C, sizeof *confusion), n = 0, correct = 0, empty = 0;   /* [gold][predicted] */
    float *pixels = d.is_images ? malloc((size_t)cfg->num_channels * cfg->image_height * cfg->image_width * sizeof *pixels)
                                : NULL;
    attx_ctx *ctx = attx_ctx_new();
    if (!confusion || !ctx || (d.is_images && !pixels)) cli_failf("out of memory");
    double start = cli_now();
    for (size_t i = 0; i < d.n && !interrupted; i++) {
        if (d.gold[i] >= C) cli_failf("%s: label %d is not one of the model's %d classes", d.text.path, d.gold[i], C);
        attx_encoding enc = {0};
        attx_error err;
        attx_batch batch = {.B = 1};
        if (d.is_images) {
            if (attx_encode_image(m, d.images.paths[i], pixels, &err) != 0) cli_fail(&err);
            batch.pixels = pixels;
        } else {
            const char *text = d.text.ds.texts[i];
            if (attx_encode_text(m, text, strlen(text), &enc, &err) != 0 || enc.tokens.n == 0) {
                /* no tokens: nothing to classify (the rows the accuracy leaves out are counted) */
                attx_encoding_free(&enc);
                empty++;
                continue;
            }
            batch.T = enc.length;
            batch.ids = enc.ids;
            batch.lengths = &enc.length;
        }
        attx_outputs out;
        attx_ctx_reset(ctx);
        if (attx_forward(m, ctx, &batch, &out, &err) != 0) cli_fail(&err);
        int best = 0;
        for (int c = 1; c < C; c++)
            if (out.logits->data[c] > out.logits->data[best]) best = c;
        confusion[(size_t)d.gold[i] * C + best]++;
        correct += best == d.gold[i];
        n++;
        attx_encoding_free(&enc);
        if (i % 64 == 63 || i + 1 == d.n) progress(i + 1, d.n, start);
    }
    double seconds = cli_now() - start, accuracy = n ? (double)correct / (double)n : 0;
    char partial[96] = "";
    if (interrupted) snprintf(partial, sizeof partial, " (partial: %zu of %zu examples)", n + empty, d.n);
    if (a->json) {
        attx_buf buf = {0};
        attx_json_writer w;
        attx_jw_init(&w, &buf, 1);
        attx_jw_object_begin(&w);
        attx_jw_key(&w, "model"); attx_jw_string(&w, a->model_path);
        attx_jw_key(&w, "data"); attx_jw_string(&w, d.source);
        attx_jw_key(&w, "examples"); attx_jw_uint(&w, n);
        attx_jw_key(&w, "without_tokens"); attx_jw_uint(&w, empty);
        attx_jw_key(&w, "correct"); attx_jw_uint(&w, correct);
        attx_jw_key(&w, "accuracy"); attx_jw_double(&w, accuracy);
        attx_jw_key(&w, "partial"); attx_jw_bool(&w, interrupted != 0);
        attx_jw_key(&w, "seconds"); attx_jw_double(&w, seconds);
        attx_jw_key(&w, "confusion");   /* rows: gold class, columns: predicted class */
        attx_jw_array_begin(&w);
        for (int g = 0; g < C; g++) {
            attx_jw_array_begin(&w);
            for (int p = 0; p < C; p++) attx_jw_uint(&w, confusion[(size_t)g * C + p]);
            attx_jw_array_end(&w);
        }
        attx_jw_array_end(&w);
        attx_jw_object_end(&w);
        if (buf.failed) cli_failf("out of memory");
        printf("%s\n", buf.data);
        attx_buf_free(&buf);
    } else {
        printf("%s on %s%s\n", a->model_label, d.source, partial);
        printf("accuracy %.2f%% (%zu of %zu)", 100 * accuracy, correct, n);
        if (empty) printf("; %zu texts without any token left out", empty);
        printf(", %.1f s\n\n%-16s %8s %8s %9s\n", seconds, "class", "support", "recall", "precision");
        for (int c = 0; c < C; c++) {
            size_t support = 0, predicted = 0;
            for (int k = 0; k < C; k++) {
                support += confusion[(size_t)c * C + k];
                predicted += confusion[(size_t)k * C + c];
            }
            size_t hits = confusion[(size_t)c * C + c];
            printf("%-16s %8zu %7.2f%% %8.2f%%\n", cfg->labels[c], support, support ? 100.0 * hits / support : 0.0,
                   predicted ? 100.0 * hits / predicted : 0.0);
        }
    }
    free(confusion);
    free(pixels);
    attx_ctx_free(ctx);
    accuracy_free(&d);
    return interrupted ? 130 : n ? EXIT_OK : EXIT_BAD_INPUT;
}

static attx_tie_rule parse_ties(const char *v)
{
    if (strcmp(v, "first") == 0) return ATTX_TIES_FIRST;
    if (strcmp(v, "p1") == 0) return ATTX_TIES_P1;
    if (strcmp(v, "average") == 0) return ATTX_TIES_AVERAGE;
    cli_usage_error(&cmd_eval, "--ties must be first, p1 or average, not '%s'", v);
    return ATTX_TIES_FIRST;
}

static int run_eval(int argc, char **argv)
{
    eval_args a = {0};
    const char *v;
    attx_eval_options_init(&a.opt);
    attx_explain_options *eo = &a.opt.explain;
    explain_shap_flags shap_set = {0};
    int ties_set = 0;
    size_t used = 0;
    for (int i = 0; i < argc && used + 2 < sizeof a.command_line; i++)
        used += (size_t)snprintf(a.command_line + used, sizeof a.command_line - used, "%s%s", i ? " " : "attx ", argv[i]);
    for (int i = 1; i < argc; i++) {
        if (cli_end_of_options(argv[i])) continue;
        if (cli_flag(argv[i], "--json")) a.json = 1;
        else if (cli_precision_option(&cmd_eval, argv[i], &a.precision)) continue;
        else if (cli_flag(argv[i], "--exact")) eo->exact = 1;
        else if (cli_value(argc, argv, &i, "--max-players", &v)) eo->max_players = (int)cli_parse_long(&cmd_eval, "--max-players", v, 1, 30);
        else if (cli_flag(argv[i], "--sampling-study")) a.study = 1;
        else if (cli_flag(argv[i], "--accuracy")) a.accuracy = 1;
        else if (cli_value(argc, argv, &i, "--methods", &a.methods)) continue;
        else if (cli_value(argc, argv, &i, "--method", &a.methods)) continue;
        else if (cli_value(argc, argv, &i, "--csv", &a.csv)) continue;
        else if (cli_value(argc, argv, &i, "--html", &a.html)) continue;
        else if (cli_value(argc, argv, &i, "--threads", &a.threads)) continue;
        else if (cli_value(argc, argv, &i, "--data", &a.data)) continue;
        else if (cli_value(argc, argv, &i, "--data-dir", &a.data_dir)) continue;
        else if (cli_value(argc, argv, &i, "--counts", &a.counts)) continue;
        else if (cli_value(argc, argv, &i, "--samplers", &a.samplers)) continue;
        else if (cli_value(argc, argv, &i, "--format", &a.spec.format)) continue;
        else if (cli_value(argc, argv, &i, "--text-col", &a.spec.text_cols)) continue;
        else if (cli_value(argc, argv, &i, "--label-col", &a.spec.label_col)) continue;
        else if (cli_value(argc, argv, &i, "--limit", &v)) a.limit = (size_t)cli_parse_long(&cmd_eval, "--limit", v, 1, 100000000);
        else if (cli_value(argc, argv, &i, "--samples", &v)) eo->samples = (int)cli_parse_long(&cmd_eval, "--samples", v, 1, 100000000);
        else if (cli_value(argc, argv, &i, "--seed", &v)) eo->seed = (uint64_t)cli_parse_long(&cmd_eval, "--seed", v, 0, 0x7fffffffffffffffL);
        else if (cli_value(argc, argv, &i, "--steps", &v)) eo->steps = (int)cli_parse_long(&cmd_eval, "--steps", v, 1, 100000);
        else if (cli_value(argc, argv, &i, "--batch", &v)) eo->batch_size = (int)cli_parse_long(&cmd_eval, "--batch", v, 1, 4096);
        else if (cli_value(argc, argv, &i, "--sampler", &v)) eo->sampler = parse_sampler(v);
        else if (explain_shap_option(&cmd_eval, argc, argv, &i, eo, &shap_set)) continue;
        else if (cli_flag(argv[i], "--p1")) a.p1 = 1;
        else if (cli_value(argc, argv, &i, "--ties", &v)) a.opt.ties = parse_ties(v), ties_set = 1;
        else if (cli_value(argc, argv, &i, "--tie-samples", &v)) a.opt.tie_samples = (int)cli_parse_long(&cmd_eval, "--tie-samples", v, 1, 100000);
        else if (cli_is_option(argv[i])) cli_unknown_option(&cmd_eval, argv[i]);
        else if (!a.model_path) a.model_path = argv[i];
        else if (!a.dataset) a.dataset = argv[i];
        else cli_usage_error(&cmd_eval, "unexpected argument '%s'", argv[i]);
    }
    if (!a.model_path || !a.dataset) cli_usage_error(&cmd_eval, "MODEL and DATASET are both needed");
    if (a.p1) {   /* P1's pipeline: its SHAP and its tie order, unless given otherwise */
        eo->shap_p1 = 1;
        if (!ties_set) a.opt.ties = ATTX_TIES_P1;
    }
    explain_shap_defaults(eo, &shap_set);
    if (eo->exact && eo->samples) cli_usage_error(&cmd_eval, "--exact and --samples exclude each other");
    if (eo->sampler != ATTX_SAMPLER_NONE && !eo->samples) cli_usage_error(&cmd_eval, "--sampler needs --samples N");
    int p2 = strncmp(a.dataset, "p2-", 3) == 0 && strcmp(a.dataset, "p2-imdb") != 0;
    if (p2 && strcmp(a.dataset, "p2-theorem41") && strcmp(a.dataset, "p2-lime") && strcmp(a.dataset, "p2-correlations"))
        cli_usage_error(&cmd_eval, "unknown experiment '%s' (p2-theorem41, p2-lime, p2-correlations)", a.dataset);
    if (p2 && a.study) cli_usage_error(&cmd_eval, "--sampling-study takes a data set, not %s", a.dataset);
    if (a.accuracy && (p2 || a.study)) cli_usage_error(&cmd_eval, "--accuracy takes a data set alone");
    if (a.accuracy) p2 = 1;   /* rank 0 alone, as P2's experiments */
    cli_set_threads(&cmd_eval, a.threads);

    attx_model *m = cli_open_model(a.model_path, a.precision);
    snprintf(a.model_label, sizeof a.model_label, "%s%s", a.model_path,
             attx_model_is_int8(m) ? " (int8)" : attx_model_is_bf16(m) ? " (bf16)" : "");
    attx_error err;
    /* weights that are not numbers would fail every example, each skipped with a warning */
    if (attx_model_check_finite(m, &err) != 0) cli_fail(&err);
    const attx_config *cfg = attx_model_config(m);
    if (!attx_model_has_classifier(m) || (cfg->arch == ATTX_ARCH_VIT && !a.accuracy))
        cli_failf("%s: attx eval needs a text classifier (BERT or attn1), not a %s%s", a.model_path,
                  attx_model_has_classifier(m) ? "" : "bare ", attx_arch_name(cfg->arch));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND;   /* a second Ctrl-C stops at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
#ifdef ATTX_MPI
    MPI_Init(NULL, NULL);
    MPI_Comm_rank(MPI_COMM_WORLD, &mpi_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mpi_size);
    if ((p2 || a.study) && mpi_rank != 0) {   /* these run on rank 0 alone */
        MPI_Finalize();
        attx_model_close(m);
        return EXIT_OK;
    }
    if (p2 || a.study) mpi_size = 1;
#endif
    int rc = a.accuracy ? run_accuracy(&a, m) : p2 ? run_p2(&a, m) : a.study ? run_study(&a, m) : run_faithfulness(&a, m);
#ifdef ATTX_MPI
    if (!p2 && !a.study) MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
#endif
    attx_model_close(m);
    return rc;
}
