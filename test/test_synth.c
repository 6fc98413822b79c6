/* test_synth.c — the synthetic concept benchmark and the image pieces of training: the
 * generator is deterministic, its textures have the structure their names claim (measured by
 * a structure tensor and connected components, independent of how they were drawn), the PNG
 * writer round-trips through the decoder, the image-folder reader, `attx synth`'s layout, and
 * `attx train --arch vit` end to end with `attx predict` reading the model it writes. */
#include "testutil.h"

#include "attx_engine.h"

#include <dirent.h>
#include <math.h>

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = tu_mkdtemp();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmdir(dir);
    return 0;
}

static attx_image synth(attx_synth_kind kind, int size, uint64_t seed, uint64_t index)
{
    attx_image img;
    attx_error err;
    if (attx_synth_image(&img, kind, size, seed, index, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(img.width, size);
    assert_int_equal(img.height, size);
    return img;
}

static uint32_t pixel(const attx_image *img, int x, int y)
{
    const uint8_t *p = img->rgb + 3 * ((size_t)y * (size_t)img->width + (size_t)x);
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

/* The distinct colours of an image (at most cap of them; returns how many, up to cap + 1) and
 * how many pixels have each. */
static int colours(const attx_image *img, uint32_t *col, int *count, int cap)
{
    int n = 0;
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++) {
            uint32_t c = pixel(img, x, y);
            int k = 0;
            while (k < n && col[k] != c) k++;
            if (k == n) {
                if (n == cap) return cap + 1;
                col[n] = c;
                count[n++] = 0;
            }
            count[k]++;
        }
    return n;
}

/* Coherence of the structure tensor of the binary map b (1 where the pixel has colour c),
 * from central differences, over pixels whose 4 neighbours all satisfy mask (NULL: all):
 * sqrt((Jxx − Jyy)² + 4 Jxy²) / (Jxx + Jyy), 1 for one orientation, 0 for none dominant. */
static double coherence(const attx_image *img, uint32_t c, const uint32_t *not_bg)
{
    double jxx = 0, jyy = 0, jxy = 0;
    for (int y = 1; y + 1 < img->height; y++)
        for (int x = 1; x + 1 < img->width; x++) {
            if (not_bg && (pixel(img, x, y) == *not_bg || pixel(img, x - 1, y) == *not_bg ||
                           pixel(img, x + 1, y) == *not_bg || pixel(img, x, y - 1) == *not_bg ||
                           pixel(img, x, y + 1) == *not_bg))
                continue;
            double gx = (pixel(img, x + 1, y) == c) - (double)(pixel(img, x - 1, y) == c);
            double gy = (pixel(img, x, y + 1) == c) - (double)(pixel(img, x, y - 1) == c);
            jxx += gx * gx;
            jyy += gy * gy;
            jxy += gx * gy;
        }
    return jxx + jyy > 0 ? sqrt((jxx - jyy) * (jxx - jyy) + 4 * jxy * jxy) / (jxx + jyy) : 0;
}

/* 4-connected components of the pixels of colour c: how many, and the largest (pixels). */
static void components(const attx_image *img, uint32_t c, int *n, int *largest)
{
    int W = img->width, H = img->height;
    int *seen = calloc((size_t)W * H, sizeof *seen), *stack = malloc((size_t)W * H * sizeof *stack);
    *n = 0;
    *largest = 0;
    for (int start = 0; start < W * H; start++) {
        if (seen[start] || pixel(img, start % W, start / W) != c) continue;
        int top = 0, size = 0;
        stack[top++] = start;
        seen[start] = 1;
        while (top) {
            int p = stack[--top], x = p % W, y = p / W;
            size++;
            const int nx[4] = {x - 1, x + 1, x, x}, ny[4] = {y, y, y - 1, y + 1};
            for (int k = 0; k < 4; k++) {
                if (nx[k] < 0 || ny[k] < 0 || nx[k] >= W || ny[k] >= H) continue;
                int q = ny[k] * W + nx[k];
                if (!seen[q] && pixel(img, nx[k], ny[k]) == c) {
                    seen[q] = 1;
                    stack[top++] = q;
                }
            }
        }
        (*n)++;
        if (size > *largest) *largest = size;
    }
    free(seen);
    free(stack);
}

static void test_deterministic(void **state)
{
    (void)state;
    for (int k = 0; k < ATTX_SYNTH_KINDS; k++) {
        attx_image a = synth((attx_synth_kind)k, 40, 7, 3), b = synth((attx_synth_kind)k, 40, 7, 3);
        attx_image c = synth((attx_synth_kind)k, 40, 8, 3), d = synth((attx_synth_kind)k, 40, 7, 4);
        size_t bytes = (size_t)40 * 40 * 3;
        assert_memory_equal(a.rgb, b.rgb, bytes);                /* same seed and index: same image */
        assert_memory_not_equal(a.rgb, c.rgb, bytes);            /* another seed */
        assert_memory_not_equal(a.rgb, d.rgb, bytes);            /* another index */
        /* and the same PNG bytes */
        char *pa = tu_path(dir, "a.png"), *pb = tu_path(dir, "b.png");
        attx_error err;
        if (attx_image_save_png(&a, pa, &err) != 0 || attx_image_save_png(&b, pb, &err) != 0) fail_msg("%s", err.msg);
        size_t la, lb;
        char *fa = tu_read(pa, &la), *fb = tu_read(pb, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(fa, fb, la);
        free(fa);
        free(fb);
        free(pa);
        free(pb);
        attx_image_free(&a);
        attx_image_free(&b);
        attx_image_free(&c);
        attx_image_free(&d);
    }
    attx_image img;
    attx_error err;
    assert_int_equal(attx_synth_image(&img, ATTX_SYNTH_KINDS, 48, 1, 0, &err), -1);
    assert_int_equal(attx_synth_image(&img, ATTX_SYNTH_ZEBRA, 4, 1, 0, &err), -1);
    assert_non_null(strstr(err.msg, "size"));
    assert_string_equal(attx_synth_name(ATTX_SYNTH_ZIGZAGGED), "zigzagged");
    assert_null(attx_synth_name(ATTX_SYNTH_KINDS));
}

/* Measured over 40 images of each texture at 48 px (the thresholds leave room on both sides of
 * what the generator gives; the measures know nothing of its parameters). */
static void test_textures(void **state)
{
    (void)state;
    for (uint64_t i = 0; i < 40; i++) {
        uint32_t col[4];
        int count[4], n, largest;
        /* striped: two colours, one dominant orientation, stripes that run across the image */
        attx_image s = synth(ATTX_SYNTH_STRIPED, 48, 5, i);
        assert_int_equal(colours(&s, col, count, 3), 2);
        double cs = coherence(&s, col[0], NULL);
        if (cs < 0.6) fail_msg("striped image %d: coherence %.3f", (int)i, cs);
        components(&s, col[0], &n, &largest);
        assert_true(largest >= 100);
        /* dotted: the minority colour is many small blobs, with no orientation */
        attx_image d = synth(ATTX_SYNTH_DOTTED, 48, 5, i);
        assert_int_equal(colours(&d, col, count, 3), 2);
        uint32_t dots = count[0] < count[1] ? col[0] : col[1], ground = count[0] < count[1] ? col[1] : col[0];
        components(&d, dots, &n, &largest);
        if (n < 10 || largest > 45) fail_msg("dotted image %d: %d blobs, the largest %d pixels", (int)i, n, largest);
        assert_true(coherence(&d, dots, NULL) < 0.15);
        components(&d, ground, &n, &largest);
        assert_true(largest > 0.95 * (count[0] + count[1] - (dots == col[0] ? count[0] : count[1])));
                                                                  /* the ground is connected (but at the borders) */
        /* chequered: half and half, edges in two orthogonal orientations equally */
        attx_image c = synth(ATTX_SYNTH_CHEQUERED, 48, 5, i);
        assert_int_equal(colours(&c, col, count, 3), 2);
        assert_true(count[0] > 0.4 * 48 * 48 && count[1] > 0.4 * 48 * 48);
        assert_true(coherence(&c, col[0], NULL) < 0.15);
        /* zigzagged: half and half, orientation split between the zig and the zag */
        attx_image z = synth(ATTX_SYNTH_ZIGZAGGED, 48, 5, i);
        assert_int_equal(colours(&z, col, count, 3), 2);
        assert_true(count[0] > 0.4 * 48 * 48 && count[1] > 0.4 * 48 * 48);
        double cz = coherence(&z, col[0], NULL);
        if (cz > 0.6) fail_msg("zigzagged image %d: coherence %.3f", (int)i, cz);
        attx_image_free(&s);
        attx_image_free(&d);
        attx_image_free(&c);
        attx_image_free(&z);
    }
}

/* P1's colour concepts: every pixel (I,0,0), (0,I,0), (0,0,I) or (I,I,0), I = randint(60, 250) */
static void test_solid_colours(void **state)
{
    (void)state;
    static const int pattern[4][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 0}};
    for (int k = 0; k < 4; k++) {
        int lo = 256, hi = -1;
        for (uint64_t i = 0; i < 300; i++) {
            attx_image img = synth((attx_synth_kind)(ATTX_SYNTH_RED + k), 16, 2, i);
            uint32_t col[2];
            int count[2];
            assert_int_equal(colours(&img, col, count, 1), 1);
            int I = -1;
            for (int ch = 0; ch < 3; ch++) {
                int v = img.rgb[ch];
                if (!pattern[k][ch]) assert_int_equal(v, 0);
                else if (I < 0) I = v;
                else assert_int_equal(v, I);
            }
            assert_true(I >= 60 && I <= 250);
            lo = I < lo ? I : lo;
            hi = I > hi ? I : hi;
            attx_image_free(&img);
        }
        assert_true(lo < 70 && hi > 240);   /* the whole range is drawn */
    }
}

/* A silhouette image has exactly three colours: the background (the corner pixel, *bg, on
 * *bg_pixels pixels) and the texture's two inside. Returns the rarer of the inside two. */
static uint32_t inner_minor_colour(const attx_image *img, uint32_t *bg, int *bg_pixels)
{
    uint32_t col[4];
    int count[4];
    assert_int_equal(colours(img, col, count, 3), 3);
    *bg = pixel(img, 0, 0);
    int b = col[0] == *bg ? 0 : col[1] == *bg ? 1 : 2, i1 = (b + 1) % 3, i2 = (b + 2) % 3;
    if (bg_pixels) *bg_pixels = count[b];
    return count[i1] < count[i2] ? col[i1] : col[i2];
}

/* Animals: a plain background (the corner colour) covering most of the image, a silhouette in
 * two other colours; zebra's inside has one orientation, dalmatian's is small blobs. */
static void test_animals(void **state)
{
    (void)state;
    for (uint64_t i = 0; i < 40; i++) {
        for (int k = ATTX_SYNTH_DALMATIAN; k <= ATTX_SYNTH_ZEBRA; k++) {
            attx_image img = synth((attx_synth_kind)k, 48, 9, i);
            uint32_t bg;
            int bg_pixels;
            uint32_t minor = inner_minor_colour(&img, &bg, &bg_pixels);
            double bg_frac = bg_pixels / (48.0 * 48.0);
            if (bg_frac < 0.6 || bg_frac > 0.95) fail_msg("%s %d: background %.2f", attx_synth_name(k), (int)i, bg_frac);
            int n, largest;
            components(&img, bg, &n, &largest);
            assert_int_equal(n == 1 || largest > 0.5 * 48 * 48, 1);   /* one silhouette on one ground */
            if (k == ATTX_SYNTH_ZEBRA) {
                double c = coherence(&img, minor, &bg);
                if (c < 0.6) fail_msg("zebra %d: inner coherence %.3f", (int)i, c);
            }
            if (k == ATTX_SYNTH_DALMATIAN) {
                components(&img, minor, &n, &largest);
                if (largest > 45) fail_msg("dalmatian %d: a blob of %d pixels", (int)i, largest);
                assert_true(coherence(&img, minor, &bg) < 0.3);
            }
            attx_image_free(&img);
        }
    }
}

/* Fish and snail: their inside is striped (coherent, like a zebra's) or dotted (small blobs,
 * like a dalmatian's), never anything else, and each in about half of the images (80 images of
 * each class: 40 expected, 25..55 allowed, a 3.4-sigma band). */
static void test_control_textures(void **state)
{
    (void)state;
    for (int k = ATTX_SYNTH_FISH; k <= ATTX_SYNTH_SNAIL; k++) {
        int striped = 0, dotted = 0;
        for (uint64_t i = 0; i < 80; i++) {
            attx_image img = synth((attx_synth_kind)k, 48, 9, i);
            uint32_t bg, minor = inner_minor_colour(&img, &bg, NULL);
            int n, largest;
            double c = coherence(&img, minor, &bg);
            components(&img, minor, &n, &largest);
            if (c >= 0.6) striped++;
            else if (c < 0.3 && largest <= 45) dotted++;
            else fail_msg("%s %d: neither striped nor dotted (coherence %.3f, blob %d)",
                          attx_synth_name(k), (int)i, c, largest);
            attx_image_free(&img);
        }
        if (striped < 25 || dotted < 25)
            fail_msg("%s: %d striped, %d dotted of 80", attx_synth_name(k), striped, dotted);
    }
}

/* Counterfactuals: image i of a class with another texture keeps its silhouette (the pixels in
 * the background colour are the same ones), its colours and, with the class's own texture, every
 * byte; a zebra redrawn dotted has a dalmatian's small blobs inside. Wrong kinds are refused. */
static void test_counterfactuals(void **state)
{
    (void)state;
    attx_error err;
    for (int k = ATTX_SYNTH_DALMATIAN; k <= ATTX_SYNTH_ZEBRA; k++)
        for (uint64_t i = 0; i < 20; i++) {
            attx_image own = synth((attx_synth_kind)k, 48, 9, i), cf[4];
            int same_as_own = 0;
            for (int t = 0; t < 4; t++) {
                if (attx_synth_counterfactual(&cf[t], (attx_synth_kind)k, (attx_synth_kind)(ATTX_SYNTH_STRIPED + t), 48, 9,
                                              i, &err) != 0)
                    fail_msg("%s", err.msg);
                same_as_own += memcmp(cf[t].rgb, own.rgb, (size_t)48 * 48 * 3) == 0;
                uint32_t bg = pixel(&own, 0, 0);
                assert_int_equal(pixel(&cf[t], 0, 0), bg);
                for (int y = 0; y < 48; y++)
                    for (int x = 0; x < 48; x++)
                        assert_int_equal(pixel(&cf[t], x, y) == bg, pixel(&own, x, y) == bg);
            }
            /* dalmatian is dotted, zebra striped, fish and snail one of the two: exactly one match */
            assert_int_equal(same_as_own, 1);
            if (k == ATTX_SYNTH_DALMATIAN) assert_memory_equal(cf[1].rgb, own.rgb, (size_t)48 * 48 * 3);
            if (k == ATTX_SYNTH_ZEBRA) {
                assert_memory_equal(cf[0].rgb, own.rgb, (size_t)48 * 48 * 3);
                uint32_t bg, minor = inner_minor_colour(&cf[1], &bg, NULL);
                int n, largest;
                components(&cf[1], minor, &n, &largest);
                if (largest > 45) fail_msg("zebra %d redrawn dotted: a blob of %d pixels", (int)i, largest);
            }
            for (int t = 0; t < 4; t++) attx_image_free(&cf[t]);
            attx_image_free(&own);
        }
    attx_image img;
    assert_int_equal(attx_synth_counterfactual(&img, ATTX_SYNTH_STRIPED, ATTX_SYNTH_DOTTED, 48, 9, 0, &err), -1);
    assert_non_null(strstr(err.msg, "not a class"));
    assert_null(img.rgb);
    assert_int_equal(attx_synth_counterfactual(&img, ATTX_SYNTH_FISH, ATTX_SYNTH_RED, 48, 9, 0, &err), -1);
    assert_non_null(strstr(err.msg, "not a texture"));
    assert_null(img.rgb);
}

/* PNG writer -> decoder gives the pixels back (synthetic images and an odd-sized one) */
static void test_png_roundtrip(void **state)
{
    (void)state;
    char *path = tu_path(dir, "round.png");
    attx_error err;
    for (int k = 0; k < ATTX_SYNTH_KINDS; k++) {
        attx_image img = synth((attx_synth_kind)k, 33, 11, (uint64_t)k), back;
        if (attx_image_save_png(&img, path, &err) != 0 || attx_image_load(&back, path, &err) != 0)
            fail_msg("%s", err.msg);
        assert_int_equal(back.width, 33);
        assert_int_equal(back.height, 33);
        assert_memory_equal(back.rgb, img.rgb, (size_t)33 * 33 * 3);
        attx_image_free(&img);
        attx_image_free(&back);
    }
    uint8_t rgb[7 * 3 * 3];
    uint64_t s = 3;
    for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)tu_random(&s);
    attx_image odd = {.width = 7, .height = 3, .rgb = rgb, .orientation = 1}, back;
    if (attx_image_save_png(&odd, path, &err) != 0 || attx_image_load(&back, path, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(back.width, 7);
    assert_int_equal(back.height, 3);
    assert_memory_equal(back.rgb, rgb, sizeof rgb);
    attx_image_free(&back);
    /* an unwritable path: an error naming it */
    char *bad = tu_path(dir, "no/such/folder/x.png");
    assert_int_equal(attx_image_save_png(&odd, bad, &err), -1);
    assert_non_null(strstr(err.msg, bad));
    free(bad);
    free(path);
}

static void write_synth(const char *folder, attx_synth_kind kind, int n, uint64_t seed)
{
    mkdir(folder, 0777);
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "%03d.png", i);
        char *p = tu_path(folder, name);
        attx_image img = synth(kind, 24, seed, (uint64_t)i);
        attx_error err;
        if (attx_image_save_png(&img, p, &err) != 0) fail_msg("%s", err.msg);
        attx_image_free(&img);
        free(p);
    }
}

static void test_image_folder(void **state)
{
    (void)state;
    char *root = tu_path(dir, "folder");
    mkdir(root, 0777);
    /* classes made in an order other than the sorted one */
    const char *names[3] = {"zebra", "Apple", "dalmatian"};
    const int counts[3] = {4, 2, 3};
    for (int k = 0; k < 3; k++) {
        char *sub = tu_path(root, names[k]);
        write_synth(sub, ATTX_SYNTH_ZEBRA, counts[k], (uint64_t)k);
        free(sub);
    }
    char *notes = tu_path(root, "zebra/notes.txt"), *fake = tu_path(root, "zebra/fake.png");
    char *hidden = tu_path(root, "dalmatian/.hidden.png"), *top = tu_path(root, "README");
    tu_write_str(notes, "not an image\n");
    tu_write_str(fake, "neither is this\n");
    tu_write_str(hidden, "ignored\n");
    tu_write_str(top, "a plain file beside the class folders\n");
    attx_image_folder f;
    attx_error err;
    if (attx_image_folder_read(&f, root, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(f.num_classes, 3);
    assert_string_equal(f.classes[0], "Apple");              /* byte order: upper case first */
    assert_string_equal(f.classes[1], "dalmatian");
    assert_string_equal(f.classes[2], "zebra");
    assert_int_equal(f.n, 9);
    assert_int_equal(f.n_skipped, 2);                          /* notes.txt and fake.png, by content */
    assert_non_null(strstr(f.first_skipped, "zebra/fake.png"));
    int per[3] = {0, 0, 0};
    for (size_t i = 0; i < f.n; i++) {
        per[f.labels[i]]++;
        assert_non_null(strstr(f.paths[i], f.classes[f.labels[i]]));
        if (i) assert_true(f.labels[i] > f.labels[i - 1] || strcmp(f.paths[i], f.paths[i - 1]) > 0);
    }
    assert_int_equal(per[0], 2);
    assert_int_equal(per[1], 3);
    assert_int_equal(per[2], 4);
    attx_image_folder_free(&f);
    /* errors: a class folder with no image, no class folders, no folder, a file */
    char *empty = tu_path(root, "empty");
    mkdir(empty, 0777);
    assert_int_equal(attx_image_folder_read(&f, root, &err), -1);
    assert_non_null(strstr(err.msg, "empty"));
    assert_non_null(strstr(err.msg, "no image"));
    assert_int_equal(attx_image_folder_read(&f, empty, &err), -1);
    assert_non_null(strstr(err.msg, "no class sub-folders"));
    char *missing = tu_path(root, "missing");
    assert_int_equal(attx_image_folder_read(&f, missing, &err), -1);
    assert_non_null(strstr(err.msg, "no such folder"));
    assert_int_equal(attx_image_folder_read(&f, top, &err), -1);
    assert_non_null(strstr(err.msg, "not a folder"));
    free(missing);
    free(empty);
    free(notes);
    free(fake);
    free(hidden);
    free(top);
    free(root);
}

static int count_files(const char *path)
{
    DIR *d = opendir(path);
    if (!d) fail_msg("%s: no folder", path);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_cli_synth(void **state)
{
    (void)state;
    char cmd[4200], *out, *err;
    snprintf(cmd, sizeof cmd, "%s synth %s/s1 --size 24 --per-class 5 --test-per-class 2 --concept-images 3 "
                              "--random-sets 2 --seed 4 && %s synth %s/s2 --size 24 --per-class 5 --test-per-class 2 "
                              "--concept-images 3 --random-sets 2 --seed 4 && %s synth %s/s3 --size 24 --per-class 5 "
                              "--test-per-class 2 --concept-images 3 --random-sets 2 --seed 5",
             tu_attx(), dir, tu_attx(), dir, tu_attx(), dir);
    int rc = tu_run(cmd, &out, &err);
    if (rc != 0) fail_msg("attx synth exited %d: %s", rc, err);
    assert_contains(out, "wrote 58 images of 24x24");          /* 4·(5+2) + 8·3 + 2·3 */
    free(out);
    free(err);
    static const char *classes[4] = {"dalmatian", "fish", "snail", "zebra"};
    static const char *concepts[10] = {"striped", "dotted", "zigzagged", "chequered", "red", "green", "blue",
                                       "yellow", "random_00", "random_01"};
    char path[4200];
    snprintf(path, sizeof path, "%s/s1", dir);
    assert_int_equal(count_files(path), 3);                    /* concepts test train */
    snprintf(path, sizeof path, "%s/s1/train", dir);
    assert_int_equal(count_files(path), 4);
    snprintf(path, sizeof path, "%s/s1/concepts", dir);
    assert_int_equal(count_files(path), 10);
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/s1/train/%s", dir, classes[k]);
        assert_int_equal(count_files(path), 5);
        snprintf(path, sizeof path, "%s/s1/test/%s", dir, classes[k]);
        assert_int_equal(count_files(path), 2);
    }
    for (int k = 0; k < 10; k++) {
        snprintf(path, sizeof path, "%s/s1/concepts/%s", dir, concepts[k]);
        assert_int_equal(count_files(path), 3);
    }
    /* same seed: the same bytes; another seed: other bytes; train and test images differ */
    snprintf(cmd, sizeof cmd, "diff -r %s/s1 %s/s2", dir, dir);
    assert_int_equal(tu_run(cmd, NULL, NULL), 0);
    snprintf(cmd, sizeof cmd, "cmp -s %s/s1/train/zebra/0000.png %s/s3/train/zebra/0000.png", dir, dir);
    assert_int_not_equal(tu_run(cmd, NULL, NULL), 0);
    snprintf(cmd, sizeof cmd, "cmp -s %s/s1/train/zebra/0000.png %s/s1/test/zebra/0000.png", dir, dir);
    assert_int_not_equal(tu_run(cmd, NULL, NULL), 0);
    /* a folder that is not empty is refused; bad flags are usage errors */
    snprintf(cmd, sizeof cmd, "%s synth %s/s1 --per-class 1", tu_attx(), dir);
    assert_int_equal(tu_run(cmd, NULL, &err), 1);
    assert_contains(err, "not empty");
    free(err);
    /* --counterfactuals adds the test images with each texture: a zebra's striped copy and a
     * dalmatian's dotted copy are the test images themselves, the others are not */
    snprintf(cmd, sizeof cmd, "%s synth %s/s5 --size 24 --per-class 5 --test-per-class 2 --concept-images 3 "
                              "--random-sets 2 --seed 4 --counterfactuals", tu_attx(), dir);
    rc = tu_run(cmd, &out, NULL);
    assert_int_equal(rc, 0);
    assert_contains(out, "wrote 90 images of 24x24");          /* 58 + 4 textures · 4 classes · 2 */
    free(out);
    for (int t = 0; t < 4; t++)
        for (int k = 0; k < 4; k++) {
            snprintf(path, sizeof path, "%s/s5/counterfactual/%s/%s", dir, concepts[t], classes[k]);
            assert_int_equal(count_files(path), 2);
        }
    snprintf(cmd, sizeof cmd, "diff -r %s/s1/test %s/s5/test && cmp -s %s/s5/test/zebra/0001.png "
                              "%s/s5/counterfactual/striped/zebra/0001.png && cmp -s %s/s5/test/dalmatian/0000.png "
                              "%s/s5/counterfactual/dotted/dalmatian/0000.png", dir, dir, dir, dir, dir, dir);
    assert_int_equal(tu_run(cmd, NULL, NULL), 0);
    snprintf(cmd, sizeof cmd, "cmp -s %s/s5/test/zebra/0001.png %s/s5/counterfactual/dotted/zebra/0001.png", dir, dir);
    assert_int_not_equal(tu_run(cmd, NULL, NULL), 0);
    snprintf(cmd, sizeof cmd, "%s synth %s/s4 --size 4", tu_attx(), dir);
    assert_int_equal(tu_run(cmd, NULL, NULL), 2);
    snprintf(cmd, sizeof cmd, "%s synth", tu_attx());
    assert_int_equal(tu_run(cmd, NULL, NULL), 2);
}

/* red / green / blue silhouettes are easy: a tiny ViT beats chance in two epochs, and `attx
 * predict` reads the model it writes (labels from the folder names, its preprocessor). */
static void test_cli_train_vit(void **state)
{
    (void)state;
    char *data = tu_path(dir, "rgb");
    mkdir(data, 0777);
    const char *split[2] = {"train", "dev"};
    const attx_synth_kind kinds[3] = {ATTX_SYNTH_BLUE, ATTX_SYNTH_GREEN, ATTX_SYNTH_RED};
    const char *names[3] = {"blue", "green", "red"};
    for (int s = 0; s < 2; s++) {
        char sub[4200];
        snprintf(sub, sizeof sub, "%s/%s", data, split[s]);
        mkdir(sub, 0777);
        for (int k = 0; k < 3; k++) {
            char cls[4300];
            snprintf(cls, sizeof cls, "%s/%s", sub, names[k]);
            write_synth(cls, kinds[k], s ? 6 : 16, (uint64_t)(s + 1));
        }
    }
    char cmd[8192], *out, *err;
    snprintf(cmd, sizeof cmd,
             "%s train --arch vit --data %s/train --dev %s/dev --out %s/vit.safetensors --patch 6 --layers 1 "
             "--hidden 16 --heads 2 --epochs 3 --batch 8 --lr 3e-3 --threads 1 --log %s/vit.log",
             tu_attx(), data, data, dir, dir);
    int rc = tu_run(cmd, &out, &err);
    if (rc != 0) fail_msg("attx train exited %d: %s", rc, err);
    assert_contains(err, "a new ViT for 24x24 images, patches of 6 (16 per image)");
    assert_contains(err, "48 training images in 3 classes, 18 dev images");
    assert_contains(err, "img/s");
    double acc = 0;
    const char *p = strstr(out, "best dev accuracy ");
    assert_non_null(p);
    acc = atof(p + strlen("best dev accuracy "));
    if (acc < 60) fail_msg("dev accuracy %.2f%% (chance is 33%%)", acc);
    free(out);
    free(err);
    snprintf(cmd, sizeof cmd, "%s info %s/vit.safetensors --json", tu_attx(), dir);
    assert_int_equal(tu_run(cmd, &out, NULL), 0);
    assert_contains(out, "\"labels\":[\"blue\",\"green\",\"red\"]");
    assert_contains(out, "\"class\":\"ViTForImageClassification\"");
    assert_contains(out, "attx.preprocessor");
    free(out);
    snprintf(cmd, sizeof cmd, "%s predict %s/vit.safetensors %s/dev/red/000.png --json", tu_attx(), dir, data);
    rc = tu_run(cmd, &out, &err);
    if (rc != 0) fail_msg("attx predict exited %d: %s", rc, err);
    assert_contains(out, "\"labels\":[\"blue\",\"green\",\"red\"]");
    free(out);
    free(err);
    char *log_path = tu_path(dir, "vit.log");
    size_t len;
    char *log = tu_read(log_path, &len);
    assert_contains(log, "images_per_second");
    free(log);
    free(log_path);
    /* errors: a text model's flags on images, a folder without classes, a dev class the model lacks */
    snprintf(cmd, sizeof cmd, "%s train --arch vit --data %s/train --dev %s/dev --out %s/x.safetensors --vocab v.txt",
             tu_attx(), data, data, dir);
    assert_int_equal(tu_run(cmd, NULL, &err), 2);
    assert_contains(err, "image folder");
    free(err);
    snprintf(cmd, sizeof cmd, "%s train --arch vit --data %s/train/red --dev %s/dev --out %s/x.safetensors",
             tu_attx(), data, data, dir);
    assert_int_equal(tu_run(cmd, NULL, &err), 1);
    assert_contains(err, "no class sub-folders");
    free(err);
    snprintf(cmd, sizeof cmd, "mkdir -p %s/dev2/purple && cp %s/dev/red/000.png %s/dev2/purple/ && "
                              "%s train --arch vit --data %s/train --dev %s/dev2 --out %s/x.safetensors --threads 1",
             data, data, data, tu_attx(), data, data, dir);
    assert_int_equal(tu_run(cmd, NULL, &err), 1);
    assert_contains(err, "'purple' is not one of the model's classes");
    free(err);
    free(data);
}

/* ViT dropout: off (inference) the forward pass does not depend on the dropout seed; on, it
 * changes the logits; with p = 0 on and off agree. */
static void test_vit_dropout(void **state)
{
    (void)state;
    const char *fmt = "{\"model_type\": \"vit\", \"image_size\": 12, \"patch_size\": 4, \"hidden_size\": 8,"
                      " \"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"intermediate_size\": 16,"
                      " \"hidden_dropout_prob\": %g, \"attention_probs_dropout_prob\": %g,"
                      " \"id2label\": {\"0\": \"a\", \"1\": \"b\"}}";
    float pixels[3 * 12 * 12];
    uint64_t s = 5;
    for (size_t i = 0; i < sizeof pixels / sizeof pixels[0]; i++) pixels[i] = (float)(tu_random(&s) % 1000) / 500 - 1;
    attx_batch batch = {.B = 1, .pixels = pixels};
    float logits[4][2];
    for (int run = 0; run < 4; run++) {
        char config[1024];
        double p = run == 3 ? 0.0 : 0.3;
        snprintf(config, sizeof config, fmt, p, p);
        attx_model *m;
        attx_error err;
        if (attx_model_create(&m, config, NULL, 0, 1, &err) != 0) fail_msg("%s", err.msg);
        attx_ctx *ctx = attx_ctx_new();
        attx_ctx_set_tape(ctx, 1);
        attx_ctx_set_dropout(ctx, run == 1 || run == 3, 42);   /* run 0: off; 1: on; 2: off again; 3: p = 0 */
        attx_outputs out;
        if (attx_forward(m, ctx, &batch, &out, &err) != 0) fail_msg("%s", err.msg);
        memcpy(logits[run], out.logits->data, sizeof logits[run]);
        attx_ctx_free(ctx);
        attx_model_close(m);
    }
    assert_memory_equal(logits[0], logits[2], sizeof logits[0]);
    assert_memory_equal(logits[0], logits[3], sizeof logits[0]);
    assert_memory_not_equal(logits[0], logits[1], sizeof logits[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_textures),
        cmocka_unit_test(test_solid_colours),
        cmocka_unit_test(test_control_textures),
        cmocka_unit_test(test_counterfactuals),
        cmocka_unit_test(test_animals),
        cmocka_unit_test(test_png_roundtrip),
        cmocka_unit_test(test_image_folder),
        cmocka_unit_test(test_cli_synth),
        cmocka_unit_test(test_cli_train_vit),
        cmocka_unit_test(test_vit_dropout),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
