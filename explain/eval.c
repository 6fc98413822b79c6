/* eval.c — faithfulness of every method over a data set, one example at a time: the
 * explanation (attx_explain_ids), P1's comprehensiveness / sufficiency and ERASER's AOPC on the
 * probability of the predicted class, and the prediction on the 20% sufficiency input for the
 * data-set F1; results, summaries (mean ± standard error). */
#include "attx_eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void attx_eval_options_init(attx_eval_options *o)
{
    memset(o, 0, sizeof *o);
    attx_explain_options_init(&o->explain);
    o->f1_percent = 20;
}

/* Prediction (argmax) on ids[length] with the players 1..n outside mask replaced by mask_id;
 * attn1 sequences are padded with UNK to T. */
static int predict_masked(const attx_model *m, const int32_t *ids, int length, int n, const uint64_t *mask,
                          int32_t mask_id, int *pred, attx_error *err)
{
    const attx_config *cfg = attx_model_config(m);
    int attn1 = cfg->arch == ATTX_ARCH_ATTN1, T = attn1 ? cfg->max_position_embeddings : length;
    int32_t *row = malloc((size_t)T * sizeof *row);
    attx_ctx *ctx = attx_ctx_new();
    int rc = -1;
    if (!row || !ctx) {
        attx_fail(err, "out of memory");
        goto done;
    }
    int32_t unk = attx_wordpiece_special_ids(attx_model_tokenizer(m)).unk;
    for (int t = 0; t < T; t++) row[t] = t < length ? ids[t] : unk;
    for (int i = 0; i < n; i++)
        if (!attx_mask_has(mask, i)) row[1 + i] = mask_id;
    attx_batch batch = {.B = 1, .T = T, .ids = row, .lengths = &T};
    attx_outputs out;
    if (attx_forward(m, ctx, &batch, &out, err) != 0) goto done;
    int best = 0;
    for (int k = 1; k < cfg->num_labels; k++)
        if (out.logits->data[k] > out.logits->data[best]) best = k;
    *pred = best;
    rc = 0;
done:
    attx_ctx_free(ctx);
    free(row);
    return rc;
}

/* The faithfulness game of one example, remembered: the methods' comprehensiveness and
 * sufficiency ask for many of the same coalitions (the full input and the empty one for every
 * method, P1's and ERASER's shared bins, the same top-k sets where rankings agree), and each is
 * run forward once. A row's value does not depend on the rows batched with it, so the values
 * are the bits the game would give each time. */
typedef struct memo_game {
    const attx_game *inner;
    size_t words, count, cap;
    uint64_t *masks;            /* [cap * words] the coalitions evaluated so far */
    double *values;             /* [cap] */
} memo_game;

static long memo_find(const memo_game *mg, const uint64_t *mask)
{
    for (size_t c = 0; c < mg->count; c++)
        if (!memcmp(mg->masks + c * mg->words, mask, mg->words * sizeof *mask)) return (long)c;
    return -1;
}

static int memo_eval(void *user, int n, size_t count, const uint64_t *masks, double *values, attx_error *err)
{
    (void)n;
    memo_game *mg = user;
    size_t first_new = mg->count, w = mg->words;
    if (mg->count + count > mg->cap) {   /* room for every request being new */
        size_t cap = 2 * (mg->count + count);
        uint64_t *nm = realloc(mg->masks, cap * w * sizeof *nm);
        if (nm) mg->masks = nm;
        double *nv = realloc(mg->values, cap * sizeof *nv);
        if (nv) mg->values = nv;
        if (!nm || !nv) return attx_fail(err, "out of memory");
        mg->cap = cap;
    }
    for (size_t k = 0; k < count; k++)   /* the new coalitions, each once */
        if (memo_find(mg, masks + k * w) < 0) memcpy(mg->masks + mg->count++ * w, masks + k * w, w * sizeof *masks);
    if (mg->count > first_new &&
        attx_game_eval(mg->inner, mg->count - first_new, mg->masks + first_new * w, mg->values + first_new, err) != 0) {
        mg->count = first_new;
        return -1;
    }
    for (size_t k = 0; k < count; k++) values[k] = mg->values[memo_find(mg, masks + k * w)];
    return 0;
}

