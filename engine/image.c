/* image.c — image files to 8-bit RGB [H, W, 3], as PIL's Image.open(f).convert("RGB") gives
 * them: PNG through libpng, JPEG through libjpeg, binary PPM/PGM parsed here. The rules for
 * each format (16-bit samples, maxval scaling, what is refused) are in attx_engine.h.
 *
 * libpng and libjpeg report errors by longjmp. Each library's calls run inside one small
 * function (png_run, jpeg_run) that owns the setjmp and keeps everything it allocates in a job
 * struct outside its frame, so nothing indeterminate is read after a jump and the caller frees
 * whatever was allocated. Their error and warning handlers store the message; nothing prints. */
#include "attx_engine.h"

#include <math.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ATTX_NO_CODECS   /* defined by the WebAssembly build (make web): PPM/PGM only */
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#endif

void attx_image_free(attx_image *img)
{
    if (!img) return;
    free(img->rgb);
    img->rgb = NULL;
    img->width = img->height = 0;
    img->orientation = 1;
}

attx_image_format attx_image_detect(const void *bytes, size_t size)
{
    const unsigned char *p = bytes;
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (size >= 8 && memcmp(p, png_sig, 8) == 0) return ATTX_IMAGE_PNG;
    if (size >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) return ATTX_IMAGE_JPEG;
    if (size >= 3 && p[0] == 'P' && p[1] >= '1' && p[1] <= '6' &&
        (p[2] == ' ' || p[2] == '\t' || p[2] == '\n' || p[2] == '\r' || p[2] == '\v' ||
         p[2] == '\f' || p[2] == '#'))
        return ATTX_IMAGE_PNM;
    return ATTX_IMAGE_UNKNOWN;
}

/* EXIF orientation (tag 0x0112, one SHORT or LONG in IFD0) of a TIFF-structured block,
 * optionally behind "Exif\0\0"; 1 when absent, malformed or out of 1..8 (PIL's
 * exif_transpose then leaves the image alone too). */
