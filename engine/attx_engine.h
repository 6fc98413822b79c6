/* attx_engine.h — the engine module's public API.
 *
 * Conventions as in attx_weights.h: functions that can fail return 0 on success and -1 on
 * failure, and then fill `attx_error` with a one-line message. Nothing here prints or exits.
 */
#ifndef ATTX_ENGINE_H
#define ATTX_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "attx_weights.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Tokenizer                                                                                   */
/*                                                                                             */
/* WordPiece, token for token what Hugging Face's slow (Python) BertTokenizer gives with        */
/* tokenize_chinese_chars=True and strip_accents=None: the special tokens of the vocabulary     */
/* ([CLS] [SEP] [PAD] [UNK] [MASK], spelled exactly) stay whole; then clean-up (drop NUL,       */
/* U+FFFD and control/format/unassigned characters, whitespace to spaces), spaces around CJK    */
/* ideographs, whitespace split, lowercase + NFD + drop Mn (do_lower_case; otherwise NFC),      */
/* punctuation split, and greedy longest-match-first WordPiece with "##" continuations (a word  */
/* over 100 characters, or with a position nothing matches, becomes one [UNK]). Unicode         */
/* properties come from UCD 15.0.0 (see engine/unicode_data.c).                                 */

typedef struct attx_wordpiece attx_wordpiece;   /* opaque */

/* Tokens of one text, without [CLS]/[SEP]. start/end: the byte range [start, end) in the
 * text of the word a token came from (every piece of a word has the word's range; a split
 * punctuation character or CJK ideograph has its own). Zero-initialise before first use. */
typedef struct attx_tokens {
    int32_t *ids;
    uint32_t *start;
    uint32_t *end;
    size_t n;
    size_t cap;        /* allocated entries */
} attx_tokens;

/* Special token ids; -1 when the vocabulary lacks the token. */
typedef struct attx_special_ids {
    int32_t pad, unk, cls, sep, mask;
} attx_special_ids;

/* Builds a tokenizer from the text of a vocab.txt: one token per line, id = line index (0-based).
 * Lines end with "\n", "\r\n" or "\r" (Python's universal newlines) and a last line needs no
 * line end. A token listed twice keeps its last id (HF builds a dict), and its earlier id reads
 * back as [UNK]. Errors: empty text, invalid UTF-8 (with the line number), no [UNK] token. */
int attx_wordpiece_load(attx_wordpiece **out, const char *vocab_text, size_t len,
                        int do_lower_case, attx_error *err);
void attx_wordpiece_free(attx_wordpiece *wp);

/* Tokenizes text[0..len) into out (reset first; its arrays are reused and grown). Empty or
 * whitespace-only text gives 0 tokens. Errors: "invalid UTF-8 at byte N", text over 4 GiB,
 * out of memory. */
int attx_wordpiece_encode(const attx_wordpiece *wp, const char *text, size_t len,
                          attx_tokens *out, attx_error *err);
void attx_tokens_free(attx_tokens *t);

/* The words BertTokenizer's basic tokenizer makes of a text, before WordPiece: clean-up, CJK
 * spacing, whitespace split, lowercase + accent stripping (or NFC), punctuation split. Each word
 * (UTF-8, not NUL-terminated; words over 100 characters are left out, as they become [UNK])
 * is passed to on_word in order. Errors: invalid UTF-8, out of memory. */
typedef void (*attx_word_fn)(void *user, const char *word, size_t len);
int attx_basic_words(const char *text, size_t len, int do_lower_case, attx_word_fn on_word, void *user,
                     attx_error *err);

/* Learns a WordPiece vocabulary from texts (as Hugging Face's WordPiece trainer does, by byte-
 * pair merges over the basic tokenizer's words, continuation pieces spelled "##"): the special
 * tokens [PAD] [UNK] [CLS] [SEP] [MASK] (ids 0-4), every character seen (alone and as "##c"),
 * then merged pieces, most frequent pair first, until vocab_size tokens or no pair occurs
 * min_frequency times. out gets the vocab.txt text, one token per line. */
int attx_wordpiece_train(const char *const *texts, size_t n_texts, int vocab_size, int do_lower_case,
                         int min_frequency, attx_buf *out, attx_error *err);

/* Number of ids (lines of vocab.txt; with duplicated tokens more than HF's len(vocab)). */
size_t attx_wordpiece_vocab_size(const attx_wordpiece *wp);
/* The token of an id (NUL-terminated; "[UNK]" for the earlier id of a duplicated token), or
 * NULL when id is out of range. */
const char *attx_wordpiece_token(const attx_wordpiece *wp, int32_t id);
/* The id of a token, or -1. */
int32_t attx_wordpiece_id(const attx_wordpiece *wp, const char *token);
attx_special_ids attx_wordpiece_special_ids(const attx_wordpiece *wp);

