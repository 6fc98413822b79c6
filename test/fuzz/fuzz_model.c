/* fuzz_model.c — loading a model from one .safetensors file, as `attx predict MODEL.safetensors`
 * does: the file (the input) is written to a scratch directory and opened with attx_model_open
 * (weights file, config and tokenizer settings from __metadata__, tensor names and shapes
 * against the config, vocabulary, F16/BF16 conversion); a model that opens then runs one
 * forward pass on a fixed text (text models with a vocabulary) or on a blank image (ViT).
 * Each input allocates a whole model and context (16 MB arenas), so this target is slower
 * than fuzz_safetensors, which covers the header and metadata texts in memory.
 * Properties checked: a failed open leaves no model and says why; a forward pass of a model
 * that opened either succeeds with logits of the model's classes or fails with a message. */
#include "fuzz_util.h"

#include "attx_engine.h"
#include "attx_weights.h"
#include "safetensors_mutator.h"

static void run_model(const attx_model *m)
{
    const attx_config *c = attx_model_config(m);
    attx_ctx *ctx = attx_ctx_new();
    FUZZ_CHECK(ctx);
    attx_error err;
    err.msg[0] = '\0';
    attx_outputs out;
    int rc = 0, ran = 0;   /* a text model without a vocabulary runs nothing */
    if (c->arch == ATTX_ARCH_VIT) {
        size_t n = (size_t)c->num_channels * (size_t)c->image_height * (size_t)c->image_width;
        float *pixels = calloc(n, sizeof *pixels);
        FUZZ_CHECK(pixels);
        attx_batch b = {.B = 1, .pixels = pixels};
        rc = attx_forward(m, ctx, &b, &out, &err);
        ran = 1;
        free(pixels);
    } else if (attx_model_tokenizer(m)) {
        static const char text[] = "Hello, world! \xc3\x9c" "n\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 [MASK] don't";
        attx_encoding enc;
        if (attx_encode_text(m, text, sizeof text - 1, &enc, &err) == 0) {
            attx_batch b = {.B = 1, .T = enc.length, .ids = enc.ids, .lengths = &enc.length};
            rc = attx_forward(m, ctx, &b, &out, &err);
            ran = 1;
            attx_encoding_free(&enc);
        } else {
            FUZZ_CHECK(err.msg[0] != '\0');
        }
    }
    if (ran && rc == 0 && attx_model_has_classifier(m))
        FUZZ_CHECK(out.logits && out.logits->numel == c->num_labels);
    else if (rc != 0)
        FUZZ_CHECK(err.msg[0] != '\0');
    attx_ctx_free(ctx);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    attx_set_threads(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file("model.safetensors", data, size);
    attx_model *m = NULL;
    attx_error err;
    err.msg[0] = '\0';
    if (attx_model_open(&m, path, &err) == 0) {
        FUZZ_CHECK(m != NULL);
        run_model(m);
        attx_model_close(m);
    } else {
        FUZZ_CHECK(m == NULL && err.msg[0] != '\0');
    }
    return 0;
}
