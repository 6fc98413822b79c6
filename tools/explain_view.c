/* explain_view.c — what every view of an explanation shares: how a player is named, and the
 * JSON document of `explain --json` and of the teaching page (explain_page.js draws it). */
#include "explain_view.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *explain_player_label(const attx_model *m, const attx_explanation *ex, int i, char *buf, size_t cap)
{
    if (ex->arch == ATTX_ARCH_BERT || ex->arch == ATTX_ARCH_ATTN1) {
        const char *t = attx_wordpiece_token(attx_model_tokenizer(m), ex->enc.ids[ex->first_player + i]);
        return t ? t : "?";
    }
    snprintf(buf, cap, "patch %d,%d", i / ex->grid_w, i % ex->grid_w);
    return buf;
}

/* The attention games of P1: their influence kind and game, by method name. */
typedef struct game_method {
    const char *name, *game;
    attx_influence_kind kind;
} game_method;

static const game_method game_methods[] = {
    {"att-cls", "cls", ATTX_INFLUENCE_ATT},
    {"grad-att-cls", "cls", ATTX_INFLUENCE_GRAD_ATT},
    {"att-mutual", "mutual", ATTX_INFLUENCE_ATT},
    {"grad-att-mutual", "mutual", ATTX_INFLUENCE_GRAD_ATT},
    {"att-max-mutual", "max-mutual", ATTX_INFLUENCE_ATT},
    {"grad-att-max-mutual", "max-mutual", ATTX_INFLUENCE_GRAD_ATT},
};

static const game_method *find_game_method(const char *name)
{
    for (size_t i = 0; i < sizeof game_methods / sizeof game_methods[0]; i++)
        if (strcmp(game_methods[i].name, name) == 0) return &game_methods[i];
    return NULL;
}

/* The game of a method on the influence of its kind (M[n*n], cls[n]). */
static int make_game(attx_game *g, const game_method *gm, int n, const double *M, const double *cls, attx_error *err)
{
    if (strcmp(gm->game, "cls") == 0) return attx_game_additive(g, n, cls, err);
    if (strcmp(gm->game, "mutual") == 0) return attx_game_mutual(g, n, M, err);
    return attx_game_max_mutual(g, n, M, err);
}

static void put_doubles(attx_json_writer *w, const double *x, int n)
{
    attx_jw_array_begin(w);
    for (int i = 0; i < n; i++) attx_jw_double(w, x[i]);
    attx_jw_array_end(w);
}

static void put_ints(attx_json_writer *w, const int *x, int n)
{
    attx_jw_array_begin(w);
    for (int i = 0; i < n; i++) attx_jw_int(w, x[i]);
    attx_jw_array_end(w);
}

/* [layer][head][query][key] of the attention probabilities (grad: their gradients). */
static void put_attention(attx_json_writer *w, const attx_outputs *out, int layers, int grad)
{
    attx_jw_array_begin(w);
    for (int l = 0; l < layers; l++) {
        const attx_tensor *a = out->attn[l];   /* [1, H, Q, T] */
        const float *x = grad ? a->grad : a->data;
        int64_t H = a->shape[1], Q = a->shape[2], K = a->shape[3];
        attx_jw_array_begin(w);
        for (int64_t h = 0; h < H; h++) {
            attx_jw_array_begin(w);
            for (int64_t q = 0; q < Q; q++) {
                attx_jw_array_begin(w);
                for (int64_t k = 0; k < K; k++) attx_jw_float(w, x[(h * Q + q) * K + k]);
                attx_jw_array_end(w);
            }
            attx_jw_array_end(w);
        }
        attx_jw_array_end(w);
    }
    attx_jw_array_end(w);
}

/* "faithfulness": v(N \ top_k) and v(top_k) at every tenth of the players, and P1's
 * comprehensiveness and sufficiency ({0, 10, 20, 50}%), on the game g of the predicted class's
 * probability. shap is ranked by |score|, as P1 ranks it. */
