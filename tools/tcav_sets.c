/* tcav_sets.c — the example sets of `attx tcav` and `attx tcav-check`: a folder of images
 * (or one image) for a ViT, a text file with one example per line for a BERT. */
#include "cli.h"
#include "cmd_tcav.h"

#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static int load_image(void *user, int i, int32_t *ids, int32_t *length, int max_len, float *pixels, attx_error *err)
{
    (void)ids;
    (void)length;
    (void)max_len;
    const example_set *s = user;
    return attx_encode_image(s->model, s->files[i], pixels, err);
}

static void set_name(example_set *s)
{
    const char *p = s->path, *slash = strrchr(p, '/');
    size_t len = strlen(p);
    while (slash && slash[1] == '\0' && slash > p) {       /* "dir/" */
        len = (size_t)(slash - p);
        const char *q = slash;
        slash = NULL;
        for (const char *r = p; r < q; r++)
            if (*r == '/') slash = r;
    }
    const char *base = slash ? slash + 1 : p;
    len -= (size_t)(base - p);
    const char *dot = memchr(base, '.', len);
    if (dot && dot > base) len = (size_t)(dot - base);
    snprintf(s->name, sizeof s->name, "%.*s", (int)(len < 127 ? len : 127), base);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_image(example_set *s, char *path, int *cap)
{
    unsigned char head[16];
    size_t n;
    attx_error err;
    if (attx_read_file_head(path, head, sizeof head, &n, &err) != 0) cli_fail(&err);
    if (attx_image_detect(head, n) == ATTX_IMAGE_UNKNOWN)
        cli_failf("%s: not an image (PNG, JPEG or PPM/PGM expected)", path);
    if (s->count == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        s->files = realloc(s->files, (size_t)*cap * sizeof *s->files);
        if (!s->files) cli_failf("out of memory");
    }
    s->files[s->count++] = path;
}

/* A folder of images (files in name order, dot files and subfolders skipped) or, when
 * allow_file, a single image. */
static void load_image_set(example_set *s, const attx_model *m, int allow_file)
{
    struct stat st;
    if (stat(s->path, &st) != 0) cli_failf("%s: no such file or folder", s->path);
    int cap = 0;
    if (!S_ISDIR(st.st_mode)) {
        if (!allow_file) cli_failf("%s: not a folder (a concept of an image model is a folder of images)", s->path);
        add_image(s, strdup(s->path), &cap);
    } else {
        DIR *d = opendir(s->path);
        if (!d) cli_failf("%s: cannot read the folder", s->path);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            size_t n = strlen(s->path) + strlen(e->d_name) + 2;
            char *p = malloc(n);
            if (!p) cli_failf("out of memory");
            snprintf(p, n, "%s/%s", s->path, e->d_name);
            struct stat fst;
            if (stat(p, &fst) != 0 || S_ISDIR(fst.st_mode)) {
                free(p);
                continue;
            }
            add_image(s, p, &cap);
        }
        closedir(d);
        if (s->count > 1) qsort(s->files, (size_t)s->count, sizeof *s->files, name_cmp);
    }
    if (s->count == 0) cli_failf("%s: no images in the folder", s->path);
    s->model = m;
    s->src = (attx_tcav_source){s->count, load_image, s};
}

/* A text file, one example per line (blank lines skipped), each encoded now. */
static void load_text_set(example_set *s, const attx_model *m, size_t *dropped)
{
    struct stat st;
    if (stat(s->path, &st) != 0) cli_failf("%s: no such file", s->path);
    if (S_ISDIR(st.st_mode)) cli_failf("%s: a folder; a text model takes a text file with one example per line", s->path);
    char *text;
    size_t len;
    attx_error err;
    if (attx_read_file(s->path, ATTX_MAX_TEXT_BYTES, &text, &len, &err) != 0) cli_fail(&err);
    int cap = 0, line = 0;
    for (size_t at = 0; at < len;) {
        size_t end = at;
        while (end < len && text[end] != '\n') end++;
        line++;
        size_t n = end - at;
        if (n && text[at + n - 1] == '\r') n--;
        int blank = 1;
        for (size_t k = 0; k < n && blank; k++) blank = isspace((unsigned char)text[at + k]) != 0;
        if (!blank) {
            attx_encoding enc;
            if (attx_encode_text(m, text + at, n, &enc, &err) != 0) {
                attx_fail_prefix(&err, "%s line %d", s->path, line);
                cli_fail(&err);
            }
            if (s->count == cap) {
                cap = cap ? 2 * cap : 64;
                s->ids = realloc(s->ids, (size_t)cap * sizeof *s->ids);
                s->lengths = realloc(s->lengths, (size_t)cap * sizeof *s->lengths);
                if (!s->ids || !s->lengths) cli_failf("out of memory");
            }
            s->ids[s->count] = malloc((size_t)enc.length * sizeof(int32_t));
            if (!s->ids[s->count]) cli_failf("out of memory");
            memcpy(s->ids[s->count], enc.ids, (size_t)enc.length * sizeof(int32_t));
            s->lengths[s->count++] = enc.length;
            *dropped += enc.n_dropped;
            attx_encoding_free(&enc);
        }
        at = end + 1;
    }
    free(text);
    if (s->count == 0) cli_failf("%s: no examples (every line is blank)", s->path);
    s->mem = (attx_tcav_memory){s->count, (const int32_t *const *)s->ids, s->lengths, NULL, 0};
    s->src = attx_tcav_source_memory(&s->mem);
}

void tcav_load_set(example_set *s, const attx_model *m, int allow_file, size_t *dropped)
{
    set_name(s);
    if (attx_model_config(m)->arch == ATTX_ARCH_VIT) load_image_set(s, m, allow_file);
    else load_text_set(s, m, dropped);
}

void tcav_free_set(example_set *s)
{
    for (int i = 0; s->files && i < s->count; i++) free(s->files[i]);
    for (int i = 0; s->ids && i < s->count; i++) free(s->ids[i]);
    free(s->files);
    free(s->ids);
    free(s->lengths);
}

int tcav_parse_class(const attx_config *cfg, const char *v)
{
    char *end;
    long k = strtol(v, &end, 10);
    if (end != v && *end == '\0') {
        if (k < 0 || k >= cfg->num_labels) cli_failf("unknown target class %s: the model has %d classes (0 to %d)", v, cfg->num_labels, cfg->num_labels - 1);
        return (int)k;
    }
    for (int c = 0; c < cfg->num_labels; c++)
        if (strcmp(cfg->labels[c], v) == 0) return c;
    for (int c = 0; c < cfg->num_labels; c++)
        if (strcasecmp(cfg->labels[c], v) == 0) return c;
    char known[1024] = "";
    for (int c = 0; c < cfg->num_labels && strlen(known) < 900; c++) {
        strncat(known, c ? ", " : "", sizeof known - strlen(known) - 1);
        strncat(known, cfg->labels[c], sizeof known - strlen(known) - 1);
    }
    cli_failf("unknown target class '%s' (the model's classes: %s)", v, known);
}
