/* embedder.c — many texts to sentence embeddings: tokenised, sorted by length, packed into
 * batches of about batch_tokens padded tokens, run without the tape and pooled (engine/embed.c). */
#include "embedder.h"

#include <stdlib.h>
#include <string.h>

int embed_option(const cli_command *cmd, int argc, char **argv, int *i, embed_options *o)
{
    const char *v;
    if (cli_flag(argv[*i], "--normalize")) o->normalize = 1;
    else if (cli_flag(argv[*i], "--no-normalize")) o->normalize = 0;
    else if (cli_value(argc, argv, i, "--pooling", &o->pooling)) {
        unsigned bits;
        if (attx_pooling_parse(o->pooling, &bits) != 0)
            cli_usage_error(cmd, "--pooling takes cls, mean, max, mean-sqrt-len, weighted-mean or last-token "
                                 "(comma-separated), not '%s'", o->pooling);
    }
    else if (cli_value(argc, argv, i, "--threads", &o->threads)) {}
    else if (cli_precision_option(cmd, argv[*i], &o->precision)) {}
    else if (cli_value(argc, argv, i, "--max-length", &v)) o->max_length = cli_parse_long(cmd, "--max-length", v, 2, 1 << 20);
    else if (cli_value(argc, argv, i, "--batch-tokens", &v))
        o->batch_tokens = cli_parse_long(cmd, "--batch-tokens", v, 1, 1L << 24);
    else return 0;
    return 1;
}

void embed_texts_read(embed_texts *t, const char *input)
{
    memset(t, 0, sizeof *t);
    size_t len;
    t->buffer = cli_read_input(input, &len);
    if (input[0] != '@') {
        t->n = 1;
    } else {
        for (size_t k = 0; k < len; k++) t->n += t->buffer[k] == '\n';
        t->n += len > 0 && t->buffer[len - 1] != '\n';   /* a last line without its "\n" */
    }
    t->text = malloc((t->n ? t->n : 1) * sizeof *t->text);
    t->len = malloc((t->n ? t->n : 1) * sizeof *t->len);
    if (!t->text || !t->len) cli_failf("out of memory");
    if (input[0] != '@') {
        t->text[0] = t->buffer;
        t->len[0] = len;
        return;
    }
    size_t at = 0;
    for (size_t i = 0; i < t->n; i++) {
        size_t end = at;
        while (end < len && t->buffer[end] != '\n') end++;
        size_t n = end - at;
        if (n && t->buffer[at + n - 1] == '\r') n--;
        t->buffer[at + n] = '\0';
        t->text[i] = t->buffer + at;
        t->len[i] = n;
        at = end + 1;
    }
}

void embed_texts_free(embed_texts *t)
{
    free(t->buffer);
    free(t->text);
    free(t->len);
    memset(t, 0, sizeof *t);
}

void embedder_open(embedder *e, const char *model_path, const embed_options *o)
{
    memset(e, 0, sizeof *e);
    e->model_path = model_path;
    e->model = cli_open_model(model_path, o->precision);
    const attx_config *cfg = attx_model_config(e->model);
    if (cfg->arch != ATTX_ARCH_BERT)
        cli_failf("%s is a %s model; sentence embeddings need a BERT text model", model_path, attx_arch_name(cfg->arch));
    e->sc = *attx_model_sentence_config(e->model, &e->found);
    if (o->pooling && attx_pooling_parse(o->pooling, &e->sc.pooling) != 0) cli_failf("bad --pooling");
    if (o->normalize >= 0) e->sc.normalize = o->normalize;
    if (o->max_length) e->sc.max_seq_length = (int)o->max_length;
    if (e->sc.lower_case)
        cli_failf("%s: sentence_bert_config.json asks for \"do_lower_case\": true, which attx does not do "
                  "(it lower-cases only as the tokenizer does)", model_path);
    e->dim = attx_embedding_dim(e->model, &e->sc);
    e->batch_tokens = o->batch_tokens ? o->batch_tokens : 8192;
    if (!(e->ctx = attx_ctx_new())) cli_failf("out of memory");
}

void embedder_close(embedder *e)
{
    attx_ctx_free(e->ctx);
    attx_model_close(e->model);
    memset(e, 0, sizeof *e);
}