int attx_eval_example(const attx_model *m, const char *text, int gold, size_t example, const char *const *names,
                      int n_names, const attx_eval_options *o, attx_eval_row *rows, attx_error *err)
{
    attx_eval_options defaults;
    if (!o) {
        attx_eval_options_init(&defaults);
        o = &defaults;
    }
    int32_t *ids = NULL;
    int length, n, rc = -1;
    if (attx_eval_encode(m, text, &ids, &length, &n, err) != 0) return -1;
    attx_explain_options eo = o->explain;
    eo.klass = -1;                                  /* P1: the predicted class */
    attx_explanation ex;
    attx_game g = {0};
    memo_game memo = {0};
    uint64_t *mask = NULL;
    /* from the text, so that a string-level game (shap's Text masker) cuts the text itself;
     * attx_explain_text encodes it to the same ids */
    if (attx_explain_text(m, text, strlen(text), names, n_names, &eo, &ex, err) != 0) goto done;
    if (ex.n_players != n) {
        attx_fail(err, "the explanation has %d players, the evaluation %d", ex.n_players, n);
        goto done;
    }
    /* the faithfulness game: p(predicted | players outside S removed) */
    attx_model_game_options go = {.klass = ex.predicted, .value = ATTX_VALUE_PROB, .batch_size = eo.batch_size,
                                  .mask_id = -1};
    if (attx_game_model_text(&g, m, ids, length, &go, err) != 0) goto done;
    memo = (memo_game){.inner = &g, .words = attx_mask_words(n)};
    attx_game remembered = {.n = n, .eval = memo_eval, .user = &memo, .kind = ATTX_GAME_CUSTOM};
    const attx_wordpiece *wp = attx_model_tokenizer(m);
    attx_special_ids sp = attx_wordpiece_special_ids(wp);
    int32_t mask_id = attx_model_config(m)->arch == ATTX_ARCH_ATTN1 ? sp.unk : sp.mask;
    if (!(mask = calloc(attx_mask_words(n), sizeof *mask))) {
        attx_fail(err, "out of memory");
        goto done;
    }
    int percent = o->f1_percent > 0 ? o->f1_percent : 20;
    for (int k = 0; k < n_names; k++) {
        const attx_method_result *r = &ex.methods[k];
        attx_eval_row *row = &rows[k];
        memset(row, 0, sizeof *row);
        row->example = example;
        row->method = k;
        row->n_players = n;
        row->gold = gold;
        row->predicted = ex.predicted;
        row->p_full = ex.probs[ex.predicted];
        row->time_ms = r->time_ms;
        row->forward_passes = r->forward_passes;
        row->backward_passes = r->backward_passes;
        int by_abs = strcmp(r->name, "shap") == 0;   /* P1 ranks SHAP by |value| */
        attx_faithfulness_options p1 = {.bins = ATTX_FAITH_P1, .rank_by_abs = by_abs, .ties = o->ties,
                                        .padded_length = o->padded_length, .tie_samples = o->tie_samples,
                                        .seed = eo.seed + example};
        attx_faithfulness_options eraser = p1;
        eraser.bins = ATTX_FAITH_ERASER;
        attx_faithfulness f;
        if (attx_faithfulness_eval(&remembered, r->scores, &p1, &f, err) != 0) goto fail_method;
        row->comp = f.comprehensiveness;
        row->suff = f.sufficiency;
        row->tied_bins = f.tied_bins;
        if (attx_faithfulness_eval(&remembered, r->scores, &eraser, &f, err) != 0) goto fail_method;
        row->aopc_comp = f.comprehensiveness;
        row->aopc_suff = f.sufficiency;
        if (attx_top_players_mask(n, r->scores, &p1, percent, mask, NULL, err) != 0) goto fail_method;
        if (predict_masked(m, ids, length, n, mask, mask_id, &row->suff_predicted, err) != 0) goto fail_method;
        continue;
    fail_method:
        attx_fail_prefix(err, "%s", r->name);
        goto done;
    }
    rc = 0;
done:
    if (rc != 0) attx_fail_prefix(err, "example %zu", example);
    free(mask);
    free(memo.masks);
    free(memo.values);
    attx_game_free(&g);
    attx_explanation_free(&ex);
    free(ids);
    return rc;
}

