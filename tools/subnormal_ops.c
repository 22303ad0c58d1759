/* subnormal_ops.c -- the cost of one AVX-512 instruction on subnormal operands and results.
 *
 * Build and run (docs/performance-notes.md "Subnormal operands on Zen 5"):
 *     gcc -O3 -fno-trapping-math -ffp-contract=off -mavx512f -mavx512dq -mavx512vl -mfma \
 *         -mprefer-vector-width=512 tools/subnormal_ops.c -o /tmp/subnormal_ops
 *     /tmp/subnormal_ops
 * Prints a markdown table: ns per vector instruction, op(x[i], c) over 1024 L1-resident
 * elements, four independent instructions per stored vector (their results XORed, a
 * value-blind integer operation), the best of 2 x 200 timings of 20 passes.  Columns:
 * nn normal -> normal, ss subnormal -> subnormal, sn subnormal -> normal, ns normal ->
 * subnormal, n0 normal -> 0 (underflow); sqrt, getexp and the conversions to integer
 * only have the cases they can (their sn column: a subnormal input).  Then the tiny
 * blocks' loop (tiny_rows), ns per element, median of 21 interleaved rounds.  The costs
 * vary between runs on a VM (see the notes).
 */
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <time.h>

#define N 1024
#define PASSES 20
#define REPS 200

static float xf[N] __attribute__((aligned(64))), of[N] __attribute__((aligned(64)));
static double xd[N] __attribute__((aligned(64))), od[N] __attribute__((aligned(64)));

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

