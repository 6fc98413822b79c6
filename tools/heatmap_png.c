/* heatmap_png.c — a per-patch score map drawn over the picture, as a PNG file: the image at the
 * model's size (resized as its preprocessing does), enlarged to at least 224 pixels a side,
 * each patch tinted red (score > 0) or blue (score < 0) with an opacity proportional to
 * |score| / max |score|. Used by `attx explain --png` and `attx tcav --png`. */
#include "cli.h"
#include "attx_engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int cli_patch_heatmap_png(const attx_model *m, const char *image_path, const double *scores, const char *png,
                          attx_error *err)
{
    const attx_config *cfg = attx_model_config(m);
    attx_preprocessor pp;
    const char *source = NULL, *json = attx_model_preprocessor_json(m, &source);
    if (attx_preprocessor_parse(&pp, json, json ? strlen(json) : 0, source ? source : "preprocessor", cfg->image_height,
                                cfg->image_width, err) != 0)
        return -1;
    attx_image img, small = {0};
    if (attx_image_load(&img, image_path, err) != 0) return -1;
    int W = cfg->image_width, H = cfg->image_height, P = cfg->patch_size, gw = W / P, gh = H / P;
    int rc = attx_image_apply_orientation(&img, err);
    if (rc == 0) rc = attx_image_resize(&img, W, H, (attx_resample)pp.resample, &small, err);
    int f = 1;
    while (f * (W > H ? W : H) < 224) f++;
    attx_image out = {.width = W * f, .height = H * f};
    if (rc == 0 && !(out.rgb = malloc((size_t)out.width * out.height * 3))) rc = attx_fail(err, "out of memory");
    if (rc == 0) {
        double scale = 0;
        for (int t = 0; t < gw * gh; t++) scale = fmax(scale, fabs(scores[t]));
        static const double red[3] = {230, 30, 30}, blue[3] = {30, 80, 230};
        for (int y = 0; y < out.height; y++)
            for (int x = 0; x < out.width; x++) {
                int sy = y / f, sx = x / f, py = sy / P, px = sx / P;
                double s = py < gh && px < gw ? scores[py * gw + px] : 0;   /* pixels past the last patch */
                double alpha = scale > 0 ? 0.6 * fabs(s) / scale : 0;
                const double *tint = s > 0 ? red : blue;
                for (int c = 0; c < 3; c++) {
                    double v = (1 - alpha) * small.rgb[((size_t)sy * W + sx) * 3 + c] + alpha * tint[c];
                    out.rgb[((size_t)y * out.width + x) * 3 + c] = (unsigned char)lround(fmin(255, fmax(0, v)));
                }
            }
        rc = attx_image_save_png(&out, png, err);
    }
    free(out.rgb);
    attx_image_free(&img);
    attx_image_free(&small);
    return rc;
}
