/* attx_weights.h — the weights module's public API.
 *
 * Everything that reads or writes files that hold models lives here: errors and byte buffers
 * shared by every module, a strict JSON parser and a JSON writer, dtypes and their conversions,
 * safetensors and PyTorch `pytorch_model.bin` readers, a safetensors writer, HF config parsing,
 * tensor-name mapping and shape checks (attx_model_files).
 *
 * Conventions: functions that can fail return 0 on success and -1 on failure, and then fill
 * `attx_error` with a one-line message that names the file and the problem. Nothing here
 * prints or exits. Sizes are size_t/uint64_t and every size computation is overflow-checked.
 */
#ifndef ATTX_WEIGHTS_H
#define ATTX_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                      */

typedef struct attx_error {
    char msg[1024];
} attx_error;

/* printf-style; a NULL err is allowed and ignored. Always returns -1 so that callers can write
 * `return attx_fail(err, "...")`. */
int attx_fail(attx_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the message already in err with "prefix: " (e.g. the file name). Returns -1. */
int attx_fail_prefix(attx_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------------------------------------ */
/* FNV-1a, 64 bits: h = (h ^ byte) · 0x100000001b3 over bytes[0..n), starting from h
 * (ATTX_FNV1A64_SEED for a fresh hash; a previous result to continue). For hash tables and the
 * model files' checksum; not a defence against a deliberate forgery. */
#define ATTX_FNV1A64_SEED 0xcbf29ce484222325ull
uint64_t attx_fnv1a64(uint64_t h, const void *bytes, size_t n);

/* ------------------------------------------------------------------------------------------ */
/* Growable byte buffer (used by the JSON writer, the HTML writers, file readers).             */

typedef struct attx_buf {
    char *data;   /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    int failed;   /* set when an allocation failed; later appends are no-ops */
} attx_buf;

void attx_buf_append(attx_buf *b, const void *bytes, size_t n);
void attx_buf_puts(attx_buf *b, const char *s);
void attx_buf_printf(attx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s (NULL: nothing) with < > & " as HTML entities, for the HTML reports. */
void attx_buf_html(attx_buf *b, const char *s);
void attx_buf_free(attx_buf *b);

/* ------------------------------------------------------------------------------------------ */
/* Files                                                                                       */

/* Every function here that reads a file takes only a regular file: a directory, FIFO, device
 * or socket is refused with "PATH: is a FIFO (named pipe), not a regular file" (etc.) from
 * stat(), before anything is opened, so that nothing blocks. */

/* Reads a whole file (at most max_size bytes, else an error) into a NUL-terminated malloc'd
 * buffer. */
int attx_read_file(const char *path, size_t max_size, char **out, size_t *out_len, attx_error *err);

/* Reads the first bytes of a file (at most cap; *got says how many: fewer when the file is
 * shorter), e.g. to tell its format from its magic number. */
int attx_read_file_head(const char *path, void *buf, size_t cap, size_t *got, attx_error *err);

/* Read-only private mapping of a whole file. An empty file maps to (NULL, 0). */
int attx_map_file(const char *path, void **out, size_t *out_len, attx_error *err);
void attx_unmap_file(void *p, size_t len);

/* Writes bytes to path atomically (temporary file in the same directory, then rename). */
int attx_write_file(const char *path, const void *bytes, size_t n, attx_error *err);

/* The same for output produced piece by piece: open, write any number of times, then commit
 * (rename into place) or abort (remove the temporary file). A failed write is remembered and
 * reported by commit, which then leaves nothing behind. */
typedef struct attx_atomic_file {
    char *path;
    char *tmp_path;
    void *fp;            /* FILE* */
    int failed_errno;
} attx_atomic_file;

int attx_atomic_open(attx_atomic_file *af, const char *path, attx_error *err);
void attx_atomic_write(attx_atomic_file *af, const void *bytes, size_t n);
int attx_atomic_commit(attx_atomic_file *af, attx_error *err);
void attx_atomic_abort(attx_atomic_file *af);

/* Checked arithmetic: return 0 and store the result, or -1 on overflow. */
int attx_mul_u64(uint64_t a, uint64_t b, uint64_t *out);
int attx_add_u64(uint64_t a, uint64_t b, uint64_t *out);

/* UTF-8: returns the number of bytes of a valid encoding at s (1..4), or 0 if invalid
 * (overlong, surrogate, > U+10FFFF, truncated). */
int attx_utf8_decode(const char *s, size_t len, uint32_t *cp);
/* 1 if all n bytes are valid UTF-8; else 0 and *bad_offset = first bad byte. */
int attx_utf8_valid(const char *s, size_t n, size_t *bad_offset);

/* ------------------------------------------------------------------------------------------ */
/* JSON (RFC 8259), strict: UTF-8 validated, no trailing commas, no comments, no NaN, no       */
/* duplicate object keys, one top-level value surrounded by optional whitespace.               */

typedef enum attx_json_type {
    ATTX_JSON_NULL,
    ATTX_JSON_BOOL,
    ATTX_JSON_NUMBER,
    ATTX_JSON_STRING,
    ATTX_JSON_ARRAY,
    ATTX_JSON_OBJECT
} attx_json_type;

typedef struct attx_json_limits {
    size_t max_depth;   /* nesting of arrays/objects; default 256 */
    size_t max_bytes;   /* input size; default 1 GiB */
} attx_json_limits;

typedef struct attx_json_value attx_json_value;   /* opaque, owned by its document */
typedef struct attx_json_doc attx_json_doc;       /* opaque; owns every value */

/* Parses text[0..len). On error fills err with
 *   "invalid JSON at line L, column C: <what>"   (L, C 1-based; C counts bytes)
 * and returns -1; callers prefix the file name. limits may be NULL (defaults). */
int attx_json_parse(const char *text, size_t len, const attx_json_limits *limits,
                    attx_json_doc **out, attx_error *err);
void attx_json_free(attx_json_doc *doc);
const attx_json_value *attx_json_root(const attx_json_doc *doc);

attx_json_type attx_json_kind(const attx_json_value *v);
/* Byte offset of the value's first character in the parsed text. */
size_t attx_json_offset(const attx_json_value *v);
/* Number of items (array), members (object) or bytes (string); 0 otherwise. */
size_t attx_json_len(const attx_json_value *v);
/* Array item i, or NULL. */
const attx_json_value *attx_json_item(const attx_json_value *v, size_t i);
/* Object member i in document order: its key (NUL-terminated, length in *key_len if non-NULL)
 * and value. NULL if v is not an object or i is out of range. */
const char *attx_json_key(const attx_json_value *v, size_t i, size_t *key_len);
const attx_json_value *attx_json_member(const attx_json_value *v, size_t i);
/* Object member by key (exact byte comparison), or NULL. */
const attx_json_value *attx_json_get(const attx_json_value *v, const char *key);
/* The decoded string (NUL-terminated; may contain embedded NULs from \u0000), or NULL. */
const char *attx_json_str(const attx_json_value *v, size_t *len);
/* Number as written in the text (e.g. "1e-12"), or NULL. */
const char *attx_json_number_text(const attx_json_value *v, size_t *len);
/* Conversions return 0 on success, -1 if v has another type or the value does not fit:
 * u64/i64 accept only integer literals (no fraction, no exponent) within range;
 * double accepts any number (finite result required). */
int attx_json_u64(const attx_json_value *v, uint64_t *out);
int attx_json_i64(const attx_json_value *v, int64_t *out);
int attx_json_double(const attx_json_value *v, double *out);
int attx_json_bool(const attx_json_value *v, int *out);

/* Streaming writer. Every `--json` output goes through it. Output is valid UTF-8 JSON: invalid
 * UTF-8 in strings becomes U+FFFD, control characters are escaped, non-finite numbers become
 * null. Errors (mismatched begin/end, a value where a key is due) set w->failed. */
#define ATTX_JSON_WRITER_MAX_DEPTH 64
typedef struct attx_json_writer {
    attx_buf *out;
    int pretty;                                   /* 0: compact; 1: 2-space indentation */
    int depth;
    unsigned char state[ATTX_JSON_WRITER_MAX_DEPTH]; /* per level: container kind + has-items */
    int after_key;
    int failed;
} attx_json_writer;

void attx_jw_init(attx_json_writer *w, attx_buf *out, int pretty);
void attx_jw_object_begin(attx_json_writer *w);
void attx_jw_object_end(attx_json_writer *w);
void attx_jw_array_begin(attx_json_writer *w);
void attx_jw_array_end(attx_json_writer *w);
void attx_jw_key(attx_json_writer *w, const char *key);
/* A key of n bytes (it may hold NULs, written as \u0000). */
void attx_jw_key_n(attx_json_writer *w, const char *key, size_t n);
void attx_jw_string(attx_json_writer *w, const char *s);
void attx_jw_string_n(attx_json_writer *w, const char *s, size_t n);
void attx_jw_int(attx_json_writer *w, int64_t v);
void attx_jw_uint(attx_json_writer *w, uint64_t v);
void attx_jw_double(attx_json_writer *w, double v);   /* shortest text that round-trips a double */
void attx_jw_float(attx_json_writer *w, float v);     /* shortest text that round-trips a float */
void attx_jw_bool(attx_json_writer *w, int v);
void attx_jw_null(attx_json_writer *w);
/* Appends already-serialised JSON as one value (caller guarantees validity). */
void attx_jw_raw(attx_json_writer *w, const char *json);
/* A parsed value written out again (numbers as their literal text; keys whole, NULs too). */
void attx_jw_value(attx_json_writer *w, const attx_json_value *v);
/* Appends one JSON string with escapes to b (no writer state). */
void attx_json_escape(attx_buf *b, const char *s, size_t n);

/* ------------------------------------------------------------------------------------------ */
/* Dtypes                                                                                      */

typedef enum attx_dtype {
    ATTX_DTYPE_INVALID = 0,
    ATTX_BOOL, ATTX_F4, ATTX_F6_E2M3, ATTX_F6_E3M2, ATTX_U8, ATTX_I8,
    ATTX_F8_E5M2, ATTX_F8_E4M3, ATTX_F8_E8M0, ATTX_F8_E4M3FNUZ, ATTX_F8_E5M2FNUZ,
    ATTX_I16, ATTX_U16, ATTX_F16, ATTX_BF16, ATTX_I32, ATTX_U32, ATTX_F32,
    ATTX_C64, ATTX_F64, ATTX_I64, ATTX_U64,
    ATTX_DTYPE_COUNT
} attx_dtype;

/* "F32", "BF16", ... (safetensors spelling) or ATTX_DTYPE_INVALID. */
attx_dtype attx_dtype_from_name(const char *name, size_t len);
const char *attx_dtype_name(attx_dtype t);
/* Bits per element (4, 6, 8, 16, 32, 64); 0 for INVALID. */
unsigned attx_dtype_bits(attx_dtype t);
/* 1 for the dtypes attx computes from: F32, F16, BF16. */
int attx_dtype_is_float_weight(attx_dtype t);

/* Instruction sets of the numeric kernels (cpu.c). attx_cpu_isa: the best one the CPU supports
 * (avx2 and avx512 include FMA and F16C), or a lower one named by the environment variable
 * ATTX_ISA=portable|avx2|avx512, read once; a name above what the CPU supports gives the best
 * supported one. attx_cpu_isa_env_valid: 0 when ATTX_ISA is set to another name (ignored). */
enum { ATTX_ISA_AUTO = -1, ATTX_ISA_PORTABLE = 0, ATTX_ISA_AVX2 = 1, ATTX_ISA_AVX512 = 2 };
int attx_cpu_isa(void);
int attx_cpu_isa_env_valid(void);
const char *attx_isa_name(int isa);   /* "portable", "avx2", "avx512" */
/* 1 when attx_cpu_isa() is avx512 and the CPU has AVX512_VNNI (the int8 kernels' vpdpbusd) */
int attx_cpu_has_vnni(void);
/* 1 when attx_cpu_isa() is avx512 and the CPU has AVX512_BF16 (the bf16 kernels' vdpbf16ps) */
int attx_cpu_has_bf16(void);
/* 1 when attx_cpu_isa() is avx512, the CPU has AMX-TILE and AMX-INT8 (the int8 kernels' tile
 * multiply, tdpbusd), the OS saves the tile state and (Linux) grants this process its use,
 * which the first call asks for. */
int attx_cpu_has_amx_int8(void);

/* IEEE binary16 / bfloat16 <-> binary32. To-half conversions round to nearest, ties to even,
 * overflow to infinity, keep NaN a (quiet) NaN with its sign. */
float attx_f16_to_f32(uint16_t h);
uint16_t attx_f32_to_f16(float f);
float attx_bf16_to_f32(uint16_t h);
uint16_t attx_f32_to_bf16(float f);
/* n little-endian F16 or BF16 values at src (any alignment) to float, the same bits as the
 * scalar conversions; F16 with the CPU's conversion instruction (F16C) when attx_cpu_isa allows. */
void attx_f16_to_f32_array(const unsigned char *src, size_t n, float *dst);
void attx_bf16_to_f32_array(const unsigned char *src, size_t n, float *dst);

/* ------------------------------------------------------------------------------------------ */
/* Tensor files: safetensors and PyTorch zip checkpoints, read into one representation.        */

#define ATTX_MAX_DIMS 8

typedef struct attx_stored_tensor {
    char *name;
    attx_dtype dtype;
    int ndim;
    uint64_t shape[ATTX_MAX_DIMS];
    uint64_t numel;
    const unsigned char *data;   /* contiguous row-major little-endian bytes; may be unaligned */
    uint64_t nbytes;
} attx_stored_tensor;

typedef enum attx_tensor_format {
    ATTX_FORMAT_SAFETENSORS = 1,
    ATTX_FORMAT_TORCH_ZIP = 2
} attx_tensor_format;

typedef struct attx_tensor_file {
    char *path;                       /* as given; used in messages */
    attx_tensor_format format;
    attx_stored_tensor *tensors;      /* safetensors: in header order; torch: in state-dict order */
    size_t n_tensors;
    char **meta_keys;                 /* safetensors __metadata__, in header order */
    char **meta_values;
    size_t n_meta;
    /* private */
    size_t *by_name;                  /* indices sorted by name, for attx_tensor_file_find */
    void *map;
    size_t map_size;
    void *owned;                      /* bytes the reader had to copy (e.g. strided torch tensors) */
} attx_tensor_file;

/* Opens (mmaps) a safetensors file and validates it completely:
 * header length vs file size and 100 MB, UTF-8 + JSON, schema, known dtype, shape x dtype
 * size with overflow checks, offsets in bounds, contiguous after sorting (no gaps, overlaps,
 * aliasing), no bytes after the last tensor, string-only __metadata__, no duplicate names. */
int attx_safetensors_open(attx_tensor_file *f, const char *path, attx_error *err);
/* The same checks on bytes already in memory (not copied: they must outlive f). `name` is
 * used in messages. */
int attx_safetensors_parse(attx_tensor_file *f, const void *bytes, size_t size,
                           const char *name, attx_error *err);

/* Opens a PyTorch checkpoint written by torch.save (zip container of stored entries,
 * data.pkl pickle of a state dict of tensors). Only that subset is parsed, with limits. */
int attx_torchbin_open(attx_tensor_file *f, const char *path, attx_error *err);
int attx_torchbin_parse(attx_tensor_file *f, const void *bytes, size_t size,
                        const char *name, attx_error *err);

void attx_tensor_file_close(attx_tensor_file *f);
const attx_stored_tensor *attx_tensor_file_find(const attx_tensor_file *f, const char *name);
const char *attx_tensor_file_meta(const attx_tensor_file *f, const char *key);

/* Writes a shape as "[768, 3072]" into buf (truncated to cap). Returns buf. */
char *attx_format_shape(char *buf, size_t cap, const uint64_t *shape, int ndim);

/* Converts an F32/F16/BF16 tensor to float (numel values). Other dtypes: -1 with a message
 * naming the tensor and its dtype. */
int attx_stored_tensor_to_f32(const attx_stored_tensor *t, float *out, attx_error *err);

/* One tensor to write. Exactly one source is set:
 *   f32     float values, converted to dtype (F32, F16 or BF16);
 *   stored  a tensor read from a file, F32/F16/BF16, converted to dtype (F32, F16 or BF16)
 *           chunk by chunk (its shape must have the same number of elements);
 *   raw     bytes written as they are (their size must match dtype x shape). */
typedef struct attx_st_entry {
    const char *name;
    attx_dtype dtype;
    int ndim;
    uint64_t shape[ATTX_MAX_DIMS];
    const float *f32;
    const attx_stored_tensor *stored;
    const void *raw;
} attx_st_entry;

/* Writes a safetensors file the way the reference writer does: tensors sorted by descending
 * dtype alignment then name, header padded with spaces to a multiple of 8. Metadata may be
 * empty (n_meta 0). Written atomically. */
int attx_safetensors_write(const char *path, const attx_st_entry *entries, size_t n,
                           const char *const *meta_keys, const char *const *meta_values,
                           size_t n_meta, attx_error *err);
/* The same into memory (tests). */
int attx_safetensors_serialize(attx_buf *out, const attx_st_entry *entries, size_t n,
                               const char *const *meta_keys, const char *const *meta_values,
                               size_t n_meta, attx_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Model configuration (HF config.json for BERT and ViT; attx's own attn1)                     */

typedef enum attx_arch {
    ATTX_ARCH_BERT = 1,      /* BertForSequenceClassification, or a bare BertModel */
    ATTX_ARCH_VIT = 2,       /* ViTForImageClassification, or a bare ViTModel */
    ATTX_ARCH_ATTN1 = 3      /* one-layer [CLS]-query attention classifier (Lopardo et al. 2024) */
} attx_arch;

typedef struct attx_config {
    attx_arch arch;
    char model_type[32];          /* "bert", "vit", "attx-attn1" */
    int hidden_size;              /* d_model (attn1: d_e, the embedding size) */
    int num_layers;
    int num_heads;
    int head_dim;                 /* query/key size per head (hidden_size / num_heads, attn1: d_att) */
    int value_dim;                /* value size per head (attn1: d_out; else head_dim) */
    int intermediate_size;        /* feed-forward width (BERT, ViT) */
    float layer_norm_eps;
    char hidden_act[24];          /* "gelu" = exact erf GELU */
    float hidden_dropout;         /* hidden_dropout_prob (training only) */
    float attention_dropout;      /* attention_probs_dropout_prob (training only) */
    float initializer_range;      /* std of the random initialisation of a new model */
    /* text models */
    int vocab_size;
    int max_position_embeddings;  /* BERT: learned positions; attn1: T, the fixed input length */
    int type_vocab_size;
    int pad_token_id;
    /* image models */
    int image_height, image_width;
    int patch_size;
    int num_channels;
    int qkv_bias;
    /* classes: id2label in index order (num_labels names, malloc'd) */
    int num_labels;
    char **labels;
} attx_config;

/* Parses config JSON text. `source` names it in messages ("DIR/config.json"). Unknown keys are
 * ignored, missing ones take Hugging Face's defaults, and every size is checked for sense. */
int attx_config_parse(attx_config *cfg, const char *json, size_t len, const char *source,
                      attx_error *err);
void attx_config_free(attx_config *cfg);
/* Writes "id2label" {"0": labels[0], ...} and "label2id" {labels[0]: 0, ...} as members of the
 * object being written. */
void attx_config_write_labels(attx_json_writer *w, const char *const *labels, int n_labels);
/* The config text `json` for a new classification head: its classes replaced by `labels`
 * (id2label, label2id; num_labels dropped) and "architectures" made BERT's or ViT's
 * classification model; every other key kept. Appends to *out. */
int attx_config_relabel(const char *json, const char *source, const char *const *labels, int n_labels,
                        attx_buf *out, attx_error *err);
const char *attx_arch_name(attx_arch arch);

/* Expected tensors of a configuration: canonical (HF) names with their shapes. */
typedef enum attx_tensor_role {
    ATTX_ROLE_BODY = 0,      /* always required */
    ATTX_ROLE_POOLER = 1,    /* BERT pooler: required with a classifier, optional otherwise */
    ATTX_ROLE_HEAD = 2       /* classifier: present (a classification model) or absent (bare) */
} attx_tensor_role;

typedef struct attx_tensor_spec {
    char name[96];
    int ndim;
    uint64_t shape[4];
    attx_tensor_role role;
} attx_tensor_spec;

/* malloc'd list in the order a forward pass uses them. */
int attx_config_tensor_specs(const attx_config *cfg, attx_tensor_spec **specs, size_t *n,
                             attx_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Models on disk                                                                               */
/*                                                                                             */
/* MODEL is either a Hugging Face directory (config.json, model.safetensors or                  */
/* pytorch_model.bin, vocab.txt, tokenizer_config.json, preprocessor_config.json as they exist) */
/* or one .safetensors file whose __metadata__ holds attx.config, attx.vocab,                   */
/* attx.tokenizer and attx.preprocessor. Opening validates every tensor against the config.     */

/* How a sentence-transformers model makes one vector of a text: the Transformer's inputs
 * truncated to max_seq_length tokens ([CLS] and [SEP] included; 0: the model's positions), the
 * last hidden states pooled over the real tokens by every mode set in `pooling` (concatenated in
 * the order of the enum, as sentence-transformers' Pooling module does), then L2-normalised when
 * `normalize` (its Normalize module). lower_case: sentence-transformers lower-cases the text
 * before the tokenizer (sentence_bert_config.json "do_lower_case"). */
enum {
    ATTX_POOL_CLS = 1,             /* the [CLS] token's state */
    ATTX_POOL_MAX = 2,             /* element-wise max over the real tokens */
    ATTX_POOL_MEAN = 4,            /* mean over the real tokens */
    ATTX_POOL_MEAN_SQRT_LEN = 8,   /* sum over the real tokens / sqrt(their count) */
    ATTX_POOL_WEIGHTED_MEAN = 16,  /* tokens weighted by position 1, 2, ... (SGPT's weighted mean) */
    ATTX_POOL_LAST_TOKEN = 32      /* the last real token's state */
};

typedef struct attx_sentence_config {
    int max_seq_length;
    unsigned pooling;              /* ATTX_POOL_* bits */
    int normalize;
    int lower_case;
} attx_sentence_config;

/* Mean pooling, no truncation beyond the model's, no normalisation: what a model without
 * sentence-transformers files gets. */
void attx_sentence_config_default(attx_sentence_config *sc);
/* Reads DIR/modules.json, the Transformer's sentence_bert_config.json and the Pooling module's
 * config.json. *found is 0 (and *sc the default) when the directory has no modules.json.
 * Errors: malformed files, modules attx does not run (Dense, ...), no Pooling module. */
int attx_sentence_config_read_dir(attx_sentence_config *sc, const char *dir, int *found, attx_error *err);
/* attx's own form, the "attx.sentence" metadata of a model file:
 * {"max_seq_length":256,"pooling":"mean","normalize":true,"lower_case":false}. */
int attx_sentence_config_parse(attx_sentence_config *sc, const char *json, size_t len, const char *source,
                               attx_error *err);
void attx_sentence_config_write(const attx_sentence_config *sc, attx_buf *out);
/* Pooling names: "cls", "max", "mean", "mean-sqrt-len", "weighted-mean", "last-token".
 * attx_pooling_parse reads a comma-separated list (-1: an unknown name or an empty list);
 * attx_pooling_name joins the modes with "+" (-1: cap too small); attx_pooling_count counts them. */
int attx_pooling_parse(const char *list, unsigned *pooling);
int attx_pooling_name(unsigned pooling, char *out, size_t cap);
int attx_pooling_count(unsigned pooling);

typedef struct attx_model_files {
    char *path;                   /* as given */
    attx_config config;
    int has_head;                 /* classifier present */
    int has_pooler;               /* BERT pooler present */
    char *config_json;            /* texts (NUL-terminated, malloc'd) or NULL when absent */
    char *vocab_text;
    size_t vocab_len;
    char *tokenizer_json;         /* tokenizer_config.json */
    char *preprocessor_json;      /* preprocessor_config.json */
    int do_lower_case;            /* from tokenizer_config.json; default 1 */
    int has_sentence;             /* sentence-transformers settings found (files or metadata) */
    attx_sentence_config sentence;/* those settings, or the default */
    /* where each piece came from, for `attx info` (e.g. "DIR/vocab.txt",
     * "FILE __metadata__ attx.vocab"); NULL when absent */
    char *config_source, *vocab_source, *tokenizer_source, *preprocessor_source, *weights_source,
        *sentence_source;
    attx_tensor_file weights;
    /* canonical name -> stored tensor, in attx_config_tensor_specs order (NULL if absent) */
    attx_tensor_spec *specs;
    const attx_stored_tensor **by_spec;
    /* for an int8 weight (an encoder layer's linear weight stored as I8, as `attx convert
     * --dtype int8` writes it): its per-output-channel scales "<name>_scale" (F32 [out]);
     * NULL otherwise. The weight is q · scale[row]. */
    const attx_stored_tensor **scale_by_spec;
    size_t n_specs;
    /* stored tensors that the model does not use (pretraining heads, position_ids buffers) */
    const char **ignored;
    size_t n_ignored;
} attx_model_files;

int attx_model_files_open(attx_model_files *m, const char *path, attx_error *err);
/* The description of a model that has no file yet (one attx is about to train): the config
 * and vocabulary texts as given, every tensor of the config expected (classifier included),
 * none stored. `name` stands for the model in messages. */
int attx_model_files_new(attx_model_files *m, const char *name, const char *config_json,
                         const char *vocab_text, size_t vocab_len, attx_error *err);
void attx_model_files_close(attx_model_files *m);
/* The stored tensor behind a canonical HF name, or NULL. */
const attx_stored_tensor *attx_model_tensor(const attx_model_files *m, const char *name);
/* The __metadata__ of a self-contained model file (format, attx.config, attx.vocab,
 * attx.tokenizer, attx.preprocessor, attx.sentence, those the model has, and attx.checksum,
 * their FNV-1a 64, which attx_model_files_open checks when a file has it) into keys/values
 * (room for ATTX_MODEL_META_MAX); scratch holds texts made here until the write is done.
 * Returns the count. */
#define ATTX_MODEL_META_MAX 7
size_t attx_model_files_metadata(const attx_model_files *m, const char **keys, const char **values, attx_buf *scratch);
/* Total parameters of the tensors the model uses. */
uint64_t attx_model_param_count(const attx_model_files *m);

/* ------------------------------------------------------------------------------------------ */
/* Labelled text data sets (TSV without quoting, CSV with RFC 4180 quoting)                     */

/* Which columns to read. format: "auto" (AG News' "label,title,description" header, else TSV
 * when the first line has a tab or the name ends in .tsv, else CSV; both with a header),
 * "tsv", "csv", "sst2", "imdb" (TSV with a header), "agnews" (its test.csv: text = title +
 * " " + description, labels 1-4 made 0-3), "agnews-train" (Hugging Face form, no header:
 * text,label). text_cols: column names joined by "+" (numbers from 0 without a header);
 * NULL: the first of sentence, text, content, review. label_col: NULL = "label".
 * label_base is subtracted from every label. A NULL spec means all defaults. */
typedef struct attx_dataset_spec {
    const char *format;
    const char *text_cols;
    const char *label_col;
    int label_base;
} attx_dataset_spec;

typedef struct attx_dataset {
    size_t n, cap;
    char **texts;                 /* [n] NUL-terminated UTF-8 */
    int32_t *labels;              /* [n] class numbers from 0 */
    int num_labels;               /* largest label + 1 */
    size_t n_skipped;             /* records that could not be used */
    size_t first_skipped_line;    /* 1-based line of the first of them */
    char first_skip_reason[96];
} attx_dataset;

/* Reads every usable record; skipped ones are counted, not fatal. Errors: missing or unreadable
 * file, unknown format, a header without the named columns, no usable record at all. */
int attx_dataset_read(attx_dataset *ds, const char *path, const attx_dataset_spec *spec,
                      attx_error *err);
void attx_dataset_free(attx_dataset *ds);

/* ------------------------------------------------------------------------------------------ */
/* Image preprocessing settings (HF preprocessor_config.json of ViTImageProcessor)              */

typedef struct attx_preprocessor {
    int do_resize;                /* default 1 */
    int height, width;            /* "size": {"height","width"}, a square int, or [h, w] */
    int resample;                 /* PIL filter number (attx_resample); default 2 = bilinear */
    int do_rescale;               /* default 1 */
    double rescale_factor;        /* default 1/255 */
    int do_normalize;             /* default 1 */
    double image_mean[3];         /* default 0.5, 0.5, 0.5 */
    double image_std[3];          /* default 0.5, 0.5, 0.5 */
    int do_convert_rgb;           /* read and kept; images are always decoded to RGB */
} attx_preprocessor;

/* ViTImageProcessor's defaults with the given size (≤ 0: 224 x 224). */
void attx_preprocessor_defaults(attx_preprocessor *pp, int height, int width);

/* Parses preprocessor_config.json text (json NULL: no file, all defaults). Keys that are absent
 * or null keep ViTImageProcessor's defaults, except "size", which falls back to
 * default_height x default_width (the model's image_size; ≤ 0: 224). Unsupported settings
 * ("shortest_edge"/"longest_edge" sizes, do_center_crop true, unknown resample numbers) are
 * errors; `source` names the text in messages. Other keys are ignored. */
int attx_preprocessor_parse(attx_preprocessor *pp, const char *json, size_t len,
                            const char *source, int default_height, int default_width,
                            attx_error *err);

#ifdef __cplusplus
}
#endif

#endif /* ATTX_WEIGHTS_H */
