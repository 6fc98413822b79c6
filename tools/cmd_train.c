/* cmd_train.c — `attx train`: train a text classifier on a TSV/CSV data set (or a ViT on an
 * image folder: train_images.c), evaluate it on a dev split after every epoch, keep the best
 * model, and checkpoint so a run can be resumed. */
#include "cli.h"
#include "attx_engine.h"
#include "rng.h"
#include "train.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int run_train(int argc, char **argv);

const cli_command cmd_train = {
    "train", "train a classifier (a new BERT, attn1 or ViT, or continue one)",
    "usage: attx train --data TRAIN --out MODEL.safetensors [--dev DEV | --dev-split N]\n"
    "                  ([--arch bert] --vocab VOCAB.txt [model sizes] | --arch attn1 [sizes]\n"
    "                   | --arch vit [sizes] | --init MODEL | --resume) [options]\n"
    "\n"
    "Trains a text classifier on the labelled texts of TRAIN (TSV/CSV, see --format): a\n"
    "BertForSequenceClassification, or attn1, the one-layer [CLS]-query attention classifier of\n"
    "Lopardo et al. (2024), whose vocabulary is built from the training rows as torchtext does.\n"
    "When TRAIN (and DEV) is a folder, it is an image data set with one sub-folder per class\n"
    "(classes in sorted name order; files that are not images are skipped and counted), and the\n"
    "model a ViTForImageClassification (--arch vit, or --init a ViT).\n"
    "It evaluates the model on DEV after every epoch and writes the best one to MODEL (one\n"
    "self-contained .safetensors file with its config and vocabulary). After every epoch it\n"
    "also writes MODEL.resume.safetensors and MODEL.resume.optim.safetensors, from which\n"
    "--resume continues; a resumed run gives the same weights, bit for bit, as one that was\n"
    "never interrupted. Progress goes to stderr.\n"
    "\n"
    "data:\n"
    "  --data FILE          training data (required)\n"
    "  --dev FILE           dev data for the per-epoch evaluation\n"
    "  --dev-split N        or hold out N random training rows (drawn with --seed) as dev\n"
    "  --format F           auto, tsv, csv, sst2, imdb, agnews, agnews-train (both files)\n"
    "  --dev-format F       the dev file's format, when it differs\n"
    "  --text-col C         text column(s), names joined by + (default sentence/text/content)\n"
    "  --label-col C        label column (default label)\n"
    "  --labels A,B,...     class names, in label order (default LABEL_0, LABEL_1, ...)\n"
    "a new model:\n"
    "  --arch bert|attn1    the architecture (default bert)\n"
    "  --vocab FILE         a BERT's vocab.txt (e.g. from `attx vocab`)\n"
    "  --layers N           encoder layers (default 4)\n"
    "  --hidden N           hidden size (default 256)\n"
    "  --heads N            attention heads (default 4)\n"
    "  --ffn N              feed-forward size (default 4 x hidden)\n"
    "  --max-len N          positions = the longest input in tokens, [CLS] and [SEP] included;\n"
    "                       longer texts are truncated (default 128); with --init or --resume,\n"
    "                       inputs are truncated to N tokens (default: the model's positions)\n"
    "  --dropout P          hidden and attention dropout (default 0.1)\n"
    "  --init-range X       standard deviation of the initial weights (default 0.02, as HF)\n"
    "  vit: --image-size N (default: the side of the first training image), --patch N (default\n"
    "  image size / 8), --layers (4), --hidden (128), --heads (4), --ffn (4 x hidden); images\n"
    "  are rescaled by 1/255 and normalised with mean = std = 0.5, and resized when they have\n"
    "  another size\n"
    "  attn1 (defaults are the paper's): --hidden (d_e, 128), --heads (6), --head-size\n"
    "  (d_att = d_out, 64), --max-len (T with [cls], 256), --vocab-size N (all words; 0)\n"
    "or:\n"
    "  --init MODEL         fine-tune MODEL (a BERT or ViT with or without a classifier, or an\n"
    "                       attn1): its classifier when it has the data's classes, else a new\n"
    "                       one for them (named by --labels or the image folders)\n"
    "  --resume             continue the run that wrote MODEL.resume.* (same flags)\n"
    "optimisation:\n"
    "  --epochs N           passes over the training data (default 3)\n"
    "  --batch N            examples per step (default 32)\n"
    "  --lr X               peak learning rate of AdamW (default 5e-4)\n"
    "  --schedule S         linear (warm-up, then linear decay to 0; default) or constant\n"
    "  --lr-decay X         layer-wise rate decay: layer l of L learns at X^(L - l) times the rate,\n"
    "                       the embeddings at X^(L + 1), what follows the encoder at the full rate\n"
    "                       (default 1: one rate for all)\n"
    "  --warmup X           fraction of the steps with a linear warm-up (default 0.06)\n"
    "  --weight-decay X     AdamW's decoupled weight decay, not on biases/LayerNorm (default 0.01)\n"
    "  --clip X             gradient norm clipping (default 1.0; 0: none)\n"
    "  --label-smoothing E  train towards 1 - E + E/C on the label and E/C on the other classes\n"
    "                       (PyTorch's CrossEntropyLoss(label_smoothing=E); default 0); the\n"
    "                       logged training loss is that loss\n"
    "  --seed N             seed of the initialisation, shuffling and dropout (default 42)\n"
    "  --stop-after N       stop after epoch N, as an interrupted run would (then --resume)\n"
    "  --eval-every N       also evaluate on DEV every N steps within an epoch (the best is kept)\n"
    "  --ema D              evaluate and save an exponential moving average of the weights,\n"
    "                       avg <- d avg + (1 - d) w after each step, d = min(D, (1 + t)/(10 + t))\n"
    "                       at step t (e.g. 0.999; default 0: the weights themselves)\n"
    "output:\n"
    "  --dtype f32|f16|bf16 dtype of MODEL's weights (default f32; checkpoints are always f32)\n"
    "  --log FILE           one JSON object per epoch (loss, accuracies, tokens/s or images/s, time)\n"
    "                       and per --eval-every check\n"
    "  --threads N          threads to use (default: all cores); results do not depend on it\n",
    run_train,
};

