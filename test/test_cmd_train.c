/* test_cmd_train.c — `attx train` and `attx vocab` end to end on a small made-up task: the
 * model it writes predicts, the JSON log has one record per epoch, a run stopped after an epoch
 * and resumed writes the same bytes as one that ran straight through, and bad invocations
 * fail with the documented exit status and a clear message. */
#include "testutil.h"

#include <math.h>

#define VOCAB "test/fixtures/bert/tiny/vocab.txt"

static char *dir;

/* label 1 when "good" comes before "bad" or there is no "bad"; learnable from word order */
static void write_data(const char *path, int rows, uint64_t seed)
{
    static const char *filler[] = {"the", "movie", "film", "plot", "actor", "story", "very", "really", "time"};
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "label\tsentence\n");
    for (int r = 0; r < rows; r++) {
        int label = (int)(tu_random(&seed) % 2);
        int n = 2 + (int)(tu_random(&seed) % 4);
        fprintf(f, "%d\t", label);
        for (int w = 0; w < n; w++) fprintf(f, "%s ", filler[tu_random(&seed) % 9]);
        fprintf(f, "%s\n", label ? "good" : "bad");
    }
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    dir = tu_mkdtemp();
    char *train = tu_path(dir, "train.tsv"), *dev = tu_path(dir, "dev.tsv");
    write_data(train, 64, 1);
    write_data(dev, 16, 2);
    free(train);
    free(dev);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmdir(dir);
    return 0;
}

static int train(const char *extra, char **out, char **err)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s train --data %s/train.tsv --dev %s/dev.tsv --vocab " VOCAB " --labels bad,good --layers 1 "
             "--hidden 16 --heads 2 --max-len 12 --batch 8 --lr 3e-3 --threads 1 %s",
             tu_attx(), dir, dir, extra);
    return tu_run(cmd, out, err);
}

static void test_train_predict_log(void **state)
{
    (void)state;
    char *out, *err, extra[1024];
    snprintf(extra, sizeof extra, "--epochs 10 --out %s/m.safetensors --log %s/log.jsonl", dir, dir);
    int rc = train(extra, &out, &err);
    if (rc != 0) fail_msg("attx train exited %d: %s", rc, err);
    assert_contains(out, "best dev accuracy");
    assert_contains(err, "64 training examples");
    free(out);
    free(err);
    /* the log: ten JSON objects, one per epoch */
    char *log_path = tu_path(dir, "log.jsonl");
    size_t len;
    char *log = tu_read(log_path, &len);
    int lines = 0;
    double last_dev = -1;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
        attx_json_doc *doc;
        attx_error e;
        if (attx_json_parse(line, strlen(line), NULL, &doc, &e) != 0) fail_msg("log line %d: %s", lines + 1, e.msg);
        const attx_json_value *acc = attx_json_get(attx_json_root(doc), "best_dev_accuracy");
        assert_non_null(acc);
        assert_int_equal(attx_json_double(acc, &last_dev), 0);
        attx_json_free(doc);
        lines++;
    }
    assert_int_equal(lines, 10);
    print_message("best dev accuracy on the made-up task: %.3f\n", last_dev);
    assert_true(last_dev >= 0.9);   /* the task is one word: learnt */
    free(log);
    free(log_path);
    /* the model it wrote is a self-contained classifier */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s predict %s/m.safetensors 'the movie was good'", tu_attx(), dir);
    assert_int_equal(tu_run(cmd, &out, NULL), 0);
    assert_contains(out, "good");
    free(out);
}

/* Continues run OUT (stopped after its first epoch) with --resume and the options extra, on 2
 * threads; the model comes from the checkpoint, so no --vocab. */
static void resume(const char *extra, const char *out)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s train --data %s/train.tsv --dev %s/dev.tsv --labels bad,good --batch 8 --lr 3e-3 --threads 2 "
             "%s --out %s/%s.safetensors --resume",
             tu_attx(), dir, dir, extra, dir, out);
    char *err;
    int rc = tu_run(cmd, NULL, &err);
    if (rc != 0) fail_msg("resume exited %d: %s", rc, err);
    assert_contains(err, "resuming after epoch 1");
    free(err);
}

/* The checkpoints (model and optimizer state) of runs OUT_A and OUT_B hold the same bytes. */
static void assert_same_checkpoints(const char *out_a, const char *out_b)
{
    const char *files[] = {"%s/%s.resume.safetensors", "%s/%s.resume.optim.safetensors"};
    for (int f = 0; f < 2; f++) {
        char pa[1024], pb[1024];
        snprintf(pa, sizeof pa, files[f], dir, out_a);
        snprintf(pb, sizeof pb, files[f], dir, out_b);
        size_t la, lb;
        char *a = tu_read(pa, &la), *b = tu_read(pb, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);
        free(a);
        free(b);
    }
}

