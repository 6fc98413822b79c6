/* cmd_convert.c — `attx convert MODEL OUT.safetensors [--dtype f32|f16|bf16|int8]`: one
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
    "usage: attx convert MODEL OUT.safetensors [--dtype f32|f16|bf16|int8]\n"
    "\n"
    "Reads MODEL (a Hugging Face directory with model.safetensors or pytorch_model.bin, or a\n"
    "model file made by attx), checks every tensor against its config, and writes OUT with the\n"
    "tensors the model uses under their canonical Hugging Face names. The config, vocabulary,\n"
    "tokenizer and preprocessor settings go into the file's __metadata__ (attx.config,\n"
    "attx.vocab, attx.tokenizer, attx.preprocessor), so OUT is all `attx` needs.\n"
    "Tensors the model does not use (pretraining heads, position_ids buffers) are left out.\n"
    "\n"
    "  --dtype T   store weights as f32, f16 or bf16 (round to nearest even);\n"
    "              default: keep each tensor's stored dtype\n"
    "              int8: the encoder layers' linear weights quantised as attx predict --int8 does\n"
    "              (I8 \"<name>\" with F32 per-output-channel scales \"<name>_scale\", W = q · scale),\n"
    "              the other tensors kept as stored; attx runs such a file in int8\n",
    run_convert,
};

static attx_dtype parse_dtype(const char *s)
{
    if (strcmp(s, "int8") == 0) return ATTX_I8;
    if (strcmp(s, "f32") == 0) return ATTX_F32;
    if (strcmp(s, "f16") == 0) return ATTX_F16;
    if (strcmp(s, "bf16") == 0) return ATTX_BF16;
    cli_usage_error(&cmd_convert, "--dtype must be f32, f16, bf16 or int8, not '%s'", s);
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

    /* int8: the model quantised by the engine, whose values are written as they are */
    attx_model *q8_model = dtype == ATTX_I8 ? cli_open_model(model, CLI_INT8) : NULL;
    size_t n_params = q8_model ? attx_model_params(q8_model, NULL, NULL) : 0;
    attx_tensor **params = calloc(n_params + 1, sizeof *params);
    const char **names = calloc(n_params + 1, sizeof *names);
    char **scale_names = calloc(m.n_specs + 1, sizeof *scale_names);
    void **buffers = calloc(2 * m.n_specs + 1, sizeof *buffers);
    attx_st_entry *entries = calloc(2 * m.n_specs + 1, sizeof *entries);
    if (!params || !names || !scale_names || !buffers || !entries) cli_failf("out of memory");
    if (q8_model) attx_model_params(q8_model, params, names);
    size_t n = 0, n_buffers = 0;
    for (size_t i = 0; i < m.n_specs; i++) {
        const attx_stored_tensor *t = m.by_spec[i];
        if (!t) continue;
        attx_st_entry *e = &entries[n++];
        e->name = m.specs[i].name;
        e->dtype = dtype && dtype != ATTX_I8 ? dtype : t->dtype;
        e->ndim = t->ndim;
        memcpy(e->shape, t->shape, sizeof e->shape);
        e->stored = t;
        const attx_tensor *p = NULL;
        for (size_t j = 0; j < n_params && !p; j++)
            if (strcmp(names[j], m.specs[i].name) == 0) p = params[j];
        if (!p || !t->ndim) continue;
        int8_t *q = malloc((size_t)t->numel);
        float *scale = malloc((size_t)t->shape[0] * sizeof *scale);
        size_t len = strlen(e->name) + sizeof "_scale";
        if (!q || !scale || !(scale_names[i] = malloc(len))) cli_failf("out of memory");
        buffers[n_buffers++] = q;
        buffers[n_buffers++] = scale;
        if (attx_tensor_int8_values(p, q, scale) != 0) continue;   /* not quantised: kept as stored */
        *e = (attx_st_entry){.name = e->name, .dtype = ATTX_I8, .ndim = 2, .shape = {t->shape[0], t->shape[1]},
                             .raw = q};
        snprintf(scale_names[i], len, "%s_scale", e->name);
        entries[n++] = (attx_st_entry){.name = scale_names[i], .dtype = ATTX_F32, .ndim = 1,
                                       .shape = {t->shape[0]}, .raw = scale};
    }

    const char *keys[ATTX_MODEL_META_MAX], *values[ATTX_MODEL_META_MAX];
    attx_buf scratch = {0};
    size_t n_meta = attx_model_files_metadata(&m, keys, values, &scratch);

    if (attx_safetensors_write(out, entries, n, keys, values, n_meta, &err) != 0) cli_fail(&err);
    attx_buf_free(&scratch);

    struct stat st;
    char count[32], size[32];
    printf("wrote %s: %zu tensors, %s parameters, %s, %s\n", out, n,
           cli_thousands(attx_model_param_count(&m), count, sizeof count),
           dtype == ATTX_I8 ? "int8 encoder weights, the rest as stored" : dtype ? attx_dtype_name(dtype) : "dtypes kept",
           stat(out, &st) == 0 ? cli_bytes((unsigned long long)st.st_size, size, sizeof size) : "?");
    if (m.n_ignored) {
        printf("left out %zu tensor%s the model does not use:", m.n_ignored, m.n_ignored == 1 ? "" : "s");
        for (size_t i = 0; i < m.n_ignored && i < 8; i++) printf(" %s", m.ignored[i]);
        printf("%s\n", m.n_ignored > 8 ? " ..." : "");
    }
    free(entries);
    for (size_t i = 0; i < n_buffers; i++) free(buffers[i]);
    for (size_t i = 0; i < m.n_specs; i++) free(scale_names[i]);
    free(buffers);
    free(scale_names);
    free(params);
    free(names);
    attx_model_close(q8_model);
    attx_model_files_close(&m);
    return EXIT_OK;
}
