/* topk_torch.c — which k entries torch.topk(values, k) picks on the CPU when values tie.
 *
 * P1 ranks attributions with torch.topk over the padded sequence (non-players at -inf), and its
 * "Att" baseline gives every token the same score, so its comprehensiveness and sufficiency
 * depend on how torch breaks ties. PyTorch's CPU kernel (aten/src/ATen/native/cpu/SortingKernel,
 * 1.13) copies (value, index) pairs into a vector and compares values only (x > y for largest):
 *   - when k * 64 <= n, std::partial_sort(first, first + k, last);
 *   - otherwise std::nth_element(first, first + k - 1, last), then a sort of the first k - 1.
 * The set of the first k pairs after that is the selection; which equal values land in it is
 * decided by the standard library's algorithms. Those are libstdc++'s (GCC), written out below
 * step for step: introselect (median-of-three pivot moved to the front, unguarded Hoare
 * partition, heap select past 2 floor(log2 n) levels, insertion sort of the last <= 3) and the
 * binary-heap select of partial_sort. Checked against torch.topk in test_metrics.c. */
#include "attx_explain.h"

#include <stdlib.h>

typedef struct pair {
    float value;
    int index;
} pair;

/* torch's comparator for largest = true: strictly greater (NaN never reaches here) */
static int before(const pair *x, const pair *y)
{
    return x->value > y->value;
}

static void swap_pairs(pair *a, pair *b)
{
    pair t = *a;
    *a = *b;
    *b = t;
}

/* ---- binary heap on before(), as libstdc++'s __push_heap / __adjust_heap / __make_heap ---- */

static void push_heap(pair *first, long hole, long top, pair value)
{
    long parent = (hole - 1) / 2;
    while (hole > top && before(&first[parent], &value)) {
        first[hole] = first[parent];
        hole = parent;
        parent = (hole - 1) / 2;
    }
    first[hole] = value;
}

static void adjust_heap(pair *first, long hole, long len, pair value)
{
    long top = hole, child = hole;
    while (child < (len - 1) / 2) {
        child = 2 * (child + 1);
        if (before(&first[child], &first[child - 1])) child--;
        first[hole] = first[child];
        hole = child;
    }
    if ((len & 1) == 0 && child == (len - 2) / 2) {
        child = 2 * (child + 1);
        first[hole] = first[child - 1];
        hole = child - 1;
    }
    push_heap(first, hole, top, value);
}

static void make_heap(pair *first, long len)
{
    if (len < 2) return;
    for (long parent = (len - 2) / 2;; parent--) {
        adjust_heap(first, parent, len, first[parent]);
        if (parent == 0) return;
    }
}

/* libstdc++'s __heap_select: a heap of the first `middle` entries; every later entry that
 * comes before the heap's top replaces it */
static void heap_select(pair *first, long middle, long last)
{
    make_heap(first, middle);
    for (long i = middle; i < last; i++)
        if (before(&first[i], &first[0])) {
            pair value = first[i];
            first[i] = first[0];
            adjust_heap(first, 0, middle, value);
        }
}

/* ---- introselect (std::nth_element) ---- */

static void move_median_to_first(pair *result, pair *a, pair *b, pair *c)
{
    if (before(a, b)) {
        if (before(b, c)) swap_pairs(result, b);
        else if (before(a, c)) swap_pairs(result, c);
        else swap_pairs(result, a);
    } else if (before(a, c)) {
        swap_pairs(result, a);
    } else if (before(b, c)) {
        swap_pairs(result, c);
    } else {
        swap_pairs(result, b);
    }
}

static pair *unguarded_partition(pair *first, pair *last, const pair *pivot)
{
    for (;;) {
        while (before(first, pivot)) first++;
        last--;
        while (before(pivot, last)) last--;
        if (!(first < last)) return first;
        swap_pairs(first, last);
        first++;
    }
}

static void insertion_sort(pair *first, pair *last)
{
    if (first == last) return;
    for (pair *i = first + 1; i != last; i++) {
        pair value = *i;
        if (before(&value, first)) {
            for (pair *p = i; p != first; p--) *p = p[-1];
            *first = value;
        } else {
            pair *hole = i;
            while (before(&value, hole - 1)) {
                *hole = hole[-1];
                hole--;
            }
            *hole = value;
        }
    }
}

static void nth_element(pair *first, pair *nth, pair *last)
{
    if (first == last || nth == last) return;
    int depth = 0;   /* 2 floor(log2(n)) */
    for (long n = last - first; n > 1; n >>= 1) depth++;
    depth *= 2;
    while (last - first > 3) {
        if (depth == 0) {
            heap_select(first, nth - first + 1, last - first);
            swap_pairs(first, nth);
            return;
        }
        depth--;
        pair *mid = first + (last - first) / 2;
        move_median_to_first(first, first + 1, mid, last - 1);
        pair *cut = unguarded_partition(first + 1, last, first);
        if (cut <= nth) first = cut;
        else last = cut;
    }
    insertion_sort(first, last);
}

int attx_torch_topk_set(const float *values, int n, int k, int *selected, attx_error *err)
{
    if (n < 0 || k < 0 || k > n) return attx_fail(err, "topk: k = %d of %d values", k, n);
    if (k == 0) return 0;
    for (int i = 0; i < n; i++)
        if (values[i] != values[i]) return attx_fail(err, "topk: value %d is NaN", i);
    pair *q = malloc((size_t)n * sizeof *q);
    if (!q) return attx_fail(err, "topk: out of memory");
    for (int i = 0; i < n; i++) q[i] = (pair){values[i], i};
    if ((long)k * 64 <= n) heap_select(q, k, n);   /* partial_sort's selection */
    else nth_element(q, q + k - 1, q + n);
    for (int i = 0; i < k; i++) selected[i] = q[i].index;
    free(q);
    return 0;
}
