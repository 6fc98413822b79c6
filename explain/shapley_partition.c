/* shapley_partition.c — shap's Partition explainer (the owen algorithm) on a binary hierarchy
 * of the players: the balanced tree of contiguous players, or a tree given by the caller (shap's
 * Text masker's token tree).
 *
 * Facts from shap/explainers/_partition.py (own code): the queue starts with the root in the
 * context (empty, N) and weight 1; budget max_evals - 2 after v(empty) and v(N); an entry's
 * priority is -|v(with) - v(without)| * weight (most negative first, ties by a random number);
 * expanding an internal node evaluates context+left and context+right and queues left and right
 * each in the context without and with its sibling, weight halved; leaves add
 * (v(with) - v(without)) * weight; when the budget is spent the queued entries leave the same
 * amount on their node, and a final pass (lower_credit) hands every internal node's amount to
 * its two children in proportion to their numbers of leaves. Batches are filled while fewer than
 * batch_size masks are queued and the evaluation count plus the batch stays below the budget. */
#include "shapley_internal.h"
#include "rng.h"

#include <stdlib.h>
#include <string.h>

#define PARTITION_DEFAULT_EVALS 500
#define PARTITION_DEFAULT_BATCH 5

typedef struct pnode {
    int lo, hi;          /* its players are order[lo..hi) (leaves in depth-first order) */
    int left, right;     /* children (-1 for leaves) */
} pnode;

typedef struct pentry {
    double prio, tie;
    double f00, f11, weight;
    int node;
    size_t mask;         /* offset of its context mask in the mask pool (in masks) */
} pentry;

typedef struct pitem {   /* an expansion waiting for its two evaluations */
    pentry e;
    size_t m10;          /* pool offset of context+left; context+right follows it */
} pitem;

typedef struct pqueue {
    pentry *e;
    size_t len, cap;
} pqueue;

static int entry_less(const pentry *a, const pentry *b)
{
    return a->prio < b->prio || (a->prio == b->prio && a->tie < b->tie);
}

static int pq_push(pqueue *q, pentry x)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? 2 * q->cap : 64;
        pentry *e = realloc(q->e, cap * sizeof *e);
        if (!e) return -1;
        q->e = e;
        q->cap = cap;
    }
    size_t i = q->len++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!entry_less(&x, &q->e[p])) break;
        q->e[i] = q->e[p];
        i = p;
    }
    q->e[i] = x;
    return 0;
}

static pentry pq_pop(pqueue *q)
{
    pentry top = q->e[0], last = q->e[--q->len];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->len) break;
        if (c + 1 < q->len && entry_less(&q->e[c + 1], &q->e[c])) c++;
        if (!entry_less(&q->e[c], &last)) break;
        q->e[i] = q->e[c];
        i = c;
    }
    if (q->len) q->e[i] = last;
    return top;
}

/* The balanced tree over [lo, hi): leaves are 0..n-1, internal nodes n.. in creation order
 * (post-order), so a parent's id is larger than its children's. Returns the node id. */
static int balanced(int32_t *tree, int n, int *next, int lo, int hi)
{
    if (hi - lo == 1) return lo;
    int mid = lo + (hi - lo + 1) / 2;
    int l = balanced(tree, n, next, lo, mid), r = balanced(tree, n, next, mid, hi);
    int id = (*next)++;
    tree[2 * (id - n)] = l;
    tree[2 * (id - n) + 1] = r;
    return id;
}

void attx_partition_balanced_tree(int n, int32_t *tree)
{
    if (n < 2 || !tree) return;
    int next = n;
    balanced(tree, n, &next, 0, n);
}

/* Lays node id's leaves out in order[] from *pos, depth first, filling lo/hi. */
static void place(pnode *nodes, int id, int *order, int *pos)
{
    pnode *nd = &nodes[id];
    nd->lo = *pos;
    if (nd->left < 0) {
        order[(*pos)++] = id;
    } else {
        place(nodes, nd->left, order, pos);
        place(nodes, nd->right, order, pos);
    }
    nd->hi = *pos;
}

