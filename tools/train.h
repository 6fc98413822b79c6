/* train.h — what `attx train` (cmd_train.c) shares with its image half (train_images.c). */
#ifndef ATTX_TOOLS_TRAIN_H
#define ATTX_TOOLS_TRAIN_H

#include "attx_engine.h"

/* The examples of one split, made ready once: token ids for text, pixels for images. */
typedef struct examples {
    size_t n;
    int32_t **ids;                /* text: [CLS] ... [SEP]; NULL for images */
    int32_t *length;              /* text: tokens; images: 1 */
    int32_t *label;
    size_t truncated;             /* examples cut to the model's positions */
    uint64_t tokens;              /* text: tokens; images: images */
    float *pixels;                /* images: [n, C, H, W] as the model's preprocessor makes them */
    size_t pixel_stride;          /* C · H · W */
} examples;

/* Reads an image-folder data set (attx_image_folder_read); reports skipped files on stderr and
 * exits with a one-line error on failure. */
void train_images_read(const char *dir, attx_image_folder *f);

/* The sizes of a new ViT; image_size 0: the side of the first training image (square). */
typedef struct vit_sizes {
    long image_size, patch, layers, hidden, heads, ffn;
    double dropout, init_range;   /* dropout probability, initializer_range */
} vit_sizes;

/* A new ViTForImageClassification for the classes of train (id2label = its folder names), with
 * preprocessor settings that take images of the model's size as they are (rescale 1/255, mean
 * = std = 0.5) and resize others (bilinear). */
attx_model *train_images_new_vit(vit_sizes *sizes, const attx_image_folder *train, uint64_t seed);

/* Decodes and preprocesses images rows[0..n) (NULL: all) of f for model m into ex; labels are
 * the model's indices of the folder names (a class the model lacks is an error). */
void train_images_examples(const attx_model *m, const attx_image_folder *f, const size_t *rows, size_t n,
                           examples *ex);

#endif
