/* cmd_tcav_check.c — `attx tcav-check SYNTH_DIR MODEL...`: T-TCAV and TCAV judged against the
 * ground truth of texture swaps on the synthetic benchmark, every test mode and objective, as
 * docs/tcav-preregistration.md fixes them in advance (the numbers come from --plan). */
#include "cli.h"
#include "cmd_tcav.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int run_tcav_check(int argc, char **argv);

#define DEFAULT_PLAN "test/fixtures/tcav/preregistration.json"

const cli_command cmd_tcav_check = {
    "tcav-check", "judge T-TCAV against the ground truth of the synthetic benchmark",
    "usage: attx tcav-check SYNTH_DIR MODEL... [--plan FILE] [--dev DIR] [--json] [--threads N]\n"
    "       attx tcav-check --text MODEL DATA --concept FILE --random FILE... [--plan FILE] [--json]\n"
    "\n"
    "Runs the evaluation that docs/tcav-preregistration.md fixes in advance, on the images of\n"
    "`attx synth SYNTH_DIR --counterfactuals` and each MODEL (a ViT of its four classes).\n"
    "Ground truth: for every test image x of class k, redrawn with each texture t (x^(t)), the\n"
    "effect of concept c is D(x, c) = f(x^(c)) - mean over the other textures t of f(x^(t)), f the\n"
    "objective; a (class, concept) cell is + or - when the t-test of its D against 0 is\n"
    "significant (Bonferroni over the cells) and its mean is at least a set fraction of the\n"
    "largest, else null. Then, for every class and objective (logit, centred, logsoftmax,\n"
    "margin), T-TCAV and TCAV with four tests: p1 (relative CAVs, one-sample t-test against\n"
    "0.5), kim (CAVs against random sets, two-sample t-test against the random baseline), rank\n"
    "(the mean relative score among null CAVs' scores) and magnitude (the mean un-normalised\n"
    "directional derivative among the null CAVs'). A combination passes on a model when its\n"
    "verdicts equal the truth on at least the plan's share of the layer cells and it flags at\n"
    "most the plan's share of the null cells; it passes when it does so on every MODEL.\n"
    "The CAVs are trained once per model and test mode and reused for every class and objective.\n"
    "\n"
    "With --text, a text classifier instead (MODEL a BERT, DATA its labelled sentences): the concept\n"
    "is FILE's lines, the random sets its counterparts (relative CAVs against them; Kim's CAVs\n"
    "against them as random sets). The concept's words are those of FILE but for \"pad\" and the\n"
    "words in the plan's share of the random sets' lines; the targets, the plan's number of DATA's\n"
    "first sentences of each class that hold one of them; the truth, the change of the objective\n"
    "when each concept word gives way to each of the plan's neutral words (averaged), tested per\n"
    "class. Verdicts are per layer, every layer, Bonferroni over the layers.\n"
    "\n"
    "  --plan FILE   the pre-registered numbers (default " DEFAULT_PLAN ")\n"
    "  --dev DIR     an image folder with a sub-folder per class: report each model's accuracy\n"
    "                and mean top-1 margin on it against the plan's saturation rule\n"
    "  --concept FILE, --random FILE...   the text check's concept and counterparts\n"
    "  --json        one JSON object with every number on stdout\n"
    "  --threads N   threads to use (default: all cores)\n",
    run_tcav_check,
};

/* ---- logits of a folder of images ----------------------------------------------------------- */

