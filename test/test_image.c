/* test_image.c — image decoding, PIL resizing and ViTImageProcessor preprocessing against PIL
 * (fixtures from tools/reference/make_image_fixtures.py), preprocessor_config.json parsing, and
 * every kind of bad image file: missing, empty, wrong format, oversized, truncated at every
 * byte, randomly corrupted. */
#include "testutil.h"

#include <math.h>
#include <png.h>
#include <sys/resource.h>
#include <time.h>

#include "attx_engine.h"

#define FIX "test/fixtures/images/"

static attx_tensor_file ref;
static attx_json_doc *cases_doc, *images_doc;

static int setup(void **state)
{
    (void)state;
    attx_error err;
    if (attx_safetensors_open(&ref, FIX "reference.safetensors", &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    const char *cases = attx_tensor_file_meta(&ref, "cases");
    const char *images = attx_tensor_file_meta(&ref, "images");
    if (!cases || !images || attx_json_parse(cases, strlen(cases), NULL, &cases_doc, &err) != 0 ||
        attx_json_parse(images, strlen(images), NULL, &images_doc, &err) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    attx_json_free(cases_doc);
    attx_json_free(images_doc);
    attx_tensor_file_close(&ref);
    return 0;
}

/* FNV-1a 64 as lowercase hex, as the fixture script writes it. */
static void fnv1a64_hex(const void *data, size_t n, char out[17])
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static const attx_stored_tensor *ref_tensor(const char *prefix, const char *key, attx_dtype dtype)
{
    char name[512];
    snprintf(name, sizeof name, "%s%s", prefix, key);
    const attx_stored_tensor *t = attx_tensor_file_find(&ref, name);
    if (!t) fail_msg("no reference tensor %s", name);
    assert_int_equal(t->dtype, dtype);
    return t;
}

static void load_ok(attx_image *img, const char *file)
{
    char path[512];
    snprintf(path, sizeof path, FIX "%s", file);
    attx_error err;
    if (attx_image_load(img, path, &err) != 0) fail_msg("%s", err.msg);
}

/* Counts differing bytes between an image and a U8 [H, W, 3] reference; max |diff| in *maxd. */
static size_t count_diff(const attx_image *img, const attx_stored_tensor *t, int *maxd)
{
    assert_int_equal(t->ndim, 3);
    assert_int_equal(t->shape[0], (uint64_t)img->height);
    assert_int_equal(t->shape[1], (uint64_t)img->width);
    assert_int_equal(t->shape[2], 3);
    size_t n = 0;
    *maxd = 0;
    for (size_t i = 0; i < t->numel; i++) {
        int d = abs((int)img->rgb[i] - (int)t->data[i]);
        if (d) n++;
        if (d > *maxd) *maxd = d;
    }
    return n;
}

static void test_decode_matches_pil(void **state)
{
    (void)state;
    const attx_json_value *names = attx_json_root(images_doc);
    const char *fnv_text = attx_tensor_file_meta(&ref, "decode_fnv");
    attx_json_doc *fnv_doc;
    attx_error e0;
    assert_int_equal(attx_json_parse(fnv_text, strlen(fnv_text), NULL, &fnv_doc, &e0), 0);
    size_t bad = 0, n_tensor = 0;
    for (size_t i = 0; i < attx_json_len(names); i++) {
        const char *name = attx_json_str(attx_json_item(names, i), NULL);
        attx_image img;
        load_ok(&img, name);
        char want[64], got[64], hex[17];
        snprintf(want, sizeof want, "%s", attx_json_str(attx_json_get(attx_json_root(fnv_doc), name), NULL));
        fnv1a64_hex(img.rgb, (size_t)img.width * img.height * 3, hex);
        snprintf(got, sizeof got, "%dx%d:%s", img.width, img.height, hex);
        if (strcmp(got, want) != 0) {
            fprintf(stderr, "  %s: decoded %s, PIL %s\n", name, got, want);
            bad++;
        }
        char tname[300];
        snprintf(tname, sizeof tname, "decode/%s", name);
        if (attx_tensor_file_find(&ref, tname)) {
            int maxd;
            size_t n = count_diff(&img, ref_tensor("decode/", name, ATTX_U8), &maxd);
            if (n) {
                fprintf(stderr, "  %s: %zu bytes differ from PIL (max %d)\n", name, n, maxd);
                bad++;
            }
            n_tensor++;
        }
        /* the memory variant gives the same pixels */
        size_t len;
        char path[512];
        snprintf(path, sizeof path, FIX "%s", name);
        char *bytes = tu_read(path, &len);
        attx_image mem;
        attx_error err;
        assert_int_equal(attx_image_decode(&mem, bytes, len, name, &err), 0);
        assert_memory_equal(mem.rgb, img.rgb, (size_t)img.width * img.height * 3);
        attx_image_free(&mem);
        free(bytes);
        attx_image_free(&img);
    }
    assert_true(attx_json_len(names) >= 50);
    assert_true(n_tensor >= 50);
    assert_int_equal(bad, 0);
    attx_json_free(fnv_doc);
}

/* EXIF orientation: read by decoding (which leaves the pixels as stored, like PIL's open +
 * convert), applied by attx_image_apply_orientation as PIL's ImageOps.exif_transpose. */
static void test_exif_orientation(void **state)
{
    (void)state;
    const char *list = attx_tensor_file_meta(&ref, "oriented");
    attx_json_doc *doc;
    attx_error err;
    assert_int_equal(attx_json_parse(list, strlen(list), NULL, &doc, &err), 0);
    const attx_json_value *names = attx_json_root(doc);
    assert_int_equal(attx_json_len(names), 9);
    int seen[9] = {0};
    for (size_t i = 0; i < attx_json_len(names); i++) {
        const char *name = attx_json_str(attx_json_item(names, i), NULL);
        attx_image img;
        load_ok(&img, name);
        assert_int_equal(img.orientation, name[4] - '0');   /* "exif<o>_..." */
        seen[img.orientation] = 1;
        assert_int_equal(attx_image_apply_orientation(&img, &err), 0);
        assert_int_equal(img.orientation, 1);
        int maxd;
        if (count_diff(&img, ref_tensor("oriented/", name, ATTX_U8), &maxd) != 0)
            fail_msg("%s: differs from PIL's exif_transpose", name);
        attx_image_free(&img);
    }
    for (int o = 2; o <= 8; o++) assert_true(seen[o]);
    attx_json_free(doc);

    /* Random damage inside the APP1 EXIF block: the pixels stay the same, the orientation is
     * 1..8 and the parser reads nothing outside the block (ASan). */
    size_t len;
    unsigned char *jpg = (unsigned char *)tu_read(FIX "exif6_7x4.jpg", &len);
    attx_image want;
    assert_int_equal(attx_image_decode(&want, jpg, len, "exif.jpg", &err), 0);
    size_t app1 = 2;
    while (app1 + 4 < len && !(jpg[app1] == 0xff && jpg[app1 + 1] == 0xe1))
        app1 += 2 + ((size_t)jpg[app1 + 2] << 8 | jpg[app1 + 3]);
    assert_true(app1 + 4 < len);
    const size_t body = app1 + 4, body_len = ((size_t)jpg[app1 + 2] << 8 | jpg[app1 + 3]) - 2;
    assert_memory_equal(jpg + body, "Exif\0\0", 6);
    unsigned char *copy = malloc(len);
    uint64_t rs = 99;
    int n_changed = 0;
    for (int r = 0; r < 2000; r++) {
        memcpy(copy, jpg, len);
        int flips = 1 + (int)(tu_random(&rs) % 3);
        for (int k = 0; k < flips; k++)
            copy[body + 6 + tu_random(&rs) % (body_len - 6)] = (unsigned char)tu_random(&rs);
        attx_image got;
        assert_int_equal(attx_image_decode(&got, copy, len, "exif.jpg", &err), 0);
        assert_true(got.orientation >= 1 && got.orientation <= 8);
        n_changed += got.orientation != 6;
        assert_memory_equal(got.rgb, want.rgb, (size_t)want.width * want.height * 3);
        attx_image_free(&got);
    }
    assert_true(n_changed > 0);
    /* an IFD offset past the block, and a byte-order mark that is neither II nor MM */
    memcpy(copy, jpg, len);
    copy[body + 6 + 4] = 0x7f;
    attx_image got;
    assert_int_equal(attx_image_decode(&got, copy, len, "exif.jpg", &err), 0);
    assert_int_equal(got.orientation, 1);
    attx_image_free(&got);
    memcpy(copy, jpg, len);
    copy[body + 6] = 'X';
    assert_int_equal(attx_image_decode(&got, copy, len, "exif.jpg", &err), 0);
    assert_int_equal(got.orientation, 1);
    attx_image_free(&got);
    free(copy);
    free(jpg);
    attx_image_free(&want);
    /* files without EXIF have orientation 1, and applying it changes nothing */
    attx_image img;
    load_ok(&img, "baseline_19x13.jpg");
    assert_int_equal(img.orientation, 1);
    attx_image_free(&img);
    load_ok(&img, "noise_13x9.png");
    assert_int_equal(img.orientation, 1);
    uint8_t first = img.rgb[0];
    assert_int_equal(attx_image_apply_orientation(&img, &err), 0);
    assert_int_equal(img.width, 13);
    assert_int_equal(img.rgb[0], first);
    attx_image_free(&img);
}

static void case_pp(const attx_json_value *c, attx_preprocessor *pp)
{
    int64_t w, h, r;
    assert_int_equal(attx_json_i64(attx_json_get(c, "width"), &w), 0);
    assert_int_equal(attx_json_i64(attx_json_get(c, "height"), &h), 0);
    assert_int_equal(attx_json_i64(attx_json_get(c, "resample"), &r), 0);
    attx_preprocessor_defaults(pp, (int)h, (int)w);
    pp->resample = (int)r;
    assert_int_equal(attx_json_bool(attx_json_get(c, "do_rescale"), &pp->do_rescale), 0);
    assert_int_equal(attx_json_bool(attx_json_get(c, "do_normalize"), &pp->do_normalize), 0);
    assert_int_equal(attx_json_double(attx_json_get(c, "rescale_factor"), &pp->rescale_factor), 0);
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(attx_json_double(attx_json_item(attx_json_get(c, "mean"), k), &pp->image_mean[k]), 0);
        assert_int_equal(attx_json_double(attx_json_item(attx_json_get(c, "std"), k), &pp->image_std[k]), 0);
    }
}

static void test_resize_matches_pil(void **state)
{
    (void)state;
    const attx_json_value *cases = attx_json_root(cases_doc);
    size_t bad = 0, n_filters[6] = {0};
    for (size_t i = 0; i < attx_json_len(cases); i++) {
        const attx_json_value *c = attx_json_item(cases, i);
        const char *key = attx_json_str(attx_json_get(c, "key"), NULL);
        attx_preprocessor pp;
        case_pp(c, &pp);
        attx_image img, out;
        attx_error err;
        load_ok(&img, attx_json_str(attx_json_get(c, "image"), NULL));
        if (attx_image_resize(&img, pp.width, pp.height, (attx_resample)pp.resample, &out, &err) != 0)
            fail_msg("%s: %s", key, err.msg);
        char name[512], hex[17];
        snprintf(name, sizeof name, "resize/%s", key);
        if (attx_tensor_file_find(&ref, name)) {
            int maxd;
            size_t n = count_diff(&out, ref_tensor("resize/", key, ATTX_U8), &maxd);
            if (n) {
                fprintf(stderr, "  resize %s: %zu bytes differ from PIL (max %d)\n", key, n, maxd);
                bad++;
            }
        }
        fnv1a64_hex(out.rgb, (size_t)out.width * out.height * 3, hex);
        if (strcmp(hex, attx_json_str(attx_json_get(c, "resize_fnv"), NULL)) != 0) {
            fprintf(stderr, "  resize %s: hash differs from PIL's\n", key);
            bad++;
        }
        n_filters[pp.resample]++;
        attx_image_free(&out);
        attx_image_free(&img);
    }
    for (int f = 0; f < 6; f++) assert_true(n_filters[f] >= 2);
    assert_int_equal(bad, 0);
}

static void test_pixels_match_hf(void **state)
{
    (void)state;
    const attx_json_value *cases = attx_json_root(cases_doc);
    double worst = 0;
    size_t n_tensor = 0;
    for (size_t i = 0; i < attx_json_len(cases); i++) {
        const attx_json_value *c = attx_json_item(cases, i);
        const char *key = attx_json_str(attx_json_get(c, "key"), NULL);
        attx_preprocessor pp;
        case_pp(c, &pp);
        attx_image img;
        attx_error err;
        load_ok(&img, attx_json_str(attx_json_get(c, "image"), NULL));
        const size_t numel = 3 * (size_t)pp.height * pp.width;
        float *got = malloc(sizeof(float) * numel);
        if (attx_image_preprocess(&img, &pp, pp.height, pp.width, got, &err) != 0)
            fail_msg("%s: %s", key, err.msg);
        char name[512], hex[17];
        snprintf(name, sizeof name, "pixels/%s", key);
        if (attx_tensor_file_find(&ref, name)) {
            const attx_stored_tensor *t = ref_tensor("pixels/", key, ATTX_F32);
            assert_int_equal(t->ndim, 3);
            assert_int_equal(t->shape[0], 3);
            assert_int_equal(t->shape[1], (uint64_t)pp.height);
            assert_int_equal(t->shape[2], (uint64_t)pp.width);
            float *want = malloc(sizeof(float) * t->numel);
            memcpy(want, t->data, t->nbytes);
            for (size_t k = 0; k < t->numel; k++) {
                double d = fabs((double)got[k] - (double)want[k]);
                if (d > worst) worst = d;
                if (d > 1e-6) fail_msg("%s: pixel %zu is %.9g, PIL/HF %.9g", key, k, got[k], want[k]);
            }
            free(want);
            n_tensor++;
        }
        /* every case, the large ones included: the same float bits as numpy's float32 */
        fnv1a64_hex(got, sizeof(float) * numel, hex);
        if (strcmp(hex, attx_json_str(attx_json_get(c, "pixels_fnv"), NULL)) != 0)
            fail_msg("%s: pixel tensor hash differs from the HF reference", key);
        free(got);
        attx_image_free(&img);
    }
    fprintf(stderr, "  normalized pixels: max |attx - HF reference| = %.3g over %zu tensors; "
            "%zu cases bit-equal by hash\n", worst, n_tensor, attx_json_len(cases));
    assert_true(n_tensor >= 20);
}

/* The preprocessed size must be what the model takes. */
static void test_preprocess_size_checks(void **state)
{
    (void)state;
    attx_image img;
    load_ok(&img, "noise_13x9.png");
    attx_preprocessor pp;
    attx_preprocessor_defaults(&pp, 8, 8);
    float buf[3 * 13 * 9];
    attx_error err;
    assert_int_equal(attx_image_preprocess(&img, &pp, 16, 16, buf, &err), -1);
    assert_contains(err.msg, "8 x 8");
    assert_contains(err.msg, "16 x 16");
    pp.do_resize = 0;
    assert_int_equal(attx_image_preprocess(&img, &pp, 8, 8, buf, &err), -1);
    assert_contains(err.msg, "do_resize false");
    assert_int_equal(attx_image_preprocess(&img, &pp, 9, 13, buf, &err), 0);   /* height 9, width 13 */
    assert_true(fabsf(buf[0] - ((float)(img.rgb[0] * (1.0 / 255)) - 0.5f) / 0.5f) == 0.0f);
    attx_image out;
    assert_int_equal(attx_image_resize(&img, 0, 5, ATTX_RESAMPLE_BILINEAR, &out, &err), -1);
    assert_int_equal(attx_image_resize(&img, 5, 5, (attx_resample)9, &out, &err), -1);
    assert_contains(err.msg, "unknown resample");
    attx_image_free(&img);
}

/* ------------------------------------------------------------------------------------------ */
/* preprocessor_config.json                                                                    */

static int parse(attx_preprocessor *pp, const char *json, attx_error *err)
{
    return attx_preprocessor_parse(pp, json, json ? strlen(json) : 0, "M/preprocessor_config.json",
                                   32, 48, err);
}

static void expect_bad(const char *json, const char *phrase)
{
    attx_preprocessor pp;
    attx_error err;
    if (parse(&pp, json, &err) == 0) fail_msg("accepted %s", json);
    assert_contains(err.msg, "M/preprocessor_config.json: ");
    assert_contains(err.msg, phrase);
}

static void test_preprocessor_parse(void **state)
{
    (void)state;
    attx_preprocessor pp;
    attx_error err;
    /* no file: ViTImageProcessor's defaults with the model's size */
    assert_int_equal(parse(&pp, NULL, &err), 0);
    assert_int_equal(pp.do_resize, 1);
    assert_int_equal(pp.height, 32);
    assert_int_equal(pp.width, 48);
    assert_int_equal(pp.resample, 2);
    assert_int_equal(pp.do_rescale, 1);
    assert_true(pp.rescale_factor == 1.0 / 255.0);
    assert_int_equal(pp.do_normalize, 1);
    for (int c = 0; c < 3; c++) assert_true(pp.image_mean[c] == 0.5 && pp.image_std[c] == 0.5);
    attx_preprocessor_defaults(&pp, 0, 0);
    assert_int_equal(pp.height, 224);
    assert_int_equal(pp.width, 224);
    /* an empty object: the same */
    assert_int_equal(parse(&pp, "{}", &err), 0);
    assert_int_equal(pp.height, 32);
    assert_int_equal(pp.width, 48);
    /* a real ViT file */
    assert_int_equal(parse(&pp,
        "{\"do_normalize\": true, \"do_rescale\": false, \"do_resize\": true,"
        " \"image_mean\": [0.485, 0.456, 0.406], \"image_processor_type\": \"ViTImageProcessor\","
        " \"image_std\": [0.229, 0.224, 0.225], \"resample\": 3, \"rescale_factor\": 0.00392156862745098,"
        " \"size\": {\"height\": 384, \"width\": 320}, \"do_convert_rgb\": null}", &err), 0);
    assert_int_equal(pp.height, 384);
    assert_int_equal(pp.width, 320);
    assert_int_equal(pp.resample, 3);
    assert_int_equal(pp.do_rescale, 0);
    assert_true(pp.rescale_factor == 0.00392156862745098);
    assert_true(pp.image_mean[0] == 0.485 && pp.image_mean[2] == 0.406);
    assert_true(pp.image_std[1] == 0.224);
    assert_int_equal(pp.do_convert_rgb, 1);
    /* legacy ViTFeatureExtractor: one int size, mean/std as single numbers */
    assert_int_equal(parse(&pp, "{\"feature_extractor_type\": \"ViTFeatureExtractor\", \"size\": 64,"
                                " \"image_mean\": 0.25, \"image_std\": 2, \"resample\": 0,"
                                " \"do_normalize\": false}", &err), 0);
    assert_int_equal(pp.height, 64);
    assert_int_equal(pp.width, 64);
    assert_int_equal(pp.resample, 0);
    assert_int_equal(pp.do_normalize, 0);
    assert_true(pp.image_mean[1] == 0.25 && pp.image_std[2] == 2.0);
    assert_int_equal(parse(&pp, "{\"size\": [20, 30]}", &err), 0);
    assert_int_equal(pp.height, 20);
    assert_int_equal(pp.width, 30);
    for (int r = 0; r <= 5; r++) {
        char json[64];
        snprintf(json, sizeof json, "{\"resample\": %d}", r);
        assert_int_equal(parse(&pp, json, &err), 0);
        assert_int_equal(pp.resample, r);
    }

    expect_bad("{\"size\": {\"shortest_edge\": 224}}", "shortest_edge");
    expect_bad("{\"size\": {\"height\": 224}}", "\"height\" and \"width\"");
    expect_bad("{\"size\": {\"height\": 0, \"width\": 3}}", "size.height");
    expect_bad("{\"size\": {\"height\": 30, \"width\": 20000}}", "size.width");
    expect_bad("{\"size\": \"224\"}", "\"size\"");
    expect_bad("{\"size\": [1, 2, 3]}", "[height, width]");
    expect_bad("{\"size\": 22.5}", "not an integer");
    expect_bad("{\"resample\": 6}", "\"resample\" is 6");
    expect_bad("{\"resample\": -1}", "\"resample\" is -1");
    expect_bad("{\"resample\": \"bilinear\"}", "\"resample\" is not an integer");
    expect_bad("{\"do_resize\": 1}", "\"do_resize\" is not true or false");
    expect_bad("{\"do_normalize\": \"yes\"}", "\"do_normalize\"");
    expect_bad("{\"rescale_factor\": 0}", "rescale_factor");
    expect_bad("{\"rescale_factor\": \"1/255\"}", "rescale_factor");
    expect_bad("{\"image_mean\": [0.5, 0.5]}", "3 numbers");
    expect_bad("{\"image_mean\": [0.5, \"a\", 0.5]}", "\"image_mean\"[1]");
    expect_bad("{\"image_std\": [0.5, 0, 0.5]}", "must be positive");
    expect_bad("{\"image_std\": -1}", "must be positive");
    expect_bad("{\"do_center_crop\": true, \"crop_size\": 224}", "do_center_crop");
    expect_bad("[1, 2]", "not a JSON object");
    expect_bad("{\"size\": 224,}", "invalid JSON");
    /* a failed parse leaves the defaults, not half-read values */
    assert_int_equal(parse(&pp, "{\"resample\": 3, \"size\": {\"shortest_edge\": 9}}", &err), -1);
    assert_int_equal(pp.resample, 2);
}

/* ------------------------------------------------------------------------------------------ */
/* bad files                                                                                   */

static void expect_decode_error(const void *bytes, size_t size, const char *phrase)
{
    attx_image img;
    attx_error err;
    if (attx_image_decode(&img, bytes, size, "bad.img", &err) == 0)
        fail_msg("decoded %zu bytes that should fail with \"%s\"", size, phrase);
    assert_null(img.rgb);
    assert_contains(err.msg, "bad.img: ");
    assert_contains(err.msg, phrase);
}

static uint32_t crc32_bytes(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* A copy of a fixture file with its PNG IHDR (at byte 8) rewritten: size, bit depth, colour
 * type, and a correct CRC. */
static unsigned char *png_with_ihdr(const char *file, uint32_t w, uint32_t h, size_t *len)
{
    unsigned char *p = (unsigned char *)tu_read(file, len);
    assert_memory_equal(p + 12, "IHDR", 4);
    put_be32(p + 16, w);
    put_be32(p + 20, h);
    put_be32(p + 29, crc32_bytes(p + 12, 17));
    return p;
}

static void test_missing_empty_wrong_format(void **state)
{
    (void)state;
    attx_image img;
    attx_error err;
    assert_int_equal(attx_image_load(&img, FIX "no_such_file.png", &err), -1);
    assert_contains(err.msg, FIX "no_such_file.png: ");
    assert_null(img.rgb);

    char *dir = tu_mkdtemp();
    char *empty = tu_path(dir, "empty.png"), *text = tu_path(dir, "notes.jpg");
    tu_write(empty, "", 0);
    assert_int_equal(attx_image_load(&img, empty, &err), -1);
    assert_contains(err.msg, empty);
    assert_contains(err.msg, "empty file");
    tu_write_str(text, "this is a text file, named .jpg\n");
    assert_int_equal(attx_image_load(&img, text, &err), -1);
    assert_contains(err.msg, text);
    assert_contains(err.msg, "not an image file");
    assert_int_equal(attx_image_load(&img, dir, &err), -1);   /* a directory */
    assert_contains(err.msg, dir);
    free(empty);
    free(text);
    tu_rmdir(dir);

    /* a safetensors file */
    assert_int_equal(attx_image_load(&img, FIX "reference.safetensors", &err), -1);
    assert_contains(err.msg, "reference.safetensors: not an image file");

    expect_decode_error("GIF89a\1\0\1\0", 10, "GIF images are not supported");
    expect_decode_error("BM\0\0\0\0\0\0", 8, "BMP images are not supported");
    expect_decode_error("RIFF\0\0\0\0WEBPVP8 ", 16, "WebP images are not supported");
    expect_decode_error("\x89PNG", 4, "not an image file");           /* too short to tell */
    expect_decode_error("\xff\xd8", 2, "not an image file");
    expect_decode_error("P3\n1 1\n255\n0 0 0\n", 17, "P3 is not supported");
    expect_decode_error("P4 8 1\n\0", 8, "P4 is not supported");

    /* a CMYK JPEG is refused with its colour space named */
    assert_int_equal(attx_image_load(&img, FIX "cmyk_4x4.jpg", &err), -1);
    assert_contains(err.msg, "cmyk_4x4.jpg: JPEG colour space CMYK is not supported");
}

static void test_oversized(void **state)
{
    (void)state;
    size_t len;
    /* PNG headers that claim 20000 x 20000, 16385 x 1 and 1 x 16385 (correct CRCs) */
    unsigned char *p = png_with_ihdr(FIX "noise_13x9.png", 20000, 20000, &len);
    expect_decode_error(p, len, "20000 x 20000 pixels");
    free(p);
    p = png_with_ihdr(FIX "noise_13x9.png", 16385, 1, &len);
    expect_decode_error(p, len, "at most 16384 pixels per side");
    free(p);
    p = png_with_ihdr(FIX "noise_13x9.png", 1, 16385, &len);
    expect_decode_error(p, len, "1 x 16385 pixels");
    free(p);
    /* a corrupt IHDR CRC is libpng's error, cleanly */
    p = png_with_ihdr(FIX "noise_13x9.png", 13, 9, &len);
    p[29] ^= 1;
    expect_decode_error(p, len, "invalid PNG");
    free(p);
    /* zero width: libpng refuses it */
    p = png_with_ihdr(FIX "noise_13x9.png", 0, 9, &len);
    expect_decode_error(p, len, "invalid PNG");
    free(p);
    /* a tEXt chunk before the image data that declares 1.7 GB in a small file: refused before
     * libpng allocates its length (it used to take 1.7 GB; found by fuzzing) */
    {
        size_t n;
        unsigned char *orig = (unsigned char *)tu_read(FIX "noise_13x9.png", &n);
        unsigned char *q = malloc(n + 20);
        memcpy(q, orig, 33);                                /* signature and IHDR */
        const unsigned char text[] = {0x66, 0x4d, 0x00, 0x00, 't', 'E', 'X', 't', 'k', 'e', 'y', 0};
        memcpy(q + 33, text, sizeof text);
        memcpy(q + 33 + sizeof text, orig + 33, n - 33);
        expect_decode_error(q, n + sizeof text, "chunk tEXt declares 1716322304 bytes");
        free(q);
        free(orig);
    }

    /* JPEG: the SOF0 frame header rewritten to 20000 x 20000 */
    p = (unsigned char *)tu_read(FIX "baseline_19x13.jpg", &len);
    size_t sof = 0;
    for (size_t i = 2; i + 9 < len; i++)
        if (p[i] == 0xff && p[i + 1] == 0xc0) { sof = i; break; }
    assert_true(sof > 0);
    p[sof + 5] = 20000 >> 8; p[sof + 6] = 20000 & 255;   /* height */
    p[sof + 7] = 20000 >> 8; p[sof + 8] = 20000 & 255;   /* width */
    expect_decode_error(p, len, "20000 x 20000 pixels");
    p[sof + 5] = 0; p[sof + 6] = 0;                        /* height 0: libjpeg's error */
    expect_decode_error(p, len, "invalid JPEG");
    free(p);

    /* PPM/PGM: refused from the header even though the data is missing */
    expect_decode_error("P6 20000 20000 255\n", 19, "20000 x 20000 pixels");
    expect_decode_error("P5 16385 1 255\n", 15, "16385 x 1 pixels");
    expect_decode_error("P5 99999999999 1 255\n", 21, "too long");
    /* the largest side is allowed */
    size_t n = 16 + 16384;
    unsigned char *row = calloc(1, n);
    memcpy(row, "P5 16384 1 255\n", 15);
    attx_image img;
    attx_error err;
    assert_int_equal(attx_image_decode(&img, row, 15 + 16384, "ok.pgm", &err), 0);
    assert_int_equal(img.width, 16384);
    attx_image_free(&img);
    free(row);
}

static void test_pnm_header_errors(void **state)
{
    (void)state;
    expect_decode_error("P5 2 1 0\n\0\0", 11, "maxval is 0");
    expect_decode_error("P5 2 1 65536\n\0\0\0\0", 17, "maxval is 65536");
    expect_decode_error("P5 2 x 255\n\0\0", 13, "height is not a number");
    expect_decode_error("P5 0 1 255\n", 11, "no pixels");
    expect_decode_error("P5 2 1 255", 10, "truncated after the maxval");
    expect_decode_error("P5 2", 4, "truncated after the width");
    expect_decode_error("P6 # only a comment", 19, "truncated before the width");
    expect_decode_error("P5 2 1 255\n\7", 12, "pixel data is truncated (1 of 2 bytes)");
    expect_decode_error("P6 1 1 1000\n\0\0\0\0\0", 17, "pixel data is truncated (5 of 6 bytes)");
    expect_decode_error("P5 2 1 25a\n\0\0", 13, "followed by 0x61");
    /* comments anywhere between header numbers; samples over maxval clip to 255 */
    attx_image img;
    attx_error err;
    const char ok[] = "P5#c1\n2#c2\r1\n#c3\n100\n\x32\xff";
    assert_int_equal(attx_image_decode(&img, ok, sizeof ok - 1, "ok.pgm", &err), 0);
    assert_int_equal(img.width, 2);
    assert_int_equal(img.height, 1);
    assert_int_equal(img.rgb[0], 128);   /* round(50 / 100 * 255) = round(127.5) = 128 (even) */
    assert_int_equal(img.rgb[3], 255);
    attx_image_free(&img);
}

/* Truncating a file at every byte offset gives a clean error, or, past the end of the pixel
 * data (chunks PIL does not read either), the full image. Each prefix is its own allocation of
 * exactly that size, so AddressSanitizer sees any read past it. */
static void truncate_everywhere(const char *file, size_t min_ok)
{
    size_t len;
    char *bytes = tu_read(file, &len);
    attx_image full, img;
    attx_error err;
    assert_int_equal(attx_image_decode(&full, bytes, len, "full", &err), 0);
    size_t n_ok = 0;
    for (size_t cut = 0; cut < len; cut++) {
        unsigned char *prefix = malloc(cut ? cut : 1);
        memcpy(prefix, bytes, cut);
        if (attx_image_decode(&img, prefix, cut, "cut.img", &err) == 0) {
            if (cut < min_ok) fail_msg("%s cut at %zu of %zu bytes was accepted", file, cut, len);
            assert_int_equal(img.width, full.width);
            assert_int_equal(img.height, full.height);
            assert_memory_equal(img.rgb, full.rgb, (size_t)img.width * img.height * 3);
            attx_image_free(&img);
            n_ok++;
        } else {
            assert_null(img.rgb);
            assert_contains(err.msg, "cut.img: ");
        }
        free(prefix);
    }
    assert_true(len - n_ok >= min_ok);
    attx_image_free(&full);
    free(bytes);
}

static size_t png_iend_offset(const char *file)
{
    size_t len;
    char *p = tu_read(file, &len);
    assert_true(len > 12);
    assert_memory_equal(p + len - 8, "IEND", 4);
    free(p);
    return len - 12;   /* the IEND chunk: every cut before it must fail */
}

static void test_truncated(void **state)
{
    (void)state;
    const char *pngs[] = {FIX "noise_13x9.png", FIX "interlaced_rgb_11x10.png",
                          FIX "palette_trns_12x7.png", FIX "rgb16_7x5.png", FIX "gray16_8x3.png"};
    for (size_t i = 0; i < sizeof pngs / sizeof *pngs; i++)
        truncate_everywhere(pngs[i], png_iend_offset(pngs[i]) - 4);   /* CRC of the last IDAT may go */
    /* JPEG: every cut fails (a premature end is an error, not gray fill) */
    const char *jpegs[] = {FIX "baseline_19x13.jpg", FIX "progressive_21x14.jpg",
                           FIX "gray_15x10.jpg", FIX "exif8_7x4.jpg"};
    for (size_t i = 0; i < sizeof jpegs / sizeof *jpegs; i++) {
        size_t len;
        free(tu_read(jpegs[i], &len));
        truncate_everywhere(jpegs[i], len);
    }
    size_t len;
    free(tu_read(FIX "rgb_8x5.ppm", &len));
    truncate_everywhere(FIX "rgb_8x5.ppm", len);
    free(tu_read(FIX "rgb_maxval1000_4x3.ppm", &len));
    truncate_everywhere(FIX "rgb_maxval1000_4x3.ppm", len);
}

/* Random byte changes: never a crash or a leak; an error names the file; a success is a
 * sane image. PNG critical chunks carry CRCs, so most PNG corruptions must fail. */
static void corrupt_randomly(const char *file, int rounds, uint64_t seed, int *n_fail)
{
    size_t len;
    unsigned char *bytes = (unsigned char *)tu_read(file, &len);
    unsigned char *copy = malloc(len);
    uint64_t s = seed;
    *n_fail = 0;
    for (int r = 0; r < rounds; r++) {
        memcpy(copy, bytes, len);
        int flips = 1 + (int)(tu_random(&s) % 4);
        for (int k = 0; k < flips; k++) {
            size_t at = 2 + tu_random(&s) % (len - 2);   /* keep the magic, reach the decoder */
            copy[at] = (unsigned char)tu_random(&s);
        }
        attx_image img;
        attx_error err;
        if (attx_image_decode(&img, copy, len, "corrupt.img", &err) == 0) {
            assert_true(img.width >= 1 && img.width <= ATTX_IMAGE_MAX_SIDE);
            assert_true(img.height >= 1 && img.height <= ATTX_IMAGE_MAX_SIDE);
            attx_image_free(&img);
        } else {
            assert_contains(err.msg, "corrupt.img: ");
            (*n_fail)++;
        }
    }
    free(copy);
    free(bytes);
}

static void test_corrupt(void **state)
{
    (void)state;
    int fails;
    corrupt_randomly(FIX "noise_13x9.png", 400, 1, &fails);
    assert_true(fails > 300);
    corrupt_randomly(FIX "interlaced_rgb_11x10.png", 200, 2, &fails);
    assert_true(fails > 150);
    corrupt_randomly(FIX "baseline_19x13.jpg", 400, 3, &fails);
    assert_true(fails > 0);
    corrupt_randomly(FIX "progressive_21x14.jpg", 400, 4, &fails);
    assert_true(fails > 0);
    corrupt_randomly(FIX "rgb_8x5.ppm", 200, 5, &fails);
    corrupt_randomly(FIX "exif6_7x4.jpg", 400, 6, &fails);   /* reaches the EXIF parser */
    assert_true(fails > 0);
    corrupt_randomly(FIX "exif5_5x3.png", 200, 7, &fails);

    /* a PNG whose IDAT holds garbage (with a correct CRC) fails in zlib, cleanly */
    size_t len;
    unsigned char *p = (unsigned char *)tu_read(FIX "noise_13x9.png", &len);
    size_t at = 8;
    while (at + 8 <= len && memcmp(p + at + 4, "IDAT", 4) != 0)
        at += 12 + ((size_t)p[at] << 24 | (size_t)p[at + 1] << 16 | (size_t)p[at + 2] << 8 | p[at + 3]);
    assert_true(at + 8 <= len);
    size_t n = (size_t)p[at] << 24 | (size_t)p[at + 1] << 16 | (size_t)p[at + 2] << 8 | p[at + 3];
    for (size_t i = 2; i < n; i++) p[at + 8 + i] = (unsigned char)(i * 37);
    put_be32(p + at + 8 + n, crc32_bytes(p + at + 4, n + 4));
    expect_decode_error(p, len, "invalid PNG");
    free(p);

    /* a JPEG whose entropy-coded data is overwritten */
    p = (unsigned char *)tu_read(FIX "baseline_19x13.jpg", &len);
    size_t sos = 0;
    for (size_t i = 2; i + 1 < len; i++)
        if (p[i] == 0xff && p[i + 1] == 0xda) { sos = i; break; }
    assert_true(sos > 0);
    memset(p + sos + 20, 0xff, 40);   /* a run of fill bytes then a bogus marker */
    p[sos + 60] = 0xd9 - 1;
    attx_image img;
    attx_error err;
    if (attx_image_decode(&img, p, len, "bad.jpg", &err) == 0) attx_image_free(&img);
    else assert_contains(err.msg, "bad.jpg: ");
    free(p);
}

static void test_detect(void **state)
{
    (void)state;
    assert_int_equal(attx_image_detect("\x89PNG\r\n\x1a\n", 8), ATTX_IMAGE_PNG);
    assert_int_equal(attx_image_detect("\xff\xd8\xff\xe0", 4), ATTX_IMAGE_JPEG);
    assert_int_equal(attx_image_detect("P6\n", 3), ATTX_IMAGE_PNM);
    assert_int_equal(attx_image_detect("P5#", 3), ATTX_IMAGE_PNM);
    assert_int_equal(attx_image_detect("P7\n", 3), ATTX_IMAGE_UNKNOWN);
    assert_int_equal(attx_image_detect("P6x", 3), ATTX_IMAGE_UNKNOWN);
    assert_int_equal(attx_image_detect("hello", 5), ATTX_IMAGE_UNKNOWN);
    assert_int_equal(attx_image_detect("", 0), ATTX_IMAGE_UNKNOWN);
}

/* Writes a gray 8-bit PNG of width x height zeros with libpng: deflate makes ~1000 bytes of it
 * one, so a file of ~90 KB holds 89.5 million pixels. */
static void write_zero_png(const char *path, int width, int height)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_true(png && info);
    if (setjmp(png_jmpbuf(png))) fail_msg("libpng failed writing %s", path);
    png_init_io(png, f);
    png_set_compression_level(png, 1);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_bytep row = calloc((size_t)width, 1);
    for (int y = 0; y < height; y++) png_write_row(png, row);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(row);
    assert_int_equal(fclose(f), 0);
}

static long max_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* The pixel limit: ATTX_IMAGE_MAX_PIXELS by default, ATTX_MAX_IMAGE_PIXELS in the environment,
 * attx_image_set_max_pixels above both; every format refuses from its header. */
static void test_pixel_limit(void **state)
{
    (void)state;
    attx_image img;
    attx_error err;
    uint64_t limit;
    unsetenv("ATTX_MAX_IMAGE_PIXELS");
    assert_int_equal(attx_image_max_pixels(&limit, &err), 0);
    assert_int_equal(limit, ATTX_IMAGE_MAX_PIXELS);
    assert_int_equal(limit, 89478485);

    /* a real 16384 x 5462 PNG (89,489,408 pixels, just over the limit), refused before its
     * pixels are decoded: the run's peak memory does not grow by the 268 MB they would take */
    char *dir = tu_mkdtemp(), *bomb = tu_path(dir, "bomb.png");
    write_zero_png(bomb, 16384, 5462);
    size_t file_len;
    free(tu_read(bomb, &file_len));
    long rss_before = max_rss_kib();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(attx_image_load(&img, bomb, &err), -1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_contains(err.msg, bomb);
    assert_contains(err.msg, "image is 16384 x 5462 = 89489408 pixels, more than the 89478485 attx decodes "
                             "(ATTX_MAX_IMAGE_PIXELS sets the limit)");
    long grew = max_rss_kib() - rss_before;
    printf("a %zu-byte PNG of 16384 x 5462 pixels refused in %.2f ms (peak memory grew %ld KiB)\n", file_len,
           (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6, grew);
    assert_true(grew < 32 * 1024);

    /* the limit from the environment, then from the library call, at the checker's 192 pixels */
    setenv("ATTX_MAX_IMAGE_PIXELS", "191", 1);
    assert_int_equal(attx_image_load(&img, FIX "checker_16x12.png", &err), -1);
    assert_contains(err.msg, "checker_16x12.png: image is 16 x 12 = 192 pixels, more than the 191 attx decodes");
    size_t len;
    char *jpeg = tu_read(FIX "baseline_19x13.jpg", &len);
    expect_decode_error(jpeg, len, "19 x 13 = 247 pixels");
    free(jpeg);
    expect_decode_error("P6 14 14 255\n", 13, "14 x 14 = 196 pixels");   /* refused before its missing data */
    setenv("ATTX_MAX_IMAGE_PIXELS", "192", 1);
    load_ok(&img, "checker_16x12.png");
    attx_image_free(&img);
    const char *bad[] = {"abc", "0", "-5", "12x", "268435457", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("ATTX_MAX_IMAGE_PIXELS", bad[i], 1);
        assert_int_equal(attx_image_load(&img, FIX "checker_16x12.png", &err), -1);
        assert_contains(err.msg, "checker_16x12.png: ATTX_MAX_IMAGE_PIXELS is '");
        assert_contains(err.msg, "it must be a whole number of pixels from 1 to 268435456");
    }
    /* the library call wins over the environment; 0 gives the environment back */
    assert_int_equal(attx_image_set_max_pixels(100, &err), 0);
    assert_int_equal(attx_image_load(&img, FIX "checker_16x12.png", &err), -1);
    assert_contains(err.msg, "more than the 100 attx decodes");
    assert_int_equal(attx_image_set_max_pixels(300, &err), 0);
    load_ok(&img, "checker_16x12.png");
    attx_image_free(&img);
    assert_int_equal(attx_image_set_max_pixels((uint64_t)1 << 29, &err), -1);
    assert_contains(err.msg, "more than 268435456 (16384 x 16384)");
    assert_int_equal(attx_image_set_max_pixels(0, &err), 0);
    setenv("ATTX_MAX_IMAGE_PIXELS", "150", 1);
    assert_int_equal(attx_image_load(&img, FIX "checker_16x12.png", &err), -1);
    unsetenv("ATTX_MAX_IMAGE_PIXELS");
    load_ok(&img, "checker_16x12.png");
    attx_image_free(&img);

    /* the same limit through attx predict, from its environment */
    char cmd[4400], *out, *errout;
    snprintf(cmd, sizeof cmd, "ATTX_MAX_IMAGE_PIXELS=100 %s predict test/fixtures/vit/p8 " FIX "checker_16x12.png",
             tu_attx());
    assert_int_equal(tu_run(cmd, &out, &errout), 1);
    assert_contains(errout, "attx: error: " FIX "checker_16x12.png: image is 16 x 12 = 192 pixels");
    free(out), free(errout);
    snprintf(cmd, sizeof cmd, "%s predict test/fixtures/vit/p8 '%s'", tu_attx(), bomb);
    assert_int_equal(tu_run(cmd, &out, &errout), 1);
    assert_contains(errout, "16384 x 5462 = 89489408 pixels, more than the 89478485");
    free(out), free(errout);
    free(bomb);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_matches_pil),
        cmocka_unit_test(test_exif_orientation),
        cmocka_unit_test(test_resize_matches_pil),
        cmocka_unit_test(test_pixels_match_hf),
        cmocka_unit_test(test_preprocess_size_checks),
        cmocka_unit_test(test_preprocessor_parse),
        cmocka_unit_test(test_missing_empty_wrong_format),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_pnm_header_errors),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_pixel_limit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
