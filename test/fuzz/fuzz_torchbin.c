/* fuzz_torchbin.c — PyTorch checkpoints (torch.save): the zip container, the restricted
 * unpickler and the state-dict reader.
 *
 * Every input goes through attx_torchbin_parse as a whole file (a zip archive, or anything
 * else, which must be refused). An input that starts like a pickle (0x80, PROTO) also goes
 * straight to the unpickler (attx_pickle_load), its storages served from a block of zeros,
 * so that mutations of the pickle do not first have to keep a zip archive valid.
 * Properties checked on success: every tensor's bytes lie in the input or in the reader's
 * own copy, match dtype x shape, are found by name and convert to float when they are
 * F32/F16/BF16; every pickled object, tensor and storage index is in range. */
#include "fuzz_util.h"

#include "attx_weights.h"
#include "pickle.h"

#define MAX_FAKE_STORAGE (1u << 20)
static const unsigned char zeros[MAX_FAKE_STORAGE];

static int fake_storage(void *ctx, const char *key, size_t key_len, attx_dtype dtype, uint64_t numel,
                        const unsigned char **data, attx_error *err)
{
    (void)ctx;
    (void)key;
    (void)key_len;
    uint64_t nbytes;
    if (attx_mul_u64(numel, attx_dtype_bits(dtype) / 8, &nbytes) != 0 || nbytes > MAX_FAKE_STORAGE)
        return attx_fail(err, "storage too large for the fuzzer");
    *data = zeros;
    return 0;
}

static void check_pickle(const attx_pickle *pk)
{
    FUZZ_CHECK(pk->root < pk->n_objs);
    for (size_t i = 0; i < pk->n_objs; i++) {
        const attx_pk_obj *o = &pk->objs[i];
        switch ((attx_pk_kind)o->kind) {
        case ATTX_PK_TUPLE:
        case ATTX_PK_LIST:
        case ATTX_PK_DICT:
            if (o->kind == ATTX_PK_DICT) FUZZ_CHECK(o->n % 2 == 0);
            for (uint32_t k = 0; k < o->n; k++) FUZZ_CHECK(o->items[k] < pk->n_objs);
            break;
        case ATTX_PK_STORAGE: FUZZ_CHECK(o->i >= 0 && (size_t)o->i < pk->n_storages); break;
        case ATTX_PK_TENSOR: FUZZ_CHECK(o->i >= 0 && (size_t)o->i < pk->n_tensors); break;
        default: break;
        }
    }
    for (size_t i = 0; i < pk->n_tensors; i++) {
        const attx_pk_tensor *t = &pk->tensors[i];
        FUZZ_CHECK(t->storage < pk->n_storages && t->ndim >= 0 && t->ndim <= ATTX_MAX_DIMS);
        FUZZ_CHECK(attx_dtype_bits(t->dtype) >= 8);
    }
}

static void check_tensors(const attx_tensor_file *f, const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < f->n_tensors; i++) {
        const attx_stored_tensor *t = &f->tensors[i];
        FUZZ_CHECK(t->name && t->ndim >= 0 && t->ndim <= ATTX_MAX_DIMS);
        uint64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= t->shape[d];
        FUZZ_CHECK(numel == t->numel && t->numel * (attx_dtype_bits(t->dtype) / 8) == t->nbytes);
        int in_input = t->data >= data && t->nbytes <= size && t->data + t->nbytes <= data + size;
        FUZZ_CHECK(t->nbytes == 0 || in_input || f->owned);
        FUZZ_CHECK(attx_tensor_file_find(f, t->name) != NULL);
        if (attx_dtype_is_float_weight(t->dtype)) {
            float *v = malloc((size_t)t->numel * sizeof *v + 1);
            attx_error err;
            FUZZ_CHECK(v && attx_stored_tensor_to_f32(t, v, &err) == 0);
            free(v);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    attx_tensor_file f;
    attx_error err;
    if (attx_torchbin_parse(&f, data, size, "fuzz.bin", &err) == 0) {
        check_tensors(&f, data, size);
        attx_tensor_file_close(&f);
    } else {
        FUZZ_CHECK(strncmp(err.msg, "fuzz.bin: ", 10) == 0);
    }

    if (size >= 2 && data[0] == 0x80) {
        attx_pickle pk = {0};
        if (attx_pickle_load(&pk, data, size, fake_storage, NULL, &err) == 0) {
            check_pickle(&pk);
            attx_pickle_free(&pk);
        } else {
            FUZZ_CHECK(pk.n_objs == 0 && strncmp(err.msg, "byte ", 5) == 0);
        }
    }
    return 0;
}
