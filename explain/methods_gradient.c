/* methods_gradient.c — P2's gradient explanations (research-notes §2.2) on the explained
 * logit's gradient with respect to inputs_embeds, from the shared tape pass. */
#include "methods_internal.h"

#include <math.h>
#include <string.h>

typedef enum { GRAD_AVG, GRAD_L1, GRAD_L2, GRAD_X_INPUT } grad_reduce;

/* Row of inputs_embeds that holds player i: text rows are token positions; ViT's rows are the
 * patches (the projection output, before [CLS] is prepended). */
static int player_row(const method_ctx *mc, int i)
{
    return mc->cfg->arch == ATTX_ARCH_VIT ? i : mc->first + i;
}

static int gradient_method(const method_ctx *mc, grad_reduce how, attx_method_result *r, attx_error *err)
{
    const attx_tensor *e = mc->out->inputs_embeds;
    if (!e || !e->grad) return attx_fail(err, "no gradient with respect to the input embeddings");
    int64_t D = e->shape[2];
    for (int i = 0; i < mc->n; i++) {
        const float *x = e->data + (size_t)(player_row(mc, i) * D), *g = e->grad + (size_t)(player_row(mc, i) * D);
        double s = 0;
        for (int64_t k = 0; k < D; k++) {
            switch (how) {
            case GRAD_AVG: s += g[k]; break;
            case GRAD_L1: s += fabs((double)g[k]); break;
            case GRAD_L2: s += (double)g[k] * g[k]; break;
            case GRAD_X_INPUT: s += (double)x[k] * g[k]; break;
            }
        }
        r->scores[i] = how == GRAD_AVG ? s / (double)D : how == GRAD_L2 ? sqrt(s) : s;
    }
    strcpy(r->how, mc->cfg->arch == ATTX_ARCH_VIT ? "w.r.t. patch embeddings" : "w.r.t. word embeddings");
    return 0;
}

int method_grad_avg(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    return gradient_method(mc, GRAD_AVG, r, err);
}
int method_grad_l1(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    return gradient_method(mc, GRAD_L1, r, err);
}
int method_grad_l2(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    return gradient_method(mc, GRAD_L2, r, err);
}
int method_grad_x_input(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    return gradient_method(mc, GRAD_X_INPUT, r, err);
}
