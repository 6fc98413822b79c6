/* optim.c — what a training step does after the backward pass: the global gradient norm and
 * its clipping, the learning-rate schedule, and AdamW, each as PyTorch / Hugging Face define
 * them (torch.nn.utils.clip_grad_norm_, transformers' linear schedule with warm-up,
 * torch.optim.AdamW without amsgrad). Everything runs in parameter order, element by element,
 * so the result does not depend on the number of threads. */
#include "attx_engine.h"
#include "parallel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

attx_adamw_config attx_adamw_defaults(void)
{
    /* torch.optim.AdamW's defaults */
    return (attx_adamw_config){.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 1e-2};
}

int attx_adamw_init(attx_adamw *opt, attx_tensor *const *params, const uint8_t *decay, size_t n,
                    const attx_adamw_config *cfg, attx_error *err)
{
    memset(opt, 0, sizeof *opt);
    opt->cfg = *cfg;
    opt->n = n;
    opt->params = malloc(n * sizeof *opt->params);
    opt->decay = malloc(n ? n : 1);
    opt->lr_scale = malloc((n ? n : 1) * sizeof *opt->lr_scale);
    opt->m = calloc(n ? n : 1, sizeof *opt->m);
    opt->v = calloc(n ? n : 1, sizeof *opt->v);
    if (cfg->ema > 0) opt->avg = calloc(n ? n : 1, sizeof *opt->avg);
    if (!opt->params || !opt->decay || !opt->lr_scale || !opt->m || !opt->v || (cfg->ema > 0 && !opt->avg)) goto oom;
    for (size_t i = 0; i < n; i++) {
        opt->params[i] = params[i];
        opt->decay[i] = decay ? decay[i] : 1;
        opt->lr_scale[i] = 1.0;
        opt->m[i] = calloc((size_t)params[i]->numel, sizeof(float));
        opt->v[i] = calloc((size_t)params[i]->numel, sizeof(float));
        if (!opt->m[i] || !opt->v[i]) goto oom;
        if (opt->avg) {
            if (!(opt->avg[i] = malloc((size_t)params[i]->numel * sizeof(float)))) goto oom;
            memcpy(opt->avg[i], params[i]->data, (size_t)params[i]->numel * sizeof(float));
        }
    }
    return 0;
oom:
    attx_adamw_free(opt);
    return attx_fail(err, "out of memory for the optimizer state of %zu parameters", n);
}

void attx_adamw_free(attx_adamw *opt)
{
    for (size_t i = 0; opt->m && opt->v && i < opt->n; i++) {
        free(opt->m[i]);
        free(opt->v[i]);
        if (opt->avg) free(opt->avg[i]);
    }
    free(opt->m);
    free(opt->v);
    free(opt->avg);
    free(opt->params);
    free(opt->decay);
    free(opt->lr_scale);
    memset(opt, 0, sizeof *opt);
}

/* One step with learning rate lr (the schedule's value for this step). Parameters without a
 * gradient (nothing flowed into them) are left alone, as PyTorch skips p.grad = None. The
 * float arithmetic follows torch's order of operations:
 *   p ← p · (1 − lr·λ)                              decoupled weight decay
 *   m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g·g  first and second moments
 *   p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)   bias-corrected update */
