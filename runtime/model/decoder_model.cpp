// The Llama-family decoder: load() binds and packs every tensor once; forward() runs all
// steps' tokens as one block of T rows through the matmuls, norms and activations, and
// attention per step against the step's KV-cache slot.
#include "runtime/model/decoder_model.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

#include "formats/sparq_reader.h"
#include "kernels/attention_tasks.h"
#include "kernels/transformer_ops.h"
#include "runtime/model/linear_layer.h"
#include "runtime/model/model_weights.h"
#include "runtime/model/scratch_buffer.h"

namespace sparq::runtime {
namespace {

struct DecoderLayer {
  std::span<const float> attention_norm, ffn_norm;
  LinearLayer qkv, output, gate, up, down;
};

// RoPE frequencies theta^(-2i/d), stretched by Llama 3.1's scheme when the config asks:
// wavelengths longer than original_context / low_freq_factor are divided by `factor`,
// shorter than original_context / high_freq_factor kept, and those between blended
// linearly in original_context / wavelength (Hugging Face's `_compute_llama3_parameters`).
std::vector<double> rope_frequencies(const LlamaConfig& c) {
  const size_t d = c.resolved_head_dim();
  std::vector<double> inv_freq(d / 2);
  for (size_t i = 0; i < d / 2; ++i) inv_freq[i] = std::pow(c.rope_theta, -2.0 * double(i) / double(d));
  if (c.rope_scaling != RopeScaling::llama3) return inv_freq;
  const double original = double(c.rope_original_max_positions);
  const double low_wavelen = original / c.rope_low_freq_factor, high_wavelen = original / c.rope_high_freq_factor;
  for (double& f : inv_freq) {
    const double wavelen = 2 * std::numbers::pi / f;
    if (wavelen > low_wavelen) {
      f /= c.rope_factor;
    } else if (wavelen >= high_wavelen) {
      const double smooth = (original / wavelen - c.rope_low_freq_factor) /
                            (c.rope_high_freq_factor - c.rope_low_freq_factor);
      f = (1 - smooth) * f / c.rope_factor + smooth * f;
    }
  }
  return inv_freq;
}

}  // namespace

struct DecoderModel::Impl {
  Impl(std::shared_ptr<const formats::SparqReader> reader, const ModelKernels& kernels)
      : weights(std::move(reader), kernels) {}

  ModelWeights weights;
  LlamaConfig config;
  GenerationConfig generation;
  std::vector<double> inv_freq;
  kernels::EmbeddingTable embedding;
  std::vector<DecoderLayer> layers;
  std::span<const float> final_norm;
  std::optional<LinearLayer> lm_head;
  uint64_t decode_weight_bytes = 0;
  LinearInputObserver* observer = nullptr;

  // Per-forward working memory.
  struct {
    std::vector<int32_t> tokens, offsets, wanted;
    ScratchBuffer x, norm, qkv, q, k, context, gate, up, tmp, last;
  } s;