static void test_resume_same_bytes(void **state)
{
    (void)state;
    char extra[1024];
    snprintf(extra, sizeof extra, "--epochs 3 --out %s/a.safetensors", dir);
    assert_int_equal(train(extra, NULL, NULL), 0);
    snprintf(extra, sizeof extra, "--epochs 3 --stop-after 1 --out %s/b.safetensors", dir);
    char *out;
    assert_int_equal(train(extra, &out, NULL), 0);
    assert_contains(out, "stopped after epoch 1 of 3");
    free(out);
    resume("--epochs 3", "b");
    assert_same_checkpoints("a", "b");   /* and 1 thread vs 2 threads for the resumed part */
}

/* --ema: a run resumed after its first epoch writes the same bytes as one that ran straight
 * through (the average is part of the checkpoint), and the model it saves is the average. */
static void test_ema(void **state)
{
    (void)state;
    char extra[1024];
    snprintf(extra, sizeof extra, "--ema 0.9 --epochs 2 --out %s/ea.safetensors", dir);
    assert_int_equal(train(extra, NULL, NULL), 0);
    snprintf(extra, sizeof extra, "--ema 0.9 --epochs 2 --stop-after 1 --out %s/eb.safetensors", dir);
    assert_int_equal(train(extra, NULL, NULL), 0);
    resume("--ema 0.9 --epochs 2", "eb");
    assert_same_checkpoints("ea", "eb");
    /* one epoch: its only dev check saves the model, which must be the average, not the weights */
    snprintf(extra, sizeof extra, "--ema 0.9 --epochs 1 --out %s/ec.safetensors", dir);
    assert_int_equal(train(extra, NULL, NULL), 0);
    char *model_path = tu_path(dir, "ec.safetensors"), *optim_path = tu_path(dir, "ec.resume.optim.safetensors");
    char *raw_path = tu_path(dir, "ec.resume.safetensors");
    attx_tensor_file model, optim, raw;
    attx_error e;
    assert_int_equal(attx_safetensors_open(&model, model_path, &e), 0);
    assert_int_equal(attx_safetensors_open(&optim, optim_path, &e), 0);
    assert_int_equal(attx_safetensors_open(&raw, raw_path, &e), 0);
    const attx_stored_tensor *w = attx_tensor_file_find(&model, "classifier.weight");
    const attx_stored_tensor *avg = attx_tensor_file_find(&optim, "avg.classifier.weight");
    const attx_stored_tensor *last = attx_tensor_file_find(&raw, "classifier.weight");
    assert_non_null(w);
    assert_non_null(avg);
    assert_non_null(last);
    assert_int_equal(w->numel, avg->numel);
    assert_memory_equal(w->data, avg->data, w->numel * sizeof(float));
    assert_memory_not_equal(w->data, last->data, w->numel * sizeof(float));
    attx_tensor_file_close(&model);
    attx_tensor_file_close(&optim);
    attx_tensor_file_close(&raw);
    free(model_path), free(optim_path), free(raw_path);
}

/* --init on other classes: a bad/good model gets a new classifier (its body kept) for plot/good
 * and learns it; on three classes it writes a model with the three names. */
