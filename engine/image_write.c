/* image_write.c — 8-bit RGB images to PNG files (libpng), for the images attx makes itself
 * (`attx synth`, heatmaps). libpng reports errors by longjmp: every libpng call runs inside
 * png_write_run, which owns the setjmp. The output has no time or text chunks, so the same
 * pixels give the same bytes. */
#include "attx_engine.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifndef ATTX_NO_CODECS   /* defined by the WebAssembly build (make web) */
#include <png.h>

struct png_write_job {
    png_structp png;
    png_infop info;
    FILE *file;
    const attx_image *img;
    char msg[256];
};

static void png_write_error_cb(png_structp png, png_const_charp msg)
{
    struct png_write_job *job = png_get_error_ptr(png);
    snprintf(job->msg, sizeof job->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_write_warning_cb(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static int png_write_run(struct png_write_job *job)
{
    if (setjmp(png_jmpbuf(job->png))) return -1;
    png_init_io(job->png, job->file);
    png_set_IHDR(job->png, job->info, (png_uint_32)job->img->width, (png_uint_32)job->img->height, 8,
                 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(job->png, job->info);
    size_t stride = (size_t)job->img->width * 3;
    for (int y = 0; y < job->img->height; y++) png_write_row(job->png, job->img->rgb + (size_t)y * stride);
    png_write_end(job->png, NULL);
    return 0;
}

int attx_image_save_png(const attx_image *img, const char *path, attx_error *err)
{
    if (!img->rgb || img->width < 1 || img->height < 1 || img->width > ATTX_IMAGE_MAX_SIDE ||
        img->height > ATTX_IMAGE_MAX_SIDE)
        return attx_fail(err, "%s: no image to write (%d x %d)", path, img->width, img->height);
    struct png_write_job job;
    memset(&job, 0, sizeof job);
    job.img = img;
    if (!(job.file = fopen(path, "wb"))) return attx_fail(err, "%s: cannot create the file (%s)", path, strerror(errno));
    job.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &job, png_write_error_cb, png_write_warning_cb);
    if (job.png) job.info = png_create_info_struct(job.png);
    int rc = job.png && job.info ? png_write_run(&job) : (snprintf(job.msg, sizeof job.msg, "out of memory"), -1);
    png_destroy_write_struct(job.png ? &job.png : NULL, job.info ? &job.info : NULL);
    if (fclose(job.file) != 0 && rc == 0) {
        snprintf(job.msg, sizeof job.msg, "%s", strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        remove(path);
        return attx_fail(err, "%s: cannot write the PNG (%s)", path, job.msg);
    }
    return 0;
}
#else
int attx_image_save_png(const attx_image *img, const char *path, attx_error *err)
{
    (void)img;
    return attx_fail(err, "%s: this build writes no PNG", path);
}
#endif