/* logits[count * C] of the set's images, batches of 32 */
static float *set_logits(const attx_model *m, const example_set *s)
{
    const attx_config *cfg = attx_model_config(m);
    int C = cfg->num_labels, B = 32;
    size_t px = (size_t)cfg->num_channels * (size_t)cfg->image_height * (size_t)cfg->image_width;
    float *logits = malloc((size_t)s->count * (size_t)C * sizeof *logits), *pixels = malloc((size_t)B * px * sizeof *pixels);
    attx_ctx *ctx = attx_ctx_new();
    if (!logits || !pixels || !ctx) cli_failf("out of memory");
    attx_error err;
    for (int i0 = 0; i0 < s->count; i0 += B) {
        int n = s->count - i0 < B ? s->count - i0 : B;
        for (int i = 0; i < n; i++)
            if (attx_encode_image(m, s->files[i0 + i], pixels + (size_t)i * px, &err) != 0) cli_fail(&err);
        attx_batch batch = {.B = n, .pixels = pixels};
        attx_outputs out;
        attx_ctx_reset(ctx);
        if (attx_forward(m, ctx, &batch, &out, &err) != 0) cli_fail(&err);
        memcpy(logits + (size_t)i0 * (size_t)C, out.logits->data, (size_t)n * (size_t)C * sizeof *logits);
    }
    attx_ctx_free(ctx);
    free(pixels);
    return logits;
}

