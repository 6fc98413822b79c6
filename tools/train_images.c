/* train_images.c — the image half of `attx train`: image-folder data sets, a new ViT for their
 * classes, and the images decoded and preprocessed once into examples. */
#include "cli.h"
#include "train.h"

#include <stdlib.h>
#include <string.h>

void train_images_read(const char *dir, attx_image_folder *f)
{
    attx_error err;
    if (attx_image_folder_read(f, dir, &err) != 0) cli_fail(&err);
    if (f->n_skipped)
        fprintf(stderr, "attx: %s: skipped %zu files that are not images (the first: %s)\n", dir, f->n_skipped,
                f->first_skipped);
}

static char *preprocessor_json(int height, int width)
{
    attx_buf buf = {0};
    attx_json_writer w;
    attx_jw_init(&w, &buf, 1);
    attx_jw_object_begin(&w);
    attx_jw_key(&w, "image_processor_type"); attx_jw_string(&w, "ViTImageProcessor");
    attx_jw_key(&w, "do_resize"); attx_jw_bool(&w, 1);
    attx_jw_key(&w, "size");
    attx_jw_object_begin(&w);
    attx_jw_key(&w, "height"); attx_jw_int(&w, height);
    attx_jw_key(&w, "width"); attx_jw_int(&w, width);
    attx_jw_object_end(&w);
    attx_jw_key(&w, "resample"); attx_jw_int(&w, ATTX_RESAMPLE_BILINEAR);
    attx_jw_key(&w, "do_rescale"); attx_jw_bool(&w, 1);
    attx_jw_key(&w, "rescale_factor"); attx_jw_double(&w, 1.0 / 255.0);
    attx_jw_key(&w, "do_normalize"); attx_jw_bool(&w, 1);
    const char *keys[2] = {"image_mean", "image_std"};
    for (int k = 0; k < 2; k++) {
        attx_jw_key(&w, keys[k]);
        attx_jw_array_begin(&w);
        for (int c = 0; c < 3; c++) attx_jw_double(&w, 0.5);
        attx_jw_array_end(&w);
    }
    attx_jw_object_end(&w);
    if (buf.failed) cli_failf("out of memory");
    return buf.data;
}

static char *vit_config(const vit_sizes *s, char **labels, int n_labels)
{
    attx_buf buf = {0};
    attx_json_writer w;
    attx_jw_init(&w, &buf, 1);
    attx_jw_object_begin(&w);
    attx_jw_key(&w, "architectures");
    attx_jw_array_begin(&w);
    attx_jw_string(&w, "ViTForImageClassification");
    attx_jw_array_end(&w);
    attx_jw_key(&w, "model_type"); attx_jw_string(&w, "vit");
    attx_jw_key(&w, "image_size"); attx_jw_int(&w, s->image_size);
    attx_jw_key(&w, "patch_size"); attx_jw_int(&w, s->patch);
    attx_jw_key(&w, "num_channels"); attx_jw_int(&w, 3);
    attx_jw_key(&w, "hidden_size"); attx_jw_int(&w, s->hidden);
    attx_jw_key(&w, "num_hidden_layers"); attx_jw_int(&w, s->layers);
    attx_jw_key(&w, "num_attention_heads"); attx_jw_int(&w, s->heads);
    attx_jw_key(&w, "intermediate_size"); attx_jw_int(&w, s->ffn);
    attx_jw_key(&w, "hidden_act"); attx_jw_string(&w, "gelu");
    attx_jw_key(&w, "layer_norm_eps"); attx_jw_double(&w, 1e-12);
    attx_jw_key(&w, "hidden_dropout_prob"); attx_jw_double(&w, s->dropout);
    attx_jw_key(&w, "attention_probs_dropout_prob"); attx_jw_double(&w, s->dropout);
    attx_jw_key(&w, "initializer_range"); attx_jw_double(&w, s->init_range);
    attx_jw_key(&w, "qkv_bias"); attx_jw_bool(&w, 1);
    attx_config_write_labels(&w, (const char *const *)labels, n_labels);
    attx_jw_object_end(&w);
    if (buf.failed) cli_failf("out of memory");
    return buf.data;
}

attx_model *train_images_new_vit(vit_sizes *s, const attx_image_folder *train, uint64_t seed)
{
    attx_error err;
    if (!s->image_size) {     /* the size of the images themselves */
        attx_image img;
        if (attx_image_load(&img, train->paths[0], &err) != 0) cli_fail(&err);
        if (img.width != img.height)
            cli_failf("%s is %d x %d: give the model's --image-size (images are resized to it)", train->paths[0],
                      img.width, img.height);
        s->image_size = img.width;
        attx_image_free(&img);
    }
    if (!s->patch) {
        if (s->image_size % 8) cli_failf("give --patch: the image size %ld is not a multiple of 8", s->image_size);
        s->patch = s->image_size / 8;
    }
    if (s->patch > s->image_size) cli_failf("--patch %ld is larger than the image size %ld", s->patch, s->image_size);
    char *config = vit_config(s, train->classes, train->num_classes);
    char *pp = preprocessor_json((int)s->image_size, (int)s->image_size);
    attx_model *m;
    if (attx_model_create(&m, config, NULL, 0, seed, &err) != 0 || attx_model_set_preprocessor(m, pp, &err) != 0)
        cli_fail(&err);
    fprintf(stderr, "attx: a new ViT for %ldx%ld images, patches of %ld (%ld per image), %ld layers, hidden %ld, "
                    "%ld heads, feed-forward %ld\n",
            s->image_size, s->image_size, s->patch, (s->image_size / s->patch) * (s->image_size / s->patch), s->layers,
            s->hidden, s->heads, s->ffn);
    free(config);
    free(pp);
    return m;
}

void train_images_examples(const attx_model *m, const attx_image_folder *f, const size_t *rows, size_t n,
                           examples *ex)
{
    const attx_config *c = attx_model_config(m);
    /* the model's class index of every folder, by name */
    int *model_class = malloc((size_t)f->num_classes * sizeof *model_class);
    if (!model_class) cli_failf("out of memory");
    for (int k = 0; k < f->num_classes; k++) {
        model_class[k] = -1;
        for (int j = 0; j < c->num_labels; j++)
            if (c->labels[j] && strcmp(c->labels[j], f->classes[k]) == 0) model_class[k] = j;
        if (model_class[k] < 0)
            cli_failf("the class folder '%s' is not one of the model's classes (%s%s)", f->classes[k], c->labels[0],
                      c->num_labels > 1 ? ", ..." : "");
    }
    memset(ex, 0, sizeof *ex);
    ex->n = n;
    ex->pixel_stride = (size_t)c->num_channels * (size_t)c->image_height * (size_t)c->image_width;
    ex->length = malloc((n ? n : 1) * sizeof *ex->length);
    ex->label = malloc((n ? n : 1) * sizeof *ex->label);
    ex->pixels = malloc((n ? n : 1) * ex->pixel_stride * sizeof(float));
    if (!ex->length || !ex->label || !ex->pixels) cli_failf("out of memory for %zu images", n);
    for (size_t i = 0; i < n; i++) {
        size_t r = rows ? rows[i] : i;
        attx_error err;
        if (attx_encode_image(m, f->paths[r], ex->pixels + i * ex->pixel_stride, &err) != 0) cli_fail(&err);
        ex->length[i] = 1;
        ex->label[i] = model_class[f->labels[r]];
    }
    ex->tokens = n;
    free(model_class);
}