typedef struct options {
    const char *data, *dev, *out, *vocab, *init, *labels, *log, *threads, *dtype_name, *arch, *schedule;
    attx_dataset_spec spec, dev_spec;
    long dev_split, stop_after, eval_every, epochs, batch;
    long layers, hidden, heads, head_size, vocab_size, ffn, max_len;
    long truncate_len;            /* --max-len with --init/--resume: inputs truncated to it (0: positions) */
    long image_size, patch;
    int attn1, vit;
    int images;                   /* --data is an image folder */
    double dropout, lr, warmup, weight_decay, clip, init_range, ema, label_smoothing, lr_decay;
    unsigned long long seed;
    int resume;
} options;

static double parse_double(const char *name, const char *v, double lo, double hi)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !(x >= lo && x <= hi))
        cli_usage_error(&cmd_train, "%s must be a number in [%g, %g], not '%s'", name, lo, hi, v);
    return x;
}

static void parse_options(int argc, char **argv, options *o)
{
    const char *v;
    *o = (options){.layers = 4, .hidden = 0, .heads = 0, .max_len = 0, .epochs = 3, .batch = 32,
                   .dropout = 0.1, .init_range = 0.02, .lr = 5e-4, .warmup = 0.06, .weight_decay = 0.01, .clip = 1.0, .seed = 42,
                   .lr_decay = 1.0};
    for (int i = 1; i < argc; i++) {
        if (cli_end_of_options(argv[i])) continue;
        if (cli_flag(argv[i], "--resume")) o->resume = 1;
        else if (cli_value(argc, argv, &i, "--data", &o->data)) continue;
        else if (cli_value(argc, argv, &i, "--dev", &o->dev)) continue;
        else if (cli_value(argc, argv, &i, "--out", &o->out)) continue;
        else if (cli_value(argc, argv, &i, "--vocab", &o->vocab)) continue;
        else if (cli_value(argc, argv, &i, "--init", &o->init)) continue;
        else if (cli_value(argc, argv, &i, "--labels", &o->labels)) continue;
        else if (cli_value(argc, argv, &i, "--log", &o->log)) continue;
        else if (cli_value(argc, argv, &i, "--threads", &o->threads)) continue;
        else if (cli_value(argc, argv, &i, "--dtype", &o->dtype_name)) continue;
        else if (cli_value(argc, argv, &i, "--arch", &o->arch)) continue;
        else if (cli_value(argc, argv, &i, "--schedule", &o->schedule)) continue;
        else if (cli_value(argc, argv, &i, "--head-size", &v)) o->head_size = cli_parse_long(&cmd_train, "--head-size", v, 1, 8192);
        else if (cli_value(argc, argv, &i, "--image-size", &v)) o->image_size = cli_parse_long(&cmd_train, "--image-size", v, 1, 16384);
        else if (cli_value(argc, argv, &i, "--patch", &v)) o->patch = cli_parse_long(&cmd_train, "--patch", v, 1, 16384);
        else if (cli_value(argc, argv, &i, "--vocab-size", &v)) o->vocab_size = cli_parse_long(&cmd_train, "--vocab-size", v, 0, 100000000);
        else if (cli_value(argc, argv, &i, "--format", &o->spec.format)) continue;
        else if (cli_value(argc, argv, &i, "--dev-format", &o->dev_spec.format)) continue;
        else if (cli_value(argc, argv, &i, "--text-col", &o->spec.text_cols)) continue;
        else if (cli_value(argc, argv, &i, "--label-col", &o->spec.label_col)) continue;
        else if (cli_value(argc, argv, &i, "--dev-split", &v)) o->dev_split = cli_parse_long(&cmd_train, "--dev-split", v, 1, 100000000);
        else if (cli_value(argc, argv, &i, "--stop-after", &v)) o->stop_after = cli_parse_long(&cmd_train, "--stop-after", v, 1, 10000);
        else if (cli_value(argc, argv, &i, "--eval-every", &v)) o->eval_every = cli_parse_long(&cmd_train, "--eval-every", v, 1, 100000000);
        else if (cli_value(argc, argv, &i, "--layers", &v)) o->layers = cli_parse_long(&cmd_train, "--layers", v, 1, 48);
        else if (cli_value(argc, argv, &i, "--hidden", &v)) o->hidden = cli_parse_long(&cmd_train, "--hidden", v, 1, 8192);
        else if (cli_value(argc, argv, &i, "--heads", &v)) o->heads = cli_parse_long(&cmd_train, "--heads", v, 1, 128);
        else if (cli_value(argc, argv, &i, "--ffn", &v)) o->ffn = cli_parse_long(&cmd_train, "--ffn", v, 1, 65536);
        else if (cli_value(argc, argv, &i, "--max-len", &v)) o->max_len = cli_parse_long(&cmd_train, "--max-len", v, 3, 8192);
        else if (cli_value(argc, argv, &i, "--epochs", &v)) o->epochs = cli_parse_long(&cmd_train, "--epochs", v, 1, 10000);
        else if (cli_value(argc, argv, &i, "--batch", &v)) o->batch = cli_parse_long(&cmd_train, "--batch", v, 1, 65536);
        else if (cli_value(argc, argv, &i, "--seed", &v)) o->seed = (unsigned long long)cli_parse_long(&cmd_train, "--seed", v, 0, 0x7fffffffffffffffL);
        else if (cli_value(argc, argv, &i, "--dropout", &v)) o->dropout = parse_double("--dropout", v, 0, 0.99);
        else if (cli_value(argc, argv, &i, "--init-range", &v)) o->init_range = parse_double("--init-range", v, 0, 10);
        else if (cli_value(argc, argv, &i, "--lr", &v)) o->lr = parse_double("--lr", v, 0, 10);
        else if (cli_value(argc, argv, &i, "--warmup", &v)) o->warmup = parse_double("--warmup", v, 0, 1);
        else if (cli_value(argc, argv, &i, "--weight-decay", &v)) o->weight_decay = parse_double("--weight-decay", v, 0, 10);
        else if (cli_value(argc, argv, &i, "--clip", &v)) o->clip = parse_double("--clip", v, 0, 1e9);
        else if (cli_value(argc, argv, &i, "--ema", &v)) o->ema = parse_double("--ema", v, 0, 0.999999);
        else if (cli_value(argc, argv, &i, "--lr-decay", &v)) o->lr_decay = parse_double("--lr-decay", v, 0.01, 1);
        else if (cli_value(argc, argv, &i, "--label-smoothing", &v))
            o->label_smoothing = parse_double("--label-smoothing", v, 0, 0.99);
        else if (cli_is_option(argv[i])) cli_unknown_option(&cmd_train, argv[i]);
        else cli_usage_error(&cmd_train, "unexpected argument '%s'", argv[i]);
    }
    if (!o->data) cli_usage_error(&cmd_train, "--data TRAIN is needed");
    if (!o->out) cli_usage_error(&cmd_train, "--out MODEL.safetensors is needed");
    if (!o->dev && !o->dev_split) cli_usage_error(&cmd_train, "--dev DEV or --dev-split N is needed");
    if (o->dev && o->dev_split) cli_usage_error(&cmd_train, "--dev and --dev-split exclude each other");
    if (o->arch && strcmp(o->arch, "bert") != 0 && strcmp(o->arch, "attn1") != 0 && strcmp(o->arch, "vit") != 0)
        cli_usage_error(&cmd_train, "--arch must be bert, attn1 or vit, not '%s'", o->arch);
    o->attn1 = o->arch && strcmp(o->arch, "attn1") == 0;
    o->vit = o->arch && strcmp(o->arch, "vit") == 0;
    struct stat st;
    o->images = o->vit || (stat(o->data, &st) == 0 && S_ISDIR(st.st_mode));
    if (o->images && (o->vocab || o->attn1 || (o->arch && !o->vit)))
        cli_usage_error(&cmd_train, "%s is an image folder: train a ViT (--arch vit, or --init a ViT)", o->data);
    if (!o->images && (o->image_size || o->patch))
        cli_usage_error(&cmd_train, "--image-size and --patch are for a ViT on an image folder");
    if (o->schedule && strcmp(o->schedule, "linear") != 0 && strcmp(o->schedule, "constant") != 0)
        cli_usage_error(&cmd_train, "--schedule must be linear or constant, not '%s'", o->schedule);
    if (o->attn1 && o->vocab) cli_usage_error(&cmd_train, "attn1 builds its vocabulary from the data: no --vocab");
    if (o->vit && (o->init || o->resume)) o->vit = 0;   /* the data are images; the model is MODEL's */
    if (!!o->vocab + o->attn1 + o->vit + !!o->init + o->resume != 1)
        cli_usage_error(&cmd_train, "give exactly one of --vocab (a new BERT), --arch attn1 (a new attn1), --arch vit "
                                    "(a new ViT), --init MODEL or --resume");
    if (!o->hidden) o->hidden = o->attn1 || o->vit ? 128 : 256;
    if (!o->heads) o->heads = o->attn1 ? 6 : 4;
    if ((o->init || o->resume) && o->max_len) o->truncate_len = o->max_len;   /* else the model's positions */
    if (!o->max_len) o->max_len = o->attn1 ? 256 : 128;
    if (!o->head_size) o->head_size = 64;
    if (!o->attn1 && o->hidden % o->heads)
        cli_usage_error(&cmd_train, "--hidden %ld is not a multiple of --heads %ld", o->hidden, o->heads);
    if (o->attn1 && o->hidden % 2) cli_usage_error(&cmd_train, "attn1's --hidden (d_e) must be even");
    if (!o->ffn) o->ffn = 4 * o->hidden;
    o->dev_spec.text_cols = o->spec.text_cols;
    o->dev_spec.label_col = o->spec.label_col;
    if (!o->dev_spec.format) o->dev_spec.format = o->spec.format;
}

