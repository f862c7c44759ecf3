// A scalar BERT-family forward in double precision over a .sparq file's weights decoded to
// f32 (formats::decode_tensor), written from the architecture's definition and sharing no
// code with runtime/encoder_model.cpp: the reference the encoder tests compare against.
//
// Layers whose stored weights are integer (q8, q4, csr/bsr with q8 values) run on int8
// activations in the kernels; the reference then applies the kernels' documented
// activation quantization (kernels/dense_gemm.h: per row, scale max|x| / 127, round half
// to even) to its input before an exact product, so the only remaining differences are f32
// rounding.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "formats/sparq_reader.h"
#include "formats/tensor_codec.h"
#include "runtime/model/model_schema.h"

namespace sparq::test {

using runtime::Activation;
using runtime::Pooling;
using runtime::PoolerHead;

class ReferenceEncoder {
 public:
  explicit ReferenceEncoder(const std::string& path) {
    auto reader = formats::SparqReader::open(path);
    if (!reader) {
      ADD_FAILURE() << reader.error().message();
      return;
    }
    auto c = runtime::bert_config_from_json((*reader)->metadata()["architecture"]);
    if (!c) {
      ADD_FAILURE() << c.error().message();
      return;
    }
    c_ = *c;
    for (const formats::TensorView& t : (*reader)->tensors()) {
      auto values = formats::decode_tensor(t.desc, t.payload);
      if (!values) {
        ADD_FAILURE() << values.error().message();
        continue;
      }
      w_[t.desc.name] = std::move(*values);
      using formats::Encoding;
      const Encoding e = t.desc.encoding, v = t.desc.value_encoding;
      const bool sparse = e == Encoding::csr || e == Encoding::bsr;
      if (e == Encoding::q8 || e == Encoding::q4 || (sparse && v == Encoding::q8)) {
        int8_activations_.insert(t.desc.name);
      }
    }
  }

  const runtime::BertConfig& config() const { return c_; }