static void test_init_new_classes(void **state)
{
    (void)state;
    char extra[1024];
    snprintf(extra, sizeof extra, "--layers 2 --hidden 32 --epochs 4 --out %s/m2.safetensors", dir);
    assert_int_equal(train(extra, NULL, NULL), 0);
    static const char *last[] = {"plot", "good", "bad"};
    for (int split = 0; split < 4; split++) {   /* train2, dev2 (plot/good), train3, dev3 (+ bad) */
        char name[32];
        snprintf(name, sizeof name, "%s%d.tsv", split % 2 ? "dev" : "train", split < 2 ? 2 : 3);
        char *path = tu_path(dir, name);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        uint64_t seed = 10 + (uint64_t)split;
        fprintf(f, "label\tsentence\n");
        for (int r = 0; r < (split % 2 ? 24 : 96); r++) {
            int label = (int)(tu_random(&seed) % (split < 2 ? 2 : 3));
            fprintf(f, "%d\tthe %s was really %s\n", label, tu_random(&seed) % 2 ? "movie" : "film", last[label]);
        }
        fclose(f);
        free(path);
    }
    char cmd[4096], *out, *err;
    snprintf(cmd, sizeof cmd,
             "%s train --init %s/m2.safetensors --data %s/train2.tsv --dev %s/dev2.tsv --labels plot,good "
             "--epochs 12 --batch 8 --lr 3e-3 --threads 1 --out %s/mp.safetensors",
             tu_attx(), dir, dir, dir, dir);
    int rc = tu_run(cmd, &out, &err);
    if (rc != 0) fail_msg("attx train --init exited %d: %s", rc, err);
    assert_contains(err, "a new classifier on the model's bert body for the data's 2 classes: plot good");
    assert_contains(out, "best dev accuracy 100.00%");
    free(out);
    free(err);
    snprintf(cmd, sizeof cmd, "%s predict %s/mp.safetensors 'the film was really plot'", tu_attx(), dir);
    assert_int_equal(tu_run(cmd, &out, NULL), 0);
    assert_contains(out, "plot");
    free(out);
    snprintf(cmd, sizeof cmd,
             "%s train --init %s/m2.safetensors --data %s/train3.tsv --dev %s/dev3.tsv --labels plot,good,bad "
             "--epochs 1 --batch 8 --threads 1 --out %s/m3.safetensors && %s info %s/m3.safetensors",
             tu_attx(), dir, dir, dir, dir, tu_attx(), dir);
    rc = tu_run(cmd, &out, &err);
    if (rc != 0) fail_msg("attx train --init (3 classes) exited %d: %s", rc, err);
    assert_contains(out, "3: 0=plot 1=good 2=bad");
    free(out);
    free(err);
    /* --max-len with --init truncates the inputs, not the model: "[CLS] the film was [SEP]" loses
     * the word that is the label, in every one of the 96 rows */
    snprintf(cmd, sizeof cmd,
             "%s train --init %s/m2.safetensors --data %s/train2.tsv --dev %s/dev2.tsv --labels plot,good "
             "--max-len 5 --epochs 1 --batch 8 --threads 1 --out %s/m5.safetensors",
             tu_attx(), dir, dir, dir, dir);
    rc = tu_run(cmd, NULL, &err);
    if (rc != 0) fail_msg("attx train --init --max-len exited %d: %s", rc, err);
    assert_contains(err, "96 training examples (480 tokens, 96 truncated to 5 positions)");
    free(err);
    snprintf(cmd, sizeof cmd, "%s info %s/m5.safetensors", tu_attx(), dir);
    assert_int_equal(tu_run(cmd, &out, NULL), 0);
    assert_contains(out, "up to 12 positions");   /* the model keeps its position table */
    free(out);
}

/* --eval-every N: dev checks at steps N, 2N, ... within each epoch (not at its last step, where the
 * epoch's own check is), each a line of the log; the best of all checks is what is kept. */
static void test_eval_every(void **state)
{
    (void)state;
    char *out, *err, extra[1024];
    snprintf(extra, sizeof extra, "--epochs 2 --eval-every 3 --out %s/ev.safetensors --log %s/ev.jsonl", dir, dir);
    int rc = train(extra, &out, &err);   /* 64 rows, batch 8: 8 steps an epoch */
    if (rc != 0) fail_msg("attx train --eval-every exited %d: %s", rc, err);
    assert_contains(err, "step 3: dev acc");
    assert_contains(err, "step 14: dev acc");
    char *log_path = tu_path(dir, "ev.jsonl");
    size_t len;
    char *log = tu_read(log_path, &len);
    static const int64_t steps[] = {3, 6, 0, 11, 14, 0};   /* 0: the epoch's line, which has "steps" */
    int lines = 0;
    double best = -1, best_logged = -1;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        attx_json_doc *doc;
        attx_error e;
        if (attx_json_parse(line, strlen(line), NULL, &doc, &e) != 0) fail_msg("log line %d: %s", lines + 1, e.msg);
        assert_true(lines < 6);
        const attx_json_value *root = attx_json_root(doc), *step = attx_json_get(root, "step");
        int64_t k = 0;
        if (steps[lines]) {
            assert_non_null(step);
            assert_int_equal(attx_json_i64(step, &k), 0);
            assert_int_equal(k, steps[lines]);
        } else {
            assert_null(step);
            assert_non_null(attx_json_get(root, "train_loss"));
        }
        double acc;
        assert_int_equal(attx_json_double(attx_json_get(root, "dev_accuracy"), &acc), 0);
        assert_int_equal(attx_json_double(attx_json_get(root, "best_dev_accuracy"), &best_logged), 0);
        best = acc > best ? acc : best;
        assert_true(best_logged == best);
        attx_json_free(doc);
    }
    assert_int_equal(lines, 6);
    char expect_line[64];
    snprintf(expect_line, sizeof expect_line, "best dev accuracy %.2f%%", 100 * best);
    assert_contains(out, expect_line);
    free(log);
    free(log_path);
    free(out);
    free(err);
}

