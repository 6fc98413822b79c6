/* bench_ort.c — attx's forward against ONNX Runtime's (fp32 and dynamic int8) in one run,
 * interleaved: each round times attx (fp32, int8, bf16), then ONNX Runtime fp32, then int8, on
 * the same token ids with the same thread count, and the table keeps each one's best round. The peer is
 * tools/reference/ort_bench.py, started once as a child that answers timing requests on a pipe
 * (the Python interpreter: $ATTX_BENCH_PYTHON, default python3; it needs onnxruntime, onnx and
 * torch). Models: the shipped MiniLM SST-2 classifier (data/sst2-minilm.safetensors) and the
 * random BERT-base that bench_bert writes; with ../shared, also 200 real SST-2 dev sentences at
 * batch 1 (the ids from attx's tokenizer, tokenizing not timed on either side). */
#include "benchutil.h"
#include "random_model.h"

#include <stdarg.h>
#include <time.h>

#include "attx_engine.h"
#include "attx_weights.h"

#define ROUNDS 5
#define SENTENCES 200

static void cpu_name(char *buf, size_t cap)
{
    snprintf(buf, cap, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(buf, cap, "%s", colon + 2);
            buf[strcspn(buf, "\n")] = 0;
            break;
        }
    }
    if (f) fclose(f);
}

/* ---- the ONNX Runtime peer: one child process, requests and replies one line each ---- */

typedef struct peer {
    pid_t pid;
    FILE *to, *from;
} peer;

static int peer_start(peer *p, const char *python)
{
    int down[2], up[2];
    if (pipe(down) != 0 || pipe(up) != 0) return -1;
    p->pid = fork();
    if (p->pid < 0) return -1;
    if (p->pid == 0) {
        dup2(down[0], 0);
        dup2(up[1], 1);
        close(down[1]);
        close(up[0]);
        execlp(python, python, "tools/reference/ort_bench.py", (char *)NULL);
        _exit(127);
    }
    close(down[0]);
    close(up[1]);
    p->to = fdopen(down[1], "w");
    p->from = fdopen(up[0], "r");
    char line[64];
    return p->to && p->from && fgets(line, sizeof line, p->from) && strncmp(line, "ready", 5) == 0 ? 0 : -1;
}

static void peer_stop(peer *p)
{
    fprintf(p->to, "quit\n");
    fclose(p->to);
    fclose(p->from);
    waitpid(p->pid, NULL, 0);
}

/* Sends "time NAME VARIANT THREADS REPEAT B T ids..." and returns ONNX Runtime's median ms, or -1. */
static double peer_time(peer *p, const char *name, const char *variant, int threads, int repeat,
                        const attx_batch *batch)
{
    fprintf(p->to, "time %s %s %d %d %d %d", name, variant, threads, repeat, batch->B, batch->T);
    for (int i = 0; i < batch->B * batch->T; i++) fprintf(p->to, " %d", batch->ids[i]);
    fprintf(p->to, "\n");
    fflush(p->to);
    char line[256];
    double best, median;
    if (!fgets(line, sizeof line, p->from)) return -1;
    if (sscanf(line, "ms %lf %lf", &best, &median) != 2) {
        fprintf(stderr, "bench_ort: ONNX Runtime: %s", line);
        return -1;
    }
    return median;
}

/* ---- attx's side ---- */

static double attx_time(attx_model *m, attx_ctx *ctx, int repeat, const attx_batch *batch)
{
    double t[64];
    attx_error err;
    for (int r = -2; r < repeat; r++) {
        attx_outputs out;
        attx_ctx_reset(ctx);
        double start = now_ms();
        if (attx_forward(m, ctx, batch, &out, &err) != 0) {
            fprintf(stderr, "bench_ort: %s\n", err.msg);
            exit(1);
        }
        if (r >= 0) t[r] = now_ms() - start;
    }
    qsort(t, (size_t)repeat, sizeof t[0], cmp_double);
    return t[repeat / 2];
}

typedef struct timing {
    double attx, attx8, attx16, fp32, int8, torch;   /* ms, the best round's median; -1 when not measured */
} timing;

/* The same model three ways: fp32, int8 (attx_model_quantize_int8), bf16 (attx_model_convert_bf16). */
typedef struct variants {
    attx_model *fp32, *int8, *bf16;
} variants;

/* ROUNDS interleaved rounds of the six (attx fp32, int8 and bf16, ONNX Runtime fp32 and int8,
 * PyTorch) on one batch; each keeps its best round. */