/* ---- the config of a new model ---- */

static char *new_attn1_config(const options *o, int vocab_size, char **labels, int n_labels)
{
    attx_buf buf = {0};
    attx_json_writer w;
    attx_jw_init(&w, &buf, 1);
    attx_jw_object_begin(&w);
    attx_jw_key(&w, "model_type"); attx_jw_string(&w, "attx-attn1");
    attx_jw_key(&w, "vocab_size"); attx_jw_int(&w, vocab_size);
    attx_jw_key(&w, "hidden_size"); attx_jw_int(&w, o->hidden);
    attx_jw_key(&w, "num_attention_heads"); attx_jw_int(&w, o->heads);
    attx_jw_key(&w, "attention_head_size"); attx_jw_int(&w, o->head_size);
    attx_jw_key(&w, "value_head_size"); attx_jw_int(&w, o->head_size);
    attx_jw_key(&w, "max_position_embeddings"); attx_jw_int(&w, o->max_len);
    attx_jw_key(&w, "pad_token_id"); attx_jw_int(&w, 1);
    attx_config_write_labels(&w, (const char *const *)labels, n_labels);
    attx_jw_object_end(&w);
    if (buf.failed) cli_failf("out of memory");
    return buf.data;
}

static char *new_config(const options *o, int vocab_size, int pad_id, char **labels, int n_labels)
{
    attx_buf buf = {0};
    attx_json_writer w;
    attx_jw_init(&w, &buf, 1);
    attx_jw_object_begin(&w);
    attx_jw_key(&w, "architectures");
    attx_jw_array_begin(&w);
    attx_jw_string(&w, "BertForSequenceClassification");
    attx_jw_array_end(&w);
    attx_jw_key(&w, "model_type"); attx_jw_string(&w, "bert");
    attx_jw_key(&w, "vocab_size"); attx_jw_int(&w, vocab_size);
    attx_jw_key(&w, "hidden_size"); attx_jw_int(&w, o->hidden);
    attx_jw_key(&w, "num_hidden_layers"); attx_jw_int(&w, o->layers);
    attx_jw_key(&w, "num_attention_heads"); attx_jw_int(&w, o->heads);
    attx_jw_key(&w, "intermediate_size"); attx_jw_int(&w, o->ffn);
    attx_jw_key(&w, "max_position_embeddings"); attx_jw_int(&w, o->max_len);
    attx_jw_key(&w, "type_vocab_size"); attx_jw_int(&w, 2);
    attx_jw_key(&w, "hidden_act"); attx_jw_string(&w, "gelu");
    attx_jw_key(&w, "layer_norm_eps"); attx_jw_double(&w, 1e-12);
    attx_jw_key(&w, "hidden_dropout_prob"); attx_jw_double(&w, o->dropout);
    attx_jw_key(&w, "attention_probs_dropout_prob"); attx_jw_double(&w, o->dropout);
    attx_jw_key(&w, "initializer_range"); attx_jw_double(&w, o->init_range);
    attx_jw_key(&w, "pad_token_id"); attx_jw_int(&w, pad_id);
    attx_config_write_labels(&w, (const char *const *)labels, n_labels);
    attx_jw_object_end(&w);
    if (buf.failed) cli_failf("out of memory");
    return buf.data;
}

