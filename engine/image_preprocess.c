/* image_preprocess.c — decoded RGB to the model's pixel tensor, as HF ViTImageProcessor does:
 * resize (PIL), rescale, normalize, channels first. */
#include "attx_engine.h"

#include <stdlib.h>

/* HF: rescale() multiplies in float64 and casts to float32; normalize() then works in float32
 * with mean and std cast to float32. The same operations here give the same bits. */
void attx_image_normalize(const attx_image *img, const attx_preprocessor *pp, float *out)
{
    const size_t plane = (size_t)img->width * (size_t)img->height;
    float lut[3][256];
    for (int c = 0; c < 3; c++) {
        const float mean = (float)pp->image_mean[c], std = (float)pp->image_std[c];
        for (int v = 0; v < 256; v++) {
            float x = pp->do_rescale ? (float)((double)v * pp->rescale_factor) : (float)v;
            if (pp->do_normalize) x = (x - mean) / std;
            lut[c][v] = x;
        }
    }
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++) out[(size_t)c * plane + i] = lut[c][img->rgb[3 * i + c]];
}

int attx_image_preprocess(const attx_image *img, const attx_preprocessor *pp, int height,
                          int width, float *out, attx_error *err)
{
    attx_image resized = {0, 0, NULL, 1};
    const attx_image *src = img;
    if (pp->do_resize) {
        if (attx_image_resize(img, pp->width, pp->height, (attx_resample)pp->resample, &resized,
                              err) != 0)
            return -1;
        src = &resized;
    }
    if (src->width != width || src->height != height) {
        int w = src->width, h = src->height;
        attx_image_free(&resized);
        return attx_fail(err, "the preprocessed image is %d x %d (width x height) but the model "
                         "takes %d x %d%s", w, h, width, height,
                         pp->do_resize ? "" : " (the preprocessor has do_resize false)");
    }
    attx_image_normalize(src, pp, out);
    attx_image_free(&resized);
    return 0;
}
