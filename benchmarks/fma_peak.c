/* Peak single-precision fused multiply-add rate of one x86-64 core.
 *
 * Twelve independent accumulator chains, each updated with a vector FMA per
 * iteration: enough chains to hide the FMA latency on current x86 cores, so
 * the loop is limited only by how many FMAs the core issues per cycle.
 * Prints GFLOP/s (one FMA = 2 FLOP per vector lane).  bench_rnn.py compiles
 * it twice, for 256-bit (-mavx2 -mfma) and, where the CPU has AVX-512, for
 * 512-bit vectors (-mavx512f -DWIDE), and reports the faster.
 */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#ifdef WIDE
typedef __m512 vec;
#define LANES 16
#define SPLAT _mm512_set1_ps
#define FMADD _mm512_fmadd_ps
#define STOREU _mm512_storeu_ps
#else
typedef __m256 vec;
#define LANES 8
#define SPLAT _mm256_set1_ps
#define FMADD _mm256_fmadd_ps
#define STOREU _mm256_storeu_ps
#endif

static double seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec + 1e-9 * now.tv_nsec;
}

int main(void) {
    const long iterations = 50000000;
    const vec scale = SPLAT(0.9999999f), shift = SPLAT(1e-7f);
    vec c0 = SPLAT(0), c1 = SPLAT(1), c2 = SPLAT(2), c3 = SPLAT(3);
    vec c4 = SPLAT(4), c5 = SPLAT(5), c6 = SPLAT(6), c7 = SPLAT(7);
    vec c8 = SPLAT(8), c9 = SPLAT(9), c10 = SPLAT(10), c11 = SPLAT(11);
    double best = 0.0;
    for (int repeat = 0; repeat < 5; repeat++) {
        double start = seconds();
        for (long i = 0; i < iterations; i++) {
            c0 = FMADD(c0, scale, shift); c1 = FMADD(c1, scale, shift);
            c2 = FMADD(c2, scale, shift); c3 = FMADD(c3, scale, shift);
            c4 = FMADD(c4, scale, shift); c5 = FMADD(c5, scale, shift);
            c6 = FMADD(c6, scale, shift); c7 = FMADD(c7, scale, shift);
            c8 = FMADD(c8, scale, shift); c9 = FMADD(c9, scale, shift);
            c10 = FMADD(c10, scale, shift); c11 = FMADD(c11, scale, shift);
            /* keep the chains in registers and the loop from being folded */
            __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3),
                             "+v"(c4), "+v"(c5), "+v"(c6), "+v"(c7),
                             "+v"(c8), "+v"(c9), "+v"(c10), "+v"(c11));
        }
        double gflops = iterations * 12.0 * LANES * 2 / (seconds() - start) / 1e9;
        if (gflops > best) best = gflops;
    }
    /* use the result so the work cannot be dropped */
    vec sum = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;
    float lanes[LANES];
    STOREU(lanes, sum);
    printf("%.1f %g\n", best, (double)lanes[0]);
    return 0;
}
