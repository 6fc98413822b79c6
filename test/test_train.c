/* test_train.c — training a BERT classifier: initialisation, saving and reopening, dropout,
 * the loss going down on a fixed batch, overfitting 32 sentences, and resuming from a
 * checkpoint giving the same bits as an uninterrupted run. */
#include "testutil.h"

#include <math.h>

#include "attx_engine.h"
#include "tape.h"
#include "ops.h"

#define VOCAB "test/fixtures/bert/tiny/vocab.txt"

static const char *config_json(float dropout)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"architectures\": [\"BertForSequenceClassification\"], \"model_type\": \"bert\","
             " \"vocab_size\": 64, \"hidden_size\": 32, \"num_hidden_layers\": 2, \"num_attention_heads\": 2,"
             " \"intermediate_size\": 64, \"max_position_embeddings\": 24, \"type_vocab_size\": 2,"
             " \"hidden_dropout_prob\": %g, \"attention_probs_dropout_prob\": %g,"
             " \"id2label\": {\"0\": \"negative\", \"1\": \"positive\"}}",
             dropout, dropout);
    return buf;
}

static attx_model *new_model(float dropout, uint64_t seed)
{
    size_t len;
    char *vocab = tu_read(VOCAB, &len);
    attx_model *m;
    attx_error err;
    if (attx_model_create(&m, config_json(dropout), vocab, len, seed, &err) != 0) fail_msg("%s", err.msg);
    free(vocab);
    return m;
}

/* 32 sentences of 3 to 8 words drawn from the vocabulary, with random labels */
#define N_SENT 32
static char sentences[N_SENT][128];
static int32_t sentence_labels[N_SENT];

static void make_sentences(void)
{
    static const char *words[] = {"the", "a", "movie", "film", "good", "bad", "great", "plot", "actor",
                                  "story", "very", "really", "boring", "fun", "love", "hate", "time",
                                  "team", "game", "win", "lost", "market", "price", "rain", "sun", "city"};
    uint64_t rng = 99;
    for (int s = 0; s < N_SENT; s++) {
        int n = 3 + (int)(tu_random(&rng) % 6);
        sentences[s][0] = '\0';
        for (int w = 0; w < n; w++) {
            strcat(sentences[s], words[tu_random(&rng) % (sizeof words / sizeof words[0])]);
            if (w + 1 < n) strcat(sentences[s], " ");
        }
        sentence_labels[s] = (int32_t)(tu_random(&rng) % 2);
    }
}

/* Encodes sentences[first .. first+B) into a right-padded batch ([PAD] = 0). */
typedef struct { int32_t ids[N_SENT * 24], lengths[N_SENT], labels[N_SENT]; attx_batch batch; } text_batch;

static void encode(const attx_model *m, int first, int B, text_batch *tb)
{
    attx_encoding enc[N_SENT];
    attx_error err;
    int T = 0;
    for (int b = 0; b < B; b++) {
        memset(&enc[b], 0, sizeof enc[b]);
        const char *s = sentences[first + b];
        if (attx_encode_text(m, s, strlen(s), &enc[b], &err) != 0) fail_msg("%s", err.msg);
        if (enc[b].length > T) T = enc[b].length;
    }
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) tb->ids[b * T + t] = t < enc[b].length ? enc[b].ids[t] : 0;
        tb->lengths[b] = enc[b].length;
        tb->labels[b] = sentence_labels[first + b];
        attx_encoding_free(&enc[b]);
    }
    tb->batch = (attx_batch){.B = B, .T = T, .ids = tb->ids, .lengths = tb->lengths};
}

typedef struct {
    attx_model *m;
    attx_adamw opt;
    attx_tensor **params;
    const char **names;
    size_t n;
    attx_ctx *ctx;
} trainer;

static void trainer_init(trainer *t, attx_model *m, double lr)
{
    attx_error err;
    t->m = m;
    if (attx_model_make_trainable(m, &err) != 0) fail_msg("%s", err.msg);
    t->n = attx_model_params(m, NULL, NULL);
    t->params = malloc(t->n * sizeof *t->params);
    t->names = malloc(t->n * sizeof *t->names);
    uint8_t *decay = malloc(t->n);
    attx_model_params(m, t->params, t->names);
    attx_weight_decay_mask(m, decay);
    attx_adamw_config cfg = attx_adamw_defaults();
    cfg.lr = lr;
    if (attx_adamw_init(&t->opt, t->params, decay, t->n, &cfg, &err) != 0) fail_msg("%s", err.msg);
    free(decay);
    t->ctx = attx_ctx_new();
}

