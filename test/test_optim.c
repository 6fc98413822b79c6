/* test_optim.c — the training step against PyTorch (tools/reference/make_optim_fixture.py):
 * gradient-norm clipping, the linear warm-up schedule and AdamW over six steps, the
 * cross-entropy loss and its gradient; plus a finite-difference check of the loss. */
#include "testutil.h"

#include <math.h>

#include "attx_engine.h"
#include "tape.h"

#define FIXTURE "test/fixtures/optim/reference.safetensors"
#define STEPS 6
#define N_PARAMS 3

static attx_tensor_file ref;

static float *load(const char *fmt, int a, int b, int64_t *numel)
{
    char name[64];
    snprintf(name, sizeof name, fmt, a, b);
    const attx_stored_tensor *t = attx_tensor_file_find(&ref, name);
    if (!t) fail_msg("%s: no tensor %s", FIXTURE, name);
    float *data = malloc(t->numel * sizeof(float));
    attx_error err;
    if (attx_stored_tensor_to_f32(t, data, &err) != 0) fail_msg("%s", err.msg);
    if (numel) *numel = (int64_t)t->numel;
    return data;
}

static int setup(void **state)
{
    (void)state;
    attx_error err;
    if (attx_safetensors_open(&ref, FIXTURE, &err) != 0) fail_msg("%s", err.msg);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    attx_tensor_file_close(&ref);
    return 0;
}

/* The fixture's parameters at their initial values, with room for a gradient. */
static void init_params(attx_tensor *params, attx_tensor **list)
{
    for (int i = 0; i < N_PARAMS; i++) {
        memset(&params[i], 0, sizeof params[i]);
        params[i].data = load("p%d.init", i, 0, &params[i].numel);
        params[i].grad = malloc((size_t)params[i].numel * sizeof(float));
        params[i].ndim = 1;
        params[i].shape[0] = params[i].numel;
        list[i] = &params[i];
    }
}

static void test_schedule(void **state)
{
    (void)state;
    /* warm-up 2, total 6: 0, 1/2, then 1, 3/4, 1/2, 1/4, and 0 from the end on */
    const double expect[] = {0, 0.5, 1, 0.75, 0.5, 0.25, 0, 0};
    for (int s = 0; s < 8; s++) assert_true(fabs(attx_linear_schedule(s, 2, 6) - expect[s]) < 1e-15);
    assert_true(attx_linear_schedule(0, 0, 10) == 1.0);     /* no warm-up */
    assert_true(attx_linear_schedule(5, 0, 10) == 0.5);
}

/* Six steps of clip_grad_norm_(1.0) + AdamW + schedule, as PyTorch ran them. */
static void test_adamw_matches_torch(void **state)
{
    (void)state;
    attx_tensor params[N_PARAMS];
    attx_tensor *list[N_PARAMS];
    init_params(params, list);
    const uint8_t decay[N_PARAMS] = {1, 0, 1};               /* p1 is in the no-decay group */
    attx_adamw_config cfg = attx_adamw_defaults();
    cfg.lr = 0.01;
    cfg.weight_decay = 0.1;
    attx_adamw opt;
    attx_error err;
    assert_int_equal(attx_adamw_init(&opt, list, decay, N_PARAMS, &cfg, &err), 0);
    double worst = 0;
    for (int s = 0; s < STEPS; s++) {
        for (int i = 0; i < N_PARAMS; i++) {
            float *g = load("grad.%d.%d", s, i, NULL);
            memcpy(params[i].grad, g, (size_t)params[i].numel * sizeof(float));
            free(g);
        }
        float *norm = load("norm.%d", s, 0, NULL), *lr = load("lr.%d", s, 0, NULL);
        double got_norm = attx_clip_grad_norm(list, N_PARAMS, 1.0);
        assert_true(fabs(got_norm - norm[0]) < 1e-6 * norm[0]);
        double rate = cfg.lr * attx_linear_schedule(s, 2, STEPS);
        assert_true(fabs(rate - lr[0]) < 1e-9);
        attx_adamw_step(&opt, rate);
        for (int i = 0; i < N_PARAMS; i++) {
            float *want = load("p%d.after.%d", i, s, NULL);
            for (int64_t k = 0; k < params[i].numel; k++) {
                double e = fabs((double)params[i].data[k] - want[k]);
                worst = fmax(worst, e);
                if (e > 2e-6 * fmax(1.0, fabs(want[k])))
                    fail_msg("step %d p%d[%lld]: attx %.9g torch %.9g", s, i, (long long)k,
                             params[i].data[k], want[k]);
            }
            free(want);
        }
        free(norm);
        free(lr);
    }
    print_message("AdamW, 6 steps: largest difference from PyTorch %.3g\n", worst);
    assert_int_equal(opt.step, STEPS);
    attx_adamw_free(&opt);
    for (int i = 0; i < N_PARAMS; i++) {
        free(params[i].data);
        free(params[i].grad);
    }
}

