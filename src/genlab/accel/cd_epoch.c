/* One epoch of CD-k for a binary RBM on the CPU, exploiting that its states are binary.
 *
 * The same update as genlab.algorithms.cd.rbm_step with binarised data, drawing the
 * same random bits from the same counter stream (genlab.accel.threefry.CounterStream):
 *
 *   v0 ~ Bernoulli(x),  p0 = p(h | v0) = sigmoid(c + v0 W),  then k Gibbs steps from v0:
 *   h_t ~ Bernoulli(p(h | v_t)),  pv = p(v | h_t) = sigmoid(b + h_t W^T),  v_t+1 ~ Bernoulli(pv),
 *   pk = p(h | v_k) = sigmoid(c + v_k W),
 *   W += lr/n (v0^T p0 - v_k^T pk),  b += lr/n sum(v0 - v_k),  c += lr/n sum(p0 - pk).
 *
 * v0, the h_t and the v_t are 0/1 vectors, so every product is a sum of rows: v W adds the rows
 * of W at v's ones, h W^T the rows of W^T at h's ones, and row k of v0^T p0 adds the
 * rows p0[i] of the images i with a one v0[i, k]. With MNIST's ~13 % of pixels on, that is
 * a sixth of a dense product's work. The sums run in another order than a dense
 * product's, so the results agree with it up to rounding.
 *
 * Threads: OpenMP (PyTorch's own runtime when loaded into a process that imported torch).
 * Vectors: the processor's width (see LANES); listing a state's ones uses AVX-512's compress
 * where the build targets it (-march=native on such a processor), portable loops elsewhere.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif

#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_thread_num(void) { return 0; }
#endif

/* -- Threefry-2x32-20 (Salmon et al. 2011), as genlab.accel.threefry.threefry2x32 --------- */

static inline uint32_t rotl(uint32_t x, int s) { return (x << s) | (x >> (32 - s)); }

/* The top 24 bits of draw `draw` for n elements, as floats k (u = k / 2^24), laid out as
 * CounterStream.bits: element e < half takes word 0 of counter (e, draw), element
 * e >= half word 1 of counter (e - half, draw), half = ceil(n / 2). */
static void uniforms24(uint32_t key0, uint32_t key1, uint32_t draw, int64_t n, float *out) {
    const int64_t half = (n + 1) / 2;
    const uint32_t key2 = key0 ^ key1 ^ 0x1BD11BDAu;
#pragma omp for simd schedule(simd : dynamic, 4096)
    for (int64_t i = 0; i < half; i++) {
        uint32_t x0 = (uint32_t)i + key0, x1 = draw + key1;
#define ROUND(r) x0 += x1; x1 = rotl(x1, r) ^ x0;
#define INJECT(a, b, j) x0 += a; x1 += b + j;
        ROUND(13) ROUND(15) ROUND(26) ROUND(6) INJECT(key1, key2, 1u)
        ROUND(17) ROUND(29) ROUND(16) ROUND(24) INJECT(key2, key0, 2u)
        ROUND(13) ROUND(15) ROUND(26) ROUND(6) INJECT(key0, key1, 3u)
        ROUND(17) ROUND(29) ROUND(16) ROUND(24) INJECT(key1, key2, 4u)
        ROUND(13) ROUND(15) ROUND(26) ROUND(6) INJECT(key2, key0, 5u)
#undef ROUND
#undef INJECT
        out[i] = (float)(x0 >> 8);
        if (i + half < n) out[i + half] = (float)(x1 >> 8);
    }
}

/* -- sums of rows ------------------------------------------------------------------------ */

/* Vectors of the processor's own width (16 floats with AVX-512, 8 with AVX/AVX2, 4 with SSE or
 * NEON): a wider generic vector than the registers would be split and spilled to the stack. */
#if defined(__AVX512F__)
#define LANES 16
#elif defined(__AVX__)
#define LANES 8
#else
#define LANES 4
#endif
typedef float vec __attribute__((vector_size(LANES * sizeof(float))));
static inline vec load(const float *p) { vec v; memcpy(&v, p, sizeof v); return v; }
static inline void store(float *p, vec v) { memcpy(p, &v, sizeof v); }

#define BLOCK 64                 /* columns summed at once, held in registers */
#define PER_BLOCK (BLOCK / LANES) /* vectors a block: 4 (AVX-512), 8 (AVX2), 16 (NEON: 32 registers) */

