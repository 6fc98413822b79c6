/* fuzz_config.c — model configurations: config.json text into attx_config (BERT, ViT, attn1),
 * the tensor list a config implies, attx_config_relabel (what `attx train` writes for a new
 * classification head) and, on the same text, preprocessor_config.json parsing.
 * (Configs inside a .safetensors file's __metadata__ go through fuzz_safetensors.)
 * Properties checked:
 *   - a parsed config is sane: sizes in range, every class named, specs listed, and nothing
 *     computed on loading is sized beyond 256 MB by the config alone (attn1's position table);
 *   - relabelling a parsed config gives a config that parses, with the new classes and the
 *     same architecture and sizes;
 *   - a parsed preprocessor config has positive sizes and standard deviations. */
#include "fuzz_util.h"

#include "attx_weights.h"

static void check_config(const attx_config *c)
{
    FUZZ_CHECK(c->arch == ATTX_ARCH_BERT || c->arch == ATTX_ARCH_VIT || c->arch == ATTX_ARCH_ATTN1);
    FUZZ_CHECK(c->hidden_size > 0 && c->num_layers > 0 && c->num_heads > 0 && c->head_dim > 0 &&
               c->value_dim > 0);
    if (c->arch != ATTX_ARCH_ATTN1) FUZZ_CHECK(c->head_dim * c->num_heads == c->hidden_size);
    if (c->arch != ATTX_ARCH_VIT) FUZZ_CHECK(c->pad_token_id >= 0 && c->pad_token_id < c->vocab_size);
    if (c->arch == ATTX_ARCH_VIT)
        FUZZ_CHECK(c->patch_size >= 1 && c->patch_size <= c->image_height && c->patch_size <= c->image_width);
    /* loading computes attn1's position table, T x d_e floats: at most 256 MB, whatever the config */
    if (c->arch == ATTX_ARCH_ATTN1) FUZZ_CHECK((int64_t)c->max_position_embeddings * c->hidden_size <= 1 << 26);
    FUZZ_CHECK(c->num_labels >= 1 && c->labels);
    for (int i = 0; i < c->num_labels; i++) FUZZ_CHECK(c->labels[i] != NULL);

    attx_tensor_spec *specs = NULL;
    size_t n = 0;
    attx_error err;
    FUZZ_CHECK(attx_config_tensor_specs(c, &specs, &n, &err) == 0 && n > 0);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(specs[i].ndim >= 1 && specs[i].ndim <= 4);
        FUZZ_CHECK(strlen(specs[i].name) + 1 < sizeof specs[i].name);   /* not truncated */
        for (int d = 0; d < specs[i].ndim; d++) FUZZ_CHECK(specs[i].shape[d] >= 1);
    }
    free(specs);
}

static void check_relabel(const char *json, const attx_config *c)
{
    static const char *const labels[] = {"cat", "dog", "fish"};
    attx_buf out = {0};
    attx_error err;
    if (attx_config_relabel(json, "fuzz", labels, 3, &out, &err) != 0) {
        fprintf(stderr, "a config that parses fails to relabel: %s\n", err.msg);
        abort();
    }
    attx_config r;
    if (attx_config_parse(&r, out.data, out.len, "relabelled", &err) != 0) {
        fprintf(stderr, "the relabelled config does not parse: %s\n%s\n", err.msg, out.data);
        abort();
    }
    FUZZ_CHECK(r.arch == c->arch && r.hidden_size == c->hidden_size && r.num_layers == c->num_layers &&
               r.num_heads == c->num_heads && r.vocab_size == c->vocab_size &&
               r.intermediate_size == c->intermediate_size && r.image_height == c->image_height &&
               r.image_width == c->image_width && r.patch_size == c->patch_size);
    FUZZ_CHECK(r.num_labels == 3);
    for (int i = 0; i < 3; i++) FUZZ_CHECK(strcmp(r.labels[i], labels[i]) == 0);
    attx_config_free(&r);
    attx_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* as model files hold it: a NUL-terminated text */
    char *json = malloc(size + 1);
    if (!json) return 0;
    memcpy(json, data, size);
    json[size] = '\0';
    size_t len = strlen(json);

    attx_config c;
    attx_error err;
    if (attx_config_parse(&c, json, len, "fuzz/config.json", &err) == 0) {
        check_config(&c);
        check_relabel(json, &c);
        attx_config_free(&c);
    } else {
        FUZZ_CHECK(strncmp(err.msg, "fuzz/config.json: ", 18) == 0);
    }

    attx_model_files m;
    if (attx_model_files_new(&m, "fuzz", json, "[UNK]\n", 6, &err) == 0) {
        FUZZ_CHECK(m.n_specs > 0 && m.by_spec && m.has_head);
        attx_model_files_close(&m);
    }

    attx_preprocessor pp;
    if (attx_preprocessor_parse(&pp, json, len, NULL, 32, 24, &err) == 0) {
        FUZZ_CHECK(pp.height >= 1 && pp.width >= 1 && pp.resample >= 0 && pp.resample <= 5);
        for (int k = 0; k < 3; k++) FUZZ_CHECK(pp.image_std[k] > 0);
        FUZZ_CHECK(pp.rescale_factor > 0);
    }
    free(json);
    return 0;
}
