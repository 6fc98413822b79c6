/* pickle.h — internal: a restricted unpickler for the data.pkl of torch.save checkpoints.
 *
 * It runs the pickle stack machine over the opcodes protocols 2-5 use for containers, numbers,
 * strings and references, and builds plain values. Nothing is ever imported or executed: the
 * only globals are collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _v3 /
 * _rebuild_parameter(_with_state), the torch.<X>Storage types and torch dtypes (as data, for
 * _rebuild_tensor_v3), and the rebuild functions
 * produce tensor descriptions (storage, offset, shape, strides) checked for form only; the
 * caller checks that each view lies inside its storage. Storages (BINPERSID) are resolved by a
 * callback. Sizes of everything are limited; see the ATTX_PK_MAX_* values.
 */
#ifndef ATTX_PICKLE_H
#define ATTX_PICKLE_H

#include "attx_weights.h"

#define ATTX_PK_MAX_OBJECTS (1u << 21)    /* values created (about 20 per tensor) */
#define ATTX_PK_MAX_STACK 1000000u        /* stack entries (pickle batches items by 1000) */
#define ATTX_PK_MAX_MARKS 256u            /* nesting of MARKs */
#define ATTX_PK_MAX_MEMO (1u << 21)       /* highest memo index + 1 */
#define ATTX_PK_MAX_STRING (1u << 20)     /* bytes in one string */
#define ATTX_PK_MAX_ITEMS (1u << 24)      /* items in one tuple, list or dict */

typedef enum attx_pk_kind {
    ATTX_PK_NONE, ATTX_PK_BOOL, ATTX_PK_INT, ATTX_PK_FLOAT, ATTX_PK_STR, ATTX_PK_BYTES,
    ATTX_PK_TUPLE, ATTX_PK_LIST, ATTX_PK_DICT, ATTX_PK_GLOBAL, ATTX_PK_STORAGE, ATTX_PK_TENSOR
} attx_pk_kind;

typedef struct attx_pk_obj {
    uint8_t kind;         /* attx_pk_kind */
    uint8_t global;       /* GLOBAL: which whitelisted name (pickle.c) */
    uint8_t dtype;        /* GLOBAL of a storage type: its attx_dtype */
    uint32_t n, cap;      /* STR/BYTES: length; TUPLE/LIST: items; DICT: 2 x pairs */
    union {
        int64_t i;        /* BOOL, INT; STORAGE, TENSOR: index into the pickle's arrays */
        double f;         /* FLOAT */
        const char *s;    /* STR, BYTES: n bytes inside the pickle (not NUL-terminated) */
        uint32_t *items;  /* TUPLE, LIST: object ids; DICT: key, value, key, value... */
    };
} attx_pk_obj;

typedef struct attx_pk_storage {
    attx_dtype dtype;     /* U8 for an UntypedStorage (numel counts bytes) */
    const unsigned char *data;
    uint64_t numel;
} attx_pk_storage;

/* _rebuild_tensor_v2/v3(storage, offset, size, stride, ...): a strided view of a storage. */
typedef struct attx_pk_tensor {
    uint32_t storage;     /* index into storages */
    attx_dtype dtype;     /* the storage's (v2) or the one given (v3; its storage is bytes) */
    int ndim;
    uint64_t shape[ATTX_MAX_DIMS];
    uint64_t stride[ATTX_MAX_DIMS];   /* in elements */
    uint64_t offset;                  /* in elements */
} attx_pk_tensor;

/* Resolves BINPERSID ('storage', type, key, location, numel): returns the storage's bytes
 * (numel elements of dtype) or fails with a message. */
typedef int (*attx_pk_load_storage)(void *ctx, const char *key, size_t key_len, attx_dtype dtype,
                                    uint64_t numel, const unsigned char **data, attx_error *err);

typedef struct attx_pickle {
    attx_pk_obj *objs;
    size_t n_objs, cap_objs;
    attx_pk_storage *storages;
    size_t n_storages, cap_storages;
    attx_pk_tensor *tensors;
    size_t n_tensors, cap_tensors;
    uint32_t root;        /* the object STOP returned */
} attx_pickle;

/* Runs the pickle in bytes[0..len). Messages start with "byte N (OPCODE): ". On failure pk is
 * left empty. */
int attx_pickle_load(attx_pickle *pk, const unsigned char *bytes, size_t len,
                     attx_pk_load_storage load_storage, void *ctx, attx_error *err);
void attx_pickle_free(attx_pickle *pk);

/* "int", "str", "dict", "tensor", ... for messages. */
const char *attx_pk_kind_name(attx_pk_kind kind);

#endif