/* ------------------------------------------------------------------------------------------ */
/* Threads                                                                                     */
/*                                                                                             */
/* attx runs on OpenMP threads (default: all cores). Every reduction has a fixed order, so     */
/* results are the same bits for any thread count. A loop too small to gain from threads runs  */
/* on the calling thread alone.                                                                */
/*                                                                                             */
/* Sharing between threads (pthreads or OpenMP threads of your own):                           */
/*   - may be shared, read-only: an attx_model once attx_model_open or attx_model_create has   */
/*     returned (attx_forward, attx_encode_text, attx_encode_image, attx_model_config, ...     */
/*     take it const), its tokenizer (attx_model_tokenizer, attx_wordpiece_encode), and an     */
/*     attx_wordpiece;                                                                         */
/*   - one per thread: attx_ctx (and every tensor and attx_outputs it holds), attx_encoding,   */
/*     attx_tokens, attx_adamw, attx_error;                                                    */
/*   - calls that change a model need it to themselves, no other thread using it meanwhile:    */
/*     attx_model_make_trainable, attx_model_zero_grad, attx_model_set_preprocessor,           */
/*     attx_model_close, and any backward pass on a trainable model (it adds into the model's  */
/*     gradients).                                                                             */
/* test/test_threads.c runs two pthreads on one model, each with its own context.              */
/*                                                                                             */
/* The thread count is OpenMP's (its nthreads-var): OMP_NUM_THREADS or all cores for the       */
/* whole process, and attx_set_threads(n) (n > 0; otherwise ignored) for the attx calls of the */
/* thread that calls it. Each thread that runs attx starts its own team, so k threads each     */
/* running attx on all cores use k times the cores: give each attx_set_threads(1) or a share.  */
/* Waiting OpenMP threads spin for a while by default, which slows a busy machine down; the    */
/* attx program makes them sleep (OMP_WAIT_POLICY=passive), a program using the library can set*/
/* OMP_WAIT_POLICY=passive in its environment.                                                 */

void attx_set_threads(int n);

/* ------------------------------------------------------------------------------------------ */
/* Tensors, contexts and the tape                                                              */
/*                                                                                             */
/* A context owns everything one forward (and backward) pass allocates, in one arena that is   */
/* reused run after run. With the tape on, every op whose input needs a gradient is recorded,  */
/* and attx_backward fills the gradient of every tensor on the path back from the seed.        */

#define ATTX_MAX_NDIM 4

enum {
    ATTX_REQUIRES_GRAD = 1,   /* a gradient flows into this tensor */
    ATTX_PARAM = 2,           /* a model parameter */
};

typedef struct attx_tensor {
    float *data;              /* row-major, last dimension fastest */
    float *grad;              /* same shape; NULL until a backward pass reaches the tensor */
    int ndim;
    int64_t shape[ATTX_MAX_NDIM];
    int64_t numel;
    int flags;
    /* a layer weight W[out, in] packed for the GEMM of y = x·W^T when the model was opened for
     * inference (dropped by attx_model_make_trainable), or NULL; data stays the weight */
    struct attx_gemm_packed *packed;
    /* the weight quantised to int8 by attx_model_quantize_int8, or NULL */
    struct attx_q8_weight *q8;
    /* the weight rounded to bf16 by attx_model_convert_bf16, or NULL */
    struct attx_bf16_weight *bf16;
    /* internal: this tensor's rows quantised to uint8 by the first int8 layer that read it */
    struct attx_q8_acts *q8_acts;
} attx_tensor;

typedef struct attx_ctx attx_ctx;   /* opaque */

attx_ctx *attx_ctx_new(void);        /* NULL when out of memory */
void attx_ctx_free(attx_ctx *ctx);
/* Forgets every tensor of the previous run; keeps the memory for the next one. */
void attx_ctx_reset(attx_ctx *ctx);
/* Tape on (1) or off (0, the default: layers free their temporaries as they finish). */
void attx_ctx_set_tape(attx_ctx *ctx, int on);
/* Dropout on (training, with the model config's probabilities, drawn from a stream seeded by
 * seed) or off (0, the default: inference, as Hugging Face's eval mode). */
void attx_ctx_set_dropout(attx_ctx *ctx, int on, uint64_t seed);
/* Most bytes the context's arena has held at once. */
size_t attx_ctx_peak_bytes(const attx_ctx *ctx);

/* Reverse pass from out: out's gradient is seeded with seed (out->numel values; NULL: ones),
 * then every recorded op runs its backward, last to first. Returns 0, or -1 when out of memory. */
int attx_backward(attx_ctx *ctx, attx_tensor *out, const float *seed);

/* ------------------------------------------------------------------------------------------ */
/* Models                                                                                      */

typedef struct attx_model attx_model;   /* opaque */

/* Loads a model: a Hugging Face directory or a .safetensors file made by `attx convert`.
 * F32 weights are used in place from the mapped file; F16/BF16 are converted to F32 once.
 * Besides the files' own checks: a vocabulary with more tokens than the word embeddings have
 * rows is an error, and so is a .safetensors file whose metadata does not match its
 * attx.checksum or, without one, whose vocabulary has not one token per embedding row. */