/* --labels A,B,... or LABEL_k names, n of them */
static char **label_names(const char *list, int n)
{
    char **names = calloc((size_t)n, sizeof *names);
    if (!names) cli_failf("out of memory");
    const char *s = list;
    for (int k = 0; k < n; k++) {
        char buf[64];
        if (s && *s) {
            const char *e = strchr(s, ',');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            if (len == 0 || len >= sizeof buf) cli_usage_error(&cmd_train, "--labels: empty or over-long name");
            memcpy(buf, s, len);
            buf[len] = '\0';
            s = e ? e + 1 : s + len;
        } else {
            if (list) cli_usage_error(&cmd_train, "--labels names fewer classes than the data has (%d)", n);
            snprintf(buf, sizeof buf, "LABEL_%d", k);
        }
        if (!(names[k] = strdup(buf))) cli_failf("out of memory");
    }
    if (s && *s) cli_usage_error(&cmd_train, "--labels names more classes than the data has (%d)", n);
    return names;
}

/* --init: the model as it is when its classifier fits the data (same number of classes and,
 * when the classes are named by --labels or by image folders, the same names); else its body
 * with a new classifier for the data's classes. */
static attx_model *with_head_for_data(attx_model *model, const options *o, int n_labels, char **folder_classes)
{
    const attx_config *c = attx_model_config(model);
    char **names = folder_classes ? folder_classes : label_names(o->labels, n_labels);
    int fits = attx_model_has_classifier(model) && c->num_labels == n_labels;
    for (int k = 0; fits && (o->labels || folder_classes) && k < n_labels; k++) {
        int found = 0;
        for (int j = 0; j < c->num_labels; j++) found |= strcmp(c->labels[j], names[k]) == 0;
        fits = found;
    }
    if (!fits) {
        if (c->arch != ATTX_ARCH_BERT && c->arch != ATTX_ARCH_VIT)
            cli_failf("%s: a new classifier is for BERT and ViT models (this is %s with %d classes; the data has %d)",
                      o->init, attx_arch_name(c->arch), c->num_labels, n_labels);
        attx_error err;
        attx_model *fresh;
        if (attx_model_with_new_head(&fresh, model, (const char *const *)names, n_labels, (uint64_t)o->seed, &err) != 0)
            cli_fail(&err);
        fprintf(stderr, "attx: %s: a new classifier on the model's %s body for the data's %d classes:", o->init,
                attx_arch_name(c->arch), n_labels);
        for (int k = 0; k < n_labels && k < 8; k++) fprintf(stderr, " %s", names[k]);
        fprintf(stderr, "%s\n", n_labels > 8 ? " ..." : "");
        attx_model_close(model);
        model = fresh;
    }
    if (!folder_classes) {
        for (int k = 0; k < n_labels; k++) free(names[k]);
        free(names);
    }
    return model;
}

/* ---- data: every example tokenized once (images: train_images.c) ---- */
static void tokenize(const attx_model *m, const attx_dataset *ds, const size_t *rows, size_t n, int max_length,
                     examples *ex, const char *path)
{
    ex->n = n;
    ex->ids = calloc(n ? n : 1, sizeof *ex->ids);
    ex->length = calloc(n ? n : 1, sizeof *ex->length);
    ex->label = calloc(n ? n : 1, sizeof *ex->label);
    if (!ex->ids || !ex->length || !ex->label) cli_failf("out of memory");
    int C = attx_model_config(m)->num_labels;
    for (size_t i = 0; i < n; i++) {
        size_t r = rows ? rows[i] : i;
        attx_encoding enc;
        attx_error err;
        const char *t = ds->texts[r];
        if (attx_encode_text_max(m, t, strlen(t), max_length, &enc, &err) != 0 || enc.tokens.n == 0) {
            /* a text with no tokens left (e.g. only control characters) has nothing to learn */
            attx_encoding_free(&enc);
        }
        if (ds->labels[r] >= C)
            cli_failf("%s: label %d is not one of the model's %d classes", path, ds->labels[r], C);
        ex->ids[i] = enc.ids;
        ex->length[i] = enc.length;
        ex->label[i] = ds->labels[r];
        ex->truncated += enc.length && enc.n_dropped > 0;
        ex->tokens += (uint64_t)enc.length;
        enc.ids = NULL;
        attx_encoding_free(&enc);
    }
}

static void examples_free(examples *ex)
{
    for (size_t i = 0; ex->ids && i < ex->n; i++) free(ex->ids[i]);
    free(ex->ids);
    free(ex->length);
    free(ex->label);
    free(ex->pixels);
}

/* Copies examples order[0..B) into a right-padded batch. */
typedef struct batch_buf {
    int32_t *ids, *lengths, *labels;
    float *pixels;                /* images: [B, C, H, W] */
    attx_batch batch;
} batch_buf;

static void make_batch(const examples *ex, const size_t *order, int B, int32_t pad, batch_buf *bb)
{
    if (ex->pixels) {
        for (int b = 0; b < B; b++) {
            memcpy(bb->pixels + (size_t)b * ex->pixel_stride, ex->pixels + order[b] * ex->pixel_stride,
                   ex->pixel_stride * sizeof(float));
            bb->labels[b] = ex->label[order[b]];
        }
        bb->batch = (attx_batch){.B = B, .pixels = bb->pixels};
        return;
    }
    int T = 1;
    for (int b = 0; b < B; b++) T = ex->length[order[b]] > T ? ex->length[order[b]] : T;
    for (int b = 0; b < B; b++) {
        size_t e = order[b];
        for (int t = 0; t < T; t++) bb->ids[(size_t)b * T + t] = t < ex->length[e] ? ex->ids[e][t] : pad;
        bb->lengths[b] = ex->length[e];
        bb->labels[b] = ex->label[e];
    }
    bb->batch = (attx_batch){.B = B, .T = T, .ids = bb->ids, .lengths = bb->lengths};
}

