/* cmd_tcav.c — `attx tcav MODEL --target CLASS --concept DIR... --targets DIR|FILE [...]`:
 * concept sensitivity of a class by T-TCAV (P1) and TCAV, a table per layer and concept,
 * a heatmap of one target (PNG overlay for images, shaded tokens for text). */
#include "cli.h"
#include "cmd_tcav.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int run_tcav(int argc, char **argv);

const cli_command cmd_tcav = {
    "tcav", "concept sensitivity of a class (T-TCAV and TCAV with significance tests)",
    "usage: attx tcav MODEL --target CLASS --concept PATH... --targets PATH [--random PATH...]\n"
    "                 [--layers LIST] [--cavs N] [--seed S] [--batch N] [--alpha A] [--tol T] [--warm-start] [--json]\n"
    "                 [--null] [--objective O] [--png FILE] [--html FILE] [--heat-layer L] [--heat-concept C] [--heat-cav K]\n"
    "                 [--heat-target I] [--threads N]\n"
    "\n"
    "Tests whether MODEL's class CLASS is sensitive to concepts. A concept (and a random set) is a\n"
    "folder of images for an image model (ViT), or a text file with one example per line for a\n"
    "text model (BERT); the targets are inputs of the class, in the same form (or one image).\n"
    "A CAV is the unit normal of an L2 logistic regression (C = 1) separating the layer's token\n"
    "activations of the concept from counter-examples. For each target x, with g_t the gradient\n"
    "of the class logit at token t, d_t = g_t . v and a_t the layer's [CLS] attention (head mean):\n"
    "  T-TCAV  S(x) = mean_t a_t d~_t, d~ = d (||a|| / ||d|| + 1e-8)   (P1)\n"
    "  TCAV    S(x) = sum_t d_t   (equal in sign to mean_t d_t, T-TCAV without attention)\n"
    "and a CAV's score is the fraction of targets with S(x) > 0.\n"
    "\n"
    "Without --random (P1): relative CAVs, each concept against negatives drawn from the other\n"
    "concepts (as many examples as it has; seed S + i for CAV i); the --cavs scores are tested\n"
    "against 0.5 (one-sample t-test). With k >= 3 --random sets (TCAV): CAV j is the concept\n"
    "against random set j+1 and the baseline is random set 1 against set j+1; the concept's\n"
    "scores are tested against the baseline's (Student's two-sample t-test). p-values are\n"
    "Bonferroni-corrected over the layers x concepts tests; significant when below --alpha,\n"
    "(+) when the scores are above 0.5 (the baseline), (-) when below.\n"
    "\n"
    "  --target CLASS     the class, by label or number\n"
    "  --concept PATH...  concepts (one or more paths after the option, or the option repeated)\n"
    "  --targets PATH     the inputs of the class\n"
    "  --random PATH...   random sets: classic TCAV\n"
    "  --null             relative CAVs tested against --cavs null CAVs, each between two random\n"
    "                     disjoint halves of the pooled concept examples (two-sample t-test),\n"
    "                     instead of against 0.5\n"
    "  --objective O      what the directional derivatives differentiate: logit (z_CLASS; P1's, the\n"
    "                     default), centred (z_CLASS - mean_j z_j: softmax ignores a shift of every\n"
    "                     logit), logsoftmax (log p_CLASS: Kim et al.'s TCAV) or margin\n"
    "                     (z_CLASS - the largest other logit); only logit is P1's\n"
    "  --centred          the same as --objective centred\n"
    "  --layers LIST      layers (from 0), e.g. 4,5,8,9 or 0-11 (default every layer)\n"
    "  --cavs N           relative CAVs per concept and layer (default 50)\n"
    "  --seed S           first sampling seed (default 0)\n"
    "  --batch N          forward batch (default 8)\n"
    "  --alpha A          significance level after the correction (default 0.05)\n"
    "  --tol T            CAV solver: stop when every gradient entry of the (unscaled) logistic\n"
    "                     objective is below T (default 1e-7, tight; 1e-4 is about 2x faster)\n"
    "  --warm-start       start each CAV's solver from the previous CAV of its concept and layer:\n"
    "                     fewer iterations, the same CAVs within --tol (not bit for bit)\n"
    "  --json             print one JSON object with every score on stdout\n"
    "  --png FILE         image models: the heatmap as a PNG overlay on the target image\n"
    "  --html FILE        a self-contained report: the tables, every CAV's score as strip plots,\n"
    "                     the heatmap (and the --png overlay)\n"
    "  --heat-layer L     heatmap layer (default the first of --layers); --heat-concept C\n"
    "                     (name or number, default the first), --heat-cav K (default 0),\n"
    "                     --heat-target I (default 0, in file order)\n"
    "  --threads N        threads to use (default: all cores)\n",
    run_tcav,
};

