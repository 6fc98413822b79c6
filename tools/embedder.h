/* embedder.h — what `attx embed` and `attx similar` share: the options that choose how a text
 * becomes a vector, the texts of an INPUT argument, and the batched embedding of many texts. */
#ifndef ATTX_EMBEDDER_H
#define ATTX_EMBEDDER_H

#include "cli.h"
#include "attx_engine.h"

/* The options both commands take; NULL/-1/0 keep what the model's files say. */
typedef struct embed_options {
    const char *pooling;          /* --pooling cls,max,mean,... */
    int normalize;                /* --normalize 1, --no-normalize 0, -1 the model's */
    long max_length;              /* --max-length N (tokens with [CLS] and [SEP]); 0 the model's */
    long batch_tokens;            /* --batch-tokens N: padded tokens per forward pass */
    const char *threads;
    cli_precision precision;      /* --int8, --bf16 */
} embed_options;

/* Scans one option of embed_options at argv[*i] (advancing *i past a value); 1 when it was one. */
int embed_option(const cli_command *cmd, int argc, char **argv, int *i, embed_options *o);
/* The options' part of a usage text. */
#define EMBED_OPTIONS_USAGE                                                                               \
    "  --pooling LIST      cls, mean, max, mean-sqrt-len, weighted-mean, last-token (several: their\n"    \
    "                      vectors side by side); default: the model's 1_Pooling, else mean\n"            \
    "  --normalize         divide each vector by its L2 norm; --no-normalize: do not (default: as\n"     \
    "                      the model's modules.json says, else not)\n"                                   \
    "  --max-length N      truncate texts to N tokens, [CLS] and [SEP] included (default: the\n"         \
    "                      model's max_seq_length, else its positions)\n"                                \
    "  --batch-tokens N    padded tokens per forward pass (default 8192); texts are batched by\n"        \
    "                      length, which changes no result\n"                                            \
    "  --int8              run the encoder's linear layers in int8 (ONNX Runtime's dynamic\n"           \
    "                      quantisation: weights per channel, activations per token); about twice as\n" \
    "                      fast, cosine to the fp32 vectors about 0.999\n"                              \
    "  --bf16              run them in bf16 (attx predict --help): AVX512_BF16 where the CPU has\n"   \
    "                      it, else an exact emulation giving the same sums, slower; cosine to the\n" \
    "                      fp32 vectors about 0.99999; not faster than fp32\n"                       \
    "  --threads N         threads to use (default: all cores); results do not depend on it\n"

/* The texts of an INPUT: the argument itself (one text), or one text per line of @FILE (@- for
 * standard input; "\r\n" line ends taken off, a last line without "\n" counted, empty lines
 * kept as empty texts). *buffer owns the bytes the texts point into. */
typedef struct embed_texts {
    char *buffer;
    size_t n;
    const char **text;            /* [n], NUL-terminated */
    size_t *len;                  /* [n] */
} embed_texts;
void embed_texts_read(embed_texts *t, const char *input);
void embed_texts_free(embed_texts *t);

typedef struct embedder {
    attx_model *model;
    const char *model_path;
    attx_sentence_config sc;      /* the settings in force */
    int found;                    /* the model had sentence-transformers settings */
    int dim;
    long batch_tokens;
    attx_ctx *ctx;
} embedder;

/* Opens the model and settles the settings (exits with a one-line error on bad input). */
void embedder_open(embedder *e, const char *model_path, const embed_options *o);
void embedder_close(embedder *e);
/* "mean pooling, L2-normalised, up to 256 tokens, 384 dimensions": settings sc on a model with
 * `positions` positions and hidden size `hidden` (embed_describe), or the embedder's. */
void embed_describe(const attx_sentence_config *sc, int positions, int hidden, char *buf, size_t cap);
void embedder_describe(const embedder *e, char *buf, size_t cap);

/* Embeds texts[first, first + n) into vectors[n × dim], batched by length. encodings (may be
 * NULL) receives each text's encoding (the caller frees them). start/total drive the progress
 * bar when show_progress; done counts texts embedded before this call. */
void embedder_run(embedder *e, const embed_texts *t, size_t first, size_t n, float *vectors,
                  attx_encoding *encodings, int show_progress, size_t done, double start);

/* Texts per call to embedder_run, so that memory stays bounded for any input. */
#define EMBED_CHUNK 2048

#endif