static void trainer_free(trainer *t)
{
    attx_adamw_free(&t->opt);
    free(t->params);
    free(t->names);
    attx_ctx_free(t->ctx);
    attx_model_close(t->m);
}

static attx_step_stats step(trainer *t, const text_batch *tb, double lr, uint64_t seed)
{
    attx_step_stats st;
    attx_error err;
    if (attx_train_step(t->m, t->ctx, &t->opt, &tb->batch, tb->labels,
                        &(attx_step_config){.lr = lr, .max_grad_norm = 1.0, .dropout_seed = seed}, &st, &err) != 0)
        fail_msg("%s", err.msg);
    return st;
}

static int setup(void **state)
{
    (void)state;
    make_sentences();
    return 0;
}

static void test_init_and_save(void **state)
{
    (void)state;
    attx_model *a = new_model(0.1f, 7), *b = new_model(0.1f, 7), *c = new_model(0.1f, 8);
    size_t n = attx_model_params(a, NULL, NULL);
    attx_tensor **pa = malloc(n * sizeof *pa), **pb = malloc(n * sizeof *pb), **pc = malloc(n * sizeof *pc);
    const char **names = malloc(n * sizeof *names);
    assert_int_equal(attx_model_params(a, pa, names), n);
    attx_model_params(b, pb, NULL);
    attx_model_params(c, pc, NULL);
    assert_int_equal(n, 5 + 2 * 16 + 2 + 2);              /* embeddings, layers, pooler, classifier */
    int differs = 0;
    for (size_t i = 0; i < n; i++) {
        assert_memory_equal(pa[i]->data, pb[i]->data, (size_t)pa[i]->numel * sizeof(float));   /* same seed */
        differs |= memcmp(pa[i]->data, pc[i]->data, (size_t)pa[i]->numel * sizeof(float)) != 0;
        const char *last = strrchr(names[i], '.');
        if (strcmp(last, ".bias") == 0)
            for (int64_t k = 0; k < pa[i]->numel; k++) assert_true(pa[i]->data[k] == 0.0f);
        else if (strstr(names[i], "LayerNorm"))
            for (int64_t k = 0; k < pa[i]->numel; k++) assert_true(pa[i]->data[k] == 1.0f);
    }
    assert_true(differs);
    /* word embeddings: N(0, 0.02²) except the [PAD] row, which is 0 */
    attx_tensor *word = pa[0];
    assert_string_equal(names[0], "bert.embeddings.word_embeddings.weight");
    double sum = 0, sq = 0;
    for (int64_t k = 32; k < word->numel; k++) {
        sum += word->data[k];
        sq += (double)word->data[k] * word->data[k];
    }
    double cnt = (double)(word->numel - 32), mean = sum / cnt, sd = sqrt(sq / cnt - mean * mean);
    assert_true(fabs(mean) < 0.003 && fabs(sd - 0.02) < 0.002);
    for (int k = 0; k < 32; k++) assert_true(word->data[k] == 0.0f);

    /* save, reopen (F32 and F16): same tensors, same logits */
    char *dir = tu_mkdtemp(), *path = tu_path(dir, "m.safetensors"), *half = tu_path(dir, "h.safetensors");
    attx_error err;
    assert_int_equal(attx_model_save(a, path, ATTX_F32, &err), 0);
    assert_int_equal(attx_model_save(a, half, ATTX_F16, &err), 0);
    attx_model *r;
    if (attx_model_open(&r, path, &err) != 0) fail_msg("%s", err.msg);
    attx_tensor **pr = malloc(n * sizeof *pr);
    assert_int_equal(attx_model_params(r, pr, NULL), n);
    for (size_t i = 0; i < n; i++) assert_memory_equal(pa[i]->data, pr[i]->data, (size_t)pa[i]->numel * sizeof(float));
    text_batch tb;
    encode(a, 0, 4, &tb);
    attx_ctx *ctx = attx_ctx_new();
    attx_outputs o1, o2;
    assert_int_equal(attx_forward(a, ctx, &tb.batch, &o1, &err), 0);
    float logits[8];
    memcpy(logits, o1.logits->data, sizeof logits);
    attx_ctx_reset(ctx);
    assert_int_equal(attx_forward(r, ctx, &tb.batch, &o2, &err), 0);
    assert_memory_equal(logits, o2.logits->data, sizeof logits);
    attx_model_close(r);
    if (attx_model_open(&r, half, &err) != 0) fail_msg("%s", err.msg);
    attx_ctx_reset(ctx);
    assert_int_equal(attx_forward(r, ctx, &tb.batch, &o2, &err), 0);
    for (int k = 0; k < 8; k++) assert_true(fabs(logits[k] - o2.logits->data[k]) < 1e-3);
    attx_model_close(r);
    attx_ctx_free(ctx);
    free(pr);
    free(path);
    free(half);
    tu_rmdir(dir);
    free(pa);
    free(pb);
    free(pc);
    free(names);
    attx_model_close(a);
    attx_model_close(b);
    attx_model_close(c);
}

