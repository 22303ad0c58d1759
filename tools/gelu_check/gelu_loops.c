/* Loops over the functions of src/activations/_gelu.h, for tools/gelu_check/check_gelu.py:
 * accuracy (NAME_f / NAME_d over arrays, through ctypes), timing (bench_NAME_*), and the
 * vectorization check (compile with -fopt-info-vec-optimized: every `for` loop below
 * must be reported as vectorized). */
#include <time.h>
#include "_gelu.h"

#define LOOPS(NAME)                                                                  \
void NAME##_f(const float *restrict x, float *restrict y, long n)                    \
{ for (long i = 0; i < n; i++) y[i] = act_##NAME##_f(x[i]); }                        \
void NAME##_d(const double *restrict x, double *restrict y, long n)                  \
{ for (long i = 0; i < n; i++) y[i] = act_##NAME##_d(x[i]); }

LOOPS(gelu)
LOOPS(gelu_grad)
LOOPS(gelu_tanh)
LOOPS(gelu_tanh_grad)
LOOPS(ndtr)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* best ns/element over `reps` passes of fn over x -> y */
#define BENCH(NAME, T, SUF)                                                          \
double bench_##NAME##_##SUF(const T *x, T *y, long n, int reps)                      \
{                                                                                    \
    double best = 1e30;                                                              \
    for (int r = 0; r < reps; r++) {                                                 \
        double t0 = now();                                                           \
        NAME##_##SUF(x, y, n);                                                       \
        double t = now() - t0;                                                       \
        best = t < best ? t : best;                                                  \
    }                                                                                \
    return best * 1e9 / (double)n;                                                   \
}
#define BENCH2(NAME) BENCH(NAME, float, f) BENCH(NAME, double, d)
BENCH2(gelu)
BENCH2(gelu_grad)
BENCH2(gelu_tanh)
BENCH2(gelu_tanh_grad)
BENCH2(ndtr)