int attx_model_open(attx_model **out, const char *path, attx_error *err);
void attx_model_close(attx_model *m);
const attx_config *attx_model_config(const attx_model *m);
/* 1 when the model has a classifier (logits), 0 for a bare encoder. */
int attx_model_has_classifier(const attx_model *m);
/* The WordPiece tokenizer of a text model, or NULL. */
const attx_wordpiece *attx_model_tokenizer(const attx_model *m);
/* The text of the model's preprocessor_config.json (NUL-terminated), or NULL when it has none;
 * *source (may be NULL) names where it came from, for messages. Parse it with
 * attx_preprocessor_parse. */
const char *attx_model_preprocessor_json(const attx_model *m, const char **source);

/* A new model with random weights (initialised as Hugging Face does: N(0, initializer_range²)
 * for weights and embeddings, 0 for biases, 1 for LayerNorm scales), built from the text of a
 * config.json and, for a text model, of a vocab.txt. The same seed gives the same weights. */
int attx_model_create(attx_model **out, const char *config_json, const char *vocab_text, size_t vocab_len,
                      uint64_t seed, attx_error *err);
/* A copy of `base` with a new classifier for `n_labels` classes named `labels`, initialised
 * as attx_model_create does with `seed`: for fine-tuning a BERT or ViT (with or without a
 * classifier of its own) on another label set. Every other tensor is base's; a BERT without
 * a pooler gets a new one. The config keeps every key but the classes. */
int attx_model_with_new_head(attx_model **out, const attx_model *base, const char *const *labels, int n_labels,
                             uint64_t seed, attx_error *err);
/* Prepares a model for training: weights used in place from the file are copied into the
 * model's memory, and every parameter gets a gradient buffer (flag ATTX_REQUIRES_GRAD) that
 * each backward pass adds into; attx_model_zero_grad clears them. */
int attx_model_make_trainable(attx_model *m, attx_error *err);

/* int8 inference: the linear layers of the encoder (not the embeddings, pooler, classifier or
 * ViT patches) quantised, weights per output channel (symmetric int8) and activations per
 * token as each layer runs (asymmetric uint8), as ONNX Runtime's dynamic quantisation does.
 * Forward passes then run those layers in int8 (AVX-512 VNNI, AVX2 or portable kernels, the
 * same results on each); the backward of a quantised layer uses its fp32 weights (the
 * straight-through estimate: the gradient of the fp32 layer, taken at the int8 forward's
 * activations). Call before the model is shared between threads; attx_model_make_trainable
 * drops the quantisation. Errors: an attn1 model, a model being trained, a bf16 model, out of
 * memory. */
int attx_model_quantize_int8(attx_model *m, attx_error *err);
int attx_model_is_int8(const attx_model *m);
/* bf16 inference: the same linear layers as int8 (the encoder's, not the embeddings, pooler,
 * classifier or ViT patches) with their weights rounded to bfloat16 (nearest even) once, and
 * each row of their input as each layer runs; the products are summed in fp32 exactly as
 * AVX512_BF16's vdpbf16ps sums them: the instruction where the CPU has it, an exact emulation
 * (AVX2, portable C; slower) elsewhere, so that these layers give the same bits on every machine
 * and for every thread count. As with int8, the backward of a converted layer uses its fp32
 * weights (the gradient of the fp32 layer, taken at the bf16 forward's activations). Call
 * before the model is shared between threads; attx_model_make_trainable drops the conversion.
 * Errors: an attn1 model, a model being trained, an int8 model (quantised or opened from an
 * int8 file: a model is int8 or bf16, not both; attx_model_quantize_int8 refuses a bf16 model
 * likewise), out of memory. */
int attx_model_convert_bf16(attx_model *m, attx_error *err);
int attx_model_is_bf16(const attx_model *m);
/* A quantised weight W[N, K]'s int8 values q[N·K] and scales[N] (W ≈ q · scale[row]), as
 * `attx convert --dtype int8` stores them; −1 when t is not quantised. */
int attx_tensor_int8_values(const attx_tensor *t, int8_t *q, float *scale);
void attx_model_zero_grad(attx_model *m);
/* The model's parameters in its tensor order, with their canonical (HF) names; either array
 * may be NULL. Returns how many there are (call with NULLs first to size the arrays). */
size_t attx_model_params(const attx_model *m, attx_tensor **params, const char **names);
/* Writes the model as one self-contained .safetensors file (weights in dtype F32, F16 or BF16;
 * config, vocabulary, tokenizer and preprocessor settings in __metadata__), atomically. */
int attx_model_save(const attx_model *m, const char *path, attx_dtype dtype, attx_error *err);
/* Gives a model (e.g. a new ViT from attx_model_create) the text of its preprocessor_config.json,
 * saved with it as attx.preprocessor. The text is checked with attx_preprocessor_parse first. */
int attx_model_set_preprocessor(attx_model *m, const char *json, attx_error *err);

/* One text made ready for a text model: [CLS] content [SEP], truncated to the model's
 * positions (the first max_position_embeddings − 2 content tokens are kept). */
typedef struct attx_encoding {
    attx_tokens tokens;           /* content tokens with their byte ranges in the text */
    int32_t *ids;                 /* [CLS] content [SEP] */
    int32_t length;
    size_t n_dropped;             /* content tokens cut off by truncation */
} attx_encoding;