static void expect(const char *args, int status, const char *message)
{
    char cmd[4096], *err;
    snprintf(cmd, sizeof cmd, "%s %s", tu_attx(), args);
    int rc = tu_run(cmd, NULL, &err);
    if (rc != status) fail_msg("'%s' exited %d, expected %d: %s", args, rc, status, err);
    assert_contains(err, message);
    free(err);
}

static void test_errors(void **state)
{
    (void)state;
    char args[4096];
    expect("train --data x.tsv --out m.safetensors --vocab " VOCAB, 2, "--dev DEV or --dev-split N is needed");
    snprintf(args, sizeof args, "train --data %s/train.tsv --dev-split 4 --out %s/e.safetensors", dir, dir);
    expect(args, 2, "give exactly one of --vocab");
    snprintf(args, sizeof args, "train --data %s/train.tsv --dev-split 4 --vocab " VOCAB " --labels one --out %s/e.safetensors",
             dir, dir);
    expect(args, 2, "--labels names fewer classes than the data has (2)");
    expect("train --data /nonexistent/t.tsv --dev-split 4 --vocab " VOCAB " --out /tmp/x.safetensors", 1,
           "/nonexistent/t.tsv");
    snprintf(args, sizeof args, "train --data %s/train.tsv --dev-split 4 --resume --out %s/none.safetensors", dir, dir);
    expect(args, 1, "none.resume.safetensors");
    snprintf(args, sizeof args, "train --data %s/train.tsv --dev-split 100 --vocab " VOCAB " --out %s/e.safetensors", dir, dir);
    expect(args, 1, "leaves no training rows");
    snprintf(args, sizeof args, "train --data %s/train.tsv --dev-split 4 --vocab " VOCAB " --hidden 10 --heads 4 --out %s/e.safetensors",
             dir, dir);
    expect(args, 2, "not a multiple of --heads");
}

/* attn1: vocabulary from the training rows, fixed T, constant rate as in Lopardo et al. */
static void test_attn1(void **state)
{
    (void)state;
    char cmd[4096], *out, *err;
    snprintf(cmd, sizeof cmd,
             "%s train --arch attn1 --data %s/train.tsv --dev %s/dev.tsv --labels bad,good --hidden 16 --heads 2 "
             "--head-size 8 --max-len 12 --batch 8 --lr 1e-2 --schedule constant --warmup 0 --clip 0 --epochs 8 "
             "--threads 1 --out %s/a1.safetensors",
             tu_attx(), dir, dir, dir);
    int rc = tu_run(cmd, &out, &err);
    if (rc != 0) fail_msg("attx train --arch attn1 exited %d: %s", rc, err);
    assert_contains(err, "attn1 vocabulary of 13 words from the 64 training rows");   /* [cls] UNK + 11 words */
    assert_contains(out, "best dev accuracy 100.00%");
    free(out);
    free(err);
    snprintf(cmd, sizeof cmd, "%s info %s/a1.safetensors --json", tu_attx(), dir);
    assert_int_equal(tu_run(cmd, &out, NULL), 0);
    assert_contains(out, "\"arch\":\"attn1\"");
    free(out);
    snprintf(cmd, sizeof cmd, "train --arch attn1 --vocab " VOCAB " --data %s/train.tsv --dev-split 4 --out %s/x.safetensors",
             dir, dir);
    expect(cmd, 2, "no --vocab");
    /* attn1 keeps its classifier: another label set is refused, not silently given a new head */
    snprintf(cmd, sizeof cmd, "train --init %s/a1.safetensors --data %s/train3.tsv --dev %s/dev3.tsv --out %s/x.safetensors",
             dir, dir, dir, dir);
    expect(cmd, 1, "a new classifier is for BERT and ViT models (this is attn1 with 2 classes; the data has 3)");
}

