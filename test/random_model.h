/* random_model.h — random BERT-base- and ViT-B/16-sized classifiers written as Hugging Face
 * directories, for the real-size test and the benchmarks (header-only, included once per
 * program). */
#ifndef ATTX_RANDOM_MODEL_H
#define ATTX_RANDOM_MODEL_H

#include "testutil.h"

#include <math.h>

#define BERT_VOCAB "../shared/data/bert-vocab/vocab.txt"

/* one seeded stream of normal draws for every random model of a program */
static uint64_t rng = 0x853C49E6748FEA9Bull;
static inline float normal(float sd)   /* Box-Muller on a xorshift generator */
{
    double u[2];
    for (int i = 0; i < 2; i++) u[i] = ((tu_random(&rng) >> 11) + 0.5) / 9007199254740992.0;
    return sd * (float)(sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]));
}

/* config.json and model.safetensors (F32) in dir for the model config_json describes: every
 * tensor N(0, 0.02) (BERT's and ViT's initialisation; LayerNorm weights 1 + N(0, 0.02)),
 * except a wide classifier N(0, 1), so that the top logits are far enough apart for the top
 * class to survive BF16 rounding. */
static inline void write_random_model(const char *dir, const char *config_json)
{
    attx_config c;
    attx_error err;
    assert_int_equal(attx_config_parse(&c, config_json, strlen(config_json), "config.json", &err), 0);
    attx_tensor_spec *specs;
    size_t n;
    assert_int_equal(attx_config_tensor_specs(&c, &specs, &n, &err), 0);
    attx_st_entry *e = calloc(n, sizeof *e);
    float **values = calloc(n, sizeof *values);
    for (size_t i = 0; i < n; i++) {
        uint64_t numel = 1;
        for (int d = 0; d < specs[i].ndim; d++) numel *= specs[i].shape[d];
        values[i] = malloc(numel * sizeof(float));
        const char *name = specs[i].name;
        size_t len = strlen(name);
        int is_norm_weight = strstr(name, "LayerNorm.weight") != NULL ||
                             (strstr(name, "layernorm") && len > 7 && strcmp(name + len - 7, ".weight") == 0);
        float sd = strncmp(name, "classifier", 10) == 0 ? 1.0f : 0.02f;
        for (uint64_t k = 0; k < numel; k++) values[i][k] = (is_norm_weight ? 1.0f : 0.0f) + normal(sd);
        e[i] = (attx_st_entry){.name = specs[i].name, .dtype = ATTX_F32, .ndim = specs[i].ndim, .f32 = values[i]};
        memcpy(e[i].shape, specs[i].shape, sizeof specs[i].shape);
    }
    char *cfg = tu_path(dir, "config.json"), *weights = tu_path(dir, "model.safetensors");
    tu_write_str(cfg, config_json);
    assert_int_equal(attx_safetensors_write(weights, e, n, NULL, NULL, 0, &err), 0);
    for (size_t i = 0; i < n; i++) free(values[i]);
    free(values);
    free(e);
    free(specs);
    free(cfg);
    free(weights);
    attx_config_free(&c);
}

/* config.json + model.safetensors + vocab.txt (copied from vocab_path) in dir: a random
 * BERT-base-sized classifier, 12 layers, hidden 768, 12 heads, FFN 3072, vocabulary 30,522,
 * 512 positions, 2 labels. */
static inline void write_bert_base(const char *dir, const char *vocab_path)
{
    write_random_model(dir,
        "{\"model_type\": \"bert\", \"vocab_size\": 30522, \"hidden_size\": 768, \"num_hidden_layers\": 12,"
        " \"num_attention_heads\": 12, \"intermediate_size\": 3072, \"max_position_embeddings\": 512,"
        " \"id2label\": {\"0\": \"negative\", \"1\": \"positive\"}}");
    char *vocab = tu_path(dir, "vocab.txt");
    size_t len;
    char *v = tu_read(vocab_path, &len);
    tu_write(vocab, v, len);
    free(v);
    free(vocab);
}

/* config.json + model.safetensors of a random ViT-B/16-sized classifier: 224x224 images,
 * 16x16 patches (197 tokens), 12 layers, hidden 768, 12 heads, FFN 3072, 1000 labels
 * (LABEL_0 ... LABEL_999, as HF names classes without id2label). */
static inline void write_vit_base(const char *dir)
{
    write_random_model(dir,
        "{\"model_type\": \"vit\", \"architectures\": [\"ViTForImageClassification\"], \"image_size\": 224,"
        " \"patch_size\": 16, \"num_channels\": 3, \"hidden_size\": 768, \"num_hidden_layers\": 12,"
        " \"num_attention_heads\": 12, \"intermediate_size\": 3072, \"qkv_bias\": true,"
        " \"layer_norm_eps\": 1e-12, \"hidden_act\": \"gelu\", \"num_labels\": 1000}");
}

#endif
