/* cmd_explain.c — `attx explain MODEL INPUT [...]`: attributions of one prediction, by every
 * requested method, as shaded tokens (patches) in the terminal or one JSON object. */
#include "cli.h"
#include "cmd_explain.h"
#include "explain_view.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int run_explain(int argc, char **argv);

#define DEFAULT_METHODS "grad-att-max-mutual,grad-att-mutual,grad-att-cls,att-cls,grad-sam,grad-x-input,rollout"

const cli_command cmd_explain = {
    "explain", "explain a prediction (attention-weighted Shapley values and baselines)",
    "usage: attx explain MODEL INPUT [--method LIST] [--class K] [--exact | --samples N]\n"
    "                    [--sampler S] [--seed S] [--steps N] [--layers LIST] [--json] [--html FILE]\n"
    "                    [--png FILE] [--brief] [--trace] [--attentions] [--int8] [--threads N]\n"
    "\n"
    "Explains MODEL's prediction on INPUT: one score per player (content tokens of a text,\n"
    "patches of an image). INPUT is a text, @FILE (@- for standard input) or, for an image\n"
    "model (ViT), the path of a PNG / JPEG / PPM image.\n"
    "\n"
    "  --method LIST    comma-separated methods (default " DEFAULT_METHODS "):\n"
    "                   att-cls grad-att-cls att-mutual grad-att-mutual att-max-mutual\n"
    "                   grad-att-max-mutual   P1's attention games (closed-form Shapley values)\n"
    "                   shapley-input         Shapley values of the model with tokens [MASK]ed\n"
    "                                         (patches at --baseline); exact up to 16 players\n"
    "                   shap                  shap's partition explainer, logit-odds of the class\n"
    "                   lime                  LIME (LimeTextExplainer's sampling and ridge) over the\n"
    "                                         distinct words (patches); --samples (default 5000)\n"
    "                   grad-sam att att-avg att-max grad-avg grad-l1 grad-l2 grad-x-input\n"
    "                   integrated-gradients att-ig rollout grad-rollout\n"
    "                   all                   every method\n"
    "  --class K        explain class K (default: the predicted class)\n"
    "  --exact          Shapley values by enumerating every coalition (attention games <= 24\n"
    "                   players, model games <= 16; shapley-input prints its time first)\n"
    "  --max-players N  with --exact: enumerate games of up to N players (at most 30; 2^N\n"
    "                   coalitions, each a forward pass for shapley-input)\n"
    "  --samples N      sample instead: permutations (permutation), coalitions (kernel,\n"
    "                   paper-*); for shap the evaluation budget (default 500)\n"
    "  --sampler S      permutation (default), kernel, paper-random, paper-kernel\n"
    "  --seed S         seed of every sampler (default 0)\n"
    "  --steps N        integrated-gradients / att-ig path points (default 64)\n"
    "  --layers LIST    layers (from 0) to average in the influence matrix, e.g. 0,2 or 1-3\n"
    "                   (default all; att-avg/att-max: the last layer)\n"
    "  --ig-baseline B  pad (default: [PAD]'s embedding) or zero\n"
    "  --baseline V     pixel value of removed image patches, after normalisation (default 0)\n"
    EXPLAIN_SHAP_HELP
    "  --batch N        forward batch of the model games and integrated gradients\n"
    "  --png FILE       image models: the first method's patch scores as a PNG over the image\n"
    "  --html FILE      write the teaching page, one self-contained HTML file (no network): each\n"
    "                   method's scores (text shaded, or a heat overlay on the image), A and dA\n"
    "                   per layer and head, the influence matrix and the game it defines (click\n"
    "                   coalitions; closed form beside the enumeration up to 10 players), the\n"
    "                   comprehensiveness / sufficiency curves and the samplers' convergence\n"
    "  --json           print one JSON object on stdout:\n"
    "                   {\"tokens\":[...],\"class\":k,\"logits\":[...],\"methods\":{NAME:{\"scores\":[...],\n"
    "                   \"time_ms\":t,\"forward_passes\":f,\"backward_passes\":b}}}\n"
    "                   (integrated-gradients adds \"completeness_error\")\n"
    "  --attentions     with --json: also \"sequence\" (every position's token, [CLS] and [SEP]\n"
    "                   included) and \"attentions\", the attention probabilities of every layer\n"
    "                   and head as [layer][head][query][key] (attn1: the [cls] query only)\n"
    "  --brief          one line for the prediction, then one per method: its three highest\n"
    "                   players, each score divided by the method's largest |score|\n"
    "  --trace          print each step of the pipeline (for teaching)\n"
    "  --trace-layer L  layer shown by --trace (default the last); --trace-head H (default 0)\n"
    "  --int8           run the encoder in int8 (attx predict --help): the model games (shap,\n"
    "                   lime, shapley-input) about twice as fast; gradients are those of the fp32\n"
    "                   layers at the int8 activations\n"
    "  --threads N      threads to use (default: all cores); results do not depend on it\n",
    run_explain,
};

