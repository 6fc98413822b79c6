/* config.c — model configurations: HF config.json for BERT and ViT, attx's own attn1, and the
 * list of tensors (canonical HF names and shapes) each configuration needs. */
#include "attx_weights.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds that catch corrupt configs before any allocation is sized from them. */
enum {
    MAX_HIDDEN = 1 << 16, MAX_LAYERS = 1024, MAX_HEADS = 1024, MAX_VOCAB = 1 << 24,
    MAX_POSITIONS = 1 << 20, MAX_LABELS = 1 << 20, MAX_IMAGE_SIDE = 16384,
    /* attn1's position table, T x d_e floats, is computed on loading, not stored: without this
     * bound a 3 KB file could ask for gigabytes and minutes (2^26 floats = 256 MB, attx train's
     * largest: --max-len 8192 x --hidden 8192) */
    MAX_ATTN1_TABLE = 1 << 26
};

const char *attx_arch_name(attx_arch arch)
{
    switch (arch) {
    case ATTX_ARCH_BERT: return "bert";
    case ATTX_ARCH_VIT: return "vit";
    case ATTX_ARCH_ATTN1: return "attn1";
    }
    return "unknown";
}

/* Reads an optional integer key into *out (keeping the default when absent). */
static int get_int(const attx_json_value *root, const char *key, int lo, int hi, int *out,
                   attx_error *err)
{
    const attx_json_value *v = attx_json_get(root, key);
    if (!v || attx_json_kind(v) == ATTX_JSON_NULL) return 0;
    int64_t x;
    if (attx_json_i64(v, &x) != 0) return attx_fail(err, "\"%s\" is not an integer", key);
    if (x < lo || x > hi)
        return attx_fail(err, "\"%s\" is %lld, expected %d..%d", key, (long long)x, lo, hi);
    *out = (int)x;
    return 0;
}

static int get_float(const attx_json_value *root, const char *key, double lo, double hi, float *out,
                     attx_error *err)
{
    const attx_json_value *v = attx_json_get(root, key);
    if (!v || attx_json_kind(v) == ATTX_JSON_NULL) return 0;
    double x;
    if (attx_json_double(v, &x) != 0) return attx_fail(err, "\"%s\" is not a number", key);
    if (!(x >= lo && x <= hi)) return attx_fail(err, "\"%s\" is %g, expected %g..%g", key, x, lo, hi);
    *out = (float)x;
    return 0;
}

static int get_bool(const attx_json_value *root, const char *key, int *out, attx_error *err)
{
    const attx_json_value *v = attx_json_get(root, key);
    if (!v || attx_json_kind(v) == ATTX_JSON_NULL) return 0;
    if (attx_json_bool(v, out) != 0) return attx_fail(err, "\"%s\" is not true or false", key);
    return 0;
}

static int get_string(const attx_json_value *root, const char *key, char *out, size_t cap,
                      attx_error *err)
{
    const attx_json_value *v = attx_json_get(root, key);
    if (!v || attx_json_kind(v) == ATTX_JSON_NULL) return 0;
    size_t len;
    const char *s = attx_json_str(v, &len);
    if (!s) return attx_fail(err, "\"%s\" is not a string", key);
    if (len >= cap || memchr(s, '\0', len)) return attx_fail(err, "\"%s\" is not a valid name", key);
    memcpy(out, s, len + 1);
    return 0;
}

/* id2label {"0": "negative", "1": "positive"} -> labels in index order. Falls back to
 * num_labels (default 2) names LABEL_i, as HF does. */
