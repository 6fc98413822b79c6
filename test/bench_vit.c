/* bench_vit.c — ViT-B/16-sized forward and forward+backward at batch 1 (224x224, 197 tokens),
 * with 1 and 2 threads, against PyTorch in the same run (tools/reference/torch_bench_vit.py,
 * when /usr/bin/python3 has torch); the context memory of each pass; and a real-size check of
 * the logits against PyTorch's float64 forward of the same weights and image. */
#include "benchutil.h"
#include "random_model.h"

#include <math.h>
#include <time.h>

#include "attx_engine.h"

#define SIDE 224
#define REPEAT 5

/* Median time of REPEAT runs after two warm-ups: a forward pass, and with backward = 1 a
 * forward with the tape and a backward of the predicted logit (gradients reach every
 * attention probability, block output and the patch embeddings; the weights are constants,
 * as when explaining). *peak: the context's arena high-water mark. */
static double time_pass(attx_model *m, const attx_batch *batch, int backward, size_t *peak)
{
    attx_ctx *ctx = attx_ctx_new();
    attx_error err;
    double t[REPEAT];
    int C = attx_model_config(m)->num_labels;
    float *seed = calloc((size_t)C, sizeof *seed);
    for (int r = -2; r < REPEAT; r++) {
        attx_ctx_reset(ctx);
        attx_ctx_set_tape(ctx, backward);
        attx_outputs out;
        double start = now_ms();
        if (attx_forward(m, ctx, batch, &out, &err) != 0) {
            fprintf(stderr, "bench_vit: %s\n", err.msg);
            exit(1);
        }
        if (backward) {
            int best = 0;
            for (int k = 1; k < C; k++) if (out.logits->data[k] > out.logits->data[best]) best = k;
            memset(seed, 0, (size_t)C * sizeof *seed);
            seed[best] = 1;
            if (attx_backward(ctx, out.logits, seed) != 0) exit(1);
        }
        if (r >= 0) t[r] = now_ms() - start;
    }
    *peak = attx_ctx_peak_bytes(ctx);
    free(seed);
    attx_ctx_free(ctx);
    qsort(t, REPEAT, sizeof t[0], cmp_double);
    return t[REPEAT / 2];
}

/* PyTorch's medians for the same shapes, or -1 when torch is not available. */
static void torch_times(int threads, double *fwd, double *fwd_bwd)
{
    *fwd = *fwd_bwd = -1;
    char cmd[512], line[256];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/reference/torch_bench_vit.py --threads %d --batch 1 "
             "--repeat %d 2>/dev/null", threads, REPEAT);
    FILE *p = popen(cmd, "r");
    if (!p) return;
    while (fgets(line, sizeof line, p)) {
        sscanf(line, "torch_forward_ms %lf", fwd);
        sscanf(line, "torch_forward_backward_ms %lf", fwd_bwd);
    }
    pclose(p);
}

/* The same model and image through tools/reference/torch_bench_vit.py --check in float64:
 * prints max |attx − PyTorch| over the logits and whether the top class agrees. */
static void check_logits(attx_model *m, const char *dir, const float *pixels, size_t n_pixels)
{
    char path[512], cmd[1024];
    snprintf(path, sizeof path, "%s/pixels.f32", dir);
    tu_write(path, pixels, n_pixels * sizeof *pixels);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/reference/torch_bench_vit.py --check %s --pixels %s "
             "2>/dev/null", dir, path);
    attx_ctx *ctx = attx_ctx_new();
    attx_outputs out;
    attx_error err;
    attx_batch batch = {.B = 1, .pixels = pixels};
    if (attx_forward(m, ctx, &batch, &out, &err) != 0) {
        fprintf(stderr, "bench_vit: %s\n", err.msg);
        exit(1);
    }
    int C = attx_model_config(m)->num_labels, n = 0, top_attx = 0, top_torch = 0;
    double worst = 0, best_torch = -1e300;
    FILE *p = popen(cmd, "r");
    char *line = NULL;
    size_t cap = 0;
    if (p && getline(&line, &cap, p) > 0 && strncmp(line, "logits ", 7) == 0) {
        char *s = line + 7, *end;
        for (; n < C; n++, s = end) {
            double v = strtod(s, &end);
            if (end == s) break;
            worst = fmax(worst, fabs(v - out.logits->data[n]));
            if (v > best_torch) best_torch = v, top_torch = n;
            if (out.logits->data[n] > out.logits->data[top_attx]) top_attx = n;
        }
    }
    if (p) pclose(p);
    free(line);
    if (n == C)
        printf("real-size check: max |attx - PyTorch float64| over the %d logits %.2e (top logit %.1f); "
               "top class %d, PyTorch %d\n", C, worst, best_torch, top_attx, top_torch);
    else
        printf("real-size check: PyTorch not available\n");
    attx_ctx_free(ctx);
}

static void print_ratio(double attx, double torch)
{
    if (torch > 0) printf("  %8.1f  %5.2fx", torch, attx / torch);
    else printf("  %8s  %6s", "-", "-");
}

int main(void)
{
    const char *dir = "build/bench/vit-base";
    char weights[512];
    snprintf(weights, sizeof weights, "%s/model.safetensors", dir);
    if (access(weights, R_OK) != 0) {
        fprintf(stderr, "bench_vit: writing a random ViT-B/16-sized model to %s\n", dir);
        if (system("mkdir -p build/bench/vit-base") != 0) return 1;
        write_vit_base(dir);
    }
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, dir, &err) != 0) {
        fprintf(stderr, "bench_vit: %s\n", err.msg);
        return 1;
    }
    /* one normalized image: a smooth colour gradient with some noise, in [-1, 1] */
    float *pixels = malloc(3 * SIDE * SIDE * sizeof *pixels);
    uint64_t state = 0x9E3779B97F4A7C15ull;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++) {
                float noise = (float)(tu_random(&state) >> 40) / 16777216.0f - 0.5f;
                pixels[(c * SIDE + y) * SIDE + x] = 0.6f * (float)(x + y * (c + 1)) / (SIDE * (c + 2)) - 0.3f + 0.4f * noise;
            }
    attx_batch batch = {.B = 1, .pixels = pixels};

    printf("ViT-B/16 size (224x224, 197 tokens, 12 layers, hidden 768, 12 heads, FFN 3072, 1000 labels), "
           "batch 1; median of %d\n", REPEAT);
    printf("threads | forward ms: attx    torch   ratio | forward+backward ms: attx    torch   ratio\n");
    size_t peak_fwd = 0, peak_fb = 0;
    for (int threads = 1; threads <= 2; threads++) {
        attx_set_threads(threads);
        double fwd = time_pass(m, &batch, 0, &peak_fwd), fb = time_pass(m, &batch, 1, &peak_fb), tf, tfb;
        torch_times(threads, &tf, &tfb);
        printf("%7d |            %8.1f", threads, fwd);
        print_ratio(fwd, tf);
        printf(" |                     %8.1f", fb);
        print_ratio(fb, tfb);
        printf("\n");
    }
    if (access("/usr/bin/python3", X_OK) != 0) printf("(PyTorch not found: install python3-torch for the ratios)\n");
    printf("context memory: forward %.1f MiB, forward+backward with the tape %.1f MiB\n", peak_fwd / 1048576.0,
           peak_fb / 1048576.0);
    check_logits(m, dir, pixels, 3 * SIDE * SIDE);
    free(pixels);
    attx_model_close(m);
    return 0;
}