/* Splits a comma list into names; "all" expands to every method. Unknown names are usage
 * errors listing the known ones. */
static char **parse_methods(const char *list, int *count)
{
    char *copy = strdup(list);
    int cap = attx_method_count() + 64, n = 0;
    char **names = malloc((size_t)cap * sizeof *names);
    if (!copy || !names) cli_failf("out of memory");
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        if (!*tok) continue;
        if (strcmp(tok, "all") == 0) {
            for (int k = 0; k < attx_method_count() && n < cap; k++) names[n++] = strdup(attx_method_name(k));
            continue;
        }
        if (attx_method_find(tok) < 0) {
            char known[2048] = "";
            for (int k = 0; k < attx_method_count(); k++) {
                strncat(known, k ? ", " : "", sizeof known - strlen(known) - 1);
                strncat(known, attx_method_name(k), sizeof known - strlen(known) - 1);
            }
            cli_usage_error(&cmd_explain, "unknown method '%s' (known: %s)", tok, known);
        }
        if (n < cap) names[n++] = strdup(tok);
    }
    free(copy);
    if (n == 0) cli_usage_error(&cmd_explain, "--method needs at least one method name");
    *count = n;
    return names;
}

/* Players by score, highest first (stable: ties keep their order). order is malloc'd. */
static int *rank_players(const attx_method_result *r)
{
    int *order = malloc((size_t)(r->n ? r->n : 1) * sizeof *order);
    if (!order) cli_failf("out of memory");
    for (int i = 0; i < r->n; i++) order[i] = i;
    for (int i = 1; i < r->n; i++)            /* insertion sort, stable */
        for (int j = i; j > 0 && r->scores[order[j]] > r->scores[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    return order;
}

/* --brief: the prediction and the input on one line (on a terminal shaded by the first method),
 * then a line per method with its three highest-scoring players, each score divided by the
 * method's largest |score| so that methods of different scales read alike. */
static void print_brief(const attx_model *m, const attx_explanation *ex, int tty)
{
    char buf[64];
    const attx_config *cfg = attx_model_config(m);
    printf("%s %.3f ", cfg->labels[ex->predicted], ex->probs[ex->predicted]);
    if (ex->klass != ex->predicted) printf("(explaining %s) ", cfg->labels[ex->klass]);
    const attx_method_result *first = &ex->methods[0];
    double scale = 0;
    for (int i = 0; i < first->n; i++) scale = fmax(scale, fabs(first->scores[i]));
    if (ex->arch == ATTX_ARCH_VIT) {
        printf(" %d patches\n", ex->n_players);
    } else {
        for (int i = 0; i < ex->n_players; i++) {
            const char *t = explain_player_label(m, ex, i, buf, sizeof buf);
            if (tty) {
                int c = cli_shade_colour(first->scores[i], scale);
                printf(" \033[38;5;%dm\033[48;5;%dm%s\033[0m", cli_shade_text_colour(c), c, t);
            } else {
                printf(" %s", t);
            }
        }
        printf("\n");
    }
    for (int k = 0; k < ex->n_methods; k++) {
        const attx_method_result *r = &ex->methods[k];
        double top = 0;
        for (int i = 0; i < r->n; i++) top = fmax(top, fabs(r->scores[i]));
        int *order = rank_players(r);
        printf("  %-20s", r->name);
        for (int j = 0; j < r->n && j < 3; j++)
            printf(" %-12s %+.2f", explain_player_label(m, ex, order[j], buf, sizeof buf),
                   top > 0 ? r->scores[order[j]] / top : 0);
        printf("   (%llu fwd, %llu bwd)\n", (unsigned long long)r->forward_passes,
               (unsigned long long)r->backward_passes);
        free(order);
    }
}

static void print_method(const attx_model *m, const attx_explanation *ex, const attx_method_result *r, int tty)
{
    char buf[64];
    printf("\n%s  (%s; %.1f ms, %llu forward, %llu backward", r->name, r->how, r->time_ms,
           (unsigned long long)r->forward_passes, (unsigned long long)r->backward_passes);
    if (!isnan(r->completeness_error)) printf("; completeness error %.2g%%", 100 * r->completeness_error);
    printf(")\n");
    double scale = 0;
    for (int i = 0; i < r->n; i++) scale = fmax(scale, fabs(r->scores[i]));
    if (ex->arch != ATTX_ARCH_VIT) {
        printf("  ");
        for (int i = 0; i < r->n; i++) {
            const char *t = explain_player_label(m, ex, i, buf, sizeof buf);
            if (tty) {
                int c = cli_shade_colour(r->scores[i], scale);
                printf("\033[38;5;%dm\033[48;5;%dm%s\033[0m ", cli_shade_text_colour(c), c, t);
            } else {
                printf("%s(%+.3g) ", t, r->scores[i]);
            }
        }
        printf("\n");
    } else {                                   /* the patch grid */
        for (int y = 0; y < ex->grid_h; y++) {
            printf("  ");
            for (int x = 0; x < ex->grid_w; x++) {
                double s = r->scores[y * ex->grid_w + x];
                if (tty) printf("\033[48;5;%dm  \033[0m", cli_shade_colour(s, scale));
                else printf("%+9.2e ", s);
            }
            printf("\n");
        }
    }
    /* ranked: players by score, highest first (at most 10) */
    int *order = rank_players(r);
    printf("  ranked:");
    for (int k = 0; k < r->n && k < 10; k++)
        printf(" %d.%s %+.4g", k + 1, explain_player_label(m, ex, order[k], buf, sizeof buf), r->scores[order[k]]);
    if (r->n > 10) printf(" ...");
    printf("\n  scores:");
    for (int i = 0; i < r->n; i++) printf(" %.6g", r->scores[i]);
    printf("\n");
    free(order);
}

/* explain_document's object on stdout (--attentions: with "sequence" and "attentions"). */
static void print_json(const attx_model *m, const attx_explanation *ex, const float *pixels,
                       const attx_explain_options *opt, int attentions)
{
    attx_buf out = {0};
    attx_error err;
    explain_doc_options d = {.opts = opt, .pixels = pixels, .attentions = attentions};
    if (explain_document(&out, m, ex, &d, &err) != 0) cli_fail(&err);
    cli_print_json(&out);
    attx_buf_free(&out);
}

/* Decodes and preprocesses an image file for the model: pixels[C*H*W]. */
static float *load_pixels(const attx_model *m, const char *path)
{
    const attx_config *cfg = attx_model_config(m);
    attx_error err;
    attx_preprocessor pp;
    const char *source = NULL, *json = attx_model_preprocessor_json(m, &source);
    if (attx_preprocessor_parse(&pp, json, json ? strlen(json) : 0, source ? source : "preprocessor",
                                cfg->image_height, cfg->image_width, &err) != 0)
        cli_fail(&err);
    attx_image img;
    if (attx_image_load(&img, path, &err) != 0) cli_fail(&err);
    if (attx_image_apply_orientation(&img, &err) != 0) cli_fail(&err);
    float *pixels = malloc((size_t)cfg->num_channels * (size_t)cfg->image_height * (size_t)cfg->image_width *
                           sizeof *pixels);
    if (!pixels) cli_failf("out of memory");
    if (attx_image_preprocess(&img, &pp, cfg->image_height, cfg->image_width, pixels, &err) != 0) {
        attx_fail_prefix(&err, "%s", path);
        cli_fail(&err);
    }
    attx_image_free(&img);
    return pixels;
}

int explain_shap_option(const cli_command *cmd, int argc, char **argv, int *i, attx_explain_options *o,
                        explain_shap_flags *set)
{
    const char *v;
    if (cli_flag(argv[*i], "--shap-p1")) {
        o->shap_p1 = 1;
    } else if (cli_value(argc, argv, i, "--shap-masker", &v)) {
        if (strcmp(v, "ids") == 0) o->shap_masker = ATTX_SHAP_MASKER_IDS;
        else if (strcmp(v, "text") == 0) o->shap_masker = ATTX_SHAP_MASKER_TEXT;
        else cli_usage_error(cmd, "--shap-masker must be ids or text, not '%s'", v);
        set->masker_set = 1;
    } else if (cli_value(argc, argv, i, "--shap-tree", &v)) {
        if (strcmp(v, "balanced") == 0) o->shap_tree = ATTX_SHAP_TREE_BALANCED;
        else if (strcmp(v, "shap") == 0) o->shap_tree = ATTX_SHAP_TREE_SHAP;
        else cli_usage_error(cmd, "--shap-tree must be balanced or shap, not '%s'", v);
        set->tree_set = 1;
    } else {
        return 0;
    }
    return 1;
}

int wants_method(char *const *names, int n_names, const char *method)
{
    for (int i = 0; i < n_names; i++)
        if (strcmp(names[i], method) == 0 || strcmp(names[i], "all") == 0) return 1;
    return 0;
}

void explain_exact_estimate(const attx_model *m, const char *const *texts, size_t count, int max_players)
{
    int limit = max_players > 0 ? max_players : 16, largest = 0;
    double forwards = 0, refused_forwards = 0;   /* within the limit; above it */
    size_t refused = 0;
    int32_t *probe_ids = NULL;
    int probe_length = 0;
    for (size_t i = 0; i < count; i++) {
        attx_encoding enc = {0};
        attx_error err;
        if (attx_encode_text(m, texts[i], strlen(texts[i]), &enc, &err) != 0) continue;
        int n = enc.length - 2;
        if (n > limit) {
            refused++;
            refused_forwards += ldexp(1.0, n);
        } else if (n >= 1) {
            forwards += ldexp(1.0, n);
            if (n > largest) largest = n;
        }
        if (!probe_ids && n >= 1 && (probe_ids = malloc((size_t)enc.length * sizeof *probe_ids))) {
            memcpy(probe_ids, enc.ids, (size_t)enc.length * sizeof *probe_ids);
            probe_length = enc.length;
        }
        attx_encoding_free(&enc);
    }
    if (count == 1) refused = 0;   /* one input: its own error says it is refused */
    if (!probe_ids || (forwards < 4096 && !refused)) {   /* seconds at most: nothing to say */
        free(probe_ids);
        return;
    }
    /* the rate: 64 coalitions of the first input's game, in the game's own batches */
    attx_model_game_options go = {.klass = 0, .value = ATTX_VALUE_PROB, .mask_id = -1};
    attx_game g;
    attx_error err;
    double rate = 0;
    int n = probe_length - 2;
    size_t words = attx_mask_words(n), probe = 64;
    uint64_t *masks = calloc(probe * words, sizeof *masks);
    double *values = malloc(probe * sizeof *values);
    if (masks && values && attx_game_model_text(&g, m, probe_ids, probe_length, &go, &err) == 0) {
        for (size_t c = 0; c < probe; c++)
            for (int i = 0; i < n; i++)
                if ((c * 2654435761u >> (i % 16)) & 1) attx_mask_set(masks + c * words, i);
        double start = cli_now();
        if (attx_game_eval(&g, probe, masks, values, &err) == 0) rate = (double)probe / (cli_now() - start);
        attx_game_free(&g);
    }
    free(masks);
    free(values);
    free(probe_ids);
    char took[32] = "?", more[32] = "?";
    if (rate > 0) {
        cli_duration(forwards / rate, took, sizeof took);
        cli_duration(refused_forwards / rate, more, sizeof more);
    }
    if (forwards > 0)
        fprintf(stderr, "attx: exact shapley-input: %.0f forward passes (2^n for n players, n up to %d); at %.0f a "
                        "second, measured here, about %s\n", forwards, largest, rate, took);
    if (refused)
        fprintf(stderr, "attx: %zu input(s) have more than %d players (--max-players): they would need %.0f more "
                        "forward passes, about %s at %.0f a second\n", refused, limit, refused_forwards, more, rate);
}

void explain_shap_defaults(attx_explain_options *o, const explain_shap_flags *set)
{
    if (!o->shap_p1) return;
    if (!set->masker_set) o->shap_masker = ATTX_SHAP_MASKER_TEXT;
    if (!set->tree_set) o->shap_tree = ATTX_SHAP_TREE_SHAP;
}

static int run_explain(int argc, char **argv)
{
    const char *model_path = NULL, *input = NULL, *threads = NULL, *methods = DEFAULT_METHODS, *v, *html = NULL, *png = NULL;
    int json = 0, attentions = 0, brief = 0, trace = 0, trace_layer = -1, trace_head = 0, n_layers = 0, int8 = 0;
    int *layers = NULL;
    attx_explain_options opt;
    attx_explain_options_init(&opt);
    explain_shap_flags shap_set = {0};
    for (int i = 1; i < argc; i++) {
        if (cli_end_of_options(argv[i])) continue;
        if (cli_flag(argv[i], "--json")) json = 1;
        else if (cli_flag(argv[i], "--attentions")) attentions = 1;
        else if (cli_flag(argv[i], "--brief")) brief = 1;
        else if (cli_flag(argv[i], "--int8")) int8 = 1;
        else if (cli_flag(argv[i], "--trace")) trace = 1;
        else if (cli_flag(argv[i], "--exact")) opt.exact = 1;
        else if (cli_value(argc, argv, &i, "--max-players", &v)) opt.max_players = (int)cli_parse_long(&cmd_explain, "--max-players", v, 1, 30);
        else if (explain_shap_option(&cmd_explain, argc, argv, &i, &opt, &shap_set)) continue;
        else if (cli_value(argc, argv, &i, "--threads", &threads)) continue;
        else if (cli_value(argc, argv, &i, "--html", &html)) continue;
        else if (cli_value(argc, argv, &i, "--png", &png)) continue;
        else if (cli_value(argc, argv, &i, "--method", &methods)) continue;
        else if (cli_value(argc, argv, &i, "--methods", &methods)) continue;
        else if (cli_value(argc, argv, &i, "--class", &v)) opt.klass = (int)cli_parse_long(&cmd_explain, "--class", v, 0, 1 << 20);
        else if (cli_value(argc, argv, &i, "--samples", &v)) opt.samples = (int)cli_parse_long(&cmd_explain, "--samples", v, 1, 100000000);
        else if (cli_value(argc, argv, &i, "--seed", &v)) opt.seed = (uint64_t)cli_parse_long(&cmd_explain, "--seed", v, 0, 0x7fffffffffffffffL);
        else if (cli_value(argc, argv, &i, "--steps", &v)) opt.steps = (int)cli_parse_long(&cmd_explain, "--steps", v, 1, 100000);
        else if (cli_value(argc, argv, &i, "--batch", &v)) opt.batch_size = (int)cli_parse_long(&cmd_explain, "--batch", v, 1, 4096);
        else if (cli_value(argc, argv, &i, "--trace-layer", &v)) trace_layer = (int)cli_parse_long(&cmd_explain, "--trace-layer", v, 0, 10000);
        else if (cli_value(argc, argv, &i, "--trace-head", &v)) trace_head = (int)cli_parse_long(&cmd_explain, "--trace-head", v, 0, 10000);
        else if (cli_value(argc, argv, &i, "--layers", &v)) layers = cli_parse_layers(&cmd_explain, v, &n_layers);
        else if (cli_value(argc, argv, &i, "--sampler", &v)) {
            if (strcmp(v, "permutation") == 0) opt.sampler = ATTX_SAMPLER_PERMUTATION;
            else if (strcmp(v, "kernel") == 0) opt.sampler = ATTX_SAMPLER_KERNEL;
            else if (strcmp(v, "paper-random") == 0) opt.sampler = ATTX_SAMPLER_PAPER_RANDOM;
            else if (strcmp(v, "paper-kernel") == 0) opt.sampler = ATTX_SAMPLER_PAPER_KERNEL;
            else cli_usage_error(&cmd_explain, "--sampler must be permutation, kernel, paper-random or paper-kernel, not '%s'", v);
        } else if (cli_value(argc, argv, &i, "--ig-baseline", &v)) {
            if (strcmp(v, "pad") == 0) opt.ig_baseline = ATTX_IG_BASELINE_PAD;
            else if (strcmp(v, "zero") == 0) opt.ig_baseline = ATTX_IG_BASELINE_ZERO;
            else cli_usage_error(&cmd_explain, "--ig-baseline must be pad or zero, not '%s'", v);
        } else if (cli_value(argc, argv, &i, "--baseline", &v)) {
            char *end;
            opt.image_baseline = strtof(v, &end);
            if (end == v || *end || !isfinite(opt.image_baseline)) cli_usage_error(&cmd_explain, "--baseline must be a number, not '%s'", v);
        } else if (cli_is_option(argv[i])) cli_unknown_option(&cmd_explain, argv[i]);
        else if (!model_path) model_path = argv[i];
        else if (!input) input = argv[i];
        else cli_usage_error(&cmd_explain, "unexpected argument '%s' (quote a text with spaces)", argv[i]);
    }
    if (!model_path || !input) cli_usage_error(&cmd_explain, "MODEL and INPUT are both needed");
    explain_shap_defaults(&opt, &shap_set);
    if (attentions && !json) cli_usage_error(&cmd_explain, "--attentions adds to --json's output; give both");
    if (opt.exact && opt.samples) cli_usage_error(&cmd_explain, "--exact and --samples exclude each other");
    if (opt.sampler != ATTX_SAMPLER_NONE && !opt.samples) cli_usage_error(&cmd_explain, "--sampler needs --samples N");
    int n_names;
    char **names = parse_methods(methods, &n_names);
    opt.layers.layers = layers;
    opt.layers.n_layers = n_layers;
    cli_set_threads(&cmd_explain, threads);

    attx_model *model = cli_open_model(model_path, int8 ? CLI_INT8 : CLI_FP32);
    attx_error err;
    const attx_config *cfg = attx_model_config(model);
    if (!attx_model_has_classifier(model))
        cli_failf("%s is a bare %s without a classifier; it has no prediction to explain", model_path,
                  attx_arch_name(cfg->arch));
    attx_explanation ex;
    float *pixels = NULL;
    int rc;
    if (cfg->arch == ATTX_ARCH_VIT) {
        pixels = load_pixels(model, input);
        rc = attx_explain_image(model, pixels, (const char *const *)names, n_names, &opt, &ex, &err);
    } else if (cfg->arch == ATTX_ARCH_BERT || cfg->arch == ATTX_ARCH_ATTN1) {
        size_t len;
        char *text = cli_read_input(input, &len);
        if (opt.exact && wants_method(names, n_names, "shapley-input"))
            explain_exact_estimate(model, (const char *const *)&text, 1, opt.max_players);
        rc = attx_explain_text(model, text, len, (const char *const *)names, n_names, &opt, &ex, &err);
        if (rc != 0 && input[0] == '@' && ex.enc.ids == NULL) attx_fail_prefix(&err, "%s", input + 1);
        free(text);
        if (rc == 0 && ex.enc.n_dropped)
            fprintf(stderr, "attx: warning: the text has %zu tokens; the last %zu were cut to fit the model's %d "
                            "positions\n", ex.enc.tokens.n + ex.enc.n_dropped, ex.enc.n_dropped,
                    cfg->max_position_embeddings);
    } else {
        cli_failf("%s: explain does not support %s models yet", model_path, attx_arch_name(cfg->arch));
    }
    if (rc != 0) cli_fail(&err);

    if (trace && cfg->arch == ATTX_ARCH_ATTN1)
        cli_failf("%s: --trace shows T x T attention games, which an attn1 model (only the [CLS] row) does not have",
                  model_path);
    if (trace) {
        /* the game of the first attention-game method asked for (default Grad-Att Max-Mutual) */
        attx_influence_kind kind = ATTX_INFLUENCE_GRAD_ATT;
        trace_game game = TRACE_GAME_MAX_MUTUAL;
        for (int i = 0; i < n_names; i++) {
            const char *s = names[i];
            int g = strstr(s, "max-mutual") ? TRACE_GAME_MAX_MUTUAL : strstr(s, "mutual") ? TRACE_GAME_MUTUAL
                  : strstr(s, "-cls") ? TRACE_GAME_CLS : -1;
            if (g < 0) continue;
            game = (trace_game)g;
            kind = strncmp(s, "grad-", 5) == 0 ? ATTX_INFLUENCE_GRAD_ATT : ATTX_INFLUENCE_ATT;
            break;
        }
        if (trace_layer >= cfg->num_layers)
            cli_usage_error(&cmd_explain, "--trace-layer %d: the model has %d layers (from 0)", trace_layer, cfg->num_layers);
        if (trace_head >= cfg->num_heads)
            cli_usage_error(&cmd_explain, "--trace-head %d: the model has %d heads (from 0)", trace_head, cfg->num_heads);
        FILE *to = json ? stderr : stdout;    /* --json keeps stdout for the JSON object */
        if (explain_trace(to, model, &ex, pixels, &opt, trace_layer < 0 ? cfg->num_layers - 1 : trace_layer,
                          trace_head, kind, game, &err) != 0)
            cli_fail(&err);
    }

    if (png) {
        if (cfg->arch != ATTX_ARCH_VIT) cli_failf("--png draws image heatmaps; %s is a text model", model_path);
        if (cli_patch_heatmap_png(model, input, ex.methods[0].scores, png, &err) != 0) cli_fail(&err);
        fprintf(stderr, "attx: wrote %s (%s over the image)\n", png, ex.methods[0].name);
    }
    if (html) {
        explain_doc_options d = {.opts = &opt, .pixels = pixels, .model_path = model_path, .input = input};
        if (explain_write_html(html, model, &ex, &d, &err) != 0) cli_fail(&err);
        fprintf(stderr, "attx: wrote %s\n", html);
    }
    if (json) {
        print_json(model, &ex, pixels, &opt, attentions);
    } else if (brief) {
        print_brief(model, &ex, cli_colour(stdout));
    } else {
        const char *label = cfg->labels[ex.predicted];
        printf("%s  (p = %.4f)", label, ex.probs[ex.predicted]);
        if (ex.klass != ex.predicted) printf("; explaining class %d %s (p = %.4f)", ex.klass, cfg->labels[ex.klass], ex.probs[ex.klass]);
        printf("\n%d players (%s)\n", ex.n_players, ex.arch == ATTX_ARCH_VIT ? "patches" : ex.arch == ATTX_ARCH_ATTN1 ? "words" : "content tokens");
        int tty = cli_colour(stdout);
        for (int i = 0; i < ex.n_methods; i++) print_method(model, &ex, &ex.methods[i], tty);
    }
    attx_explanation_free(&ex);
    for (int i = 0; i < n_names; i++) free(names[i]);
    free(names);
    free(layers);
    free(pixels);
    attx_model_close(model);
    return EXIT_OK;
}
