/* cmd_tcav.h — what the `attx tcav` files share: cmd_tcav.c (the command) calls tcav_html.c
 * (--html); both put results into words with tcav_words.c; cmd_tcav.c and cmd_tcav_check.c
 * read their example sets with tcav_sets.c. */
#ifndef ATTX_CMD_TCAV_H
#define ATTX_CMD_TCAV_H

#include "attx_explain.h"

/* tcav_sets.c: one set of examples, the source attx_tcav_run reads. */
typedef struct example_set {
    const char *path;
    char name[128];                 /* the file or folder name without extension */
    int count;
    char **files;                   /* images */
    int32_t **ids;                  /* text */
    int32_t *lengths;
    attx_tcav_memory mem;
    const attx_model *model;
    attx_tcav_source src;
} example_set;

/* Loads s->path for m: a folder of images (files in name order; dot files and subfolders
 * skipped; any other file must be an image) or, when allow_file, one image; for a text model a
 * text file, one example per line (blank lines skipped), encoded now, with the inputs' tokens
 * dropped by truncation added to *dropped. Bad input: a one-line error and exit. */
void tcav_load_set(example_set *s, const attx_model *m, int allow_file, size_t *dropped);
void tcav_free_set(example_set *s);
/* A class by label (exact, then ignoring case) or number; unknown: a one-line error and exit. */
int tcav_parse_class(const attx_config *cfg, const char *v);

/* tcav_plan.c: the numbers of docs/tcav-preregistration.md, from its JSON file. */
#define TCAV_PLAN_MAX 16
typedef struct tcav_plan {
    int n_classes, n_concepts, n_layers, n_objectives;
    const char *classes[TCAV_PLAN_MAX], *concepts[TCAV_PLAN_MAX];   /* (strings of the document) */
    int layers[TCAV_PLAN_MAX];
    attx_tcav_objective objectives[TCAV_PLAN_MAX];
    int p1_cavs, kim_random_sets, null_cavs;
    double truth_alpha, min_relative_size, alpha, min_agreement, max_null_flagged;
    double qualify_accuracy, qualify_margin;
    /* text (0 / absent without a "text" section) */
    int text_targets, n_neutral_words;
    double text_word_max_neutral;
    const char *neutral_words[TCAV_PLAN_MAX];
} tcav_plan;
/* Reads path into *p (the strings stay in *doc, freed by the caller); a missing or malformed
 * entry is a one-line error naming the file and the entry, and exit. */
void tcav_read_plan(const char *path, attx_json_doc **doc, tcav_plan *p);

/* The two runs of a (class, objective) that tcav-check scores: relative CAVs with null CAVs
 * (P1, rank, magnitude) and CAVs against random sets (Kim), with the plan's counts. The CAVs of
 * the first pair are kept in *cavs and reused by the later ones (tcav_check_pair_done). */
typedef struct tcav_check_sets {
    const attx_tcav_source *relative;   /* the relative run's concepts (the checked ones first) */
    int n_relative;
    const attx_tcav_source *classic;    /* the classic run's concepts and random sets */
    int n_classic;
    const attx_tcav_source *randoms;
    int n_randoms;
} tcav_check_sets;
typedef struct tcav_check_cavs {
    attx_tcav_result relative, classic;
    int have;
} tcav_check_cavs;
void tcav_check_pair(const tcav_plan *p, const attx_model *m, const tcav_check_sets *sets, const attx_tcav_source *targets,
                     int klass, attx_tcav_objective objective, const int *layers, int n_layers, tcav_check_cavs *cavs,
                     attx_tcav_result *relative, attx_tcav_result *classic);
/* Keeps the pair in *cavs when it is the first, else frees it. */
void tcav_check_pair_done(tcav_check_cavs *cavs, attx_tcav_result *relative, attx_tcav_result *classic);
void tcav_check_cavs_free(tcav_check_cavs *cavs);

/* tcav_check_text.c: `attx tcav-check --text` (see its --help); returns the exit status. */
int tcav_check_text(const tcav_plan *p, const char *model_path, const char *data_path, const char *concept_path,
                    const char *const *random_paths, int n_random, int json);

/* tcav_words.c: "not significant", "significant (+)" (scores above 0.5 or the random baseline),
 * "significant (-)", or "undefined" (no p-value: every score equal). */
const char *tcav_verdict(const attx_tcav_stat *s);
/* How r's CAVs were made and tested, in words: "relative CAVs (P1)" or "CAVs against random
 * sets (TCAV)", and "one-sample t-test against 0.5", "... against the random baseline" or
 * "... against null CAVs (...)". */
const char *tcav_cav_description(const attx_tcav_result *r);
const char *tcav_test_description(const attx_tcav_result *r);
/* '+', '-' or '.' for a verdict or a ground truth of +1, -1 or 0 (tcav-check's tables). */
char tcav_sign_char(int verdict);

/* The names of what r was computed on, for the report. */
typedef struct tcav_report_info {
    const char *model_path, *targets_path;
    const char *const *concept_names;   /* [r->n_concepts] */
    const char *heat_input;             /* the heatmap's target file, or NULL (text targets) */
    const char *png;                    /* the --png file to embed, or NULL */
    double alpha;
} tcav_report_info;

/* --html FILE: one self-contained page: per layer the table and the CAVs' scores as strip
 * plots (T-TCAV and TCAV), then the heatmap (tokens shaded by s_t, or the patch grid, with
 * the PNG overlay when one was written). */
int tcav_write_html(const char *path, const attx_model *m, const attx_tcav_result *r, const tcav_report_info *info,
                    attx_error *err);

#endif
