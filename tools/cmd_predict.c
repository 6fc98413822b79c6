/* cmd_predict.c — `attx predict MODEL INPUT [--top K] [--json] [--threads N]`: classify one text or image. */
#include "cli.h"
#include "attx_engine.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static int run_predict(int argc, char **argv);

const cli_command cmd_predict = {
    "predict", "classify a text or an image with a model",
    "usage: attx predict MODEL INPUT [--top K] [--json] [--int8 | --bf16] [--threads N]\n"
    "\n"
    "Classifies INPUT with MODEL and prints the classes with their probabilities and logits,\n"
    "most probable first. For a text model INPUT is the text itself, or @FILE for the text in a\n"
    "file (@- for standard input); texts longer than the model's positions are truncated, with\n"
    "a warning on stderr. For an image model (ViT) INPUT is a PNG, JPEG or PPM/PGM file, resized\n"
    "and normalised as the model's preprocessor_config.json says (EXIF orientation applied, alpha\n"
    "dropped, as Hugging Face's pipeline does).\n"
    "\n"
    "  --top K       show the K most probable classes (default: all of a text model's, 5 of an\n"
    "                image model's)\n"
    "  --json        print one JSON object on stdout:\n"
    "                {\"labels\":[...],\"logits\":[...],\"probs\":[...],\"predicted\":k,\"tokens\":[...]}\n"
    "                (all classes, in label order; an image model gives \"patches\":N, not tokens)\n"
    CLI_INT8_USAGE
    CLI_BF16_USAGE
    "  --threads N   threads to use (default: all cores); results do not depend on it\n",
    run_predict,
};

/* probs = softmax(logits), computed in double */
static void softmax(const float *logits, int n, double *probs)
{
    double max = logits[0], sum = 0;
    for (int i = 1; i < n; i++) max = fmax(max, logits[i]);
    for (int i = 0; i < n; i++) sum += probs[i] = exp((double)logits[i] - max);
    for (int i = 0; i < n; i++) probs[i] /= sum;
}

static const double *sort_probs;
static int by_prob_desc(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    if (sort_probs[x] != sort_probs[y]) return sort_probs[x] > sort_probs[y] ? -1 : 1;
    return x - y;
}

