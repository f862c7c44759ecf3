// Attention with int8 products (TransformerOpsConfig::attention_int8), AVX-512 VNNI: QKᵀ and
// PV as vpdpbusd, which retires 64 multiply-adds where an f32 FMA retires 16.
//
// Q rows and the K and V vectors of a KV head are quantized as the q8 KV encoding does (one
// scale per vector, round to nearest); scores are their exact int32 dot products times both
// scales. After the online softmax of a key block, a row's weights times the V vectors'
// scales are quantized to u8 against their largest (so the largest weight is exact), and the
// value product is an int32 sum per feature times that scale.
//
// Layouts, per block of kKeyBlock (64) keys of a head, both cached across the tasks of a call:
//   keys:   [hd/4][64 keys][4 features] int8: a zmm is 16 keys x 4 features, so a broadcast
//           query quad makes 16 scores' worth of products; vpdpbusd wants u8 x s8, so the
//           query carries +128 and each key's 128·sum(k) comes off the int32 sum.
//   values: [16 key quads][hd rounded to 16][4 keys] int8: a zmm is 16 features x 4 keys,
//           against a broadcast quad of one row's u8 weights.
#include <immintrin.h>

#include <cstring>

#include "kernels/avx512/f32x16__avx512.h"
#include "kernels/avx512/quantize_q8_vector__avx512.h"
#include "kernels/avx512/sparse_transpose__avx512.h"
#include "kernels/transformer_ops_simd.h"

namespace sparq::kernels {

namespace {

using simd::kKeyBlock;
using simd::kTileRows;
using simd::with_count;
using avx512::quantize_q8_vector;

// The cached K and V of one head fit this many bytes (keys and values, 512 tokens of
// head_dim 64 take 64 K); longer ones use the f32 kernel.
constexpr size_t kCachedHeadBytes = 256 * 1024;

// The all-lanes masked conversions: GCC 12 warns on the unmasked ones (f32x16__avx512.h).
__m512i to_int(__m512 x) { return _mm512_maskz_cvtps_epi32(F32x16::kAll, x); }
__m512 to_float(__m512i x) { return _mm512_maskz_cvtepi32_ps(F32x16::kAll, x); }

// Asks for the cache lines of `count` rows of n floats (row i at x + i · stride): the rows of a
// fused Q | K | V output sit kilobytes apart, too far for the hardware prefetchers, and each
// is reduced (its max) before it is converted, so without this every row waits for memory.
void prefetch_rows(const float* x, size_t count, size_t stride, size_t n) {
  for (size_t i = 0; i < count; ++i)
    for (size_t d = 0; d < n; d += 16) _mm_prefetch(reinterpret_cast<const char*>(x + i * stride + d), _MM_HINT_T0);
}

// One head's keys and values, quantized and laid out for the dot products (see the top).
struct HeadCache {
  size_t hd = 0, quads = 0, features = 0, blocks = 0;  // quads = hd/4 up, features = hd to 16
  int8_t* keys = nullptr;      // blocks x quads x 64 x 4
  int8_t* values = nullptr;    // blocks x 16 x features x 4
  float* key_scales = nullptr;    // blocks x 64
  int32_t* key_offsets = nullptr; // blocks x 64: 128·sum(k)
  float* value_scales = nullptr;  // blocks x 64