  // Last hidden states of one sequence: ids.size() x hidden_size.
  std::vector<double> hidden(const std::vector<int32_t>& ids, const std::vector<int32_t>& types) const {
    const size_t T = ids.size(), H = c_.hidden_size;
    const size_t heads = c_.num_heads, d = H / heads;
    std::vector<double> x(T * H);
    for (size_t t = 0; t < T; ++t) {
      for (size_t j = 0; j < H; ++j) {
        double e = at("embeddings.word.weight")[ids[t] * H + j] +
                   at("embeddings.position.weight")[(c_.position_offset + t) * H + j];
        if (c_.type_vocab_size > 0) e += at("embeddings.token_type.weight")[(types.empty() ? 0 : types[t]) * H + j];
        x[t * H + j] = e;
      }
    }
    layernorm(x, T, "embeddings.norm");
    for (uint64_t l = 0; l < c_.num_layers; ++l) {
      const std::string p = "layers." + std::to_string(l) + ".";
      std::vector<double> qkv = linear(x, T, p + "attention.qkv");
      std::vector<double> ctx(T * H, 0.0);
      for (size_t h = 0; h < heads; ++h) {
        for (size_t i = 0; i < T; ++i) {
          std::vector<double> s(T);
          double mx = -1e300;
          for (size_t j = 0; j < T; ++j) {
            double dot = 0;
            for (size_t e = 0; e < d; ++e) dot += qkv[i * 3 * H + h * d + e] * qkv[j * 3 * H + H + h * d + e];
            s[j] = dot / std::sqrt(double(d));
            mx = std::max(mx, s[j]);
          }
          double sum = 0;
          for (double& v : s) sum += (v = std::exp(v - mx));
          for (size_t j = 0; j < T; ++j) {
            for (size_t e = 0; e < d; ++e) ctx[i * H + h * d + e] += s[j] / sum * qkv[j * 3 * H + 2 * H + h * d + e];
          }
        }
      }
      std::vector<double> attn = linear(ctx, T, p + "attention.output");
      for (size_t i = 0; i < T * H; ++i) x[i] += attn[i];
      layernorm(x, T, p + "attention.norm");
      std::vector<double> u = linear(x, T, p + "ffn.up");
      for (double& v : u) {
        v = c_.activation == Activation::gelu_tanh
                ? 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)))
                : 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
      }
      std::vector<double> down = linear(u, T, p + "ffn.down");
      for (size_t i = 0; i < T * H; ++i) x[i] += down[i];
      layernorm(x, T, p + "ffn.norm");
    }
    return x;
  }

  std::vector<double> pooled(const std::vector<double>& hidden) const {
    std::vector<double> first(hidden.begin(), hidden.begin() + c_.hidden_size);
    std::vector<double> y = linear(first, 1, "pooler");
    for (double& v : y) v = c_.pooler == PoolerHead::tanh ? std::tanh(v) : std::max(v, 0.0);
    return y;
  }

  std::vector<double> logits(const std::vector<double>& hidden) const {
    std::vector<double> features = c_.pooler == PoolerHead::none
                                       ? std::vector<double>(hidden.begin(), hidden.begin() + c_.hidden_size)
                                       : pooled(hidden);
    return linear(features, 1, "classifier");
  }

  std::vector<double> embedding(const std::vector<double>& hidden) const {
    const size_t H = c_.hidden_size, T = hidden.size() / H;
    std::vector<double> e(H, 0.0);
    if (c_.pooling == Pooling::pooler) {
      e = pooled(hidden);
    } else if (c_.pooling == Pooling::cls) {
      e.assign(hidden.begin(), hidden.begin() + H);
    } else {
      for (size_t j = 0; j < H; ++j) {
        double acc = c_.pooling == Pooling::mean ? 0.0 : -1e300;
        for (size_t t = 0; t < T; ++t) {
          acc = c_.pooling == Pooling::mean ? acc + hidden[t * H + j] : std::max(acc, hidden[t * H + j]);
        }
        e[j] = c_.pooling == Pooling::mean ? acc / double(T) : acc;
      }
    }
    if (c_.normalize) {
      double n = 0;
      for (double v : e) n += v * v;
      for (double& v : e) v /= std::max(std::sqrt(n), 1e-12);
    }
    return e;
  }

 private:
  const std::vector<float>& at(const std::string& name) const {
    static const std::vector<float> empty;
    auto it = w_.find(name);
    if (it == w_.end()) {
      ADD_FAILURE() << "reference: no tensor " << name;
      return empty;
    }
    return it->second;
  }

  void layernorm(std::vector<double>& x, size_t rows, const std::string& prefix) const {
    const size_t H = c_.hidden_size;
    const auto& g = at(prefix + ".weight");
    const auto& b = at(prefix + ".bias");
    for (size_t r = 0; r < rows; ++r) {
      double mean = 0, var = 0;
      for (size_t j = 0; j < H; ++j) mean += x[r * H + j];
      mean /= double(H);
      for (size_t j = 0; j < H; ++j) var += (x[r * H + j] - mean) * (x[r * H + j] - mean);
      var /= double(H);
      const double inv = 1.0 / std::sqrt(var + c_.layer_norm_eps);
      for (size_t j = 0; j < H; ++j) x[r * H + j] = (x[r * H + j] - mean) * inv * g[j] + b[j];
    }
  }

  // y = x·Wᵀ + b over `rows` rows, with the kernels' int8 activations where they use them.
  std::vector<double> linear(const std::vector<double>& x, size_t rows, const std::string& prefix) const {
    const auto& w = at(prefix + ".weight");
    const auto& b = at(prefix + ".bias");
    const size_t n = b.size(), k = x.size() / rows;
    const bool quantize = int8_activations_.count(prefix + ".weight") > 0;
    std::vector<double> y(rows * n), in(k);
    for (size_t r = 0; r < rows; ++r) {
      for (size_t j = 0; j < k; ++j) in[j] = x[r * k + j];
      if (quantize) {
        float mx = 0;
        for (size_t j = 0; j < k; ++j) mx = std::max(mx, std::fabs(float(in[j])));
        const float scale = mx / 127.0f, inv = mx > 0 ? 127.0f / mx : 0.0f;
        for (size_t j = 0; j < k; ++j) {
          in[j] = double(std::clamp(std::nearbyint(float(in[j]) * inv), -127.0f, 127.0f)) * scale;
        }
      }
      for (size_t o = 0; o < n; ++o) {
        double acc = b[o];
        for (size_t j = 0; j < k; ++j) acc += in[j] * w[o * k + j];
        y[r * n + o] = acc;
      }
    }
    return y;
  }

  runtime::BertConfig c_;
  std::map<std::string, std::vector<float>> w_;
  std::set<std::string> int8_activations_;
};

}  // namespace sparq::test