static int parse_labels(attx_config *cfg, const attx_json_value *root, attx_error *err)
{
    int num_labels = 2;
    if (get_int(root, "num_labels", 1, MAX_LABELS, &num_labels, err) != 0) return -1;
    const attx_json_value *id2label = attx_json_get(root, "id2label");
    if (id2label && attx_json_kind(id2label) != ATTX_JSON_NULL) {
        if (attx_json_kind(id2label) != ATTX_JSON_OBJECT) return attx_fail(err, "\"id2label\" is not an object");
        size_t n = attx_json_len(id2label);
        if (n == 0 || n > MAX_LABELS) return attx_fail(err, "\"id2label\" has %zu entries", n);
        if (attx_json_get(root, "num_labels") && (size_t)num_labels != n)
            return attx_fail(err, "\"num_labels\" is %d but \"id2label\" has %zu entries", num_labels, n);
        num_labels = (int)n;
    }
    cfg->labels = calloc((size_t)num_labels, sizeof *cfg->labels);
    if (!cfg->labels) return attx_fail(err, "out of memory");
    cfg->num_labels = num_labels;
    for (size_t i = 0; id2label && attx_json_kind(id2label) == ATTX_JSON_OBJECT &&
                       i < attx_json_len(id2label); i++) {
        size_t klen, vlen;
        const char *key = attx_json_key(id2label, i, &klen);
        const char *name = attx_json_str(attx_json_member(id2label, i), &vlen);
        char *end;
        long idx = strtol(key, &end, 10);
        if (klen == 0 || *end != '\0' || idx < 0 || idx >= num_labels || (key[0] == '0' && klen > 1))
            return attx_fail(err, "\"id2label\" key \"%s\" is not a class index 0..%d", key, num_labels - 1);
        if (!name || memchr(name, '\0', vlen))
            return attx_fail(err, "\"id2label\" entry \"%s\" is not a string", key);
        if (cfg->labels[idx]) return attx_fail(err, "\"id2label\" names class %ld twice", idx);
        if (!(cfg->labels[idx] = strdup(name))) return attx_fail(err, "out of memory");
    }
    for (int i = 0; i < num_labels; i++) {
        if (cfg->labels[i]) continue;
        char name[32];
        snprintf(name, sizeof name, "LABEL_%d", i);
        if (!(cfg->labels[i] = strdup(name))) return attx_fail(err, "out of memory");
    }
    return 0;
}

/* Keys shared by BERT and ViT configs, with Hugging Face's defaults. */
static int parse_encoder(attx_config *c, const attx_json_value *root, attx_error *err)
{
    c->hidden_size = 768;
    c->num_layers = 12;
    c->num_heads = 12;
    c->intermediate_size = 3072;
    c->layer_norm_eps = 1e-12f;
    c->hidden_dropout = 0.1f;
    c->attention_dropout = 0.1f;
    c->initializer_range = 0.02f;
    strcpy(c->hidden_act, "gelu");
    if (get_int(root, "hidden_size", 1, MAX_HIDDEN, &c->hidden_size, err) ||
        get_int(root, "num_hidden_layers", 1, MAX_LAYERS, &c->num_layers, err) ||
        get_int(root, "num_attention_heads", 1, MAX_HEADS, &c->num_heads, err) ||
        get_int(root, "intermediate_size", 1, 16 * MAX_HIDDEN, &c->intermediate_size, err) ||
        get_float(root, "layer_norm_eps", 0.0, 1.0, &c->layer_norm_eps, err) ||
        get_float(root, "hidden_dropout_prob", 0.0, 1.0, &c->hidden_dropout, err) ||
        get_float(root, "attention_probs_dropout_prob", 0.0, 1.0, &c->attention_dropout, err) ||
        get_float(root, "initializer_range", 0.0, 10.0, &c->initializer_range, err) ||
        get_string(root, "hidden_act", c->hidden_act, sizeof c->hidden_act, err))
        return -1;
    if (c->hidden_size % c->num_heads != 0)
        return attx_fail(err, "\"hidden_size\" %d is not a multiple of \"num_attention_heads\" %d",
                         c->hidden_size, c->num_heads);
    c->head_dim = c->value_dim = c->hidden_size / c->num_heads;
    if (strcmp(c->hidden_act, "gelu") != 0)
        return attx_fail(err, "\"hidden_act\" is \"%s\"; attx implements \"gelu\" (exact erf)", c->hidden_act);
    return 0;
}

static int parse_bert(attx_config *c, const attx_json_value *root, attx_error *err)
{
    if (parse_encoder(c, root, err) != 0) return -1;
    c->vocab_size = 30522;
    c->max_position_embeddings = 512;
    c->type_vocab_size = 2;
    c->pad_token_id = 0;
    char position_type[32] = "absolute";
    if (get_int(root, "vocab_size", 1, MAX_VOCAB, &c->vocab_size, err) ||
        get_int(root, "max_position_embeddings", 1, MAX_POSITIONS, &c->max_position_embeddings, err) ||
        get_int(root, "type_vocab_size", 1, 1024, &c->type_vocab_size, err) ||
        get_int(root, "pad_token_id", 0, MAX_VOCAB, &c->pad_token_id, err) ||
        get_string(root, "position_embedding_type", position_type, sizeof position_type, err))
        return -1;
    if (strcmp(position_type, "absolute") != 0)
        return attx_fail(err, "\"position_embedding_type\" is \"%s\"; attx implements \"absolute\"",
                         position_type);
    if (c->pad_token_id >= c->vocab_size)
        return attx_fail(err, "\"pad_token_id\" %d is outside the vocabulary (%d)", c->pad_token_id,
                         c->vocab_size);
    return 0;
}