static int put_faithfulness(attx_json_writer *w, const attx_game *g, const attx_method_result *r, attx_error *err)
{
    static const int tenths[] = {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100};
    int by_abs = strcmp(r->name, "shap") == 0;
    attx_faithfulness_options curve = {.count = 11, .percents = tenths, .rank_by_abs = by_abs};
    attx_faithfulness c;
    if (attx_faithfulness_eval(g, r->scores, &curve, &c, err) != 0) return -1;
    /* P1's bins {0, 10, 20, 50}% are tenths 0, 1, 2 and 5 of the curve: its comp and suff are
     * sum_k [v(N) - v] / 5 over them, summed in the same order as attx_faithfulness_eval */
    static const int p1_tenths[] = {0, 1, 2, 5};
    attx_faithfulness f = {0};
    for (int b = 0; b < 4; b++) {
        f.comprehensiveness += c.v_full - c.v_removed[p1_tenths[b]];
        f.sufficiency += c.v_full - c.v_kept[p1_tenths[b]];
    }
    f.comprehensiveness /= 5;
    f.sufficiency /= 5;
    attx_jw_key(w, "faithfulness");
    attx_jw_object_begin(w);
    attx_jw_key(w, "percent");
    put_ints(w, c.percent, c.bins);
    attx_jw_key(w, "k");
    put_ints(w, c.k, c.bins);
    attx_jw_key(w, "v_removed");
    put_doubles(w, c.v_removed, c.bins);
    attx_jw_key(w, "v_kept");
    put_doubles(w, c.v_kept, c.bins);
    attx_jw_key(w, "v_full");
    attx_jw_double(w, c.v_full);
    attx_jw_key(w, "comprehensiveness");
    attx_jw_double(w, f.comprehensiveness);
    attx_jw_key(w, "sufficiency");
    attx_jw_double(w, f.sufficiency);
    attx_jw_object_end(w);
    return 0;
}

/* "convergence": permutation sampling and Kernel SHAP on the game g at budgets 2, 4, ... up to
 * the explanation's --samples (at least 1024, at most 8192), against its closed form. */
static int put_convergence(attx_json_writer *w, const char *method, const attx_game *g, const attx_explain_options *opts,
                           attx_error *err)
{
    int n = g->n, cap = opts->samples > 1024 ? opts->samples : 1024;
    if (cap > 8192) cap = 8192;
    double *exact = malloc((size_t)n * sizeof *exact), *phi = malloc((size_t)n * sizeof *phi);
    if (!exact || !phi) {
        free(exact);
        free(phi);
        return attx_fail(err, "out of memory");
    }
    int rc = attx_shapley_closed_form(g, exact, NULL, err);
    if (rc == 0) {
        attx_jw_key(w, "convergence");
        attx_jw_object_begin(w);
        attx_jw_key(w, "method");
        attx_jw_string(w, method);
        attx_jw_key(w, "exact");
        put_doubles(w, exact, n);
        attx_jw_key(w, "samplers");
        attx_jw_array_begin(w);
        for (int s = 0; s < 2 && rc == 0; s++) {
            attx_jw_object_begin(w);
            attx_jw_key(w, "sampler");
            attx_jw_string(w, s == 0 ? "permutation" : "kernel");
            attx_jw_key(w, "unit");
            attx_jw_string(w, s == 0 ? "permutations" : "coalitions");
            attx_jw_key(w, "runs");
            attx_jw_array_begin(w);
            int first = 2;   /* a pair of permutations; Kernel SHAP needs more coalitions than players */
            while (s == 1 && first < 2 * n + 2) first *= 2;
            for (int budget = first; budget <= cap; budget *= 2) {
                attx_permutation_options po = {.seed = opts->seed, .permutations = budget};
                attx_kernel_options ko = {.seed = opts->seed, .samples = budget, .bootstrap = -1};
                if ((s == 0 ? attx_shapley_permutation(g, &po, phi, NULL, NULL, err)
                            : attx_shapley_kernel(g, &ko, phi, NULL, NULL, err)) != 0)
                    continue;   /* a singular Kernel SHAP system: not drawn */
                attx_jw_object_begin(w);
                attx_jw_key(w, "budget");
                attx_jw_int(w, budget);
                attx_jw_key(w, "phi");
                put_doubles(w, phi, n);
                attx_jw_object_end(w);
                if (s == 1 && budget >= 2 * n + 2 && ldexp(1.0, n) - 2 <= budget) break;   /* every coalition */
            }
            attx_jw_array_end(w);
            attx_jw_object_end(w);
        }
        attx_jw_array_end(w);
        attx_jw_object_end(w);
    }
    free(exact);
    free(phi);
    return rc;
}

