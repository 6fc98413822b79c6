/* p2_theory.c — the closed forms of Lopardo et al. (P2) for the one-layer attn1 classifier
 * (research-notes §2.3, §2.4): Theorem 4.1's gradient and Eq. (19)'s LIME approximation,
 * computed in double from the weights and one forward pass. */
#include "attx_explain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* attn1's weight matrices, by their stored names. */
typedef struct attn1_mats {
    const float *Wq, *Wk, *Wv, *Wl;   /* [K*da, D], [K*da, D], [K*dv, D], [C, K*dv] */
    int K, D, da, dv, C, T;
} attn1_mats;

static int attn1_mats_get(const attx_model *m, attn1_mats *w, attx_error *err)
{
    const attx_config *c = m ? attx_model_config(m) : NULL;
    if (!c || c->arch != ATTX_ARCH_ATTN1) return attx_fail(err, "P2's closed forms are for attn1 models");
    if (!attx_model_has_classifier(m)) return attx_fail(err, "the attn1 model has no classifier");
    memset(w, 0, sizeof *w);
    size_t np = attx_model_params(m, NULL, NULL);
    attx_tensor **params = malloc(np * sizeof *params);
    const char **names = malloc(np * sizeof *names);
    if (!params || !names) {
        free(params);
        free(names);
        return attx_fail(err, "out of memory");
    }
    attx_model_params(m, params, names);
    for (size_t i = 0; i < np; i++) {
        if (!params[i]) continue;
        if (strcmp(names[i], "attn1.query.weight") == 0) w->Wq = params[i]->data;
        else if (strcmp(names[i], "attn1.key.weight") == 0) w->Wk = params[i]->data;
        else if (strcmp(names[i], "attn1.value.weight") == 0) w->Wv = params[i]->data;
        else if (strcmp(names[i], "attn1.classifier.weight") == 0) w->Wl = params[i]->data;
    }
    free(params);
    free(names);
    if (!w->Wq || !w->Wk || !w->Wv || !w->Wl) return attx_fail(err, "attn1: a weight matrix is missing");
    w->K = c->num_heads;
    w->D = c->hidden_size;
    w->da = c->head_dim;
    w->dv = c->value_dim;
    w->C = c->num_labels;
    w->T = c->max_position_embeddings;
    return 0;
}

/* lv[t] = w^i . v_t^i for head i, class row klass: W_l[klass, i dv .. (i+1) dv] W_v^i e_t. */
static void head_value_logits(const attn1_mats *w, int i, int klass, const float *e, double *lv)
{
    const float *wl = w->Wl + (size_t)klass * (size_t)(w->K * w->dv) + (size_t)(i * w->dv);
    for (int t = 0; t < w->T; t++) {
        double s = 0;
        for (int r = 0; r < w->dv; r++) {
            const float *row = w->Wv + (size_t)(i * w->dv + r) * (size_t)w->D;
            double v = 0;
            for (int k = 0; k < w->D; k++) v += (double)row[k] * e[(size_t)t * (size_t)w->D + (size_t)k];
            s += wl[r] * v;
        }
        lv[t] = s;
    }
}

int attx_attn1_theorem41(const attx_model *m, const float *e, const float *alpha, int klass, double *grad,
                         attx_error *err)
{
    attn1_mats w;
    if (attn1_mats_get(m, &w, err) != 0) return -1;
    if (!e || !alpha || !grad) return attx_fail(err, "theorem 4.1: NULL input");
    if (klass < 0 || klass >= w.C) return attx_fail(err, "theorem 4.1: class %d out of range (%d)", klass, w.C);
    int T = w.T, D = w.D;
    double *lv = malloc((size_t)T * sizeof *lv), *q0 = malloc((size_t)w.da * sizeof *q0);
    double *wv = malloc((size_t)D * sizeof *wv), *kq = malloc((size_t)D * sizeof *kq);
    if (!lv || !q0 || !wv || !kq) {
        free(lv), free(q0), free(wv), free(kq);
        return attx_fail(err, "out of memory");
    }
    memset(grad, 0, (size_t)T * (size_t)D * sizeof *grad);
    for (int i = 0; i < w.K; i++) {
        const float *a = alpha + (size_t)i * (size_t)T;
        const float *wl = w.Wl + (size_t)klass * (size_t)(w.K * w.dv) + (size_t)(i * w.dv);   /* w^i [dv] */
        for (int r = 0; r < w.da; r++) {                       /* q_0 = W_q^i e_0 */
            double s = 0;
            for (int k = 0; k < D; k++) s += (double)w.Wq[(size_t)(i * w.da + r) * (size_t)D + (size_t)k] * e[k];
            q0[r] = s;
        }
        head_value_logits(&w, i, klass, e, lv);
        double fi = 0;                                         /* f_i = sum_s alpha_s w.v_s */
        for (int t = 0; t < T; t++) fi += a[t] * lv[t];
        for (int k = 0; k < D; k++) {                          /* W_v^T w and W_k^T q_0 */
            double s1 = 0, s2 = 0;
            for (int r = 0; r < w.dv; r++) s1 += (double)w.Wv[(size_t)(i * w.dv + r) * (size_t)D + (size_t)k] * wl[r];
            for (int r = 0; r < w.da; r++) s2 += (double)w.Wk[(size_t)(i * w.da + r) * (size_t)D + (size_t)k] * q0[r];
            wv[k] = s1;
            kq[k] = s2;
        }
        for (int t = 1; t < T; t++)
            for (int k = 0; k < D; k++)
                grad[(size_t)t * (size_t)D + (size_t)k] +=
                    a[t] * (wv[k] + (lv[t] - fi) * kq[k] / sqrt((double)w.da)) / w.K;
    }
    free(lv), free(q0), free(wv), free(kq);
    return 0;
}

