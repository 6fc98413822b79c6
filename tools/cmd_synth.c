/* cmd_synth.c — `attx synth`: writes the synthetic concept benchmark (concept image sets and a
 * train/test image-classification set) as PNG files in the image-folder layout. */
#include "cli.h"
#include "attx_engine.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int run_synth(int argc, char **argv);

const cli_command cmd_synth = {
    "synth", "write the synthetic concept benchmark (textures, colours, animal classes)",
    "usage: attx synth OUTDIR [--size N] [--per-class N] [--test-per-class N]\n"
    "                  [--concept-images N] [--random-sets N] [--seed S] [--counterfactuals]\n"
    "\n"
    "Draws a concept benchmark with known ground truth into OUTDIR (created; it must be empty\n"
    "or absent), every image a PNG of N x N pixels, one folder per class or concept:\n"
    "  train/CLASS/, test/CLASS/   classes dalmatian (a dotted quadruped), zebra (a striped\n"
    "                              quadruped), fish and snail (the shape defines the class; their\n"
    "                              texture is striped or dotted, half and half, so it tells\n"
    "                              nothing about the class), on plain backgrounds\n"
    "  concepts/striped, dotted, zigzagged, chequered   two-colour textures\n"
    "  concepts/red, green, blue, yellow                solid colours, intensity 60-250\n"
    "  concepts/random_00, random_01, ...               random images (noise, mixed shapes)\n"
    "  counterfactual/TEXTURE/CLASS/   with --counterfactuals: the test images again, each with\n"
    "                              its texture replaced by TEXTURE (same silhouette, pose and\n"
    "                              colours): `attx eval MODEL DIR --accuracy` on each shows\n"
    "                              which classes the texture decides (the ground truth)\n"
    "The same seed and sizes give the same files, byte for byte.\n"
    "\n"
    "  --size N             image side in pixels (default 48)\n"
    "  --per-class N        training images per class (default 500)\n"
    "  --test-per-class N   test images per class (default per-class / 5, at least 1)\n"
    "  --concept-images N   images per concept folder and random set (default 50)\n"
    "  --random-sets N      random image folders (default 10)\n"
    "  --seed S             seed (default 1)\n"
    "  --counterfactuals    also write counterfactual/ (4 x the test set)\n",
    run_synth,
};

/* buf = a/b, or a one-line error when the path is too long */
static void join_path(char *buf, size_t cap, const char *a, const char *b)
{
    int n = snprintf(buf, cap, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= cap) cli_failf("%s/%s: the path is too long", a, b);
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST) cli_failf("%s: cannot create the folder (%s)", path, strerror(errno));
}

static void require_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT) return;
        cli_failf("%s: cannot open the folder (%s)", path, strerror(errno));
    }
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            closedir(d);
            cli_failf("%s: the folder is not empty (attx synth writes into a new or empty folder)", path);
        }
    closedir(d);
}

/* Writes images index_base + 0 .. n-1 of one kind into dir; a class's images with their texture
 * replaced by `texture` when it is >= 0 (attx_synth_counterfactual). */
static size_t write_set(const char *dir, attx_synth_kind kind, int texture, int size, uint64_t seed,
                        uint64_t index_base, long n)
{
    make_dir(dir);
    for (long i = 0; i < n; i++) {
        attx_image img;
        attx_error err;
        char path[4096], name[32];
        snprintf(name, sizeof name, "%04ld.png", i);
        join_path(path, sizeof path, dir, name);
        uint64_t index = index_base + (uint64_t)i;
        int rc = texture < 0 ? attx_synth_image(&img, kind, size, seed, index, &err)
                             : attx_synth_counterfactual(&img, kind, (attx_synth_kind)texture, size, seed, index, &err);
        if (rc != 0 || attx_image_save_png(&img, path, &err) != 0) cli_fail(&err);
        attx_image_free(&img);
    }
    return (size_t)n;
}

/* dir/CLASS/ for every class: images index_base + 0 .. n-1, with `texture` as in write_set */
static size_t write_classes(const char *dir, int texture, int size, uint64_t seed, uint64_t index_base, long n)
{
    char sub[4096];
    size_t written = 0;
    make_dir(dir);
    for (int k = 0; k < ATTX_SYNTH_KINDS; k++) {
        if (!attx_synth_is_class((attx_synth_kind)k)) continue;
        join_path(sub, sizeof sub, dir, attx_synth_name((attx_synth_kind)k));
        written += write_set(sub, (attx_synth_kind)k, texture, size, seed, index_base, n);
    }
    return written;
}