static timing measure(const variants *v, peer *ort, const char *name, int threads, int repeat, const attx_batch *batch)
{
    timing best = {1e30, 1e30, 1e30, 1e30, 1e30, 1e30};
    attx_ctx *ctx = attx_ctx_new();
    attx_set_threads(threads);
    for (int r = 0; r < ROUNDS; r++) {
        best.attx = fmin(best.attx, attx_time(v->fp32, ctx, repeat, batch));
        best.attx8 = fmin(best.attx8, attx_time(v->int8, ctx, repeat, batch));
        best.attx16 = fmin(best.attx16, attx_time(v->bf16, ctx, repeat, batch));
        if (!ort) continue;
        best.torch = fmin(best.torch, peer_time(ort, name, "torch", threads, repeat, batch));
        best.fp32 = fmin(best.fp32, peer_time(ort, name, "fp32", threads, repeat, batch));
        best.int8 = fmin(best.int8, peer_time(ort, name, "int8", threads, repeat, batch));
    }
    attx_ctx_free(ctx);
    if (!ort || best.fp32 < 0) best.fp32 = -1;
    if (!ort || best.torch < 0) best.torch = -1;
    if (!ort || best.int8 < 0) best.int8 = -1;
    return best;
}

static void print_row(const char *model, const char *shape, int threads, timing t)
{
    printf("%-10s %-14s %7d | %8.2f", model, shape, threads, t.attx);
    if (t.torch > 0) printf(" %8.2f  %5.2fx", t.torch, t.attx / t.torch);
    else printf(" %8s  %6s", "-", "-");
    if (t.fp32 > 0) printf(" %8.2f  %5.2fx |", t.fp32, t.attx / t.fp32);
    else printf(" %8s  %6s |", "-", "-");
    printf(" %8.2f", t.attx8);
    if (t.int8 > 0) printf(" %8.2f  %5.2fx |", t.int8, t.attx8 / t.int8);
    else printf(" %8s  %6s |", "-", "-");
    printf(" %8.2f", t.attx16);   /* bf16 beside ONNX Runtime's fp32 (it has no bf16 on the CPU) */
    if (t.fp32 > 0) printf("  %5.2fx\n", t.attx16 / t.fp32);
    else printf("  %6s\n", "-");
    fflush(stdout);
}

/* B rows of T ordinary word pieces between [CLS] and [SEP]. */
static attx_batch synthetic_batch(int B, int T)
{
    int32_t *ids = malloc((size_t)B * (size_t)T * sizeof *ids), *lengths = malloc((size_t)B * sizeof *lengths);
    if (!ids || !lengths) exit(1);
    for (int b = 0; b < B; b++) {
        lengths[b] = T;
        for (int t = 0; t < T; t++) ids[b * T + t] = 1000 + (b * 131 + t * 7919) % 28000;
        ids[b * T] = 101;
        ids[b * T + T - 1] = 102;
    }
    return (attx_batch){.B = B, .T = T, .ids = ids, .lengths = lengths};
}

static void free_batch(attx_batch *b)
{
    free((void *)b->ids);
    free((void *)b->lengths);
}

static int open_model(attx_model **m, const char *path)
{
    attx_error err;
    if (attx_model_open(m, path, &err) == 0) return 0;
    fprintf(stderr, "bench_ort: %s\n", err.msg);
    return -1;
}

/* Mean ms per sentence over the first SENTENCES sentences of SST-2 dev at batch 1: per
 * sentence the median of 3 runs, each round of attx and of ONNX Runtime over all of them. */
