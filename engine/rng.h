/* rng.h — internal: the project's seeded, reproducible pseudo-random generator.
 *
 * xoshiro256** (Blackman & Vigna) with its 256-bit state filled from the seed by splitmix64, so
 * any 64-bit seed (0 included) gives a well-mixed state. The same seed gives the same stream on
 * every machine: nothing here depends on the platform's rand(), time or thread count.
 *
 * Independent streams (one per thread, per example, per bootstrap replicate): seed each with
 * attx_rng_seed_stream(&r, seed, index); streams with different indices are unrelated.
 *
 * Used by explain/ (samplers) and training (dropout, shuffling). Not part of the public API.
 */
#ifndef ATTX_RNG_H
#define ATTX_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct attx_rng {
    uint64_t s[4];
} attx_rng;

/* Seeds the generator (splitmix64 expansion of seed). */
void attx_rng_seed(attx_rng *r, uint64_t seed);

/* Seeds stream number `stream` of seed: a different, unrelated sequence for each stream. */
void attx_rng_seed_stream(attx_rng *r, uint64_t seed, uint64_t stream);

/* Next 64 random bits. */
uint64_t attx_rng_next(attx_rng *r);

/* Uniform double in [0, 1) with 53 random bits. */
double attx_rng_uniform(attx_rng *r);

/* Uniform integer in [0, n) without modulo bias (Lemire's multiply-and-reject); n = 0 gives 0. */
uint64_t attx_rng_below(attx_rng *r, uint64_t n);

/* 1 with probability p (p <= 0 never, p >= 1 always), else 0. */
int attx_rng_bernoulli(attx_rng *r, double p);

/* Standard normal deviate (Marsaglia's polar method; no cached second value, so the stream
 * position depends only on how many calls were made). */
double attx_rng_normal(attx_rng *r);

/* Fisher–Yates shuffle of count elements of elem_size bytes each, in place. */
void attx_rng_shuffle(attx_rng *r, void *base, size_t count, size_t elem_size);

/* perm[0..n) = a uniformly random permutation of 0..n-1. */
void attx_rng_permutation(attx_rng *r, int *perm, int n);

/* out[0..k) = k distinct integers drawn uniformly from 0..n-1, in increasing order (Floyd's
 * algorithm, O(k^2) worst case, no O(n) scratch). Requires 0 <= k <= n. */
void attx_rng_choose(attx_rng *r, int k, int n, int *out);

#endif
