// The transformer-ops kernels written once over a SIMD vector type V and instantiated by each
// ISA's kernels/<isa>/transformer_ops__<isa>.cpp, compiled with that ISA's flags. Only
// include from those files.
//
// V provides (all lane-wise; `reg` holds V::width floats):
//   load, store, load_tail(p, n, fill) / store_tail(p, v, n) for n < width lanes,
//   load_f16(p) / load_i8(p): width IEEE halves / int8 values widened to f32 (exactly),
//   set1, add, sub, mul, div, fma(a, b, c) = a*b + c, min, max, abs, round (to nearest even),
//   scale_pow2(x, n) = x * 2^n for integer-valued n in [-127, 128],
//   select_lt(a, b, t, f) = a < b ? t : f, select_gt likewise, reduce_add, reduce_max,
//   transpose(r): r[0, width) as a width x width matrix, transposed in place;
//   and `registers`, how many vector registers the ISA has (sizes the micro-tiles).
// Tails go through load_tail/store_tail, whose lanes compute exactly what full vectors do, so
// an element's result does not depend on where a row or a thread's range starts.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/attention_tasks.h"
#include "kernels/thread_scratch.h"
#include "kernels/transformer_ops.h"

namespace sparq::kernels::simd {
// Internal linkage: each ISA level compiles its own copy with its own flags (avx512 and
// avx512vnni both instantiate V = F32x16), and the linker must not keep one for the other.
namespace {

// exp(x): x = n ln2 + r with |r| <= ln2/2 (ln2 split in two so n ln2 is exact), a degree-7
// Taylor polynomial for e^r (truncation < 6e-9 relative), scaled by 2^n. Results below
// FLT_MIN (x < -87.34) flush to 0 — exp(-inf) = 0 is what masked softmax entries need — and
// x > ln(FLT_MAX) gives +inf. Maximum error, measured in the tests: 1 ulp (0.88).
template <class V>
typename V::reg exp(typename V::reg x) {
  using R = typename V::reg;
  const R xc = V::min(V::max(x, V::set1(-88.0f)), V::set1(88.72283935546875f));
  const R n = V::round(V::mul(xc, V::set1(1.44269504088896341f)));
  R r = V::fma(n, V::set1(-0.693145751953125f), xc);
  r = V::fma(n, V::set1(-1.428606765330187045e-06f), r);
  R p = V::set1(1.0f / 5040);
  p = V::fma(p, r, V::set1(1.0f / 720));
  p = V::fma(p, r, V::set1(1.0f / 120));
  p = V::fma(p, r, V::set1(1.0f / 24));
  p = V::fma(p, r, V::set1(1.0f / 6));
  p = V::fma(p, r, V::set1(0.5f));
  p = V::fma(p, r, V::set1(1.0f));
  p = V::fma(p, r, V::set1(1.0f));
  R y = V::scale_pow2(p, n);
  y = V::select_lt(x, V::set1(-87.33654475f), V::set1(0.0f), y);
  return V::select_gt(x, V::set1(88.72283935546875f),
                      V::set1(std::numeric_limits<float>::infinity()), y);
}

// x * sigmoid(a) = x / (1 + exp(-a)): exact in both tails (exp overflow gives -0 / x).
template <class V>
typename V::reg mul_sigmoid(typename V::reg x, typename V::reg a) {
  return V::div(x, V::add(V::set1(1.0f), exp<V>(V::sub(V::set1(0.0f), a))));
}

// x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) with erf(x / sqrt 2) as the odd rational function
// x P(x^2) / Q(x^2) of degrees 11 / 10 on |x| <= 5.4 and exactly +-1 beyond (so the far tails
// give 0 and x, within 2e-7 |x| of the true values). The coefficients are our own fit: least
// squares reweighted towards the minimax absolute error, 1.1e-8 in double. One division and
// no exp: about half the instructions of an erfc-with-exp tail. What that gives up is relative
// accuracy where 1 + erf cancels (x < 0): the error is absolute, at most 1.7e-7 |x| measured,
// below the rounding of what GELU feeds (a GEMM's f32 sums, or 8-bit activations).
inline constexpr float kErfSaturatesAt = 5.4f;  // |x| beyond which erf(x / sqrt 2) is +-1 here

template <class V>
typename V::reg gelu_erf(typename V::reg x) {
  using R = typename V::reg;
  const R xc = V::min(V::max(x, V::set1(-kErfSaturatesAt)), V::set1(kErfSaturatesAt));
  const R x2 = V::mul(xc, xc);
  static constexpr float p[] = {7.97884464e-01f, 6.67461306e-02f, 9.30180307e-03f,
                                3.28659546e-04f, 1.27200674e-05f, 4.67717349e-08f};
  static constexpr float q[] = {1.0f,            2.50319958e-01f, 2.83791628e-02f,
                                1.85902847e-03f, 7.24025158e-05f, 1.21656637e-06f};
  R num = V::set1(p[5]), den = V::set1(q[5]);
  for (int i = 4; i >= 0; --i) {
    num = V::fma(num, x2, V::set1(p[i]));
    den = V::fma(den, x2, V::set1(q[i]));
  }
  R erf = V::div(V::mul(xc, num), den);
  erf = V::select_lt(x, V::set1(-kErfSaturatesAt), V::set1(-1.0f), erf);
  erf = V::select_gt(x, V::set1(kErfSaturatesAt), V::set1(1.0f), erf);
  const R half_x = V::mul(x, V::set1(0.5f));
  return V::fma(half_x, erf, half_x);
}

// The argument is rounded in f32, so the relative error grows with it: measured 1.8e-6 for
// x >= -5, 9.5e-6 in the tail below (where |gelu| < 1e-13).
template <class V>
typename V::reg gelu_tanh(typename V::reg x) {
  // 2 sqrt(2/pi) (x + 0.044715 x^3) = x (c1 + c3 x^2)
  const typename V::reg x2 = V::mul(x, x);
  const typename V::reg a =
      V::mul(x, V::fma(x2, V::set1(0.0713548162726f), V::set1(1.5957691216057308f)));
  return mul_sigmoid<V>(x, a);
}

// y[i] = f(x[i]) over n floats.
template <class V, class F>
void map(size_t n, const float* x, float* y, F f) {
  size_t i = 0;
  for (; i + V::width <= n; i += V::width) V::store(y + i, f(V::load(x + i)));
  if (i < n) V::store_tail(y + i, f(V::load_tail(x + i, n - i, 0.0f)), n - i);
}

template <class V>
void exp_array(size_t n, const float* x, float* y) {
  map<V>(n, x, y, [](typename V::reg v) { return exp<V>(v); });
}
template <class V>
void gelu_erf_array(size_t n, const float* x, float* y) {
  map<V>(n, x, y, [](typename V::reg v) { return gelu_erf<V>(v); });
}
template <class V>
void gelu_tanh_array(size_t n, const float* x, float* y) {
  map<V>(n, x, y, [](typename V::reg v) { return gelu_tanh<V>(v); });
}
template <class V>
void silu_array(size_t n, const float* x, float* y) {
  map<V>(n, x, y, [](typename V::reg v) { return mul_sigmoid<V>(v, v); });
}

template <class V>
void swiglu_rows(size_t rows, size_t n, const float* gate, size_t gate_stride, const float* up,
                 size_t up_stride, float* y, size_t y_stride) {
  for (size_t r = 0; r < rows; ++r) {
    const float* g = gate + r * gate_stride;
    const float* u = up + r * up_stride;
    float* yr = y + r * y_stride;
    size_t i = 0;
    for (; i + V::width <= n; i += V::width) {
      const typename V::reg gv = V::load(g + i);
      V::store(yr + i, V::mul(mul_sigmoid<V>(gv, gv), V::load(u + i)));
    }
    if (i < n) {
      const typename V::reg gv = V::load_tail(g + i, n - i, 0.0f);
      V::store_tail(yr + i, V::mul(mul_sigmoid<V>(gv, gv), V::load_tail(u + i, n - i, 0.0f)),
                    n - i);
    }
  }
}

// Sum over n floats of f(load(x)), f applied to lanes padded with `fill` in the tail.
template <class V, class F>
float reduce_sum(size_t n, const float* x, float fill, F f) {
  typename V::reg acc0 = V::set1(0.0f), acc1 = V::set1(0.0f);
  size_t i = 0;
  for (; i + 2 * V::width <= n; i += 2 * V::width) {
    acc0 = V::add(acc0, f(V::load(x + i)));
    acc1 = V::add(acc1, f(V::load(x + i + V::width)));
  }
  for (; i + V::width <= n; i += V::width) acc0 = V::add(acc0, f(V::load(x + i)));
  if (i < n) acc1 = V::add(acc1, f(V::load_tail(x + i, n - i, fill)));
  return V::reduce_add(V::add(acc0, acc1));
}

template <class V>
void layernorm_rows(size_t rows, size_t n, const float* x, size_t x_stride, const float* gamma,
                    const float* beta, float eps, float* y, size_t y_stride) {
  using R = typename V::reg;
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * x_stride;
    float* yr = y + r * y_stride;
    const float mean = reduce_sum<V>(n, xr, 0.0f, [](R v) { return v; }) / static_cast<float>(n);
    const R m = V::set1(mean);
    const float sq = reduce_sum<V>(n, xr, mean, [&](R v) {
      const R d = V::sub(v, m);
      return V::mul(d, d);
    });
    const R rstd = V::set1(1.0f / std::sqrt(sq / static_cast<float>(n) + eps));
    size_t i = 0;
    for (; i + V::width <= n; i += V::width)
      V::store(yr + i, V::fma(V::mul(V::sub(V::load(xr + i), m), rstd), V::load(gamma + i),
                              V::load(beta + i)));
    if (i < n) {
      const size_t t = n - i;
      V::store_tail(yr + i,
                    V::fma(V::mul(V::sub(V::load_tail(xr + i, t, 0.0f), m), rstd),
                           V::load_tail(gamma + i, t, 0.0f), V::load_tail(beta + i, t, 0.0f)),
                    t);
    }
  }
}

template <class V>
void rmsnorm_rows(size_t rows, size_t n, const float* x, size_t x_stride, const float* gamma,
                  float eps, float* y, size_t y_stride) {
  using R = typename V::reg;
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * x_stride;
    float* yr = y + r * y_stride;
    const float sq = reduce_sum<V>(n, xr, 0.0f, [](R v) { return V::mul(v, v); });
    const R rstd = V::set1(1.0f / std::sqrt(sq / static_cast<float>(n) + eps));
    size_t i = 0;
    for (; i + V::width <= n; i += V::width)
      V::store(yr + i, V::mul(V::mul(V::load(xr + i), rstd), V::load(gamma + i)));
    if (i < n) {
      const size_t t = n - i;
      V::store_tail(
          yr + i,
          V::mul(V::mul(V::load_tail(xr + i, t, 0.0f), rstd), V::load_tail(gamma + i, t, 0.0f)),
          t);
    }
  }
}

