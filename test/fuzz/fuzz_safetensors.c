/* fuzz_safetensors.c — safetensors headers, and the texts a model file made by attx carries in
 * its __metadata__.
 *
 * The input is a whole .safetensors file, parsed in memory (attx_safetensors_parse). When that
 * succeeds:
 *   - every tensor lies inside the input, its byte size matches dtype x shape, it is found by
 *     name, and F32/F16/BF16 tensors convert to float;
 *   - the tensors and metadata written again (attx_safetensors_serialize) parse to the same
 *     names, dtypes, shapes, bytes and metadata;
 *   - the metadata texts of a model file made by `attx convert` or `attx train` are parsed as
 *     they would be on loading: attx.config (attx_config_parse, then the tensor list),
 *     attx.preprocessor, attx.tokenizer (JSON) and attx.vocab (WordPiece and attn1 loaders).
 * Loading the whole model from the file is fuzz_model's job (slower: it allocates the model).
 * safetensors_mutator.h keeps the length prefix in step with a mutated header. */
#include "fuzz_util.h"

#include "attx_engine.h"
#include "attx_weights.h"
#include "basic_english.h"
#include "safetensors_mutator.h"

static void check_tensors(const attx_tensor_file *f, const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < f->n_tensors; i++) {
        const attx_stored_tensor *t = &f->tensors[i];
        FUZZ_CHECK(t->name && t->ndim >= 0 && t->ndim <= ATTX_MAX_DIMS);
        uint64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= t->shape[d];
        FUZZ_CHECK(numel == t->numel && t->numel * attx_dtype_bits(t->dtype) == 8 * t->nbytes);
        FUZZ_CHECK(t->nbytes <= size && (t->nbytes == 0 || (t->data >= data && t->data + t->nbytes <= data + size)));
        FUZZ_CHECK(attx_tensor_file_find(f, t->name) == t);
        if (attx_dtype_is_float_weight(t->dtype)) {
            float *v = malloc((size_t)t->numel * sizeof *v + 1);
            attx_error err;
            FUZZ_CHECK(v && attx_stored_tensor_to_f32(t, v, &err) == 0);
            free(v);
        }
    }
}

/* Writes f again and parses the result: the same tensors and metadata must come back. */
static void check_round_trip(const attx_tensor_file *f)
{
    for (size_t i = 0; i < f->n_meta; i++)   /* each metadata key finds its own value */
        FUZZ_CHECK(attx_tensor_file_meta(f, f->meta_keys[i]) == f->meta_values[i]);
    attx_st_entry *e = calloc(f->n_tensors + 1, sizeof *e);
    FUZZ_CHECK(e);
    for (size_t i = 0; i < f->n_tensors; i++) {
        const attx_stored_tensor *t = &f->tensors[i];
        e[i] = (attx_st_entry){.name = t->name, .dtype = t->dtype, .ndim = t->ndim, .raw = t->data};
        memcpy(e[i].shape, t->shape, sizeof e[i].shape);
        if (!t->data) e[i].raw = "";     /* an empty tensor: raw must still be the one source */
    }
    attx_buf out = {0};
    attx_error err;
    if (attx_safetensors_serialize(&out, e, f->n_tensors, (const char *const *)f->meta_keys,
                                   (const char *const *)f->meta_values, f->n_meta, &err) != 0) {
        fprintf(stderr, "a file that parses does not write: %s\n", err.msg);
        abort();
    }
    attx_tensor_file g;
    if (attx_safetensors_parse(&g, out.data, out.len, "again", &err) != 0) {
        fprintf(stderr, "the written file does not parse: %s\n", err.msg);
        abort();
    }
    FUZZ_CHECK(g.n_tensors == f->n_tensors && g.n_meta == f->n_meta);
    for (size_t i = 0; i < f->n_tensors; i++) {
        const attx_stored_tensor *t = &f->tensors[i], *u = attx_tensor_file_find(&g, t->name);
        FUZZ_CHECK(u && u->dtype == t->dtype && u->ndim == t->ndim && u->nbytes == t->nbytes);
        FUZZ_CHECK(memcmp(u->shape, t->shape, (size_t)t->ndim * sizeof t->shape[0]) == 0);
        FUZZ_CHECK(t->nbytes == 0 || memcmp(u->data, t->data, (size_t)t->nbytes) == 0);
    }
    for (size_t i = 0; i < f->n_meta; i++) {
        const char *v = attx_tensor_file_meta(&g, f->meta_keys[i]);
        FUZZ_CHECK(v && strcmp(v, f->meta_values[i]) == 0);
    }
    attx_tensor_file_close(&g);
    attx_buf_free(&out);
    free(e);
}

/* The metadata texts as model loading reads them; failures are fine, crashes are not. */
static void check_metadata_texts(const attx_tensor_file *f)
{
    attx_error err;
    const char *config = attx_tensor_file_meta(f, "attx.config");
    if (config) {
        attx_config c;
        if (attx_config_parse(&c, config, strlen(config), "attx.config", &err) == 0) {
            attx_tensor_spec *specs = NULL;
            size_t n = 0;
            FUZZ_CHECK(attx_config_tensor_specs(&c, &specs, &n, &err) == 0 && n > 0);
            free(specs);
            attx_config_free(&c);
        }
    }
    const char *pre = attx_tensor_file_meta(f, "attx.preprocessor");
    attx_preprocessor pp;
    if (pre) attx_preprocessor_parse(&pp, pre, strlen(pre), "attx.preprocessor", 16, 16, &err);
    const char *tok = attx_tensor_file_meta(f, "attx.tokenizer");
    attx_json_doc *doc = NULL;
    if (tok && attx_json_parse(tok, strlen(tok), NULL, &doc, &err) == 0) attx_json_free(doc);
    const char *vocab = attx_tensor_file_meta(f, "attx.vocab");
    if (vocab) {
        attx_wordpiece *wp = NULL;
        if (attx_wordpiece_load(&wp, vocab, strlen(vocab), 1, &err) == 0) attx_wordpiece_free(wp);
        if (attx_attn1_vocab_load(&wp, vocab, strlen(vocab), &err) == 0) attx_wordpiece_free(wp);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    attx_tensor_file f;
    attx_error err;
    if (attx_safetensors_parse(&f, data, size, "fuzz.safetensors", &err) != 0) {
        FUZZ_CHECK(strncmp(err.msg, "fuzz.safetensors: ", 18) == 0);
        return 0;
    }
    check_tensors(&f, data, size);
    check_round_trip(&f);
    check_metadata_texts(&f);
    attx_tensor_file_close(&f);
    return 0;
}