/* The weights' moving average (--ema) follows its recurrence, computed here in double from the
 * weights after each step: avg_t = d_t·avg_{t−1} + (1 − d_t)·w_t, d_t = min(D, (1+t)/(10+t)),
 * avg_0 = the initial weights; a swap exchanges weights and average exactly. */
static void test_weight_average(void **state)
{
    (void)state;
    attx_tensor params[N_PARAMS];
    attx_tensor *list[N_PARAMS];
    double *want[N_PARAMS];
    init_params(params, list);
    for (int i = 0; i < N_PARAMS; i++) {
        want[i] = malloc((size_t)params[i].numel * sizeof(double));
        for (int64_t k = 0; k < params[i].numel; k++) want[i][k] = params[i].data[k];
    }
    attx_adamw_config cfg = attx_adamw_defaults();
    cfg.lr = 0.05;
    cfg.ema = 0.3;   /* small, so that both branches of the min are taken within six steps */
    attx_adamw opt;
    attx_error err;
    assert_int_equal(attx_adamw_init(&opt, list, NULL, N_PARAMS, &cfg, &err), 0);
    int took_cap = 0;
    for (int s = 0; s < STEPS; s++) {
        for (int i = 0; i < N_PARAMS; i++) {
            float *g = load("grad.%d.%d", s, i, NULL);
            memcpy(params[i].grad, g, (size_t)params[i].numel * sizeof(float));
            free(g);
        }
        attx_adamw_step(&opt, cfg.lr);
        double t = (double)(s + 1), d = fmin(cfg.ema, (1 + t) / (10 + t));
        took_cap += d == cfg.ema;
        for (int i = 0; i < N_PARAMS; i++)
            for (int64_t k = 0; k < params[i].numel; k++) {
                want[i][k] = d * want[i][k] + (1 - d) * params[i].data[k];
                if (fabs(opt.avg[i][k] - want[i][k]) > 1e-6 * fmax(1.0, fabs(want[i][k])))
                    fail_msg("step %d p%d[%lld]: average %.9g, recurrence %.9g", s, i, (long long)k,
                             opt.avg[i][k], want[i][k]);
            }
    }
    assert_true(took_cap > 0 && took_cap < STEPS);
    /* swap: the parameters hold the average, and a second swap restores them bit for bit */
    float *before = malloc((size_t)params[0].numel * sizeof(float)), *avg = malloc((size_t)params[0].numel * sizeof(float));
    memcpy(before, params[0].data, (size_t)params[0].numel * sizeof(float));
    memcpy(avg, opt.avg[0], (size_t)params[0].numel * sizeof(float));
    attx_adamw_swap_average(&opt);
    assert_memory_equal(params[0].data, avg, (size_t)params[0].numel * sizeof(float));
    assert_memory_not_equal(params[0].data, before, (size_t)params[0].numel * sizeof(float));
    attx_adamw_swap_average(&opt);
    assert_memory_equal(params[0].data, before, (size_t)params[0].numel * sizeof(float));
    free(before);
    free(avg);
    attx_adamw_free(&opt);
    for (int i = 0; i < N_PARAMS; i++) {
        free(params[i].data);
        free(params[i].grad);
        free(want[i]);
    }
}

