/* rng.c — xoshiro256** seeded by splitmix64; uniform, bounded, Bernoulli, normal, shuffles. */
#include "rng.h"

#include <math.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void attx_rng_seed(attx_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    /* splitmix64 never yields four zero words in a row, but keep the all-zero state impossible */
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) r->s[0] = 1;
}

void attx_rng_seed_stream(attx_rng *r, uint64_t seed, uint64_t stream)
{
    /* mix the stream index through splitmix64 before combining, so nearby (seed, stream)
     * pairs do not give overlapping splitmix sequences */
    uint64_t x = stream ^ 0xD1B54A32D192ED03ull;
    uint64_t h = splitmix64(&x);
    attx_rng_seed(r, seed ^ h);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t attx_rng_next(attx_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double attx_rng_uniform(attx_rng *r)
{
    return (double)(attx_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t attx_rng_below(attx_rng *r, uint64_t n)
{
    if (n == 0) return 0;
    /* Lemire: the high word of x*n is uniform on [0,n) once the low word's biased zone
     * (below 2^64 mod n) is rejected. */
    unsigned __int128 m = (unsigned __int128)attx_rng_next(r) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = (0 - n) % n;   /* 2^64 mod n */
        while (low < threshold) {
            m = (unsigned __int128)attx_rng_next(r) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

int attx_rng_bernoulli(attx_rng *r, double p)
{
    if (!(p > 0)) return 0;
    if (p >= 1) return 1;
    return attx_rng_uniform(r) < p;
}

double attx_rng_normal(attx_rng *r)
{
    for (;;) {
        double u = 2 * attx_rng_uniform(r) - 1, v = 2 * attx_rng_uniform(r) - 1;
        double s = u * u + v * v;
        if (s > 0 && s < 1) return u * sqrt(-2 * log(s) / s);
    }
}

void attx_rng_shuffle(attx_rng *r, void *base, size_t count, size_t elem_size)
{
    unsigned char *b = base, tmp[64];
    for (size_t i = count; i > 1; i--) {
        size_t j = (size_t)attx_rng_below(r, i);
        if (j == i - 1) continue;
        unsigned char *x = b + (i - 1) * elem_size, *y = b + j * elem_size;
        for (size_t off = 0; off < elem_size; off += sizeof tmp) {   /* swap in 64-byte pieces */
            size_t len = elem_size - off < sizeof tmp ? elem_size - off : sizeof tmp;
            memcpy(tmp, x + off, len);
            memcpy(x + off, y + off, len);
            memcpy(y + off, tmp, len);
        }
    }
}

void attx_rng_permutation(attx_rng *r, int *perm, int n)
{
    for (int i = 0; i < n; i++) perm[i] = i;
    attx_rng_shuffle(r, perm, (size_t)(n > 0 ? n : 0), sizeof *perm);
}

void attx_rng_choose(attx_rng *r, int k, int n, int *out)
{
    /* Floyd: for j = n-k .. n-1 pick t in [0, j]; take t unless already taken, else j. The
     * chosen set is uniform over k-subsets. out is kept sorted by insertion. */
    int m = 0;
    for (int j = n - k; j < n; j++) {
        int t = (int)attx_rng_below(r, (uint64_t)j + 1);
        int pos = 0;
        while (pos < m && out[pos] < t) pos++;
        if (pos < m && out[pos] == t) {   /* taken: j itself is new and the largest so far */
            out[m++] = j;
            continue;
        }
        memmove(out + pos + 1, out + pos, (size_t)(m - pos) * sizeof *out);
        out[pos] = t;
        m++;
    }
}