static void real_sentences(const variants *v, peer *ort, int threads)
{
    attx_dataset ds;
    attx_error err;
    if (attx_dataset_read(&ds, "../shared/data/sst2/dev.tsv", NULL, &err) != 0) {
        printf("(real sentences skipped: %s)\n", err.msg);
        return;
    }
    size_t n = ds.n < SENTENCES ? ds.n : SENTENCES, tokens = 0;
    attx_encoding *enc = calloc(n, sizeof *enc);
    attx_batch *batch = calloc(n, sizeof *batch);
    if (!enc || !batch) exit(1);
    for (size_t i = 0; i < n; i++) {
        if (attx_encode_text(v->fp32, ds.texts[i], strlen(ds.texts[i]), &enc[i], &err) != 0) exit(1);
        batch[i] = (attx_batch){.B = 1, .T = enc[i].length, .ids = enc[i].ids, .lengths = &enc[i].length};
        tokens += (size_t)enc[i].length;
    }
    timing best = {1e30, 1e30, 1e30, 1e30, 1e30, 1e30};
    attx_ctx *ctx = attx_ctx_new();
    attx_set_threads(threads);
    for (int r = 0; r < 3; r++) {
        timing sum = {0, 0, 0, 0, 0, 0};
        for (size_t i = 0; i < n; i++) sum.attx += attx_time(v->fp32, ctx, 3, &batch[i]);
        for (size_t i = 0; i < n; i++) sum.attx8 += attx_time(v->int8, ctx, 3, &batch[i]);
        for (size_t i = 0; i < n; i++) sum.attx16 += attx_time(v->bf16, ctx, 3, &batch[i]);
        for (size_t i = 0; ort && i < n; i++) sum.fp32 += peer_time(ort, "minilm", "fp32", threads, 3, &batch[i]);
        for (size_t i = 0; ort && i < n; i++) sum.int8 += peer_time(ort, "minilm", "int8", threads, 3, &batch[i]);
        for (size_t i = 0; ort && i < n; i++) sum.torch += peer_time(ort, "minilm", "torch", threads, 3, &batch[i]);
        best.attx = fmin(best.attx, sum.attx / (double)n);
        best.attx8 = fmin(best.attx8, sum.attx8 / (double)n);
        best.attx16 = fmin(best.attx16, sum.attx16 / (double)n);
        best.fp32 = fmin(best.fp32, sum.fp32 / (double)n);
        best.int8 = fmin(best.int8, sum.int8 / (double)n);
        best.torch = fmin(best.torch, sum.torch / (double)n);
    }
    if (!ort) best.fp32 = best.int8 = best.torch = -1;
    char shape[32];
    snprintf(shape, sizeof shape, "1 x %.1f avg", (double)tokens / (double)n);
    print_row("SST-2 dev", shape, threads, best);
    attx_ctx_free(ctx);
    for (size_t i = 0; i < n; i++) attx_encoding_free(&enc[i]);
    free(enc);
    free(batch);
    attx_dataset_free(&ds);
}

/* Asks ONNX Runtime for the logits of one sentence; 0 when it answered. */
static int peer_logits(peer *p, const char *variant, const attx_encoding *e, float *logits)
{
    fprintf(p->to, "logits minilm %s 1 %d", variant, e->length);
    for (int i = 0; i < e->length; i++) fprintf(p->to, " %d", e->ids[i]);
    fprintf(p->to, "\n");
    fflush(p->to);
    char line[256];
    return fgets(line, sizeof line, p->from) && sscanf(line, "logits %f %f", &logits[0], &logits[1]) == 2 ? 0 : -1;
}

/* The sentence embeddings of all-MiniLM-L6-v2 (data/) by model m for batch b into v */
static void embed(attx_model *m, const attx_sentence_config *sc, attx_ctx *ctx, const attx_batch *b, float *v)
{
    attx_outputs out;
    attx_error err;
    attx_ctx_reset(ctx);
    if (attx_forward(m, ctx, b, &out, &err) != 0 || attx_pool_embeddings(m, sc, b, &out, v, &err) != 0) {
        fprintf(stderr, "bench_ort: %s\n", err.msg);
        exit(1);
    }
}

static double cosine(const float *a, const float *b, int dim)
{
    double dot = 0, na = 0, nb = 0;
    for (int d = 0; d < dim; d++) dot += (double)a[d] * b[d], na += (double)a[d] * a[d], nb += (double)b[d] * b[d];
    return dot / sqrt(na * nb);
}

/* What int8 and bf16 cost in accuracy: SST-2 dev accuracy of the MiniLM classifier (v) in fp32,
 * int8 and bf16, attx's, and ONNX Runtime's fp32 and int8, with the largest change of a logit;
 * and the cosine between attx's int8 or bf16 and fp32 sentence embeddings of all-MiniLM-L6-v2
 * (data/) over the same sentences. */
