/* bench_explain.c — time per explanation on the random BERT-base-sized model with a 40-token
 * sentence: grad-att-mutual against one forward+backward (issue 5's target: <= 1.3x),
 * shapley-input with 500 Kernel SHAP coalitions and shap's partition explainer with 500
 * evaluations (model games batch their forward passes: forwards/s against single forwards). */
#include "benchutil.h"
#include "random_model.h"

#include <time.h>

#include "attx_engine.h"
#include "attx_explain.h"

#define CONTENT 40

static double median3(double a, double b, double c)
{
    return a > b ? (b > c ? b : a > c ? c : a) : (a > c ? a : b > c ? c : b);
}

int main(void)
{
    const char *dir = "build/bench/bert-base";
    char weights[512];
    snprintf(weights, sizeof weights, "%s/model.safetensors", dir);
    if (access(weights, R_OK) != 0) {
        fprintf(stderr, "bench_explain: writing a random BERT-base-sized model to %s\n", dir);
        if (system("mkdir -p build/bench/bert-base") != 0) return 1;
        write_bert_base(dir, BERT_VOCAB);
    }
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, dir, &err) != 0) {
        fprintf(stderr, "bench_explain: %s\n", err.msg);
        return 1;
    }
    int32_t ids[CONTENT + 2], T = CONTENT + 2;
    for (int t = 0; t < T; t++) ids[t] = 1000 + (t * 7919) % 28000;
    ids[0] = 101;
    ids[T - 1] = 102;

    /* one forward + backward, and one forward with the tape off (median of 3) */
    attx_ctx *ctx = attx_ctx_new();
    attx_batch batch = {.B = 1, .T = T, .ids = ids, .lengths = &T};
    attx_outputs out;
    double fb[3], fw[3];
    float seed[2] = {0, 1};
    for (int r = 0; r < 3; r++) {
        attx_ctx_set_tape(ctx, 1);
        double t0 = now_ms();
        if (attx_forward(m, ctx, &batch, &out, &err) != 0 || attx_backward(ctx, out.logits, seed) != 0) return 1;
        fb[r] = now_ms() - t0;
        attx_ctx_reset(ctx);
        attx_ctx_set_tape(ctx, 0);
        t0 = now_ms();
        if (attx_forward(m, ctx, &batch, &out, &err) != 0) return 1;
        fw[r] = now_ms() - t0;
        attx_ctx_reset(ctx);
    }
    double t_fb = median3(fb[0], fb[1], fb[2]), t_fw = median3(fw[0], fw[1], fw[2]);
    printf("explain on BERT-base size, %d content tokens (threads: OpenMP default)\n", CONTENT);
    printf("  one forward %.1f ms (%.1f forwards/s); forward+backward %.1f ms\n", t_fw, 1e3 / t_fw, t_fb);

    const char *mutual[] = {"grad-att-mutual"};
    attx_explanation ex;
    double best = 1e300;
    for (int r = 0; r < 3; r++) {
        if (attx_explain_ids(m, ids, T, mutual, 1, NULL, &ex, &err) != 0) {
            fprintf(stderr, "bench_explain: %s\n", err.msg);
            return 1;
        }
        if (ex.methods[0].time_ms < best) best = ex.methods[0].time_ms;
        attx_explanation_free(&ex);
    }
    printf("  grad-att-mutual: %.1f ms = %.2fx one forward+backward (target <= 1.3x)\n", best, best / t_fb);

    const char *model_methods[] = {"shapley-input", "shap"};
    attx_explain_options o;
    attx_explain_options_init(&o);
    o.samples = 500;
    o.sampler = ATTX_SAMPLER_KERNEL;
    if (attx_explain_ids(m, ids, T, model_methods, 2, &o, &ex, &err) != 0) {
        fprintf(stderr, "bench_explain: %s\n", err.msg);
        return 1;
    }
    for (int i = 0; i < 2; i++) {
        const attx_method_result *r = &ex.methods[i];
        double fps = r->forward_passes / (r->time_ms / 1e3);
        printf("  %-14s %-44s %8.0f ms, %4llu forwards, %.1f forwards/s = %.2fx single forwards\n", r->name, r->how,
               r->time_ms, (unsigned long long)r->forward_passes, fps, fps * t_fw / 1e3);
    }
    attx_explanation_free(&ex);
    attx_ctx_free(ctx);
    attx_model_close(m);
    return 0;
}
