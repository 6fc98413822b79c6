/* cli.c — argument scanning, exit statuses and small output helpers shared by the subcommands. */
#include "cli.h"
#include "attx_engine.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* set by the first "--": every later argument is an operand, even one starting with '-' */
static int options_ended;

int cli_end_of_options(const char *arg)
{
    if (options_ended || strcmp(arg, "--") != 0) return 0;
    options_ended = 1;
    return 1;
}

int cli_flag(const char *arg, const char *name)
{
    return !options_ended && strcmp(arg, name) == 0;
}

int cli_is_option(const char *arg)
{
    return !options_ended && arg[0] == '-' && arg[1] != '\0';
}

int cli_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    if (options_ended) return 0;
    size_t n = strlen(name);
    const char *arg = argv[*i];
    if (strncmp(arg, name, n) != 0) return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0') return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "attx: usage error: %s needs a value\n", name);
        exit(EXIT_USAGE);
    }
    *value = argv[++*i];
    return 1;
}

long cli_parse_long(const cli_command *cmd, const char *name, const char *value, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end != '\0' || v < lo || v > hi)
        cli_usage_error(cmd, "%s must be a whole number from %ld to %ld, not '%s'", name, lo, hi, value);
    return v;
}

void cli_help(const cli_command *cmd)
{
    fputs(cmd->usage, stdout);
    exit(EXIT_OK);
}

void cli_usage_error(const cli_command *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("attx: usage error: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'attx %s --help'.\n", cmd->name);
    exit(EXIT_USAGE);
}

void cli_unknown_option(const cli_command *cmd, const char *arg)
{
    cli_usage_error(cmd, "unknown option '%s'", arg);
}

void cli_fail(const attx_error *err)
{
    fprintf(stderr, "attx: error: %s\n", err->msg);
    exit(EXIT_BAD_INPUT);
}

void cli_failf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("attx: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(EXIT_BAD_INPUT);
}

void cli_print_json(const attx_buf *json)
{
    if (json->failed) cli_failf("out of memory writing JSON");
    fwrite(json->data, 1, json->len, stdout);
    fputc('\n', stdout);
}

const char *cli_thousands(unsigned long long v, char *buf, size_t cap)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%llu", v);
    size_t out = 0;
    for (int i = 0; i < n && out + 2 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0) buf[out++] = ',';
        buf[out++] = digits[i];
    }
    buf[out] = '\0';
    return buf;
}

const char *cli_bytes(unsigned long long v, char *buf, size_t cap)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double x = (double)v;
    int u = 0;
    while (x >= 1024.0 && u < 4) {
        x /= 1024.0;
        u++;
    }
    if (u == 0) snprintf(buf, cap, "%llu B", v);
    else snprintf(buf, cap, "%.1f %s", x, units[u]);
    return buf;
}

/* A text model's INPUT that names an existing image file is a mistake (another model was
 * meant, or @FILE), not a text to classify: refused, so that no class of the file's name is
 * printed as if it were the image's. */
static void refuse_image_path(const char *input)
{
    struct stat st;
    unsigned char head[16];
    size_t n;
    if (stat(input, &st) != 0 || !S_ISREG(st.st_mode) || attx_read_file_head(input, head, sizeof head, &n, NULL) != 0 ||
        attx_image_detect(head, n) == ATTX_IMAGE_UNKNOWN)
        return;
    cli_failf("%s is an image file, but this model reads text (to classify the path itself as text, give it "
              "on standard input with @-)", input);
}

/* The text of INPUT: the argument itself, or the contents of @FILE. */
char *cli_read_input(const char *input, size_t *len)
{
    if (input[0] != '@') {
        refuse_image_path(input);
        *len = strlen(input);
        char *copy = malloc(*len + 1);
        if (!copy) cli_failf("out of memory");
        memcpy(copy, input, *len + 1);
        return copy;
    }
    const char *path = input + 1;
    char *text;
    attx_error err;
    if (strcmp(path, "-") == 0) {
        attx_buf b = {0};
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
            attx_buf_append(&b, chunk, n);
            if (b.len > ATTX_MAX_TEXT_BYTES) cli_failf("standard input: more than %zu MiB of text", ATTX_MAX_TEXT_BYTES >> 20);
        }
        if (b.failed) cli_failf("out of memory reading standard input");
        *len = b.len;
        return b.data ? b.data : calloc(1, 1);
    }
    if (attx_read_file(path, ATTX_MAX_TEXT_BYTES, &text, len, &err) != 0) cli_fail(&err);
    return text;
}

void cli_set_threads(const cli_command *cmd, const char *value)
{
    if (value) attx_set_threads((int)cli_parse_long(cmd, "--threads", value, 1, 1024));
}

int cli_precision_option(const cli_command *cmd, const char *arg, cli_precision *p)
{
    cli_precision want = cli_flag(arg, "--int8") ? CLI_INT8 : cli_flag(arg, "--bf16") ? CLI_BF16 : CLI_FP32;
    if (want == CLI_FP32) return 0;
    if (*p != CLI_FP32 && *p != want) cli_usage_error(cmd, "--int8 and --bf16 exclude each other");
    *p = want;
    return 1;
}

attx_model *cli_open_model(const char *path, cli_precision p)
{
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, path, &err) != 0) cli_fail(&err);
    if (p == CLI_INT8 && attx_model_quantize_int8(m, &err) != 0) cli_failf("%s: %s", path, err.msg);
    if (p == CLI_BF16) {
        if (attx_model_convert_bf16(m, &err) != 0) cli_failf("%s: %s", path, err.msg);
        if (!attx_cpu_has_bf16())
            fprintf(stderr, "attx: note: this CPU has no AVX512_BF16 (or ATTX_ISA turned it off); --bf16 runs an "
                            "exact emulation, slower than fp32\n");
    }
    return m;
}


int *cli_parse_layers(const cli_command *cmd, const char *list, int *count)
{
    int cap = 256, n = 0, *layers = malloc((size_t)cap * sizeof *layers);
    if (!layers) cli_failf("out of memory");
    const char *p = list;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p || a < 0 || a > 10000) cli_usage_error(cmd, "--layers: bad list '%s'", list);
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1 || b < a || b > 10000) cli_usage_error(cmd, "--layers: bad range in '%s'", list);
            p = end;
        }
        for (long l = a; l <= b; l++) {
            if (n == cap) cli_usage_error(cmd, "--layers: too many layers");
            layers[n++] = (int)l;
        }
        if (*p == ',') p++;
        else if (*p) cli_usage_error(cmd, "--layers: bad list '%s'", list);
    }
    if (n == 0) cli_usage_error(cmd, "--layers needs at least one layer");
    *count = n;
    return layers;
}

int cli_shade_colour(double s, double scale)
{
    static const int reds[5] = {224, 217, 210, 203, 196}, blues[5] = {189, 153, 111, 69, 27};
    if (scale <= 0 || s == 0) return 255;
    double r = fabs(s) / scale;
    int k = r < 0.1 ? -1 : r < 0.3 ? 0 : r < 0.5 ? 1 : r < 0.7 ? 2 : r < 0.9 ? 3 : 4;
    if (k < 0) return 255;
    return s > 0 ? reds[k] : blues[k];
}

int cli_shade_text_colour(int background)
{
    return (background == 196 || background == 27) ? 231 : 16;
}

int cli_colour(FILE *stream)
{
    const char *no_colour = getenv("NO_COLOR");   /* https://no-color.org: set and non-empty */
    return isatty(fileno(stream)) && !(no_colour && *no_colour);
}