template <class V>
float reduce_max(size_t n, const float* x) {
  const float ninf = -std::numeric_limits<float>::infinity();
  typename V::reg m = V::set1(ninf);
  size_t i = 0;
  for (; i + V::width <= n; i += V::width) m = V::max(m, V::load(x + i));
  if (i < n) m = V::max(m, V::load_tail(x + i, n - i, ninf));
  return V::reduce_max(m);
}

// y = exp(x - max) over n floats; returns their sum. Masked (-inf) entries give 0.
template <class V>
float exp_shifted(size_t n, const float* x, float max, float* y) {
  using R = typename V::reg;
  const R m = V::set1(max);
  R acc = V::set1(0.0f);
  size_t i = 0;
  for (; i + V::width <= n; i += V::width) {
    const R e = exp<V>(V::sub(V::load(x + i), m));
    V::store(y + i, e);
    acc = V::add(acc, e);
  }
  if (i < n) {
    const R e = exp<V>(V::sub(V::load_tail(x + i, n - i, -std::numeric_limits<float>::infinity()), m));
    V::store_tail(y + i, e, n - i);
    acc = V::add(acc, e);
  }
  return V::reduce_add(acc);
}

template <class V>
void scale_array(size_t n, const float* x, float* y, float s) {
  const typename V::reg sv = V::set1(s);
  size_t i = 0;
  for (; i + V::width <= n; i += V::width) V::store(y + i, V::mul(V::load(x + i), sv));
  if (i < n) V::store_tail(y + i, V::mul(V::load_tail(x + i, n - i, 0.0f), sv), n - i);
}

