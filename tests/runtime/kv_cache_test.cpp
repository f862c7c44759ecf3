// KvCache: its memory is what the sizes and the encoding imply (computed here from the
// sizes), a cache over its byte limit is refused, and store() puts a step's keys and values
// at the vectors attention reads for that layer, slot and position, touching nothing else.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "runtime/model/kv_cache.h"

namespace sparq::runtime {
namespace {

using kernels::KvEncoding;

const KvEncoding kEncodings[] = {KvEncoding::f32, KvEncoding::f16, KvEncoding::q8};

LlamaConfig config(uint64_t layers, uint64_t heads, uint64_t kv_heads, uint64_t hidden, uint64_t head_dim) {
  LlamaConfig c;
  c.num_layers = layers;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.hidden_size = hidden;
  c.head_dim = head_dim;
  c.max_positions = 4096;
  return c;
}

TEST(KvCache, BytesAreWhatTheEncodingImplies) {
  struct Case {
    LlamaConfig c;
    uint64_t head_dim, slots, context;  // head_dim as the config resolves it, stated here
  };
  const Case cases[] = {
      {config(4, 4, 2, 128, 32), 32, 1, 256},        // debian-llama
      {config(22, 32, 4, 2048, 0), 64, 1, 512},      // TinyLlama: head_dim from hidden / heads
      {config(2, 8, 1, 64, 24), 24, 5, 7},           // multi-query, head_dim not hidden / heads
  };
  for (const Case& k : cases) {
    for (KvEncoding e : kEncodings) {
      const uint64_t per_value = e == KvEncoding::f32 ? 4 : e == KvEncoding::f16 ? 2 : 1;
      const uint64_t vectors = k.c.num_layers * k.slots * k.context * k.c.num_kv_heads * 2;  // K and V
      const uint64_t want = vectors * k.head_dim * per_value + (e == KvEncoding::q8 ? vectors * 4 : 0);
      auto cache = KvCache::create(k.c, k.slots, k.context, e);
      ASSERT_TRUE(cache.ok()) << cache.error().message();
      EXPECT_EQ(cache->bytes(), want) << kernels::kv_encoding_name(e) << " " << k.c.num_layers << " layers";
      EXPECT_EQ(KvCache::bytes_for(k.c, k.slots, k.context, e), want);
      EXPECT_EQ(cache->encoding(), e);
      EXPECT_TRUE(KvCache::create(k.c, k.slots, k.context, e, want).ok());
      auto over = KvCache::create(k.c, k.slots, k.context, e, want - 1);
      ASSERT_FALSE(over.ok());
      EXPECT_NE(over.error().message().find(kernels::kv_encoding_name(e)), std::string::npos)
          << over.error().message();
    }
  }
}

TEST(KvCache, StorePutsAStepWhereAttentionReadsIt) {
  const LlamaConfig c = config(2, 6, 3, 30, 5);
  const size_t slots = 2, context = 4, kv = 3, hd = 5, layer = 1, slot = 1, pos = 1, n = 2;
  // Rows of the step's K and V with padding after each (strides 20 and 17 floats).
  const size_t k_stride = 20, v_stride = 17;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-2, 2);
  std::vector<float> k(n * k_stride), v(n * v_stride);
  for (float& x : k) x = dist(rng);
  for (float& x : v) x = dist(rng);
  for (KvEncoding e : kEncodings) {
    auto cache = KvCache::create(c, slots, context, e);
    ASSERT_TRUE(cache.ok());
    cache->store(layer, slot, pos, n, k.data(), v.data(), k_stride, v_stride);
    std::vector<float> got(hd);
    for (size_t l = 0; l < 2; ++l)
      for (size_t s = 0; s < slots; ++s)
        for (size_t which = 0; which < 2; ++which) {
          const kernels::KvRows rows = which == 0 ? cache->keys(l, s) : cache->values(l, s);
          for (size_t p = 0; p < context; ++p)
            for (size_t h = 0; h < kv; ++h) {
              kernels::decode_kv(e, rows, p * kv + h, hd, got.data());
              const bool stored = l == layer && s == slot && p >= pos && p < pos + n;
              // Only a stored position has a source row (p - pos would wrap for the others).
              const float* src = !stored         ? nullptr
                                 : which == 0    ? k.data() + (p - pos) * k_stride
                                                 : v.data() + (p - pos) * v_stride;
              float amax = 0;
              if (stored)
                for (size_t d = 0; d < hd; ++d) amax = std::max(amax, std::abs(src[h * hd + d]));
              for (size_t d = 0; d < hd; ++d) {
                // Each encoding's rounding: none, half an f16 ulp (2^-11 relative), half a q8 step.
                const float want = stored ? src[h * hd + d] : 0.0f;
                const double tol = e == KvEncoding::f32   ? 0
                                   : e == KvEncoding::f16 ? std::ldexp(std::abs(want), -11)
                                                          : amax / 127.0 / 2 * (1 + 1e-6);
                EXPECT_NEAR(got[d], want, tol) << kernels::kv_encoding_name(e) << " layer " << l << " slot " << s
                                               << (which ? " V" : " K") << " position " << p << " head " << h;
              }
            }
        }
  }
}

TEST(KvCache, EncodingNames) {
  for (KvEncoding e : kEncodings) {
    auto parsed = kv_encoding_from_name(kernels::kv_encoding_name(e));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, e);
  }
  auto bad = kv_encoding_from_name("q4");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind(), ErrorKind::invalid_argument);
  EXPECT_NE(bad.error().message().find("'q4'"), std::string::npos) << bad.error().message();
}

}  // namespace
}  // namespace sparq::runtime
