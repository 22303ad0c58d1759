/* A C program that embeds Python, imports the table of activations once, then runs
   kernels from several pthreads at once without the GIL, each call with nthreads = 1.
   Checks: every thread's results are bit-identical to the ones computed before the
   threads start; invalid calls return their status and write nothing.
   Prints "embed: ok" and exits 0, or prints what failed and exits 1. */
#include "activations.h"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define NTHREADS 4
#define N 100003
#define ROWS 37
#define COLS 129

static float xs[N], expected_tanh[N];
static double xd[ROWS * COLS], expected_softmax[ROWS * COLS];

static void *worker(void *arg)
{
    static float out_f[NTHREADS][N];
    static double out_d[NTHREADS][ROWS * COLS];
    long id = (long)arg;
    for (int rep = 0; rep < 20; rep++) {
        if (act_tanh_f32(xs, out_f[id], N, 1) != ACT_OK
                || act_softmax_f64(xd, out_d[id], ROWS, COLS, 1) != ACT_OK)
            return (void *)1;
        if (memcmp(out_f[id], expected_tanh, sizeof expected_tanh) != 0
                || memcmp(out_d[id], expected_softmax, sizeof expected_softmax) != 0)
            return (void *)2;
    }
    return NULL;
}

int main(void)
{
    pthread_t threads[NTHREADS];
    int failed = 0;
    float small[4] = {1, 2, 3, 4}, untouched[4] = {9, 9, 9, 9};

    Py_Initialize();
    if (import_activations() < 0) {
        PyErr_Print();
        return 1;
    }
    for (long i = 0; i < N; i++)
        xs[i] = (float)((i % 2001) - 1000) / 100.0f;
    for (long i = 0; i < ROWS * COLS; i++)
        xd[i] = sin(0.1 * (double)i) * 30.0;
    if (act_tanh_f32(xs, expected_tanh, N, 0) != ACT_OK
            || act_softmax_f64(xd, expected_softmax, ROWS, COLS, 0) != ACT_OK) {
        printf("embed: reference calls failed\n");
        return 1;
    }
    for (long i = 0; i < N; i++)
        if (fabsf(expected_tanh[i] - tanhf(xs[i])) > 1e-6f) {
            printf("embed: tanh(%g) = %g, libm says %g\n", xs[i], expected_tanh[i], tanhf(xs[i]));
            return 1;
        }

    /* Invalid calls: their status, and nothing written. */
    if (act_sigmoid_f32(NULL, untouched, 4, 1) != ACT_ENULL
            || act_softplus_f32(small, untouched, 4, 0.0f, 20.0f, 1) != ACT_EINVAL
            || act_glu_f32(small, untouched, 1, 3, 1) != ACT_ESIZE
            || act_sigmoid_f32(small, untouched, -1, 1) != ACT_ESIZE
            || untouched[0] != 9 || untouched[3] != 9) {
        printf("embed: an invalid call did not fail cleanly\n");
        return 1;
    }

    Py_BEGIN_ALLOW_THREADS  /* the kernels need no GIL */
    for (long t = 0; t < NTHREADS; t++)
        pthread_create(&threads[t], NULL, worker, (void *)t);
    for (long t = 0; t < NTHREADS; t++) {
        void *res;
        pthread_join(threads[t], &res);
        if (res != NULL) {
            printf("embed: thread %ld failed (%ld)\n", t, (long)res);
            failed = 1;
        }
    }
    Py_END_ALLOW_THREADS
    if (Py_FinalizeEx() < 0)
        return 1;
    if (!failed)
        printf("embed: ok, %d threads x 20 calls, bit-identical\n", NTHREADS);
    return failed;
}
