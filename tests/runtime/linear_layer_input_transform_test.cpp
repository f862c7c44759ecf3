// A linear layer run with an input transform f (kernels/input_transform.h: what the encoder's
// FFN uses to apply GELU while the down projection takes in its activations) must give
// exactly the bits of the same layer run on f(X) computed first, for every encoding and so
// every kernel path that takes f (dense f32/f16/bf16/q8/q4, csr f32/q8, bsr q8, bitmap q8),
// on the reference and this CPU's best ISA, for the GEMV/SpMV row counts and the panel ones
// (a ragged last panel included), on 1 and 2 threads; and X itself must be left unchanged.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "formats/tensor_codec.h"
#include "formats/tensor_desc.h"
#include "kernels/cpu_features.h"
#include "kernels/isa.h"
#include "kernels/threading.h"
#include "runtime/model/linear_layer.h"

namespace sparq::runtime {
namespace {

using formats::Encoding;

struct Case {
  std::string name;
  formats::EncodeOptions options;
};

std::vector<Case> cases() {
  return {{"f32", {.encoding = Encoding::f32}},
          {"f16", {.encoding = Encoding::f16}},
          {"bf16", {.encoding = Encoding::bf16}},
          {"q8", {.encoding = Encoding::q8}},
          {"q4_g32", {.encoding = Encoding::q4, .group_size = 32}},
          {"csr_f32", {.encoding = Encoding::csr, .value_encoding = Encoding::f32}},
          {"csr_q8", {.encoding = Encoding::csr, .value_encoding = Encoding::q8}},
          {"bsr_q8_4x4",
           {.encoding = Encoding::bsr, .value_encoding = Encoding::q8, .block_rows = 4, .block_cols = 4}},
          {"bitmap_q8_g32", {.encoding = Encoding::bitmap, .value_encoding = Encoding::q8, .group_size = 32}}};
}

// Not the identity, exact in f32, and with a kink at 0 like the activations it stands for.
void leaky(size_t n, const float* x, float* y) {
  for (size_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.125f * x[i];
}

TEST(LinearLayerInputTransform, EqualsTransformingTheInputFirstOnEveryPath) {
  constexpr size_t n = 48, k = 96;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::bernoulli_distribution keep(0.3);
  std::vector<float> w(n * k), bias(n);
  for (float& v : w) v = keep(rng) ? value(rng) : 0.0f;
  for (float& v : bias) v = value(rng);

  std::vector<kernels::Isa> isas{kernels::Isa::ref};
  const kernels::Isa best = kernels::best_isa(kernels::cpu_info().features);
  if (best != kernels::Isa::ref) isas.push_back(best);

  for (const Case& c : cases()) {
    auto encoded = formats::encode_tensor("w", {n, k}, w, c.options);
    ASSERT_TRUE(encoded.ok()) << c.name << ": " << encoded.error().message();
    auto layout = formats::compute_layout(encoded->desc);
    ASSERT_TRUE(layout.ok()) << c.name;
    formats::TensorView view{encoded->desc, *layout, encoded->payload};
    for (kernels::Isa isa : isas) {
      auto kernels = model_kernels_for(isa);
      ASSERT_TRUE(kernels.ok()) << kernels.error().message();
      const kernels::InputTransform gelu = kernels->ops->gelu_erf;
      auto layer = LinearLayer::bind(view, bias, *kernels);
      ASSERT_TRUE(layer.ok()) << c.name << ": " << layer.error().message();
      for (kernels::InputTransform f : {&leaky, gelu}) {
        for (size_t m : {1, 3, 20, 70}) {
          SCOPED_TRACE(c.name + " " + std::string(kernels::isa_name(isa)) + " (" +
                       layer->description() + ") m=" + std::to_string(m) +
                       (f == gelu ? " gelu" : " leaky"));
          std::normal_distribution<float> activation(0.0f, 2.0f);
          std::vector<float> x(m * k), fx(m * k);
          for (float& v : x) v = activation(rng);
          f(x.size(), x.data(), fx.data());
          const std::vector<float> x_before = x;
          for (int threads : {1, 2}) {
            kernels::set_num_threads(threads);
            std::vector<float> fused(m * n, NAN), first(m * n, NAN);
            layer->run(x.data(), m, fused.data(), f);
            layer->run(fx.data(), m, first.data());
            EXPECT_EQ(std::memcmp(fused.data(), first.data(), fused.size() * sizeof(float)), 0)
                << threads << " threads";
          }
          kernels::set_num_threads(0);
          EXPECT_EQ(x, x_before) << "the transform wrote into X";
        }
      }
    }
  }
}

}  // namespace
}  // namespace sparq::runtime