/* The parameter called `name`, or NULL. */
static attx_tensor *param_named(const attx_model *m, const char *name)
{
    size_t n = attx_model_params(m, NULL, NULL);
    attx_tensor **p = malloc(n * sizeof *p), *found = NULL;
    const char **names = malloc(n * sizeof *names);
    attx_model_params(m, p, names);
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) found = p[i];
    free(p);
    free(names);
    return found;
}

/* Every parameter of `fresh` but the classifier holds the same bits as base's. */
static void assert_same_body(const attx_model *base, const attx_model *fresh)
{
    size_t n = attx_model_params(fresh, NULL, NULL);
    attx_tensor **p = malloc(n * sizeof *p);
    const char **names = malloc(n * sizeof *names);
    attx_model_params(fresh, p, names);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(names[i], "classifier.", 11) == 0) continue;
        attx_tensor *b = param_named(base, names[i]);
        if (!b) fail_msg("base has no '%s'", names[i]);
        assert_int_equal(b->numel, p[i]->numel);
        assert_memory_equal(b->data, p[i]->data, (size_t)b->numel * sizeof(float));
    }
    free(p);
    free(names);
}

/* --init on another label set: the body is kept, the classifier is new (bias 0, weights
 * N(0, 0.02²)), the logits are that classifier applied to the pooled [CLS] state, and the
 * model saves and reopens with its new classes; a bare ViT gets a classifier too. */
