/* tcav.c — the T-TCAV / TCAV protocol: CAVs for every (layer, concept), the targets streamed once
 * through the model with their gradients, the scores of every CAV, the tests and the heatmap. */
#include "attx_explain.h"
#include "kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void attx_tcav_options_init(attx_tcav_options *o)
{
    memset(o, 0, sizeof *o);
    o->n_cavs = 50;
    o->batch_size = 8;
    o->alpha = 0.05;
}

const char *attx_tcav_kind_name(int kind)
{
    static const char *names[ATTX_TCAV_KINDS] = {"ttcav", "tcav", "ablation"};
    return kind >= 0 && kind < ATTX_TCAV_KINDS ? names[kind] : "?";
}

static void cell_free(attx_tcav_cell *c)
{
    for (int k = 0; k < ATTX_TCAV_KINDS; k++) {
        free(c->score[k]);
        free(c->mean_s[k]);
    }
    free(c->mean_ttcav_raw);
    free(c->cav_accuracy);
    free(c->cav_iterations);
    free(c->cav_converged);
}

static int cell_init(attx_tcav_cell *c, int layer, int concept, int n_cavs)
{
    memset(c, 0, sizeof *c);
    c->layer = layer;
    c->concept = concept;
    c->n_cavs = n_cavs;
    int ok = 1;
    for (int k = 0; k < ATTX_TCAV_KINDS; k++) {
        c->score[k] = calloc((size_t)n_cavs, sizeof(double));
        c->mean_s[k] = calloc((size_t)n_cavs, sizeof(double));
        ok = ok && c->score[k] && c->mean_s[k];
    }
    c->mean_ttcav_raw = calloc((size_t)n_cavs, sizeof(double));
    c->cav_accuracy = calloc((size_t)n_cavs, sizeof(double));
    c->cav_iterations = calloc((size_t)n_cavs, sizeof(int));
    c->cav_converged = calloc((size_t)n_cavs, sizeof(int));
    return ok && c->mean_ttcav_raw && c->cav_accuracy && c->cav_iterations && c->cav_converged ? 0 : -1;
}

void attx_tcav_result_free(attx_tcav_result *r)
{
    if (!r) return;
    if (r->cells)
        for (int i = 0; i < r->n_layers * r->n_concepts; i++) cell_free(&r->cells[i]);
    if (r->baselines)
        for (int j = 0; j < r->n_layers; j++) cell_free(&r->baselines[j]);
    free(r->cells);
    free(r->baselines);
    free(r->layers);
    free(r->cavs);
    free(r->baseline_cavs);
    free(r->heat);
    free(r->heat_ids);
    memset(r, 0, sizeof *r);
}

/* What the target stream accumulates. */
typedef struct target_state {
    attx_tcav_result *r;
    int K;                      /* CAVs per layer: concepts x cavs, then the baselines' */
    float *V;                   /* [n_layers, K, D] the CAVs in float for the GEMM */
    float *dm;                  /* [T_max, K] directional derivatives of one example */
    double *d;                  /* [T_max] one column */
    long *positive;             /* [n_layers, K, kinds] targets with S > 0 */
    double *sum;                /* [n_layers, K, kinds] sum of S */
    double *sum_raw;            /* [n_layers, K] sum of ttcav_raw */
    int heat_k;                 /* the heatmap's CAV column */
    const attx_tcav_options *o;
    long done, total;
} target_state;