/* Clipping leaves small gradients alone and measures only with max_norm ≤ 0. */
static void test_clip_edges(void **state)
{
    (void)state;
    float g[2] = {3, 4}, d[2] = {0, 0};
    attx_tensor t = {.data = d, .grad = g, .ndim = 1, .shape = {2}, .numel = 2};
    attx_tensor *list[1] = {&t};
    assert_true(attx_clip_grad_norm(list, 1, 0) == 5.0);
    assert_true(g[0] == 3 && g[1] == 4);
    assert_true(attx_clip_grad_norm(list, 1, 10) == 5.0);
    assert_true(g[0] == 3 && g[1] == 4);
    assert_true(attx_clip_grad_norm(list, 1, 1) == 5.0);
    assert_true(fabs(g[0] - 0.6) < 1e-6 && fabs(g[1] - 0.8) < 1e-6);
}

static void test_cross_entropy(void **state)
{
    (void)state;
    int64_t n;
    float *logits = load("ce.logits", 0, 0, &n), *loss = load("ce.loss", 0, 0, NULL);
    float *grad = load("ce.grad", 0, 0, NULL);
    const attx_stored_tensor *lt = attx_tensor_file_find(&ref, "ce.labels");   /* I64 */
    assert_non_null(lt);
    assert_int_equal(lt->numel, 4);
    int32_t labels[4];
    for (int b = 0; b < 4; b++) {
        int64_t v;
        memcpy(&v, lt->data + 8 * b, 8);
        labels[b] = (int32_t)v;
    }
    attx_ctx *ctx = attx_ctx_new();
    attx_ctx_set_tape(ctx, 1);
    int64_t shape[2] = {4, 3};
    attx_tensor *z = attx_tensor_wrap(ctx, logits, 2, shape);
    z->flags |= ATTX_REQUIRES_GRAD;
    attx_tensor *l = attx_cross_entropy(ctx, z, labels, 0);
    assert_non_null(l);
    assert_true(fabs(l->data[0] - loss[0]) < 1e-6);
    assert_int_equal(attx_backward(ctx, l, NULL), 0);
    for (int i = 0; i < 12; i++) assert_true(fabs(z->grad[i] - grad[i]) < 1e-7);

    /* central differences in double of the same loss (a different computation) */
    for (int i = 0; i < 12; i++) {
        double f[2];
        for (int side = 0; side < 2; side++) {
            double h = side ? -1e-4 : 1e-4, total = 0;
            for (int b = 0; b < 4; b++) {
                double zb[3], mx = -INFINITY, sum = 0;
                for (int c = 0; c < 3; c++) {
                    zb[c] = logits[b * 3 + c] + (b * 3 + c == i ? h : 0);
                    mx = fmax(mx, zb[c]);
                }
                for (int c = 0; c < 3; c++) sum += exp(zb[c] - mx);
                total += log(sum) + mx - zb[labels[b]];
            }
            f[side] = total / 4;
        }
        assert_true(fabs((f[0] - f[1]) / 2e-4 - z->grad[i]) < 1e-6);
    }
    attx_ctx_free(ctx);
    free(logits);
    free(loss);
    free(grad);
}

/* Label smoothing 0.1: loss and gradient equal PyTorch's cross_entropy(..., label_smoothing=0.1)
 * on the same logits, and the gradient equals central differences of the smoothed loss written
 * out as Σ_c q[c] (logsumexp − z[c]) in double. */