/* One line of the --log file for a dev check within an epoch. */
static void log_eval(FILE *log, long epoch, int64_t step, double dev_acc, double best_dev)
{
    attx_buf line = {0};
    attx_json_writer w;
    attx_jw_init(&w, &line, 0);
    attx_jw_object_begin(&w);
    attx_jw_key(&w, "epoch"); attx_jw_int(&w, epoch);
    attx_jw_key(&w, "step"); attx_jw_int(&w, step);
    attx_jw_key(&w, "dev_accuracy"); attx_jw_double(&w, dev_acc);
    attx_jw_key(&w, "best_dev_accuracy"); attx_jw_double(&w, best_dev);
    attx_jw_object_end(&w);
    fprintf(log, "%s\n", line.data ? line.data : "{}");
    fflush(log);
    attx_buf_free(&line);
}

/* Accuracy on ex, batches of 64 in order, tape and dropout off. */
static double evaluate(const attx_model *m, attx_ctx *ctx, const examples *ex, const size_t *usable, size_t n,
                       int32_t pad, batch_buf *bb)
{
    size_t correct = 0;
    int C = attx_model_config(m)->num_labels;
    for (size_t i = 0; i < n; i += 64) {
        int B = (int)(n - i < 64 ? n - i : 64);
        make_batch(ex, usable + i, B, pad, bb);
        attx_ctx_reset(ctx);
        attx_ctx_set_tape(ctx, 0);
        attx_outputs out;
        attx_error err;
        if (attx_forward(m, ctx, &bb->batch, &out, &err) != 0) cli_fail(&err);
        for (int b = 0; b < B; b++) {
            const float *z = out.logits->data + (size_t)b * C;
            int best = 0;
            for (int k = 1; k < C; k++) best = z[k] > z[best] ? k : best;
            correct += best == bb->labels[b];
        }
    }
    return n ? (double)correct / (double)n : 0;
}

/* A dev check: the accuracy of the model as it would be saved (with --ema, the weights'
 * moving average, swapped in for the check); a new best is written to `out`. */
static double check_dev(attx_model *m, attx_ctx *ctx, attx_adamw *opt, const examples *dev, const size_t *usable,
                        size_t n, int32_t pad, batch_buf *bb, const char *out, attx_dtype dtype, double *best_dev,
                        int *improved)
{
    attx_adamw_swap_average(opt);
    double acc = evaluate(m, ctx, dev, usable, n, pad, bb);
    *improved = acc > *best_dev;
    attx_error err;
    int rc = 0;
    if (*improved) {
        *best_dev = acc;
        rc = attx_model_save(m, out, dtype, &err);
    }
    attx_adamw_swap_average(opt);
    if (rc != 0) cli_fail(&err);
    return acc;
}

/* ---- the order of an epoch: shuffled, then grouped by length ----
 * As Hugging Face's group_by_length: the shuffled examples are cut into "megabatches" of 50
 * batches, each sorted by length (longest first) so that a batch pads little; the batches keep
 * the megabatches' random order. The order depends only on the seed and the epoch. */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void epoch_order(const examples *ex, size_t *order, size_t n, int B, uint64_t seed, long epoch)
{
    attx_rng rng;
    attx_rng_seed_stream(&rng, seed, 1000 + (uint64_t)epoch);
    attx_rng_shuffle(&rng, order, n, sizeof *order);
    size_t mega = (size_t)B * 50;
    uint64_t *keys = malloc((n < mega ? n : mega) * sizeof *keys);
    if (!keys) cli_failf("out of memory");
    for (size_t i = 0; i < n; i += mega) {
        size_t m = n - i < mega ? n - i : mega;
        /* longest first, ties by position in the shuffled order: key = (2^23 − length, position) */
        for (size_t k = 0; k < m; k++) keys[k] = (uint64_t)((1 << 23) - ex->length[order[i + k]]) << 40 | (i + k);
        qsort(keys, m, sizeof *keys, cmp_u64);
        size_t *sorted = malloc(m * sizeof *sorted);
        if (!sorted) cli_failf("out of memory");
        for (size_t k = 0; k < m; k++) sorted[k] = order[keys[k] & (((uint64_t)1 << 40) - 1)];
        memcpy(order + i, sorted, m * sizeof *sorted);
        free(sorted);
    }
    free(keys);
}

static char *path_with(const char *out, const char *suffix)
{
    size_t n = strlen(out);
    const char *ext = ".safetensors";
    size_t el = strlen(ext);
    size_t stem = n >= el && strcmp(out + n - el, ext) == 0 ? n - el : n;
    char *p = malloc(stem + strlen(suffix) + 1);
    if (!p) cli_failf("out of memory");
    memcpy(p, out, stem);
    strcpy(p + stem, suffix);
    return p;
}

static attx_dtype parse_dtype(const char *s)
{
    if (!s || strcmp(s, "f32") == 0) return ATTX_F32;
    if (strcmp(s, "f16") == 0) return ATTX_F16;
    if (strcmp(s, "bf16") == 0) return ATTX_BF16;
    cli_usage_error(&cmd_train, "--dtype must be f32, f16 or bf16, not '%s'", s);
}