static int on_target(void *user, const attx_tcav_view *v, attx_error *err)
{
    target_state *st = user;
    attx_tcav_result *r = st->r;
    int K = st->K, D = v->D, j = v->layer_index;
    (void)err;
    /* dm[T, K] = g[T, D] V_j[K, D]^T: d_t for every CAV of the layer at once */
    attx_gemm(0, 1, v->T, K, D, v->g, D, st->V + (size_t)j * (size_t)K * (size_t)D, D, 0.0f, st->dm, K);
    for (int k = 0; k < K; k++) {
        for (int t = 0; t < v->T; t++) st->d[t] = st->dm[(size_t)t * (size_t)K + (size_t)k];
        int heat = r->heat && v->example == r->heat_target && j == st->o->heat_layer_index && k == st->heat_k;
        attx_tcav_example_score s = attx_tcav_example(v->T, st->d, v->a, heat ? r->heat : NULL);
        if (heat) {
            r->heat_T = v->T;
            r->heat_S = s.ttcav;
        }
        double vals[ATTX_TCAV_KINDS] = {s.ttcav, s.tcav, s.ablation};
        for (int kind = 0; kind < ATTX_TCAV_KINDS; kind++) {
            size_t at = ((size_t)j * (size_t)K + (size_t)k) * ATTX_TCAV_KINDS + (size_t)kind;
            st->positive[at] += vals[kind] > 0;
            st->sum[at] += vals[kind];
        }
        st->sum_raw[(size_t)j * (size_t)K + (size_t)k] += s.ttcav_raw;
    }
    if (j == r->n_layers - 1 && st->o->progress) st->o->progress(st->o->progress_user, "targets", ++st->done, st->total);
    return 0;
}

/* Column k of a layer's CAVs: concept k / n_cavs (CAV k % n_cavs), then the baseline's CAVs. */
static void column_of(size_t k, int n_concepts, int n_cavs, int *c, int *i)
{
    size_t concept_cols = (size_t)n_concepts * (size_t)n_cavs;
    *c = k < concept_cols ? (int)(k / (size_t)n_cavs) : n_concepts;
    *i = k < concept_cols ? (int)(k % (size_t)n_cavs) : (int)(k - concept_cols);
}