static int parse_vit(attx_config *c, const attx_json_value *root, attx_error *err)
{
    if (parse_encoder(c, root, err) != 0) return -1;
    int side = 224;
    c->patch_size = 16;
    c->num_channels = 3;
    c->qkv_bias = 1;
    const attx_json_value *size = attx_json_get(root, "image_size");
    if (size && attx_json_kind(size) == ATTX_JSON_ARRAY) {     /* [height, width] */
        int64_t h, w;
        if (attx_json_len(size) != 2 || attx_json_i64(attx_json_item(size, 0), &h) ||
            attx_json_i64(attx_json_item(size, 1), &w) || h < 1 || w < 1 || h > MAX_IMAGE_SIDE ||
            w > MAX_IMAGE_SIDE)
            return attx_fail(err, "\"image_size\" must be an integer or [height, width]");
        c->image_height = (int)h;
        c->image_width = (int)w;
    } else {
        if (get_int(root, "image_size", 1, MAX_IMAGE_SIDE, &side, err) != 0) return -1;
        c->image_height = c->image_width = side;
    }
    if (get_int(root, "patch_size", 1, MAX_IMAGE_SIDE, &c->patch_size, err) ||
        get_int(root, "num_channels", 1, 64, &c->num_channels, err) ||
        get_bool(root, "qkv_bias", &c->qkv_bias, err))
        return -1;
    if (c->patch_size > c->image_height || c->patch_size > c->image_width)
        return attx_fail(err, "\"patch_size\" %d is larger than the image (%dx%d)", c->patch_size,
                         c->image_height, c->image_width);
    return 0;
}

/* attn1: {"model_type": "attx-attn1", "vocab_size", "hidden_size" (d_e), "num_attention_heads"
 * (K), "attention_head_size" (d_att), "value_head_size" (d_out), "max_position_embeddings"
 * (T, [CLS] included), "pad_token_id" (UNK)}. One layer, no biases, no LayerNorm. */
static int parse_attn1(attx_config *c, const attx_json_value *root, attx_error *err)
{
    c->num_layers = 1;
    c->hidden_size = 128;
    c->num_heads = 6;
    c->head_dim = 64;
    c->value_dim = 64;
    c->max_position_embeddings = 256;
    c->pad_token_id = 1;
    c->vocab_size = 0;
    strcpy(c->hidden_act, "none");
    if (get_int(root, "vocab_size", 2, MAX_VOCAB, &c->vocab_size, err) ||
        get_int(root, "hidden_size", 2, MAX_HIDDEN, &c->hidden_size, err) ||
        get_int(root, "num_attention_heads", 1, MAX_HEADS, &c->num_heads, err) ||
        get_int(root, "attention_head_size", 1, MAX_HIDDEN, &c->head_dim, err) ||
        get_int(root, "value_head_size", 1, MAX_HIDDEN, &c->value_dim, err) ||
        get_int(root, "max_position_embeddings", 2, MAX_POSITIONS, &c->max_position_embeddings, err) ||
        get_int(root, "pad_token_id", 0, MAX_VOCAB, &c->pad_token_id, err))
        return -1;
    if (c->vocab_size == 0) return attx_fail(err, "\"vocab_size\" is missing");
    if (c->hidden_size % 2 != 0)
        return attx_fail(err, "\"hidden_size\" %d must be even (interleaved sinusoidal positions)",
                         c->hidden_size);
    if ((int64_t)c->max_position_embeddings * c->hidden_size > MAX_ATTN1_TABLE)
        return attx_fail(err, "\"max_position_embeddings\" %d x \"hidden_size\" %d is over %d: the position "
                         "table attn1 computes would take %lld MB", c->max_position_embeddings, c->hidden_size,
                         MAX_ATTN1_TABLE, (long long)c->max_position_embeddings * c->hidden_size * 4 >> 20);
    if (c->pad_token_id >= c->vocab_size)
        return attx_fail(err, "\"pad_token_id\" %d is outside the vocabulary (%d)", c->pad_token_id,
                         c->vocab_size);
    return 0;
}

