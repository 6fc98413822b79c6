/* fuzz_image.c — image decoding (PNG through libpng, JPEG through libjpeg, PPM/PGM parsed by
 * attx) from bytes in memory, EXIF orientation, resizing and the ViT preprocessing.
 *
 * The input is an image file. When it decodes: the image is turned upright, resized to a
 * small size with a filter chosen from the input's length (so every filter is exercised),
 * and preprocessed into floats. Properties checked:
 *   - a decoded image has 1..ATTX_IMAGE_MAX_SIDE pixels per side and its pixels;
 *   - the format detected from the first bytes is a known one whenever decoding succeeds;
 *   - orientation keeps the pixel count (and swaps the sides for 5-8);
 *   - resizing to the image's own size gives the same pixels (PIL skips such a pass);
 *   - resizing gives the size asked for.
 * Memory stays bounded by the decoders' size check: the pixel limit is set to 4 Mpixels
 * (ATTX_MAX_IMAGE_PIXELS) so that each input decodes quickly; `make fuzz` adds -rss_limit_mb. */
#include "fuzz_util.h"

#include "attx_engine.h"
#include "attx_weights.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("ATTX_MAX_IMAGE_PIXELS", "4194304", 1);
    attx_set_threads(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    attx_image img;
    attx_error err;
    if (attx_image_decode(&img, data, size, "fuzz.img", &err) != 0) {
        FUZZ_CHECK(img.rgb == NULL && strncmp(err.msg, "fuzz.img", 8) == 0);
        return 0;
    }
    FUZZ_CHECK(attx_image_detect(data, size) != ATTX_IMAGE_UNKNOWN);
    FUZZ_CHECK(img.rgb && img.width >= 1 && img.height >= 1 && img.width <= ATTX_IMAGE_MAX_SIDE &&
               img.height <= ATTX_IMAGE_MAX_SIDE);
    FUZZ_CHECK(img.orientation >= 1 && img.orientation <= 8);

    int w = img.width, h = img.height, o = img.orientation;
    FUZZ_CHECK(attx_image_apply_orientation(&img, &err) == 0);
    FUZZ_CHECK(img.orientation == 1);
    FUZZ_CHECK(o >= 5 ? img.width == h && img.height == w : img.width == w && img.height == h);

    attx_resample filter = (attx_resample)(size % 6);
    attx_image same, small;
    FUZZ_CHECK(attx_image_resize(&img, img.width, img.height, filter, &same, &err) == 0);
    FUZZ_CHECK(same.width == img.width && same.height == img.height &&
               memcmp(same.rgb, img.rgb, (size_t)img.width * (size_t)img.height * 3) == 0);
    attx_image_free(&same);

    int sw = 1 + (int)(size % 7), sh = 1 + (int)(size / 7 % 5);
    FUZZ_CHECK(attx_image_resize(&img, sw, sh, filter, &small, &err) == 0);
    FUZZ_CHECK(small.width == sw && small.height == sh && small.rgb);
    attx_image_free(&small);

    attx_preprocessor pp;
    attx_preprocessor_defaults(&pp, 4, 3);
    pp.resample = (int)filter;
    float out[3 * 4 * 3];
    FUZZ_CHECK(attx_image_preprocess(&img, &pp, 4, 3, out, &err) == 0);
    attx_image_free(&img);
    return 0;
}