/* Everything the page draws besides the scores and the attention probabilities: one forward
 * and one backward pass from the explained logit give dA; the influence matrices of both kinds
 * (over opts->layers) give each attention game and its closed form; the model game of the
 * predicted class gives the faithfulness curves. */
static int put_teaching(attx_json_writer *w, const attx_model *m, const attx_explanation *ex, const explain_doc_options *o,
                        const attx_outputs *out, attx_error *err)
{
    const attx_config *cfg = attx_model_config(m);
    int n = ex->n_players, rc = 0;
    attx_jw_key(w, "gradients");
    put_attention(w, out, cfg->num_layers, 1);

    /* influence matrices: attn1 has the [CLS] row only, so none */
    double *M[2] = {0}, *cls[2] = {0};
    int have_influence = ex->arch != ATTX_ARCH_ATTN1;
    for (int k = 0; k < 2 && have_influence; k++) {
        M[k] = malloc((size_t)n * (size_t)n * sizeof *M[k]);
        cls[k] = malloc((size_t)n * sizeof *cls[k]);
        if (!M[k] || !cls[k]) rc = attx_fail(err, "out of memory");
        else rc = attx_influence(out, cfg->num_layers, 0, (attx_influence_kind)k, &o->opts->layers, ex->first_player, n,
                                 M[k], cls[k], err);
        if (rc != 0) goto done;
    }
    if (have_influence) {
        attx_jw_key(w, "influence");
        attx_jw_object_begin(w);
        for (int k = 0; k < 2; k++) {
            attx_jw_key(w, k == ATTX_INFLUENCE_ATT ? "att" : "grad-att");
            attx_jw_object_begin(w);
            attx_jw_key(w, "M");
            attx_jw_array_begin(w);
            for (int i = 0; i < n; i++) put_doubles(w, M[k] + (size_t)i * n, n);
            attx_jw_array_end(w);
            attx_jw_key(w, "cls");
            put_doubles(w, cls[k], n);
            attx_jw_object_end(w);
        }
        attx_jw_object_end(w);
    }

    /* the model game of the faithfulness metrics: p(predicted) with players removed */
    attx_game model_game = {0};
    attx_model_game_options go = {.klass = ex->predicted, .value = ATTX_VALUE_PROB, .batch_size = o->opts->batch_size,
                                  .mask_id = -1, .baseline = o->opts->image_baseline};
    rc = ex->arch == ATTX_ARCH_VIT ? attx_game_model_image(&model_game, m, o->pixels, &go, err)
       : ex->arch == ATTX_ARCH_ATTN1 ? attx_game_model_text(&model_game, m, ex->enc.ids, 1 + n, &go, err)
                                     : attx_game_model_text(&model_game, m, ex->enc.ids, ex->enc.length, &go, err);
    if (rc != 0) goto done;
    double *phi = malloc((size_t)(n ? n : 1) * sizeof *phi);
    if (!phi) rc = attx_fail(err, "out of memory");
    const game_method *sampled = NULL;
    attx_jw_key(w, "views");
    attx_jw_object_begin(w);
    for (int i = 0; i < ex->n_methods && rc == 0; i++) {
        const attx_method_result *r = &ex->methods[i];
        const game_method *gm = have_influence ? find_game_method(r->name) : NULL;
        attx_jw_key(w, r->name);
        attx_jw_object_begin(w);
        attx_jw_key(w, "how");
        attx_jw_string(w, r->how);
        if (gm) {
            attx_game g;
            if ((rc = make_game(&g, gm, n, M[gm->kind], cls[gm->kind], err)) != 0) break;
            rc = attx_shapley_closed_form(&g, phi, NULL, err);
            if (rc == 0 && !sampled) sampled = gm;
            attx_game_free(&g);
            if (rc != 0) break;
            attx_jw_key(w, "influence");
            attx_jw_string(w, gm->kind == ATTX_INFLUENCE_ATT ? "att" : "grad-att");
            attx_jw_key(w, "game");
            attx_jw_string(w, gm->game);
            attx_jw_key(w, "closed_form");
            put_doubles(w, phi, n);
        }
        if (r->se) {
            attx_jw_key(w, "se");
            put_doubles(w, r->se, n);
        }
        rc = put_faithfulness(w, &model_game, r, err);
        attx_jw_object_end(w);
    }
    attx_jw_object_end(w);
    free(phi);
    attx_game_free(&model_game);
    if (rc == 0 && sampled) {   /* the first attention game's, sampled against its closed form */
        attx_game g;
        if ((rc = make_game(&g, sampled, n, M[sampled->kind], cls[sampled->kind], err)) == 0) {
            rc = put_convergence(w, sampled->name, &g, o->opts, err);
            attx_game_free(&g);
        }
    }
done:
    for (int k = 0; k < 2; k++) {
        free(M[k]);
        free(cls[k]);
    }
    return rc;
}