static int parse_config_root(attx_config *cfg, const attx_json_value *root, attx_error *err)
{
    if (attx_json_kind(root) != ATTX_JSON_OBJECT) return attx_fail(err, "not a JSON object");
    if (get_string(root, "model_type", cfg->model_type, sizeof cfg->model_type, err) != 0) return -1;
    if (cfg->model_type[0] == '\0') return attx_fail(err, "no \"model_type\"");
    int rc;
    if (strcmp(cfg->model_type, "bert") == 0) {
        cfg->arch = ATTX_ARCH_BERT;
        rc = parse_bert(cfg, root, err);
    } else if (strcmp(cfg->model_type, "vit") == 0) {
        cfg->arch = ATTX_ARCH_VIT;
        rc = parse_vit(cfg, root, err);
    } else if (strcmp(cfg->model_type, "attx-attn1") == 0) {
        cfg->arch = ATTX_ARCH_ATTN1;
        rc = parse_attn1(cfg, root, err);
    } else {
        return attx_fail(err, "model_type \"%s\" is not supported (attx runs \"bert\", \"vit\" and "
                         "\"attx-attn1\")", cfg->model_type);
    }
    if (rc != 0) return -1;
    return parse_labels(cfg, root, err);
}

int attx_config_parse(attx_config *cfg, const char *json, size_t len, const char *source,
                      attx_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    attx_json_doc *doc = NULL;
    if (attx_json_parse(json, len, NULL, &doc, err) != 0) return attx_fail_prefix(err, "%s", source);
    int rc = parse_config_root(cfg, attx_json_root(doc), err);
    attx_json_free(doc);
    if (rc != 0) {
        attx_config_free(cfg);
        return attx_fail_prefix(err, "%s", source);
    }
    return 0;
}

void attx_config_free(attx_config *cfg)
{
    for (int i = 0; cfg->labels && i < cfg->num_labels; i++) free(cfg->labels[i]);
    free(cfg->labels);
    memset(cfg, 0, sizeof *cfg);
}

void attx_config_write_labels(attx_json_writer *w, const char *const *labels, int n_labels)
{
    char key[16];
    attx_jw_key(w, "id2label");
    attx_jw_object_begin(w);
    for (int k = 0; k < n_labels; k++) {
        snprintf(key, sizeof key, "%d", k);
        attx_jw_key(w, key);
        attx_jw_string(w, labels[k]);
    }
    attx_jw_object_end(w);
    attx_jw_key(w, "label2id");
    attx_jw_object_begin(w);
    for (int k = 0; k < n_labels; k++) {
        attx_jw_key(w, labels[k]);
        attx_jw_int(w, k);
    }
    attx_jw_object_end(w);
}

