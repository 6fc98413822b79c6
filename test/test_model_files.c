/* test_model_files.c — HF config parsing, tensor-name mapping (legacy gamma/beta, missing
 * bert./vit. prefix), shape/dtype checks and the two on-disk model forms. */
#include "testutil.h"

#include "attx_engine.h"

static const char *TINY_BERT =
    "{\"model_type\": \"bert\", \"vocab_size\": 20, \"hidden_size\": 8, \"num_hidden_layers\": 2,"
    " \"num_attention_heads\": 2, \"intermediate_size\": 12, \"max_position_embeddings\": 10,"
    " \"type_vocab_size\": 2, \"layer_norm_eps\": 1e-12, \"id2label\": {\"1\": \"pos\", \"0\": \"neg\"}}";

static const char *TINY_VIT =
    "{\"model_type\": \"vit\", \"hidden_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": 2,"
    " \"intermediate_size\": 16, \"image_size\": 32, \"patch_size\": 8, \"num_channels\": 3,"
    " \"qkv_bias\": false, \"num_labels\": 3}";

/* ------------------------------------------------------------------------------------------ */
/* config.json                                                                                 */

static int parse(const char *json, attx_config *c, attx_error *err)
{
    return attx_config_parse(c, json, strlen(json), "config.json", err);
}

static void expect_config_error(const char *json, const char *phrase)
{
    attx_config c;
    attx_error err;
    if (parse(json, &c, &err) == 0) fail_msg("accepted %s", json);
    assert_contains(err.msg, "config.json: ");
    assert_contains(err.msg, phrase);
}

static void test_config_bert(void **state)
{
    (void)state;
    attx_config c;
    attx_error err;
    assert_int_equal(parse(TINY_BERT, &c, &err), 0);
    assert_int_equal(c.arch, ATTX_ARCH_BERT);
    assert_int_equal(c.hidden_size, 8);
    assert_int_equal(c.head_dim, 4);
    assert_int_equal(c.num_layers, 2);
    assert_int_equal(c.intermediate_size, 12);
    assert_true(c.layer_norm_eps == 1e-12f);
    assert_int_equal(c.num_labels, 2);
    assert_string_equal(c.labels[0], "neg");              /* id2label keys order the labels */
    assert_string_equal(c.labels[1], "pos");
    attx_config_free(&c);

    /* Hugging Face defaults for everything missing: bert-base-uncased */
    assert_int_equal(parse("{\"model_type\": \"bert\"}", &c, &err), 0);
    assert_int_equal(c.vocab_size, 30522);
    assert_int_equal(c.hidden_size, 768);
    assert_int_equal(c.num_layers, 12);
    assert_int_equal(c.num_heads, 12);
    assert_int_equal(c.intermediate_size, 3072);
    assert_int_equal(c.max_position_embeddings, 512);
    assert_int_equal(c.num_labels, 2);
    assert_string_equal(c.labels[1], "LABEL_1");
    attx_tensor_spec *specs;
    size_t n;
    assert_int_equal(attx_config_tensor_specs(&c, &specs, &n, &err), 0);
    assert_int_equal(n, 5 + 12 * 16 + 2 + 2);             /* 201 tensors in bert-base-cls */
    uint64_t params = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t k = 1;
        for (int d = 0; d < specs[i].ndim; d++) k *= specs[i].shape[d];
        params += k;
    }
    assert_int_equal(params, 109483778ull);               /* bert-base-uncased, 2 labels */
    free(specs);
    attx_config_free(&c);
}

