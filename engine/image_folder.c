/* image_folder.c — an image-classification data set laid out as one sub-folder per class
 * (torchvision's ImageFolder layout): the classes, and every image file with its label. */
#include "attx_engine.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct name_list {
    char **names;
    size_t n, cap;
} name_list;

static int list_push(name_list *l, const char *name)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **grown = realloc(l->names, cap * sizeof *grown);
        if (!grown) return -1;
        l->names = grown;
        l->cap = cap;
    }
    if (!(l->names[l->n] = strdup(name))) return -1;
    l->n++;
    return 0;
}

static void list_free(name_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

/* The entries of dir (not starting with "."), sorted; want_dirs: sub-folders, else regular files. */
static int list_dir(const char *dir, int want_dirs, name_list *out, attx_error *err)
{
    DIR *d = opendir(dir);
    if (!d) return attx_fail(err, "%s: cannot open the folder (%s)", dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *path = join(dir, e->d_name);
        struct stat st;
        if (!path) rc = attx_fail(err, "%s: out of memory", dir);
        else if (stat(path, &st) == 0 && (want_dirs ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode)) &&
                 list_push(out, e->d_name) != 0)
            rc = attx_fail(err, "%s: out of memory", dir);
        free(path);
    }
    closedir(d);
    if (rc == 0 && out->n) qsort(out->names, out->n, sizeof *out->names, cmp_names);
    return rc;
}

/* Does the file start like an image? */
static int looks_like_image(const char *path)
{
    unsigned char head[16];
    size_t n;
    if (attx_read_file_head(path, head, sizeof head, &n, NULL) != 0) return 0;
    return attx_image_detect(head, n) != ATTX_IMAGE_UNKNOWN;
}

void attx_image_folder_free(attx_image_folder *f)
{
    for (int k = 0; k < f->num_classes; k++) free(f->classes[k]);
    free(f->classes);
    for (size_t i = 0; i < f->n; i++) free(f->paths[i]);
    free(f->paths);
    free(f->labels);
    free(f->first_skipped);
    memset(f, 0, sizeof *f);
}

int attx_image_folder_read(attx_image_folder *f, const char *dir, attx_error *err)
{
    memset(f, 0, sizeof *f);
    struct stat st;
    if (stat(dir, &st) != 0) return attx_fail(err, "%s: no such folder", dir);
    if (!S_ISDIR(st.st_mode)) return attx_fail(err, "%s: not a folder (an image data set is a folder with one "
                                               "sub-folder per class)", dir);
    name_list classes = {0}, paths = {0};
    int32_t *labels = NULL;
    size_t labels_cap = 0;
    if (list_dir(dir, 1, &classes, err) != 0) goto fail;
    if (classes.n == 0) {
        attx_fail(err, "%s: no class sub-folders (an image data set has one sub-folder per class)", dir);
        goto fail;
    }
    if (classes.n > 4096) {
        attx_fail(err, "%s: %zu class sub-folders, more than 4096", dir, classes.n);
        goto fail;
    }
    for (size_t k = 0; k < classes.n; k++) {
        char *class_dir = join(dir, classes.names[k]);
        name_list files = {0};
        if (!class_dir) {
            attx_fail(err, "%s: out of memory", dir);
            goto fail;
        }
        if (list_dir(class_dir, 0, &files, err) != 0) {
            free(class_dir);
            goto fail;
        }
        size_t before = paths.n;
        for (size_t i = 0; i < files.n; i++) {
            char *path = join(class_dir, files.names[i]);
            if (!path) {
                attx_fail(err, "%s: out of memory", dir);
                free(class_dir);
                list_free(&files);
                goto fail;
            }
            if (!looks_like_image(path)) {
                if (!f->n_skipped++) f->first_skipped = strdup(path);
                free(path);
                continue;
            }
            int pushed = list_push(&paths, path);
            free(path);
            if (pushed == 0 && paths.n > labels_cap) {
                size_t cap = labels_cap ? 2 * labels_cap : 256;
                int32_t *grown = realloc(labels, cap * sizeof *grown);
                if (grown) labels = grown, labels_cap = cap;
                else pushed = -1;
            }
            if (pushed != 0) {
                attx_fail(err, "%s: out of memory", dir);
                free(class_dir);
                list_free(&files);
                goto fail;
            }
            labels[paths.n - 1] = (int32_t)k;
        }
        list_free(&files);
        if (paths.n == before) {
            attx_fail(err, "%s: the class folder has no image (PNG, JPEG, PPM or PGM)", class_dir);
            free(class_dir);
            goto fail;
        }
        free(class_dir);
    }
    f->num_classes = (int)classes.n;
    f->classes = classes.names;
    f->n = paths.n;
    f->paths = paths.names;
    f->labels = labels;
    return 0;
fail:
    list_free(&classes);
    list_free(&paths);
    free(labels);
    free(f->first_skipped);
    f->first_skipped = NULL;
    f->n_skipped = 0;
    return -1;
}
