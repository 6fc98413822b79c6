/* eval_p2.c — P2's experiments on attn1, one example at a time: Theorem 4.1's closed-form
 * gradient against the tape's, LIME (mean of runs) against Eq. (19)'s approximation, and the
 * correlations of α-avg with G-avg and with LIME. */
#include "attx_eval.h"
#include "methods_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int check_attn1(const attx_model *m, const int32_t *ids, int length, attx_error *err)
{
    const attx_config *c = m ? attx_model_config(m) : NULL;
    if (!c || c->arch != ATTX_ARCH_ATTN1) return attx_fail(err, "P2's experiments need an attn1 model");
    if (!ids || length < 2 || length > c->max_position_embeddings)
        return attx_fail(err, "P2: the text has no words (or more than the model's positions)");
    return 0;
}

int attx_p2_theorem41_example(const attx_model *m, const int32_t *ids, int length, int klass,
                              attx_p2_gradient_stats *out, attx_error *err)
{
    if (check_attn1(m, ids, length, err) != 0) return -1;
    const attx_config *c = attx_model_config(m);
    int T = c->max_position_embeddings, D = c->hidden_size, K = c->num_heads, C = c->num_labels, n = length - 1;
    if (klass < 0 || klass >= C) return attx_fail(err, "P2: class %d out of range (%d)", klass, C);
    int32_t *row = malloc((size_t)T * sizeof *row);
    double *g = malloc((size_t)T * (size_t)D * sizeof *g), *aavg = malloc((size_t)n * sizeof *aavg);
    double *gavg = malloc((size_t)n * sizeof *gavg);
    float *seed = calloc((size_t)C, sizeof *seed);
    attx_ctx *ctx = attx_ctx_new();
    int rc = -1;
    if (!row || !g || !aavg || !gavg || !seed || !ctx) {
        attx_fail(err, "out of memory");
        goto done;
    }
    int32_t unk = attx_wordpiece_special_ids(attx_model_tokenizer(m)).unk;
    for (int t = 0; t < T; t++) row[t] = t < length ? ids[t] : unk;
    attx_ctx_set_tape(ctx, 1);
    attx_batch batch = {.B = 1, .T = T, .ids = row, .lengths = &T};
    attx_outputs o;
    if (attx_forward(m, ctx, &batch, &o, err) != 0) goto done;
    seed[klass] = 1;
    if (attx_backward(ctx, o.logits, seed) != 0) {
        attx_fail(err, "out of memory in the backward pass");
        goto done;
    }
    const float *e = o.inputs_embeds->data, *tape = o.inputs_embeds->grad, *alpha = o.attn[0]->data;
    if (attx_attn1_theorem41(m, e, alpha, klass, g, err) != 0) goto done;
    memset(out, 0, sizeof *out);
    out->positions = T - 1;
    for (int t = 1; t < T; t++) {
        double num = 0, den = 0;
        for (int k = 0; k < D; k++) {
            double d = g[(size_t)t * D + k] - tape[(size_t)t * D + k];
            num += d * d;
            den += (double)tape[(size_t)t * D + k] * tape[(size_t)t * D + k];
            out->abs_max = fmax(out->abs_max, fabs(d));
        }
        double rel = den > 0 ? sqrt(num / den) : sqrt(num);
        out->rel_max = fmax(out->rel_max, rel);
        out->rel_mean += rel / (T - 1);
    }
    for (int i = 0; i < n; i++) {
        double a = 0, s = 0;
        for (int h = 0; h < K; h++) a += alpha[(size_t)h * T + 1 + i] / K;
        for (int k = 0; k < D; k++) s += tape[(size_t)(1 + i) * D + k];
        aavg[i] = a;
        gavg[i] = s / D;
    }
    out->corr_att_gavg = attx_pearson(aavg, gavg, n);
    rc = 0;
done:
    attx_ctx_free(ctx);
    free(row), free(g), free(aavg), free(gavg), free(seed);
    return rc;
}