int attx_eval_result_init(attx_eval_result *r, const char *const *names, int n_names, size_t n_examples,
                          attx_error *err)
{
    memset(r, 0, sizeof *r);
    if (n_names < 1) return attx_fail(err, "eval: no methods");
    if (!(r->methods = calloc((size_t)n_names, sizeof *r->methods))) return attx_fail(err, "out of memory");
    r->n_methods = n_names;
    for (int k = 0; k < n_names; k++) snprintf(r->methods[k], sizeof r->methods[k], "%s", names[k]);
    r->n_examples = n_examples;
    return 0;
}

int attx_eval_result_add(attx_eval_result *r, const attx_eval_row *rows, attx_error *err)
{
    size_t need = (r->n_done + 1) * (size_t)r->n_methods;
    if (need > r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64 * (size_t)r->n_methods;
        while (cap < need) cap *= 2;
        attx_eval_row *grown = realloc(r->rows, cap * sizeof *grown);
        if (!grown) return attx_fail(err, "out of memory");
        r->rows = grown;
        r->cap = cap;
    }
    memcpy(r->rows + r->n_done * (size_t)r->n_methods, rows, (size_t)r->n_methods * sizeof *rows);
    r->n_done++;
    return 0;
}

void attx_eval_result_free(attx_eval_result *r)
{
    if (!r) return;
    free(r->methods);
    free(r->rows);
    memset(r, 0, sizeof *r);
}

/* mean and standard error of the mean (sample sd / sqrt(n); 0 for one value) */
static void mean_se(const double *x, size_t n, size_t stride, double *mean, double *se)
{
    double s = 0, ss = 0;
    for (size_t i = 0; i < n; i++) s += x[i * stride];
    double mu = n ? s / (double)n : NAN;
    for (size_t i = 0; i < n; i++) ss += (x[i * stride] - mu) * (x[i * stride] - mu);
    *mean = mu;
    *se = n > 1 ? sqrt(ss / (double)(n - 1) / (double)n) : 0.0;
}

int attx_eval_summarize(const attx_eval_result *r, attx_eval_summary *out, double *model_f1_macro,
                        double *model_f1_weighted, attx_error *err)
{
    size_t N = r->n_done, M = (size_t)r->n_methods;
    if (N == 0) return attx_fail(err, "eval: no example was evaluated");
    double *x = malloc(N * sizeof *x);
    int *gold = malloc(N * sizeof *gold), *pred = malloc(N * sizeof *pred);
    if (!x || !gold || !pred) {
        free(x), free(gold), free(pred);
        return attx_fail(err, "out of memory");
    }
    int rc = 0;
    for (size_t k = 0; k < M; k++) {
        attx_eval_summary *s = &out[k];
        const attx_eval_row *rw = r->rows + k;
#define FIELD(f, mean, se)                                            \
        do {                                                          \
            for (size_t i = 0; i < N; i++) x[i] = rw[i * M].f;        \
            mean_se(x, N, 1, &s->mean, &s->se);                       \
        } while (0)
        FIELD(comp, comp, comp_se);
        FIELD(suff, suff, suff_se);
        FIELD(aopc_comp, aopc_comp, aopc_comp_se);
        FIELD(aopc_suff, aopc_suff, aopc_suff_se);
        FIELD(time_ms, time_ms, time_ms_se);
#undef FIELD
        double f = 0, b = 0;
        for (size_t i = 0; i < N; i++) {
            f += (double)rw[i * M].forward_passes;
            b += (double)rw[i * M].backward_passes;
            s->tied_examples += rw[i * M].tied_bins > 0;
            gold[i] = rw[i * M].gold;
            pred[i] = rw[i * M].suff_predicted;
        }
        s->forwards = f / (double)N;
        s->backwards = b / (double)N;
        if (attx_f1_scores(N, gold, pred, &s->f1_macro, &s->f1_weighted, err) != 0) rc = -1;
    }
    if (rc == 0 && (model_f1_macro || model_f1_weighted)) {
        for (size_t i = 0; i < N; i++) pred[i] = r->rows[i * M].predicted;
        double a, b;
        if (attx_f1_scores(N, gold, pred, &a, &b, err) != 0) rc = -1;
        if (model_f1_macro) *model_f1_macro = a;
        if (model_f1_weighted) *model_f1_weighted = b;
    }
    free(x), free(gold), free(pred);
    return rc;
}

double attx_pearson(const double *x, const double *y, int n)
{
    if (n < 2) return NAN;
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) mx += x[i], my += y[i];
    mx /= n;
    my /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    if (sxx <= 0 || syy <= 0) return NAN;
    return sxy / sqrt(sxx * syy);
}