static void precision_accuracy(const variants *v, peer *ort)
{
    attx_dataset ds;
    attx_error err;
    if (attx_dataset_read(&ds, "../shared/data/sst2/dev.tsv", NULL, &err) != 0) {
        printf("(int8 and bf16 accuracy skipped: %s)\n", err.msg);
        return;
    }
    variants e;
    if (open_model(&e.fp32, "data/all-MiniLM-L6-v2-f16.safetensors") != 0 ||
        open_model(&e.int8, "data/all-MiniLM-L6-v2-f16.safetensors") != 0 ||
        open_model(&e.bf16, "data/all-MiniLM-L6-v2-f16.safetensors") != 0 || attx_model_quantize_int8(e.int8, &err) != 0 ||
        attx_model_convert_bf16(e.bf16, &err) != 0)
        exit(1);
    const attx_sentence_config *sc = attx_model_sentence_config(e.fp32, &(int){0});
    int dim = attx_embedding_dim(e.fp32, sc);
    float *v32 = malloc((size_t)dim * sizeof *v32), *vq = malloc((size_t)dim * sizeof *vq);
    /* 0 attx fp32, 1 attx int8, 2 attx bf16, 3 ONNX Runtime fp32, 4 ONNX Runtime int8 */
    size_t correct[5] = {0}, answered[5] = {0};
    double cos_min[3] = {1, 1, 1}, cos_sum[3] = {0}, logit_diff[3] = {0};
    attx_model *classifier[3] = {v->fp32, v->int8, v->bf16}, *embedder[3] = {e.fp32, e.int8, e.bf16};
    attx_ctx *ctx = attx_ctx_new();
    attx_set_threads(2);
    for (size_t i = 0; i < ds.n; i++) {
        attx_encoding enc;
        if (attx_encode_text(v->fp32, ds.texts[i], strlen(ds.texts[i]), &enc, &err) != 0) exit(1);
        attx_batch b = {.B = 1, .T = enc.length, .ids = enc.ids, .lengths = &enc.length};
        float logits[5][2];
        attx_outputs out;
        for (int k = 0; k < 3; k++) {
            attx_ctx_reset(ctx);
            if (attx_forward(classifier[k], ctx, &b, &out, &err) != 0) exit(1);
            memcpy(logits[k], out.logits->data, sizeof logits[k]);
            answered[k]++;
            for (int c = 0; c < 2; c++) logit_diff[k] = fmax(logit_diff[k], fabs(logits[k][c] - logits[0][c]));
        }
        for (int k = 3; ort && k < 5; k++)
            if (peer_logits(ort, k == 3 ? "fp32" : "int8", &enc, logits[k]) == 0) answered[k]++;
        for (int k = 0; k < 5; k++) correct[k] += (logits[k][1] > logits[k][0]) == (ds.labels[i] == 1);
        /* the embedding model has the same tokenizer (MiniLM's vocabulary) */
        embed(e.fp32, sc, ctx, &b, v32);
        for (int k = 1; k < 3; k++) {
            embed(embedder[k], sc, ctx, &b, vq);
            double c = cosine(v32, vq, dim);
            cos_min[k] = fmin(cos_min[k], c);
            cos_sum[k] += c;
        }
        attx_encoding_free(&enc);
    }
    double n = (double)ds.n;
    printf("SST-2 dev (%zu sentences), MiniLM classifier accuracy: attx fp32 %.2f%%, attx int8 %.2f%% (%+.2f points), "
           "attx bf16 %.2f%% (%+.2f points)", ds.n, 100.0 * correct[0] / n, 100.0 * correct[1] / n,
           100.0 * ((double)correct[1] - correct[0]) / n, 100.0 * correct[2] / n, 100.0 * ((double)correct[2] - correct[0]) / n);
    if (answered[3] == ds.n && answered[4] == ds.n)
        printf("; ONNX Runtime fp32 %.2f%%, int8 %.2f%%", 100.0 * correct[3] / n, 100.0 * correct[4] / n);
    printf("\nlargest |logit - attx fp32 logit|: attx int8 %.4f, attx bf16 %.4f\n", logit_diff[1], logit_diff[2]);
    printf("all-MiniLM-L6-v2 embeddings of the same sentences, cosine to attx fp32: attx int8 mean %.5f, min %.5f; "
           "attx bf16 mean %.6f, min %.6f\n", cos_sum[1] / n, cos_min[1], cos_sum[2] / n, cos_min[2]);
    attx_ctx_free(ctx);
    free(v32);
    free(vq);
    for (int k = 0; k < 3; k++) attx_model_close(embedder[k]);
    attx_dataset_free(&ds);
}

/* path opened three times: fp32, int8 and bf16 */
static int open_variants(variants *v, const char *path)
{
    attx_error err;
    if (open_model(&v->fp32, path) != 0 || open_model(&v->int8, path) != 0 || open_model(&v->bf16, path) != 0) return -1;
    if (attx_model_quantize_int8(v->int8, &err) == 0 && attx_model_convert_bf16(v->bf16, &err) == 0) return 0;
    fprintf(stderr, "bench_ort: %s\n", err.msg);
    return -1;
}

