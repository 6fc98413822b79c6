/* bench_train.c — training throughput of the demo-sized BERT (4 layers, hidden 256, 4 heads,
 * FFN 1024, vocabulary 8000, 64 positions) at batch 32 x sequence 64, one full step each
 * (forward, cross-entropy, backward to every parameter, clipping, AdamW), dropout off so that
 * PyTorch (tools/reference/torch_bench_train.py) computes the same thing in the same run. */
#include "benchutil.h"
#include "testutil.h"

#include <time.h>

#include "attx_engine.h"

#define BATCH 32
#define SEQ 64
#define VOCAB 8000
#define REPEAT 10

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double torch_tokens_per_s(int threads)
{
    char cmd[256], line[256];
    double v = -1;
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/reference/torch_bench_train.py --threads %d 2>/dev/null", threads);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    while (fgets(line, sizeof line, p)) sscanf(line, "torch_train_tokens_per_s %lf", &v);
    pclose(p);
    return v;
}

int main(void)
{
    /* a vocabulary of VOCAB made-up pieces */
    attx_buf vocab = {0};
    attx_buf_puts(&vocab, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n");
    for (int i = 5; i < VOCAB; i++) attx_buf_printf(&vocab, "w%d\n", i);
    const char *config =
        "{\"model_type\": \"bert\", \"vocab_size\": 8000, \"hidden_size\": 256, \"num_hidden_layers\": 4,"
        " \"num_attention_heads\": 4, \"intermediate_size\": 1024, \"max_position_embeddings\": 64,"
        " \"hidden_dropout_prob\": 0, \"attention_probs_dropout_prob\": 0,"
        " \"id2label\": {\"0\": \"negative\", \"1\": \"positive\"}}";
    attx_model *m;
    attx_error err;
    if (attx_model_create(&m, config, vocab.data, vocab.len, 1, &err) != 0 || attx_model_make_trainable(m, &err) != 0) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return 1;
    }
    size_t n = attx_model_params(m, NULL, NULL);
    attx_tensor **params = malloc(n * sizeof *params);
    uint8_t *decay = malloc(n);
    attx_model_params(m, params, NULL);
    attx_weight_decay_mask(m, decay);
    attx_adamw_config cfg = attx_adamw_defaults();
    cfg.lr = 5e-4;
    attx_adamw opt;
    if (attx_adamw_init(&opt, params, decay, n, &cfg, &err) != 0) return 1;

    static int32_t ids[BATCH * SEQ], lengths[BATCH], labels[BATCH];
    uint64_t rng = 7;
    for (int b = 0; b < BATCH; b++) {
        for (int t = 0; t < SEQ; t++) ids[b * SEQ + t] = 5 + (int32_t)(tu_random(&rng) % (VOCAB - 5));
        ids[b * SEQ] = 2;
        ids[b * SEQ + SEQ - 1] = 3;
        lengths[b] = SEQ;
        labels[b] = (int32_t)(tu_random(&rng) % 2);
    }
    attx_batch batch = {.B = BATCH, .T = SEQ, .ids = ids, .lengths = lengths};
    attx_ctx *ctx = attx_ctx_new();
    printf("training step, demo-sized BERT (4 layers, hidden 256, FFN 1024, vocabulary 8000), batch %d x %d, "
           "median of %d\n", BATCH, SEQ, REPEAT);
    printf("threads | tokens/s: attx     torch   ratio (attx time / torch time)\n");
    for (int threads = 1; threads <= 2; threads++) {
        attx_set_threads(threads);
        double t[REPEAT];
        for (int r = -2; r < REPEAT; r++) {
            attx_step_stats st;
            double start = now_s();
            if (attx_train_step(m, ctx, &opt, &batch, labels, &(attx_step_config){5e-4, 1.0, 0, (uint64_t)r}, &st, &err) != 0) {
                fprintf(stderr, "bench_train: %s\n", err.msg);
                return 1;
            }
            if (r >= 0) t[r] = now_s() - start;
        }
        qsort(t, REPEAT, sizeof t[0], cmp_double);
        double ours = BATCH * SEQ / ((t[REPEAT / 2 - 1] + t[REPEAT / 2]) / 2), theirs = torch_tokens_per_s(threads);
        printf("%7d |         %8.0f", threads, ours);
        if (theirs > 0) printf("  %8.0f  %5.2fx\n", theirs, theirs / ours);
        else printf("         -      -\n");
    }
    attx_ctx_free(ctx);
    attx_adamw_free(&opt);
    free(params);
    free(decay);
    attx_model_close(m);
    attx_buf_free(&vocab);
    return 0;
}