/* nodes[2n-1] and order[n] from tree (checked: see attx_partition_options). */
static int load_tree(const int32_t *tree, int n, pnode *nodes, int *order, attx_error *err)
{
    int n_nodes = 2 * n - 1;
    char *has_parent = calloc((size_t)n_nodes, 1);
    if (!has_parent) return attx_fail(err, "partition explainer: out of memory");
    for (int id = 0; id < n_nodes; id++) nodes[id] = (pnode){0, 0, -1, -1};
    for (int k = 0; k < n - 1; k++) {
        for (int side = 0; side < 2; side++) {
            int32_t c = tree[2 * k + side];
            if (c < 0 || c >= n + k || has_parent[c]) {
                free(has_parent);
                return attx_fail(err, "partition explainer: node %d of the tree has child %d (each id below "
                                 "the node's used once)", n + k, (int)c);
            }
            has_parent[c] = 1;
        }
        nodes[n + k].left = tree[2 * k];
        nodes[n + k].right = tree[2 * k + 1];
    }
    free(has_parent);   /* n-1 nodes took 2n-2 distinct children: every id but the root */
    int pos = 0;
    place(nodes, n_nodes - 1, order, &pos);
    return 0;
}

static void set_players(uint64_t *m, const int *order, const pnode *nd)
{
    for (int i = nd->lo; i < nd->hi; i++) attx_mask_set(m, order[i]);
}

static uint64_t full_evals(int size, int depth)
{
    if (size <= 1) return 0;
    int left = (size + 1) / 2;
    return ((uint64_t)2 << depth) + full_evals(left, depth + 1) + full_evals(size - left, depth + 1);
}

uint64_t attx_partition_full_evals(int n)
{
    return n < 1 ? 0 : 2 + full_evals(n, 0);
}