/* ---- output ---------------------------------------------------------------------------------- */

static int stderr_tty;

static void progress(void *user, const char *stage, long done, long total)
{
    (void)user;
    if (stderr_tty) {
        fprintf(stderr, "\rattx tcav: %-11s %ld/%ld   ", stage, done, total);
        if (done == total) fputc('\n', stderr);
    } else if (done == total) {
        fprintf(stderr, "attx tcav: %s %ld/%ld\n", stage, done, total);
    }
}

static attx_tcav_objective parse_objective(const char *v)
{
    for (int o = ATTX_TCAV_LOGIT; o <= ATTX_TCAV_MARGIN; o++)
        if (!strcmp(v, attx_tcav_objective_name((attx_tcav_objective)o))) return (attx_tcav_objective)o;
    cli_usage_error(&cmd_tcav, "--objective must be logit, centred, logsoftmax or margin, not '%s'", v);
    return ATTX_TCAV_LOGIT;
}

/* ", of the centred logit" and the like after the class in the table's first line (P1's raw
 * logit: nothing) */
static const char *objective_phrase(attx_tcav_objective o)
{
    switch (o) {
    case ATTX_TCAV_CENTRED: return ", centred logit (not P1's)";
    case ATTX_TCAV_LOGSOFTMAX: return ", log-softmax (Kim et al.'s; not P1's)";
    case ATTX_TCAV_MARGIN: return ", margin to the runner-up (not P1's)";
    default: return "";
    }
}

static void print_table(const attx_tcav_result *r, const example_set *concepts, const attx_config *cfg, double alpha)
{
    printf("class %d (%s)%s, %d targets; %s, %d CAVs per concept and layer; %s; p Bonferroni-corrected over %d tests, "
           "alpha %g\n",
           r->klass, cfg->labels[r->klass], objective_phrase(r->objective), r->n_targets,
           tcav_cav_description(r), r->n_cavs, tcav_test_description(r), r->tests, alpha);
    if (!r->baselines)
        printf("warning: P1's one-sample test is liberal (its CAVs share every positive): on the pre-registered synthetic "
               "benchmark it called 80-89%% of the cells significant where a texture swap changes nothing (README, T-TCAV)\n");
    int w = 8;
    for (int c = 0; c < r->n_concepts; c++) w = (int)strlen(concepts[c].name) > w ? (int)strlen(concepts[c].name) : w;
    for (int j = 0; j < r->n_layers; j++) {
        printf("\nlayer %d\n", r->layers[j]);
        printf("  %-*s  %-50s  %s\n", w, "", "T-TCAV", "TCAV (= T-TCAV without attention weights)");
        printf("  %-*s  %6s %6s %9s %9s %-15s   %6s %6s %9s %-15s\n", w, "concept", "mean", "std", "p", "p(corr)", "verdict",
               "mean", "std", "p(corr)", "verdict");
        for (int c = 0; c < r->n_concepts; c++) {
            const attx_tcav_cell *cell = &r->cells[j * r->n_concepts + c];
            const attx_tcav_stat *a = &cell->stat[ATTX_TCAV_TTCAV], *b = &cell->stat[ATTX_TCAV_TCAV];
            printf("  %-*s  %6.3f %6.3f %9.2e %9.2e %-15s   %6.3f %6.3f %9.2e %-15s\n", w, concepts[c].name, a->mean, a->std,
                   a->test.p, a->p_bonferroni, tcav_verdict(a), b->mean, b->std, b->p_bonferroni, tcav_verdict(b));
        }
        if (r->baselines) {
            const attx_tcav_cell *bl = &r->baselines[j];
            printf("  %-*s  %6.3f %6.3f %9s %9s %-15s   %6.3f %6.3f\n", w, r->classic ? "(random)" : "(null)", bl->stat[0].mean, bl->stat[0].std, "", "",
                   "", bl->stat[1].mean, bl->stat[1].std);
        }
    }
}