static void close_variants(variants *v)
{
    attx_model_close(v->fp32);
    attx_model_close(v->int8);
    attx_model_close(v->bf16);
}

/* bench_ort: the table and the accuracy lines; bench_ort --accuracy: the accuracy lines alone */
int main(int argc, char **argv)
{
    int accuracy_only = argc > 1 && strcmp(argv[1], "--accuracy") == 0;
    const char *python = getenv("ATTX_BENCH_PYTHON") ? getenv("ATTX_BENCH_PYTHON") : "python3";
    const char *base_dir = "build/bench/bert-base";
    char cmd[512];
    if (access("build/bench/bert-base/model.safetensors", R_OK) != 0) {
        fprintf(stderr, "bench_ort: writing a random BERT-base-sized model to %s\n", base_dir);
        if (system("mkdir -p build/bench/bert-base") != 0) return 1;
        write_bert_base(base_dir, BERT_VOCAB);
    }
    peer ort_peer, *ort = NULL;
    snprintf(cmd, sizeof cmd, "%s -c 'import onnxruntime, onnx, torch' 2>/dev/null", python);
    if (system(cmd) == 0 && peer_start(&ort_peer, python) == 0) {
        ort = &ort_peer;
        fprintf(ort->to, "model minilm data/sst2-minilm.safetensors\nmodel base %s\n", base_dir);
        fflush(ort->to);
        char line[256];
        for (int i = 0; i < 2; i++)
            if (!fgets(line, sizeof line, ort->from) || strncmp(line, "ok", 2) != 0) {
                fprintf(stderr, "bench_ort: ONNX Runtime could not load a model: %s", line);
                return 1;
            }
    } else {
        printf("(ONNX Runtime not measured: %s cannot import onnxruntime, onnx and torch; set ATTX_BENCH_PYTHON to "
               "a venv made with --system-site-packages that has `pip install onnxruntime onnx`)\n", python);
    }

    variants minilm, base;
    if (open_variants(&minilm, "data/sst2-minilm.safetensors") != 0 || open_variants(&base, base_dir) != 0) return 1;
    double load_before = load_average();
    if (!accuracy_only) {
        printf("forward ms (median of a round, best of %d interleaved rounds); ratio = attx / ONNX Runtime (attx bf16: "
               "to ONNX Runtime fp32)\n", ROUNDS);
        printf("%-10s %-14s %7s | %8s %8s  %6s %8s  %6s | %8s %8s  %6s | %8s  %6s\n", "model", "batch x seq", "threads",
               "attx", "PyTorch", "ratio", "ORT fp32", "ratio", "attx i8", "ORT i8", "ratio", "attx b16", "ratio");
        static const struct { int base, B, T, repeat; } cases[] = {
            {0, 1, 16, 20}, {0, 1, 128, 10}, {0, 32, 128, 3}, {1, 1, 128, 5}, {1, 8, 128, 3},
        };
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            attx_batch batch = synthetic_batch(cases[c].B, cases[c].T);
            char shape[32];
            snprintf(shape, sizeof shape, "%d x %d", cases[c].B, cases[c].T);
            for (int threads = 1; threads <= 2; threads++) {
                timing t = measure(cases[c].base ? &base : &minilm, ort, cases[c].base ? "base" : "minilm", threads,
                                   cases[c].repeat, &batch);
                print_row(cases[c].base ? "BERT-base" : "MiniLM-L6", shape, threads, t);
            }
            free_batch(&batch);
        }
        for (int threads = 1; threads <= 2; threads++) real_sentences(&minilm, ort, threads);
    }
    precision_accuracy(&minilm, ort);
    double load_after = load_average();
    char cpu[128];
    cpu_name(cpu, sizeof cpu);
    printf("CPU: %s, attx kernels %s (bf16: %s); load average %.2f before, %.2f after", cpu,
           attx_isa_name(attx_cpu_isa()), attx_cpu_has_bf16() ? "AVX512_BF16" : "emulated", load_before, load_after);
    if (fmax(load_before, load_after) > 0.5) printf(" (busy: other jobs share these cores; ratios are noisy)");
    printf("\n");
    if (ort) peer_stop(ort);
    close_variants(&minilm);
    close_variants(&base);
    return 0;
}