static void test_cross_entropy_label_smoothing(void **state)
{
    (void)state;
    float *logits = load("ce.logits", 0, 0, NULL), *loss = load("ce_ls.loss", 0, 0, NULL);
    float *grad = load("ce_ls.grad", 0, 0, NULL);
    const int32_t labels[4] = {0, 2, 1, 2};   /* ce.labels of the fixture */
    const double eps = 0.1;
    attx_ctx *ctx = attx_ctx_new();
    attx_ctx_set_tape(ctx, 1);
    int64_t shape[2] = {4, 3};
    attx_tensor *z = attx_tensor_wrap(ctx, logits, 2, shape);
    z->flags |= ATTX_REQUIRES_GRAD;
    attx_tensor *l = attx_cross_entropy(ctx, z, labels, eps);
    assert_non_null(l);
    assert_true(fabs(l->data[0] - loss[0]) < 1e-6);
    assert_int_equal(attx_backward(ctx, l, NULL), 0);
    for (int i = 0; i < 12; i++) assert_true(fabs(z->grad[i] - grad[i]) < 1e-7);
    for (int i = 0; i < 12; i++) {
        double f[2];
        for (int side = 0; side < 2; side++) {
            double h = side ? -1e-4 : 1e-4, total = 0;
            for (int b = 0; b < 4; b++) {
                double zb[3], mx = -INFINITY, sum = 0;
                for (int c = 0; c < 3; c++) {
                    zb[c] = logits[b * 3 + c] + (b * 3 + c == i ? h : 0);
                    mx = fmax(mx, zb[c]);
                }
                for (int c = 0; c < 3; c++) sum += exp(zb[c] - mx);
                for (int c = 0; c < 3; c++) {
                    double q = (c == labels[b] ? 1 - eps : 0) + eps / 3;
                    total += q * (log(sum) + mx - zb[c]);
                }
            }
            f[side] = total / 4;
        }
        assert_true(fabs((f[0] - f[1]) / 2e-4 - z->grad[i]) < 1e-6);
    }
    attx_ctx_free(ctx);
    free(logits);
    free(loss);
    free(grad);
}

/* A learning rate per parameter (lr_scale): PyTorch's AdamW with one parameter group per
 * tensor, lr 0.01 x (1, 0.5, 0.25), under the same linear schedule. */
static void test_adamw_lr_scales(void **state)
{
    (void)state;
    attx_tensor q[3];
    attx_tensor *list[3];
    for (int i = 0; i < 3; i++) {
        int64_t n;
        float *init = load("lrs.q%d.init", i, 0, &n);
        q[i] = (attx_tensor){.data = init, .grad = calloc((size_t)n, sizeof(float)), .ndim = 1, .shape = {n}, .numel = n};
        list[i] = &q[i];
    }
    attx_adamw_config cfg = attx_adamw_defaults();
    cfg.lr = 0.01;
    cfg.weight_decay = 0.1;
    attx_adamw opt;
    attx_error err;
    assert_int_equal(attx_adamw_init(&opt, list, NULL, 3, &cfg, &err), 0);
    for (int i = 0; i < 3; i++) assert_true(opt.lr_scale[i] == 1.0);
    opt.lr_scale[1] = 0.5;
    opt.lr_scale[2] = 0.25;
    double worst = 0;
    for (int s = 0; s < 4; s++) {
        for (int i = 0; i < 3; i++) {
            float *g = load("lrs.grad.%d.%d", s, i, NULL);
            memcpy(q[i].grad, g, (size_t)q[i].numel * sizeof(float));
            free(g);
        }
        attx_adamw_step(&opt, cfg.lr * attx_linear_schedule(s, 2, STEPS));
        for (int i = 0; i < 3; i++) {
            float *want = load("lrs.q%d.after.%d", i, s, NULL);
            for (int64_t k = 0; k < q[i].numel; k++) {
                double e = fabs((double)q[i].data[k] - want[k]);
                worst = fmax(worst, e);
                if (e > 2e-6 * fmax(1.0, fabs(want[k])))
                    fail_msg("step %d q%d[%lld]: attx %.9g torch %.9g", s, i, (long long)k, q[i].data[k], want[k]);
            }
            free(want);
        }
    }
    print_message("AdamW with per-tensor rates, 4 steps: largest difference from PyTorch %.3g\n", worst);
    attx_adamw_free(&opt);
    for (int i = 0; i < 3; i++) {
        free(q[i].data);
        free(q[i].grad);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_adamw_matches_torch),
        cmocka_unit_test(test_adamw_lr_scales),
        cmocka_unit_test(test_weight_average),
        cmocka_unit_test(test_clip_edges),
        cmocka_unit_test(test_cross_entropy),
        cmocka_unit_test(test_cross_entropy_label_smoothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