/* The page's header facts: model, input, architecture, labels, probabilities, the grid. */
static void put_header(attx_json_writer *w, const attx_model *m, const attx_explanation *ex, const explain_doc_options *o)
{
    const attx_config *cfg = attx_model_config(m);
    attx_jw_key(w, "model");
    attx_jw_string(w, o->model_path ? o->model_path : "");
    attx_jw_key(w, "input");
    attx_jw_string(w, o->input ? o->input : "");
    attx_jw_key(w, "arch");
    attx_jw_string(w, attx_arch_name(ex->arch));
    attx_jw_key(w, "labels");
    attx_jw_array_begin(w);
    for (int k = 0; k < ex->num_labels; k++) attx_jw_string(w, cfg->labels[k]);
    attx_jw_array_end(w);
    attx_jw_key(w, "probs");
    put_doubles(w, ex->probs, ex->num_labels);
    attx_jw_key(w, "predicted");
    attx_jw_int(w, ex->predicted);
    attx_jw_key(w, "first_player");
    attx_jw_int(w, ex->first_player);
    attx_jw_key(w, "layers_averaged");
    if (o->opts->layers.n_layers) put_ints(w, o->opts->layers.layers, o->opts->layers.n_layers);
    else attx_jw_null(w);
    if (ex->arch == ATTX_ARCH_VIT) {
        attx_jw_key(w, "grid");
        int grid[2] = {ex->grid_h, ex->grid_w};
        put_ints(w, grid, 2);
        attx_jw_key(w, "image_size");
        int size[2] = {cfg->image_height, cfg->image_width};
        put_ints(w, size, 2);
        if (o->picture_uri) {
            attx_jw_key(w, "image");
            attx_jw_string(w, o->picture_uri);
        }
    }
}

