/* safetensors_mutator.h — a libFuzzer custom mutator for targets whose input is a whole
 * .safetensors file (fuzz_safetensors, fuzz_model). Half the time it mutates only the JSON
 * header and rewrites the 8-byte length prefix to match, with the tensor data kept behind the
 * new header, so that inserted or erased header bytes get past the length check; the other
 * half it mutates the file as it is. Not compiled into the replay builds. */
#ifndef ATTX_SAFETENSORS_MUTATOR_H
#define ATTX_SAFETENSORS_MUTATOR_H
#ifndef ATTX_FUZZ_REPLAY

#include "fuzz_util.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    uint64_t header = 0;
    for (int i = 7; size >= 8 && i >= 0; i--) header = header << 8 | data[i];
    if (seed % 2 == 0 || size < 8 || header > size - 8 || size >= max_size)
        return LLVMFuzzerMutate(data, size, max_size);
    size_t tail = size - 8 - (size_t)header;
    uint8_t *saved = malloc(tail ? tail : 1);
    if (!saved) return LLVMFuzzerMutate(data, size, max_size);
    memcpy(saved, data + 8 + header, tail);
    size_t n = LLVMFuzzerMutate(data + 8, (size_t)header, max_size - 8 - tail);
    memcpy(data + 8 + n, saved, tail);
    free(saved);
    for (int i = 0; i < 8; i++) data[i] = (uint8_t)((uint64_t)n >> (8 * i));
    return 8 + n + tail;
}

#endif
#endif