int attx_p2_lime_example(const attx_model *m, const int32_t *ids, int length, int klass, int num_samples,
                         int repeats, uint64_t seed, attx_p2_lime_stats *out, attx_error *err)
{
    if (check_attn1(m, ids, length, err) != 0) return -1;
    const attx_config *c = attx_model_config(m);
    int T = c->max_position_embeddings, K = c->num_heads, n = length - 1, rc = -1;
    int *feature_of = malloc((size_t)n * sizeof *feature_of);
    double *lime = malloc((size_t)n * sizeof *lime), *approx = malloc((size_t)n * sizeof *approx);
    double *aavg = malloc((size_t)n * sizeof *aavg), *lw = malloc((size_t)n * sizeof *lw);
    int32_t *row = malloc((size_t)T * sizeof *row);
    attx_game g = {0};
    attx_ctx *ctx = attx_ctx_new();
    if (!feature_of || !lime || !approx || !aavg || !lw || !row || !ctx) {
        attx_fail(err, "out of memory");
        goto done;
    }
    int d = 0;   /* features: the distinct word ids (bow=True) */
    for (int t = 0; t < n; t++) {
        int f = 0;
        while (f < t && ids[1 + f] != ids[1 + t]) f++;
        feature_of[t] = f < t ? feature_of[f] : d++;
    }
    attx_model_game_options go = {.klass = klass, .value = ATTX_VALUE_LOGIT, .mask_id = -1};
    if (attx_game_model_text(&g, m, ids, length, &go, err) != 0) goto done;
    /* the feature game: a coalition of features keeps every occurrence of its words */
    feature_game fg = {&g, n, feature_of};
    attx_game fgame = {.n = d, .eval = feature_eval, .user = &fg, .max_batch = g.max_batch};
    attx_lime_options lo = {.seed = seed, .num_samples = num_samples, .repeats = repeats > 0 ? repeats : 5};
    attx_lime_info info;
    if (attx_lime(&fgame, &lo, lime, &info, err) != 0) goto done;
    if (attx_attn1_lime_approx(m, ids, length, klass, feature_of, d, approx, err) != 0) goto done;
    memset(out, 0, sizeof *out);
    out->features = d;
    out->evaluations = info.evaluations;
    double ss = 0, sl = 0;
    for (int f = 0; f < d; f++) {
        double e = lime[f] - approx[f];
        ss += e * e;
        sl += lime[f] * lime[f];
        out->max_abs_error = fmax(out->max_abs_error, fabs(e));
    }
    out->l2_error = sqrt(ss);
    out->rel_error = sl > 0 ? sqrt(ss / sl) : NAN;
    out->corr_lime_approx = attx_pearson(lime, approx, d);
    /* alpha-avg of each word (a tape forward for alpha) */
    int32_t unk = attx_wordpiece_special_ids(attx_model_tokenizer(m)).unk;
    for (int t = 0; t < T; t++) row[t] = t < length ? ids[t] : unk;
    attx_ctx_set_tape(ctx, 1);
    attx_batch batch = {.B = 1, .T = T, .ids = row, .lengths = &T};
    attx_outputs o;
    if (attx_forward(m, ctx, &batch, &o, err) != 0) goto done;
    for (int i = 0; i < n; i++) {
        double a = 0;
        for (int h = 0; h < K; h++) a += o.attn[0]->data[(size_t)h * T + 1 + i] / K;
        aavg[i] = a;
        lw[i] = lime[feature_of[i]];
    }
    out->corr_att_lime = attx_pearson(aavg, lw, n);
    rc = 0;
done:
    attx_ctx_free(ctx);
    attx_game_free(&g);
    free(feature_of), free(lime), free(approx), free(aavg), free(lw), free(row);
    return rc;
}

int attx_p2_deep_example(const attx_model *m, const int32_t *ids, int length, int klass, int num_samples,
                         uint64_t seed, attx_p2_deep_stats *out, attx_error *err)
{
    static const char *const names[] = {"att-avg", "grad-avg", "lime", "lime-tokens"};
    attx_explain_options opt;
    attx_explain_options_init(&opt);
    opt.klass = klass;
    opt.samples = num_samples;
    opt.seed = seed;
    attx_explanation ex;
    memset(out, 0, sizeof *out);
    if (attx_explain_ids(m, ids, length, names, 4, &opt, &ex, err) != 0) {
        attx_explanation_free(&ex);
        return -1;
    }
    const double *aavg = ex.methods[0].scores, *gavg = ex.methods[1].scores, *lime = ex.methods[2].scores,
                 *lime_tokens = ex.methods[3].scores;
    int n = ex.n_players;
    out->tokens = n;
    /* the distinct words: LIME gives each token its word's coefficient, so count the runs */
    int words = 0;
    const attx_wordpiece *wp = attx_model_tokenizer(m);
    for (int i = 0; i < n; i++) {
        const char *t = attx_wordpiece_token(wp, ex.enc.ids[ex.first_player + i]);
        words += !(t && strncmp(t, "##", 2) == 0);
    }
    out->words = words;
    out->corr_att_gavg = attx_pearson(aavg, gavg, n);
    out->corr_att_lime = attx_pearson(aavg, lime, n);
    out->corr_lime_words_tokens = attx_pearson(lime, lime_tokens, n);
    for (int k = 0; k < 4; k++) out->forwards += ex.methods[k].forward_passes;
    attx_explanation_free(&ex);
    return 0;
}