static void test_config_vit_and_attn1(void **state)
{
    (void)state;
    attx_config c;
    attx_error err;
    assert_int_equal(parse("{\"model_type\": \"vit\", \"num_labels\": 1000}", &c, &err), 0);
    assert_int_equal(c.image_height, 224);
    assert_int_equal(c.patch_size, 16);
    assert_int_equal(c.qkv_bias, 1);
    attx_tensor_spec *specs;
    size_t n;
    assert_int_equal(attx_config_tensor_specs(&c, &specs, &n, &err), 0);
    assert_int_equal(n, 4 + 12 * 16 + 2 + 2);             /* 200 tensors in vit-base-patch16-224 */
    uint64_t params = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t k = 1;
        for (int d = 0; d < specs[i].ndim; d++) k *= specs[i].shape[d];
        params += k;
    }
    assert_int_equal(params, 86567656ull);
    free(specs);
    attx_config_free(&c);

    assert_int_equal(parse("{\"model_type\": \"vit\", \"image_size\": [48, 32], \"patch_size\": 16}", &c, &err), 0);
    assert_int_equal(c.image_height, 48);
    assert_int_equal(c.image_width, 32);
    attx_config_free(&c);

    assert_int_equal(parse("{\"model_type\": \"attx-attn1\", \"vocab_size\": 1000}", &c, &err), 0);
    assert_int_equal(c.arch, ATTX_ARCH_ATTN1);
    assert_int_equal(c.hidden_size, 128);                 /* P2's d_e, K, d_att, d_out, T */
    assert_int_equal(c.num_heads, 6);
    assert_int_equal(c.head_dim, 64);
    assert_int_equal(c.value_dim, 64);
    assert_int_equal(c.max_position_embeddings, 256);
    assert_int_equal(attx_config_tensor_specs(&c, &specs, &n, &err), 0);
    assert_int_equal(n, 5);
    assert_string_equal(specs[4].name, "attn1.classifier.weight");
    assert_int_equal(specs[4].shape[1], 6 * 64);
    free(specs);
    attx_config_free(&c);
}

static void test_config_errors(void **state)
{
    (void)state;
    expect_config_error("{\"model_type\": \"bert\",}", "invalid JSON at line 1");
    expect_config_error("[]", "not a JSON object");
    expect_config_error("{}", "no \"model_type\"");
    expect_config_error("{\"model_type\": \"gpt2\"}", "\"gpt2\" is not supported");
    expect_config_error("{\"model_type\": \"bert\", \"hidden_size\": 10, \"num_attention_heads\": 3}",
                        "not a multiple");
    expect_config_error("{\"model_type\": \"bert\", \"hidden_size\": -8}", "\"hidden_size\" is -8");
    expect_config_error("{\"model_type\": \"bert\", \"hidden_size\": 8.5}", "not an integer");
    expect_config_error("{\"model_type\": \"bert\", \"num_hidden_layers\": 99999999999}", "num_hidden_layers");
    expect_config_error("{\"model_type\": \"bert\", \"hidden_act\": \"relu\"}", "\"relu\"");
    expect_config_error("{\"model_type\": \"bert\", \"position_embedding_type\": \"relative_key\"}",
                        "relative_key");
    expect_config_error("{\"model_type\": \"bert\", \"layer_norm_eps\": \"small\"}", "not a number");
    expect_config_error("{\"model_type\": \"bert\", \"id2label\": {\"0\": \"a\", \"2\": \"b\"}}",
                        "not a class index");
    expect_config_error("{\"model_type\": \"bert\", \"id2label\": {\"0\": \"a\", \"00\": \"b\"}}",
                        "not a class index");
    expect_config_error("{\"model_type\": \"bert\", \"num_labels\": 3, \"id2label\": {\"0\": \"a\"}}",
                        "\"num_labels\" is 3");
    expect_config_error("{\"model_type\": \"bert\", \"id2label\": {\"0\": 5}}", "not a string");
    expect_config_error("{\"model_type\": \"bert\", \"pad_token_id\": 30522}", "outside the vocabulary");
    expect_config_error("{\"model_type\": \"vit\", \"image_size\": 8, \"patch_size\": 16}", "larger than");
    expect_config_error("{\"model_type\": \"vit\", \"qkv_bias\": 1}", "not true or false");
    expect_config_error("{\"model_type\": \"attx-attn1\"}", "\"vocab_size\" is missing");
}

/* ------------------------------------------------------------------------------------------ */
/* Model directories built by the test                                                          */

enum {
    LEGACY_LAYERNORM = 1,  /* LayerNorm.gamma / .beta on disk */
    NO_PREFIX = 2,         /* bare model names without bert./vit. */
    NO_HEAD = 4,           /* no classifier */
    NO_POOLER = 8,
    WITH_BUFFERS = 16,     /* position_ids I64 buffer and an unused pretraining tensor */
    AS_F16 = 32,
};

/* Writes DIR/model.safetensors holding every tensor of config_json (random values), renamed
 * and filtered by flags; `mutate` may change one entry (by index) before writing. */
