/* cpu.c — which instruction set the numeric kernels use: the best the CPU supports, or a lower
 * one named by the environment variable ATTX_ISA (portable, avx2, avx512), so that every path
 * can be tested on any machine. */
#include "attx_weights.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
/* F16C from CPUID leaf 1 (ECX bit 29): clang's __builtin_cpu_supports does not know "f16c" */
static int has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c >> 29 & 1);
}
#endif

#if defined(__x86_64__) || defined(__i386__)
/* AVX512_VNNI from CPUID leaf 7, sub-leaf 0 (ECX bit 11) */
static int has_avx512_vnni(void)
{
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c >> 11 & 1);
}
#endif

int attx_cpu_has_vnni(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return attx_cpu_isa() == ATTX_ISA_AVX512 && has_avx512_vnni();
#else
    return 0;
#endif
}

static int cpu_best(void)
{
#if defined(__x86_64__) || defined(__i386__)
    /* __builtin_cpu_supports also checks that the OS saves the ymm/zmm registers */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma") &&
        has_f16c())
        return ATTX_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c())
        return ATTX_ISA_AVX2;
#endif
    return ATTX_ISA_PORTABLE;
}

static int env_isa(void)
{
    const char *v = getenv("ATTX_ISA");
    if (!v || !*v) return ATTX_ISA_AUTO;
    if (strcmp(v, "portable") == 0) return ATTX_ISA_PORTABLE;
    if (strcmp(v, "avx2") == 0) return ATTX_ISA_AVX2;
    if (strcmp(v, "avx512") == 0) return ATTX_ISA_AVX512;
    return ATTX_ISA_AUTO;   /* anything else: the default (attx_cpu_isa_env_valid says so) */
}

int attx_cpu_isa_env_valid(void)
{
    const char *v = getenv("ATTX_ISA");
    return !v || !*v || env_isa() != ATTX_ISA_AUTO;
}

int attx_cpu_isa(void)
{
    static _Atomic int cached = -2;   /* the environment is read once */
    int isa = atomic_load_explicit(&cached, memory_order_relaxed);
    if (isa == -2) {
        int best = cpu_best(), want = env_isa();
        isa = want == ATTX_ISA_AUTO || want > best ? best : want;
        atomic_store_explicit(&cached, isa, memory_order_relaxed);
    }
    return isa;
}

const char *attx_isa_name(int isa)
{
    switch (isa) {
    case ATTX_ISA_PORTABLE: return "portable";
    case ATTX_ISA_AVX2: return "avx2";
    case ATTX_ISA_AVX512: return "avx512";
    default: return "unknown";
    }
}
