/* tcav_plan.c — the pre-registered evaluation's numbers (docs/tcav-preregistration.md), read
 * from its JSON file for `attx tcav-check`. */
#include "cli.h"
#include "cmd_tcav.h"

#include <stdlib.h>
#include <string.h>

static const attx_json_value *plan_get(const char *path, const attx_json_value *root, const char *dotted)
{
    char key[64];
    const attx_json_value *v = root;
    for (const char *p = dotted; v && *p;) {
        size_t n = strcspn(p, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        v = attx_json_get(v, key);
        p += n + (p[n] == '.');
    }
    if (!v) cli_failf("%s: no \"%s\"", path, dotted);
    return v;
}

static double plan_number(const char *path, const attx_json_value *root, const char *dotted)
{
    double x;
    if (attx_json_double(plan_get(path, root, dotted), &x) != 0) cli_failf("%s: \"%s\" is not a number", path, dotted);
    return x;
}

static int plan_names(const char *path, const attx_json_value *root, const char *dotted, const char **out)
{
    const attx_json_value *a = plan_get(path, root, dotted);
    size_t n = attx_json_len(a);
    if (attx_json_kind(a) != ATTX_JSON_ARRAY || n < 1 || n > TCAV_PLAN_MAX)
        cli_failf("%s: \"%s\" must be a list of 1 to %d names", path, dotted, TCAV_PLAN_MAX);
    for (size_t i = 0; i < n; i++)
        if (!(out[i] = attx_json_str(attx_json_item(a, i), NULL)) || !out[i][0])
            cli_failf("%s: \"%s\" item %zu is not a name", path, dotted, i + 1);
    return (int)n;
}

void tcav_read_plan(const char *path, attx_json_doc **doc, tcav_plan *p)
{
    char *text;
    size_t len;
    attx_error err;
    if (attx_read_file(path, 1 << 20, &text, &len, &err) != 0) cli_fail(&err);
    if (attx_json_parse(text, len, NULL, doc, &err) != 0) {
        attx_fail_prefix(&err, "%s", path);
        cli_fail(&err);
    }
    free(text);
    const attx_json_value *root = attx_json_root(*doc);
    memset(p, 0, sizeof *p);
    p->n_classes = plan_names(path, root, "benchmark.classes", p->classes);
    p->n_concepts = plan_names(path, root, "benchmark.concepts", p->concepts);
    const attx_json_value *layers = plan_get(path, root, "benchmark.layers");
    p->n_layers = (int)attx_json_len(layers);
    if (attx_json_kind(layers) != ATTX_JSON_ARRAY || p->n_layers < 1 || p->n_layers > TCAV_PLAN_MAX)
        cli_failf("%s: \"benchmark.layers\" must be a list of layer numbers", path);
    for (int j = 0; j < p->n_layers; j++) {
        int64_t l;
        if (attx_json_i64(attx_json_item(layers, (size_t)j), &l) != 0 || l < 0 || l > 1000)
            cli_failf("%s: \"benchmark.layers\" item %d is not a layer number", path, j + 1);
        p->layers[j] = (int)l;
    }
    const char *objectives[TCAV_PLAN_MAX];
    p->n_objectives = plan_names(path, root, "objectives", objectives);
    for (int i = 0; i < p->n_objectives; i++) {
        int found = -1;
        for (int o = ATTX_TCAV_LOGIT; o <= ATTX_TCAV_MARGIN; o++)
            if (!strcmp(objectives[i], attx_tcav_objective_name((attx_tcav_objective)o))) found = o;
        if (found < 0) cli_failf("%s: unknown objective \"%s\"", path, objectives[i]);
        p->objectives[i] = (attx_tcav_objective)found;
    }
    p->p1_cavs = (int)plan_number(path, root, "modes.p1.cavs");
    p->kim_random_sets = (int)plan_number(path, root, "modes.kim.random_sets");
    p->null_cavs = (int)plan_number(path, root, "modes.rank.null_cavs");
    if ((int)plan_number(path, root, "modes.magnitude.null_cavs") != p->null_cavs)
        cli_failf("%s: the rank and magnitude modes must share their null CAVs", path);
    p->truth_alpha = plan_number(path, root, "ground_truth.alpha");
    p->min_relative_size = plan_number(path, root, "ground_truth.min_relative_size");
    p->alpha = plan_number(path, root, "alpha");
    p->min_agreement = plan_number(path, root, "success.min_agreement");
    p->max_null_flagged = plan_number(path, root, "success.max_null_flagged");
    p->qualify_accuracy = plan_number(path, root, "models.qualify_min_dev_accuracy");
    p->qualify_margin = plan_number(path, root, "models.qualify_max_mean_margin");
    if (p->p1_cavs < 2 || p->kim_random_sets < 2 || p->null_cavs < 2)
        cli_failf("%s: the CAV counts must be at least 2", path);
    if ((int)plan_number(path, root, "ground_truth.bonferroni_over") != p->n_classes * p->n_concepts ||
        (int)plan_number(path, root, "bonferroni_over") != p->n_layers * p->n_concepts)
        cli_failf("%s: the Bonferroni counts do not match the classes, concepts and layers", path);
    if (attx_json_get(root, "text")) {                           /* the text check's settings */
        p->text_targets = (int)plan_number(path, root, "text.targets_per_class");
        p->text_word_max_neutral = plan_number(path, root, "text.word_max_neutral_fraction");
        p->n_neutral_words = plan_names(path, root, "text.neutral_words", p->neutral_words);
        if (p->text_targets < 2) cli_failf("%s: \"text.targets_per_class\" must be at least 2", path);
    }
}


void tcav_check_pair(const tcav_plan *p, const attx_model *m, const tcav_check_sets *sets, const attx_tcav_source *targets,
                     int klass, attx_tcav_objective objective, const int *layers, int n_layers, tcav_check_cavs *cavs,
                     attx_tcav_result *relative, attx_tcav_result *classic)
{
    attx_tcav_options opt;
    attx_tcav_options_init(&opt);
    opt.klass = klass;
    opt.objective = objective;
    opt.layers = layers;
    opt.n_layers = n_layers;
    opt.n_cavs = p->p1_cavs;
    opt.null_baseline = 1;
    opt.n_null_cavs = p->null_cavs;
    opt.heat_target = -1;
    opt.alpha = p->alpha;
    opt.batch_size = 32;
    opt.reuse = cavs->have ? &cavs->relative : NULL;
    attx_error err;
    if (attx_tcav_run(m, sets->relative, sets->n_relative, NULL, 0, targets, &opt, relative, &err) != 0) cli_fail(&err);
    opt.null_baseline = 0;
    opt.reuse = cavs->have ? &cavs->classic : NULL;
    if (attx_tcav_run(m, sets->classic, sets->n_classic, sets->randoms, sets->n_randoms, targets, &opt, classic, &err) != 0)
        cli_fail(&err);
}

void tcav_check_pair_done(tcav_check_cavs *cavs, attx_tcav_result *relative, attx_tcav_result *classic)
{
    if (!cavs->have) {
        cavs->relative = *relative;
        cavs->classic = *classic;
        cavs->have = 1;
    } else {
        attx_tcav_result_free(relative);
        attx_tcav_result_free(classic);
    }
}

void tcav_check_cavs_free(tcav_check_cavs *cavs)
{
    if (!cavs->have) return;
    attx_tcav_result_free(&cavs->relative);
    attx_tcav_result_free(&cavs->classic);
    cavs->have = 0;
}
