/* cpu.c — which instruction set the numeric kernels use: the best the CPU supports, or a lower
 * one named by the environment variable ATTX_ISA (portable, avx2, avx512), so that every path
 * can be tested on any machine. */
#include "attx_weights.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
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

#if defined(__x86_64__) && defined(__linux__)
/* AMX-TILE and AMX-INT8 (CPUID leaf 7 sub-leaf 0, EDX bits 24 and 25), the tile state enabled
 * in XCR0 (bits 17 and 18, XTILECFG and XTILEDATA; readable when CPUID.1 ECX bit 27, OSXSAVE),
 * and the permission Linux wants a process to ask for before its first tile instruction:
 * arch_prctl(ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18). */
static int amx_int8_usable(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c >> 27 & 1)) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d >> 24 & 1) || !(d >> 25 & 1)) return 0;
    unsigned xcr0_lo, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo >> 17 & 3) != 3) return 0;
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
}
#endif

int attx_cpu_has_amx_int8(void)
{
#if defined(__x86_64__) && defined(__linux__)
    static _Atomic int cached = -1;   /* asked once: the permission is the process's */
    int has = atomic_load_explicit(&cached, memory_order_acquire);
    if (has < 0) {
        has = amx_int8_usable();
        atomic_store_explicit(&cached, has, memory_order_release);
    }
    return has && attx_cpu_isa() == ATTX_ISA_AVX512;
#else
    return 0;
#endif
}

int attx_cpu_has_vnni(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return attx_cpu_isa() == ATTX_ISA_AVX512 && has_avx512_vnni();
#else
    return 0;
#endif
}

#if defined(__x86_64__) || defined(__i386__)
/* AVX512_BF16 from CPUID leaf 7, sub-leaf 1 (EAX bit 5); sub-leaf 1 exists when sub-leaf 0's
 * EAX (the highest sub-leaf) is at least 1 */
static int has_avx512_bf16(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || a < 1) return 0;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a >> 5 & 1);
}
#endif

int attx_cpu_has_bf16(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return attx_cpu_isa() == ATTX_ISA_AVX512 && has_avx512_bf16();   /* avx512: the OS saves the zmm state */
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