static int exif_orientation(const unsigned char *p, size_t n)
{
    if (n >= 6 && memcmp(p, "Exif\0\0", 6) == 0) {
        p += 6;
        n -= 6;
    }
    if (n < 8) return 1;
    int le;
    if (p[0] == 'I' && p[1] == 'I') le = 1;
    else if (p[0] == 'M' && p[1] == 'M') le = 0;
    else return 1;
#define U16(q) (le ? (unsigned)(q)[0] | (unsigned)(q)[1] << 8 : (unsigned)(q)[0] << 8 | (unsigned)(q)[1])
#define U32(q) (le ? (uint32_t)U16(q) | (uint32_t)U16((q) + 2) << 16 : (uint32_t)U16(q) << 16 | (uint32_t)U16((q) + 2))
    if (U16(p + 2) != 42) return 1;
    uint32_t ifd = U32(p + 4);
    if (ifd < 8 || ifd > n - 2) return 1;
    unsigned count = U16(p + ifd);
    for (unsigned i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + 12 * (size_t)i;
        if (e + 12 > n) break;
        if (U16(p + e) != 0x0112) continue;
        unsigned type = U16(p + e + 2);
        uint32_t num = U32(p + e + 4), v;
        if (num != 1) return 1;
        if (type == 3) v = U16(p + e + 8);
        else if (type == 4) v = U32(p + e + 8);
        else return 1;
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
#undef U16
#undef U32
}

int attx_image_apply_orientation(attx_image *img, attx_error *err)
{
    const int o = img->orientation;
    img->orientation = 1;
    if (o <= 1 || o > 8 || !img->rgb) return 0;
    const int W = img->width, H = img->height, swap = o >= 5;
    const int OW = swap ? H : W, OH = swap ? W : H;
    uint8_t *out = malloc((size_t)W * (size_t)H * 3);
    if (!out) return attx_fail(err, "out of memory turning a %d x %d image", W, H);
    for (int i = 0; i < OH; i++) {
        for (int j = 0; j < OW; j++) {
            int sy, sx;   /* the source pixel of output row i, column j */
            switch (o) {
            case 2: sy = i; sx = W - 1 - j; break;
            case 3: sy = H - 1 - i; sx = W - 1 - j; break;
            case 4: sy = H - 1 - i; sx = j; break;
            case 5: sy = j; sx = i; break;
            case 6: sy = H - 1 - j; sx = i; break;
            case 7: sy = H - 1 - j; sx = W - 1 - i; break;
            default: sy = j; sx = W - 1 - i; break;   /* 8 */
            }
            memcpy(out + ((size_t)i * OW + j) * 3, img->rgb + ((size_t)sy * W + sx) * 3, 3);
        }
    }
    free(img->rgb);
    img->rgb = out;
    img->width = OW;
    img->height = OH;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The pixel limit                                                                             */

#define PIXELS_ENV "ATTX_MAX_IMAGE_PIXELS"
#define MOST_PIXELS ((uint64_t)ATTX_IMAGE_MAX_SIDE * ATTX_IMAGE_MAX_SIDE)

static _Atomic uint64_t pixels_set;   /* attx_image_set_max_pixels; 0: not set */

int attx_image_set_max_pixels(uint64_t max_pixels, attx_error *err)
{
    if (max_pixels > MOST_PIXELS)
        return attx_fail(err, "an image pixel limit of %llu is more than %llu (%d x %d)",
                         (unsigned long long)max_pixels, (unsigned long long)MOST_PIXELS, ATTX_IMAGE_MAX_SIDE,
                         ATTX_IMAGE_MAX_SIDE);
    atomic_store(&pixels_set, max_pixels);
    return 0;
}

int attx_image_max_pixels(uint64_t *max_pixels, attx_error *err)
{
    uint64_t set = atomic_load(&pixels_set);
    const char *env = getenv(PIXELS_ENV);
    *max_pixels = set ? set : ATTX_IMAGE_MAX_PIXELS;
    if (set || !env || !*env) return 0;
    uint64_t v = 0;
    const char *c = env;
    for (; *c >= '0' && *c <= '9' && v <= MOST_PIXELS; c++) v = 10 * v + (uint64_t)(*c - '0');
    if (*c || v < 1 || v > MOST_PIXELS)
        return attx_fail(err, PIXELS_ENV " is '%.40s'; it must be a whole number of pixels from 1 to %llu", env,
                         (unsigned long long)MOST_PIXELS);
    *max_pixels = v;
    return 0;
}

/* The size check every format makes from its header, before pixel data. */
static int check_size(uint64_t width, uint64_t height, uint64_t max_pixels, const char *name, attx_error *err)
{
    if (width == 0 || height == 0)
        return attx_fail(err, "%s: image has no pixels (%llu x %llu)", name,
                         (unsigned long long)width, (unsigned long long)height);
    if (width > ATTX_IMAGE_MAX_SIDE || height > ATTX_IMAGE_MAX_SIDE)
        return attx_fail(err, "%s: image is %llu x %llu pixels; attx reads at most %d pixels per side", name,
                         (unsigned long long)width, (unsigned long long)height, ATTX_IMAGE_MAX_SIDE);
    if (width * height > max_pixels)
        return attx_fail(err, "%s: image is %llu x %llu = %llu pixels, more than the %llu attx decodes (" PIXELS_ENV
                         " sets the limit)", name, (unsigned long long)width, (unsigned long long)height,
                         (unsigned long long)(width * height), (unsigned long long)max_pixels);
    return 0;
}

static int alloc_rgb(attx_image *img, int width, int height, const char *name, attx_error *err)
{
    img->rgb = malloc((size_t)width * (size_t)height * 3);
    if (!img->rgb) return attx_fail(err, "%s: out of memory for a %d x %d image", name, width, height);
    img->width = width;
    img->height = height;
    img->orientation = 1;
    return 0;
}

#ifndef ATTX_NO_CODECS
/* ------------------------------------------------------------------------------------------ */
/* PNG                                                                                         */

struct png_job {
    png_structp png;
    png_infop info;
    const unsigned char *data;
    size_t size, pos;
    uint64_t max_pixels;
    char msg[256];               /* libpng's error message */
    int too_large;               /* set by png_run when the header fails check_size */
    png_uint_32 width, height;
    int color_type, bit_depth;
    int orientation;
    size_t rowbytes;
    int channels;                /* after the transforms: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
    int depth;                   /* 8 or 16 after the transforms */
    unsigned char *buf;          /* one row, or height rows of an interlaced image */
    png_bytep *rows;
    uint8_t *rgb;                /* the output, [height, width, 3] */
};

static void png_error_cb(png_structp png, png_const_charp msg)
{
    struct png_job *job = png_get_error_ptr(png);
    snprintf(job->msg, sizeof job->msg, "%s", msg ? msg : "error");
    png_longjmp(png, 1);
}

static void png_warning_cb(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;   /* warnings (e.g. a bad CRC in an ancillary chunk, which is skipped) are ignored */
}

static void png_read_cb(png_structp png, png_bytep out, size_t n)
{
    struct png_job *job = png_get_io_ptr(png);
    if (n > job->size - job->pos) png_error(png, "file is truncated");
    memcpy(out, job->data + job->pos, n);
    job->pos += n;
}

/* One decoded row (after png_run's transforms) into output row y. */
static void png_row_to_rgb(const struct png_job *job, const unsigned char *row, size_t y)
{
    const int c = job->channels, gray = c <= 2;
    unsigned char *out = job->rgb + y * (size_t)job->width * 3;
    for (size_t x = 0; x < job->width; x++, out += 3) {
        if (job->depth == 16) {   /* 16-bit gray, big-endian: PIL's mode "I" clipped */
            unsigned v = (unsigned)row[2 * x * c] << 8 | row[2 * x * c + 1];
            out[0] = out[1] = out[2] = (unsigned char)(v > 255 ? 255 : v);
        } else if (gray) {
            out[0] = out[1] = out[2] = row[x * c];
        } else {
            out[0] = row[x * c];
            out[1] = row[x * c + 1];
            out[2] = row[x * c + 2];
        }
    }
}

/* Every libpng call; returns 0, or -1 after a libpng error (job->msg) or a size refusal
 * (job->too_large). A non-interlaced image is decoded row by row into the output; an
 * interlaced one needs all its rows at once (each pass fills some of every row). */
static int png_run(struct png_job *job)
{
    if (setjmp(png_jmpbuf(job->png))) return -1;
    png_set_read_fn(job->png, job, png_read_cb);
    png_read_info(job->png, job->info);
    int interlace;
    png_get_IHDR(job->png, job->info, &job->width, &job->height, &job->bit_depth,
                 &job->color_type, &interlace, NULL, NULL);
    if (check_size(job->width, job->height, job->max_pixels, "", NULL) != 0) {
        job->too_large = 1;
        return -1;
    }
    png_uint_32 exif_len = 0;
    png_bytep exif = NULL;
    if (png_get_eXIf_1(job->png, job->info, &exif_len, &exif) && exif)
        job->orientation = exif_orientation(exif, exif_len);
    if (job->color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(job->png);
    if (job->color_type == PNG_COLOR_TYPE_GRAY && job->bit_depth < 8)
        png_set_expand_gray_1_2_4_to_8(job->png);
    /* 16-bit gray stays 16-bit (PIL clips it, see attx_engine.h); the rest keeps its high byte */
    if (job->bit_depth == 16 && job->color_type != PNG_COLOR_TYPE_GRAY) png_set_strip_16(job->png);
    png_set_interlace_handling(job->png);
    png_read_update_info(job->png, job->info);
    job->rowbytes = png_get_rowbytes(job->png, job->info);
    job->channels = png_get_channels(job->png, job->info);
    job->depth = png_get_bit_depth(job->png, job->info);
    if (job->channels < 1 || job->channels > 4 || (job->depth != 8 && job->depth != 16) ||
        job->rowbytes < (size_t)job->width * (size_t)job->channels * (size_t)(job->depth / 8))
        png_error(job->png, "unexpected pixel layout after expansion");
    const size_t n_rows = interlace == PNG_INTERLACE_NONE ? 1 : job->height;
    job->rgb = malloc((size_t)job->width * job->height * 3);
    job->buf = malloc(job->rowbytes * n_rows);
    job->rows = malloc(sizeof *job->rows * n_rows);
    if (!job->rgb || !job->buf || !job->rows) png_error(job->png, "out of memory");
    for (size_t y = 0; y < n_rows; y++) job->rows[y] = job->buf + y * job->rowbytes;
    if (n_rows == 1) {
        for (size_t y = 0; y < job->height; y++) {
            png_read_row(job->png, job->buf, NULL);
            png_row_to_rgb(job, job->buf, y);
        }
    } else {
        png_read_image(job->png, job->rows);
        for (size_t y = 0; y < job->height; y++) png_row_to_rgb(job, job->rows[y], y);
    }
    /* The chunks after the image data (up to IEND) are not read: PIL does not need them either. */
    return 0;
}

/* The chunks before the image data must fit in the file. libpng (1.6.39) allocates an
 * ancillary chunk's declared length before reading it: a 237-byte file whose tEXt chunk
 * declared 1.7 GB took 1.7 GB of memory before the read found the file short (found by
 * fuzzing). The chunks after the first IDAT are not read (see png_run). */
static int png_check_chunks(const unsigned char *data, size_t size, const char *name, attx_error *err)
{
    size_t at = 8;                                      /* after the signature */
    while (at + 8 <= size) {
        uint64_t length = (uint64_t)data[at] << 24 | (uint64_t)data[at + 1] << 16 | (uint64_t)data[at + 2] << 8 | data[at + 3];
        const unsigned char *type = data + at + 4;
        if (memcmp(type, "IDAT", 4) == 0 || memcmp(type, "IEND", 4) == 0) return 0;
        size_t left = size - (at + 8);                  /* after the length and type */
        if (length + 4 > left) {                        /* the data and its CRC */
            char t[5];
            for (int k = 0; k < 4; k++) t[k] = type[k] >= 32 && type[k] < 127 ? (char)type[k] : '?';
            t[4] = '\0';
            return attx_fail(err, "%s: invalid PNG: chunk %s declares %llu bytes, the file has %zu left", name, t,
                             (unsigned long long)length, left);
        }
        at += 12 + (size_t)length;
    }
    return 0;                                           /* short: libpng says so */
}

static int decode_png(attx_image *img, const unsigned char *data, size_t size, uint64_t max_pixels,
                      const char *name, attx_error *err)
{
    if (png_check_chunks(data, size, name, err) != 0) return -1;
    struct png_job job;
    memset(&job, 0, sizeof job);
    job.data = data;
    job.size = size;
    job.max_pixels = max_pixels;
    job.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job, png_error_cb, png_warning_cb);
    if (!job.png) return attx_fail(err, "%s: out of memory", name);
    job.info = png_create_info_struct(job.png);
    if (!job.info) {
        png_destroy_read_struct(&job.png, NULL, NULL);
        return attx_fail(err, "%s: out of memory", name);
    }
    int rc = png_run(&job);
    if (rc != 0) {
        if (job.too_large) check_size(job.width, job.height, max_pixels, name, err);
        else attx_fail(err, "%s: invalid PNG: %s", name, job.msg);
        free(job.rgb);
    } else {
        img->rgb = job.rgb;
        img->width = (int)job.width;
        img->height = (int)job.height;
        img->orientation = job.orientation ? job.orientation : 1;
    }
    free(job.rows);
    free(job.buf);
    png_destroy_read_struct(&job.png, &job.info, NULL);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* JPEG                                                                                        */

struct jpeg_job {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr jerr;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX + 64];
    int too_large;
    uint64_t max_pixels;
    int unsupported;             /* CMYK, YCCK or another colour space attx does not convert */
    int orientation;
    const unsigned char *data;
    size_t size;
    attx_image *img;
    const char *name;
    attx_error *err;
};

/* Progressive files can hold any number of scans; a crafted one with very many would take
 * very long to decode (djpeg's -maxscans guards the same). */
enum { JPEG_MAX_SCANS = 1000 };

static void jpeg_error_exit_cb(j_common_ptr cinfo)
{
    struct jpeg_job *job = (struct jpeg_job *)cinfo->client_data;
    char text[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, text);
    snprintf(job->msg, sizeof job->msg, "%s", text);
    longjmp(job->jump, 1);
}

/* Warnings (msg_level -1) are errors, except stray bytes between markers, which PIL accepts as
 * libjpeg does. Trace messages (msg_level >= 0) are dropped. Nothing is printed. */
static void jpeg_emit_message_cb(j_common_ptr cinfo, int msg_level)
{
    if (msg_level >= 0) return;
    if (cinfo->err->msg_code == JWRN_EXTRANEOUS_DATA) return;
    jpeg_error_exit_cb(cinfo);
}

static void jpeg_output_message_cb(j_common_ptr cinfo)
{
    (void)cinfo;
}

static void jpeg_progress_cb(j_common_ptr cinfo)
{
    struct jpeg_job *job = (struct jpeg_job *)cinfo->client_data;
    if (cinfo->is_decompressor && job->cinfo.input_scan_number > JPEG_MAX_SCANS) {
        snprintf(job->msg, sizeof job->msg, "more than %d scans", JPEG_MAX_SCANS);
        longjmp(job->jump, 1);
    }
}

static int jpeg_run(struct jpeg_job *job)
{
    if (setjmp(job->jump)) return -1;
    jpeg_create_decompress(&job->cinfo);
    job->cinfo.client_data = job;
    job->cinfo.progress = &job->progress;
    jpeg_mem_src(&job->cinfo, job->data, (unsigned long)job->size);
    jpeg_save_markers(&job->cinfo, JPEG_APP0 + 1, 0xffff);
    jpeg_read_header(&job->cinfo, TRUE);
    job->orientation = 1;
    for (jpeg_saved_marker_ptr m = job->cinfo.marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && memcmp(m->data, "Exif\0\0", 6) == 0) {
            job->orientation = exif_orientation(m->data, m->data_length);
            break;   /* the first Exif block counts, as in PIL */
        }
    if (check_size(job->cinfo.image_width, job->cinfo.image_height, job->max_pixels, "", NULL) != 0) {
        job->too_large = 1;
        return -1;
    }
    switch (job->cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: job->cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_YCbCr:
    case JCS_RGB: job->cinfo.out_color_space = JCS_RGB; break;
    default:
        job->unsupported = 1;
        return -1;
    }
    jpeg_start_decompress(&job->cinfo);
    int w = (int)job->cinfo.output_width, h = (int)job->cinfo.output_height;
    int c = job->cinfo.output_components;
    if ((c != 1 && c != 3) || w != (int)job->cinfo.image_width || h != (int)job->cinfo.image_height) {
        snprintf(job->msg, sizeof job->msg, "unexpected output layout (%d components)", c);
        return -1;
    }
    if (alloc_rgb(job->img, w, h, job->name, job->err) != 0) {
        snprintf(job->msg, sizeof job->msg, "out of memory");
        return -1;
    }
    while (job->cinfo.output_scanline < job->cinfo.output_height) {
        unsigned char *row = job->img->rgb + (size_t)job->cinfo.output_scanline * (size_t)w * 3;
        JSAMPROW rows[1] = {row};
        if (jpeg_read_scanlines(&job->cinfo, rows, 1) != 1) {
            snprintf(job->msg, sizeof job->msg, "decoder stopped early");
            return -1;
        }
        if (c == 1)   /* gray decoded into the row's first third: spread it out, last first */
            for (int x = w - 1; x >= 0; x--) row[3 * x] = row[3 * x + 1] = row[3 * x + 2] = row[x];
    }
    jpeg_finish_decompress(&job->cinfo);
    job->img->orientation = job->orientation;
    return 0;
}

static int decode_jpeg(attx_image *img, const unsigned char *data, size_t size, uint64_t max_pixels,
                       const char *name, attx_error *err)
{
    struct jpeg_job *job = calloc(1, sizeof *job);
    if (!job) return attx_fail(err, "%s: out of memory", name);
    job->data = data;
    job->size = size;
    job->max_pixels = max_pixels;
    job->img = img;
    job->name = name;
    job->err = err;
    job->cinfo.err = jpeg_std_error(&job->jerr);
    job->jerr.error_exit = jpeg_error_exit_cb;
    job->jerr.emit_message = jpeg_emit_message_cb;
    job->jerr.output_message = jpeg_output_message_cb;
    job->progress.progress_monitor = jpeg_progress_cb;
    /* client_data is set inside jpeg_run, after jpeg_create_decompress clears the struct; an
     * error before that (a library version mismatch) still finds the job through this: */
    job->cinfo.client_data = job;
    int rc = jpeg_run(job);
    if (rc != 0) {
        attx_image_free(img);
        if (job->too_large)
            check_size(job->cinfo.image_width, job->cinfo.image_height, max_pixels, name, err);
        else if (job->unsupported)
            attx_fail(err, "%s: JPEG colour space %s is not supported (attx reads gray, YCbCr and "
                      "RGB JPEG files)", name,
                      job->cinfo.jpeg_color_space == JCS_CMYK ? "CMYK"
                      : job->cinfo.jpeg_color_space == JCS_YCCK ? "YCCK" : "(unknown)");
        else
            attx_fail(err, "%s: invalid JPEG: %s", name, job->msg);
    }
    jpeg_destroy_decompress(&job->cinfo);
    free(job);
    return rc;
}
#else
static int decode_png(attx_image *img, const unsigned char *data, size_t size, uint64_t max_pixels,
                      const char *name, attx_error *err)
{
    (void)img, (void)data, (void)size, (void)max_pixels;
    return attx_fail(err, "%s: this build reads no PNG (only PPM/PGM)", name);
}

static int decode_jpeg(attx_image *img, const unsigned char *data, size_t size, uint64_t max_pixels,
                       const char *name, attx_error *err)
{
    (void)img, (void)data, (void)size, (void)max_pixels;
    return attx_fail(err, "%s: this build reads no JPEG (only PPM/PGM)", name);
}
#endif

/* ------------------------------------------------------------------------------------------ */
/* PPM (P6) and PGM (P5)                                                                       */

static int pnm_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* One header number: whitespace and '#' comments (to the end of the line) before it, then
 * decimal digits ended by one whitespace byte, which is consumed (after maxval the pixel data
 * starts right after it). As in Netpbm, a comment may follow the digits directly; the end of
 * its line is then the separator. */
static int pnm_number(const unsigned char *p, size_t size, size_t *pos, const char *what,
                      uint64_t *out, const char *name, attx_error *err)
{
    size_t i = *pos;
    for (;;) {
        while (i < size && pnm_space(p[i])) i++;
        if (i < size && p[i] == '#') {
            while (i < size && p[i] != '\n' && p[i] != '\r') i++;
            continue;
        }
        break;
    }
    if (i >= size) return attx_fail(err, "%s: PNM header is truncated before the %s", name, what);
    uint64_t v = 0;
    size_t start = i;
    while (i < size && p[i] >= '0' && p[i] <= '9') {
        if (i - start >= 10) return attx_fail(err, "%s: PNM %s is too long", name, what);
        v = v * 10 + (uint64_t)(p[i] - '0');
        i++;
    }
    if (i == start) return attx_fail(err, "%s: PNM %s is not a number", name, what);
    if (i < size && p[i] == '#')   /* a comment ends the number; its line end is the separator */
        while (i < size && p[i] != '\n' && p[i] != '\r') i++;
    if (i >= size) return attx_fail(err, "%s: PNM header is truncated after the %s", name, what);
    if (!pnm_space(p[i]))
        return attx_fail(err, "%s: PNM %s is followed by 0x%02x, not whitespace", name, what, p[i]);
    *pos = i + 1;
    *out = v;
    return 0;
}

static int decode_pnm(attx_image *img, const unsigned char *p, size_t size, uint64_t max_pixels,
                      const char *name, attx_error *err)
{
    if (p[1] != '5' && p[1] != '6')
        return attx_fail(err, "%s: PNM kind P%c is not supported (attx reads binary PGM P5 and PPM P6)",
                         name, p[1]);
    const int channels = p[1] == '6' ? 3 : 1;
    size_t pos = 2;
    uint64_t width, height, maxval;
    if (pnm_number(p, size, &pos, "width", &width, name, err) != 0 ||
        pnm_number(p, size, &pos, "height", &height, name, err) != 0 ||
        pnm_number(p, size, &pos, "maxval", &maxval, name, err) != 0)
        return -1;
    if (check_size(width, height, max_pixels, name, err) != 0) return -1;
    if (maxval < 1 || maxval > 65535)
        return attx_fail(err, "%s: PNM maxval is %llu, expected 1..65535", name, (unsigned long long)maxval);
    const size_t bytes_per_sample = maxval > 255 ? 2 : 1;
    const size_t n = (size_t)width * (size_t)height * (size_t)channels;
    if (size - pos < n * bytes_per_sample)
        return attx_fail(err, "%s: PNM pixel data is truncated (%zu of %zu bytes)", name, size - pos,
                         n * bytes_per_sample);
    /* Sample map (PIL 9.x PpmImagePlugin): a lookup table over every possible sample value. */
    uint8_t *lut = malloc(maxval + 1);
    if (!lut) return attx_fail(err, "%s: out of memory", name);
    const int pgm16 = channels == 1 && maxval > 255;
    for (uint64_t v = 0; v <= maxval; v++) {
        double r;
        if (maxval == 255) r = (double)v;
        else if (pgm16) r = rint((double)v / (double)maxval * 65535.0);   /* mode "I", then clipped */
        else r = rint((double)v / (double)maxval * 255.0);
        lut[v] = (uint8_t)(r > 255.0 ? 255.0 : r);
    }
    if (alloc_rgb(img, (int)width, (int)height, name, err) != 0) {
        free(lut);
        return -1;
    }
    const unsigned char *src = p + pos;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = bytes_per_sample == 2 ? ((uint64_t)src[2 * i] << 8 | src[2 * i + 1]) : src[i];
        uint8_t u = v > maxval ? 255 : lut[v];   /* PIL: min(255, round(v / maxval * 255)) */
        if (channels == 3) img->rgb[i] = u;
        else img->rgb[3 * i] = img->rgb[3 * i + 1] = img->rgb[3 * i + 2] = u;
    }
    free(lut);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */

int attx_image_decode(attx_image *img, const void *bytes, size_t size, const char *name,
                      attx_error *err)
{
    img->rgb = NULL;
    img->width = img->height = 0;
    img->orientation = 1;
    if (!name) name = "(image)";
    const unsigned char *p = bytes;
    if (size == 0) return attx_fail(err, "%s: empty file, not an image", name);
    uint64_t max_pixels;
    if (attx_image_max_pixels(&max_pixels, err) != 0) return attx_fail_prefix(err, "%s", name);
    switch (attx_image_detect(bytes, size)) {
    case ATTX_IMAGE_PNG: return decode_png(img, p, size, max_pixels, name, err);
    case ATTX_IMAGE_JPEG: return decode_jpeg(img, p, size, max_pixels, name, err);
    case ATTX_IMAGE_PNM: return decode_pnm(img, p, size, max_pixels, name, err);
    case ATTX_IMAGE_UNKNOWN: break;
    }
    const char *kind = NULL;
    if (size >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0)) kind = "GIF";
    else if (size >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0) kind = "WebP";
    else if (size >= 2 && p[0] == 'B' && p[1] == 'M') kind = "BMP";
    else if (size >= 4 && (memcmp(p, "II*\0", 4) == 0 || memcmp(p, "MM\0*", 4) == 0)) kind = "TIFF";
    if (kind)
        return attx_fail(err, "%s: %s images are not supported (attx reads PNG, JPEG, PPM and PGM)",
                         name, kind);
    return attx_fail(err, "%s: not an image file (PNG, JPEG, PPM or PGM expected)", name);
}

int attx_image_load(attx_image *img, const char *path, attx_error *err)
{
    img->rgb = NULL;
    img->width = img->height = 0;
    img->orientation = 1;
    void *map;
    size_t len;
    if (attx_map_file(path, &map, &len, err) != 0) return -1;
    int rc = attx_image_decode(img, map, len, path, err);
    attx_unmap_file(map, len);
    return rc;
}