/* The first `part` floats at p (0 < part < LANES) and zeros: a masked load where the processor has one (it
 * reads nothing past them, so no row's end is overrun), else a copy. */
static inline vec load_part(const float *p, int part) {
#if defined(__AVX512F__)
    return (vec)_mm512_maskz_loadu_ps((__mmask16)((1u << part) - 1), p);
#elif defined(__AVX__)
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return (vec)_mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(part), lane));
#else
    vec v = {0};
    memcpy(&v, p, sizeof(float) * part);
    return v;
#endif
}

/* Columns j .. j + full * LANES + part of out = base + the listed rows of M, in one pass over the rows with
 * full + (part > 0) vectors held in registers (full and part are constants where this is inlined). */
static inline __attribute__((always_inline)) void sum_columns(float *out, const float *base, const float *M,
                                                              int64_t ld, const int16_t *rows, int count,
                                                              int64_t j, const int full, const int part) {
    vec a[PER_BLOCK + 1];
#pragma GCC unroll 16
    for (int v = 0; v < full; v++) a[v] = load(base + j + v * LANES);
    if (part) a[full] = load_part(base + j + full * LANES, part);
    for (int i = 0; i < count; i++) {
        const float *m = M + rows[i] * ld + j;
#pragma GCC unroll 16
        for (int v = 0; v < full; v++) a[v] += load(m + v * LANES);
        if (part) a[full] += load_part(m + full * LANES, part);
    }
#pragma GCC unroll 16
    for (int v = 0; v < full; v++) store(out + j + v * LANES, a[v]);
    if (part) memcpy(out + j + full * LANES, &a[full], sizeof(float) * part);
}

/* out[j] = base[j] + sum_i M[rows[i] * ld + j] for j < n: a binary vector (the list of its
 * ones) times M. Columns in blocks of 64 held in registers while the rows stream by, the last
 * (fewer) columns likewise in one more pass; each column adds the rows in list order whatever
 * the vector width, so every build gives the same sums. */
static void sum_rows(float *out, const float *base, const float *M, int64_t ld, const int16_t *rows, int count,
                     int64_t n) {
    int64_t j = 0;
    for (; j + BLOCK <= n; j += BLOCK) sum_columns(out, base, M, ld, rows, count, j, PER_BLOCK, 0);
    const int full = (int)(n - j) / LANES, part = (int)(n - j) % LANES;
    if (j == n) return;
    switch (full) { /* a constant number of vectors each, so that they stay in registers */
#define CASE(f) case f: if (f < PER_BLOCK) sum_columns(out, base, M, ld, rows, count, j, f, part); break;
        CASE(0) CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7)
        CASE(8) CASE(9) CASE(10) CASE(11) CASE(12) CASE(13) CASE(14) CASE(15)
#undef CASE
    }
}

/* Lists of ones are written 16 entries at a time: each holds room for n rounded up to 16. */
static inline int64_t padded(int64_t n) { return (n + 15) / 16 * 16; }

/* A Bernoulli(p) state as a float from a draw's top 24 bits k (u = k / 2^24): 1 when u < p, as
 * genlab.rng.bernoulli compares them (p * 2^24 is exact in float, so this is the same comparison; sample_ones
 * below makes it for its bytes). */
static inline float state(float k, float p) { return k < p * 16777216.0f ? 1.0f : 0.0f; }

/* The ones of s = (u < p * 2^24) for u, p of length n, as a list of indices; returns its length.
 * With AVX-512, 16 at a time: one comparison, then the indices of the ones compressed into
 * the list (whose last store may run up to 15 entries past them, within padded(n)). */
static int sample_ones(const float *u, const float *p, int64_t n, uint8_t *s, int16_t *ones) {
    int count = 0;
#ifdef __AVX512F__
    (void)s;
    const __m512 scale = _mm512_set1_ps(16777216.0f);
    __m512i index = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int64_t k = 0; k < n; k += 16) {
        const __mmask16 in = n - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - k)) - 1);
        const __m512 pk = _mm512_mul_ps(_mm512_maskz_loadu_ps(in, p + k), scale);
        const __mmask16 on = _mm512_mask_cmp_ps_mask(in, _mm512_maskz_loadu_ps(in, u + k), pk, _CMP_LT_OQ);
        _mm256_storeu_si256((__m256i *)(ones + count), _mm512_cvtepi32_epi16(_mm512_maskz_compress_epi32(on, index)));
        count += __builtin_popcount(on);
        index = _mm512_add_epi32(index, _mm512_set1_epi32(16));
    }