/* One loop per (op, width, dtype): 4 x (load, op), 3 XORs, 1 store per 4 vectors. */
#define LOOP(name, T, VT, P, S, LEN, EXPR)                                              \
    __attribute__((noinline)) static void name(const T *x, T *o, T c0, T d0)          \
    {                                                                                 \
        VT c = P##_set1_##S(c0), d = P##_set1_##S(d0);                                \
        (void)c; (void)d;                                                             \
        for (int p = 0; p < PASSES; p++)                                              \
            for (int i = 0; i < N; i += 4 * LEN) {                                    \
                VT r0, r1, r2, r3;                                                    \
                { VT v = P##_load_##S(x + i); r0 = EXPR; }                            \
                { VT v = P##_load_##S(x + i + LEN); r1 = EXPR; }                      \
                { VT v = P##_load_##S(x + i + 2 * LEN); r2 = EXPR; }                  \
                { VT v = P##_load_##S(x + i + 3 * LEN); r3 = EXPR; }                  \
                P##_store_##S(o + i, P##_xor_##S(P##_xor_##S(r0, r1), P##_xor_##S(r2, r3))); \
            }                                                                         \
    }

#define OPS(W, T, VT, P, S, LEN, I2F, F2I)                                            \
    LOOP(mul_##W, T, VT, P, S, LEN, P##_mul_##S(v, c))                                \
    LOOP(fma_##W, T, VT, P, S, LEN, P##_fmadd_##S(v, c, d))                           \
    LOOP(add_##W, T, VT, P, S, LEN, P##_add_##S(v, c))                                \
    LOOP(div_##W, T, VT, P, S, LEN, P##_div_##S(v, c))                                \
    LOOP(sqrt_##W, T, VT, P, S, LEN, P##_sqrt_##S(v))                                 \
    LOOP(scalef_##W, T, VT, P, S, LEN, P##_scalef_##S(v, c))                          \
    LOOP(getexp_##W, T, VT, P, S, LEN, P##_getexp_##S(v))                             \
    LOOP(min_##W, T, VT, P, S, LEN, P##_min_##S(v, c))                                \
    LOOP(cmp_##W, T, VT, P, S, LEN,                                                   \
         P##_mask_blend_##S(P##_cmp_##S##_mask(v, c, _CMP_LT_OQ), v, d))              \
    LOOP(cvt_##W, T, VT, P, S, LEN, I2F(F2I(v)))

OPS(zf, float, __m512, _mm512, ps, 16, _mm512_cvtepi32_ps, _mm512_cvtps_epi32)
OPS(yf, float, __m256, _mm256, ps, 8, _mm256_cvtepi32_ps, _mm256_cvtps_epi32)
OPS(zd, double, __m512d, _mm512, pd, 8, _mm512_cvtepi64_pd, _mm512_cvtpd_epi64)
OPS(yd, double, __m256d, _mm256, pd, 4, _mm256_cvtepi64_pd, _mm256_cvtpd_epi64)

/* The tiny blocks' float32 forward (src/activations/_formulas.pxd tiny_forward_plain):
   f(+-0) where x is +-0 or that is nonzero, else slope * x, the product formed three ways:
   a multiply, fma(x, slope, -0) (the same bits) and no product (slope 1: x itself). */
#define BIG (1 << 16)
float bx[BIG] __attribute__((aligned(64))), bo[BIG] __attribute__((aligned(64)));   /* extern: kept */
#define TINY_LOOP(name, PRODUCT)                                                       \
    __attribute__((noinline)) static void name(float vp, float vn, float zp, float zn) \
    {                                                                                  \
        for (int i = 0; i < BIG; i++) {                                                \
            float v = bx[i];                                                           \
            int neg = __builtin_copysignf(1.0f, v) < 0;                                \
            float s = neg ? vn : vp, f0 = neg ? zn : zp;                               \
            (void)s;                                                                   \
            bo[i] = v == 0 || f0 != 0 ? f0 : (PRODUCT);                                \
        }                                                                              \
    }
TINY_LOOP(tiny_mul, v * s)
TINY_LOOP(tiny_fma, __builtin_fmaf(v, s, -0.0f))
TINY_LOOP(tiny_copy, v)

static void tiny_rows(void)
{
    void (*loops[3])(float, float, float, float) = {tiny_mul, tiny_fma, tiny_copy};
    static const char *names[3] = {"x * slope", "fma(x, slope, -0)", "x (no product)"};
    double t[3][2][21];
    unsigned seed = 1;
    for (int r = 0; r < 21; r++)     /* rounds interleave the loops and the data */
        for (int sub = 0; sub < 2; sub++) {
            for (int i = 0; i < BIG; i++) {
                seed = seed * 1103515245u + 12345u;
                float m = (float)(1 + (seed >> 12) % (1 << 20));
                bx[i] = (seed & 1 ? -1 : 1) * (sub ? m * 0x1p-149f : m * 0x1p-20f);
            }
            for (int k = 0; k < 3; k++) {
                double best = 1e30;
                for (int q = 0; q < 30; q++) {
                    double t0 = now();
                    loops[k](1.0507f, 1.7581f, 0.0f, -0.0f);
                    t0 = now() - t0;
                    best = t0 < best ? t0 : best;
                }
                t[k][sub][r] = best / BIG;
            }
        }
    printf("\n| tiny block, float32, 2^16 | normal x | subnormal x | ratio |\n|---|---|---|---|\n");
    for (int k = 0; k < 3; k++) {
        double med[2];
        for (int sub = 0; sub < 2; sub++) {   /* median of the rounds */
            double *v = t[k][sub];
            for (int a = 1; a < 21; a++)
                for (int b = a; b > 0 && v[b] < v[b - 1]; b--) { double u = v[b]; v[b] = v[b - 1]; v[b - 1] = u; }
            med[sub] = v[10];
        }
        printf("| %s | %.3f | %.3f | %.2f |\n", names[k], med[0], med[1], med[1] / med[0]);
    }
}

typedef void (*kf)(const float *, float *, float, float);
typedef void (*kd)(const double *, double *, double, double);

/* ns per vector instruction of loop k with x filled with v (times 1 + (i % 7) / 16). */
static double time_f(kf k, double v, double c, double d, int lanes)
{
    for (int i = 0; i < N; i++) xf[i] = (float)(v * (1.0 + (i % 7) * 0.0625));
    double best = 1e30;
    for (int r = 0; r < 2 * REPS; r++) {
        double t = now();
        k(xf, of, (float)c, (float)d);
        t = now() - t;
        best = t < best ? t : best;
    }
    return best / (PASSES * (N / lanes));
}

static double time_d(kd k, double v, double c, double d, int lanes)
{
    for (int i = 0; i < N; i++) xd[i] = v * (1.0 + (i % 7) * 0.0625);
    double best = 1e30;
    for (int r = 0; r < 2 * REPS; r++) {
        double t = now();
        k(xd, od, c, d);
        t = now() - t;
        best = t < best ? t : best;
    }
    return best / (PASSES * (N / lanes));
}

/* A case: x, c, d; x = NAN marks a column the op does not have. */
typedef struct { double x, c, d; } Case;
enum { NN, SS, SN, NS, N0, NCASES };

static void row(const char *name, kf zf, kf yf, kd zd, kd yd, const Case f[NCASES], const Case g[NCASES])
{
    for (int w = 0; w < 4; w++) {
        static const char *width[4] = {"zmm f32", "ymm f32", "zmm f64", "ymm f64"};
        printf("| %s %s |", name, width[w]);
        for (int j = 0; j < NCASES; j++) {
            const Case *k = w < 2 ? &f[j] : &g[j];
            if (isnan(k->x)) { printf(" |"); continue; }
            double t = w == 0 ? time_f(zf, k->x, k->c, k->d, 16) : w == 1 ? time_f(yf, k->x, k->c, k->d, 8)
                     : w == 2 ? time_d(zd, k->x, k->c, k->d, 8) : time_d(yd, k->x, k->c, k->d, 4);
            printf(" %.2f |", t);
        }
        printf("\n");
    }
}

#define ROW(op, f, g) row(#op, op##_zf, op##_yf, op##_zd, op##_yd, f, g)

int main(void)
{
    const double FS = 0x1p-140, FT = 0x1p-120, DS = 0x1p-1060, DT = 0x1p-1010, X = NAN;
    printf("| op | nn | ss | sn | ns | n0 |\n|---|---|---|---|---|---|\n");
    /* products: x * c */
    Case mf[] = {{1.5, .75, 0}, {FS, .75, 0}, {FS, 0x1p40, 0}, {FT, 0x1p-15, 0}, {FT, 0x1p-60, 0}};
    Case md[] = {{1.5, .75, 0}, {DS, .75, 0}, {DS, 0x1p100, 0}, {DT, 0x1p-30, 0}, {DT, 0x1p-100, 0}};
    ROW(mul, mf, md);
    /* x * c + d */
    Case ff[] = {{1.5, .75, .5}, {FS, .75, 0}, {FS, .75, 1}, {FT, 0x1p-15, 0}, {FT, 0x1p-60, 0}};
    Case fd[] = {{1.5, .75, .5}, {DS, .75, 0}, {DS, .75, 1}, {DT, 0x1p-30, 0}, {DT, 0x1p-100, 0}};
    ROW(fma, ff, fd);
    /* x + c (a sum is exact where it is subnormal: no underflow to 0) */
    Case af[] = {{1.5, .75, 0}, {FS, 0x1p-141, 0}, {FS, .75, 0}, {0x1p-125, -0x1.8p-126, 0}, {X, 0, 0}};
    Case ad[] = {{1.5, .75, 0}, {DS, 0x1p-1061, 0}, {DS, .75, 0}, {0x1p-1021, -0x1.8p-1022, 0}, {X, 0, 0}};
    ROW(add, af, ad);
    /* x / c */
    Case df[] = {{1.5, .75, 0}, {FS, 1.5, 0}, {FS, 0x1p-40, 0}, {FT, 0x1p15, 0}, {FT, 0x1p60, 0}};
    Case dd[] = {{1.5, .75, 0}, {DS, 1.5, 0}, {DS, 0x1p-100, 0}, {DT, 0x1p30, 0}, {DT, 0x1p100, 0}};
    ROW(div, df, dd);
    /* x * 2^floor(c) */
    Case sf[] = {{1.5, 3, 0}, {FS, 1, 0}, {FS, 40, 0}, {FT, -15, 0}, {FT, -60, 0}};
    Case sd[] = {{1.5, 3, 0}, {DS, 1, 0}, {DS, 100, 0}, {DT, -30, 0}, {DT, -100, 0}};
    ROW(scalef, sf, sd);
    /* one-operand ops: sqrt, getexp and the round trip through integers of a subnormal */
    Case uf[] = {{1.5, 0, 0}, {X, 0, 0}, {FS, 0, 0}, {X, 0, 0}, {X, 0, 0}};
    Case ud[] = {{1.5, 0, 0}, {X, 0, 0}, {DS, 0, 0}, {X, 0, 0}, {X, 0, 0}};
    ROW(sqrt, uf, ud);
    ROW(getexp, uf, ud);
    ROW(cvt, uf, ud);
    /* min(x, c) and a compare of x with c (its mask selects between x and d) */
    Case cf[] = {{1.5, .75, .5}, {FS, 0x1p-141, .5}, {FS, .75, .5}, {X, 0, 0}, {X, 0, 0}};
    Case cd[] = {{1.5, .75, .5}, {DS, 0x1p-1061, .5}, {DS, .75, .5}, {X, 0, 0}, {X, 0, 0}};
    ROW(min, cf, cd);
    ROW(cmp, cf, cd);
    tiny_rows();
    return 0;
}