#define ATTX_MAX_TEXT_BYTES ((size_t)64 << 20)

/* A text with no tokens (empty, or nothing but whitespace or control characters) gives
 * [CLS] [SEP], as Hugging Face's tokenizer does (tokens.n = 0). Errors: a model without a
 * tokenizer, invalid UTF-8, more than ATTX_MAX_TEXT_BYTES bytes. */
int attx_encode_text(const attx_model *m, const char *text, size_t len, attx_encoding *out,
                     attx_error *err);
/* The same, truncated to max_length tokens ([CLS] and [SEP] included) when that is below the
 * model's positions (0: the model's positions): sentence-transformers' max_seq_length. */
int attx_encode_text_max(const attx_model *m, const char *text, size_t len, int max_length, attx_encoding *out,
                         attx_error *err);
void attx_encoding_free(attx_encoding *e);

/* An image file made ready for an image model, as Hugging Face's pipeline does it: decoded
 * (attx_image_load), turned upright by its EXIF orientation, then resized, rescaled and
 * normalised by the model's preprocessor settings (preprocessor_config.json or
 * attx.preprocessor; ViTImageProcessor's defaults when absent) into pixels[3, H, W], H × W the
 * model's image size. Errors name the file. */
int attx_encode_image(const attx_model *m, const char *path, float *pixels, attx_error *err);

/* One batch of inputs: token ids for a text model, or pixels for an image model. */
typedef struct attx_batch {
    int B;
    /* text: ids[b·T + t] right-padded to T; lengths[b] real tokens ([CLS] ... [SEP]) */
    int T;
    const int32_t *ids;
    const int32_t *lengths;
    /* images: pixels[B, C, H, W], normalized as the model's preprocessor says */
    const float *pixels;
    /* text, optional (NULL: the rows of ids): word embeddings [B, T, D] used in place of the
     * word-embedding rows of ids, before positions are added (ids are still checked; they give
     * nothing else). For paths between inputs, e.g. integrated gradients. attn1 too: W_e[x]
     * without PE (its outputs' inputs_embeds is e = this + PE). */
    const float *inputs_embeds;
} attx_batch;

/* What a forward pass leaves in its context. With the tape off only logits are set; with it
 * on every tensor here is kept and has its gradient after attx_backward.
 * attn1 (one layer, only the [CLS] query): attn[0] is [B, K, 1, T], the [CLS] row α of each
 * head (read shape[2]); inputs_embeds is e = W_e[x] + PE, positions INCLUDED (the tensor P2's
 * gradients are taken with respect to); hidden[0] = e, hidden[1] = [B, 1, K·d_out], the heads'
 * Σ_t α_t v_t side by side; key_valid is NULL (no mask: padding takes part). */
typedef struct attx_outputs {
    attx_tensor *logits;          /* [B, C]; NULL for a bare encoder */
    attx_tensor *inputs_embeds;   /* [B, T, D]: word embeddings before positions are added;
                                     ViT: patch embeddings [B, N, D] before [CLS] and positions;
                                     attn1: after positions are added (see above) */
    attx_tensor **attn;           /* [L] of [B, H, T, T]: post-softmax attention probabilities
                                     (attn1: [B, H, 1, T]) */
    attx_tensor **hidden;         /* [L+1] of [B, T, D]: embeddings output, then each block's */
    uint8_t *key_valid;           /* [B·T] 1 for real tokens, 0 for padding (NULL: no padding) */
    attx_tensor *last_hidden;     /* BERT: [B, T, D], the last block's output (HF's
                                     last_hidden_state), tape on or off; what sentence embeddings
                                     pool. NULL for ViT and attn1 */
} attx_outputs;

/* Forward pass. Returns 0, or -1 with err set (ids out of the vocabulary, more tokens than
 * positions, pixels missing for an image model, out of memory). An output that is not a
 * number is an error too: logits (for a bare encoder, the last hidden states it leaves)
 * holding NaN or ±inf. The message names the cause: the first weight tensor holding a non-
 * finite value (with its index), else a non-finite input, else the first op whose output was
 * not finite when the example ran again alone, e.g. "the attention probabilities of layer 3
 * (bert.encoder.layer.3.attention.self)". Only the output is checked when all is well. */
int attx_forward(const attx_model *m, attx_ctx *ctx, const attx_batch *batch,
                 attx_outputs *out, attx_error *err);

/* 0 when every weight is a number; else -1 with err naming the first weight tensor (in the
 * model's order) that holds NaN or ±inf and the index, as attx_forward does. A scan of all the
 * weights, for callers that run many examples: a broken model is one error, not one per example. */
