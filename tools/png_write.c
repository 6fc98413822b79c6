/* png_write.c — 8-bit RGB PNG files through libpng's simplified API (heatmaps). */
#include "cli.h"

#include <png.h>
#include <string.h>

int cli_write_png(const char *path, int width, int height, const unsigned char *rgb, attx_error *err)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)width;
    img.height = (png_uint_32)height;
    img.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&img, path, 0, rgb, 0, NULL)) {
        int rc = attx_fail(err, "%s: cannot write the PNG (%s)", path, img.message);
        png_image_free(&img);
        return rc;
    }
    return 0;
}