static char *path_join(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + (c ? strlen(c) + 1 : 0) + 2;
    char *p = malloc(n);
    if (!p) cli_failf("out of memory");
    if (c) snprintf(p, n, "%s/%s/%s", a, b, c);
    else snprintf(p, n, "%s/%s", a, b);
    return p;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* ---- one model ------------------------------------------------------------------------------- */

enum { KINDS = 2 };                /* T-TCAV, TCAV */
static const int kind_of[KINDS] = {ATTX_TCAV_TTCAV, ATTX_TCAV_TCAV};

typedef struct model_result {
    const char *path;
    double dev_accuracy, dev_margin;   /* NAN without --dev */
    /* truth[o][k * n_concepts + c] */
    attx_tcav_truth truth[TCAV_PLAN_MAX][TCAV_PLAN_MAX * TCAV_PLAN_MAX];
    /* verdicts[mode][o][kind][k][c][j] */
    attx_tcav_verdict (*verdicts)[TCAV_PLAN_MAX][KINDS][TCAV_PLAN_MAX][TCAV_PLAN_MAX][TCAV_PLAN_MAX];
    double first_order[TCAV_PLAN_MAX][KINDS];  /* [o][kind] mean over classes, concepts, layers */
    /* the combination's counts: [mode][o][kind] */
    int agree[ATTX_TCAV_MODES][TCAV_PLAN_MAX][KINDS], null_cells, null_flagged[ATTX_TCAV_MODES][TCAV_PLAN_MAX][KINDS];
    int truth_cells[TCAV_PLAN_MAX], truth_null[TCAV_PLAN_MAX], sensitive[ATTX_TCAV_MODES][TCAV_PLAN_MAX][KINDS];
    double seconds;
} model_result;

static int stderr_tty;

static void note(const char *fmt, const char *a, const char *b)
{
    if (stderr_tty) fprintf(stderr, "\r\033[K");
    fprintf(stderr, fmt, a, b);
    fputc(stderr_tty ? '\r' : '\n', stderr);
    fflush(stderr);
}

static void dev_check(const attx_model *m, const char *dev, model_result *res)
{
    const attx_config *cfg = attx_model_config(m);
    long right = 0, n = 0;
    double margin = 0;
    size_t dropped = 0;                 /* (text only) */
    for (int k = 0; k < cfg->num_labels; k++) {
        example_set s = {.path = path_join(dev, cfg->labels[k], NULL)};
        struct stat st;
        if (stat(s.path, &st) != 0) cli_failf("%s: no folder for class %s", dev, cfg->labels[k]);
        tcav_load_set(&s, m, 0, &dropped);
        float *z = set_logits(m, &s);
        for (int i = 0; i < s.count; i++) {
            const float *zi = z + (size_t)i * (size_t)cfg->num_labels;
            int best = 0;
            for (int j = 1; j < cfg->num_labels; j++)
                if (zi[j] > zi[best]) best = j;
            double second = -INFINITY;
            for (int j = 0; j < cfg->num_labels; j++)
                if (j != best) second = fmax(second, zi[j]);
            right += best == k;
            margin += zi[best] - second;
            n++;
        }
        free(z);
        tcav_free_set(&s);
        free((char *)s.path);
    }
    res->dev_accuracy = n ? (double)right / (double)n : NAN;
    res->dev_margin = n ? margin / (double)n : NAN;
}

static void check_model(const tcav_plan *p, const char *synth, const char *model_path, const char *dev, model_result *res)
{
    double start = cli_now();
    attx_model *m = cli_open_model(model_path, 0);
    const attx_config *cfg = attx_model_config(m);
    if (cfg->arch != ATTX_ARCH_VIT) cli_failf("%s: tcav-check runs on the synthetic benchmark's images: a ViT is needed", model_path);
    int C = cfg->num_labels, klass[TCAV_PLAN_MAX];
    for (int k = 0; k < p->n_classes; k++) klass[k] = tcav_parse_class(cfg, p->classes[k]);
    for (int j = 0; j < p->n_layers; j++)
        if (p->layers[j] >= cfg->num_layers) cli_failf("%s: layer %d of the plan: the model has %d layers", model_path, p->layers[j], cfg->num_layers);
    res->path = model_path;
    res->dev_accuracy = res->dev_margin = NAN;
    if (dev) dev_check(m, dev, res);

    /* ---- ground truth: every test image and its redrawings ---- */
    int nk = p->n_classes, nc = p->n_concepts, n_targets = 0;
    size_t dropped = 0;                 /* (text only) */
    example_set targets[TCAV_PLAN_MAX];
    double *delta[TCAV_PLAN_MAX];                                   /* [o] of [k][c][i] */
    for (int k = 0; k < nk; k++) {
        targets[k] = (example_set){.path = path_join(synth, "test", p->classes[k])};
        tcav_load_set(&targets[k], m, 0, &dropped);
        if (k == 0) n_targets = targets[k].count;
        else if (targets[k].count != n_targets)
            cli_failf("%s: %d images, %s has %d: every class needs as many", targets[k].path, targets[k].count, targets[0].path, n_targets);
    }
    for (int o = 0; o < p->n_objectives; o++) {
        delta[o] = calloc((size_t)nk * (size_t)nc * (size_t)n_targets, sizeof(double));
        if (!delta[o]) cli_failf("out of memory");
    }
    for (int k = 0; k < nk; k++) {
        float *z[TCAV_PLAN_MAX];                                    /* per texture */
        for (int t = 0; t < nc; t++) {
            char *dir = path_join(synth, "counterfactual", p->concepts[t]);
            example_set cf = {.path = path_join(dir, p->classes[k], NULL)};
            free(dir);
            if (stderr_tty) note("attx tcav-check: %s, %s", base_name(model_path), cf.path);
            tcav_load_set(&cf, m, 0, &dropped);
            if (cf.count != n_targets)
                cli_failf("%s: %d images for %d test images of %s", cf.path, cf.count, n_targets, p->classes[k]);
            for (int i = 0; i < n_targets; i++)
                if (strcmp(base_name(cf.files[i]), base_name(targets[k].files[i])) != 0)
                    cli_failf("%s: %s has no counterpart in %s", cf.path, base_name(targets[k].files[i]), targets[k].path);
            z[t] = set_logits(m, &cf);
            tcav_free_set(&cf);
            free((char *)cf.path);
        }
        for (int o = 0; o < p->n_objectives; o++)
            for (int i = 0; i < n_targets; i++) {
                double f[TCAV_PLAN_MAX], sum = 0;
                for (int t = 0; t < nc; t++) {
                    f[t] = attx_tcav_objective_value(p->objectives[o], z[t] + (size_t)i * (size_t)C, C, klass[k]);
                    sum += f[t];
                }
                /* D(x, c) = f(x^(c)) − mean over the other textures of f(x^(t)) */
                for (int c = 0; c < nc; c++)
                    delta[o][((size_t)k * (size_t)nc + (size_t)c) * (size_t)n_targets + (size_t)i] = f[c] - (sum - f[c]) / (nc - 1);
            }
        for (int t = 0; t < nc; t++) free(z[t]);
    }
    for (int o = 0; o < p->n_objectives; o++) {
        attx_tcav_truth_cells(nk * nc, n_targets, delta[o], p->truth_alpha, p->min_relative_size, res->truth[o]);
        res->truth_cells[o] = nk * nc * p->n_layers;
        res->truth_null[o] = 0;
        for (int cell = 0; cell < nk * nc; cell++) res->truth_null[o] += (res->truth[o][cell].verdict == 0) * p->n_layers;
    }

    /* ---- the concept and random sets ---- */
    example_set concepts[TCAV_PLAN_MAX], randoms[64];
    attx_tcav_source csrc[TCAV_PLAN_MAX], rsrc[64];
    int n_randoms = p->kim_random_sets + 1;
    if (n_randoms > 64) cli_failf("the plan asks for %d random sets; at most 63", p->kim_random_sets);
    for (int c = 0; c < nc; c++) {
        concepts[c] = (example_set){.path = path_join(synth, "concepts", p->concepts[c])};
        tcav_load_set(&concepts[c], m, 0, &dropped);
        csrc[c] = concepts[c].src;
    }
    for (int r = 0; r < n_randoms; r++) {
        char name[32];
        snprintf(name, sizeof name, "random_%02d", r);
        randoms[r] = (example_set){.path = path_join(synth, "concepts", name)};
        struct stat st;
        if (stat(randoms[r].path, &st) != 0)
            cli_failf("%s: missing; the plan needs %d random sets (attx synth --random-sets %d)", randoms[r].path, n_randoms, n_randoms);
        tcav_load_set(&randoms[r], m, 0, &dropped);
        rsrc[r] = randoms[r].src;
    }

    /* ---- every class and objective; the CAVs of the first run of each mode are reused ---- */
    tcav_check_cavs cavs = {0};
    tcav_check_sets sets = {csrc, nc, csrc, nc, rsrc, n_randoms};
    for (int k = 0; k < nk; k++)
        for (int o = 0; o < p->n_objectives; o++) {
            attx_tcav_result rel, cls;
            attx_error err;
            note("attx tcav-check: %s, %s", base_name(model_path), cavs.have ? "scoring" : "training the CAVs");
            tcav_check_pair(p, m, &sets, &targets[k].src, klass[k], p->objectives[o], p->layers, p->n_layers, &cavs, &rel, &cls);
            for (int mode = 0; mode < ATTX_TCAV_MODES; mode++)
                for (int kind = 0; kind < KINDS; kind++)
                    for (int c = 0; c < nc; c++)
                        for (int j = 0; j < p->n_layers; j++)
                            res->verdicts[mode][o][kind][k][c][j] =
                                attx_tcav_verdict_of((attx_tcav_mode)mode, &rel, &cls, j, c, kind_of[kind], p->alpha);

            /* first order: along the mean of each concept's relative CAVs */
            long agree[TCAV_PLAN_MAX * TCAV_PLAN_MAX * 2];
            if (attx_tcav_first_order(m, &targets[k].src, klass[k], p->objectives[o], &rel, nc,
                                      delta[o] + (size_t)k * (size_t)nc * (size_t)n_targets, agree, &err) != 0)
                cli_fail(&err);
            for (int kind = 0; kind < KINDS; kind++) {
                long sum = 0;
                for (int jc = 0; jc < p->n_layers * nc; jc++) sum += agree[jc * 2 + kind];
                res->first_order[o][kind] += (double)sum / ((double)n_targets * p->n_layers * nc * nk);
            }

            tcav_check_pair_done(&cavs, &rel, &cls);
        }
    if (stderr_tty) fprintf(stderr, "\r\033[K");

    /* ---- agreement with the truth ---- */
    for (int mode = 0; mode < ATTX_TCAV_MODES; mode++)
        for (int o = 0; o < p->n_objectives; o++)
            for (int kind = 0; kind < KINDS; kind++) {
                int agree = 0, flagged = 0, sensitive = 0;
                for (int k = 0; k < nk; k++)
                    for (int c = 0; c < nc; c++)
                        for (int j = 0; j < p->n_layers; j++) {
                            int truth = res->truth[o][k * nc + c].verdict, got = res->verdicts[mode][o][kind][k][c][j].verdict;
                            agree += got == truth;
                            flagged += truth == 0 && got != 0;
                            sensitive += truth != 0 && got == truth;
                        }
                res->agree[mode][o][kind] = agree;
                res->null_flagged[mode][o][kind] = flagged;
                res->sensitive[mode][o][kind] = sensitive;
            }
    tcav_check_cavs_free(&cavs);
    for (int o = 0; o < p->n_objectives; o++) free(delta[o]);
    for (int k = 0; k < nk; k++) {
        tcav_free_set(&targets[k]);
        free((char *)targets[k].path);
    }
    for (int c = 0; c < nc; c++) {
        tcav_free_set(&concepts[c]);
        free((char *)concepts[c].path);
    }
    for (int r = 0; r < n_randoms; r++) {
        tcav_free_set(&randoms[r]);
        free((char *)randoms[r].path);
    }
    attx_model_close(m);
    res->seconds = cli_now() - start;
}

/* a combination passes on a model */
static int passes(const tcav_plan *p, const model_result *r, int mode, int o, int kind)
{
    int cells = r->truth_cells[o], null = r->truth_null[o];
    return r->agree[mode][o][kind] >= p->min_agreement * cells &&
           (null == 0 || r->null_flagged[mode][o][kind] <= p->max_null_flagged * null);
}

static const char *kind_name(int kind)
{
    return kind == 0 ? "T-TCAV" : "TCAV";
}

/* ---- output ---------------------------------------------------------------------------------- */

static void print_model(const tcav_plan *p, const model_result *r)
{
    int nk = p->n_classes, nc = p->n_concepts;
    printf("== %s\n", r->path);
    if (!isnan(r->dev_accuracy))
        printf("dev: accuracy %.2f%%, mean top-1 margin %.2f: %s the saturation rule (accuracy >= %.0f%%, margin <= %g)\n",
               100 * r->dev_accuracy, r->dev_margin,
               r->dev_accuracy >= p->qualify_accuracy && r->dev_margin <= p->qualify_margin ? "meets" : "MISSES",
               100 * p->qualify_accuracy, p->qualify_margin);
    printf("ground truth, mean effect of the texture swap per class (+/- significant and large, . null):\n");
    printf("%-11s %-10s", "objective", "class");
    for (int c = 0; c < nc; c++) printf(" %12s", p->concepts[c]);
    printf("\n");
    for (int o = 0; o < p->n_objectives; o++)
        for (int k = 0; k < nk; k++) {
            printf("%-11s %-10s", k ? "" : attx_tcav_objective_name(p->objectives[o]), p->classes[k]);
            for (int c = 0; c < nc; c++) {
                const attx_tcav_truth *t = &r->truth[o][k * nc + c];
                printf(" %10.3f %c", t->mean, tcav_sign_char(t->verdict));
            }
            printf("\n");
        }
    printf("\nverdicts against the truth on %d layer cells (%d classes x %d concepts x %d layers):\n",
           nk * nc * p->n_layers, nk, nc, p->n_layers);
    printf("%-10s %-11s %-7s %9s %13s %12s %12s  %s\n", "mode", "objective", "score", "agree", "null flagged",
           "sensitivity", "first order", "on this model");
    for (int mode = 0; mode < ATTX_TCAV_MODES; mode++)
        for (int o = 0; o < p->n_objectives; o++)
            for (int kind = 0; kind < KINDS; kind++) {
                char agree[32], flagged[32], sens[32];
                snprintf(agree, sizeof agree, "%d/%d", r->agree[mode][o][kind], r->truth_cells[o]);
                snprintf(flagged, sizeof flagged, "%d/%d", r->null_flagged[mode][o][kind], r->truth_null[o]);
                snprintf(sens, sizeof sens, "%d/%d", r->sensitive[mode][o][kind], r->truth_cells[o] - r->truth_null[o]);
                printf("%-10s %-11s %-7s %9s %13s %12s %11.1f%%  %s\n", attx_tcav_mode_name((attx_tcav_mode)mode),
                       attx_tcav_objective_name(p->objectives[o]), kind_name(kind), agree, flagged, sens,
                       100 * r->first_order[o][kind], passes(p, r, mode, o, kind) ? "passes" : "fails");
            }
    char took[32];
    cli_duration(r->seconds, took, sizeof took);
    printf("(%s)\n\n", took);
}

static void print_summary(const tcav_plan *p, const model_result *res, int n_models)
{
    printf("== the rule: agreement >= %.0f%% and at most %.0f%% of the null cells flagged, on every model\n",
           100 * p->min_agreement, 100 * p->max_null_flagged);
    printf("%-10s %-11s %-7s", "mode", "objective", "score");
    for (int i = 0; i < n_models; i++) printf("  model %-2d", i + 1);
    printf("  verdict\n");
    int best_mode = -1, best_o = -1, best_kind = -1;
    double best_min = -1;
    int best_flags = 0;
    for (int mode = 0; mode < ATTX_TCAV_MODES; mode++)
        for (int o = 0; o < p->n_objectives; o++)
            for (int kind = 0; kind < KINDS; kind++) {
                int all = 1, flags = 0;
                double worst = 1;
                printf("%-10s %-11s %-7s", attx_tcav_mode_name((attx_tcav_mode)mode), attx_tcav_objective_name(p->objectives[o]),
                       kind_name(kind));
                for (int i = 0; i < n_models; i++) {
                    double a = (double)res[i].agree[mode][o][kind] / res[i].truth_cells[o];
                    printf("  %6.1f%%%c", 100 * a, passes(p, &res[i], mode, o, kind) ? ' ' : '*');
                    all = all && passes(p, &res[i], mode, o, kind);
                    worst = fmin(worst, a);
                    flags += res[i].null_flagged[mode][o][kind];
                }
                printf("  %s\n", all ? "PASSES" : "fails");
                /* the order of the plan: highest smallest agreement, fewer flags, then the
                 * earlier mode, objective and score */
                if (all && (worst > best_min || (worst == best_min && flags < best_flags))) {
                    best_min = worst;
                    best_flags = flags;
                    best_mode = mode;
                    best_o = o;
                    best_kind = kind;
                }
            }
    printf("(* fails on that model)\n");
    if (best_mode < 0)
        printf("no combination passes the pre-registered rule\n");
    else
        printf("best passing combination: %s, %s, %s\n", attx_tcav_mode_name((attx_tcav_mode)best_mode),
               attx_tcav_objective_name(p->objectives[best_o]), kind_name(best_kind));
}

static void print_json(const tcav_plan *p, const char *plan_path, const model_result *res, int n_models)
{
    attx_buf buf = {0};
    attx_json_writer w;
    attx_jw_init(&w, &buf, 1);
    attx_jw_object_begin(&w);
    attx_jw_key(&w, "plan");
    attx_jw_string(&w, plan_path);
    attx_jw_key(&w, "models");
    attx_jw_array_begin(&w);
    for (int i = 0; i < n_models; i++) {
        const model_result *r = &res[i];
        attx_jw_object_begin(&w);
        attx_jw_key(&w, "model");
        attx_jw_string(&w, r->path);
        attx_jw_key(&w, "dev_accuracy");
        attx_jw_double(&w, r->dev_accuracy);
        attx_jw_key(&w, "dev_mean_margin");
        attx_jw_double(&w, r->dev_margin);
        attx_jw_key(&w, "seconds");
        attx_jw_double(&w, r->seconds);
        attx_jw_key(&w, "truth");
        attx_jw_array_begin(&w);
        for (int o = 0; o < p->n_objectives; o++)
            for (int k = 0; k < p->n_classes; k++)
                for (int c = 0; c < p->n_concepts; c++) {
                    const attx_tcav_truth *t = &r->truth[o][k * p->n_concepts + c];
                    attx_jw_object_begin(&w);
                    attx_jw_key(&w, "objective"); attx_jw_string(&w, attx_tcav_objective_name(p->objectives[o]));
                    attx_jw_key(&w, "class"); attx_jw_string(&w, p->classes[k]);
                    attx_jw_key(&w, "concept"); attx_jw_string(&w, p->concepts[c]);
                    attx_jw_key(&w, "mean_effect"); attx_jw_double(&w, t->mean);
                    attx_jw_key(&w, "p"); attx_jw_double(&w, t->p);
                    attx_jw_key(&w, "p_sign"); attx_jw_double(&w, t->p_sign);
                    attx_jw_key(&w, "up"); attx_jw_int(&w, t->up);
                    attx_jw_key(&w, "verdict"); attx_jw_int(&w, t->verdict);
                    attx_jw_object_end(&w);
                }
        attx_jw_array_end(&w);
        attx_jw_key(&w, "combinations");
        attx_jw_array_begin(&w);
        for (int mode = 0; mode < ATTX_TCAV_MODES; mode++)
            for (int o = 0; o < p->n_objectives; o++)
                for (int kind = 0; kind < KINDS; kind++) {
                    attx_jw_object_begin(&w);
                    attx_jw_key(&w, "mode"); attx_jw_string(&w, attx_tcav_mode_name((attx_tcav_mode)mode));
                    attx_jw_key(&w, "objective"); attx_jw_string(&w, attx_tcav_objective_name(p->objectives[o]));
                    attx_jw_key(&w, "score"); attx_jw_string(&w, kind ? "tcav" : "ttcav");
                    attx_jw_key(&w, "agree"); attx_jw_int(&w, r->agree[mode][o][kind]);
                    attx_jw_key(&w, "cells"); attx_jw_int(&w, r->truth_cells[o]);
                    attx_jw_key(&w, "null_flagged"); attx_jw_int(&w, r->null_flagged[mode][o][kind]);
                    attx_jw_key(&w, "null_cells"); attx_jw_int(&w, r->truth_null[o]);
                    attx_jw_key(&w, "sensitive"); attx_jw_int(&w, r->sensitive[mode][o][kind]);
                    attx_jw_key(&w, "first_order_agreement"); attx_jw_double(&w, r->first_order[o][kind]);
                    attx_jw_key(&w, "passes"); attx_jw_bool(&w, passes(p, r, mode, o, kind));
                    attx_jw_key(&w, "verdicts");
                    attx_jw_array_begin(&w);            /* [class][concept][layer] */
                    for (int k = 0; k < p->n_classes; k++)
                        for (int c = 0; c < p->n_concepts; c++)
                            for (int j = 0; j < p->n_layers; j++) {
                                const attx_tcav_verdict *v = &r->verdicts[mode][o][kind][k][c][j];
                                attx_jw_object_begin(&w);
                                attx_jw_key(&w, "class"); attx_jw_string(&w, p->classes[k]);
                                attx_jw_key(&w, "concept"); attx_jw_string(&w, p->concepts[c]);
                                attx_jw_key(&w, "layer"); attx_jw_int(&w, p->layers[j]);
                                attx_jw_key(&w, "statistic"); attx_jw_double(&w, v->statistic);
                                attx_jw_key(&w, "p_bonferroni"); attx_jw_double(&w, v->p_bonferroni);
                                attx_jw_key(&w, "verdict"); attx_jw_int(&w, v->verdict);
                                attx_jw_object_end(&w);
                            }
                    attx_jw_array_end(&w);
                    attx_jw_object_end(&w);
                }
        attx_jw_array_end(&w);
        attx_jw_object_end(&w);
    }
    attx_jw_array_end(&w);
    attx_jw_key(&w, "passing");
    attx_jw_array_begin(&w);
    for (int mode = 0; mode < ATTX_TCAV_MODES; mode++)
        for (int o = 0; o < p->n_objectives; o++)
            for (int kind = 0; kind < KINDS; kind++) {
                int all = n_models > 0;
                for (int i = 0; i < n_models; i++) all = all && passes(p, &res[i], mode, o, kind);
                if (!all) continue;
                attx_jw_object_begin(&w);
                attx_jw_key(&w, "mode"); attx_jw_string(&w, attx_tcav_mode_name((attx_tcav_mode)mode));
                attx_jw_key(&w, "objective"); attx_jw_string(&w, attx_tcav_objective_name(p->objectives[o]));
                attx_jw_key(&w, "score"); attx_jw_string(&w, kind ? "tcav" : "ttcav");
                attx_jw_object_end(&w);
            }
    attx_jw_array_end(&w);
    attx_jw_object_end(&w);
    cli_print_json(&buf);
    attx_buf_free(&buf);
}

static int run_tcav_check(int argc, char **argv)
{
    const char *plan_path = DEFAULT_PLAN, *dev = NULL, *threads = NULL, *concept = NULL;
    const char *positional[66], *randoms[64];
    int n_positional = 0, n_randoms = 0, json = 0, text = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_end_of_options(argv[i])) continue;
        if (cli_flag(argv[i], "--json")) json = 1;
        else if (cli_flag(argv[i], "--text")) text = 1;
        else if (cli_value(argc, argv, &i, "--plan", &plan_path)) continue;
        else if (cli_value(argc, argv, &i, "--dev", &dev)) continue;
        else if (cli_value(argc, argv, &i, "--threads", &threads)) continue;
        else if (cli_value(argc, argv, &i, "--concept", &concept)) continue;
        else if (cli_flag(argv[i], "--random")) {
            while (i + 1 < argc && !cli_is_option(argv[i + 1])) {
                if (n_randoms == 64) cli_usage_error(&cmd_tcav_check, "at most 64 random sets");
                randoms[n_randoms++] = argv[++i];
            }
            if (n_randoms == 0) cli_usage_error(&cmd_tcav_check, "--random needs one or more files");
        } else if (cli_is_option(argv[i])) cli_unknown_option(&cmd_tcav_check, argv[i]);
        else if (n_positional < 66) positional[n_positional++] = argv[i];
        else cli_usage_error(&cmd_tcav_check, "at most 64 models");
    }
    cli_set_threads(&cmd_tcav_check, threads);
    stderr_tty = isatty(STDERR_FILENO);
    attx_json_doc *doc;
    tcav_plan p;
    if (text) {
        if (n_positional != 2) cli_usage_error(&cmd_tcav_check, "--text takes MODEL and DATA (a labelled TSV/CSV)");
        if (!concept || n_randoms == 0) cli_usage_error(&cmd_tcav_check, "--text needs --concept FILE and --random FILE...");
        if (dev) cli_usage_error(&cmd_tcav_check, "--dev is for the synthetic benchmark's models");
        tcav_read_plan(plan_path, &doc, &p);
        int rc = tcav_check_text(&p, positional[0], positional[1], concept, randoms, n_randoms, json);
        attx_json_free(doc);
        return rc;
    }
    if (concept || n_randoms) cli_usage_error(&cmd_tcav_check, "--concept and --random are for --text");
    if (n_positional < 2) cli_usage_error(&cmd_tcav_check, "SYNTH_DIR and at least one MODEL are needed");
    const char *synth = positional[0], *const *models = positional + 1;
    int n_models = n_positional - 1;
    tcav_read_plan(plan_path, &doc, &p);
    struct stat st;
    if (stat(synth, &st) != 0 || !S_ISDIR(st.st_mode)) cli_failf("%s: not a folder (made by attx synth --counterfactuals)", synth);
    model_result *res = calloc((size_t)n_models, sizeof *res);
    if (!res) cli_failf("out of memory");
    for (int i = 0; i < n_models; i++) {
        res[i].verdicts = calloc(ATTX_TCAV_MODES, sizeof *res[i].verdicts);
        if (!res[i].verdicts) cli_failf("out of memory");
        check_model(&p, synth, models[i], dev, &res[i]);
        if (!json) print_model(&p, &res[i]);
    }
    if (json) print_json(&p, plan_path, res, n_models);
    else print_summary(&p, res, n_models);
    for (int i = 0; i < n_models; i++) free(res[i].verdicts);
    free(res);
    attx_json_free(doc);
    return EXIT_OK;
}
