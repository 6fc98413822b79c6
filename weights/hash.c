/* hash.c — FNV-1a, the one hash of attx's hash tables and of the model files' checksum. */
#include "attx_weights.h"

uint64_t attx_fnv1a64(uint64_t h, const void *bytes, size_t n)
{
    const unsigned char *b = bytes;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}