static int run_train(int argc, char **argv)
{
    options o;
    parse_options(argc, argv, &o);
    attx_dtype dtype = parse_dtype(o.dtype_name);
    cli_set_threads(&cmd_train, o.threads);
    attx_error err;
    char *resume_model = path_with(o.out, ".resume.safetensors");
    char *resume_optim = path_with(o.out, ".resume.optim.safetensors");

    /* the data: texts, or image folders */
    attx_dataset train = {0}, dev_file = {0};
    attx_image_folder train_images = {0}, dev_images = {0};
    size_t n_rows;
    int n_labels;
    if (o.images) {
        train_images_read(o.data, &train_images);
        if (o.dev) train_images_read(o.dev, &dev_images);
        n_rows = train_images.n;
        n_labels = train_images.num_classes;
    } else {
        if (attx_dataset_read(&train, o.data, &o.spec, &err) != 0) cli_fail(&err);
        if (train.n_skipped)
            fprintf(stderr, "attx: %s: skipped %zu rows (first at line %zu: %s)\n", o.data, train.n_skipped,
                    train.first_skipped_line, train.first_skip_reason);
        if (o.dev) {
            if (attx_dataset_read(&dev_file, o.dev, &o.dev_spec, &err) != 0) cli_fail(&err);
            if (dev_file.n_skipped)
                fprintf(stderr, "attx: %s: skipped %zu rows (first at line %zu: %s)\n", o.dev, dev_file.n_skipped,
                        dev_file.first_skipped_line, dev_file.first_skip_reason);
        }
        n_rows = train.n;
        n_labels = train.num_labels > dev_file.num_labels ? train.num_labels : dev_file.num_labels;
    }
    /* --dev-split: a seeded random choice of training rows */
    size_t *train_rows = malloc((n_rows ? n_rows : 1) * sizeof *train_rows), n_train = n_rows, *dev_rows = NULL,
           n_dev = 0;
    if (!train_rows) cli_failf("out of memory");
    for (size_t i = 0; i < n_rows; i++) train_rows[i] = i;
    if (o.dev_split) {
        if ((size_t)o.dev_split >= n_rows)
            cli_failf("%s: --dev-split %ld leaves no training rows (%zu rows)", o.data, o.dev_split, n_rows);
        attx_rng rng;
        attx_rng_seed_stream(&rng, o.seed, 1);
        attx_rng_shuffle(&rng, train_rows, n_rows, sizeof *train_rows);
        n_dev = (size_t)o.dev_split;
        n_train = n_rows - n_dev;
        dev_rows = train_rows + n_train;
    }
    if (n_labels < 2) cli_failf("%s: the data has one class only", o.data);

    /* the model */
    attx_model *model;
    if (o.resume) {
        if (attx_model_open(&model, resume_model, &err) != 0) cli_fail(&err);
    } else if (o.init) {
        if (attx_model_open(&model, o.init, &err) != 0) cli_fail(&err);
        model = with_head_for_data(model, &o, n_labels, o.images ? train_images.classes : NULL);
    } else if (o.vit) {
        vit_sizes sizes = {.image_size = o.image_size, .patch = o.patch, .layers = o.layers, .hidden = o.hidden,
                           .heads = o.heads, .ffn = o.ffn, .dropout = o.dropout, .init_range = o.init_range};
        model = train_images_new_vit(&sizes, &train_images, o.seed);
    } else if (o.attn1) {
        /* the vocabulary of the training rows only (not of the dev rows held out of them) */
        const char **texts = malloc((n_train ? n_train : 1) * sizeof *texts);
        if (!texts) cli_failf("out of memory");
        for (size_t i = 0; i < n_train; i++) texts[i] = train.texts[train_rows[i]];
        attx_buf vocab = {0};
        if (attx_attn1_vocab_build(texts, n_train, (int)o.vocab_size, 1, &vocab, &err) != 0) cli_fail(&err);
        free(texts);
        int vocab_size = 0;
        for (size_t i = 0; i < vocab.len; i++) vocab_size += vocab.data[i] == '\n';
        char **names = label_names(o.labels, n_labels);
        char *config = new_attn1_config(&o, vocab_size, names, n_labels);
        if (attx_model_create(&model, config, vocab.data, vocab.len, o.seed, &err) != 0) cli_fail(&err);
        fprintf(stderr, "attx: attn1 vocabulary of %d words from the %zu training rows\n", vocab_size, n_train);
        for (int k = 0; k < n_labels; k++) free(names[k]);
        free(names);
        free(config);
        attx_buf_free(&vocab);
    } else {
        size_t vlen;
        char *vocab;
        if (attx_read_file(o.vocab, (size_t)64 << 20, &vocab, &vlen, &err) != 0) cli_fail(&err);
        attx_wordpiece *wp;
        if (attx_wordpiece_load(&wp, vocab, vlen, 1, &err) != 0) {
            attx_fail_prefix(&err, "%s", o.vocab);
            cli_fail(&err);
        }
        attx_special_ids sp = attx_wordpiece_special_ids(wp);
        int vocab_size = (int)attx_wordpiece_vocab_size(wp);
        attx_wordpiece_free(wp);
        if (sp.pad < 0 || sp.cls < 0 || sp.sep < 0)
            cli_failf("%s: the vocabulary needs [PAD], [CLS] and [SEP]", o.vocab);
        char **names = label_names(o.labels, n_labels);
        char *config = new_config(&o, vocab_size, sp.pad, names, n_labels);
        if (attx_model_create(&model, config, vocab, vlen, o.seed, &err) != 0) cli_fail(&err);
        for (int k = 0; k < n_labels; k++) free(names[k]);
        free(names);
        free(config);
        free(vocab);
    }
    const attx_config *cfg = attx_model_config(model);
    if (o.images && (cfg->arch != ATTX_ARCH_VIT || !attx_model_has_classifier(model)))
        cli_failf("%s: attx trains ViT image classifiers on an image folder (this is a %s%s)",
                  o.resume ? resume_model : o.init, attx_arch_name(cfg->arch),
                  attx_model_has_classifier(model) ? "" : " without a classifier");
    if (!o.images && ((cfg->arch != ATTX_ARCH_BERT && cfg->arch != ATTX_ARCH_ATTN1) ||
                      !attx_model_has_classifier(model) || !attx_model_tokenizer(model)))
        cli_failf("%s: attx trains BERT and attn1 text classifiers with a vocabulary (this is a %s%s)",
                  o.resume ? resume_model : o.init, attx_arch_name(cfg->arch),
                  attx_model_has_classifier(model) ? "" : " without a classifier");
    if (!o.images && cfg->num_labels != n_labels)
        cli_failf("%s has %d classes but the data has %d", resume_model, cfg->num_labels, n_labels);
    int32_t pad = o.images ? 0 : attx_wordpiece_special_ids(attx_model_tokenizer(model)).pad;
    if (pad < 0) pad = 0;

    int max_tokens = cfg->max_position_embeddings;   /* [CLS] and [SEP] included */
    if (o.truncate_len && o.truncate_len < max_tokens) max_tokens = (int)o.truncate_len;
    examples tr = {0}, dv = {0};
    if (o.images) {   /* classes are matched to the model's labels by name */
        train_images_examples(model, &train_images, train_rows, n_train, &tr);
        if (o.dev) train_images_examples(model, &dev_images, NULL, dev_images.n, &dv);
        else train_images_examples(model, &train_images, dev_rows, n_dev, &dv);
    } else {
        tokenize(model, &train, train_rows, n_train, max_tokens, &tr, o.data);
        if (o.dev) tokenize(model, &dev_file, NULL, dev_file.n, max_tokens, &dv, o.dev);
        else tokenize(model, &train, dev_rows, n_dev, max_tokens, &dv, o.data);
    }
    /* texts with no tokens are left out */
    size_t *order = malloc((tr.n ? tr.n : 1) * sizeof *order), n_order = 0;
    size_t *dev_usable = malloc((dv.n ? dv.n : 1) * sizeof *dev_usable), n_dev_usable = 0;
    if (!order || !dev_usable) cli_failf("out of memory");
    for (size_t i = 0; i < tr.n; i++)
        if (tr.length[i]) order[n_order++] = i;
    for (size_t i = 0; i < dv.n; i++)
        if (dv.length[i]) dev_usable[n_dev_usable++] = i;
    if (n_order == 0) cli_failf("%s: no example has any token", o.data);
    if (o.images)
        fprintf(stderr, "attx: %zu training images in %d classes, %zu dev images, as %dx%d pixels\n", n_order,
                n_labels, n_dev_usable, cfg->image_width, cfg->image_height);
    else
        fprintf(stderr, "attx: %zu training examples (%llu tokens, %zu truncated to %d positions), %zu dev examples\n",
                n_order, (unsigned long long)tr.tokens, tr.truncated, max_tokens, n_dev_usable);
    const char *unit = o.images ? "img/s" : "tok/s";

    /* the optimizer */
    if (attx_model_make_trainable(model, &err) != 0) cli_fail(&err);
    size_t n_params = attx_model_params(model, NULL, NULL);
    attx_tensor **params = malloc(n_params * sizeof *params);
    const char **names = malloc(n_params * sizeof *names);
    uint8_t *decay = malloc(n_params);
    if (!params || !names || !decay) cli_failf("out of memory");
    attx_model_params(model, params, names);
    attx_weight_decay_mask(model, decay);
    attx_adamw_config acfg = attx_adamw_defaults();
    acfg.lr = o.lr;
    acfg.weight_decay = o.weight_decay;
    acfg.ema = o.ema;
    attx_adamw opt;
    if (attx_adamw_init(&opt, params, decay, n_params, &acfg, &err) != 0) cli_fail(&err);
    attx_layer_lr_scales(model, o.lr_decay, opt.lr_scale);
    long first_epoch = 0;
    double best_dev = -1;
    if (o.resume) {
        char progress[128];
        if (attx_adamw_load(&opt, names, resume_optim, progress, sizeof progress, &err) != 0) cli_fail(&err);
        if (sscanf(progress, "epoch %ld best %lf", &first_epoch, &best_dev) != 2)
            cli_failf("%s: no progress record (attx.progress) to resume from", resume_optim);
        if (first_epoch >= o.epochs) cli_failf("%s: the run already did its %ld epochs", resume_optim, o.epochs);
        fprintf(stderr, "attx: resuming after epoch %ld (best dev accuracy so far %.4f)\n", first_epoch, best_dev);
    }

    FILE *log = NULL;
    if (o.log && !(log = fopen(o.log, first_epoch ? "a" : "w"))) cli_failf("%s: cannot open the log file", o.log);
    int B = (int)o.batch;
    int max_T = cfg->max_position_embeddings;
    size_t rows = (size_t)(B > 64 ? B : 64);   /* training batches, and evaluation's of 64 */
    batch_buf bb = {.ids = malloc(rows * (size_t)max_T * sizeof(int32_t)), .lengths = malloc(rows * sizeof(int32_t)),
                    .labels = malloc(rows * sizeof(int32_t)),
                    .pixels = o.images ? malloc(rows * tr.pixel_stride * sizeof(float)) : NULL};
    if (!bb.ids || !bb.lengths || !bb.labels || (o.images && !bb.pixels)) cli_failf("out of memory");
    size_t steps_per_epoch = (n_order + (size_t)B - 1) / (size_t)B;
    int64_t total_steps = (int64_t)steps_per_epoch * o.epochs;
    int64_t warmup_steps = (int64_t)ceil(o.warmup * (double)total_steps);
    attx_ctx *ctx = attx_ctx_new();
    if (!ctx) cli_failf("out of memory");
    int tty = isatty(2);
    double start = cli_now();

    long last_epoch = o.stop_after && o.stop_after < o.epochs ? o.stop_after : o.epochs;
    for (long epoch = first_epoch; epoch < last_epoch; epoch++) {
        n_order = 0;   /* every epoch starts from the same list, then shuffles it */
        for (size_t i = 0; i < tr.n; i++)
            if (tr.length[i]) order[n_order++] = i;
        epoch_order(&tr, order, n_order, B, o.seed, epoch);
        double epoch_start = cli_now(), loss_sum = 0, last_print = 0;
        uint64_t tokens = 0;
        size_t seen = 0, correct = 0;
        for (size_t s = 0; s < steps_per_epoch; s++) {
            size_t first = s * (size_t)B;
            int nb = (int)(n_order - first < (size_t)B ? n_order - first : (size_t)B);
            make_batch(&tr, order + first, nb, pad, &bb);
            int64_t step = (int64_t)epoch * (int64_t)steps_per_epoch + (int64_t)s;
            double lr = o.schedule && strcmp(o.schedule, "constant") == 0
                            ? o.lr * (step < warmup_steps ? (double)step / (double)warmup_steps : 1.0)
                            : o.lr * attx_linear_schedule(step, warmup_steps, total_steps);
            attx_step_stats st;
            attx_step_config step_cfg = {.lr = lr, .max_grad_norm = o.clip, .label_smoothing = o.label_smoothing,
                                         .dropout_seed = o.seed * 0x9E3779B97F4A7C15ull + (uint64_t)step};
            if (attx_train_step(model, ctx, &opt, &bb.batch, bb.labels, &step_cfg, &st, &err) != 0) {
                /* nothing is saved now: the files of the last finished epoch stay as they are */
                if (tty) fputc('\n', stderr);
                if (epoch > 0)
                    cli_failf("training stopped at step %lld (epoch %ld, batch %zu of %zu): %s; %s (the best so far) and "
                              "%s (after epoch %ld) are kept", (long long)step + 1, epoch + 1, s + 1, steps_per_epoch,
                              err.msg, o.out, resume_model, epoch);
                cli_failf("training stopped at step %lld (epoch %ld, batch %zu of %zu): %s; nothing was saved",
                          (long long)step + 1, epoch + 1, s + 1, steps_per_epoch, err.msg);
            }
            loss_sum += st.loss * nb;
            correct += (size_t)st.correct;
            seen += (size_t)nb;
            for (int b = 0; b < nb; b++) tokens += (uint64_t)tr.length[order[first + (size_t)b]];
            double t = cli_now();
            if (t - last_print > (tty ? 0.5 : 30.0) || s + 1 == steps_per_epoch) {
                last_print = t;
                double el = t - epoch_start, frac = (double)(s + 1) / (double)steps_per_epoch;
                char eta[32];
                cli_duration(el / frac - el, eta, sizeof eta);
                int bar = (int)(frac * 24);
                fprintf(stderr, "%sepoch %ld/%ld [%.*s%*s] %3.0f%% loss %.4f acc %5.1f%% %6.0f %s ETA %s%s",
                        tty ? "\r" : "", epoch + 1, o.epochs, bar, "########################", 24 - bar, "",
                        100 * frac, loss_sum / (double)seen, 100.0 * (double)correct / (double)seen,
                        (double)tokens / (el > 0 ? el : 1e-9), unit, eta, tty ? "   " : "\n");
            }
            if (o.eval_every && (s + 1) % (size_t)o.eval_every == 0 && s + 1 < steps_per_epoch) {
                /* a dev check within the epoch: the best model so far is kept, nothing else changes */
                int better;
                double acc = check_dev(model, ctx, &opt, &dv, dev_usable, n_dev_usable, pad, &bb, o.out, dtype,
                                       &best_dev, &better);
                fprintf(stderr, "%sstep %lld: dev acc %.2f%%%s\n", tty ? "\n" : "", (long long)step + 1, 100 * acc,
                        better ? ", best: saved" : "");
                if (log) log_eval(log, epoch + 1, step + 1, acc, best_dev);
            }
        }
        double train_time = cli_now() - epoch_start;
        int improved;
        double dev_acc = check_dev(model, ctx, &opt, &dv, dev_usable, n_dev_usable, pad, &bb, o.out, dtype,
                                   &best_dev, &improved);
        char progress[128];
        snprintf(progress, sizeof progress, "epoch %ld best %.17g", epoch + 1, best_dev);
        if (attx_model_save(model, resume_model, ATTX_F32, &err) != 0 ||
            attx_adamw_save(&opt, names, resume_optim, progress, &err) != 0)
            cli_fail(&err);
        char took[32];
        cli_duration(train_time, took, sizeof took);
        fprintf(stderr, "%sepoch %ld/%ld: train loss %.4f acc %.2f%%, dev acc %.2f%%%s (%s, %.0f %s)\n",
                tty ? "\n" : "", epoch + 1, o.epochs, loss_sum / (double)seen, 100.0 * (double)correct / (double)seen,
                100 * dev_acc, improved ? ", best: saved" : "", took, (double)tokens / train_time, unit);
        if (log) {
            attx_buf line = {0};
            attx_json_writer w;
            attx_jw_init(&w, &line, 0);
            attx_jw_object_begin(&w);
            attx_jw_key(&w, "epoch"); attx_jw_int(&w, epoch + 1);
            attx_jw_key(&w, "steps"); attx_jw_int(&w, (int64_t)(epoch + 1) * (int64_t)steps_per_epoch);
            attx_jw_key(&w, "train_loss"); attx_jw_double(&w, loss_sum / (double)seen);
            attx_jw_key(&w, "train_accuracy"); attx_jw_double(&w, (double)correct / (double)seen);
            attx_jw_key(&w, "dev_accuracy"); attx_jw_double(&w, dev_acc);
            attx_jw_key(&w, "best_dev_accuracy"); attx_jw_double(&w, best_dev);
            attx_jw_key(&w, o.images ? "images_per_second" : "tokens_per_second");
            attx_jw_double(&w, (double)tokens / train_time);
            attx_jw_key(&w, "epoch_seconds"); attx_jw_double(&w, train_time);
            attx_jw_key(&w, "threads"); attx_jw_int(&w, omp_get_max_threads());
            attx_jw_object_end(&w);
            fprintf(log, "%s\n", line.data ? line.data : "{}");
            fflush(log);
            attx_buf_free(&line);
        }
    }
    char total[32];
    cli_duration(cli_now() - start, total, sizeof total);
    if (last_epoch < o.epochs)
        printf("stopped after epoch %ld of %ld (%s); continue with --resume. Best so far in %s: dev accuracy %.2f%%\n",
               last_epoch, o.epochs, total, o.out, 100 * best_dev);
    else
        printf("wrote %s: best dev accuracy %.2f%% (%s)\n", o.out, 100 * best_dev, total);
    if (log) fclose(log);
    attx_ctx_free(ctx);
    attx_adamw_free(&opt);
    free(params);
    free(names);
    free(decay);
    free(order);
    free(dev_usable);
    free(bb.ids);
    free(bb.lengths);
    free(bb.labels);
    free(bb.pixels);
    examples_free(&tr);
    examples_free(&dv);
    free(train_rows);
    attx_dataset_free(&train);
    attx_dataset_free(&dev_file);
    attx_image_folder_free(&train_images);
    attx_image_folder_free(&dev_images);
    attx_model_close(model);
    free(resume_model);
    free(resume_optim);
    return EXIT_OK;
}
