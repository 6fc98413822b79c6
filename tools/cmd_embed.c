/* cmd_embed.c — `attx embed MODEL INPUT [--out FILE.npy]`: sentence embeddings as
 * sentence-transformers computes them, as JSON lines or a NumPy matrix. */
#include "embedder.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int run_embed(int argc, char **argv);

const cli_command cmd_embed = {
    "embed", "sentence embeddings of texts (as sentence-transformers computes them)",
    "usage: attx embed MODEL INPUT [--out FILE.npy] [options]\n"
    "\n"
    "Turns each text of INPUT into one vector with a BERT MODEL, as sentence-transformers does:\n"
    "the text truncated to the model's max_seq_length (sentence_bert_config.json), the last\n"
    "hidden states pooled over its tokens as 1_Pooling/config.json says, then L2-normalised when\n"
    "modules.json has a Normalize module. A model without these files gets mean pooling. A\n"
    "model file written by attx carries them with it.\n"
    "INPUT is the text itself, or @FILE with one text a line (@- reads standard input); an\n"
    "empty line is an empty text, which is embedded as [CLS] [SEP].\n"
    "\n"
    "Output: one JSON object a line on stdout, in input order:\n"
    "  {\"text\":\"...\",\"tokens\":[\"[CLS]\",...,\"[SEP]\"],\"ids\":[101,...,102],\"embedding\":[...]}\n"
    "or with --out FILE.npy a float32 matrix, one row per text in input order, in NumPy's .npy\n"
    "format (numpy.load reads it). A progress bar goes to stderr for long inputs.\n"
    "\n"
    "  --out FILE.npy      write the matrix there instead of JSON lines\n" EMBED_OPTIONS_USAGE,
    run_embed,
};

/* NumPy's .npy format, version 1.0: magic, a little-endian uint16 header length, a Python dict
 * literal padded with spaces to end in "\n" at a multiple of 64 bytes, then the C-order data. */
static void npy_header(FILE *fp, size_t rows, int cols)
{
    char dict[128];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %d), }", rows, cols);
    size_t total = 10 + (size_t)n + 1;
    size_t padded = (total + 63) / 64 * 64;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    size_t header_len = padded - 10;
    pre[8] = (unsigned char)(header_len & 0xff);
    pre[9] = (unsigned char)(header_len >> 8);
    fwrite(pre, 1, 10, fp);
    fwrite(dict, 1, (size_t)n, fp);
    for (size_t k = total; k < padded; k++) fputc(' ', fp);
    fputc('\n', fp);
}

/* float32 little-endian whatever the host's order */
static void npy_rows(FILE *fp, const float *v, size_t count)
{
    for (size_t k = 0; k < count; k++) {
        uint32_t bits;
        memcpy(&bits, &v[k], 4);
        unsigned char b[4] = {(unsigned char)bits, (unsigned char)(bits >> 8), (unsigned char)(bits >> 16),
                              (unsigned char)(bits >> 24)};
        fwrite(b, 1, 4, fp);
    }
}

static void json_line(const embedder *e, const embed_texts *t, size_t i, const attx_encoding *enc, const float *v)
{
    const attx_wordpiece *wp = attx_model_tokenizer(e->model);
    attx_buf buf = {0};
    attx_json_writer w;
    attx_jw_init(&w, &buf, 0);
    attx_jw_object_begin(&w);
    attx_jw_key(&w, "text");
    attx_jw_string_n(&w, t->text[i], t->len[i]);
    attx_jw_key(&w, "tokens");
    attx_jw_array_begin(&w);
    for (int k = 0; k < enc->length; k++) attx_jw_string(&w, attx_wordpiece_token(wp, enc->ids[k]));
    attx_jw_array_end(&w);
    attx_jw_key(&w, "ids");
    attx_jw_array_begin(&w);
    for (int k = 0; k < enc->length; k++) attx_jw_int(&w, enc->ids[k]);
    attx_jw_array_end(&w);
    attx_jw_key(&w, "embedding");
    attx_jw_array_begin(&w);
    for (int k = 0; k < e->dim; k++) attx_jw_float(&w, v[k]);
    attx_jw_array_end(&w);
    attx_jw_object_end(&w);
    cli_print_json(&buf);
    attx_buf_free(&buf);
}

static int run_embed(int argc, char **argv)
{
    const char *model_path = NULL, *input = NULL, *out_path = NULL;
    embed_options o = {.normalize = -1};
    for (int i = 1; i < argc; i++) {
        if (cli_end_of_options(argv[i])) continue;
        if (embed_option(&cmd_embed, argc, argv, &i, &o)) continue;
        if (cli_value(argc, argv, &i, "--out", &out_path)) continue;
        if (cli_is_option(argv[i])) cli_unknown_option(&cmd_embed, argv[i]);
        else if (!model_path) model_path = argv[i];
        else if (!input) input = argv[i];
        else cli_usage_error(&cmd_embed, "unexpected argument '%s' (quote a text with spaces)", argv[i]);
    }
    if (!model_path || !input) cli_usage_error(&cmd_embed, "MODEL and INPUT are both needed");
    cli_set_threads(&cmd_embed, o.threads);

    embedder e;
    embedder_open(&e, model_path, &o);
    embed_texts t;
    embed_texts_read(&t, input);

    FILE *npy = NULL;
    char *tmp_path = NULL;
    if (out_path) {
        size_t n = strlen(out_path) + 8;
        if (!(tmp_path = malloc(n))) cli_failf("out of memory");
        snprintf(tmp_path, n, "%s.tmp", out_path);   /* renamed once complete */
        if (!(npy = fopen(tmp_path, "wb"))) cli_failf("%s: cannot write: %s", out_path, strerror(errno));
        npy_header(npy, t.n, e.dim);
    }
    size_t chunk = t.n < EMBED_CHUNK ? t.n : EMBED_CHUNK;
    float *vectors = malloc((chunk ? chunk : 1) * (size_t)e.dim * sizeof *vectors);
    attx_encoding *enc = calloc(chunk ? chunk : 1, sizeof *enc);
    if (!vectors || !enc) cli_failf("out of memory");
    int show_progress = t.n > 256;
    double start = cli_now();
    for (size_t first = 0; first < t.n; first += chunk) {
        size_t n = t.n - first < chunk ? t.n - first : chunk;
        embedder_run(&e, &t, first, n, vectors, enc, show_progress, first, start);
        if (npy) npy_rows(npy, vectors, n * (size_t)e.dim);
        else
            for (size_t i = 0; i < n; i++) json_line(&e, &t, first + i, &enc[i], vectors + i * (size_t)e.dim);
        for (size_t i = 0; i < n; i++) attx_encoding_free(&enc[i]);
    }
    if (npy) {
        if (ferror(npy) | fclose(npy)) {
            remove(tmp_path);
            cli_failf("%s: write failed", out_path);
        }
        if (rename(tmp_path, out_path) != 0) {
            remove(tmp_path);
            cli_failf("%s: %s", out_path, strerror(errno));
        }
        char how[160];
        embedder_describe(&e, how, sizeof how);
        printf("wrote %s: %zu x %d float32 (%s), %.1f s\n", out_path, t.n, e.dim, how, cli_now() - start);
    }
    free(tmp_path);
    free(vectors);
    free(enc);
    embed_texts_free(&t);
    embedder_close(&e);
    return EXIT_OK;
}