  Status bind();
  Status forward(std::span<const DecodeStep> steps, KvCache& cache, std::span<float> logits);
  // The observer's view of layer `layer`'s linear `tensor` (e.g. "ffn.up.weight").
  void observe(size_t layer, const char* tensor, const float* x, size_t rows, size_t cols) const {
    if (observer == nullptr) return;
    observer->observe(fmt::format("layers.{}.{}", layer, tensor), x, rows, cols);
  }
};

Status DecoderModel::Impl::bind() {
  const nlohmann::json& meta = weights.reader().metadata();
  if (!meta.contains("architecture")) return Error("metadata: no \"architecture\" object");
  auto c = llama_config_from_json(meta["architecture"]);
  if (!c) return c.error().within("metadata");
  config = *c;
  if (meta.contains("generation")) {
    auto g = generation_config_from_json(meta["generation"]);
    if (!g) return g.error().within("metadata");
    generation = *g;
  }
  for (int64_t id : generation.eos_token_ids) {
    if (uint64_t(id) >= config.vocab_size) {
      return Error(fmt::format("metadata.generation.eos_token_ids: {} is outside the vocabulary of {}", id,
                               config.vocab_size));
    }
  }
  if (generation.bos_token_id >= int64_t(config.vocab_size)) {
    return Error(fmt::format("metadata.generation.bos_token_id: {} is outside the vocabulary of {}",
                             generation.bos_token_id, config.vocab_size));
  }
  if (config.resolved_head_dim() > kernels::kAttentionMaxHeadDim) {
    return Error(fmt::format("metadata.architecture: head size {} is larger than the attention kernels' {}",
                             config.resolved_head_dim(), kernels::kAttentionMaxHeadDim));
  }
  const std::vector<TensorSpec> specs = llama_tensors(config);
  if (Status s = weights.check(specs, "llama"); !s) return s;
  inv_freq = rope_frequencies(config);

  auto table = weights.embedding("embeddings.word.weight");
  if (!table) return table.error();
  embedding = *table;
  for (uint64_t i = 0; i < config.num_layers; ++i) {
    const std::string p = fmt::format("layers.{}.", i);
    auto attention_norm = weights.f32_values(p + "attention.norm.weight");
    if (!attention_norm) return attention_norm.error();
    auto ffn_norm = weights.f32_values(p + "ffn.norm.weight");
    if (!ffn_norm) return ffn_norm.error();
    auto qkv = weights.linear(p + "attention.qkv.weight", config.attention_bias ? p + "attention.qkv.bias" : "");
    if (!qkv) return qkv.error();
    auto output = weights.linear(p + "attention.output.weight", "");
    if (!output) return output.error();
    auto gate = weights.linear(p + "ffn.gate.weight", "");
    if (!gate) return gate.error();
    auto up = weights.linear(p + "ffn.up.weight", "");
    if (!up) return up.error();
    auto down = weights.linear(p + "ffn.down.weight", "");
    if (!down) return down.error();
    layers.push_back({*attention_norm, *ffn_norm, std::move(*qkv), std::move(*output), std::move(*gate),
                      std::move(*up), std::move(*down)});
  }
  auto norm = weights.f32_values("norm.weight");
  if (!norm) return norm.error();
  final_norm = *norm;
  auto head = weights.linear(config.tie_embeddings ? "embeddings.word.weight" : "lm_head.weight", "");
  if (!head) return head.error();
  lm_head = std::move(*head);

  for (const TensorSpec& spec : specs) {
    const formats::TensorView* t = weights.reader().find(spec.name);
    if (spec.role == TensorRole::linear) decode_weight_bytes += t->payload.size();
    if (spec.role == TensorRole::embedding) {
      decode_weight_bytes += t->payload.size() / config.vocab_size;  // one row looked up
      if (config.tie_embeddings) decode_weight_bytes += t->payload.size();  // and the head
    }
  }
  return {};
}

Status DecoderModel::Impl::forward(std::span<const DecodeStep> steps, KvCache& cache, std::span<float> logits) {
  const size_t H = config.hidden_size, F = config.intermediate_size, V = config.vocab_size;
  const size_t hd = config.resolved_head_dim(), nh = config.num_heads, nkv = config.num_kv_heads;
  const size_t q_width = nh * hd, kv_width = nkv * hd, qkv_width = q_width + 2 * kv_width;

  // Validate everything before touching the cache, so an error leaves it as it was.
  s.offsets.assign(1, 0);
  s.wanted.clear();
  for (size_t i = 0; i < steps.size(); ++i) {
    const DecodeStep& st = steps[i];
    if (st.slot >= cache.slots()) {
      return Error(fmt::format("decode step {}: slot {} of a cache of {}", i, st.slot, cache.slots()));
    }
    for (size_t j = 0; j < i; ++j) {
      if (steps[j].slot == st.slot) return Error(fmt::format("decode steps {} and {} share slot {}", j, i, st.slot));
    }
    if (st.tokens.empty()) return Error(fmt::format("decode step {}: no tokens", i));
    if (cache.length(st.slot) + st.tokens.size() > cache.context()) {
      return Error(fmt::format("sequence in slot {}: {} + {} tokens exceed the context of {}", st.slot,
                               cache.length(st.slot), st.tokens.size(), cache.context()),
                   ErrorKind::invalid_argument);
    }
    for (int32_t id : st.tokens) {
      if (id < 0 || uint64_t(id) >= V) {
        return Error(fmt::format("decode step {}: token id {} outside the vocabulary of {}", i, id, V));
      }
    }
    const int32_t begin = s.offsets.back(), n = int32_t(st.tokens.size());
    s.offsets.push_back(begin + n);
    for (int32_t t = st.all_logits ? begin : begin + n - 1; t < begin + n; ++t) s.wanted.push_back(t);
  }
  if (logits.size() != s.wanted.size() * V) {
    return Error(fmt::format("decoder forward: {} logits for {} rows of {}", logits.size(), s.wanted.size(), V));
  }
  const size_t T = size_t(s.offsets.back());
  if (T == 0) return {};
  s.tokens.clear();
  for (const DecodeStep& st : steps) s.tokens.insert(s.tokens.end(), st.tokens.begin(), st.tokens.end());

  const kernels::TransformerOpsConfig& ops = *weights.kernels().ops;
  const float eps = float(config.rms_norm_eps);
  float* x = s.x.reserve(T * H);
  float* norm = s.norm.reserve(T * H);
  float* qkv = s.qkv.reserve(T * qkv_width);
  float* q = s.q.reserve(T * q_width);
  float* k = s.k.reserve(T * kv_width);
  float* context = s.context.reserve(T * q_width);
  float* gate = s.gate.reserve(T * F);
  float* up = s.up.reserve(T * F);
  float* tmp = s.tmp.reserve(T * H);

  if (Status st = kernels::embedding_lookup(embedding, s.tokens, x, H); !st) return st;
  for (size_t l = 0; l < layers.size(); ++l) {
    const DecoderLayer& layer = layers[l];
    kernels::rmsnorm(ops, T, H, x, H, layer.attention_norm.data(), eps, norm, H);
    observe(l, "attention.qkv.weight", norm, T, H);
    layer.qkv.run(norm, T, qkv);
    for (size_t i = 0; i < steps.size(); ++i) {
      const size_t begin = size_t(s.offsets[i]), n = size_t(s.offsets[i + 1]) - begin;
      const size_t slot = steps[i].slot, pos = cache.length(slot);
      for (size_t t = 0; t < n; ++t) {
        const float* row = qkv + (begin + t) * qkv_width;
        std::memcpy(q + (begin + t) * q_width, row, q_width * sizeof(float));
        std::memcpy(k + (begin + t) * kv_width, row + q_width, kv_width * sizeof(float));
      }
      const int32_t offset[1] = {int32_t(pos)};
      kernels::RopeParams rope{.seq = n, .heads = nh, .head_dim = hd, .inv_freq = inv_freq.data()};
      if (Status st = kernels::rope(rope, offset, q + begin * q_width); !st) return st;
      rope.heads = nkv;
      if (Status st = kernels::rope(rope, offset, k + begin * kv_width); !st) return st;
      cache.store(l, slot, pos, n, k + begin * kv_width, qkv + begin * qkv_width + q_width + kv_width, kv_width,
                  qkv_width);
      kernels::AttentionParams a{.q_len = n, .kv_len = pos + n, .kv_capacity = cache.context(), .n_heads = nh,
                                 .n_kv_heads = nkv, .head_dim = hd, .causal = true,
                                 .kv_encoding = cache.encoding()};
      if (Status st = kernels::attention(ops, a, q + begin * q_width, cache.keys(l, slot), cache.values(l, slot), {},
                                         {}, context + begin * q_width);
          !st)
        return st;
    }
    observe(l, "attention.output.weight", context, T, q_width);
    layer.output.run(context, T, tmp);
    kernels::residual_add(T * H, x, tmp, x);
    kernels::rmsnorm(ops, T, H, x, H, layer.ffn_norm.data(), eps, norm, H);
    observe(l, "ffn.gate.weight", norm, T, H);
    observe(l, "ffn.up.weight", norm, T, H);
    layer.gate.run(norm, T, gate);
    layer.up.run(norm, T, up);
    kernels::swiglu(ops, T, F, gate, F, up, F, gate, F);
    observe(l, "ffn.down.weight", gate, T, F);
    layer.down.run(gate, T, tmp);
    kernels::residual_add(T * H, x, tmp, x);
  }
  for (const DecodeStep& st : steps) cache.advance(st.slot, st.tokens.size());

  const size_t R = s.wanted.size();
  float* last = s.last.reserve(R * H);
  for (size_t r = 0; r < R; ++r) std::memcpy(last + r * H, x + size_t(s.wanted[r]) * H, H * sizeof(float));
  kernels::rmsnorm(ops, R, H, last, H, final_norm.data(), eps, last, H);
  if (observer != nullptr) {
    observer->observe(config.tie_embeddings ? "embeddings.word.weight" : "lm_head.weight", last, R, H);
  }
  lm_head->run(last, R, logits.data());
  return {};
}

DecoderModel::DecoderModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DecoderModel::~DecoderModel() = default;

Result<std::unique_ptr<DecoderModel>> DecoderModel::load(const std::string& path, const DecoderOptions& options) {
  auto reader = open_model_file(path);
  if (!reader) return reader.error();
  return load(std::move(*reader), options);
}

Result<std::unique_ptr<DecoderModel>> DecoderModel::load(std::shared_ptr<const formats::SparqReader> reader,
                                                         const DecoderOptions& options) {
  const std::string path = reader->path();
  auto k = kernels_for_model(options.isa, path);
  if (!k) return k.error();
  auto impl = std::make_unique<Impl>(std::move(reader), *k);
  if (Status s = impl->bind(); !s) return s.error().within(path);
  return std::unique_ptr<DecoderModel>(new DecoderModel(std::move(impl)));
}

const LlamaConfig& DecoderModel::config() const { return impl_->config; }
const GenerationConfig& DecoderModel::generation() const { return impl_->generation; }
const nlohmann::json& DecoderModel::metadata() const { return impl_->weights.reader().metadata(); }
const std::string& DecoderModel::path() const { return impl_->weights.reader().path(); }
uint64_t DecoderModel::weight_bytes() const { return impl_->weights.stored_bytes(); }
uint64_t DecoderModel::decode_weight_bytes() const { return impl_->decode_weight_bytes; }
kernels::Isa DecoderModel::isa() const { return impl_->weights.kernels().isa; }
std::vector<std::string> DecoderModel::describe_kernels() const { return impl_->weights.describe_kernels(); }

Result<KvCache> DecoderModel::make_cache(size_t slots, size_t context, kernels::KvEncoding encoding,
                                         uint64_t max_bytes) const {
  return KvCache::create(impl_->config, slots, context == 0 ? impl_->config.max_positions : context, encoding,
                         max_bytes);
}

size_t DecoderModel::logit_rows(std::span<const DecodeStep> steps) {
  size_t rows = 0;
  for (const DecodeStep& st : steps) rows += st.all_logits ? st.tokens.size() : 1;
  return rows;
}

Status DecoderModel::forward(std::span<const DecodeStep> steps, KvCache& cache, std::span<float> logits) {
  return impl_->forward(steps, cache, logits);
}

void DecoderModel::set_linear_input_observer(LinearInputObserver* observer) { impl_->observer = observer; }

}  // namespace sparq::runtime
