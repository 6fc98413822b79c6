/* methods_attention.c — methods read off the attention probabilities (and their gradients) of
 * the shared tape pass: P1's games on the influence matrix, Grad-SAM, P1's Att baseline and
 * P2's [CLS]-row attention. */
#include "methods_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum { GAME_CLS, GAME_MUTUAL, GAME_MAX_MUTUAL } game_shape;

/* Influence of the example, its game, and the requested Shapley values. */
static int influence_method(const method_ctx *mc, attx_influence_kind kind, game_shape shape,
                            attx_method_result *r, attx_error *err)
{
    int n = mc->n, rc = -1;
    double *M = shape == GAME_CLS ? NULL : malloc((size_t)n * (size_t)n * sizeof *M);
    double *cls = shape == GAME_CLS ? malloc((size_t)n * sizeof *cls) : NULL;
    attx_game g = {0};
    if ((shape == GAME_CLS && !cls) || (shape != GAME_CLS && !M)) {
        attx_fail(err, "out of memory");
        goto done;
    }
    if (attx_influence(mc->out, mc->cfg->num_layers, 0, kind, &mc->opt->layers, mc->first, n, M, cls, err) != 0)
        goto done;
    int made = shape == GAME_CLS ? attx_game_additive(&g, n, cls, err)
             : shape == GAME_MUTUAL ? attx_game_mutual(&g, n, M, err)
             : attx_game_max_mutual(&g, n, M, err);
    if (made != 0) goto done;
    rc = method_solve(&g, mc->opt, r, NULL, err);
done:
    attx_game_free(&g);
    free(M);
    free(cls);
    return rc;
}

int method_att_cls(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    return influence_method(mc, ATTX_INFLUENCE_ATT, GAME_CLS, r, err);
}
int method_grad_att_cls(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    return influence_method(mc, ATTX_INFLUENCE_GRAD_ATT, GAME_CLS, r, err);
}
int method_att_mutual(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    return influence_method(mc, ATTX_INFLUENCE_ATT, GAME_MUTUAL, r, err);
}
int method_grad_att_mutual(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    return influence_method(mc, ATTX_INFLUENCE_GRAD_ATT, GAME_MUTUAL, r, err);
}
int method_att_max_mutual(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    return influence_method(mc, ATTX_INFLUENCE_ATT, GAME_MAX_MUTUAL, r, err);
}
int method_grad_att_max_mutual(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    return influence_method(mc, ATTX_INFLUENCE_GRAD_ATT, GAME_MAX_MUTUAL, r, err);
}

/* Per query token of the players: sum over all keys of A (or A * ReLU(dA)), summed over heads
 * and layers, divided by H * L * T (P1's Att and Grad-SAM; T = the unpadded length, where P1
 * divides Att by the padded one: the same ranking). */
static int row_sum_method(const method_ctx *mc, int grad, attx_method_result *r, attx_error *err)
{
    const attx_layer_set *ls = &mc->opt->layers;
    int L = ls->n_layers > 0 ? ls->n_layers : mc->cfg->num_layers, T = mc->T;
    int64_t H = mc->out->attn[0]->shape[1];
    if (mc->out->attn[0]->shape[2] != T)
        return attx_fail(err, "needs every token's attention row; this model's attention has only the [CLS] row "
                              "(attn1: use att-avg, att-max or att-cls)");
    memset(r->scores, 0, (size_t)mc->n * sizeof *r->scores);
    /* Att (grad = 0): every row of A sums to 1, so every token's score is 1/T up to the rows'
     * rounding (~1e-7 each). P1 sums in float32, whose precision at H·L (the sum of the rows)
     * rounds those errors away, and its tokens tie exactly. attx sums in double and rounds the
     * total to float32 once, which ties them in the same way (and more reliably than
     * reproducing PyTorch's order of float32 additions). How the tie is broken is then the
     * evaluation's tie rule, not noise. */
    for (int k = 0; k < L; k++) {
        int l = ls->n_layers > 0 ? ls->layers[k] : k;
        if (l < 0 || l >= mc->cfg->num_layers)
            return attx_fail(err, "layer %d is out of range (the model has %d layers, numbered from 0)", l,
                             mc->cfg->num_layers);
        const attx_tensor *a = mc->out->attn[l];
        for (int64_t h = 0; h < H; h++)
            for (int i = 0; i < mc->n; i++) {
                size_t row = (size_t)((h * T + mc->first + i) * T);
                double s = 0;
                for (int j = 0; j < T; j++) {
                    double g = grad ? (double)a->grad[row + (size_t)j] : 1.0;
                    s += (double)a->data[row + (size_t)j] * (g > 0 ? g : 0.0);
                }
                r->scores[i] += s;
            }
    }
    for (int i = 0; i < mc->n; i++)
        r->scores[i] = grad ? r->scores[i] / ((double)H * L * T) : (double)((float)r->scores[i] / (float)(H * L * T));
    strcpy(r->how, grad ? "sum over keys of A*ReLU(dA) / (H L T)" : "sum over keys of A / (H L T) (= 1/T: degenerate)");
    return 0;
}

int method_grad_sam(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    return row_sum_method(mc, 1, r, err);
}
int method_att(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    return row_sum_method(mc, 0, r, err);
}

/* P2's alpha-avg / alpha-max: the [CLS] query row of A, mean or max over heads; the last layer
 * unless layers are chosen (then the mean over them, or the max over heads and them). */
static int cls_row_method(const method_ctx *mc, int use_max, attx_method_result *r, attx_error *err)
{
    const attx_layer_set *ls = &mc->opt->layers;
    int L = ls->n_layers > 0 ? ls->n_layers : 1;
    int64_t H = mc->out->attn[0]->shape[1], rows = mc->out->attn[0]->shape[2], T = mc->out->attn[0]->shape[3];
    for (int i = 0; i < mc->n; i++) r->scores[i] = use_max ? -INFINITY : 0.0;
    for (int k = 0; k < L; k++) {
        int l = ls->n_layers > 0 ? ls->layers[k] : mc->cfg->num_layers - 1;
        if (l < 0 || l >= mc->cfg->num_layers)
            return attx_fail(err, "layer %d is out of range (the model has %d layers, numbered from 0)", l,
                             mc->cfg->num_layers);
        const float *A = mc->out->attn[l]->data;
        for (int64_t h = 0; h < H; h++)
            for (int i = 0; i < mc->n; i++) {
                double a = A[(size_t)(h * rows * T) + (size_t)(mc->first + i)];   /* row 0 of head h */
                r->scores[i] = use_max ? fmax(r->scores[i], a) : r->scores[i] + a;
            }
    }
    if (!use_max)
        for (int i = 0; i < mc->n; i++) r->scores[i] /= (double)H * L;
    strcpy(r->how, ls->n_layers > 0 ? "[CLS] row, chosen layers" : "[CLS] row, last layer");
    return 0;
}

int method_att_avg(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    return cls_row_method(mc, 0, r, err);
}
int method_att_max(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    return cls_row_method(mc, 1, r, err);
}