static int run_predict(int argc, char **argv)
{
    const char *model_path = NULL, *input = NULL, *threads = NULL, *top_arg = NULL;
    int json = 0;
    cli_precision precision = CLI_FP32;
    for (int i = 1; i < argc; i++) {
        if (cli_end_of_options(argv[i])) continue;
        if (cli_flag(argv[i], "--json")) json = 1;
        else if (cli_precision_option(&cmd_predict, argv[i], &precision)) continue;
        else if (cli_value(argc, argv, &i, "--threads", &threads)) continue;
        else if (cli_value(argc, argv, &i, "--top", &top_arg)) continue;
        else if (cli_is_option(argv[i])) cli_unknown_option(&cmd_predict, argv[i]);
        else if (!model_path) model_path = argv[i];
        else if (!input) input = argv[i];
        else cli_usage_error(&cmd_predict, "unexpected argument '%s' (quote a text with spaces)", argv[i]);
    }
    if (!model_path || !input) cli_usage_error(&cmd_predict, "MODEL and INPUT are both needed");
    long top = top_arg ? cli_parse_long(&cmd_predict, "--top", top_arg, 1, 1000000) : 0;
    cli_set_threads(&cmd_predict, threads);

    attx_model *model = cli_open_model(model_path, precision);
    attx_error err;
    const attx_config *cfg = attx_model_config(model);
    const attx_wordpiece *tokenizer = attx_model_tokenizer(model);
    if (!attx_model_has_classifier(model))
        cli_failf("%s is a bare %s without a classifier; it cannot predict classes", model_path,
                  attx_arch_name(cfg->arch));
    int image = cfg->arch == ATTX_ARCH_VIT;
    char *text = NULL;
    float *pixels = NULL;
    attx_encoding enc = {0};
    attx_batch batch = {.B = 1};
    int patches = 0;
    if (image) {
        patches = (cfg->image_height / cfg->patch_size) * (cfg->image_width / cfg->patch_size);
        pixels = malloc((size_t)cfg->num_channels * cfg->image_height * cfg->image_width * sizeof *pixels);
        if (!pixels) cli_failf("out of memory");
        if (attx_encode_image(model, input, pixels, &err) != 0) cli_fail(&err);
        batch.pixels = pixels;
    } else {
        size_t len;
        text = cli_read_input(input, &len);
        if (attx_encode_text(model, text, len, &enc, &err) != 0) {
            if (input[0] == '@') attx_fail_prefix(&err, "%s", input + 1);
            cli_fail(&err);
        }
        if (enc.n_dropped)
            fprintf(stderr, "attx: warning: the text has %zu tokens; the last %zu were cut to fit the model's %d "
                            "positions\n", enc.tokens.n + enc.n_dropped, enc.n_dropped, cfg->max_position_embeddings);
        batch.T = enc.length;
        batch.ids = enc.ids;
        batch.lengths = &enc.length;
    }

    attx_ctx *ctx = attx_ctx_new();
    if (!ctx) cli_failf("out of memory");
    attx_outputs out;
    if (attx_forward(model, ctx, &batch, &out, &err) != 0) cli_fail(&err);
    int C = cfg->num_labels, best = 0;
    /* attn1 always runs on T positions; its UNK padding is not shown */
    int n_tokens = cfg->arch == ATTX_ARCH_ATTN1 ? 1 + (int)enc.tokens.n : enc.length;
    const float *logits = out.logits->data;
    double *probs = malloc((size_t)C * sizeof *probs);
    int *ranked = malloc((size_t)C * sizeof *ranked);
    if (!probs || !ranked) cli_failf("out of memory");
    softmax(logits, C, probs);
    for (int k = 1; k < C; k++) if (logits[k] > logits[best]) best = k;
    for (int k = 0; k < C; k++) ranked[k] = k;
    sort_probs = probs;
    qsort(ranked, (size_t)C, sizeof *ranked, by_prob_desc);
    int shown = top ? (int)(top < C ? top : C) : image ? (C < 5 ? C : 5) : C;

    if (json) {
        attx_buf buf = {0};
        attx_json_writer w;
        attx_jw_init(&w, &buf, 0);
        attx_jw_object_begin(&w);
        attx_jw_key(&w, "labels");
        attx_jw_array_begin(&w);
        for (int k = 0; k < C; k++) attx_jw_string(&w, cfg->labels[k]);
        attx_jw_array_end(&w);
        attx_jw_key(&w, "logits");
        attx_jw_array_begin(&w);
        for (int k = 0; k < C; k++) attx_jw_float(&w, logits[k]);
        attx_jw_array_end(&w);
        attx_jw_key(&w, "probs");
        attx_jw_array_begin(&w);
        for (int k = 0; k < C; k++) attx_jw_double(&w, probs[k]);
        attx_jw_array_end(&w);
        attx_jw_key(&w, "predicted");
        attx_jw_int(&w, best);
        if (image) {
            attx_jw_key(&w, "patches");
            attx_jw_int(&w, patches);
        } else {
            attx_jw_key(&w, "tokens");
            attx_jw_array_begin(&w);
            for (int t = 0; t < n_tokens; t++) attx_jw_string(&w, attx_wordpiece_token(tokenizer, enc.ids[t]));
            attx_jw_array_end(&w);
        }
        attx_jw_object_end(&w);
        cli_print_json(&buf);
        attx_buf_free(&buf);
    } else {
        printf("%s  (p = %.4f)\n", cfg->labels[best], probs[best]);
        for (int r = 0; r < shown; r++) {
            int k = ranked[r];
            printf("  %c %-16s p %.4f  logit %+.4f\n", k == best ? '*' : ' ', cfg->labels[k], probs[k], logits[k]);
        }
        if (shown < C) printf("  (%d more classes; --top %d shows them all)\n", C - shown, C);
        if (image) {
            printf("image: %s, %dx%d pixels in %d patches of %dx%d\n", input, cfg->image_width, cfg->image_height,
                   patches, cfg->patch_size, cfg->patch_size);
        } else {
            printf("tokens (%d):", n_tokens);
            for (int t = 0; t < n_tokens; t++) printf(" %s", attx_wordpiece_token(tokenizer, enc.ids[t]));
            printf("\n");
        }
    }
    free(probs);
    free(ranked);
    free(pixels);
    free(text);
    attx_encoding_free(&enc);
    attx_ctx_free(ctx);
    attx_model_close(model);
    return EXIT_OK;
}