int attx_shapley_partition(const attx_game *g, const attx_partition_options *opts, double *phi,
                           attx_shapley_info *info, attx_error *err)
{
    shapley_info_reset(info);
    if (shapley_check_game(g, phi, "partition explainer", err) != 0) return -1;
    int n = g->n;
    if (n == 0) return 0;
    attx_partition_options o = opts ? *opts : (attx_partition_options){0};
    if (o.max_evals == 0) o.max_evals = PARTITION_DEFAULT_EVALS;
    if (o.batch_size == 0) o.batch_size = PARTITION_DEFAULT_BATCH;
    if (o.max_evals < 2)
        return attx_fail(err, "partition explainer: max_evals %d (at least 2: v(empty) and v(N))",
                         o.max_evals);
    if (o.batch_size < 0) return attx_fail(err, "partition explainer: batch size %d", o.batch_size);
    size_t words = attx_mask_words(n);
    uint64_t budget = (uint64_t)o.max_evals - 2;

    int rc = -1;
    int n_nodes = 2 * n - 1;
    pnode *nodes = malloc((size_t)n_nodes * sizeof *nodes);
    int *order = malloc((size_t)n * sizeof *order);
    int32_t *own_tree = o.tree ? NULL : malloc((size_t)(n > 1 ? 2 * (n - 1) : 1) * sizeof *own_tree);
    double *dvalues = calloc((size_t)n_nodes, sizeof *dvalues);
    pqueue q = {0};
    /* every queued entry's context is a mask of the pool; each expansion adds two masks
     * (m10, m01) that children reuse, so the pool holds 2 + 2 * (expansions) masks */
    size_t pool_cap = 2 * ((size_t)budget / 2 + 2) + 2;
    uint64_t *pool = calloc(pool_cap * words, sizeof *pool);
    size_t pool_len = 0;
    size_t batch_cap = (size_t)o.batch_size + 2;   /* a pair may overshoot by one mask */
    uint64_t *bmasks = malloc(batch_cap * words * sizeof *bmasks);
    double *bvalues = malloc(batch_cap * sizeof *bvalues);
    pitem *bitems = malloc(batch_cap * sizeof *bitems);
    if (!nodes || !order || (!o.tree && !own_tree) || !dvalues || !pool || !bmasks || !bvalues || !bitems)
        goto oom;
    if (!o.tree) attx_partition_balanced_tree(n, own_tree);
    if (load_tree(o.tree ? o.tree : own_tree, n, nodes, order, err) != 0) goto done;
    int root = n_nodes - 1;

    /* v(empty) (pool mask 0) and v(N) */
    uint64_t *ends = bmasks;
    memset(ends, 0, 2 * words * sizeof *ends);
    for (int i = 0; i < n; i++) attx_mask_set(ends + words, i);
    double v_ends[2];
    if (attx_game_eval(g, 2, ends, v_ends, err) != 0) goto done;
    pool_len = 1;   /* the empty context */
    if (info) {
        info->v_empty = v_ends[0];
        info->v_full = v_ends[1];
        info->evaluations = 2;
    }

    attx_rng rng;
    attx_rng_seed(&rng, o.seed);
    if (pq_push(&q, (pentry){0, 0, v_ends[0], v_ends[1], 1.0, root, 0}) != 0) goto oom;
    uint64_t eval_count = 0;
    while (q.len) {
        if (eval_count >= budget) {   /* out of budget: queued entries stay on their nodes */
            while (q.len) {
                pentry e = pq_pop(&q);
                dvalues[e.node] += (e.f11 - e.f00) * e.weight;
            }
            break;
        }
        size_t nb = 0, items = 0;
        while (q.len && nb < (size_t)o.batch_size && eval_count + nb < budget) {
            pentry e = pq_pop(&q);
            const pnode *nd = &nodes[e.node];
            if (nd->left < 0) {
                dvalues[e.node] += (e.f11 - e.f00) * e.weight;
                continue;
            }
            if (pool_len + 2 > pool_cap) goto oom;   /* cannot happen: sized from the budget */
            const uint64_t *m00 = pool + e.mask * words;
            uint64_t *m10 = pool + pool_len * words, *m01 = m10 + words;
            memcpy(m10, m00, words * sizeof *m00);
            memcpy(m01, m00, words * sizeof *m00);
            set_players(m10, order, &nodes[nd->left]);
            set_players(m01, order, &nodes[nd->right]);
            memcpy(bmasks + nb * words, m10, 2 * words * sizeof *m10);
            bitems[items] = (pitem){e, pool_len};
            items++;
            pool_len += 2;
            nb += 2;
        }
        if (nb == 0) continue;
        if (attx_game_eval(g, nb, bmasks, bvalues, err) != 0) goto done;
        eval_count += nb;
        for (size_t k = 0; k < items; k++) {
            const pentry *e = &bitems[k].e;
            const pnode *nd = &nodes[e->node];
            double f10 = bvalues[2 * k], f01 = bvalues[2 * k + 1];
            double w = e->weight / 2;
            size_t m10 = bitems[k].m10, m01 = m10 + 1;
            /* left and right without their sibling (context m00), then with it */
            pentry kids[4] = {
                {-fabs(f10 - e->f00) * w, 0, e->f00, f10, w, nd->left, e->mask},
                {-fabs(f01 - e->f00) * w, 0, e->f00, f01, w, nd->right, e->mask},
                {-fabs(e->f11 - f01) * w, 0, f01, e->f11, w, nd->left, m01},
                {-fabs(e->f11 - f10) * w, 0, f10, e->f11, w, nd->right, m10},
            };
            for (int c = 0; c < 4; c++) {
                kids[c].tie = attx_rng_uniform(&rng);
                if (pq_push(&q, kids[c]) != 0) goto oom;
            }
        }
    }
    /* hand internal nodes' amounts down in proportion to size (parents have larger ids) */
    for (int id = n_nodes - 1; id >= n; id--) {
        const pnode *nd = &nodes[id];
        double size = nd->hi - nd->lo, share = dvalues[id];
        const pnode *l = &nodes[nd->left], *r = &nodes[nd->right];
        dvalues[nd->left] += share * (l->hi - l->lo) / size;
        dvalues[nd->right] += share * (r->hi - r->lo) / size;
    }
    for (int i = 0; i < n; i++) phi[i] = dvalues[i];
    if (info) info->evaluations += eval_count;
    rc = 0;
    goto done;
oom:
    attx_fail(err, "partition explainer: out of memory");
done:
    free(nodes);
    free(order);
    free(own_tree);
    free(dvalues);
    free(q.e);
    free(pool);
    free(bmasks);
    free(bvalues);
    free(bitems);
    return rc;
}