static void json_stat(attx_json_writer *w, const attx_tcav_cell *cell, int kind, int with_test)
{
    const attx_tcav_stat *s = &cell->stat[kind];
    attx_jw_object_begin(w);
    attx_jw_key(w, "mean");
    attx_jw_double(w, s->mean);
    attx_jw_key(w, "std");
    attx_jw_double(w, s->std);
    if (with_test) {
        attx_jw_key(w, "t");
        attx_jw_double(w, s->test.t);
        attx_jw_key(w, "df");
        attx_jw_double(w, s->test.df);
        attx_jw_key(w, "p");
        attx_jw_double(w, s->test.p);
        attx_jw_key(w, "p_bonferroni");
        attx_jw_double(w, s->p_bonferroni);
        attx_jw_key(w, "verdict");
        attx_jw_string(w, tcav_verdict(s));
    }
    attx_jw_key(w, "scores");
    attx_jw_array_begin(w);
    for (int i = 0; i < cell->n_cavs; i++) attx_jw_double(w, cell->score[kind][i]);
    attx_jw_array_end(w);
    attx_jw_key(w, "mean_S");
    attx_jw_array_begin(w);
    for (int i = 0; i < cell->n_cavs; i++) attx_jw_double(w, cell->mean_s[kind][i]);
    attx_jw_array_end(w);
    attx_jw_object_end(w);
}

static void json_cell(attx_json_writer *w, const attx_tcav_cell *cell, const char *name, int with_test)
{
    attx_jw_object_begin(w);
    attx_jw_key(w, "name");
    attx_jw_string(w, name);
    for (int kind = 0; kind < ATTX_TCAV_KINDS; kind++) {
        attx_jw_key(w, attx_tcav_kind_name(kind));
        json_stat(w, cell, kind, with_test);
    }
    attx_jw_key(w, "cav_accuracy");
    attx_jw_array_begin(w);
    for (int i = 0; i < cell->n_cavs; i++) attx_jw_double(w, cell->cav_accuracy[i]);
    attx_jw_array_end(w);
    attx_jw_key(w, "cav_iterations");
    attx_jw_array_begin(w);
    for (int i = 0; i < cell->n_cavs; i++) attx_jw_int(w, cell->cav_iterations[i]);
    attx_jw_array_end(w);
    attx_jw_key(w, "cav_converged");
    attx_jw_array_begin(w);
    for (int i = 0; i < cell->n_cavs; i++) attx_jw_bool(w, cell->cav_converged[i]);
    attx_jw_array_end(w);
    attx_jw_object_end(w);
}

static const char *token_text(const attx_model *m, int32_t id)
{
    const char *t = attx_wordpiece_token(attx_model_tokenizer(m), id);
    return t ? t : "?";
}

