/* bench_tcav.c — the cost of T-TCAV: one CAV's logistic regression at ViT-base scale (two sets
 * of 120 images x 197 tokens = 47,280 rows of 768), and one layer of the whole protocol (3
 * concepts of 20 images, 50 relative CAVs each, 100 targets) on a random ViT-small-sized model
 * (12 layers of 384, 6 heads, 224 x 224 images in 16 x 16 patches), stage by stage. */
#include "benchutil.h"
#include "testutil.h"

#include <math.h>
#include <time.h>

#include "attx_engine.h"
#include "attx_explain.h"

static double stage_start, stage_ms[3];
static const char *stage_names[3] = {"activations", "cavs", "targets"};

static void progress(void *user, const char *stage, long done, long total)
{
    (void)user;
    for (int k = 0; k < 3; k++)
        if (strcmp(stage, stage_names[k]) == 0 && done == total) {
            double t = now_ms();
            stage_ms[k] += t - stage_start;
            stage_start = t;
        }
}

static double rand_unit(uint64_t *s)
{
    return (double)(tu_random(s) >> 11) / 9007199254740992.0;
}

int main(void)
{
    /* ---- one logistic regression at ViT-base scale ---- */
    const size_t n = 2 * 120 * 197;
    const int d = 768;
    float *X = malloc(n * (size_t)d * sizeof *X);
    const float **rows = malloc(n * sizeof *rows);
    uint8_t *y = malloc(n);
    uint64_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        y[i] = i < n / 2;
        rows[i] = X + i * (size_t)d;
        for (int j = 0; j < d; j++) X[i * (size_t)d + (size_t)j] = (float)(rand_unit(&s) * 2 - 1 + (y[i] && j < 8 ? 0.3 : 0));
    }
    double *coef = malloc((size_t)d * sizeof *coef), t0 = now_ms();
    attx_logreg_info info;
    attx_error err;
    if (attx_logreg_fit(n, d, rows, y, NULL, coef, NULL, &info, &err) != 0) {
        fprintf(stderr, "bench_tcav: %s\n", err.msg);
        return 1;
    }
    printf("bench_tcav: logistic regression %zu x %d: %.0f ms, %d L-BFGS iterations, converged %d (max |grad| %.1e), "
           "accuracy %.3f\n", n, d, now_ms() - t0, info.iterations, info.converged, info.grad_max, info.accuracy);
    fflush(stdout);
    free(X);
    free(rows);
    free(y);
    free(coef);

    /* ---- one layer of the protocol on a random ViT-small ---- */
    const char *cfg = "{\"model_type\": \"vit\", \"hidden_size\": 384, \"num_hidden_layers\": 12, \"num_attention_heads\": 6,"
                      " \"intermediate_size\": 1536, \"image_size\": 224, \"patch_size\": 16, \"num_channels\": 3,"
                      " \"num_labels\": 10}";
    attx_model *m;
    if (attx_model_create(&m, cfg, NULL, 0, 1, &err) != 0) {
        fprintf(stderr, "bench_tcav: %s\n", err.msg);
        return 1;
    }
    const size_t npx = 3 * 224 * 224;
    float *px[4];
    attx_tcav_memory mem[4];
    attx_tcav_source src[4];
    int counts[4] = {20, 20, 20, 100};
    for (int k = 0; k < 4; k++) {
        px[k] = malloc((size_t)counts[k] * npx * sizeof *px[k]);
        for (size_t i = 0; i < (size_t)counts[k] * npx; i++) px[k][i] = (float)(rand_unit(&s) * 2 - 1) * 0.5f + 0.3f * (float)(k % 3 == (int)(i / (224 * 224)) % 3);
        mem[k] = (attx_tcav_memory){counts[k], NULL, NULL, px[k], npx};
        src[k] = attx_tcav_source_memory(&mem[k]);
    }
    attx_tcav_options o;
    attx_tcav_options_init(&o);
    int layer = 8;
    o.layers = &layer;
    o.n_layers = 1;
    o.progress = progress;
    attx_tcav_result r;
    t0 = stage_start = now_ms();
    if (attx_tcav_run(m, src, 3, NULL, 0, &src[3], &o, &r, &err) != 0) {
        fprintf(stderr, "bench_tcav: %s\n", err.msg);
        return 1;
    }
    double total = now_ms() - t0;
    long iters = 0;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < r.n_cavs; i++) iters += r.cells[c].cav_iterations[i];
    printf("bench_tcav: one T-TCAV layer (ViT-small random, 3 concepts x 20 images, 50 CAVs each, 100 targets): "
           "%.1f s = activations %.1f s + 150 CAVs %.1f s (%.0f L-BFGS iterations each, %zu rows of 384) + targets %.1f s\n",
           total / 1e3, stage_ms[0] / 1e3, stage_ms[1] / 1e3, (double)iters / 150, (size_t)40 * 197, stage_ms[2] / 1e3);

    /* the same with each CAV warm-started from the previous one of its concept */
    attx_tcav_result w;
    double cold_cavs_ms = stage_ms[1];
    for (int k = 0; k < 3; k++) stage_ms[k] = 0;
    o.warm_start = 1;
    stage_start = now_ms();
    if (attx_tcav_run(m, src, 3, NULL, 0, &src[3], &o, &w, &err) != 0) {
        fprintf(stderr, "bench_tcav: %s\n", err.msg);
        return 1;
    }
    long warm_iters = 0, changed = 0;
    double worst = 0;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < w.n_cavs; i++) {
            warm_iters += w.cells[c].cav_iterations[i];
            changed += w.cells[c].score[ATTX_TCAV_TTCAV][i] != r.cells[c].score[ATTX_TCAV_TTCAV][i];
        }
    for (size_t i = 0; i < (size_t)3 * (size_t)w.n_cavs * (size_t)w.dim; i++) worst = fmax(worst, fabs(w.cavs[i] - r.cavs[i]));
    printf("bench_tcav: warm-started CAVs: 150 CAVs %.1f s against %.1f s cold (%.2fx; %.0f L-BFGS iterations each "
           "against %.0f); max |CAV difference| %.1e, T-TCAV scores changed: %ld of 150\n",
           stage_ms[1] / 1e3, cold_cavs_ms / 1e3, cold_cavs_ms / stage_ms[1], (double)warm_iters / 150, (double)iters / 150,
           worst, changed);
    attx_tcav_result_free(&w);
    attx_tcav_result_free(&r);
    for (int k = 0; k < 4; k++) free(px[k]);
    attx_model_close(m);
    return 0;
}