int attx_model_check_finite(const attx_model *m, attx_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Sentence embeddings                                                                         */
/*                                                                                             */
/* What sentence-transformers computes for a BERT model: the last hidden states of a forward   */
/* pass pooled over each text's real tokens by the modes of sc->pooling, concatenated in the     */
/* order of the ATTX_POOL_* bits, then divided by max(‖e‖₂, 1e-12) when sc->normalize. Sums are  */
/* taken in double, token by token, so the result does not depend on the thread count.         */

/* The length of one embedding: hidden size × the number of pooling modes. */
int attx_embedding_dim(const attx_model *m, const attx_sentence_config *sc);
/* Pools a forward pass's out->last_hidden (batch as given to attx_forward) into
 * embeddings[B × attx_embedding_dim]. Errors: a model that is not a BERT, no pooling mode. */
int attx_pool_embeddings(const attx_model *m, const attx_sentence_config *sc, const attx_batch *batch,
                         const attx_outputs *out, float *embeddings, attx_error *err);
/* The model's sentence settings: sentence-transformers' files or attx.sentence when it has them
 * (*found = 1), else mean pooling without normalisation (*found = 0). */
const attx_sentence_config *attx_model_sentence_config(const attx_model *m, int *found);

/* ------------------------------------------------------------------------------------------ */
/* attn1                                                                                       */
/*                                                                                             */
/* The one-layer multi-head [CLS]-query attention classifier of Lopardo et al. (ICML 2024),    */
/* model_type "attx-attn1" (engine/attn1.c has the equations): tensors attn1.word_embeddings,  */
/* attn1.query, attn1.key, attn1.value, attn1.classifier (.weight, no biases). Text goes       */
/* through torchtext's basic_english tokenizer; the vocabulary is one token per line with       */
/* "[cls]" (id 0) and "UNK" (id 1: unknown words and padding) first. For an attn1 model:        */
/*   - attx_model_tokenizer gives that vocabulary as an attx_wordpiece that looks basic_english */
/*     words up whole (attx_wordpiece_encode, _token, _id work; special ids: cls = "[cls]",     */
/*     unk = pad = "UNK", sep = mask = -1);                                                     */
/*   - attx_encode_text gives ids of length T = max_position_embeddings, always: [cls], the     */
/*     first T − 1 words (tokens.n of them, with byte ranges), then UNK padding;                */
/*   - attx_forward needs batch->T == T (lengths are not used: attention covers all T);         */
/*   - attx_model_create initialises as P2's code: embedding N(0, 1), W_q W_k W_v W_l           */
/*     Uniform(−0.1, 0.1).                                                                     */

/* torchtext basic_english: lowercase (Python's str.lower), then in order ' -> " '  ", " -> "",  */
/* . -> " . ", "<br />" -> " ", , ( ) ! ? each spaced, ; and : -> " ", and a Python str.split(). */
/* Each word (UTF-8, not NUL-terminated) goes to on_word in order. Errors: invalid UTF-8, text  */
/* over 4 GiB, out of memory. */
int attx_basic_english(const char *text, size_t len, attx_word_fn on_word, void *user, attx_error *err);

/* The vocabulary torchtext's build_vocab_from_iterator(specials=["[cls]", "UNK"]) makes of the
 * basic_english tokens of texts[0..n) (NUL-terminated): "[cls]", "UNK", then the tokens by
 * count descending, ties by token ascending (byte order); max_size > 0 keeps the first
 * max_size − 2 of that order before the specials are taken out of it (torchtext's max_tokens),
 * min_freq drops tokens seen fewer times. out gets the text, one token per line. */
int attx_attn1_vocab_build(const char *const *texts, size_t n, int max_size, int min_freq, attx_buf *out,
                           attx_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Training                                                                                    */
/*                                                                                             */
/* A step: forward with the tape on and the parameters flagged ATTX_REQUIRES_GRAD, the loss,   */
/* attx_backward from it, attx_clip_grad_norm, attx_adamw_step with the schedule's rate.       */

/* Mean softmax cross-entropy of logits[B, C] against labels[B] (each in [0, C)), a [1] tensor
 * recorded on the tape (PyTorch's CrossEntropyLoss with reduction "mean" and label_smoothing:
 * the target puts 1 − ε + ε/C on the label and ε/C on every other class; ε in [0, 1), 0 for
 * the plain loss). NULL when out of memory or logits is NULL. */
attx_tensor *attx_cross_entropy(attx_ctx *ctx, attx_tensor *logits, const int32_t *labels, double label_smoothing);

typedef struct attx_adamw_config {
    double lr;                    /* base learning rate (attx_adamw_step takes the step's own) */
    double beta1, beta2, eps;
    double weight_decay;          /* decoupled: p ← p·(1 − lr·weight_decay) */
    double ema;                   /* 0: off; else the decay d of an average of the weights */
} attx_adamw_config;

/* AdamW as torch.optim.AdamW (amsgrad off). Parameters are not owned; m and v are. */
typedef struct attx_adamw {
    attx_adamw_config cfg;
    size_t n;
    attx_tensor **params;         /* [n], writable data; gradients in params[i]->grad */
    uint8_t *decay;               /* [n] 1: weight decay applies (HF skips biases, LayerNorm) */
    double *lr_scale;             /* [n] each parameter's rate is the step's lr times this
                                     (1 after init; attx_layer_lr_scales for a layer-wise decay) */
    float **m, **v;               /* [n] of [numel]: first and second moments */
    float **avg;                  /* [n] of [numel] when cfg.ema > 0: the weights' moving average */
    int64_t step;                 /* steps taken */
} attx_adamw;

attx_adamw_config attx_adamw_defaults(void);   /* lr 1e-3, betas 0.9/0.999, eps 1e-8, decay 0.01 */
/* decay may be NULL (all parameters decay). Errors: out of memory. */
int attx_adamw_init(attx_adamw *opt, attx_tensor *const *params, const uint8_t *decay, size_t n,
                    const attx_adamw_config *cfg, attx_error *err);
/* One update with learning rate lr; parameters whose grad is NULL are skipped. With cfg.ema
 * the average follows: avg ← d_t·avg + (1 − d_t)·p, d_t = min(ema, (1 + t) / (10 + t)). */
void attx_adamw_step(attx_adamw *opt, double lr);
/* Exchanges the parameters' values with their moving average (cfg.ema > 0): call it before
 * evaluating or saving the averaged model, and again to go on training. */
void attx_adamw_swap_average(attx_adamw *opt);
void attx_adamw_free(attx_adamw *opt);

/* Global L2 norm of the gradients; when above max_norm (> 0) they are scaled by
 * max_norm / (norm + 1e-6), as torch.nn.utils.clip_grad_norm_. Returns the norm before. */
double attx_clip_grad_norm(attx_tensor *const *params, size_t n, double max_norm);
/* Learning-rate multiplier at step (0-based): linear warm-up over `warmup` steps, then linear
 * decay to 0 at `total` (transformers' get_linear_schedule_with_warmup). */
double attx_linear_schedule(int64_t step, int64_t warmup, int64_t total);

/* Fills decay[k] for the k-th parameter of attx_model_params: 0 for biases and LayerNorm
 * weights (which Hugging Face's Trainer does not decay), 1 for the rest. */
void attx_weight_decay_mask(const attx_model *m, uint8_t *decay);
/* Layer-wise learning-rate decay (Howard & Ruder's discriminative fine-tuning; ELECTRA's and
 * BEiT's "layer decay"): scale[k] for the k-th parameter of attx_model_params is
 * decay^(L + 1 − depth), depth 0 for the embeddings (and ViT's patch embeddings), l + 1 for
 * encoder layer l, L + 1 for what comes after the encoder (pooler, final LayerNorm,
 * classifier), L the number of layers. decay 1: every scale 1. attn1 has no layers: all 1. */
void attx_layer_lr_scales(const attx_model *m, double decay, double *scale);

typedef struct attx_step_stats {
    double loss;                  /* mean cross-entropy of the batch before the update */
    int correct;                  /* examples whose top logit was their label */
    double grad_norm;             /* global gradient norm before clipping */
} attx_step_stats;

/* One step on a trainable model (attx_model_make_trainable; opt built over attx_model_params):
 * forward with dropout (seeded by dropout_seed), cross-entropy against labels[B], backward,
 * clipping to max_grad_norm (≤ 0: none), AdamW with learning rate lr. Errors include numbers
 * that are not finite: logits (attx_forward's check, naming the cause), the loss or the gradient
 * norm (the update is then not made), or a weight after the update (the model then holds it:
 * do not save it). */
typedef struct attx_step_config {
    double lr;                    /* this step's learning rate */
    double max_grad_norm;         /* clipping (≤ 0: none) */
    double label_smoothing;       /* ε of attx_cross_entropy (0: none) */
    uint64_t dropout_seed;
} attx_step_config;
int attx_train_step(attx_model *m, attx_ctx *ctx, attx_adamw *opt, const attx_batch *batch,
                    const int32_t *labels, const attx_step_config *step, attx_step_stats *stats,
                    attx_error *err);

/* The optimizer's moments and step count in a safetensors file (m.NAME, v.NAME), with a free
 * progress string of the caller's (where in the data the run was), so a run can resume. */
int attx_adamw_save(const attx_adamw *opt, const char *const *names, const char *path, const char *progress,
                    attx_error *err);
/* Loads what attx_adamw_save wrote into an optimizer built over the same parameters. */
int attx_adamw_load(attx_adamw *opt, const char *const *names, const char *path, char *progress,
                    size_t progress_cap, attx_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Images                                                                                      */
/*                                                                                             */
/* Files decode to 8-bit RGB exactly as PIL's Image.open(path).convert("RGB") gives them (what  */
/* Hugging Face's image pipelines feed ViTImageProcessor): alpha is dropped without compositing, */
/* palettes are expanded (their transparency ignored), gray is replicated to three channels.    */
/* The format comes from the first bytes, never from the file name:                            */
/*   PNG   (libpng) every colour type and bit depth, interlaced or not. 16-bit samples become   */
/*         their high byte (PIL's ";16B" raw modes), except 16-bit gray without alpha: PIL opens */
/*         that as mode "I" and convert("RGB") clips it, so a sample v becomes min(v, 255).      */
/*   JPEG  (libjpeg) baseline and progressive, gray and YCbCr/RGB, libjpeg's default (islow)    */
/*         IDCT and fancy upsampling, as PIL decodes it. CMYK/YCCK is refused. Any libjpeg       */
/*         warning (premature end of data, corrupt entropy data) is an error, except extraneous  */
/*         bytes between markers. EXIF orientation is read, not applied (see below).            */
/*   PPM (P6) and PGM (P5), binary, maxval 1..65535: maxval 255 is taken as it is; any other    */
/*         maxval M maps a sample v to min(255, round_half_even(v / M * 255)), except 16-bit     */
/*         PGM (M > 255), which PIL opens as mode "I" (v / M * 65535, rounded) and then clips to */
/*         255, as above.                                                                      */
/* Images over ATTX_IMAGE_MAX_SIDE pixels per side, or over the pixel limit, are refused from   */
/* their header, before any pixel data is decoded, so that a small file cannot make attx        */
/* allocate and decode gigabytes (a 783 KB PNG can hold 16384 x 16384 pixels). Errors name the  */
/* file. The pixel limit is ATTX_IMAGE_MAX_PIXELS unless the environment variable               */
/* ATTX_MAX_IMAGE_PIXELS (a whole number from 1 to ATTX_IMAGE_MAX_SIDE², read at each decode)   */
/* or attx_image_set_max_pixels (which wins over the environment) sets another. Decoding holds  */
/* 3 bytes per pixel for the result plus the decoder's own: a row for a non-interlaced PNG, a   */
/* whole image of 1-8 bytes per pixel for an interlaced one, about 2 bytes per pixel and        */
/* colour component for a progressive JPEG.                                                    */

#define ATTX_IMAGE_MAX_SIDE 16384
/* PIL's Image.MAX_IMAGE_PIXELS, above which PIL's Image.open warns of a decompression bomb:   */
/* 89.5 million pixels, e.g. 9459 x 9459, 268 MB as RGB.                                       */
#define ATTX_IMAGE_MAX_PIXELS ((uint64_t)89478485)

/* The pixel limit in force (*max_pixels). Errors: ATTX_MAX_IMAGE_PIXELS is set but is not a   */
/* whole number from 1 to ATTX_IMAGE_MAX_SIDE².                                                 */
int attx_image_max_pixels(uint64_t *max_pixels, attx_error *err);
/* Sets the pixel limit of every later decode, in every thread (0: back to the environment or  */
/* the default). Errors: more than ATTX_IMAGE_MAX_SIDE².                                       */
int attx_image_set_max_pixels(uint64_t max_pixels, attx_error *err);

typedef struct attx_image {
    int width, height;
    uint8_t *rgb;                 /* [height, width, 3] row-major, malloc'd */
    int orientation;              /* EXIF orientation 1..8 of a JPEG (APP1) or PNG (eXIf before
                                     the image data); 1 when absent or invalid. Not applied by
                                     decoding, as PIL's convert("RGB") does not apply it. */
} attx_image;

typedef enum attx_image_format {
    ATTX_IMAGE_UNKNOWN = 0,
    ATTX_IMAGE_PNG,
    ATTX_IMAGE_JPEG,
    ATTX_IMAGE_PNM                /* PPM P6 / PGM P5 (and the P1-P4 kinds, which are refused) */
} attx_image_format;

/* The format that the first bytes announce (size may be short: ATTX_IMAGE_UNKNOWN). */
attx_image_format attx_image_detect(const void *bytes, size_t size);

/* Decodes a file (attx_image_load) or bytes in memory (attx_image_decode; `name` is used in
 * messages). On success *img owns its pixels (attx_image_free); on failure *img is empty. */
int attx_image_load(attx_image *img, const char *path, attx_error *err);
int attx_image_decode(attx_image *img, const void *bytes, size_t size, const char *name,
                      attx_error *err);
void attx_image_free(attx_image *img);

/* Turns the pixels upright as PIL's ImageOps.exif_transpose does (HF's image pipelines call it
 * in load_image before the processor): 2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate
 * 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise; then orientation is 1. */
int attx_image_apply_orientation(attx_image *img, attx_error *err);

/* PIL's resampling filters, numbered as PIL numbers them (preprocessor_config.json "resample"). */
typedef enum attx_resample {
    ATTX_RESAMPLE_NEAREST = 0,
    ATTX_RESAMPLE_LANCZOS = 1,
    ATTX_RESAMPLE_BILINEAR = 2,
    ATTX_RESAMPLE_BICUBIC = 3,
    ATTX_RESAMPLE_BOX = 4,
    ATTX_RESAMPLE_HAMMING = 5
} attx_resample;

/* out = in.resize((width, height), filter) exactly as PIL computes it (checked against Debian's
 * Pillow 9.4 and the current Resample.c) for an
 * RGB image: separable, horizontal pass first, a pass skipped when its size does not change;
 * the filter support is scaled by in/out when downscaling (antialiasing); 22-bit fixed-point
 * weights, rounded and clipped to uint8 after each pass; NEAREST takes source pixel
 * floor((x + 0.5) · in/out) with PIL's accumulated double steps. out is allocated. */
int attx_image_resize(const attx_image *in, int width, int height, attx_resample filter,
                      attx_image *out, attx_error *err);

/* What HF ViTImageProcessor does after decoding: resize to pp's size (when do_resize), then
 * x · rescale_factor (in double, then float; when do_rescale), then (x − mean[c]) / std[c] in
 * float (when do_normalize). out: [3, height, width] channels first, one image of
 * attx_batch.pixels. height/width are what the model takes; it is an error when the
 * processed image has another size. */
int attx_image_preprocess(const attx_image *img, const attx_preprocessor *pp, int height,
                          int width, float *out, attx_error *err);

/* The last step alone: uint8 RGB [H, W, 3] to floats [3, H, W] by pp's rescale/normalize. */
void attx_image_normalize(const attx_image *img, const attx_preprocessor *pp, float *out);

/* Writes 8-bit RGB pixels as a PNG file (libpng; no time or text chunks, so the same pixels
 * give the same bytes). Errors name the file; a failed write leaves no file. */
int attx_image_save_png(const attx_image *img, const char *path, attx_error *err);

/* An image-folder data set: one sub-folder of dir per class, classes in sorted (byte) order of
 * their names, files in sorted order within each. A file counts as an image by its first bytes
 * (attx_image_detect: PNG, JPEG, PPM/PGM), whatever its name; other files are skipped and
 * counted. Names starting with "." are ignored, and so are plain files directly in dir.
 * Errors: dir missing or not a directory, no sub-folder, a class folder with no image. */
typedef struct attx_image_folder {
    int num_classes;
    char **classes;               /* [num_classes] sub-folder names, sorted */
    size_t n;
    char **paths;                 /* [n] dir/class/file, class by class */
    int32_t *labels;              /* [n] index into classes */
    size_t n_skipped;             /* files in class folders that are not images */
    char *first_skipped;          /* path of the first of them, or NULL */
} attx_image_folder;

int attx_image_folder_read(attx_image_folder *f, const char *dir, attx_error *err);
void attx_image_folder_free(attx_image_folder *f);

/* ---- the synthetic concept benchmark (`attx synth`) ----
 * Square RGB images drawn from (seed, kind, index) alone: the same arguments give the same
 * pixels, whatever else was drawn before. Lengths scale with size (in units of size/48 px).
 *   textures (the whole image, two random colours at least 120 apart, random orientation,
 *   scale and phase): striped (period 5-10), dotted (square lattice of dots, spacing 7-11,
 *   radius 0.2-0.32 of it), zigzagged (stripes offset by a triangle wave), chequered (cells 5-10);
 *   solid colours as P1's colour concepts: I = randint(60, 250), red (I,0,0), green (0,I,0),
 *   blue (0,0,I), yellow (I,I,0);
 *   random: blocky colour noise (a quarter of them) or 2-6 overlapping random shapes;
 *   classes: a silhouette (random position, size 1.15-1.4, rotation ±15°, left/right) filled
 *   with a texture in two colours, on a plain background at least 100 from both: dalmatian =
 *   dotted quadruped, zebra = striped quadruped; fish and snail are defined by their shape, and
 *   their texture is striped or dotted, half and half (so it says nothing about the class). */
typedef enum attx_synth_kind {
    ATTX_SYNTH_STRIPED, ATTX_SYNTH_DOTTED, ATTX_SYNTH_ZIGZAGGED, ATTX_SYNTH_CHEQUERED,
    ATTX_SYNTH_RED, ATTX_SYNTH_GREEN, ATTX_SYNTH_BLUE, ATTX_SYNTH_YELLOW,
    ATTX_SYNTH_RANDOM,
    ATTX_SYNTH_DALMATIAN, ATTX_SYNTH_FISH, ATTX_SYNTH_SNAIL, ATTX_SYNTH_ZEBRA,
    ATTX_SYNTH_KINDS
} attx_synth_kind;

/* "striped", ..., "zebra" (the folder names), or NULL for a kind out of range. */
const char *attx_synth_name(attx_synth_kind kind);
/* 1 for the classes of the classification set (dalmatian .. zebra), 0 for concepts. */
int attx_synth_is_class(attx_synth_kind kind);
/* Draws image number `index` of a kind into *img (allocated; attx_image_free). size 8..1024. */
int attx_synth_image(attx_image *img, attx_synth_kind kind, int size, uint64_t seed, uint64_t index,
                     attx_error *err);
/* Class image number `index` of klass (the same stream as attx_synth_image's) with its texture
 * replaced by `replacement` (striped .. chequered): the same silhouette, pose and colours. With the
 * class's own texture it is attx_synth_image's image. The ground truth of "does the texture
 * matter for this class": a zebra redrawn dotted is a dalmatian, a fish stays a fish. */
int attx_synth_counterfactual(attx_image *img, attx_synth_kind klass, attx_synth_kind replacement, int size,
                              uint64_t seed, uint64_t index, attx_error *err);

#ifdef __cplusplus
}
#endif

#endif /* ATTX_ENGINE_H */
