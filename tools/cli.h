/* cli.h — what every `attx` subcommand shares: argument scanning, the exit-status contract
 * (0 success, 1 bad input with one "attx: error: ..." line, 2 usage error) and output helpers. */
#ifndef ATTX_CLI_H
#define ATTX_CLI_H

#include "attx_weights.h"
#include "attx_engine.h"

#include <stdio.h>

enum { EXIT_OK = 0, EXIT_BAD_INPUT = 1, EXIT_USAGE = 2 };

/* One subcommand: its name, one-line summary, usage text and entry point. */
typedef struct cli_command {
    const char *name;
    const char *summary;
    const char *usage;
    int (*run)(int argc, char **argv);   /* argv[0] is the subcommand name */
} cli_command;

/* Argument scanning, one argv element at a time:
 *   for (int i = 1; i < argc; i++) {
 *       if (cli_flag(argv[i], "--json")) json = 1;
 *       else if (cli_value(argc, argv, &i, "--dtype", &dtype)) {}
 *       else if (cli_is_option(argv[i])) cli_unknown_option(cmd, argv[i]);
 *       else positional...
 *   }
 * cli_value accepts "--name value" and "--name=value"; a missing value is a usage error. */
/* The loop's first test, `if (cli_end_of_options(argv[i])) continue;`: the first "--" ends the
 * options (POSIX), after which cli_flag, cli_value and cli_is_option match nothing. */
int cli_end_of_options(const char *arg);
int cli_flag(const char *arg, const char *name);
int cli_value(int argc, char **argv, int *i, const char *name, const char **value);
int cli_is_option(const char *arg);
/* Parses a whole number in [lo, hi] for option `name`, or exits with a usage error. */
long cli_parse_long(const cli_command *cmd, const char *name, const char *value, long lo, long hi);

/* Print usage (to stdout for --help, exit 0) or a usage error (stderr, exit 2). */
_Noreturn void cli_help(const cli_command *cmd);
_Noreturn void cli_usage_error(const cli_command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void cli_unknown_option(const cli_command *cmd, const char *arg);
/* "attx: error: <message>" on stderr, exit 1. */
_Noreturn void cli_fail(const attx_error *err);
_Noreturn void cli_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The text of an INPUT argument: the argument itself, or the contents of @FILE (@- reads
 * standard input); exits with a one-line error when the file cannot be read, or when the
 * argument itself is the path of an image file (a text model was given an image). */
char *cli_read_input(const char *input, size_t *len);
/* Applies --threads N (NULL: leave OpenMP's default, all cores). */
void cli_set_threads(const cli_command *cmd, const char *value);
/* The arithmetic of the encoder's linear layers: --int8, --bf16 or neither. */
typedef enum { CLI_FP32, CLI_INT8, CLI_BF16 } cli_precision;
/* Scans --int8 or --bf16 at arg into *p; 1 when it was one of them. Both is a usage error of cmd. */
int cli_precision_option(const cli_command *cmd, const char *arg, cli_precision *p);
/* Opens the model at path (a one-line error and exit on failure); with CLI_INT8, quantises its
 * encoder's linear layers (attx_model_quantize_int8); with CLI_BF16, converts them
 * (attx_model_convert_bf16) and, on a CPU without AVX512_BF16, says on stderr that the exact
 * emulation is slow. */
attx_model *cli_open_model(const char *path, cli_precision p);
#define CLI_INT8_USAGE                                                                                  \
    "  --int8        run the encoder's linear layers in int8: weights per output channel, activations\n" \
    "                per token as each layer runs (ONNX Runtime's dynamic quantisation); about twice\n"   \
    "                as fast, with logits within a few hundredths of fp32's\n"
#define CLI_BF16_USAGE                                                                                  \
    "  --bf16        run the encoder's linear layers in bf16: weights and each token's activations\n"   \
    "                rounded to bfloat16, products summed in fp32 as AVX512_BF16's vdpbf16ps does\n"  \
    "                (the instruction where the CPU has it, else an exact emulation: the same sums,\n" \
    "                slower); logits within a few hundredths of fp32's, but not faster than fp32\n"

/* "0,2,5" or "1-3" (mixed allowed) for --layers: the layer numbers (malloc'd), *count of them;
 * a bad list is a usage error of cmd. */
int *cli_parse_layers(const cli_command *cmd, const char *list, int *count);

/* Shading scores in the terminal: the ANSI 256-colour background for a score relative to the
 * largest |score| (reds for positive, blues for negative, five steps each, 255 = none), and
 * the foreground that stays readable on it. */
int cli_shade_colour(double s, double scale);
/* 1 when output to stream may be coloured: a terminal, and NO_COLOR unset or empty. */
int cli_colour(FILE *stream);
int cli_shade_text_colour(int background);

/* An image model's per-patch scores[grid_h * grid_w] (row-major) drawn over the image file, as
 * a PNG (tools/heatmap_png.c). Errors name the file. */
typedef struct attx_model attx_model;
int cli_patch_heatmap_png(const attx_model *m, const char *image_path, const double *scores, const char *png,
                          attx_error *err);

/* HTML reports (tools/html.c; text is escaped by attx_buf_html): the rgba() of a score
 * relative to the largest |score| (red for, blue against); a file as a base64 data: URI
 * (errors name it); the finished page written to path, the buffer freed. */
void html_score_colour(attx_buf *b, double s, double scale);
int html_data_uri(attx_buf *b, const char *mime, const char *path, attx_error *err);
int html_write(const char *path, attx_buf *b, attx_error *err);

/* Seconds on a monotonic clock. */
double cli_now(void);
/* A duration for people: "42s", "3m07s", "2h05m", "3d04h", "12 years". */
void cli_duration(double seconds, char *buf, size_t cap);
/* "[=====>    ] 12/100  3.10 s/example  ETA 4m33s" on stderr (or "250 texts/s" when an item
 * takes under 0.1 s): redrawn in place on a terminal, else a line every 10%. start is cli_now()
 * when the work began; unit names one item. */
void cli_progress(size_t done, size_t total, double start, const char *unit);

/* Writes a finished JSON document plus a newline to stdout. */
void cli_print_json(const attx_buf *json);

/* 1234567 -> "1,234,567" */
const char *cli_thousands(unsigned long long v, char *buf, size_t cap);
/* Human-readable bytes: "417.7 MiB" */
const char *cli_bytes(unsigned long long v, char *buf, size_t cap);

/* The subcommands, one file each (tools/cmd_NAME.c). */
extern const cli_command cmd_info;
extern const cli_command cmd_convert;
extern const cli_command cmd_predict;
extern const cli_command cmd_embed;
extern const cli_command cmd_similar;
extern const cli_command cmd_explain;
extern const cli_command cmd_train;
extern const cli_command cmd_vocab;
extern const cli_command cmd_eval;
extern const cli_command cmd_tcav;
extern const cli_command cmd_tcav_check;
extern const cli_command cmd_synth;

#endif