static int run_synth(int argc, char **argv)
{
    const char *out = NULL, *v;
    long size = 48, per_class = 500, test_per_class = -1, concept_images = 50, random_sets = 10;
    unsigned long long seed = 1;
    int counterfactuals = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_end_of_options(argv[i])) continue;
        if (cli_flag(argv[i], "--counterfactuals")) counterfactuals = 1;
        else if (cli_value(argc, argv, &i, "--size", &v)) size = cli_parse_long(&cmd_synth, "--size", v, 8, 1024);
        else if (cli_value(argc, argv, &i, "--per-class", &v))
            per_class = cli_parse_long(&cmd_synth, "--per-class", v, 1, 1000000);
        else if (cli_value(argc, argv, &i, "--test-per-class", &v))
            test_per_class = cli_parse_long(&cmd_synth, "--test-per-class", v, 1, 1000000);
        else if (cli_value(argc, argv, &i, "--concept-images", &v))
            concept_images = cli_parse_long(&cmd_synth, "--concept-images", v, 1, 1000000);
        else if (cli_value(argc, argv, &i, "--random-sets", &v))
            random_sets = cli_parse_long(&cmd_synth, "--random-sets", v, 0, 100);
        else if (cli_value(argc, argv, &i, "--seed", &v))
            seed = (unsigned long long)cli_parse_long(&cmd_synth, "--seed", v, 0, 0x7fffffffffffffffL);
        else if (cli_is_option(argv[i])) cli_unknown_option(&cmd_synth, argv[i]);
        else if (!out) out = argv[i];
        else cli_usage_error(&cmd_synth, "unexpected argument '%s'", argv[i]);
    }
    if (!out) cli_usage_error(&cmd_synth, "OUTDIR is needed");
    if (test_per_class < 0) test_per_class = per_class / 5 > 0 ? per_class / 5 : 1;
    require_empty(out);
    make_dir(out);

    char dir[4096], sub[4096];
    size_t written = 0;
    /* the classification set: train images are indices 0.., test images 2^40 + 0.. */
    static const char *const splits[2] = {"train", "test"};
    const uint64_t test_index_base = (uint64_t)1 << 40;
    for (int s = 0; s < 2; s++) {
        join_path(dir, sizeof dir, out, splits[s]);
        written += write_classes(dir, -1, (int)size, seed, s ? test_index_base : 0, s ? test_per_class : per_class);
        fprintf(stderr, "attx: %s/ written\n", dir);
    }
    /* the test images again, each with each of the four textures in place of its own */
    if (counterfactuals) {
        join_path(dir, sizeof dir, out, "counterfactual");
        make_dir(dir);
        for (int t = ATTX_SYNTH_STRIPED; t <= ATTX_SYNTH_CHEQUERED; t++) {
            join_path(sub, sizeof sub, dir, attx_synth_name((attx_synth_kind)t));
            written += write_classes(sub, t, (int)size, seed, test_index_base, test_per_class);
        }
        fprintf(stderr, "attx: %s/ written\n", dir);
    }
    /* the concepts; random set r uses indices r·2^32 + 0.. */
    join_path(dir, sizeof dir, out, "concepts");
    make_dir(dir);
    for (int k = 0; k < ATTX_SYNTH_KINDS; k++) {
        if (attx_synth_is_class((attx_synth_kind)k) || k == ATTX_SYNTH_RANDOM) continue;
        join_path(sub, sizeof sub, dir, attx_synth_name((attx_synth_kind)k));
        written += write_set(sub, (attx_synth_kind)k, -1, (int)size, seed, 0, concept_images);
    }
    for (long r = 0; r < random_sets; r++) {
        char name[32];
        snprintf(name, sizeof name, "random_%02ld", r);
        join_path(sub, sizeof sub, dir, name);
        written += write_set(sub, ATTX_SYNTH_RANDOM, -1, (int)size, seed, (uint64_t)r << 32, concept_images);
    }
    printf("wrote %zu images of %ldx%ld to %s (train %ld and test %ld per class, %ld per concept, %ld random "
           "sets, seed %llu)\n",
           written, size, size, out, per_class, test_per_class, concept_images, random_sets, seed);
    return EXIT_OK;
}