template <class V>
void softmax_rows(size_t rows, size_t n, const float* x, size_t x_stride, float* y,
                  size_t y_stride) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * x_stride;
    float* yr = y + r * y_stride;
    const float max = reduce_max<V>(n, xr);
    if (max == -std::numeric_limits<float>::infinity()) {  // fully masked: zeros (see header)
      std::fill(yr, yr + n, 0.0f);
      continue;
    }
    scale_array<V>(n, yr, yr, 1.0f / exp_shifted<V>(n, xr, max, yr));
  }
}

// How the attention kernels read stored K/V values (KvEncoding) as f32 vectors: `type` is the
// stored element, tails widen a zero-padded copy so each lane gets what a full load gives.
template <class V, KvEncoding E>
struct KvElements;
template <class V>
struct KvElements<V, KvEncoding::f32> {
  using type = float;
  static typename V::reg load(const float* p) { return V::load(p); }
  static typename V::reg load_tail(const float* p, size_t n) { return V::load_tail(p, n, 0.0f); }
};
template <class V>
struct KvElements<V, KvEncoding::f16> {
  using type = uint16_t;
  static typename V::reg load(const uint16_t* p) { return V::load_f16(p); }
  static typename V::reg load_tail(const uint16_t* p, size_t n) {
    uint16_t b[V::width] = {};
    std::memcpy(b, p, n * sizeof(uint16_t));
    return V::load_f16(b);
  }
};
template <class V>
struct KvElements<V, KvEncoding::q8> {
  using type = int8_t;
  static typename V::reg load(const int8_t* p) { return V::load_i8(p); }
  static typename V::reg load_tail(const int8_t* p, size_t n) {
    int8_t b[V::width] = {};
    std::memcpy(b, p, n);
    return V::load_i8(b);
  }
};