/* One tape forward of ids[T]: e [T*D] and alpha [K*T] copied out. */
static int forward_e_alpha(const attx_model *m, const int32_t *ids, int T, float *e, float *alpha, attx_error *err)
{
    attx_ctx *ctx = attx_ctx_new();
    if (!ctx) return attx_fail(err, "out of memory");
    attx_ctx_set_tape(ctx, 1);
    attx_outputs out;
    attx_batch batch = {.B = 1, .T = T, .ids = ids, .lengths = &T};
    int rc = attx_forward(m, ctx, &batch, &out, err);
    if (rc == 0) {
        memcpy(e, out.inputs_embeds->data, (size_t)out.inputs_embeds->numel * sizeof *e);
        memcpy(alpha, out.attn[0]->data, (size_t)out.attn[0]->numel * sizeof *alpha);
    }
    attx_ctx_free(ctx);
    return rc;
}

int attx_attn1_lime_approx(const attx_model *m, const int32_t *ids, int length, int klass, const int *feature_of,
                           int d, double *beta, attx_error *err)
{
    attn1_mats w;
    if (attn1_mats_get(m, &w, err) != 0) return -1;
    int T = w.T, D = w.D, n = length - 1, rc = -1;
    if (!ids || !feature_of || !beta || length < 2 || length > T || d < 1)
        return attx_fail(err, "eq. (19): bad arguments (need [cls] w1..wn with 1 <= n < T and d >= 1 features)");
    if (klass < 0 || klass >= w.C) return attx_fail(err, "eq. (19): class %d out of range (%d)", klass, w.C);
    const attx_wordpiece *wp = attx_model_tokenizer(m);
    int32_t unk = wp ? attx_wordpiece_special_ids(wp).unk : 1;
    int32_t *full = malloc((size_t)T * sizeof *full), *blank = malloc((size_t)T * sizeof *blank);
    float *e = malloc((size_t)T * (size_t)D * sizeof *e), *eu = malloc((size_t)T * (size_t)D * sizeof *eu);
    float *a = malloc((size_t)w.K * (size_t)T * sizeof *a), *au = malloc((size_t)w.K * (size_t)T * sizeof *au);
    double *lv = malloc((size_t)T * sizeof *lv), *lvu = malloc((size_t)T * sizeof *lvu);
    if (!full || !blank || !e || !eu || !a || !au || !lv || !lvu) {
        attx_fail(err, "out of memory");
        goto done;
    }
    for (int t = 0; t < T; t++) {
        full[t] = t < length ? ids[t] : unk;
        blank[t] = t == 0 ? ids[0] : unk;      /* the all-UNK document; [cls] stays, so q_0 is the same */
    }
    for (int t = 0; t < n; t++)
        if (feature_of[t] < 0 || feature_of[t] >= d) {
            attx_fail(err, "eq. (19): word %d has feature %d (d = %d)", t, feature_of[t], d);
            goto done;
        }
    if (forward_e_alpha(m, full, T, e, a, err) != 0 || forward_e_alpha(m, blank, T, eu, au, err) != 0) goto done;
    memset(beta, 0, (size_t)d * sizeof *beta);
    /* beta_j = (3/2) (1/K) sum_i sum_{t in T_j} w^i . (alpha_t v_t - alpha~_t v~_t) */
    for (int i = 0; i < w.K; i++) {
        head_value_logits(&w, i, klass, e, lv);
        head_value_logits(&w, i, klass, eu, lvu);
        for (int t = 1; t <= n; t++)
            beta[feature_of[t - 1]] += 1.5 / w.K * (a[(size_t)i * (size_t)T + (size_t)t] * lv[t] -
                                                   au[(size_t)i * (size_t)T + (size_t)t] * lvu[t]);
    }
    rc = 0;
done:
    free(full), free(blank), free(e), free(eu), free(a), free(au), free(lv), free(lvu);
    return rc;
}