#else
    /* the 0/1 states in a vectorised loop, then 8 states at a time read as one word, whose set
       bytes (about one in eight on MNIST's pixels) are listed by counting trailing zeros */
#pragma omp simd
    for (int64_t k = 0; k < n; k++) s[k] = u[k] < p[k] * 16777216.0f;
    for (int64_t k = n; k < padded(n); k++) s[k] = 0;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (int64_t k = 0; k < n; k += 8) {
        uint64_t word;
        memcpy(&word, s + k, sizeof word);
        for (; word; word &= word - 1) ones[count++] = (int16_t)(k + (__builtin_ctzll(word) >> 3));
    }
#else
    for (int64_t k = 0; k < n; k++) ones[count] = (int16_t)k, count += s[k];
#endif
#endif
    return count;
}

/* exp's argument is capped at 88 (exp(88) < FLT_MAX): beyond, the vector exp of a -ffast-math build overflows
 * and its reciprocal's Newton step turns the infinity into NaN (seen with AVX-512 below -88); below -88 the
 * sigmoid is under 1e-38 either way. */
static void sigmoid(float *a, int64_t n) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) a[j] = 1.0f / (1.0f + expf(fminf(-a[j], 88.0f)));
}

/* The first position in the sorted list ones[0:count] holding a value >= k. */
static int first_at_least(const int16_t *ones, int count, int64_t k) {
    int lo = 0, hi = count;
    while (lo < hi) {
        const int mid = (lo + hi) / 2;
        if (ones[mid] < k) lo = mid + 1; else hi = mid;
    }
    return lo;
}

#define ROW_BLOCK 128 /* rows of W per block of the update (smaller blocks cost more searches) */

/* -- the epoch ---------------------------------------------------------------------------- */

/* Minibatch i (rows order[i*B : (i+1)*B] of x, n_visible floats each) draws from counter
 * words i * 256 + f + d: d = 0 for v0, 1 + 2t for h_t and 2 + 2t for v_t+1 (t < k), f = first_draw (0 for an
 * RBM; 1 for a DBN's top RBM, whose minibatch drew its v before, and whose data x are then the 0/1 states h1 drawn
 * at draw 1: v0 ~ Bernoulli(h1) is h1 whatever the draw). W is n_visible x n_hidden, row-major. Returns the
 * summed squared error between the minibatches' pixels and p(v | h0), or -1 if out of memory. */
