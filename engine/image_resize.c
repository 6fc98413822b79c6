/* image_resize.c — PIL's Image.resize for 8-bit RGB, to the bit.
 *
 * Convolution filters (bilinear, bicubic, lanczos, box, hamming) run as PIL's two separable
 * passes: horizontal first (only over the input rows the vertical pass will read), then
 * vertical; a pass whose size does not change is skipped. For output pixel i of a pass from n
 * to m samples, scale = n / m, the filter is stretched by fs = max(1, scale) (antialiasing when
 * downscaling), centre = (i + 0.5)·scale, taps are the input samples
 * [(int)(centre − support·fs + 0.5), (int)(centre + support·fs + 0.5)) clipped to the image,
 * weight_j = filter((j − centre + 0.5) / fs) normalised to sum 1, then rounded away from zero
 * to 22-bit fixed point. Each output is (2^21 + Σ weight·sample) >> 22 clipped to 0..255.
 * NEAREST is PIL's affine scale: source x = (int)(x0 + k·step) with x0 = step/2 and the
 * position advanced by repeated addition of step = n / m (the float steps matter at the edges).
 * Every double expression below is written in PIL's order of operations, so the weights are the
 * same bits. */
#include "attx_engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { PRECISION_BITS = 32 - 8 - 2 };   /* 22: headroom for negative lobes and sums over 1 */

static double filter_box(double x)
{
    return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
}