int attx_config_relabel(const char *json, const char *source, const char *const *labels, int n_labels,
                        attx_buf *out, attx_error *err)
{
    if (n_labels < 1 || n_labels > MAX_LABELS) return attx_fail(err, "%s: %d classes", source, n_labels);
    attx_config cfg;
    if (attx_config_parse(&cfg, json, strlen(json), source, err) != 0) return -1;
    const char *head = cfg.arch == ATTX_ARCH_BERT  ? "BertForSequenceClassification"
                       : cfg.arch == ATTX_ARCH_VIT ? "ViTForImageClassification"
                                                   : NULL;
    attx_config_free(&cfg);
    attx_json_doc *doc;
    if (attx_json_parse(json, strlen(json), NULL, &doc, err) != 0) return attx_fail_prefix(err, "%s", source);
    const attx_json_value *root = attx_json_root(doc);
    attx_json_writer w;
    attx_jw_init(&w, out, 1);
    attx_jw_object_begin(&w);
    if (head) {
        attx_jw_key(&w, "architectures");
        attx_jw_array_begin(&w);
        attx_jw_string(&w, head);
        attx_jw_array_end(&w);
    }
    /* every other key as it was (compared and written with their length: a key may hold a NUL) */
    static const char *const replaced[] = {"architectures", "id2label", "label2id", "num_labels"};
    for (size_t i = 0; i < attx_json_len(root); i++) {
        size_t klen;
        const char *key = attx_json_key(root, i, &klen);
        int skip = 0;
        for (size_t k = 0; k < sizeof replaced / sizeof replaced[0]; k++)
            skip |= klen == strlen(replaced[k]) && memcmp(key, replaced[k], klen) == 0;
        if (skip) continue;
        attx_jw_key_n(&w, key, klen);
        attx_jw_value(&w, attx_json_member(root, i));
    }
    attx_config_write_labels(&w, labels, n_labels);
    attx_jw_object_end(&w);
    attx_json_free(doc);
    if (out->failed) return attx_fail(err, "%s: out of memory", source);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Expected tensors                                                                             */

typedef struct spec_list {
    attx_tensor_spec *items;
    size_t n, cap;
    int failed;
} spec_list;

__attribute__((format(printf, 8, 9)))
static void add_spec(spec_list *l, attx_tensor_role role, int ndim, uint64_t d0, uint64_t d1,
                     uint64_t d2, uint64_t d3, const char *fmt, ...)
{
    if (l->failed) return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        attx_tensor_spec *p = realloc(l->items, cap * sizeof *p);
        if (!p) { l->failed = 1; return; }
        l->items = p;
        l->cap = cap;
    }
    attx_tensor_spec *s = &l->items[l->n++];
    memset(s, 0, sizeof *s);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->name, sizeof s->name, fmt, ap);
    va_end(ap);
    s->ndim = ndim;
    s->shape[0] = d0; s->shape[1] = d1; s->shape[2] = d2; s->shape[3] = d3;
    s->role = role;
}

#define VEC(role, n, ...) add_spec(l, role, 1, n, 0, 0, 0, __VA_ARGS__)
#define MAT(role, r, c, ...) add_spec(l, role, 2, r, c, 0, 0, __VA_ARGS__)

/* A linear layer stored HF-style: weight [out, in], bias [out]. */
static void add_linear(spec_list *l, attx_tensor_role role, uint64_t out, uint64_t in, int bias,
                       const char *prefix, int layer, const char *name)
{
    if (layer >= 0) {
        MAT(role, out, in, "%s%d.%s.weight", prefix, layer, name);
        if (bias) VEC(role, out, "%s%d.%s.bias", prefix, layer, name);
    } else {
        MAT(role, out, in, "%s%s.weight", prefix, name);
        if (bias) VEC(role, out, "%s%s.bias", prefix, name);
    }
}

static void add_layernorm(spec_list *l, uint64_t d, const char *prefix, int layer, const char *name)
{
    if (layer >= 0) {
        VEC(ATTX_ROLE_BODY, d, "%s%d.%s.weight", prefix, layer, name);
        VEC(ATTX_ROLE_BODY, d, "%s%d.%s.bias", prefix, layer, name);
    } else {
        VEC(ATTX_ROLE_BODY, d, "%s%s.weight", prefix, name);
        VEC(ATTX_ROLE_BODY, d, "%s%s.bias", prefix, name);
    }
}

static void bert_specs(spec_list *l, const attx_config *c)
{
    uint64_t H = (uint64_t)c->hidden_size, F = (uint64_t)c->intermediate_size;
    MAT(ATTX_ROLE_BODY, (uint64_t)c->vocab_size, H, "bert.embeddings.word_embeddings.weight");
    MAT(ATTX_ROLE_BODY, (uint64_t)c->max_position_embeddings, H, "bert.embeddings.position_embeddings.weight");
    MAT(ATTX_ROLE_BODY, (uint64_t)c->type_vocab_size, H, "bert.embeddings.token_type_embeddings.weight");
    add_layernorm(l, H, "bert.embeddings.", -1, "LayerNorm");
    const char *p = "bert.encoder.layer.";
    for (int i = 0; i < c->num_layers; i++) {
        add_linear(l, ATTX_ROLE_BODY, H, H, 1, p, i, "attention.self.query");
        add_linear(l, ATTX_ROLE_BODY, H, H, 1, p, i, "attention.self.key");
        add_linear(l, ATTX_ROLE_BODY, H, H, 1, p, i, "attention.self.value");
        add_linear(l, ATTX_ROLE_BODY, H, H, 1, p, i, "attention.output.dense");
        add_layernorm(l, H, p, i, "attention.output.LayerNorm");
        add_linear(l, ATTX_ROLE_BODY, F, H, 1, p, i, "intermediate.dense");
        add_linear(l, ATTX_ROLE_BODY, H, F, 1, p, i, "output.dense");
        add_layernorm(l, H, p, i, "output.LayerNorm");
    }
    add_linear(l, ATTX_ROLE_POOLER, H, H, 1, "bert.", -1, "pooler.dense");
    add_linear(l, ATTX_ROLE_HEAD, (uint64_t)c->num_labels, H, 1, "", -1, "classifier");
}