void attx_adamw_step(attx_adamw *opt, double lr)
{
    const attx_adamw_config *c = &opt->cfg;
    opt->step++;
    double bias1 = 1.0 - pow(c->beta1, (double)opt->step);
    double bias2 = 1.0 - pow(c->beta2, (double)opt->step);
    float b1 = (float)c->beta1, one_minus_b1 = (float)(1.0 - c->beta1);
    float b2 = (float)c->beta2, one_minus_b2 = (float)(1.0 - c->beta2);
    float bias2_sqrt = (float)sqrt(bias2), eps = (float)c->eps;
    for (size_t i = 0; i < opt->n; i++) {
        attx_tensor *p = opt->params[i];
        if (!p->grad) continue;
        /* the parameter's own rate (a parameter group of its own in PyTorch's terms) */
        double lr_i = opt->lr_scale[i] == 1.0 ? lr : lr * opt->lr_scale[i];
        float shrink = (float)(1.0 - lr_i * c->weight_decay), step_size = (float)(lr_i / bias1);
        float *w = p->data, *m = opt->m[i], *v = opt->v[i];
        const float *g = p->grad;
        int decay = opt->decay[i] && c->weight_decay != 0;
#pragma omp parallel for if (ATTX_PARALLEL(ATTX_WORK_STREAM, p->numel))
        for (int64_t k = 0; k < p->numel; k++) {
            if (decay) w[k] = w[k] * shrink;
            m[k] = m[k] * b1 + one_minus_b1 * g[k];
            v[k] = v[k] * b2 + one_minus_b2 * g[k] * g[k];
            float denom = sqrtf(v[k]) / bias2_sqrt + eps;
            w[k] = w[k] - step_size * m[k] / denom;
        }
    }
    if (opt->avg) {
        /* Polyak averaging as an exponential moving average, with TensorFlow's
         * ExponentialMovingAverage(num_updates) warm-up of the decay, so that the first
         * steps (and a new classifier's random start) are forgotten quickly */
        double t = (double)opt->step;
        double d = (1.0 + t) / (10.0 + t) < c->ema ? (1.0 + t) / (10.0 + t) : c->ema;
        float keep = (float)d, take = (float)(1.0 - d);
        for (size_t i = 0; i < opt->n; i++) {
            float *a = opt->avg[i];
            const float *w = opt->params[i]->data;
#pragma omp parallel for if (ATTX_PARALLEL(ATTX_WORK_STREAM, opt->params[i]->numel))
            for (int64_t k = 0; k < opt->params[i]->numel; k++) a[k] = keep * a[k] + take * w[k];
        }
    }
}

void attx_adamw_swap_average(attx_adamw *opt)
{
    for (size_t i = 0; opt->avg && i < opt->n; i++) {
        float *a = opt->avg[i], *w = opt->params[i]->data;
        for (int64_t k = 0; k < opt->params[i]->numel; k++) {
            float keep = w[k];
            w[k] = a[k];
            a[k] = keep;
        }
    }
}

/* ‖g‖₂ over all parameters together (each parameter's norm, then the norm of those norms, as
 * clip_grad_norm_ computes it); when it exceeds max_norm every gradient is multiplied by
 * max_norm / (‖g‖₂ + 1e-6). max_norm ≤ 0 only measures. Returns the norm before clipping. */
double attx_clip_grad_norm(attx_tensor *const *params, size_t n, double max_norm)
{
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!params[i]->grad) continue;
        double sq = 0;
        for (int64_t k = 0; k < params[i]->numel; k++) sq += (double)params[i]->grad[k] * params[i]->grad[k];
        total += sq;
    }
    double norm = sqrt(total);
    double coef = max_norm / (norm + 1e-6);
    if (max_norm > 0 && coef < 1.0) {
        float scale = (float)coef;
        for (size_t i = 0; i < n; i++)
            for (int64_t k = 0; params[i]->grad && k < params[i]->numel; k++) params[i]->grad[k] *= scale;
    }
    return norm;
}

/* Multiplier of the base learning rate at optimizer step `step` (0-based): a linear ramp from
 * 0 over `warmup` steps, then a linear decay to 0 at `total` (transformers'
 * get_linear_schedule_with_warmup). */
double attx_linear_schedule(int64_t step, int64_t warmup, int64_t total)
{
    if (step < warmup) return (double)step / (double)(warmup > 1 ? warmup : 1);
    double left = (double)(total - step) / (double)(total - warmup > 1 ? total - warmup : 1);
    return left > 0 ? left : 0;
}