double genlab_cd_epoch(const float *x, const int64_t *order, int64_t n_rows, int64_t V, int64_t H, int64_t B,
                       int k, float *W, float *v_bias, float *h_bias, float lr, uint32_t key0, uint32_t key1,
                       uint32_t first_draw, int threads) {
    float *WT = malloc(sizeof(float) * H * V);                         /* W^T, kept in step with W */
    float *u0 = malloc(sizeof(float) * B * V), *uh = malloc(sizeof(float) * k * B * H),
          *uv = malloc(sizeof(float) * k * B * V);                     /* the draws: v0, each h_t, each v_t+1 */
    float *p0 = malloc(sizeof(float) * B * H), *p1 = malloc(sizeof(float) * B * H);
    float *pv = malloc(sizeof(float) * B * V);
    const int64_t S = padded(V > H ? V : H);                           /* a row's 0/1 states, padded with zeros */
    uint8_t *bits = malloc((size_t)threads * S);
    const int64_t VP = padded(V), HP = padded(H);                       /* a row's room in the lists */
    int16_t *ones0 = malloc(sizeof(int16_t) * B * VP), *ones1 = malloc(sizeof(int16_t) * B * VP),
            *onesh = malloc(sizeof(int16_t) * B * HP);
    int *count0 = malloc(sizeof(int) * B), *count1 = malloc(sizeof(int) * B);
    int16_t *lists = malloc(sizeof(int16_t) * threads * 2 * ROW_BLOCK * B);   /* per thread: images by row */
    int *list_counts = malloc(sizeof(int) * threads * 2 * ROW_BLOCK);
    float *sums = malloc(sizeof(float) * threads * 2 * H), *zeros = calloc(H, sizeof(float));
    double *row_error = malloc(sizeof(double) * B);
    double error = 0;
    if (!WT || !u0 || !uh || !uv || !p0 || !p1 || !pv || !bits || !ones0 || !ones1 || !onesh || !count0 || !count1 ||
        !row_error || !lists || !list_counts || !sums || !zeros) {
        error = -1;
        goto done;
    }
    for (int64_t r = 0; r < V; r++)
        for (int64_t j = 0; j < H; j++) WT[j * V + r] = W[r * H + j];

    for (int64_t start = 0, step = 0; start < n_rows; start += B, step++) {
        const int64_t n = n_rows - start < B ? n_rows - start : B;
        const int64_t *rows = order + start;
        const uint32_t draw = (uint32_t)step * 256u + first_draw;
        const float eta = lr / (float)n;
#pragma omp parallel num_threads(threads)
        {
            uniforms24(key0, key1, draw + 0, n * V, u0);
            for (int t = 0; t < k; t++) {
                uniforms24(key0, key1, draw + 1 + 2 * (uint32_t)t, n * H, uh + (size_t)t * B * H);
                uniforms24(key0, key1, draw + 2 + 2 * (uint32_t)t, n * V, uv + (size_t)t * B * V);
            }
            uint8_t *s = bits + (size_t)omp_get_thread_num() * S;
            /* each row's chain: v0 -> p0, then k Gibbs steps h_t -> pv -> v_t+1 -> p(h | v_t+1), in p1 */
#pragma omp for schedule(dynamic, 2)
            for (int64_t i = 0; i < n; i++) {
                const float *xi = x + rows[i] * V;
                int16_t *o0 = ones0 + i * VP, *o1 = ones1 + i * VP, *oh = onesh + i * HP;
                float *p0i = p0 + i * H, *p1i = p1 + i * H, *pvi = pv + i * V;
                count0[i] = sample_ones(u0 + i * V, xi, V, s, o0);
                sum_rows(p0i, h_bias, W, H, o0, count0[i], H);
                sigmoid(p0i, H);
                const float *ph = p0i;
                for (int t = 0; t < k; t++) {
                    int counth = sample_ones(uh + (size_t)t * B * H + i * H, ph, H, s, oh);
                    sum_rows(pvi, v_bias, WT, V, oh, counth, V);
                    sigmoid(pvi, V);
                    if (t == 0) {
                        double sq = 0;
                        for (int64_t r = 0; r < V; r++) sq += (double)((xi[r] - pvi[r]) * (xi[r] - pvi[r]));
                        row_error[i] = sq;
                    }
                    count1[i] = sample_ones(uv + (size_t)t * B * V + i * V, pvi, V, s, o1);
                    sum_rows(p1i, h_bias, W, H, o1, count1[i], H);
                    sigmoid(p1i, H);
                    ph = p1i;
                }
            }
            /* the update, in blocks of rows of W handed out as threads come free (a thread on a busy
               core does less); each block also refreshes its columns of W^T */
#pragma omp single nowait
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < H; j++) h_bias[j] += eta * (p0[i * H + j] - p1[i * H + j]);
#pragma omp for schedule(dynamic, 1)
            for (int64_t lo = 0; lo < V; lo += ROW_BLOCK) {
                const int64_t hi = lo + ROW_BLOCK < V ? lo + ROW_BLOCK : V;
                /* for each row r of the block, the images whose v0 (v_k) has a one at r */
                int16_t *with0 = lists + (size_t)omp_get_thread_num() * 2 * ROW_BLOCK * B, *with1 = with0 + ROW_BLOCK * B;
                int *n0 = list_counts + (size_t)omp_get_thread_num() * 2 * ROW_BLOCK, *n1 = n0 + ROW_BLOCK;
                memset(n0, 0, sizeof(int) * 2 * ROW_BLOCK);
                for (int64_t i = 0; i < n; i++) {
                    const int16_t *o = ones0 + i * VP;
                    for (int m = first_at_least(o, count0[i], lo); m < count0[i] && o[m] < hi; m++)
                        with0[(o[m] - lo) * B + n0[o[m] - lo]++] = (int16_t)i;
                    o = ones1 + i * VP;
                    for (int m = first_at_least(o, count1[i], lo); m < count1[i] && o[m] < hi; m++)
                        with1[(o[m] - lo) * B + n1[o[m] - lo]++] = (int16_t)i;
                }
                /* W[r] += eta (sum of p0 over those images - sum of pk over these), summed in registers */
                float *plus = sums + (size_t)omp_get_thread_num() * 2 * H, *minus = plus + H;
                for (int64_t r = lo; r < hi; r++) {
                    sum_rows(plus, zeros, p0, H, with0 + (r - lo) * B, n0[r - lo], H);
                    sum_rows(minus, zeros, p1, H, with1 + (r - lo) * B, n1[r - lo], H);
                    float *Wr = W + r * H;
#pragma omp simd
                    for (int64_t j = 0; j < H; j++) Wr[j] += eta * (plus[j] - minus[j]);
                    v_bias[r] += eta * (float)(n0[r - lo] - n1[r - lo]);
                }
                for (int64_t j = 0; j < H; j++) /* row by row of W^T: its stores are contiguous */
                    for (int64_t r = lo; r < hi; r++) WT[j * V + r] = W[r * H + j];
            }
        }
        for (int64_t i = 0; i < n; i++) error += row_error[i]; /* in row order: the same sum on any threads */
    }