// Attention works on blocks of kKeyBlock keys. A block's keys are transposed once into f32
// columns (kt[d · kKeyBlock + j] = key j's feature d), so the scores of a tile of query rows
// are a small register-blocked matrix product vectorised over keys: each kt load feeds
// kTileRows FMAs and no score needs a horizontal sum. The V rows are read in their stored
// encoding by the value product, each load feeding kTileRows rows.
inline constexpr size_t kKeyBlock = 64;
inline constexpr size_t kTileRows = 4;

// Vectors per micro-tile row: tile rows x that many accumulators, plus the loaded vectors and
// a broadcast, stay within the register file (4 x 4 + 5 of 32; 4 x 2 + 3 of 16).
template <class V>
inline constexpr size_t kTileVectors = V::registers >= 32 ? 4 : 2;

// kt's columns [0, round_up(count, width)) for keys rows[0, count) (row j at
// rows + j · row_stride), hd features; columns past count are zero.
template <class V, KvEncoding E>
void transpose_keys(const typename KvElements<V, E>::type* rows, size_t row_stride, size_t count,
                    size_t hd, float* kt) {
  using L = KvElements<V, E>;
  constexpr size_t w = V::width;
  typename V::reg r[w];
  for (size_t j = 0; j < count; j += w) {
    const size_t nj = std::min(w, count - j);
    for (size_t d = 0; d < hd; d += w) {
      const size_t nd = std::min(w, hd - d);
      for (size_t i = 0; i < w; ++i) {
        const auto* row = rows + (j + i) * row_stride + d;
        r[i] = i >= nj ? V::set1(0.0f) : nd == w ? L::load(row) : L::load_tail(row, nd);
      }
      V::transpose(r);
      for (size_t i = 0; i < nd; ++i) V::store(kt + (d + i) * kKeyBlock + j, r[i]);
    }
  }
}