static void write_model_dir(const char *dir, const char *config_json, int flags,
                            void (*mutate)(attx_st_entry *entries, size_t *n))
{
    attx_config c;
    attx_error err;
    assert_int_equal(parse(config_json, &c, &err), 0);
    attx_tensor_spec *specs;
    size_t n_specs;
    assert_int_equal(attx_config_tensor_specs(&c, &specs, &n_specs, &err), 0);
    attx_st_entry *e = calloc(n_specs + 3, sizeof *e);
    char (*names)[128] = calloc(n_specs + 3, sizeof *names);
    static float values[1 << 16];
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) values[i] = (float)((i * 7919) % 200) / 100.0f - 1.0f;
    static int64_t ids[16];
    size_t n = 0;
    for (size_t i = 0; i < n_specs; i++) {
        const attx_tensor_spec *s = &specs[i];
        if ((flags & NO_HEAD) && s->role == ATTX_ROLE_HEAD) continue;
        if ((flags & NO_POOLER) && s->role == ATTX_ROLE_POOLER) continue;
        char *name = names[n];
        const char *src = s->name;
        if ((flags & NO_PREFIX) && (strncmp(src, "bert.", 5) == 0 || strncmp(src, "vit.", 4) == 0))
            src = strchr(src, '.') + 1;
        snprintf(name, 128, "%s", src);
        size_t len = strlen(name);
        if ((flags & LEGACY_LAYERNORM) && strstr(name, "LayerNorm.weight") == name + len - 16)
            strcpy(name + len - 6, "gamma");
        if ((flags & LEGACY_LAYERNORM) && strstr(name, "LayerNorm.bias") == name + len - 14)
            strcpy(name + len - 4, "beta");
        e[n] = (attx_st_entry){.name = name, .dtype = (flags & AS_F16) ? ATTX_F16 : ATTX_F32,
                               .ndim = s->ndim, .f32 = values};
        memcpy(e[n].shape, s->shape, sizeof s->shape);
        n++;
    }
    if (flags & WITH_BUFFERS) {
        e[n++] = (attx_st_entry){.name = "bert.embeddings.position_ids", .dtype = ATTX_I64, .ndim = 2,
                                 .shape = {1, 16}, .raw = ids};
        e[n++] = (attx_st_entry){.name = "cls.predictions.bias", .dtype = ATTX_F32, .ndim = 1,
                                 .shape = {20}, .f32 = values};
    }
    if (mutate) mutate(e, &n);
    char *cfg = tu_path(dir, "config.json"), *weights = tu_path(dir, "model.safetensors");
    tu_write_str(cfg, config_json);
    assert_int_equal(attx_safetensors_write(weights, e, n, NULL, NULL, 0, &err), 0);
    free(cfg);
    free(weights);
    free(names);
    free(e);
    free(specs);
    attx_config_free(&c);
}

static void open_ok(const char *path, attx_model_files *m)
{
    attx_error err;
    if (attx_model_files_open(m, path, &err) != 0) fail_msg("%s", err.msg);
}

static void expect_open_error(const char *path, const char *phrase)
{
    attx_model_files m;
    attx_error err;
    if (attx_model_files_open(&m, path, &err) == 0) fail_msg("opened %s", path);
    assert_contains(err.msg, phrase);
}