static void vit_specs(spec_list *l, const attx_config *c)
{
    uint64_t H = (uint64_t)c->hidden_size, F = (uint64_t)c->intermediate_size;
    uint64_t P = (uint64_t)c->patch_size;
    uint64_t n_patches = (uint64_t)(c->image_height / c->patch_size) * (uint64_t)(c->image_width / c->patch_size);
    add_spec(l, ATTX_ROLE_BODY, 3, 1, 1, H, 0, "vit.embeddings.cls_token");
    add_spec(l, ATTX_ROLE_BODY, 3, 1, n_patches + 1, H, 0, "vit.embeddings.position_embeddings");
    add_spec(l, ATTX_ROLE_BODY, 4, H, (uint64_t)c->num_channels, P, P,
             "vit.embeddings.patch_embeddings.projection.weight");
    VEC(ATTX_ROLE_BODY, H, "vit.embeddings.patch_embeddings.projection.bias");
    const char *p = "vit.encoder.layer.";
    for (int i = 0; i < c->num_layers; i++) {
        add_layernorm(l, H, p, i, "layernorm_before");
        add_linear(l, ATTX_ROLE_BODY, H, H, c->qkv_bias, p, i, "attention.attention.query");
        add_linear(l, ATTX_ROLE_BODY, H, H, c->qkv_bias, p, i, "attention.attention.key");
        add_linear(l, ATTX_ROLE_BODY, H, H, c->qkv_bias, p, i, "attention.attention.value");
        add_linear(l, ATTX_ROLE_BODY, H, H, 1, p, i, "attention.output.dense");
        add_layernorm(l, H, p, i, "layernorm_after");
        add_linear(l, ATTX_ROLE_BODY, F, H, 1, p, i, "intermediate.dense");
        add_linear(l, ATTX_ROLE_BODY, H, F, 1, p, i, "output.dense");
    }
    add_layernorm(l, H, "vit.", -1, "layernorm");
    add_linear(l, ATTX_ROLE_HEAD, (uint64_t)c->num_labels, H, 1, "", -1, "classifier");
}

/* attn1: per-head projections stacked along the output axis (head i owns rows
 * [i*d, (i+1)*d)); the classifier's columns are grouped by head the same way, so that
 * f(x) = (1/K) * W_cls [v~_1; ...; v~_K]. */
static void attn1_specs(spec_list *l, const attx_config *c)
{
    uint64_t D = (uint64_t)c->hidden_size, K = (uint64_t)c->num_heads;
    MAT(ATTX_ROLE_BODY, (uint64_t)c->vocab_size, D, "attn1.word_embeddings.weight");
    MAT(ATTX_ROLE_BODY, K * (uint64_t)c->head_dim, D, "attn1.query.weight");
    MAT(ATTX_ROLE_BODY, K * (uint64_t)c->head_dim, D, "attn1.key.weight");
    MAT(ATTX_ROLE_BODY, K * (uint64_t)c->value_dim, D, "attn1.value.weight");
    MAT(ATTX_ROLE_HEAD, (uint64_t)c->num_labels, K * (uint64_t)c->value_dim, "attn1.classifier.weight");
}

int attx_config_tensor_specs(const attx_config *cfg, attx_tensor_spec **specs, size_t *n,
                             attx_error *err)
{
    spec_list list = {0};
    switch (cfg->arch) {
    case ATTX_ARCH_BERT: bert_specs(&list, cfg); break;
    case ATTX_ARCH_VIT: vit_specs(&list, cfg); break;
    case ATTX_ARCH_ATTN1: attn1_specs(&list, cfg); break;
    }
    if (list.failed || list.n == 0) {
        free(list.items);
        return attx_fail(err, "out of memory listing tensors");
    }
    *specs = list.items;
    *n = list.n;
    return 0;
}