int explain_document(attx_buf *out, const attx_model *m, const attx_explanation *ex, const explain_doc_options *o,
                     attx_error *err)
{
    const attx_config *cfg = attx_model_config(m);
    char buf[64];
    attx_json_writer w;
    attx_jw_init(&w, out, 0);
    attx_jw_object_begin(&w);
    if (o->teaching) put_header(&w, m, ex, o);
    attx_jw_key(&w, "tokens");
    attx_jw_array_begin(&w);
    for (int i = 0; i < ex->n_players; i++) attx_jw_string(&w, explain_player_label(m, ex, i, buf, sizeof buf));
    attx_jw_array_end(&w);
    attx_jw_key(&w, "class");
    attx_jw_int(&w, ex->klass);
    attx_jw_key(&w, "logits");
    attx_jw_array_begin(&w);
    for (int k = 0; k < ex->num_labels; k++) attx_jw_float(&w, ex->logits[k]);
    attx_jw_array_end(&w);
    attx_jw_key(&w, "methods");
    attx_jw_object_begin(&w);
    for (int i = 0; i < ex->n_methods; i++) {
        const attx_method_result *r = &ex->methods[i];
        attx_jw_key(&w, r->name);
        attx_jw_object_begin(&w);
        attx_jw_key(&w, "scores");
        put_doubles(&w, r->scores, r->n);
        attx_jw_key(&w, "time_ms");
        attx_jw_double(&w, r->time_ms);
        attx_jw_key(&w, "forward_passes");
        attx_jw_uint(&w, r->forward_passes);
        attx_jw_key(&w, "backward_passes");
        attx_jw_uint(&w, r->backward_passes);
        if (!isnan(r->completeness_error)) {      /* integrated-gradients only */
            attx_jw_key(&w, "completeness_error");
            attx_jw_double(&w, r->completeness_error);
        }
        attx_jw_object_end(&w);
    }
    attx_jw_object_end(&w);
    if (!o->attentions && !o->teaching) {
        attx_jw_object_end(&w);
        return out->failed ? attx_fail(err, "out of memory") : 0;
    }

    /* one more forward pass with the tape (and a backward pass for the page's dA) */
    attx_ctx *ctx = attx_ctx_new();
    float *seed = malloc((size_t)cfg->num_labels * sizeof *seed);
    if (!ctx || !seed) {
        attx_ctx_free(ctx);
        free(seed);
        return attx_fail(err, "out of memory");
    }
    attx_ctx_set_tape(ctx, 1);
    int32_t T = cfg->arch == ATTX_ARCH_VIT ? ex->grid_h * ex->grid_w + 1 : ex->enc.length;
    attx_batch batch = {.B = 1, .T = T, .ids = ex->enc.ids, .lengths = &T, .pixels = o->pixels};
    if (cfg->arch == ATTX_ARCH_VIT) batch.ids = NULL;
    attx_outputs fw;
    int rc = attx_forward(m, ctx, &batch, &fw, err);
    if (rc == 0 && o->teaching) {
        attx_seed_explained_logits(1, cfg->num_labels, &ex->klass, seed);
        if (attx_backward(ctx, fw.logits, seed) != 0) rc = attx_fail(err, "out of memory in the backward pass");
    }
    if (rc == 0) {
        attx_jw_key(&w, "sequence");
        attx_jw_array_begin(&w);
        for (int t = 0; t < T; t++) {
            if (cfg->arch == ATTX_ARCH_VIT) {
                if (t == 0) snprintf(buf, sizeof buf, "[CLS]");
                else snprintf(buf, sizeof buf, "patch %d,%d", (t - 1) / ex->grid_w, (t - 1) % ex->grid_w);
                attx_jw_string(&w, buf);
            } else {
                const char *tok = attx_wordpiece_token(attx_model_tokenizer(m), ex->enc.ids[t]);
                attx_jw_string(&w, tok ? tok : "?");
            }
        }
        attx_jw_array_end(&w);
        attx_jw_key(&w, "attentions");
        put_attention(&w, &fw, cfg->num_layers, 0);
        if (o->teaching) rc = put_teaching(&w, m, ex, o, &fw, err);
    }
    attx_jw_object_end(&w);
    attx_ctx_free(ctx);
    free(seed);
    if (rc == 0 && out->failed) rc = attx_fail(err, "out of memory");
    return rc;
}