static void test_bert_dir_forms(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    attx_model_files m;
    const char *w = "bert.encoder.layer.1.output.LayerNorm.weight";

    write_model_dir(dir, TINY_BERT, 0, NULL);
    open_ok(dir, &m);
    assert_true(m.has_head && m.has_pooler);
    assert_int_equal(m.n_ignored, 0);
    assert_non_null(attx_model_tensor(&m, w));
    assert_int_equal(attx_model_param_count(&m), 20 * 8 + 10 * 8 + 2 * 8 + 16 +
                     2 * (4 * (64 + 8) + 2 * 16 + 12 * 8 + 12 + 8 * 12 + 8) + 64 + 8 + 2 * 8 + 2);
    assert_int_equal(m.do_lower_case, 1);
    assert_null(m.vocab_text);
    assert_contains(m.config_source, "config.json");
    attx_model_files_close(&m);

    write_model_dir(dir, TINY_BERT, LEGACY_LAYERNORM | WITH_BUFFERS, NULL);
    open_ok(dir, &m);
    const attx_stored_tensor *t = attx_model_tensor(&m, w);
    assert_non_null(t);
    assert_string_equal(t->name, "bert.encoder.layer.1.output.LayerNorm.gamma");
    assert_int_equal(m.n_ignored, 2);                      /* position_ids, cls.predictions.bias */
    attx_model_files_close(&m);

    /* a bare BertModel: no bert. prefix, no classifier, no pooler, legacy names */
    write_model_dir(dir, TINY_BERT, NO_PREFIX | NO_HEAD | NO_POOLER | LEGACY_LAYERNORM | AS_F16, NULL);
    open_ok(dir, &m);
    assert_false(m.has_head);
    assert_false(m.has_pooler);
    t = attx_model_tensor(&m, "bert.embeddings.word_embeddings.weight");
    assert_non_null(t);
    assert_string_equal(t->name, "embeddings.word_embeddings.weight");
    assert_int_equal(t->dtype, ATTX_F16);
    attx_model_files_close(&m);

    /* a classifier needs the pooler */
    write_model_dir(dir, TINY_BERT, NO_POOLER, NULL);
    expect_open_error(dir, "needs bert.pooler.dense");
    tu_rmdir(dir);
}

static void drop_one(attx_st_entry *e, size_t *n) { e[7] = e[--*n]; }
static void reshape_one(attx_st_entry *e, size_t *n) { (void)n; e[6].shape[0] = 4; }
static void as_int(attx_st_entry *e, size_t *n)
{
    (void)n;
    static int32_t raw[64];
    e[6].dtype = ATTX_I32;
    e[6].f32 = NULL;
    e[6].raw = raw;
}
static void extra_layer(attx_st_entry *e, size_t *n)
{
    e[*n] = e[6];
    e[*n].name = "bert.encoder.layer.2.attention.self.query.bias";
    ++*n;
}
static void alias_twice(attx_st_entry *e, size_t *n)
{
    e[*n] = e[3];                                          /* embeddings LayerNorm.weight */
    e[*n].name = "bert.embeddings.LayerNorm.gamma";
    ++*n;
}
static void half_head(attx_st_entry *e, size_t *n) { (void)e; --*n; }   /* drop classifier.bias */

static void test_bert_dir_errors(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    write_model_dir(dir, TINY_BERT, 0, drop_one);
    expect_open_error(dir, "is missing");
    write_model_dir(dir, TINY_BERT, 0, reshape_one);
    expect_open_error(dir, "has shape [4] but the config");
    write_model_dir(dir, TINY_BERT, 0, as_int);
    expect_open_error(dir, "dtype I32");
    write_model_dir(dir, TINY_BERT, 0, extra_layer);
    expect_open_error(dir, "encoder layer the config does not have");
    write_model_dir(dir, TINY_BERT, 0, alias_twice);
    expect_open_error(dir, "are both 'bert.embeddings.LayerNorm.weight'");
    write_model_dir(dir, TINY_BERT, 0, half_head);
    expect_open_error(dir, "'classifier.bias' is missing");
    /* every message names the weights file */
    write_model_dir(dir, TINY_BERT, 0, reshape_one);
    expect_open_error(dir, "model.safetensors: tensor");

    /* wrong model kind: a ViT config over BERT weights */
    write_model_dir(dir, TINY_BERT, 0, NULL);
    char *cfg = tu_path(dir, "config.json");
    tu_write_str(cfg, TINY_VIT);
    expect_open_error(dir, "model.safetensors: tensor 'classifier.bias' has shape [2] but the config");
    tu_write_str(cfg, "{\"model_type\": \"bert\", \"hidden_size\": 8, \"num_attention_heads\": 2,");
    expect_open_error(dir, "config.json: invalid JSON");
    free(cfg);
    tu_rmdir(dir);
}