static void test_vocab_command(void **state)
{
    (void)state;
    char cmd[2048], *out;
    snprintf(cmd, sizeof cmd, "%s vocab %s/train.tsv --out %s/v.txt --size 40", tu_attx(), dir, dir);
    assert_int_equal(tu_run(cmd, &out, NULL), 0);
    assert_contains(out, "40 tokens learned from 64 texts");
    free(out);
    char *path = tu_path(dir, "v.txt");
    size_t len;
    char *v = tu_read(path, &len);
    assert_true(strncmp(v, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", 30) == 0);
    free(v);
    free(path);
    expect("vocab", 2, "DATA is needed");
    snprintf(cmd, sizeof cmd, "vocab %s/train.tsv --out %s/v.txt --size 2", dir, dir);
    expect(cmd, 2, "--size");
}

/* A step whose numbers are not finite stops the run with the step and the epoch and saves
 * nothing: --init from a model whose weights hold a NaN stops at step 1 with the tensor named;
 * a resumed run (its checkpoint given a NaN) stops at its first step and leaves the files of
 * the last finished epoch as they were. (attx_train_step's own refusals, an update that
 * overflows among them, are in test_train.c: --lr is at most 10 here.) */
static void test_nonfinite_stop(void **state)
{
    (void)state;
    char *copy = tu_path(dir, "nan-init"), cmd[4096], *out, *err;
    assert_int_equal(mkdir(copy, 0700), 0);
    const char *names[] = {"config.json", "vocab.txt"};
    for (int i = 0; i < 2; i++) {
        char *from = tu_path("test/fixtures/bert/tiny", names[i]), *to = tu_path(copy, names[i]);
        size_t n;
        char *bytes = tu_read(from, &n);
        tu_write(to, bytes, n);
        free(bytes), free(from), free(to);
    }
    char *weights = tu_path(copy, "model.safetensors");
    tu_write_with_nan("test/fixtures/bert/tiny/model.safetensors", weights, "bert.encoder.layer.0.output.dense.bias", 4);
    char *never = tu_path(dir, "never.safetensors");
    snprintf(cmd, sizeof cmd, "%s train --data %s/train.tsv --dev %s/dev.tsv --labels bad,good --init %s --batch 8 "
             "--epochs 1 --threads 1 --out %s", tu_attx(), dir, dir, copy, never);
    assert_int_equal(tu_run(cmd, &out, &err), 1);
    assert_contains(err, "attx: error: training stopped at step 1 (epoch 1, batch 1 of 8): ");
    assert_contains(err, "weight tensor 'bert.encoder.layer.0.output.dense.bias' holds NaN at [4]; nothing was saved");
    struct stat st;
    assert_int_not_equal(stat(never, &st), 0);
    free(out), free(err), free(weights), free(never), free(copy);

    /* one good epoch of two, then its checkpoint holds a NaN: the resumed run stops at step 9 */
    char extra[1024], *path = tu_path(dir, "nan.safetensors");
    snprintf(extra, sizeof extra, "--epochs 2 --stop-after 1 --out %s", path);
    assert_int_equal(train(extra, NULL, NULL), 0);
    char *resume = tu_path(dir, "nan.resume.safetensors"), *optim = tu_path(dir, "nan.resume.optim.safetensors");
    tu_write_with_nan(resume, resume, "classifier.weight", 1);
    size_t len[3];
    char *before[3] = {tu_read(path, &len[0]), tu_read(resume, &len[1]), tu_read(optim, &len[2])};
    snprintf(cmd, sizeof cmd, "%s train --data %s/train.tsv --dev %s/dev.tsv --labels bad,good --batch 8 --threads 1 "
             "--epochs 2 --out %s --resume", tu_attx(), dir, dir, path);
    assert_int_equal(tu_run(cmd, &out, &err), 1);
    char want[2048];
    snprintf(want, sizeof want, "training stopped at step 9 (epoch 2, batch 1 of 8): %s: the logits are not finite: "
             "weight tensor 'classifier.weight' holds NaN at [0, 1]; %s (the best so far) and %s (after epoch 1) are "
             "kept", resume, path, resume);
    assert_contains(err, want);
    const char *files[3] = {path, resume, optim};
    for (int f = 0; f < 3; f++) {
        size_t n;
        char *after = tu_read(files[f], &n);
        assert_int_equal(n, len[f]);
        assert_memory_equal(after, before[f], n);
        free(after);
        free(before[f]);
    }
    free(out), free(err), free(resume), free(optim), free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_predict_log),
        cmocka_unit_test(test_init_new_classes),
        cmocka_unit_test(test_eval_every),
        cmocka_unit_test(test_resume_same_bytes),
        cmocka_unit_test(test_ema),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_attn1),
        cmocka_unit_test(test_vocab_command),
        cmocka_unit_test(test_nonfinite_stop),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