// Runs f.template operator()<N>() for N = n in [1, Max], so a micro-tile's loops over N
// rows or vectors are unrolled and its accumulators stay in registers.
template <size_t Max, class F>
void with_count(size_t n, F&& f) {
  if constexpr (Max > 1) {
    if (n < Max) return with_count<Max - 1>(n, f);
  }
  f.template operator()<Max>();
}

// s[r · kKeyBlock + j] = scale · sum_d q[r][d] · kt[d][j] for R rows and the N · width key
// columns from kt's column 0. Each score sums its features in order on one lane, so it does
// not depend on the other rows or columns computed with it.
template <class V, size_t R, size_t N>
void score_columns(const float* const* q, const float* kt, size_t hd, float scale, float* s) {
  using Reg = typename V::reg;
  constexpr size_t w = V::width;
  Reg acc[R][N];
#pragma GCC unroll 4
  for (size_t r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (size_t c = 0; c < N; ++c) acc[r][c] = V::set1(0.0f);
  for (size_t d = 0; d < hd; ++d) {
    Reg k[N];
#pragma GCC unroll 4
    for (size_t c = 0; c < N; ++c) k[c] = V::load(kt + d * kKeyBlock + c * w);
#pragma GCC unroll 4
    for (size_t r = 0; r < R; ++r) {
      const Reg x = V::set1(q[r][d]);
#pragma GCC unroll 4
      for (size_t c = 0; c < N; ++c) acc[r][c] = V::fma(x, k[c], acc[r][c]);
    }
  }
  const Reg sc = V::set1(scale);
#pragma GCC unroll 4
  for (size_t r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (size_t c = 0; c < N; ++c) V::store(s + r * kKeyBlock + c * w, V::mul(acc[r][c], sc));
}

// The scores of R rows for keys [0, count) of the transposed block (and up to the next
// multiple of width): kTileVectors-wide chunks, then the rest in one chunk.
template <class V, size_t R>
void score_tile(const float* const* q, const float* kt, size_t hd, size_t count, float scale,
                float* s) {
  constexpr size_t C = kTileVectors<V>, w = V::width;
  size_t j = 0;
  for (; j + C * w <= count; j += C * w) score_columns<V, R, C>(q, kt + j, hd, scale, s + j);
  if (j < count)
    with_count<C>((count - j + w - 1) / w, [&]<size_t N>() {
      score_columns<V, R, N>(q, kt + j, hd, scale, s + j);
    });
}

// acc[r][0, N·width) = acc[r] · alpha[r] + sum_j p[r][j] · rows[j] for R rows (acc rows and
// p rows at strides acc_stride and kKeyBlock), keys [0, count); the last vector has `lanes`
// lanes (width unless it is the row's tail). A row's sums run in key order on each lane
// whatever rows share the tile; p is zero past a row's own keys.
template <class V, KvEncoding E, size_t R, size_t N, bool Tail = false>
void accumulate_values(float* acc, size_t acc_stride, const float* alpha, const float* p,
                       size_t count, const typename KvElements<V, E>::type* rows, size_t row_stride,
                       size_t lanes = V::width) {
  using Reg = typename V::reg;
  using L = KvElements<V, E>;
  constexpr size_t w = V::width;
  const auto full = [](size_t c) { return !Tail || c + 1 < N; };
  Reg a[R][N];
#pragma GCC unroll 4
  for (size_t r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (size_t c = 0; c < N; ++c) {
      const float* x = acc + r * acc_stride + c * w;
      a[r][c] = V::mul(full(c) ? V::load(x) : V::load_tail(x, lanes, 0.0f), V::set1(alpha[r]));
    }
  for (size_t j = 0; j < count; ++j) {
    const auto* row = rows + j * row_stride;
    Reg v[N];
#pragma GCC unroll 4
    for (size_t c = 0; c < N; ++c) v[c] = full(c) ? L::load(row + c * w) : L::load_tail(row + c * w, lanes);
#pragma GCC unroll 4
    for (size_t r = 0; r < R; ++r) {
      const Reg x = V::set1(p[r * kKeyBlock + j]);
#pragma GCC unroll 4
      for (size_t c = 0; c < N; ++c) a[r][c] = V::fma(x, v[c], a[r][c]);
    }
  }
#pragma GCC unroll 4
  for (size_t r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (size_t c = 0; c < N; ++c) {
      float* x = acc + r * acc_stride + c * w;
      if (full(c))
        V::store(x, a[r][c]);
      else
        V::store_tail(x, a[r][c], lanes);
    }
}

// The value product over a whole head: kTileVectors-wide chunks, then the remaining whole
// vectors in one chunk, then the partial last vector.
template <class V, KvEncoding E, size_t R>
void accumulate_head(float* acc, const float* alpha, const float* p, size_t count,
                     const typename KvElements<V, E>::type* rows, size_t row_stride, size_t hd) {
  constexpr size_t C = kTileVectors<V>, w = V::width;
  size_t d = 0;
  for (; d + C * w <= hd; d += C * w)
    accumulate_values<V, E, R, C>(acc + d, hd, alpha, p, count, rows + d, row_stride);
  if (const size_t vectors = (hd - d) / w; vectors > 0) {
    with_count<C - 1>(vectors, [&]<size_t N>() {
      accumulate_values<V, E, R, N>(acc + d, hd, alpha, p, count, rows + d, row_stride);
    });
    d += vectors * w;
  }
  if (d < hd)
    accumulate_values<V, E, R, 1, true>(acc + d, hd, alpha, p, count, rows + d, row_stride, hd - d);
}

// A tile of query rows of one task (rows share the KV head; row r is query
// q_begin + (r0 + r) / group, head r % group) and each row's online-softmax state.
struct AttentionTile {
  static constexpr size_t kMaxRows = 32;
  size_t rows = 0, max_keys = 0;
  const float* q[kMaxRows];
  float* out[kMaxRows];
  size_t keys[kMaxRows];                            // keys the row sees: [0, keys)
  float m[kMaxRows], l[kMaxRows], alpha[kMaxRows];  // running max, running sum, rescale

  // How many of the keys [j0, j0 + nj) row r sees.
  size_t visible(size_t r, size_t j0, size_t nj) const {
    return j0 < keys[r] ? std::min(nj, keys[r] - j0) : 0;
  }
};

inline void start_attention_tile(const AttentionParams& p, const AttentionTaskRange& t, size_t r0,
                                 size_t rows, const float* q, float* out, const int32_t* kv_valid,
                                 const int32_t* q_pos, AttentionTile& tile) {
  const size_t group = p.n_heads / p.n_kv_heads;
  tile.rows = rows;
  tile.max_keys = 0;
  // Query i and head h of row r0 + r, counted up (a 64-bit division per row costs more than
  // an int8 score row).
  size_t i = t.q_begin + r0 / group, g = r0 % group;
  for (size_t r = 0; r < rows; ++r, g = g + 1 == group ? (++i, 0) : g + 1) {
    const size_t h = t.kv_head * group + g;
    tile.q[r] = q + attention_q_offset(p, t.batch, i, h);
    tile.out[r] = out + ((t.batch * p.q_len + i) * p.n_heads + h) * p.head_dim;
    tile.keys[r] = attention_visible_keys(p, kv_valid, q_pos, t.batch, i);
    tile.max_keys = std::max(tile.max_keys, tile.keys[r]);
    tile.m[r] = -std::numeric_limits<float>::infinity();
    tile.l[r] = 0.0f;
  }
}

// Row r's scores s of the key block [j0, j0 + nj) become its softmax weights exp(s - m_new)
// (0 past the keys it sees), with m, l and alpha updated; returns the keys it sees there.
template <class V>
size_t online_softmax_block(AttentionTile& tile, size_t r, size_t j0, size_t nj, float* s) {
  const size_t visible = tile.visible(r, j0, nj);
  if (visible == 0) {  // nothing of this block: keep the accumulator as it is
    tile.alpha[r] = 1.0f;
    std::fill(s, s + nj, 0.0f);
    return 0;
  }
  const float m_new = std::max(tile.m[r], reduce_max<V>(visible, s));
  tile.alpha[r] = std::exp(tile.m[r] - m_new);
  tile.l[r] = tile.l[r] * tile.alpha[r] + exp_shifted<V>(visible, s, m_new, s);
  tile.m[r] = m_new;
  std::fill(s + visible, s + nj, 0.0f);
  return visible;
}

// out row r = acc row r / l (a row that sees no key: zeros, see the header).
template <class V>
void finish_attention_tile(const AttentionTile& tile, const float* acc, size_t acc_stride,
                           size_t hd) {
  for (size_t r = 0; r < tile.rows; ++r) {
    if (tile.keys[r] == 0)
      std::fill(tile.out[r], tile.out[r] + hd, 0.0f);
    else
      scale_array<V>(hd, acc + r * acc_stride, tile.out[r], 1.0f / tile.l[r]);
  }
}

// Transposed keys kept across the tasks of one call, in floats: all of a (batch, KV head)'s
// keys when they fit (128 tokens of head_dim 64 take 8 K), so the query blocks after the first
// reuse them; longer caches transpose each task's blocks into one slot instead.
inline constexpr size_t kCachedKeyFloats = 64 * 1024;

// Attention with the softmax computed online over blocks of keys (running max m, running sum
// l, accumulator rescaled by exp(m_old - m_new) when the max grows), for a tile of query rows
// at a time: the rows of one task share the KV head, so each key block is transposed once per
// tile (once per call when the head's keys fit kCachedKeyFloats; tasks come query block
// fastest) and its V rows are read once per kTileRows rows. q8 vectors' scales multiply their
// key's score and their V row's weight (the scale factors out of both sums).
template <class V, KvEncoding E>
void attention_tasks_of(const AttentionParams& p, const float* q, const KvRows& k,
                        const KvRows& v, const int32_t* kv_valid, const int32_t* q_pos,
                        float* out, size_t begin, size_t end) {
  using T = typename KvElements<V, E>::type;
  constexpr size_t kMaxTileRows = AttentionTile::kMaxRows;
  constexpr size_t kAccFloats = 4 * kAttentionMaxHeadDim;
  const size_t hd = p.head_dim;
  const size_t kv_row = p.kv_stride;
  const size_t tile_rows = std::clamp<size_t>(kAccFloats / hd, 1, kMaxTileRows);
  const size_t key_blocks = (p.kv_len + kKeyBlock - 1) / kKeyBlock;
  const bool cache_keys = key_blocks * hd * kKeyBlock <= kCachedKeyFloats;
  // Accumulators, scores, the transposed key blocks: a per-thread buffer that only grows
  // (its contents are stale; everything read is written first).
  float* acc = static_cast<float*>(thread_scratch(
      ScratchSlot::attention_f32,
      (kAccFloats + kMaxTileRows * kKeyBlock + (cache_keys ? key_blocks : 1) * hd * kKeyBlock) * sizeof(float)));
  float* scores = acc + kAccFloats;
  float* kt_blocks = scores + kMaxTileRows * kKeyBlock;
  // Whose keys kt_blocks holds, and how many of their blocks (whole: up to kv_len).
  size_t cached_head = SIZE_MAX, cached_blocks = 0;
  AttentionTile tile;
  for (size_t task = begin; task < end; ++task) {
    const AttentionTaskRange t = attention_task(p, task);
    // Key 0 of the task; key j is kv_row values on (q8's scales: n_kv_heads on, as K/V
    // with a scale are packed).
    const size_t first = attention_kv_offset(p, t.batch, 0, t.kv_head);
    if (const size_t head = t.batch * p.n_kv_heads + t.kv_head; head != cached_head) {
      cached_head = head;
      cached_blocks = 0;
    }
    const T* kb = static_cast<const T*>(k.values) + first;
    const T* vb = static_cast<const T*>(v.values) + first;
    const float* k_scales = E == KvEncoding::q8 ? k.scales + first / hd : nullptr;
    const float* v_scales = E == KvEncoding::q8 ? v.scales + first / hd : nullptr;
    const size_t task_rows = (t.q_end - t.q_begin) * (p.n_heads / p.n_kv_heads);
    for (size_t r0 = 0; r0 < task_rows; r0 += tile_rows) {
      const size_t nr = std::min(tile_rows, task_rows - r0);
      start_attention_tile(p, t, r0, nr, q, out, kv_valid, q_pos, tile);
      std::fill(acc, acc + nr * hd, 0.0f);
      for (size_t j0 = 0; j0 < tile.max_keys; j0 += kKeyBlock) {
        const size_t nj = std::min(kKeyBlock, tile.max_keys - j0);
        float* kt = kt_blocks;
        if (!cache_keys) {
          transpose_keys<V, E>(kb + j0 * kv_row, kv_row, nj, hd, kt);
        } else {
          // Keys past a task's own are in bounds (below kv_len); their score lanes are never read.
          for (; cached_blocks * kKeyBlock <= j0; ++cached_blocks) {
            const size_t c0 = cached_blocks * kKeyBlock;
            transpose_keys<V, E>(kb + c0 * kv_row, kv_row, std::min(kKeyBlock, p.kv_len - c0), hd,
                                 kt_blocks + cached_blocks * hd * kKeyBlock);
          }
          kt += j0 / kKeyBlock * hd * kKeyBlock;
        }
        for (size_t r = 0; r < nr; r += kTileRows)
          with_count<kTileRows>(std::min(kTileRows, nr - r), [&]<size_t R>() {
            score_tile<V, R>(tile.q + r, kt, hd, nj, p.scale, scores + r * kKeyBlock);
          });
        for (size_t r = 0; r < nr; ++r) {
          float* s = scores + r * kKeyBlock;
          if constexpr (E == KvEncoding::q8) {
            for (size_t j = 0, seen = tile.visible(r, j0, nj); j < seen; ++j)
              s[j] *= k_scales[(j0 + j) * p.n_kv_heads];
          }
          const size_t visible = online_softmax_block<V>(tile, r, j0, nj, s);
          if constexpr (E == KvEncoding::q8)
            for (size_t j = 0; j < visible; ++j) s[j] *= v_scales[(j0 + j) * p.n_kv_heads];
        }
        for (size_t r = 0; r < nr; r += kTileRows)
          with_count<kTileRows>(std::min(kTileRows, nr - r), [&]<size_t R>() {
            accumulate_head<V, E, R>(acc + r * hd, tile.alpha + r, scores + r * kKeyBlock, nj,
                                     vb + j0 * kv_row, kv_row, hd);
          });
      }
      finish_attention_tile<V>(tile, acc, hd, hd);
    }
  }
}

template <class V>
void attention_tasks(const AttentionParams& p, const float* q, const KvRows& k, const KvRows& v,
                     const int32_t* kv_valid, const int32_t* q_pos, float* out, size_t begin,
                     size_t end) {
  switch (p.kv_encoding) {
    case KvEncoding::f32:
      return attention_tasks_of<V, KvEncoding::f32>(p, q, k, v, kv_valid, q_pos, out, begin, end);
    case KvEncoding::f16:
      return attention_tasks_of<V, KvEncoding::f16>(p, q, k, v, kv_valid, q_pos, out, begin, end);
    case KvEncoding::q8:
      return attention_tasks_of<V, KvEncoding::q8>(p, q, k, v, kv_valid, q_pos, out, begin, end);
  }
}

// The config of one kernel family, V's instantiation of everything above.
template <class V>
TransformerOpsConfig config(Isa isa, const char* name) {
  TransformerOpsConfig c;
  c.isa = isa;
  c.name = name;
  c.layernorm = layernorm_rows<V>;
  c.rmsnorm = rmsnorm_rows<V>;
  c.softmax = softmax_rows<V>;
  c.gelu_erf = gelu_erf_array<V>;
  c.gelu_tanh = gelu_tanh_array<V>;
  c.silu = silu_array<V>;
  c.swiglu = swiglu_rows<V>;
  c.exp = exp_array<V>;
  c.attention = attention_tasks<V>;
  return c;
}

}  // namespace
}  // namespace sparq::kernels::simd