static void test_vit_dir(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    attx_model_files m;
    write_model_dir(dir, TINY_VIT, 0, NULL);
    open_ok(dir, &m);
    assert_true(m.has_head);
    const attx_stored_tensor *t = attx_model_tensor(&m, "vit.embeddings.position_embeddings");
    assert_non_null(t);
    assert_int_equal(t->shape[1], 17);                     /* 4x4 patches + [CLS] */
    assert_null(attx_model_tensor(&m, "vit.encoder.layer.0.attention.attention.query.bias"));
    attx_model_files_close(&m);
    write_model_dir(dir, TINY_VIT, NO_PREFIX | NO_HEAD, NULL);
    open_ok(dir, &m);
    assert_false(m.has_head);
    assert_non_null(attx_model_tensor(&m, "vit.layernorm.weight"));
    attx_model_files_close(&m);
    tu_rmdir(dir);
}

static void test_directory_pieces(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    expect_open_error(dir, "no model.safetensors or pytorch_model.bin");
    char *idx = tu_path(dir, "model.safetensors.index.json");
    tu_write_str(idx, "{}");
    expect_open_error(dir, "sharded");
    unlink(idx);
    free(idx);
    write_model_dir(dir, TINY_BERT, 0, NULL);
    char *cfg = tu_path(dir, "config.json");
    unlink(cfg);
    expect_open_error(dir, "no config.json");
    char *missing = tu_path(dir, "nope");
    expect_open_error(missing, "nope: No such file or directory");
    free(missing);

    /* vocab.txt and tokenizer_config.json are picked up */
    write_model_dir(dir, TINY_BERT, 0, NULL);
    char *vocab = tu_path(dir, "vocab.txt"), *tok = tu_path(dir, "tokenizer_config.json");
    tu_write_str(vocab, "[PAD]\n[UNK]\n");
    tu_write_str(tok, "{\"do_lower_case\": false, \"model_max_length\": 512}");
    attx_model_files m;
    open_ok(dir, &m);
    assert_int_equal(m.do_lower_case, 0);
    assert_string_equal(m.vocab_text, "[PAD]\n[UNK]\n");
    assert_contains(m.vocab_source, "vocab.txt");
    attx_model_files_close(&m);
    tu_write_str(tok, "{\"do_lower_case\": \"yes\"}");
    expect_open_error(dir, "tokenizer_config.json: \"do_lower_case\" is not true or false");

    /* the weights file alone: its directory supplies config.json */
    unlink(tok);
    char *weights = tu_path(dir, "model.safetensors");
    open_ok(weights, &m);
    assert_contains(m.config_source, "config.json");
    attx_model_files_close(&m);
    unlink(cfg);
    expect_open_error(weights, "no attx.config in its __metadata__ and no config.json beside it");
    free(weights);
    free(cfg);
    free(vocab);
    free(tok);
    tu_rmdir(dir);
}

/* One self-contained file: config, vocabulary and tokenizer settings in __metadata__. */
static void test_single_file(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *sub = tu_path(dir, "hf");
    assert_int_equal(mkdir(sub, 0755), 0);
    write_model_dir(sub, TINY_BERT, 0, NULL);
    attx_model_files hf;
    open_ok(sub, &hf);
    attx_st_entry *e = calloc(hf.n_specs, sizeof *e);
    size_t n = 0;
    for (size_t i = 0; i < hf.n_specs; i++) {
        if (!hf.by_spec[i]) continue;
        e[n] = (attx_st_entry){.name = hf.specs[i].name, .dtype = ATTX_BF16, .ndim = hf.by_spec[i]->ndim,
                               .stored = hf.by_spec[i]};
        memcpy(e[n].shape, hf.by_spec[i]->shape, sizeof e[n].shape);
        n++;
    }
    const char *keys[] = {"attx.config", "attx.vocab", "attx.tokenizer"};
    const char *vals[] = {TINY_BERT, "[PAD]\n[UNK]\nhello\n", "{\"do_lower_case\": false}"};
    char *file = tu_path(dir, "model.safetensors");
    attx_error err;
    assert_int_equal(attx_safetensors_write(file, e, n, keys, vals, 3, &err), 0);
    attx_model_files m;
    open_ok(file, &m);
    assert_true(m.has_head);
    assert_int_equal(m.do_lower_case, 0);
    assert_string_equal(m.vocab_text, vals[1]);
    assert_contains(m.config_source, "(__metadata__ attx.config)");
    assert_int_equal(attx_model_param_count(&m), attx_model_param_count(&hf));
    assert_int_equal(attx_model_tensor(&m, "classifier.weight")->dtype, ATTX_BF16);
    attx_model_files_close(&m);
    attx_model_files_close(&hf);
    free(e);
    free(file);
    free(sub);
    tu_rmdir(dir);
}