done:
    free(WT), free(u0), free(uh), free(uv), free(p0), free(p1), free(pv), free(bits);
    free(ones0), free(ones1), free(onesh), free(count0), free(count1), free(row_error);
    free(lists), free(list_counts), free(sums), free(zeros);
    return error;
}

/* A DBN's up pass before its top RBM's greedy epoch (genlab.algorithms.dbn.greedy_step): for minibatch i (rows
 * order[i*B : (i+1)*B] of x, V floats each), v ~ Bernoulli(x) from counter words i * 256 and h1 ~ Bernoulli(p(h1 | v))
 * = Bernoulli(sigmoid(c + v W)) from words i * 256 + 1, the plain loop's draws; the epoch's h1 as 0/1 floats,
 * row r of the epoch at out + r * H. W is V x H, row-major. Returns 0, or -1 if out of memory. */
int genlab_dbn_up(const float *x, const int64_t *order, int64_t n_rows, int64_t V, int64_t H, int64_t B,
                  const float *W, const float *h_bias, uint32_t key0, uint32_t key1, float *out, int threads) {
    float *u0 = malloc(sizeof(float) * B * V), *u1 = malloc(sizeof(float) * B * H);
    const int64_t S = padded(V > H ? V : H), VP = padded(V);
    uint8_t *bits = malloc((size_t)threads * S);
    int16_t *ones = malloc(sizeof(int16_t) * threads * VP);
    int status = (u0 && u1 && bits && ones) ? 0 : -1;
    for (int64_t start = 0, step = 0; status == 0 && start < n_rows; start += B, step++) {
        const int64_t n = n_rows - start < B ? n_rows - start : B;
        const uint32_t draw = (uint32_t)step * 256u;
#pragma omp parallel num_threads(threads)
        {
            uniforms24(key0, key1, draw, n * V, u0);
            uniforms24(key0, key1, draw + 1, n * H, u1);
            uint8_t *s = bits + (size_t)omp_get_thread_num() * S;
            int16_t *o = ones + (size_t)omp_get_thread_num() * VP;
#pragma omp for schedule(dynamic, 2)
            for (int64_t i = 0; i < n; i++) {
                float *h = out + (start + i) * H;
                const int count = sample_ones(u0 + i * V, x + order[start + i] * V, V, s, o);
                sum_rows(h, h_bias, W, H, o, count, H);
                sigmoid(h, H);
                const float *u = u1 + i * H;
#pragma omp simd
                for (int64_t j = 0; j < H; j++) h[j] = state(u[j], h[j]);
            }
        }
    }
    free(u0), free(u1), free(bits), free(ones);
    return status;
}

/* Bernoulli(p) states as 0/1 floats from draw `draw` of a counter stream for n elements: u < p for the draw's
 * uniforms u (CounterStream.uniform's numbers), as genlab.rng.bernoulli compares them, in one pass. */
void genlab_counter_bernoulli(uint32_t key0, uint32_t key1, uint32_t draw, int64_t n, const float *p, float *out,
                              int threads) {
#pragma omp parallel num_threads(threads)
    {
        uniforms24(key0, key1, draw, n, out);
#pragma omp for simd
        for (int64_t i = 0; i < n; i++) out[i] = state(out[i], p[i]);
    }
}

/* Draw `draw` of a counter stream for n elements, as CounterStream.uniform: u = k / 2^24 with k the top
 * 24 bits of the element's word (the plain loop's random numbers without Python's tensor arithmetic). */
void genlab_counter_uniform(uint32_t key0, uint32_t key1, uint32_t draw, int64_t n, float *out, int threads) {
#pragma omp parallel num_threads(threads)
    uniforms24(key0, key1, draw, n, out);
#pragma omp parallel for simd num_threads(threads)
    for (int64_t i = 0; i < n; i++) out[i] *= 0x1p-24f;
}