void embed_describe(const attx_sentence_config *sc, int positions, int hidden, char *buf, size_t cap)
{
    char pooling[128];
    attx_pooling_name(sc->pooling, pooling, sizeof pooling);
    int max_len = sc->max_seq_length > 0 && sc->max_seq_length < positions ? sc->max_seq_length : positions;
    snprintf(buf, cap, "%s pooling%s, up to %d tokens, %d dimensions", pooling,
             sc->normalize ? ", L2-normalised" : "", max_len, hidden * attx_pooling_count(sc->pooling));
}

void embedder_describe(const embedder *e, char *buf, size_t cap)
{
    const attx_config *c = attx_model_config(e->model);
    embed_describe(&e->sc, c->max_position_embeddings, c->hidden_size, buf, cap);
}

static const attx_encoding *sort_enc;
static int by_length(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (sort_enc[x].length != sort_enc[y].length) return sort_enc[x].length < sort_enc[y].length ? -1 : 1;
    return x < y ? -1 : x > y;
}

void embedder_run(embedder *e, const embed_texts *t, size_t first, size_t n, float *vectors,
                  attx_encoding *encodings, int show_progress, size_t done, double start)
{
    attx_error err;
    attx_encoding *enc = encodings ? encodings : calloc(n ? n : 1, sizeof *enc);
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!enc || !order) cli_failf("out of memory");
    for (size_t i = 0; i < n; i++) {
        if (attx_encode_text_max(e->model, t->text[first + i], t->len[first + i], e->sc.max_seq_length, &enc[i],
                                 &err) != 0) {
            if (t->n > 1) attx_fail_prefix(&err, "line %zu", first + i + 1);
            cli_fail(&err);
        }
        order[i] = i;
    }
    sort_enc = enc;
    qsort(order, n, sizeof *order, by_length);

    /* batches of similar lengths: the longest text of a batch sets T, B·T stays within budget */
    int32_t *ids = NULL, *lengths = NULL;
    float *pooled = NULL;
    size_t cap_ids = 0, cap_b = 0;
    for (size_t at = 0; at < n;) {
        size_t B = 0;
        int32_t T = 0;
        while (at + B < n) {
            int32_t len = enc[order[at + B]].length;   /* sorted: the batch's longest so far */
            if (B > 0 && (long)(B + 1) * len > e->batch_tokens) break;
            T = len;
            B++;
        }
        if ((size_t)B * (size_t)T > cap_ids) {
            cap_ids = (size_t)B * (size_t)T;
            if (!(ids = realloc(ids, cap_ids * sizeof *ids))) cli_failf("out of memory");
        }
        if (B > cap_b) {
            cap_b = B;
            if (!(lengths = realloc(lengths, cap_b * sizeof *lengths)) ||
                !(pooled = realloc(pooled, cap_b * (size_t)e->dim * sizeof *pooled)))
                cli_failf("out of memory");
        }
        attx_special_ids sp = attx_wordpiece_special_ids(attx_model_tokenizer(e->model));
        int32_t pad = sp.pad >= 0 ? sp.pad : 0;
        for (size_t b = 0; b < B; b++) {
            const attx_encoding *x = &enc[order[at + b]];
            lengths[b] = x->length;
            memcpy(ids + b * (size_t)T, x->ids, (size_t)x->length * sizeof *ids);
            for (int32_t k = x->length; k < T; k++) ids[b * (size_t)T + (size_t)k] = pad;
        }
        attx_batch batch = {.B = (int)B, .T = T, .ids = ids, .lengths = lengths};
        attx_outputs out;
        attx_ctx_reset(e->ctx);
        if (attx_forward(e->model, e->ctx, &batch, &out, &err) != 0 ||
            attx_pool_embeddings(e->model, &e->sc, &batch, &out, pooled, &err) != 0) {
            attx_fail_prefix(&err, "%s", e->model_path);
            cli_fail(&err);
        }
        for (size_t b = 0; b < B; b++)
            memcpy(vectors + order[at + b] * (size_t)e->dim, pooled + b * (size_t)e->dim,
                   (size_t)e->dim * sizeof *vectors);
        at += B;
        if (show_progress) cli_progress(done + at, t->n, start, "text");
    }
    if (!encodings) {
        for (size_t i = 0; i < n; i++) attx_encoding_free(&enc[i]);
        free(enc);
    }
    free(order);
    free(ids);
    free(lengths);
    free(pooled);
}