static double filter_bilinear(double x)
{
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static double filter_hamming(double x)
{
    if (x < 0.0) x = -x;
    if (x == 0.0) return 1.0;
    if (x >= 1.0) return 0.0;
    x = x * M_PI;
    return sin(x) / x * (0.54f + 0.46f * cos(x));   /* float constants, as PIL writes them */
}

/* Keys' cubic convolution with a = -0.5 */
static double filter_bicubic(double x)
{
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static double sinc(double x)
{
    if (x == 0.0) return 1.0;
    x = x * M_PI;
    return sin(x) / x;
}

static double filter_lanczos(double x)
{
    return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0;
}

struct filter {
    double (*fn)(double);
    double support;
};

/* One pass's taps: output i reads input [first[i], first[i] + count[i]) with weights
 * w[i·ksize ..]. */
struct taps {
    int ksize;
    int *first, *count;
    int32_t *w;
};

static void taps_free(struct taps *t)
{
    free(t->first);
    free(t->count);
    free(t->w);
}

static int taps_compute(struct taps *t, int in_size, int out_size, const struct filter *f)
{
    memset(t, 0, sizeof *t);
    const double scale = (double)in_size / out_size;
    const double filterscale = scale < 1.0 ? 1.0 : scale;
    const double support = f->support * filterscale;
    const int ksize = (int)ceil(support) * 2 + 1;
    t->ksize = ksize;
    t->first = malloc(sizeof(int) * (size_t)out_size);
    t->count = malloc(sizeof(int) * (size_t)out_size);
    t->w = malloc(sizeof(int32_t) * (size_t)out_size * (size_t)ksize);
    double *k = malloc(sizeof(double) * (size_t)ksize);
    if (!t->first || !t->count || !t->w || !k) {
        free(k);
        taps_free(t);
        return -1;
    }
    for (int i = 0; i < out_size; i++) {
        const double center = 0.0 + (i + 0.5) * scale;   /* box origin 0 */
        const double ss = 1.0 / filterscale;
        int lo = (int)(center - support + 0.5);
        if (lo < 0) lo = 0;
        int hi = (int)(center + support + 0.5);
        if (hi > in_size) hi = in_size;
        const int n = hi - lo;
        double ww = 0.0;
        for (int j = 0; j < n; j++) {
            double w = f->fn((j + lo - center + 0.5) * ss);
            k[j] = w;
            ww += w;
        }
        int32_t *wi = t->w + (size_t)i * ksize;
        for (int j = 0; j < ksize; j++) {
            double w = j < n ? (ww != 0.0 ? k[j] / ww : k[j]) : 0.0;
            wi[j] = (int32_t)(w < 0 ? -0.5 + w * (1 << PRECISION_BITS)
                                    : 0.5 + w * (1 << PRECISION_BITS));
        }
        t->first[i] = lo;
        t->count[i] = n;
    }
    free(k);
    return 0;
}

static inline uint8_t clip8(int32_t v)
{
    if (v < 0) return 0;
    v >>= PRECISION_BITS;
    return (uint8_t)(v > 255 ? 255 : v);
}

/* Horizontal pass over input rows [row0, row0 + rows): src width sw -> dst width t's size. */
static void pass_horizontal(const uint8_t *src, int sw, int row0, int rows, uint8_t *dst, int dw,
                            const struct taps *t)
{
    for (int y = 0; y < rows; y++) {
        const uint8_t *in = src + ((size_t)(row0 + y) * sw) * 3;
        uint8_t *out = dst + (size_t)y * dw * 3;
        for (int x = 0; x < dw; x++) {
            const int32_t *w = t->w + (size_t)x * t->ksize;
            const uint8_t *p = in + (size_t)t->first[x] * 3;
            int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
            for (int j = 0; j < t->count[x]; j++) {
                s0 += p[3 * j] * w[j];
                s1 += p[3 * j + 1] * w[j];
                s2 += p[3 * j + 2] * w[j];
            }
            out[3 * x] = clip8(s0);
            out[3 * x + 1] = clip8(s1);
            out[3 * x + 2] = clip8(s2);
        }
    }
}

/* Vertical pass: src rows start at input row row0 (taps are in input-row numbers). */
static void pass_vertical(const uint8_t *src, int w, int row0, uint8_t *dst, int dh,
                          const struct taps *t)
{
    const size_t stride = (size_t)w * 3;
    for (int y = 0; y < dh; y++) {
        const int32_t *k = t->w + (size_t)y * t->ksize;
        const uint8_t *in = src + (size_t)(t->first[y] - row0) * stride;
        uint8_t *out = dst + (size_t)y * stride;
        for (size_t x = 0; x < stride; x++) {
            int32_t s = 1 << (PRECISION_BITS - 1);
            for (int j = 0; j < t->count[y]; j++) s += in[(size_t)j * stride + x] * k[j];
            out[x] = clip8(s);
        }
    }
}

static int resize_nearest(const attx_image *in, attx_image *out)
{
    const int W = out->width, H = out->height;
    int *src_x = malloc(sizeof(int) * (size_t)W);
    if (!src_x) return -1;
    const double step_x = (double)in->width / W, step_y = (double)in->height / H;
    double pos = 0.0 + step_x * 0.5;
    for (int x = 0; x < W; x++) {
        src_x[x] = pos < 0.0 ? -1 : (int)pos;   /* out of the image: left black, as PIL fills */
        if (src_x[x] >= in->width) src_x[x] = -1;
        pos += step_x;
    }
    pos = 0.0 + step_y * 0.5;
    for (int y = 0; y < H; y++) {
        int sy = pos < 0.0 ? -1 : (int)pos;
        uint8_t *o = out->rgb + (size_t)y * W * 3;
        if (sy < 0 || sy >= in->height) {
            memset(o, 0, (size_t)W * 3);
        } else {
            const uint8_t *row = in->rgb + (size_t)sy * in->width * 3;
            for (int x = 0; x < W; x++) {
                if (src_x[x] < 0) {
                    o[3 * x] = o[3 * x + 1] = o[3 * x + 2] = 0;
                } else {
                    memcpy(o + 3 * x, row + 3 * (size_t)src_x[x], 3);
                }
            }
        }
        pos += step_y;
    }
    free(src_x);
    return 0;
}

int attx_image_resize(const attx_image *in, int width, int height, attx_resample filter,
                      attx_image *out, attx_error *err)
{
    out->rgb = NULL;
    out->width = out->height = 0;
    out->orientation = 1;
    if (!in->rgb || in->width <= 0 || in->height <= 0) return attx_fail(err, "resize: empty image");
    if (width <= 0 || height <= 0 || width > ATTX_IMAGE_MAX_SIDE || height > ATTX_IMAGE_MAX_SIDE)
        return attx_fail(err, "resize: target size %d x %d is not 1..%d per side", width, height,
                         ATTX_IMAGE_MAX_SIDE);
    struct filter f;
    switch (filter) {
    case ATTX_RESAMPLE_NEAREST: f.fn = NULL; f.support = 0; break;
    case ATTX_RESAMPLE_BOX: f.fn = filter_box; f.support = 0.5; break;
    case ATTX_RESAMPLE_BILINEAR: f.fn = filter_bilinear; f.support = 1.0; break;
    case ATTX_RESAMPLE_HAMMING: f.fn = filter_hamming; f.support = 1.0; break;
    case ATTX_RESAMPLE_BICUBIC: f.fn = filter_bicubic; f.support = 2.0; break;
    case ATTX_RESAMPLE_LANCZOS: f.fn = filter_lanczos; f.support = 3.0; break;
    default: return attx_fail(err, "resize: unknown resample filter %d", (int)filter);
    }
    out->rgb = malloc((size_t)width * height * 3);
    if (!out->rgb) return attx_fail(err, "resize: out of memory for %d x %d", width, height);
    out->width = width;
    out->height = height;
    out->orientation = 1;

    if (width == in->width && height == in->height) {   /* PIL returns a copy */
        memcpy(out->rgb, in->rgb, (size_t)width * height * 3);
        return 0;
    }
    if (filter == ATTX_RESAMPLE_NEAREST) {
        if (resize_nearest(in, out) != 0) goto oom;
        return 0;
    }

    struct taps th = {0}, tv = {0};
    uint8_t *tmp = NULL;
    const int need_h = width != in->width, need_v = height != in->height;
    if ((need_h && taps_compute(&th, in->width, width, &f) != 0) ||
        (need_v && taps_compute(&tv, in->height, height, &f) != 0))
        goto oom_taps;
    if (need_h && need_v) {
        /* only the input rows the vertical pass reads */
        const int row0 = tv.first[0];
        const int row1 = tv.first[height - 1] + tv.count[height - 1];
        tmp = malloc((size_t)width * (size_t)(row1 - row0) * 3);
        if (!tmp) goto oom_taps;
        pass_horizontal(in->rgb, in->width, row0, row1 - row0, tmp, width, &th);
        pass_vertical(tmp, width, row0, out->rgb, height, &tv);
    } else if (need_h) {
        pass_horizontal(in->rgb, in->width, 0, in->height, out->rgb, width, &th);
    } else {
        pass_vertical(in->rgb, width, 0, out->rgb, height, &tv);
    }
    free(tmp);
    taps_free(&th);
    taps_free(&tv);
    return 0;

oom_taps:
    free(tmp);
    taps_free(&th);
    taps_free(&tv);
oom:
    attx_image_free(out);
    return attx_fail(err, "resize: out of memory for %d x %d", width, height);
}
