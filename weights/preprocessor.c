/* preprocessor.c — HF preprocessor_config.json (ViTImageProcessor / ViTFeatureExtractor). */
#include "attx_weights.h"

#include <stdio.h>
#include <string.h>

enum { MAX_SIDE = 16384 };

void attx_preprocessor_defaults(attx_preprocessor *pp, int height, int width)
{
    memset(pp, 0, sizeof *pp);
    pp->do_resize = 1;
    pp->height = height > 0 ? height : 224;
    pp->width = width > 0 ? width : 224;
    pp->resample = 2;                    /* PIL BILINEAR */
    pp->do_rescale = 1;
    pp->rescale_factor = 1.0 / 255.0;
    pp->do_normalize = 1;
    for (int c = 0; c < 3; c++) pp->image_mean[c] = pp->image_std[c] = 0.5;
    pp->do_convert_rgb = 1;
}

static const attx_json_value *get(const attx_json_value *root, const char *key)
{
    const attx_json_value *v = attx_json_get(root, key);
    return v && attx_json_kind(v) != ATTX_JSON_NULL ? v : NULL;
}

static int get_bool(const attx_json_value *root, const char *key, int *out, attx_error *err)
{
    const attx_json_value *v = get(root, key);
    if (v && attx_json_bool(v, out) != 0) return attx_fail(err, "\"%s\" is not true or false", key);
    return 0;
}

static int side(const attx_json_value *v, const char *what, int *out, attx_error *err)
{
    int64_t x;
    if (!v || attx_json_i64(v, &x) != 0) return attx_fail(err, "\"%s\" is not an integer", what);
    if (x < 1 || x > MAX_SIDE) return attx_fail(err, "\"%s\" is %lld, expected 1..%d", what, (long long)x, MAX_SIDE);
    *out = (int)x;
    return 0;
}

static int parse_size(const attx_json_value *v, attx_preprocessor *pp, attx_error *err)
{
    switch (attx_json_kind(v)) {
    case ATTX_JSON_NUMBER:               /* legacy: one int, a square */
        if (side(v, "size", &pp->height, err) != 0) return -1;
        pp->width = pp->height;
        return 0;
    case ATTX_JSON_ARRAY:                /* legacy: [height, width] */
        if (attx_json_len(v) != 2) return attx_fail(err, "\"size\" must be [height, width]");
        return side(attx_json_item(v, 0), "size[0]", &pp->height, err) != 0 ||
                       side(attx_json_item(v, 1), "size[1]", &pp->width, err) != 0
                   ? -1 : 0;
    case ATTX_JSON_OBJECT: {
        const attx_json_value *h = get(v, "height"), *w = get(v, "width");
        if (h && w)
            return side(h, "size.height", &pp->height, err) != 0 ||
                           side(w, "size.width", &pp->width, err) != 0
                       ? -1 : 0;
        if (get(v, "shortest_edge") || get(v, "longest_edge"))
            return attx_fail(err, "\"size\" by shortest_edge/longest_edge (aspect-preserving "
                             "resize) is not supported; ViTImageProcessor takes "
                             "{\"height\": H, \"width\": W}");
        return attx_fail(err, "\"size\" must have \"height\" and \"width\"");
    }
    default:
        return attx_fail(err, "\"size\" must be {\"height\": H, \"width\": W} or an integer");
    }
}

/* "image_mean" / "image_std": three numbers, or one for all channels. */
static int parse_triple(const attx_json_value *root, const char *key, int positive, double out[3],
                        attx_error *err)
{
    const attx_json_value *v = get(root, key);
    if (!v) return 0;
    double x[3];
    if (attx_json_kind(v) == ATTX_JSON_NUMBER) {
        if (attx_json_double(v, &x[0]) != 0) return attx_fail(err, "\"%s\" is not a finite number", key);
        x[1] = x[2] = x[0];
    } else if (attx_json_kind(v) == ATTX_JSON_ARRAY && attx_json_len(v) == 3) {
        for (int c = 0; c < 3; c++)
            if (attx_json_double(attx_json_item(v, (size_t)c), &x[c]) != 0)
                return attx_fail(err, "\"%s\"[%d] is not a number", key, c);
    } else {
        return attx_fail(err, "\"%s\" must be a list of 3 numbers (one per RGB channel)", key);
    }
    for (int c = 0; c < 3; c++) {
        if (positive && !(x[c] > 0))
            return attx_fail(err, "\"%s\"[%d] is %g; it must be positive", key, c, x[c]);
        out[c] = x[c];
    }
    return 0;
}

static int parse_root(const attx_json_value *root, attx_preprocessor *pp, attx_error *err)
{
    if (attx_json_kind(root) != ATTX_JSON_OBJECT) return attx_fail(err, "not a JSON object");
    if (get_bool(root, "do_resize", &pp->do_resize, err) != 0 ||
        get_bool(root, "do_rescale", &pp->do_rescale, err) != 0 ||
        get_bool(root, "do_normalize", &pp->do_normalize, err) != 0 ||
        get_bool(root, "do_convert_rgb", &pp->do_convert_rgb, err) != 0)
        return -1;
    const attx_json_value *v;
    if ((v = get(root, "size")) && parse_size(v, pp, err) != 0) return -1;
    if ((v = get(root, "resample"))) {
        int64_t r;
        if (attx_json_i64(v, &r) != 0) return attx_fail(err, "\"resample\" is not an integer");
        if (r < 0 || r > 5)
            return attx_fail(err, "\"resample\" is %lld; attx implements PIL's 0 nearest, "
                             "1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming", (long long)r);
        pp->resample = (int)r;
    }
    if ((v = get(root, "rescale_factor"))) {
        double f;
        if (attx_json_double(v, &f) != 0 || !(f > 0))
            return attx_fail(err, "\"rescale_factor\" must be a positive number");
        pp->rescale_factor = f;
    }
    if (parse_triple(root, "image_mean", 0, pp->image_mean, err) != 0 ||
        parse_triple(root, "image_std", 1, pp->image_std, err) != 0)
        return -1;
    int crop = 0;
    if (get_bool(root, "do_center_crop", &crop, err) != 0) return -1;
    if (crop) return attx_fail(err, "\"do_center_crop\" is true; attx implements ViTImageProcessor, "
                               "which resizes without cropping");
    return 0;
}

int attx_preprocessor_parse(attx_preprocessor *pp, const char *json, size_t len,
                            const char *source, int default_height, int default_width,
                            attx_error *err)
{
    attx_preprocessor_defaults(pp, default_height, default_width);
    if (!json) return 0;
    if (!source) source = "preprocessor_config.json";
    attx_json_doc *doc;
    if (attx_json_parse(json, len, NULL, &doc, err) != 0) return attx_fail_prefix(err, "%s", source);
    int rc = parse_root(attx_json_root(doc), pp, err);
    attx_json_free(doc);
    if (rc != 0) {
        attx_preprocessor_defaults(pp, default_height, default_width);
        return attx_fail_prefix(err, "%s", source);
    }
    return 0;
}