static void test_new_head(void **state)
{
    (void)state;
    attx_model *base = new_model(0, 7), *fresh;
    attx_error err;
    const char *labels[] = {"world", "sports", "business"};
    if (attx_model_with_new_head(&fresh, base, labels, 3, 11, &err) != 0) fail_msg("%s", err.msg);
    const attx_config *c = attx_model_config(fresh);
    assert_int_equal(c->num_labels, 3);
    assert_string_equal(c->labels[2], "business");
    assert_true(attx_model_has_classifier(fresh));
    assert_same_body(base, fresh);
    attx_tensor *w = param_named(fresh, "classifier.weight"), *bias = param_named(fresh, "classifier.bias");
    assert_int_equal(w->numel, 3 * 32);
    double sq = 0;
    for (int k = 0; k < 96; k++) sq += (double)w->data[k] * w->data[k];
    assert_true(sqrt(sq / 96) > 0.012 && sqrt(sq / 96) < 0.028);
    for (int k = 0; k < 3; k++) assert_true(bias->data[k] == 0.0f);

    /* logits = W_c · tanh(W_p h_[CLS] + b_p), computed here in double from the last hidden state */
    text_batch tb;
    encode(fresh, 0, 4, &tb);
    attx_ctx *ctx = attx_ctx_new();
    attx_ctx_set_tape(ctx, 1);   /* keeps every layer's hidden state */
    attx_outputs o;
    assert_int_equal(attx_forward(fresh, ctx, &tb.batch, &o, &err), 0);
    assert_int_equal(o.logits->shape[1], 3);
    attx_tensor *wp = param_named(fresh, "bert.pooler.dense.weight"), *bp = param_named(fresh, "bert.pooler.dense.bias");
    const float *h = o.hidden[c->num_layers]->data;
    for (int b = 0; b < 4; b++) {
        double pooled[32];
        for (int i = 0; i < 32; i++) {
            double z = bp->data[i];
            for (int d = 0; d < 32; d++) z += (double)wp->data[i * 32 + d] * h[(size_t)b * tb.batch.T * 32 + d];
            pooled[i] = tanh(z);
        }
        for (int k = 0; k < 3; k++) {
            double z = 0;
            for (int d = 0; d < 32; d++) z += (double)w->data[k * 32 + d] * pooled[d];
            assert_true(fabs(z - o.logits->data[b * 3 + k]) < 1e-5);
        }
    }
    attx_ctx_free(ctx);

    char *dir = tu_mkdtemp(), *path = tu_path(dir, "m.safetensors");
    assert_int_equal(attx_model_save(fresh, path, ATTX_F32, &err), 0);
    attx_model *reopened;
    if (attx_model_open(&reopened, path, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(attx_model_config(reopened)->num_labels, 3);
    assert_string_equal(attx_model_config(reopened)->labels[0], "world");
    attx_model_close(reopened);
    free(path);
    tu_rmdir(dir);
    assert_int_equal(attx_model_with_new_head(&reopened, base, labels, 0, 1, &err), -1);
    attx_model_close(fresh);
    attx_model_close(base);

    /* a bare ViTModel: a classifier on its final LayerNorm's [CLS] state */
    if (attx_model_open(&base, "test/fixtures/vit/bare", &err) != 0) fail_msg("%s", err.msg);
    assert_false(attx_model_has_classifier(base));
    if (attx_model_with_new_head(&fresh, base, labels, 2, 3, &err) != 0) fail_msg("%s", err.msg);
    assert_true(attx_model_has_classifier(fresh));
    assert_int_equal(attx_model_config(fresh)->num_labels, 2);
    assert_same_body(base, fresh);
    assert_non_null(attx_model_preprocessor_json(fresh, NULL));
    attx_model_close(fresh);
    attx_model_close(base);
}

static void test_dropout(void **state)
{
    (void)state;
    attx_ctx *ctx = attx_ctx_new();
    int64_t shape[1] = {20000};
    attx_tensor *x = attx_tensor_new(ctx, 1, shape);
    for (int64_t i = 0; i < x->numel; i++) x->data[i] = 1.0f + (float)(i % 7);
    x->flags |= ATTX_REQUIRES_GRAD;
    assert_ptr_equal(attx_op_dropout(ctx, x, 0.1f), x);                 /* off: the identity */
    attx_ctx_set_tape(ctx, 1);
    attx_ctx_set_dropout(ctx, 1, 5);
    attx_tensor *y = attx_op_dropout(ctx, x, 0.25f);
    assert_ptr_not_equal(y, x);
    int64_t dropped = 0;
    for (int64_t i = 0; i < x->numel; i++) {
        if (y->data[i] == 0.0f) dropped++;
        else assert_true(fabsf(y->data[i] - x->data[i] / 0.75f) < 1e-5f);
    }
    /* 25% ± 4 standard deviations of a binomial(20000, 0.25) */
    assert_true(fabs((double)dropped / 20000 - 0.25) < 4 * sqrt(0.25 * 0.75 / 20000));
    assert_int_equal(attx_backward(ctx, y, NULL), 0);
    for (int64_t i = 0; i < x->numel; i++)
        assert_true(x->grad[i] == (y->data[i] == 0.0f ? 0.0f : 1.0f / 0.75f));
    attx_ctx_free(ctx);
}

/* Full batch, no dropout, small steps: the loss goes down at every step. */
static void test_loss_decreases(void **state)
{
    (void)state;
    trainer t;
    trainer_init(&t, new_model(0.0f, 3), 3e-4);
    text_batch tb;
    encode(t.m, 0, 16, &tb);
    double prev = INFINITY;
    for (int s = 0; s < 20; s++) {
        attx_step_stats st = step(&t, &tb, 3e-4, (uint64_t)s);
        if (!(st.loss < prev)) fail_msg("step %d: loss %.6f did not go below %.6f", s, st.loss, prev);
        prev = st.loss;
    }
    trainer_free(&t);
}

/* 32 sentences with random labels: memorised to 100% (eval mode, no dropout) */
static void test_overfit(void **state)
{
    (void)state;
    trainer t;
    trainer_init(&t, new_model(0.1f, 11), 3e-3);
    text_batch batches[4];
    for (int b = 0; b < 4; b++) encode(t.m, 8 * b, 8, &batches[b]);
    int correct = 0, epoch;
    for (epoch = 0; epoch < 150 && correct < N_SENT; epoch++) {
        for (int b = 0; b < 4; b++) step(&t, &batches[b], 3e-3, (uint64_t)(epoch * 4 + b));
        correct = 0;
        attx_ctx *ctx = attx_ctx_new();
        for (int b = 0; b < 4; b++) {
            attx_outputs out;
            attx_error err;
            attx_ctx_reset(ctx);
            assert_int_equal(attx_forward(t.m, ctx, &batches[b].batch, &out, &err), 0);
            for (int i = 0; i < 8; i++)
                correct += (out.logits->data[2 * i + 1] > out.logits->data[2 * i]) == batches[b].labels[i];
        }
        attx_ctx_free(ctx);
    }
    print_message("overfit: %d of %d training sentences right after %d epochs\n", correct, N_SENT, epoch);
    assert_int_equal(correct, N_SENT);
    trainer_free(&t);
}

/* 10 steps in one go = 4 steps, a checkpoint (model + optimizer), reopen, 6 more: same bits */
static void test_resume_bitwise(void **state)
{
    (void)state;
    text_batch batches[4];
    trainer a;
    trainer_init(&a, new_model(0.1f, 21), 1e-3);
    for (int b = 0; b < 4; b++) encode(a.m, 8 * b, 8, &batches[b]);
    for (int s = 0; s < 10; s++) step(&a, &batches[s % 4], 1e-3 * (1 - s / 10.0), 1000 + (uint64_t)s);

    trainer b;
    trainer_init(&b, new_model(0.1f, 21), 1e-3);
    for (int s = 0; s < 4; s++) step(&b, &batches[s % 4], 1e-3 * (1 - s / 10.0), 1000 + (uint64_t)s);
    char *dir = tu_mkdtemp(), *mpath = tu_path(dir, "m.safetensors"), *opath = tu_path(dir, "m.optim.safetensors");
    attx_error err;
    assert_int_equal(attx_model_save(b.m, mpath, ATTX_F32, &err), 0);
    assert_int_equal(attx_adamw_save(&b.opt, b.names, opath, "epoch 0 batch 4", &err), 0);
    trainer_free(&b);

    trainer c;
    attx_model *m;
    if (attx_model_open(&m, mpath, &err) != 0) fail_msg("%s", err.msg);
    trainer_init(&c, m, 1e-3);
    char progress[64];
    if (attx_adamw_load(&c.opt, c.names, opath, progress, sizeof progress, &err) != 0) fail_msg("%s", err.msg);
    assert_string_equal(progress, "epoch 0 batch 4");
    assert_int_equal(c.opt.step, 4);
    for (int s = 4; s < 10; s++) step(&c, &batches[s % 4], 1e-3 * (1 - s / 10.0), 1000 + (uint64_t)s);
    for (size_t i = 0; i < a.n; i++)
        assert_memory_equal(a.params[i]->data, c.params[i]->data, (size_t)a.params[i]->numel * sizeof(float));

    /* a checkpoint of another model is refused */
    trainer d;
    trainer_init(&d, new_model(0.1f, 21), 1e-3);
    d.names[3] = "not.a.tensor";
    assert_int_equal(attx_adamw_load(&d.opt, d.names, opath, NULL, 0, &err), -1);
    assert_contains(err.msg, "no tensor 'm.not.a.tensor'");
    trainer_free(&d);
    trainer_free(&a);
    trainer_free(&c);
    free(mpath);
    free(opath);
    tu_rmdir(dir);
}

/* Every parameter's values, to see that a refused step changed none of them. */
static float **snapshot(const trainer *t)
{
    float **copy = malloc(t->n * sizeof *copy);
    for (size_t i = 0; i < t->n; i++) {
        copy[i] = malloc((size_t)t->params[i]->numel * sizeof(float));
        memcpy(copy[i], t->params[i]->data, (size_t)t->params[i]->numel * sizeof(float));
    }
    return copy;
}

static void assert_unchanged(const trainer *t, float **copy)
{
    for (size_t i = 0; i < t->n; i++) {
        if (memcmp(copy[i], t->params[i]->data, (size_t)t->params[i]->numel * sizeof(float)) != 0)
            fail_msg("%s changed", t->names[i]);
        free(copy[i]);
    }
    free(copy);
}

/* A step that meets a number that is not finite is an error, and the weights stay as they
 * were (a NaN weight: refused in the forward, named; a learning rate so large that the
 * update overflows: named after the update; 1e30: the update is finite, the next forward is
 * not, refused before its update). */
static void test_nonfinite_step(void **state)
{
    (void)state;
    trainer t;
    trainer_init(&t, new_model(0.1f, 5), 1e-3);
    text_batch tb;
    encode(t.m, 0, 8, &tb);
    attx_step_stats st;
    attx_error err;
    size_t k = 0;
    while (strcmp(t.names[k], "bert.encoder.layer.1.intermediate.dense.weight") != 0) k++;
    t.params[k]->data[70] = NAN;   /* row 2, column 6 of [64, 32] */
    float **before = snapshot(&t);
    assert_int_equal(attx_train_step(t.m, t.ctx, &t.opt, &tb.batch, tb.labels, &(attx_step_config){1e-3, 1.0, 0, 1}, &st, &err), -1);
    assert_contains(err.msg, "the logits are not finite: weight tensor "
                             "'bert.encoder.layer.1.intermediate.dense.weight' holds NaN at [2, 6]");
    assert_unchanged(&t, before);
    trainer_free(&t);

    trainer_init(&t, new_model(0.1f, 5), 1e-3);
    before = snapshot(&t);
    assert_int_equal(attx_train_step(t.m, t.ctx, &t.opt, &tb.batch, tb.labels, &(attx_step_config){1e39, 1.0, 0, 1}, &st, &err), -1);
    assert_contains(err.msg, "the update (learning rate 1e+39) made bert.embeddings.word_embeddings.weight hold");
    for (size_t i = 0; i < t.n; i++) free(before[i]);
    free(before);
    trainer_free(&t);

    trainer_init(&t, new_model(0.1f, 5), 1e-3);
    if (attx_train_step(t.m, t.ctx, &t.opt, &tb.batch, tb.labels, &(attx_step_config){1e30, 1.0, 0, 1}, &st, &err) != 0)
        fail_msg("%s", err.msg);
    before = snapshot(&t);
    assert_int_equal(attx_train_step(t.m, t.ctx, &t.opt, &tb.batch, tb.labels, &(attx_step_config){1e30, 1.0, 0, 2}, &st, &err), -1);
    assert_contains(err.msg, "are not finite");
    assert_unchanged(&t, before);
    trainer_free(&t);
}

/* Layer-wise rate decay: every parameter's scale from its name (embeddings, layer l, after the
 * encoder), against decay^(L + 1 - depth) written out; decay 1 leaves every rate alone. */
static void test_layer_lr_scales(void **state)
{
    (void)state;
    trainer t;
    trainer_init(&t, new_model(0.0f, 5), 1e-3);
    int L = attx_model_config(t.m)->num_layers;
    double *scale = malloc(t.n * sizeof *scale);
    attx_layer_lr_scales(t.m, 0.8, scale);
    int seen[3] = {0, 0, 0};
    for (size_t i = 0; i < t.n; i++) {
        const char *name = t.names[i];
        double want;
        if (strncmp(name, "bert.embeddings.", 16) == 0) {
            want = pow(0.8, L + 1);
            seen[0]++;
        } else if (strncmp(name, "bert.encoder.layer.", 19) == 0) {
            want = pow(0.8, L - atoi(name + 19));
            seen[1]++;
        } else {                                    /* pooler, classifier */
            want = 1;
            seen[2]++;
        }
        if (fabs(scale[i] - want) > 1e-15) fail_msg("%s: scale %.17g, want %.17g", name, scale[i], want);
    }
    assert_true(seen[0] > 0 && seen[1] > 0 && seen[2] > 0);
    attx_layer_lr_scales(t.m, 1.0, scale);
    for (size_t i = 0; i < t.n; i++) assert_true(scale[i] == 1.0);
    free(scale);
    trainer_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_save),
        cmocka_unit_test(test_new_head),
        cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_loss_decreases),
        cmocka_unit_test(test_overfit),
        cmocka_unit_test(test_resume_bitwise),
        cmocka_unit_test(test_nonfinite_step),
        cmocka_unit_test(test_layer_lr_scales),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
