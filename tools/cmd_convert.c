/* cmd_convert.c — `attx convert MODEL OUT.safetensors [--dtype f32|f16|bf16]`: one
 * self-contained safetensors file (canonical HF tensor names; config, vocabulary, tokenizer and
 * preprocessor settings in __metadata__) from an HF directory, a pytorch_model.bin, or another
 * attx file. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int run_convert(int argc, char **argv);

const cli_command cmd_convert = {
    "convert", "make one self-contained .safetensors file from a model directory",
    "usage: attx convert MODEL OUT.safetensors [--dtype f32|f16|bf16]\n"
    "\n"
    "Reads MODEL (a Hugging Face directory with model.safetensors or pytorch_model.bin, or a\n"
    "model file made by attx), checks every tensor against its config, and writes OUT with the\n"
    "tensors the model uses under their canonical Hugging Face names. The config, vocabulary,\n"
    "tokenizer and preprocessor settings go into the file's __metadata__ (attx.config,\n"
    "attx.vocab, attx.tokenizer, attx.preprocessor), so OUT is all `attx` needs.\n"
    "Tensors the model does not use (pretraining heads, position_ids buffers) are left out.\n"
    "\n"
    "  --dtype T   store weights as f32, f16 or bf16 (round to nearest even);\n"
    "              default: keep each tensor's stored dtype\n",
    run_convert,
};

static attx_dtype parse_dtype(const char *s)
{
    if (strcmp(s, "f32") == 0) return ATTX_F32;
    if (strcmp(s, "f16") == 0) return ATTX_F16;
    if (strcmp(s, "bf16") == 0) return ATTX_BF16;
    cli_usage_error(&cmd_convert, "--dtype must be f32, f16 or bf16, not '%s'", s);
}

static int run_convert(int argc, char **argv)
{
    const char *model = NULL, *out = NULL, *dtype_name = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_end_of_options(argv[i])) continue;
        if (cli_value(argc, argv, &i, "--dtype", &dtype_name)) continue;
        if (cli_is_option(argv[i])) cli_unknown_option(&cmd_convert, argv[i]);
        else if (!model) model = argv[i];
        else if (!out) out = argv[i];
        else cli_usage_error(&cmd_convert, "unexpected argument '%s'", argv[i]);
    }
    if (!model || !out) cli_usage_error(&cmd_convert, "MODEL and OUT.safetensors are both needed");
    attx_dtype dtype = dtype_name ? parse_dtype(dtype_name) : ATTX_DTYPE_INVALID;

    attx_model_files m;
    attx_error err;
    if (attx_model_files_open(&m, model, &err) != 0) cli_fail(&err);

    attx_st_entry *entries = calloc(m.n_specs, sizeof *entries);
    if (!entries) cli_failf("out of memory");
    size_t n = 0;
    for (size_t i = 0; i < m.n_specs; i++) {
        const attx_stored_tensor *t = m.by_spec[i];
        if (!t) continue;
        attx_st_entry *e = &entries[n++];
        e->name = m.specs[i].name;
        e->dtype = dtype ? dtype : t->dtype;
        e->ndim = t->ndim;
        memcpy(e->shape, t->shape, sizeof e->shape);
        e->stored = t;
    }

    const char *keys[ATTX_MODEL_META_MAX], *values[ATTX_MODEL_META_MAX];
    attx_buf scratch = {0};
    size_t n_meta = attx_model_files_metadata(&m, keys, values, &scratch);

    if (attx_safetensors_write(out, entries, n, keys, values, n_meta, &err) != 0) cli_fail(&err);
    attx_buf_free(&scratch);

    struct stat st;
    char params[32], size[32];
    printf("wrote %s: %zu tensors, %s parameters, %s, %s\n", out, n,
           cli_thousands(attx_model_param_count(&m), params, sizeof params),
           dtype ? attx_dtype_name(dtype) : "dtypes kept",
           stat(out, &st) == 0 ? cli_bytes((unsigned long long)st.st_size, size, sizeof size) : "?");
    if (m.n_ignored) {
        printf("left out %zu tensor%s the model does not use:", m.n_ignored, m.n_ignored == 1 ? "" : "s");
        for (size_t i = 0; i < m.n_ignored && i < 8; i++) printf(" %s", m.ignored[i]);
        printf("%s\n", m.n_ignored > 8 ? " ..." : "");
    }
    free(entries);
    attx_model_files_close(&m);
    return EXIT_OK;
}