static void stat_of(attx_tcav_stat *s, int n, const double *x)
{
    double m = 0, ss = 0;
    for (int i = 0; i < n; i++) m += x[i];
    m /= n;
    for (int i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
    s->mean = m;
    s->std = n > 1 ? sqrt(ss / (n - 1)) : NAN;
    s->test = (attx_ttest){NAN, NAN, NAN};
    s->p_bonferroni = NAN;
    s->significant = 0;
}

/* The examples of one side of a CAV: set s, its first n examples. */
static void refs_range(attx_tcav_ref *refs, int s, int n)
{
    for (int i = 0; i < n; i++) refs[i] = (attx_tcav_ref){s, i};
}

int attx_tcav_run(const attx_model *m, const attx_tcav_source *concepts, int n_concepts,
                  const attx_tcav_source *randoms, int n_randoms, const attx_tcav_source *targets,
                  const attx_tcav_options *opts, attx_tcav_result *out, attx_error *err)
{
    memset(out, 0, sizeof *out);
    double t0 = now_ms();
    attx_tcav_options o;
    if (opts) o = *opts;
    else attx_tcav_options_init(&o);
    if (o.alpha <= 0) o.alpha = 0.05;
    const attx_config *cfg = attx_model_config(m);
    if (cfg->arch != ATTX_ARCH_BERT && cfg->arch != ATTX_ARCH_VIT)
        return attx_fail(err, "TCAV needs a BERT or ViT model, not %s", attx_arch_name(cfg->arch));
    if (!attx_model_has_classifier(m)) return attx_fail(err, "the model has no classifier: there is no class to score");
    if (o.klass < 0 || o.klass >= cfg->num_labels)
        return attx_fail(err, "class %d: the model has %d classes (from 0)", o.klass, cfg->num_labels);
    int classic = n_randoms > 0, null = !classic && o.null_baseline, has_baseline = classic || null;
    if (!classic && n_concepts < 2)
        return attx_fail(err, "relative CAVs need at least 2 concepts (each is set against the others); give "
                              "random sets for classic TCAV");
    if (classic && n_randoms < 3)
        return attx_fail(err, "classic TCAV needs at least 3 random sets (one counterpart and 2 or more to test "
                              "against), not %d", n_randoms);
    if (n_concepts < 1) return attx_fail(err, "no concepts");
    for (int c = 0; c < n_concepts; c++)
        if (concepts[c].count < 1) return attx_fail(err, "concept %d has no examples", c);
    for (int k = 0; k < n_randoms; k++)
        if (randoms[k].count < 1) return attx_fail(err, "random set %d has no examples", k);
    if (!targets || targets->count < 1) return attx_fail(err, "there are no target examples");
    int n_cavs = classic ? n_randoms - 1 : (o.n_cavs > 0 ? o.n_cavs : 50);
    int n_layers = o.layers && o.n_layers > 0 ? o.n_layers : cfg->num_layers;
    for (int j = 0; j < n_layers; j++) {
        int l = o.layers && o.n_layers > 0 ? o.layers[j] : j;
        if (l < 0 || l >= cfg->num_layers) return attx_fail(err, "layer %d: the model has %d layers (from 0)", l, cfg->num_layers);
    }
    int n_base = classic ? n_cavs : null ? (o.n_null_cavs > 0 ? o.n_null_cavs : n_cavs) : 0;
    if (o.heat_target >= targets->count) return attx_fail(err, "heatmap target %d: there are %d targets", o.heat_target, targets->count);
    if (o.heat_target >= 0 && (o.heat_layer_index < 0 || o.heat_layer_index >= n_layers || o.heat_concept < 0 ||
                               o.heat_concept >= n_concepts || o.heat_cav < 0 || o.heat_cav >= n_cavs))
        return attx_fail(err, "heatmap: layer index %d, concept %d, CAV %d out of range (%d layers, %d concepts, %d CAVs)",
                         o.heat_layer_index, o.heat_concept, o.heat_cav, n_layers, n_concepts, n_cavs);

    int D = cfg->hidden_size, n_sets = n_concepts + n_randoms;
    attx_tcav_result *r = out;
    r->classic = classic;
    r->null_baseline = null;
    r->objective = o.objective;
    r->klass = o.klass;
    r->n_layers = n_layers;
    r->n_concepts = n_concepts;
    r->n_cavs = n_cavs;
    r->n_targets = targets->count;
    r->tests = n_layers * n_concepts;
    r->n_baseline_cavs = n_base;
    r->dim = D;
    r->heat_target = o.heat_target;
    r->heat_layer = -1;
    r->heat_concept = o.heat_concept;
    r->heat_cav = o.heat_cav;
    int max_T = cfg->arch == ATTX_ARCH_BERT ? cfg->max_position_embeddings
                                            : 1 + (cfg->image_height / cfg->patch_size) * (cfg->image_width / cfg->patch_size);
    r->layers = malloc((size_t)n_layers * sizeof *r->layers);
    r->cells = calloc((size_t)n_layers * (size_t)n_concepts, sizeof *r->cells);
    r->baselines = has_baseline ? calloc((size_t)n_layers, sizeof *r->baselines) : NULL;
    size_t per_layer = (size_t)n_concepts * (size_t)n_cavs + (size_t)n_base;   /* K */
    double *cavs = calloc((size_t)n_layers * per_layer * (size_t)D, sizeof *cavs);
    r->cavs = malloc((size_t)n_layers * (size_t)n_concepts * (size_t)n_cavs * (size_t)D * sizeof *r->cavs);
    if (n_base) r->baseline_cavs = malloc((size_t)n_layers * (size_t)n_base * (size_t)D * sizeof *r->baseline_cavs);
    if (o.heat_target >= 0) r->heat = calloc((size_t)max_T, sizeof *r->heat);
    attx_tcav_acts *acts = calloc((size_t)n_sets, sizeof *acts);
    attx_tcav_ref *pos = NULL, *neg = NULL;
    int *sizes = malloc((size_t)n_sets * sizeof *sizes), max_size = 0, rc = -1;
    target_state st = {0};
    double *warm_coef = NULL, warm_intercept = 0;      /* the previous CAV's w and b (warm start) */
    if (!r->layers || !r->cells || (has_baseline && (!r->baselines || !r->baseline_cavs)) || !cavs || !r->cavs ||
        (o.heat_target >= 0 && !r->heat) ||
        !acts || !sizes) {
        attx_fail(err, "out of memory");
        goto done;
    }
    for (int j = 0; j < n_layers; j++) {
        r->layers[j] = o.layers && o.n_layers > 0 ? o.layers[j] : j;
        for (int c = 0; c < n_concepts; c++)
            if (cell_init(&r->cells[j * n_concepts + c], r->layers[j], c, n_cavs) != 0) {
                attx_fail(err, "out of memory");
                goto done;
            }
        if (has_baseline && cell_init(&r->baselines[j], r->layers[j], -1, n_base) != 0) {
            attx_fail(err, "out of memory");
            goto done;
        }
    }
    if (o.heat_target >= 0) r->heat_layer = r->layers[o.heat_layer_index];
    const attx_tcav_source **sets = malloc((size_t)n_sets * sizeof *sets);
    if (!sets) {
        attx_fail(err, "out of memory");
        goto done;
    }
    size_t examples = 0;
    for (int s = 0; s < n_sets; s++) {
        sets[s] = s < n_concepts ? &concepts[s] : &randoms[s - n_concepts];
        sizes[s] = sets[s]->count;
        max_size = sizes[s] > max_size ? sizes[s] : max_size;
        examples += (size_t)sizes[s];
    }
    pos = malloc((size_t)max_size * sizeof *pos);
    neg = malloc((size_t)max_size * sizeof *neg);
    if (!pos || !neg) {
        attx_fail(err, "out of memory");
        free(sets);
        goto done;
    }

    /* ---- CAVs: an earlier run's, or trained, layers in groups whose activations fit ---- */
    if (o.reuse) {
        const attx_tcav_result *u = o.reuse;
        int same = u->n_layers == n_layers && u->n_concepts == n_concepts && u->n_cavs == n_cavs &&
                   u->n_baseline_cavs == n_base && u->dim == D && u->classic == classic && u->null_baseline == null &&
                   u->cavs && (!n_base || u->baseline_cavs);
        for (int j = 0; same && j < n_layers; j++) same = u->layers[j] == r->layers[j];
        if (!same) {
            attx_fail(err, "the CAVs to reuse come from another setup (layers, concepts, CAV counts or mode differ)");
            free(sets);
            goto done;
        }
        for (int j = 0; j < n_layers; j++)
            for (size_t k = 0; k < per_layer; k++) {
                int c, i;
                column_of(k, n_concepts, n_cavs, &c, &i);
                const double *from = c < n_concepts
                                         ? u->cavs + (((size_t)j * (size_t)n_concepts + (size_t)c) * (size_t)n_cavs + (size_t)i) * (size_t)D
                                         : u->baseline_cavs + ((size_t)j * (size_t)n_base + (size_t)i) * (size_t)D;
                memcpy(cavs + ((size_t)j * per_layer + k) * (size_t)D, from, (size_t)D * sizeof *cavs);
                const attx_tcav_cell *uc = c < n_concepts ? &u->cells[j * n_concepts + c] : &u->baselines[j];
                attx_tcav_cell *cell = c < n_concepts ? &r->cells[j * n_concepts + c] : &r->baselines[j];
                cell->cav_accuracy[i] = uc->cav_accuracy[i];
                cell->cav_iterations[i] = uc->cav_iterations[i];
                cell->cav_converged[i] = uc->cav_converged[i];
            }
    }
    size_t budget = o.max_activation_bytes ? o.max_activation_bytes : (size_t)1 << 30;
    size_t layer_bytes = examples * (size_t)max_T * (size_t)D * sizeof(float);
    int group = layer_bytes ? (int)(budget / layer_bytes) : n_layers;
    if (group < 1) group = 1;
    long cav_total = (long)n_layers * (long)per_layer, cav_done = 0;
    warm_coef = malloc((size_t)D * sizeof *warm_coef);
    if (!warm_coef) {
        attx_fail(err, "out of memory");
        free(sets);
        goto done;
    }
    for (int j0 = 0; j0 < n_layers && !o.reuse; j0 += group) {
        int nl = n_layers - j0 < group ? n_layers - j0 : group;
        for (int s = 0; s < n_sets; s++) {
            if (attx_tcav_activations(m, sets[s], r->layers + j0, nl, o.batch_size, &acts[s], err) != 0) {
                if (s < n_concepts) attx_fail_prefix(err, "concept %d", s);
                else attx_fail_prefix(err, "random set %d", s - n_concepts);
                free(sets);
                goto done;
            }
            if (o.progress) o.progress(o.progress_user, "activations", s + 1, n_sets);
        }
        for (int li = 0; li < nl; li++) {
            int j = j0 + li;
            for (size_t k = 0; k < per_layer; k++) {
                int c, i;                               /* c = n_concepts: the baseline */
                column_of(k, n_concepts, n_cavs, &c, &i);
                int np, nn;
                if (null && c == n_concepts) {          /* a null CAV: two random halves of the pool */
                    np = nn = attx_tcav_null_halves(n_concepts, sizes, o.seed + 1000003u + (uint64_t)i, pos, neg);
                    if (np < 0) {
                        attx_fail(err, "out of memory");
                        free(sets);
                        goto done;
                    }
                } else if (!classic) {
                    refs_range(pos, c, sizes[c]);
                    np = sizes[c];
                    nn = attx_tcav_relative_negatives(n_concepts, sizes, c, o.seed + (uint64_t)i, neg);
                    if (nn < 0) {
                        attx_fail(err, "out of memory");
                        free(sets);
                        goto done;
                    }
                } else {
                    int ps = c < n_concepts ? c : n_concepts;            /* R_0 for the baseline */
                    int ns = n_concepts + 1 + i;                         /* R_{i+1} */
                    int n = sizes[ps] < sizes[ns] ? sizes[ps] : sizes[ns];
                    refs_range(pos, ps, n);
                    refs_range(neg, ns, n);
                    np = nn = n;
                }
                attx_logreg_info info;
                attx_logreg_options lo = o.logreg;
                if (o.warm_start && i > 0) {            /* from the previous CAV of the cell */
                    lo.init_coef = warm_coef;
                    lo.init_intercept = warm_intercept;
                }
                double *v = cavs + ((size_t)j * per_layer + k) * (size_t)D;
                if (attx_cav_train(acts, li, pos, np, neg, nn, &lo, v, &info, err) != 0) {
                    attx_fail_prefix(err, "layer %d, %s %d, CAV %d", r->layers[j], c < n_concepts ? "concept" : "random baseline",
                                     c < n_concepts ? c : 0, i);
                    free(sets);
                    goto done;
                }
                attx_tcav_cell *cell = c < n_concepts ? &r->cells[j * n_concepts + c] : &r->baselines[j];
                cell->cav_accuracy[i] = info.accuracy;
                cell->cav_iterations[i] = info.iterations;
                cell->cav_converged[i] = info.converged;
                for (int d = 0; d < D; d++) warm_coef[d] = v[d] * info.coef_norm;   /* v = w / ||w|| */
                warm_intercept = info.intercept;
                if (o.progress) o.progress(o.progress_user, "cavs", ++cav_done, cav_total);
            }
        }
        for (int s = 0; s < n_sets; s++) attx_tcav_acts_free(&acts[s]);
    }
    for (int j = 0; j < n_layers; j++)                  /* the result's copies */
        for (size_t k = 0; k < per_layer; k++) {
            int c, i;
            column_of(k, n_concepts, n_cavs, &c, &i);
            double *to = c < n_concepts
                             ? r->cavs + (((size_t)j * (size_t)n_concepts + (size_t)c) * (size_t)n_cavs + (size_t)i) * (size_t)D
                             : r->baseline_cavs + ((size_t)j * (size_t)n_base + (size_t)i) * (size_t)D;
            memcpy(to, cavs + ((size_t)j * per_layer + k) * (size_t)D, (size_t)D * sizeof *to);
        }
    free(sets);

    /* ---- targets: one forward + backward per batch, every CAV of every layer scored ---- */
    st.r = r;
    st.K = (int)per_layer;
    st.o = &o;
    st.total = targets->count;
    st.heat_k = o.heat_concept * n_cavs + o.heat_cav;
    st.V = malloc((size_t)n_layers * per_layer * (size_t)D * sizeof *st.V);
    st.dm = malloc((size_t)max_T * per_layer * sizeof *st.dm);
    st.d = malloc((size_t)max_T * sizeof *st.d);
    st.positive = calloc((size_t)n_layers * per_layer * ATTX_TCAV_KINDS, sizeof *st.positive);
    st.sum = calloc((size_t)n_layers * per_layer * ATTX_TCAV_KINDS, sizeof *st.sum);
    st.sum_raw = calloc((size_t)n_layers * per_layer, sizeof *st.sum_raw);
    if (!st.V || !st.dm || !st.d || !st.positive || !st.sum || !st.sum_raw) {
        attx_fail(err, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < (size_t)n_layers * per_layer * (size_t)D; i++) st.V[i] = (float)cavs[i];
    if (attx_tcav_gradients(m, targets, o.klass, o.objective, r->layers, n_layers, o.batch_size, on_target, &st, err) != 0) {
        attx_fail_prefix(err, "targets");
        goto done;
    }
    if (r->heat && cfg->arch == ATTX_ARCH_BERT) {     /* the heatmap's tokens */
        r->heat_ids = malloc((size_t)max_T * sizeof *r->heat_ids);
        int32_t len = 0;
        if (!r->heat_ids) {
            attx_fail(err, "out of memory");
            goto done;
        }
        if (targets->load(targets->user, o.heat_target, r->heat_ids, &len, max_T, NULL, err) != 0) {
            attx_fail_prefix(err, "targets: example %d", o.heat_target);
            goto done;
        }
    }

    /* ---- scores and tests ---- */
    for (int j = 0; j < n_layers; j++)
        for (size_t k = 0; k < per_layer; k++) {
            int c, i;
            column_of(k, n_concepts, n_cavs, &c, &i);
            attx_tcav_cell *cell = c < n_concepts ? &r->cells[j * n_concepts + c] : &r->baselines[j];
            for (int kind = 0; kind < ATTX_TCAV_KINDS; kind++) {
                size_t at = ((size_t)j * per_layer + k) * ATTX_TCAV_KINDS + (size_t)kind;
                cell->score[kind][i] = (double)st.positive[at] / targets->count;
                cell->mean_s[kind][i] = st.sum[at] / targets->count;
            }
            cell->mean_ttcav_raw[i] = st.sum_raw[(size_t)j * per_layer + k] / targets->count;
        }
    for (int j = 0; j < n_layers; j++) {
        for (int kind = 0; kind < ATTX_TCAV_KINDS; kind++)
            if (has_baseline) stat_of(&r->baselines[j].stat[kind], n_base, r->baselines[j].score[kind]);
        for (int c = 0; c < n_concepts; c++) {
            attx_tcav_cell *cell = &r->cells[j * n_concepts + c];
            for (int kind = 0; kind < ATTX_TCAV_KINDS; kind++) {
                attx_tcav_stat *s = &cell->stat[kind];
                stat_of(s, n_cavs, cell->score[kind]);
                s->test = has_baseline ? attx_ttest_ind(n_cavs, cell->score[kind], n_base, r->baselines[j].score[kind], 0)
                                  : attx_ttest_1samp(n_cavs, cell->score[kind], 0.5);
                s->p_bonferroni = attx_bonferroni(s->test.p, r->tests);
                s->significant = s->p_bonferroni < o.alpha;      /* NAN: not significant */
            }
        }
    }
    r->time_ms = now_ms() - t0;
    rc = 0;
done:
    if (acts)
        for (int s = 0; s < n_sets; s++) attx_tcav_acts_free(&acts[s]);
    free(acts);
    free(cavs);
    free(pos);
    free(neg);
    free(sizes);
    free(st.V);
    free(st.dm);
    free(st.d);
    free(st.positive);
    free(st.sum);
    free(st.sum_raw);
    free(warm_coef);
    if (rc != 0) attx_tcav_result_free(out);
    return rc;
}