/* A misspelt tensor name in a layer the config has is an unknown tensor, named with its file;
 * only a layer past num_hidden_layers gets the layer-count message. */
static void misspell_query(attx_st_entry *e, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(e[i].name, "bert.encoder.layer.0.attention.self.query.weight") == 0)
            e[i].name = "bert.encoder.layer.0.attention.self.qeury.weight";
}
static void misspell_bare(attx_st_entry *e, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(e[i].name, "encoder.layer.1.output.dense.weight") == 0)
            e[i].name = "encoder.layer.1.output.dens.weight";
}
static void misspell_layer(attx_st_entry *e, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(e[i].name, "bert.encoder.layer.1.output.dense.bias") == 0)
            e[i].name = "bert.encoder.layer.one.output.dense.bias";
}

static void test_misspelt_tensor(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *file = tu_path(dir, "model.safetensors"), want[512];
    write_model_dir(dir, TINY_BERT, 0, misspell_query);
    snprintf(want, sizeof want, "%s: unknown tensor 'bert.encoder.layer.0.attention.self.qeury.weight'", file);
    expect_open_error(dir, want);
    write_model_dir(dir, TINY_BERT, NO_PREFIX | NO_HEAD | NO_POOLER, misspell_bare);
    expect_open_error(dir, "unknown tensor 'encoder.layer.1.output.dens.weight'");
    write_model_dir(dir, TINY_BERT, 0, misspell_layer);
    expect_open_error(dir, "unknown tensor 'bert.encoder.layer.one.output.dense.bias'");
    write_model_dir(dir, TINY_BERT, 0, extra_layer);   /* layer 2 of 2 */
    expect_open_error(dir, "belongs to an encoder layer the config does not have (num_hidden_layers 2)");
    write_model_dir(dir, TINY_VIT, 0, NULL);
    attx_model_files m;
    open_ok(dir, &m);
    attx_model_files_close(&m);
    free(file);
    tu_rmdir(dir);
}

/* Flips one character of a safetensors file's header: the `nth` occurrence (1-based) of `find`
 * after `after` has its byte at `offset` replaced by `to`. Writes the result to `out`. */
static void flip_header(const char *in, const char *out, const char *after, const char *find, int nth, int offset,
                        char to)
{
    size_t len;
    char *bytes = tu_read(in, &len);
    uint64_t header = 0;
    for (int i = 7; i >= 0; i--) header = header << 8 | (unsigned char)bytes[i];
    char last = bytes[8 + header - 1];
    bytes[8 + header - 1] = '\0';   /* for strstr; put back below */
    char *at = strstr(bytes + 8, after);
    assert_non_null(at);
    for (int i = 0; i < nth; i++) {
        at = strstr(at + 1, find);
        assert_non_null(at);
    }
    at[offset] = to;
    bytes[8 + header - 1] = last;
    tu_write(out, bytes, len);
    free(bytes);
}

/* The model's header metadata is checked: attx.checksum (FNV-1a 64 of the config, vocabulary
 * and settings, written by attx_model_save) catches a flipped bit in any of them; a file
 * without it (written before attx had it) must have one vocabulary token per embedding row,
 * so that a bit flip joining two lines ("\n" -> "\f" in the JSON string) is an error, not a
 * shifted tokenizer. More tokens than rows is an error; an HF vocab.txt may be shorter (its last
 * rows unused, as transformers allows). */