static void print_json(const attx_model *m, const attx_tcav_result *r, const example_set *concepts, const example_set *randoms,
                       int n_randoms, const example_set *targets, double alpha)
{
    const attx_config *cfg = attx_model_config(m);
    attx_buf out = {0};
    attx_json_writer w;
    attx_jw_init(&w, &out, 0);
    attx_jw_object_begin(&w);
    attx_jw_key(&w, "class");
    attx_jw_int(&w, r->klass);
    attx_jw_key(&w, "label");
    attx_jw_string(&w, cfg->labels[r->klass]);
    attx_jw_key(&w, "objective");
    attx_jw_string(&w, r->objective == ATTX_TCAV_CENTRED ? "centred_logit" : attx_tcav_objective_name(r->objective));
    attx_jw_key(&w, "mode");
    attx_jw_string(&w, r->classic ? "classic" : r->null_baseline ? "relative-null" : "relative");
    attx_jw_key(&w, "test");
    attx_jw_string(&w, r->classic         ? "ttest_ind (Student, equal variances) against the random baseline"
                       : r->null_baseline ? "ttest_ind (Student, equal variances) against the null CAVs"
                                  : "ttest_1samp against 0.5");
    attx_jw_key(&w, "n_cavs");
    attx_jw_int(&w, r->n_cavs);
    attx_jw_key(&w, "n_targets");
    attx_jw_int(&w, r->n_targets);
    attx_jw_key(&w, "tests");
    attx_jw_int(&w, r->tests);
    attx_jw_key(&w, "alpha");
    attx_jw_double(&w, alpha);
    attx_jw_key(&w, "concepts");
    attx_jw_array_begin(&w);
    for (int c = 0; c < r->n_concepts; c++) {
        attx_jw_object_begin(&w);
        attx_jw_key(&w, "name");
        attx_jw_string(&w, concepts[c].name);
        attx_jw_key(&w, "path");
        attx_jw_string(&w, concepts[c].path);
        attx_jw_key(&w, "examples");
        attx_jw_int(&w, concepts[c].count);
        attx_jw_object_end(&w);
    }
    attx_jw_array_end(&w);
    attx_jw_key(&w, "randoms");
    attx_jw_array_begin(&w);
    for (int k = 0; k < n_randoms; k++) attx_jw_string(&w, randoms[k].path);
    attx_jw_array_end(&w);
    attx_jw_key(&w, "targets");
    attx_jw_string(&w, targets->path);
    attx_jw_key(&w, "layers");
    attx_jw_array_begin(&w);
    for (int j = 0; j < r->n_layers; j++) {
        attx_jw_object_begin(&w);
        attx_jw_key(&w, "layer");
        attx_jw_int(&w, r->layers[j]);
        attx_jw_key(&w, "concepts");
        attx_jw_array_begin(&w);
        for (int c = 0; c < r->n_concepts; c++) json_cell(&w, &r->cells[j * r->n_concepts + c], concepts[c].name, 1);
        attx_jw_array_end(&w);
        if (r->baselines) {
            attx_jw_key(&w, r->classic ? "random_baseline" : "null_baseline");
            json_cell(&w, &r->baselines[j], r->classic ? "random" : "null", 0);
        }
        attx_jw_object_end(&w);
    }
    attx_jw_array_end(&w);
    if (r->heat_T > 0) {
        attx_jw_key(&w, "heatmap");
        attx_jw_object_begin(&w);
        attx_jw_key(&w, "layer");
        attx_jw_int(&w, r->heat_layer);
        attx_jw_key(&w, "concept");
        attx_jw_string(&w, concepts[r->heat_concept].name);
        attx_jw_key(&w, "cav");
        attx_jw_int(&w, r->heat_cav);
        attx_jw_key(&w, "target");
        attx_jw_int(&w, r->heat_target);
        attx_jw_key(&w, "input");
        if (targets->files) attx_jw_string(&w, targets->files[r->heat_target]);
        else attx_jw_null(&w);
        attx_jw_key(&w, "S");
        attx_jw_double(&w, r->heat_S);
        if (r->heat_ids) {
            attx_jw_key(&w, "tokens");
            attx_jw_array_begin(&w);
            for (int t = 0; t < r->heat_T; t++) attx_jw_string(&w, token_text(m, r->heat_ids[t]));
            attx_jw_array_end(&w);
        } else {
            attx_jw_key(&w, "grid");
            attx_jw_array_begin(&w);
            attx_jw_int(&w, cfg->image_height / cfg->patch_size);
            attx_jw_int(&w, cfg->image_width / cfg->patch_size);
            attx_jw_array_end(&w);
        }
        attx_jw_key(&w, "token_scores");     /* s_t for t = 0 ([CLS]) .. T-1 */
        attx_jw_array_begin(&w);
        for (int t = 0; t < r->heat_T; t++) attx_jw_double(&w, r->heat[t]);
        attx_jw_array_end(&w);
        attx_jw_object_end(&w);
    }
    attx_jw_key(&w, "time_ms");
    attx_jw_double(&w, r->time_ms);
    attx_jw_object_end(&w);
    cli_print_json(&out);
    attx_buf_free(&out);
}

/* Text heatmap: the target's tokens shaded by s_t ([CLS] and [SEP] included). */
static void print_text_heatmap(const attx_model *m, const attx_tcav_result *r, const example_set *concepts)
{
    printf("\nheatmap: target %d, layer %d, concept %s, CAV %d: S = %.4g\n  ", r->heat_target, r->heat_layer,
           concepts[r->heat_concept].name, r->heat_cav, r->heat_S);
    double scale = 0;
    for (int t = 0; t < r->heat_T; t++) scale = fmax(scale, fabs(r->heat[t]));
    int tty = cli_colour(stdout);
    for (int t = 0; t < r->heat_T; t++) {
        const char *tok = token_text(m, r->heat_ids[t]);
        if (tty) {
            int c = cli_shade_colour(r->heat[t], scale);
            printf("\033[38;5;%dm\033[48;5;%dm%s\033[0m ", cli_shade_text_colour(c), c, tok);
        } else {
            printf("%s(%+.3g) ", tok, r->heat[t]);
        }
    }
    printf("\n");
}