  size_t key_block_bytes() const { return quads * kKeyBlock * 4; }
  size_t value_block_bytes() const { return kKeyBlock * features; }
};

// Quantizes keys and values [0, count) of a head (row j at rows + j · row_stride) into c.
// The cache's lanes past count keep whatever they held: a row's scores are read only for its
// keys (at most count), and its u8 weights past them are 0, so those lanes reach no result.
void fill_head_cache(const float* k, const float* v, size_t row_stride, size_t count,
                     HeadCache& c) {
  alignas(64) uint8_t stage[16][4 * 256];  // 16 quantized keys (quads up to 256: hd <= 1024)
  const size_t padded_quads = (c.quads + 15) / 16 * 16;
  prefetch_rows(k, std::min<size_t>(16, count), row_stride, c.hd);
  prefetch_rows(v, std::min<size_t>(16, count), row_stride, c.hd);
  for (size_t j0 = 0; j0 < count; j0 += 16) {
    if (j0 + 16 < count) {
      prefetch_rows(k + (j0 + 16) * row_stride, std::min<size_t>(16, count - j0 - 16), row_stride, c.hd);
      prefetch_rows(v + (j0 + 16) * row_stride, std::min<size_t>(16, count - j0 - 16), row_stride, c.hd);
    }
    // Keys: 16 rows quantized, then 16x16 quad transposes into [quad][key] order.
    for (size_t i = 0; i < 16; ++i) {
      const size_t j = j0 + i;
      if (j >= count) {
        std::memset(stage[i], 0, padded_quads * 4);
        continue;
      }
      int32_t sum = 0;
      c.key_scales[j] = quantize_q8_vector(k + j * row_stride, c.hd, padded_quads * 4, 0, stage[i], &sum);
      c.key_offsets[j] = 128 * sum;
    }
    int8_t* block = c.keys + j0 / kKeyBlock * c.key_block_bytes();
    const size_t lane = j0 % kKeyBlock;
    for (size_t q0 = 0; q0 < c.quads; q0 += 16) {
      __m512i r[16];
      for (size_t i = 0; i < 16; ++i) r[i] = _mm512_load_si512(stage[i] + q0 * 4);
      avx512::transpose16x16(r);
      for (size_t i = 0; i < 16 && q0 + i < c.quads; ++i)
        _mm512_storeu_si512(block + ((q0 + i) * kKeyBlock + lane) * 4, r[i]);
    }
    // Values: quads of 4 rows interleaved byte by byte, 16 features at a time.
    for (size_t j4 = j0; j4 < j0 + 16 && j4 < count; j4 += 4) {
      alignas(64) uint8_t rows[4][1024];
      for (size_t i = 0; i < 4; ++i) {
        const size_t j = j4 + i;
        if (j < count)
          c.value_scales[j] = quantize_q8_vector(v + j * row_stride, c.hd, c.features, 0, rows[i]);
        else
          std::memset(rows[i], 0, c.features);
      }
      int8_t* quad = c.values + j4 / kKeyBlock * c.value_block_bytes() +
                     (j4 % kKeyBlock) / 4 * c.features * 4;
      for (size_t d = 0; d < c.features; d += 16) {
        const __m128i x0 = _mm_load_si128(reinterpret_cast<const __m128i*>(rows[0] + d));
        const __m128i x1 = _mm_load_si128(reinterpret_cast<const __m128i*>(rows[1] + d));
        const __m128i x2 = _mm_load_si128(reinterpret_cast<const __m128i*>(rows[2] + d));
        const __m128i x3 = _mm_load_si128(reinterpret_cast<const __m128i*>(rows[3] + d));
        const __m128i a = _mm_unpacklo_epi8(x0, x1), b = _mm_unpackhi_epi8(x0, x1);
        const __m128i e = _mm_unpacklo_epi8(x2, x3), f = _mm_unpackhi_epi8(x2, x3);
        __m128i* out = reinterpret_cast<__m128i*>(quad + d * 4);
        _mm_storeu_si128(out + 0, _mm_unpacklo_epi16(a, e));
        _mm_storeu_si128(out + 1, _mm_unpackhi_epi16(a, e));
        _mm_storeu_si128(out + 2, _mm_unpacklo_epi16(b, f));
        _mm_storeu_si128(out + 3, _mm_unpackhi_epi16(b, f));
      }
    }
  }
}

// s[r][0, 64) = scale_r · key_scale_j · (q_r · k_j) for R query rows (u8 with +128, `quads`
// quads each) against one key block.
template <size_t R>
void int8_scores(const uint8_t* const* q, const float* q_scales, const HeadCache& c, size_t block,
                 float* s) {
  const int8_t* keys = c.keys + block * c.key_block_bytes();
  __m512i acc[R][4];
#pragma GCC unroll 4
  for (size_t r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (size_t n = 0; n < 4; ++n) acc[r][n] = _mm512_setzero_si512();
  for (size_t d4 = 0; d4 < c.quads; ++d4) {
    __m512i k[4];
#pragma GCC unroll 4
    for (size_t n = 0; n < 4; ++n) k[n] = _mm512_load_si512(keys + (d4 * kKeyBlock + n * 16) * 4);
#pragma GCC unroll 4
    for (size_t r = 0; r < R; ++r) {
      int32_t quad;
      std::memcpy(&quad, q[r] + d4 * 4, 4);
      const __m512i x = _mm512_set1_epi32(quad);
#pragma GCC unroll 4
      for (size_t n = 0; n < 4; ++n) acc[r][n] = _mm512_dpbusd_epi32(acc[r][n], x, k[n]);
    }
  }
  const size_t key0 = block * kKeyBlock;
#pragma GCC unroll 4
  for (size_t n = 0; n < 4; ++n) {
    const __m512i offset = _mm512_loadu_si512(c.key_offsets + key0 + n * 16);
    const __m512 scale = _mm512_loadu_ps(c.key_scales + key0 + n * 16);
#pragma GCC unroll 4
    for (size_t r = 0; r < R; ++r) {
      const __m512 dot = to_float(_mm512_sub_epi32(acc[r][n], offset));
      _mm512_storeu_ps(s + r * kKeyBlock + n * 16,
                       _mm512_mul_ps(_mm512_mul_ps(dot, scale), _mm512_set1_ps(q_scales[r])));
    }
  }
}

// acc[r][0, features) = acc[r] · alpha_r + w_scale_r · sum_j w[r][j] · v_j for R rows, the
// u8 weights w of one key block (64 per row, zero past the row's keys).
template <size_t R>
void int8_values(float* acc, size_t acc_stride, const float* alpha, const uint8_t* w,
                 const float* w_scales, const HeadCache& c, size_t block, size_t nj) {
  const int8_t* values = c.values + block * c.value_block_bytes();
  const size_t quads = (nj + 3) / 4;
  for (size_t d = 0; d < c.features; d += 64) {
    const size_t vectors = std::min<size_t>(4, (c.features - d) / 16);
    with_count<4>(vectors, [&]<size_t N>() {
      __m512i sum[R][N];
#pragma GCC unroll 4
      for (size_t r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (size_t n = 0; n < N; ++n) sum[r][n] = _mm512_setzero_si512();
      for (size_t j4 = 0; j4 < quads; ++j4) {
        __m512i v[N];
#pragma GCC unroll 4
        for (size_t n = 0; n < N; ++n)
          v[n] = _mm512_loadu_si512(values + (j4 * c.features + d + n * 16) * 4);
#pragma GCC unroll 4
        for (size_t r = 0; r < R; ++r) {
          int32_t quad;
          std::memcpy(&quad, w + r * kKeyBlock + j4 * 4, 4);
          const __m512i x = _mm512_set1_epi32(quad);
#pragma GCC unroll 4
          for (size_t n = 0; n < N; ++n) sum[r][n] = _mm512_dpbusd_epi32(sum[r][n], x, v[n]);
        }
      }
#pragma GCC unroll 4
      for (size_t r = 0; r < R; ++r) {
        const __m512 a = _mm512_set1_ps(alpha[r]), ws = _mm512_set1_ps(w_scales[r]);
#pragma GCC unroll 4
        for (size_t n = 0; n < N; ++n) {
          float* x = acc + r * acc_stride + d + n * 16;
          _mm512_storeu_ps(x, _mm512_fmadd_ps(to_float(sum[r][n]), ws,
                                              _mm512_mul_ps(_mm512_loadu_ps(x), a)));
        }
      }
    });
  }
}

// A row's softmax weights p (f32, zero past its keys) times the V vectors' scales, as u8
// against their largest; returns the scale (largest / 255, 0 when all are 0).
float quantize_weights(const float* p, const float* value_scales, size_t nj, uint8_t* w) {
  alignas(64) float x[kKeyBlock] = {};
  __m512 wmax = _mm512_setzero_ps();
  for (size_t j = 0; j < nj; j += 16) {
    const __mmask16 live = avx512::lanes_below(nj, j);
    const __m512 y = _mm512_mul_ps(_mm512_maskz_loadu_ps(live, p + j),
                                   _mm512_maskz_loadu_ps(live, value_scales + j));
    _mm512_store_ps(x + j, y);
    wmax = F32x16::max(wmax, y);
  }
  const float m = F32x16::reduce_max(wmax);
  std::memset(w, 0, kKeyBlock);
  if (m == 0.0f) return 0.0f;
  const __m512 inv = _mm512_set1_ps(255.0f / m);
  for (size_t j = 0; j < nj; j += 16) {
    const __mmask16 live = avx512::lanes_below(nj, j);
    const __m512i u = to_int(_mm512_mul_ps(_mm512_load_ps(x + j), inv));
    _mm512_mask_cvtepi32_storeu_epi8(w + j, live, u);
  }
  return m / 255.0f;
}

void attention_int8_tasks(const AttentionParams& p, const float* q, const KvRows& k,
                          const KvRows& v, const int32_t* kv_valid, const int32_t* q_pos,
                          float* out, size_t begin, size_t end) {
  HeadCache c;
  c.hd = p.head_dim;
  c.quads = (c.hd + 3) / 4;
  c.features = (c.hd + 15) / 16 * 16;
  c.blocks = (p.kv_len + kKeyBlock - 1) / kKeyBlock;
  const size_t cache_bytes = c.blocks * (c.key_block_bytes() + c.value_block_bytes());
  if (p.kv_encoding != KvEncoding::f32 || c.blocks == 0 || cache_bytes > kCachedHeadBytes)
    return simd::attention_tasks<F32x16>(p, q, k, v, kv_valid, q_pos, out, begin, end);

  constexpr size_t kRows = simd::AttentionTile::kMaxRows;
  const size_t tile_rows = std::clamp<size_t>(4 * kAttentionMaxHeadDim / c.features, 1, kRows);
  const size_t keys_total = c.blocks * kKeyBlock;
  const size_t q_bytes = (c.quads * 4 + 15) / 16 * 16;  // a query row's u8 values, padded
  c.keys = static_cast<int8_t*>(
      thread_scratch(ScratchSlot::attention_int8_bytes, cache_bytes + kRows * (q_bytes + kKeyBlock)));
  c.values = c.keys + c.blocks * c.key_block_bytes();
  auto* q8 = reinterpret_cast<uint8_t*>(c.values + c.blocks * c.value_block_bytes());
  uint8_t* weights = q8 + kRows * q_bytes;
  c.key_scales = static_cast<float*>(thread_scratch(
      ScratchSlot::attention_int8_floats, (3 * keys_total + kRows * (c.features + kKeyBlock)) * sizeof(float)));
  c.value_scales = c.key_scales + keys_total;
  c.key_offsets = reinterpret_cast<int32_t*>(c.value_scales + keys_total);
  float* acc = c.value_scales + 2 * keys_total;
  float* scores = acc + kRows * c.features;
  const uint8_t* q_rows[kRows];
  float q_scales[kRows], w_scales[kRows];

  size_t cached_head = SIZE_MAX;
  simd::AttentionTile tile;
  for (size_t task = begin; task < end; ++task) {
    const AttentionTaskRange t = attention_task(p, task);
    if (const size_t head = t.batch * p.n_kv_heads + t.kv_head; head != cached_head) {
      cached_head = head;
      const size_t first = attention_kv_offset(p, t.batch, 0, t.kv_head);
      fill_head_cache(static_cast<const float*>(k.values) + first,
                      static_cast<const float*>(v.values) + first, p.kv_stride, p.kv_len, c);
    }
    const size_t task_rows = (t.q_end - t.q_begin) * (p.n_heads / p.n_kv_heads);
    for (size_t r0 = 0; r0 < task_rows; r0 += tile_rows) {
      const size_t nr = std::min(tile_rows, task_rows - r0);
      simd::start_attention_tile(p, t, r0, nr, q, out, kv_valid, q_pos, tile);
      for (size_t r = 0; r < nr; ++r) prefetch_rows(tile.q[r], 1, 0, c.hd);
      for (size_t r = 0; r < nr; ++r) {
        auto* row = q8 + r * q_bytes;  // + 128: u8 for vpdpbusd
        q_scales[r] = p.scale * quantize_q8_vector(tile.q[r], c.hd, q_bytes, 128, row);
        q_rows[r] = row;
      }
      std::fill(acc, acc + nr * c.features, 0.0f);
      for (size_t j0 = 0; j0 < tile.max_keys; j0 += kKeyBlock) {
        const size_t nj = std::min(kKeyBlock, tile.max_keys - j0), block = j0 / kKeyBlock;
        for (size_t r = 0; r < nr; r += kTileRows)
          with_count<kTileRows>(std::min(kTileRows, nr - r), [&]<size_t R>() {
            int8_scores<R>(q_rows + r, q_scales + r, c, block, scores + r * kKeyBlock);
          });
        for (size_t r = 0; r < nr; ++r) {
          float* s = scores + r * kKeyBlock;
          simd::online_softmax_block<F32x16>(tile, r, j0, nj, s);
          w_scales[r] = quantize_weights(s, c.value_scales + j0, nj, weights + r * kKeyBlock);
        }
        for (size_t r = 0; r < nr; r += kTileRows)
          with_count<kTileRows>(std::min(kTileRows, nr - r), [&]<size_t R>() {
            int8_values<R>(acc + r * c.features, c.features, tile.alpha + r, weights + r * kKeyBlock,
                           w_scales + r, c, block, nj);
          });
      }
      simd::finish_attention_tile<F32x16>(tile, acc, c.features, c.hd);
    }
  }
}

}  // namespace

TransformerOpsConfig transformer_ops_config__avx512vnni() {
  TransformerOpsConfig c = simd::config<F32x16>(Isa::avx512vnni, "avx512vnni");
  c.attention_int8 = attention_int8_tasks;
  return c;
}

}  // namespace sparq::kernels