static void test_vocab_rows(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *saved = tu_path(dir, "tiny.safetensors"), *flipped = tu_path(dir, "flip.safetensors"),
         *old = tu_path(dir, "old.safetensors");
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, "test/fixtures/bert/tiny", &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(attx_wordpiece_vocab_size(attx_model_tokenizer(m)), 64);
    if (attx_model_save(m, saved, ATTX_F32, &err) != 0) fail_msg("%s", err.msg);
    attx_model_close(m);
    if (attx_model_open(&m, saved, &err) != 0) fail_msg("%s", err.msg);
    attx_model_close(m);
    char want[512];
    snprintf(want, sizeof want, "%s: the header's metadata (config, vocabulary, settings) does not match its "
             "checksum attx.checksum", flipped);
    /* the tenth "\n" of attx.vocab (after the special tokens) becomes "\f"; a label's letter */
    flip_header(saved, flipped, "\"attx.vocab\"", "\\n", 10, 1, 'f');
    assert_int_equal(attx_model_open(&m, flipped, &err), -1);
    assert_contains(err.msg, want);
    flip_header(saved, flipped, "\"attx.config\"", "negative", 1, 7, 'f');
    assert_int_equal(attx_model_open(&m, flipped, &err), -1);
    assert_contains(err.msg, want);

    /* the same file as attx wrote it before attx.checksum: the vocabulary's line count */
    attx_tensor_file f;
    if (attx_safetensors_open(&f, saved, &err) != 0) fail_msg("%s", err.msg);
    attx_st_entry *e = calloc(f.n_tensors, sizeof *e);
    for (size_t t = 0; t < f.n_tensors; t++) {
        e[t] = (attx_st_entry){.name = f.tensors[t].name, .dtype = ATTX_F32, .ndim = f.tensors[t].ndim,
                               .stored = &f.tensors[t]};
        memcpy(e[t].shape, f.tensors[t].shape, sizeof e[t].shape);
    }
    const char *keys[8], *vals[8];
    size_t n_meta = 0;
    for (size_t k = 0; k < f.n_meta; k++)
        if (strcmp(f.meta_keys[k], "attx.checksum") != 0)
            keys[n_meta] = f.meta_keys[k], vals[n_meta++] = f.meta_values[k];
    assert_int_equal(n_meta, f.n_meta - 1);
    if (attx_safetensors_write(old, e, f.n_tensors, keys, vals, n_meta, &err) != 0) fail_msg("%s", err.msg);
    free(e);
    attx_tensor_file_close(&f);
    if (attx_model_open(&m, old, &err) != 0) fail_msg("%s", err.msg);
    attx_model_close(m);
    flip_header(old, flipped, "\"attx.vocab\"", "\\n", 10, 1, 'f');
    assert_int_equal(attx_model_open(&m, flipped, &err), -1);
    snprintf(want, sizeof want, "%s (__metadata__ attx.vocab): 63 tokens but the word embeddings have 64 rows",
             flipped);
    assert_contains(err.msg, want);

    size_t len;
    char *bytes;
    /* an HF directory: vocab.txt one line longer is an error, one line shorter is not */
    const char *names[] = {"config.json", "model.safetensors"};
    for (int i = 0; i < 2; i++) {
        char *src = tu_path("test/fixtures/bert/tiny", names[i]), *dst = tu_path(dir, names[i]);
        bytes = tu_read(src, &len);
        tu_write(dst, bytes, len);
        free(bytes), free(src), free(dst);
    }
    char *vocab_txt = tu_path(dir, "vocab.txt");
    bytes = tu_read("test/fixtures/bert/tiny/vocab.txt", &len);
    char *longer = malloc(len + 16);
    memcpy(longer, bytes, len);
    memcpy(longer + len, "extratoken\n", 11);
    tu_write(vocab_txt, longer, len + 11);
    assert_int_equal(attx_model_open(&m, dir, &err), -1);
    snprintf(want, sizeof want, "%s: 65 tokens, more than the config's vocab_size 64", vocab_txt);
    assert_contains(err.msg, want);
    size_t cut = len - 1;
    while (bytes[cut - 1] != '\n') cut--;   /* drop the last line */
    tu_write(vocab_txt, bytes, cut);
    if (attx_model_open(&m, dir, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(attx_wordpiece_vocab_size(attx_model_tokenizer(m)), 63);
    attx_model_close(m);
    free(longer), free(bytes), free(vocab_txt), free(saved), free(flipped), free(old);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_bert),
        cmocka_unit_test(test_config_vit_and_attn1),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_bert_dir_forms),
        cmocka_unit_test(test_bert_dir_errors),
        cmocka_unit_test(test_vit_dir),
        cmocka_unit_test(test_directory_pieces),
        cmocka_unit_test(test_single_file),
        cmocka_unit_test(test_misspelt_tensor),
        cmocka_unit_test(test_vocab_rows),
    };
    return cmocka_run_group_tests_name("model_files", tests, NULL, NULL);
}