/* Image heatmap: s_t of the patches ([CLS] not drawn) over the target image. */
static void write_png_heatmap(const attx_model *m, const attx_tcav_result *r, const char *image_path, const char *png)
{
    const attx_config *cfg = attx_model_config(m);
    attx_error err;
    if (cli_patch_heatmap_png(m, image_path, r->heat + 1, png, &err) != 0) cli_fail(&err);
    int f = 1, W = cfg->image_width, H = cfg->image_height;
    while (f * (W > H ? W : H) < 224) f++;
    fprintf(stderr, "attx tcav: wrote %s (%dx%d; target %s, layer %d, concept %d, CAV %d)\n", png, W * f, H * f, image_path,
            r->heat_layer, r->heat_concept, r->heat_cav);
}

/* ---- the command ------------------------------------------------------------------------------- */

static int run_tcav(int argc, char **argv)
{
    const char *model_path = NULL, *target = NULL, *targets_path = NULL, *threads = NULL, *png = NULL, *html = NULL, *v;
    const char *heat_concept = NULL;
    const char **concept_paths = calloc((size_t)argc, sizeof *concept_paths), **random_paths = calloc((size_t)argc, sizeof *random_paths);
    if (!concept_paths || !random_paths) cli_failf("out of memory");
    int n_concepts = 0, n_randoms = 0, json = 0, null_baseline = 0, n_layers = 0, heat_layer = -1, heat_cav = 0, heat_target = 0, cavs_given = 0;
    int *layers = NULL;
    attx_tcav_options o;
    attx_tcav_options_init(&o);
    attx_tcav_objective objective = ATTX_TCAV_LOGIT;
    for (int i = 1; i < argc; i++) {
        if (cli_end_of_options(argv[i])) continue;
        if (cli_flag(argv[i], "--json")) json = 1;
        else if (cli_flag(argv[i], "--null")) null_baseline = 1;
        else if (cli_flag(argv[i], "--centred")) objective = ATTX_TCAV_CENTRED;
        else if (cli_value(argc, argv, &i, "--objective", &v)) objective = parse_objective(v);
        else if (cli_flag(argv[i], "--concept") || cli_flag(argv[i], "--random")) {
            int is_concept = argv[i][2] == 'c';
            int before = is_concept ? n_concepts : n_randoms;
            while (i + 1 < argc && !cli_is_option(argv[i + 1])) {
                if (is_concept) concept_paths[n_concepts++] = argv[++i];
                else random_paths[n_randoms++] = argv[++i];
            }
            if ((is_concept ? n_concepts : n_randoms) == before) cli_usage_error(&cmd_tcav, "%s needs a path", argv[i]);
        } else if (cli_value(argc, argv, &i, "--concept", &v)) concept_paths[n_concepts++] = v;
        else if (cli_value(argc, argv, &i, "--random", &v)) random_paths[n_randoms++] = v;
        else if (cli_value(argc, argv, &i, "--target", &target)) continue;
        else if (cli_value(argc, argv, &i, "--targets", &targets_path)) continue;
        else if (cli_value(argc, argv, &i, "--threads", &threads)) continue;
        else if (cli_value(argc, argv, &i, "--png", &png)) continue;
        else if (cli_value(argc, argv, &i, "--html", &html)) continue;
        else if (cli_value(argc, argv, &i, "--layers", &v)) layers = cli_parse_layers(&cmd_tcav, v, &n_layers);
        else if (cli_value(argc, argv, &i, "--cavs", &v)) {
            o.n_cavs = (int)cli_parse_long(&cmd_tcav, "--cavs", v, 2, 100000);
            cavs_given = 1;
        } else if (cli_value(argc, argv, &i, "--seed", &v)) o.seed = (uint64_t)cli_parse_long(&cmd_tcav, "--seed", v, 0, 0x7fffffffffffffffL);
        else if (cli_value(argc, argv, &i, "--batch", &v)) o.batch_size = (int)cli_parse_long(&cmd_tcav, "--batch", v, 1, 4096);
        else if (cli_value(argc, argv, &i, "--heat-layer", &v)) heat_layer = (int)cli_parse_long(&cmd_tcav, "--heat-layer", v, 0, 10000);
        else if (cli_value(argc, argv, &i, "--heat-cav", &v)) heat_cav = (int)cli_parse_long(&cmd_tcav, "--heat-cav", v, 0, 100000);
        else if (cli_value(argc, argv, &i, "--heat-target", &v)) heat_target = (int)cli_parse_long(&cmd_tcav, "--heat-target", v, 0, 100000000);
        else if (cli_value(argc, argv, &i, "--heat-concept", &heat_concept)) continue;
        else if (cli_flag(argv[i], "--warm-start")) o.warm_start = 1;
        else if (cli_value(argc, argv, &i, "--tol", &v)) {
            char *end;
            o.logreg.tol = strtod(v, &end);
            if (end == v || *end || !(o.logreg.tol > 0)) cli_usage_error(&cmd_tcav, "--tol must be a positive number, not '%s'", v);
        } else if (cli_value(argc, argv, &i, "--alpha", &v)) {
            char *end;
            o.alpha = strtod(v, &end);
            if (end == v || *end || !(o.alpha > 0 && o.alpha < 1)) cli_usage_error(&cmd_tcav, "--alpha must be a number between 0 and 1, not '%s'", v);
        } else if (cli_is_option(argv[i])) cli_unknown_option(&cmd_tcav, argv[i]);
        else if (!model_path) model_path = argv[i];
        else cli_usage_error(&cmd_tcav, "unexpected argument '%s'", argv[i]);
    }
    if (!model_path) cli_usage_error(&cmd_tcav, "MODEL is needed");
    if (!target) cli_usage_error(&cmd_tcav, "--target CLASS is needed");
    if (!targets_path) cli_usage_error(&cmd_tcav, "--targets PATH (the inputs of the class) is needed");
    if (n_concepts == 0) cli_usage_error(&cmd_tcav, "at least one --concept is needed");
    if (n_randoms == 0 && n_concepts < 2)
        cli_usage_error(&cmd_tcav, "relative CAVs need 2 or more concepts (or give --random sets for classic TCAV)");
    if (n_randoms > 0 && n_randoms < 3) cli_usage_error(&cmd_tcav, "classic TCAV needs 3 or more --random sets, not %d", n_randoms);
    if (null_baseline && n_randoms)
        cli_usage_error(&cmd_tcav, "--null is for relative CAVs; with --random the baseline is random-vs-random");
    if (n_randoms > 0 && cavs_given)
        cli_usage_error(&cmd_tcav, "--cavs is for relative CAVs; with --random there is one CAV per random set after the first");
    cli_set_threads(&cmd_tcav, threads);
    stderr_tty = isatty(STDERR_FILENO);

    attx_model *model;
    attx_error err;
    if (attx_model_open(&model, model_path, &err) != 0) cli_fail(&err);
    const attx_config *cfg = attx_model_config(model);
    if (cfg->arch != ATTX_ARCH_BERT && cfg->arch != ATTX_ARCH_VIT)
        cli_failf("%s: tcav supports BERT and ViT models, not %s", model_path, attx_arch_name(cfg->arch));
    if (!attx_model_has_classifier(model))
        cli_failf("%s is a bare %s without a classifier; it has no class to test", model_path, attx_arch_name(cfg->arch));
    o.klass = tcav_parse_class(cfg, target);
    if (png && cfg->arch != ATTX_ARCH_VIT) cli_failf("--png draws image heatmaps; %s is a text model", model_path);

    example_set *concepts = calloc((size_t)n_concepts, sizeof *concepts), *randoms = calloc((size_t)n_randoms + 1, sizeof *randoms);
    example_set targets = {0};
    if (!concepts || !randoms) cli_failf("out of memory");
    size_t dropped = 0;
    for (int c = 0; c < n_concepts; c++) {
        concepts[c].path = concept_paths[c];
        tcav_load_set(&concepts[c], model, 0, &dropped);
    }
    for (int k = 0; k < n_randoms; k++) {
        randoms[k].path = random_paths[k];
        tcav_load_set(&randoms[k], model, 0, &dropped);
    }
    targets.path = targets_path;
    tcav_load_set(&targets, model, 1, &dropped);
    if (dropped)
        fprintf(stderr, "attx: warning: %zu tokens were cut off examples longer than the model's %d positions\n", dropped,
                cfg->max_position_embeddings);

    if (layers) {
        o.layers = layers;
        o.n_layers = n_layers;
    } else {
        n_layers = cfg->num_layers;
    }
    o.heat_target = heat_target;
    o.heat_cav = heat_cav;
    o.null_baseline = null_baseline;
    o.objective = objective;
    o.heat_layer_index = 0;
    if (heat_layer >= 0) {
        o.heat_layer_index = -1;
        for (int j = 0; j < n_layers; j++)
            if ((layers ? layers[j] : j) == heat_layer) o.heat_layer_index = j;
        if (o.heat_layer_index < 0) cli_usage_error(&cmd_tcav, "--heat-layer %d is not one of the layers tested", heat_layer);
    }
    if (heat_concept) {
        o.heat_concept = -1;
        for (int c = 0; c < n_concepts; c++)
            if (strcmp(concepts[c].name, heat_concept) == 0) o.heat_concept = c;
        char *end;
        long k = strtol(heat_concept, &end, 10);
        if (o.heat_concept < 0 && end != heat_concept && *end == '\0' && k >= 0 && k < n_concepts) o.heat_concept = (int)k;
        if (o.heat_concept < 0) cli_usage_error(&cmd_tcav, "--heat-concept '%s' is not one of the concepts", heat_concept);
    }
    int n_cavs = n_randoms ? n_randoms - 1 : o.n_cavs;
    if (heat_cav >= n_cavs) cli_usage_error(&cmd_tcav, "--heat-cav %d: there are %d CAVs (from 0)", heat_cav, n_cavs);
    if (heat_target >= targets.count) cli_usage_error(&cmd_tcav, "--heat-target %d: there are %d targets (from 0)", heat_target, targets.count);
    o.progress = progress;

    attx_tcav_source *csrc = malloc((size_t)n_concepts * sizeof *csrc), *rsrc = malloc(((size_t)n_randoms + 1) * sizeof *rsrc);
    if (!csrc || !rsrc) cli_failf("out of memory");
    for (int c = 0; c < n_concepts; c++) csrc[c] = concepts[c].src;
    for (int k = 0; k < n_randoms; k++) rsrc[k] = randoms[k].src;
    attx_tcav_result r;
    if (attx_tcav_run(model, csrc, n_concepts, rsrc, n_randoms, &targets.src, &o, &r, &err) != 0) {
        /* name the set an error came from */
        int set = -1;
        if (sscanf(err.msg, "concept %d", &set) == 1 && set >= 0 && set < n_concepts) cli_failf("%s: %s", concepts[set].path, err.msg);
        if (sscanf(err.msg, "random set %d", &set) == 1 && set >= 0 && set < n_randoms) cli_failf("%s: %s", randoms[set].path, err.msg);
        if (strncmp(err.msg, "targets", 7) == 0) cli_failf("%s: %s", targets.path, err.msg);
        cli_fail(&err);
    }
    if (json) print_json(model, &r, concepts, randoms, n_randoms, &targets, o.alpha);
    else {
        print_table(&r, concepts, cfg, o.alpha);
        if (r.heat_ids) print_text_heatmap(model, &r, concepts);
    }
    if (png) write_png_heatmap(model, &r, targets.files[r.heat_target], png);
    if (html) {
        const char **names = malloc((size_t)n_concepts * sizeof *names);
        if (!names) cli_failf("out of memory");
        for (int c = 0; c < n_concepts; c++) names[c] = concepts[c].name;
        tcav_report_info info = {model_path, targets.path, names, targets.files ? targets.files[r.heat_target] : NULL,
                                 png, o.alpha};
        if (tcav_write_html(html, model, &r, &info, &err) != 0) cli_fail(&err);
        fprintf(stderr, "attx tcav: wrote %s\n", html);
        free(names);
    }

    attx_tcav_result_free(&r);
    for (int c = 0; c < n_concepts; c++) tcav_free_set(&concepts[c]);
    for (int k = 0; k < n_randoms; k++) tcav_free_set(&randoms[k]);
    tcav_free_set(&targets);
    free(concepts);
    free(randoms);
    free(csrc);
    free(rsrc);
    free(concept_paths);
    free(random_paths);
    free(layers);
    attx_model_close(model);
    return EXIT_OK;
}
