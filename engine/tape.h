/* tape.h — internal: tensors, the arena they live in, and the tape of reverse-mode autograd.
 *
 * A forward pass runs ops (engine/ops.h) on tensors allocated in one arena. When the tape is on,
 * each op that has an input requiring a gradient records a node: its inputs, its output, what
 * it saved, and its backward function. attx_backward(ctx, out, seed) walks the nodes in reverse;
 * every backward *accumulates* (+=) into its inputs' gradients, which are allocated (zeroed) the
 * first time something flows into them. Gradients of every tensor that had one stay readable
 * until the arena is reset, so watching a tensor is just reading its grad.
 *
 * With the tape off nothing is recorded and a model may release each layer's temporaries as soon
 * as the layer is done (attx_arena_mark / attx_arena_release).
 */
#ifndef ATTX_TAPE_H
#define ATTX_TAPE_H

#include <stddef.h>
#include <stdint.h>

#include "attx_engine.h"
#include "rng.h"

/* Bump allocator in chunks. Allocations are 64-byte aligned and never freed one by one: reset
 * (keep the chunks for the next run, so steady-state runs do not malloc) or release to a mark. */
typedef struct attx_arena_chunk attx_arena_chunk;
typedef struct attx_arena {
    attx_arena_chunk *head;   /* chunk being filled */
    attx_arena_chunk *first;
    size_t used_total;        /* bytes in use across chunks */
    size_t peak;              /* high-water mark of used_total */
    int failed;               /* an allocation failed (out of memory) */
} attx_arena;

typedef struct attx_arena_mark {
    attx_arena_chunk *chunk;
    size_t used;
    size_t used_total;
} attx_arena_mark;

void *attx_arena_alloc(attx_arena *a, size_t bytes);   /* NULL (and a->failed) when out of memory */
void attx_arena_reset(attx_arena *a);
attx_arena_mark attx_arena_get_mark(const attx_arena *a);
void attx_arena_release(attx_arena *a, attx_arena_mark m);
void attx_arena_free(attx_arena *a);

/* One recorded op. Its backward reads out->grad and accumulates into the inputs that require
 * a gradient (attx_grad(ctx, in) gives their buffers). */
typedef struct attx_node attx_node;
typedef void (*attx_backward_fn)(attx_ctx *ctx, attx_node *node);
struct attx_node {
    attx_backward_fn backward;
    attx_tensor *out;
    attx_tensor *in[4];
    void *saved;              /* op-specific, in the arena */
    int64_t iarg[6];
    float farg[2];
};

struct attx_ctx {
    attx_arena arena;
    attx_node *nodes;         /* growable (malloc'd once, reused across runs) */
    size_t n_nodes, cap_nodes;
    int recording;            /* tape on */
    int dropout;              /* training: dropout layers are active */
    attx_rng rng;             /* their random stream */
    int failed;               /* out of memory somewhere: results are invalid */
};


/* A new tensor in the context's arena; data uninitialised (attx_tensor_zeros: zeroed). Returns
 * NULL on out of memory (ctx->failed set); ops treat NULL inputs as failure and propagate it. */
attx_tensor *attx_tensor_new(attx_ctx *ctx, int ndim, const int64_t *shape);
attx_tensor *attx_tensor_zeros(attx_ctx *ctx, int ndim, const int64_t *shape);
attx_tensor *attx_tensor_2d(attx_ctx *ctx, int64_t a, int64_t b);
attx_tensor *attx_tensor_3d(attx_ctx *ctx, int64_t a, int64_t b, int64_t c);
attx_tensor *attx_tensor_4d(attx_ctx *ctx, int64_t a, int64_t b, int64_t c, int64_t d);
/* A tensor header around existing data (e.g. mmapped weights); the data is not copied. */
attx_tensor *attx_tensor_wrap(attx_ctx *ctx, float *data, int ndim, const int64_t *shape);

/* With the tape off, a model keeps a layer's output and drops the rest of what the layer
 * allocated: copies src into dst (allocated before mark) and releases the arena to mark.
 * Returns dst, or NULL when src is NULL (an allocation failed). */
attx_tensor *attx_keep_release(attx_ctx *ctx, attx_arena_mark mark, attx_tensor *dst,
                               const attx_tensor *src);

/* Gradient buffer of t, allocated zeroed in the arena on first use (params keep theirs). */
float *attx_grad(attx_ctx *ctx, attx_tensor *t);

/* Records a node if the tape is on and any input requires a gradient; then marks out as
 * requiring one. Returns the node (to fill saved/args) or NULL when nothing was recorded. */
attx_node *attx_record(attx_ctx *ctx, attx_backward_fn backward, attx_tensor *out,
                       attx_tensor *in0, attx_tensor *in1, attx_tensor *in2, attx_tensor *in3);


#endif
