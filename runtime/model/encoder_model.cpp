// The BERT-family encoder: load() binds and packs every tensor once; forward() runs the
// layers over the batch's real tokens only, packed contiguously (T = Σ lengths rows), so
// padding costs no matmul, norm or activation time; attention runs per sequence on the
// same packed rows.
#include "runtime/model/encoder_model.h"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <set>

#include "formats/sparq_reader.h"
#include "formats/tensor_codec.h"
#include "kernels/attention_tasks.h"
#include "kernels/threading.h"
#include "kernels/transformer_ops.h"
#include "runtime/model/classifier_calibration.h"
#include "runtime/model/encoder_attention.h"
#include "runtime/model/linear_layer.h"
#include "runtime/model/model_weights.h"
#include "runtime/model/scratch_buffer.h"

namespace sparq::runtime {
namespace {

using formats::Encoding;

struct LayerNormWeights {
  std::span<const float> gamma, beta;
};

struct EncoderLayer {
  LinearLayer qkv, output, up, down;
  LayerNormWeights attention_norm, ffn_norm;
};

}  // namespace

struct EncoderModel::Impl {
  Impl(std::shared_ptr<const formats::SparqReader> reader, const ModelKernels& kernels)
      : weights(std::move(reader), kernels) {}

  ModelWeights weights;
  BertConfig config;
  std::vector<std::string> labels;
  double temperature = 1;

  kernels::EmbeddingTable word, position, token_type;
  LayerNormWeights embedding_norm;
  std::vector<EncoderLayer> layers;
  std::optional<LinearLayer> pooler, classifier;
  bool int8_attention = false;  // ops.attention_int8 is set

  // Per-forward working memory (see forward()).
  struct {
    std::vector<int32_t> tokens, positions, types, offsets, lengths;
    ScratchBuffer x, tmp, wide, context, first, pooled;
  } s;

  Status bind();
  Result<LayerNormWeights> layernorm(const std::string& prefix);

  Status forward(const TokenBatch& batch);
  Status embed_tokens(float* x, float* tmp);
  const float* first_tokens();
  const float* pooler_output();
  Status pool(std::span<float> out);
};

Result<LayerNormWeights> EncoderModel::Impl::layernorm(const std::string& prefix) {
  auto gamma = weights.f32_values(prefix + ".weight");
  if (!gamma) return gamma.error();
  auto beta = weights.f32_values(prefix + ".bias");
  if (!beta) return beta.error();
  return LayerNormWeights{*gamma, *beta};
}

Status EncoderModel::Impl::bind() {
  const nlohmann::json& meta = weights.reader().metadata();
  if (!meta.contains("architecture")) return Error("metadata: no \"architecture\" object");
  auto c = bert_config_from_json(meta["architecture"]);
  if (!c) return c.error().within("metadata");
  config = *c;
  if (config.hidden_size / config.num_heads > kernels::kAttentionMaxHeadDim) {
    return Error(fmt::format("metadata.architecture: head size {} is larger than the attention kernels' {}",
                             config.hidden_size / config.num_heads, kernels::kAttentionMaxHeadDim));
  }
  if (Status s = weights.check(bert_tensors(config), "bert"); !s) return s;

  if (meta.contains("labels")) {
    const nlohmann::json& l = meta["labels"];
    if (!l.is_array() || l.size() != config.num_labels) {
      return Error(fmt::format("metadata.labels: expected an array of {} label names", config.num_labels));
    }
    for (const nlohmann::json& name : l) {
      if (!name.is_string()) return Error("metadata.labels: expected strings, got " + name.dump());
      // Two classes of one name would merge in every output keyed by label ("scores").
      if (std::find(labels.begin(), labels.end(), name.get<std::string>()) != labels.end()) {
        return Error(fmt::format("metadata.labels: '{}' is listed twice", name.get<std::string>()));
      }
      labels.push_back(name.get<std::string>());
    }
  } else {
    for (uint64_t i = 0; i < config.num_labels; ++i) labels.push_back(fmt::format("LABEL_{}", i));
  }
  auto t = stored_temperature(meta);
  if (!t) return t.error();
  temperature = *t;

  auto word_table = weights.embedding("embeddings.word.weight");
  if (!word_table) return word_table.error();
  word = *word_table;
  auto position_table = weights.embedding("embeddings.position.weight");
  if (!position_table) return position_table.error();
  position = *position_table;
  if (config.type_vocab_size > 0) {
    auto type_table = weights.embedding("embeddings.token_type.weight");
    if (!type_table) return type_table.error();
    token_type = *type_table;
  }
  auto norm = layernorm("embeddings.norm");
  if (!norm) return norm.error();
  embedding_norm = *norm;

  for (uint64_t i = 0; i < config.num_layers; ++i) {
    const std::string p = fmt::format("layers.{}.", i);
    auto qkv = weights.linear(p + "attention.qkv.weight", p + "attention.qkv.bias");
    if (!qkv) return qkv.error();
    auto out = weights.linear(p + "attention.output.weight", p + "attention.output.bias");
    if (!out) return out.error();
    auto up = weights.linear(p + "ffn.up.weight", p + "ffn.up.bias");
    if (!up) return up.error();
    auto down = weights.linear(p + "ffn.down.weight", p + "ffn.down.bias");
    if (!down) return down.error();
    auto attention_norm = layernorm(p + "attention.norm");
    if (!attention_norm) return attention_norm.error();
    auto ffn_norm = layernorm(p + "ffn.norm");
    if (!ffn_norm) return ffn_norm.error();
    layers.push_back({std::move(*qkv), std::move(*out), std::move(*up), std::move(*down), *attention_norm,
                      *ffn_norm});
  }
  if (config.pooler != PoolerHead::none) {
    auto p = weights.linear("pooler.weight", "pooler.bias");
    if (!p) return p.error();
    pooler = std::move(*p);
  }
  if (config.num_labels > 0) {
    auto cls = weights.linear("classifier.weight", "classifier.bias");
    if (!cls) return cls.error();
    classifier = std::move(*cls);
  }
  return {};
}

// Below this many floats per thread, copying or summing rows is not worth a fork.
constexpr size_t kMinFloatsCopiedPerThread = 16384;

// x = word + position (+ token type) embeddings of the s.tokens rows. The gathers are
// memory-bound and were a serial stretch of every forward, so each thread sums its own
// tokens' rows. On a bad id the lookups run again serially, to name it and its position.
Status EncoderModel::Impl::embed_tokens(float* x, float* tmp) {
  const size_t T = s.tokens.size(), H = config.hidden_size;
  const bool typed = config.type_vocab_size > 0;
  std::vector<char> failed(size_t(kernels::num_threads()), 0);
  kernels::parallel_run(T * H, kMinFloatsCopiedPerThread, [&](int thread, int threads) {
    const kernels::Range rows = kernels::static_partition(T, 1, thread, threads);
    if (rows.size() == 0) return;
    float* xr = x + rows.begin * H;
    float* tr = tmp + rows.begin * H;
    const auto part = [&](const std::vector<int32_t>& ids) { return std::span(ids).subspan(rows.begin, rows.size()); };
    // xr += table[ids] for this thread's rows; false on a bad id.
    const auto add = [&](const kernels::EmbeddingTable& table, const std::vector<int32_t>& ids) {
      if (!kernels::embedding_lookup(table, part(ids), tr, H)) return false;
      for (size_t i = 0; i < rows.size() * H; ++i) xr[i] += tr[i];
      return true;
    };
    const bool ok = kernels::embedding_lookup(word, part(s.tokens), xr, H) && add(position, s.positions) &&
                    (!typed || add(token_type, s.types));
    if (!ok) failed[size_t(thread)] = 1;
  });
  if (std::find(failed.begin(), failed.end(), 1) == failed.end()) return {};
  if (Status st = kernels::embedding_lookup(word, s.tokens, x, H); !st) return st.error().within("token ids");
  if (Status st = kernels::embedding_lookup(position, s.positions, tmp, H); !st) return st;
  if (typed) {
    if (Status st = kernels::embedding_lookup(token_type, s.types, tmp, H); !st) {
      return st.error().within("token type ids");
    }
  }
  return Error("embedding lookup failed on one thread but not on a serial retry");
}

// Runs the embeddings and every layer over the real tokens of `batch`; afterwards s.x holds
// the last hidden states as T packed rows, sequence b's at rows [offsets[b], offsets[b+1]).
Status EncoderModel::Impl::forward(const TokenBatch& batch) {
  const size_t B = batch.batch, L = batch.seq_len, H = config.hidden_size, F = config.intermediate_size;
  if (batch.ids.size() != B * L || batch.lengths.size() != B ||
      (!batch.type_ids.empty() && batch.type_ids.size() != B * L)) {
    return Error(fmt::format("token batch: {} ids, {} type ids and {} lengths for {} sequences of {}",
                             batch.ids.size(), batch.type_ids.size(), batch.lengths.size(), B, L));
  }
  s.lengths.clear();
  s.offsets.assign(1, 0);
  s.offsets.resize(B + 1);
  for (size_t b = 0; b < B; ++b) {
    const int32_t n = batch.lengths[b];
    if (n < 1 || size_t(n) > L) {
      return Error(fmt::format("token batch: sequence {} has length {}, outside [1, {}]", b, n, L));
    }
    if (config.position_offset + n > config.max_positions) {
      return Error(fmt::format("token batch: sequence {} has {} tokens; the model takes at most {}", b, n,
                               config.max_positions - config.position_offset));
    }
    s.offsets[b + 1] = s.offsets[b] + n;
  }
  const size_t T = size_t(s.offsets[B]);
  if (T == 0) return {};
  s.tokens.resize(T);
  s.positions.resize(T);
  s.types.resize(T);
  for (size_t b = 0; b < B; ++b) {
    for (int32_t i = 0; i < batch.lengths[b]; ++i) {
      const size_t t = size_t(s.offsets[b] + i);
      s.tokens[t] = batch.ids[b * L + i];
      s.positions[t] = int32_t(config.position_offset) + i;
      s.types[t] = batch.type_ids.empty() ? 0 : batch.type_ids[b * L + i];
    }
  }

  const kernels::TransformerOpsConfig& ops = *weights.kernels().ops;
  const float eps = float(config.layer_norm_eps);
  float* x = s.x.reserve(T * H);
  float* tmp = s.tmp.reserve(T * H);
  float* wide = s.wide.reserve(T * std::max(3 * H, F));  // Q | K | V per token, then the FFN
  float* context = s.context.reserve(T * H);

  if (Status st = embed_tokens(x, tmp); !st) return st;
  kernels::layernorm(ops, T, H, x, H, embedding_norm.gamma.data(), embedding_norm.beta.data(), eps, x, H);

  const size_t head_dim = H / config.num_heads;
  for (const EncoderLayer& layer : layers) {
    layer.qkv.run(x, T, wide);
    packed_self_attention(ops, int8_attention, config.num_heads, head_dim, s.offsets, wide, context);
    layer.output.run(context, T, tmp);
    kernels::residual_add(T * H, x, tmp, x);
    kernels::layernorm(ops, T, H, x, H, layer.attention_norm.gamma.data(), layer.attention_norm.beta.data(),
                       eps, x, H);
    LinearLayer::run_ffn(layer.up, layer.down,
                         config.activation == Activation::gelu_tanh ? ops.gelu_tanh : ops.gelu_erf, x, T,
                         wide, tmp);
    kernels::residual_add(T * H, x, tmp, x);
    kernels::layernorm(ops, T, H, x, H, layer.ffn_norm.gamma.data(), layer.ffn_norm.beta.data(), eps, x, H);
  }
  s.lengths.assign(batch.lengths.begin(), batch.lengths.end());
  return {};
}

// The first token's hidden state of each sequence of the last forward(), B x H.
const float* EncoderModel::Impl::first_tokens() {
  const size_t B = s.lengths.size(), H = config.hidden_size;
  float* first = s.first.reserve(B * H);
  for (size_t b = 0; b < B; ++b) std::memcpy(first + b * H, s.x.data() + s.offsets[b] * H, H * sizeof(float));
  return first;
}

// The pooler on the first tokens: dense, then tanh (BERT, RoBERTa's classifier.dense) or
// relu (DistilBERT's pre_classifier).
const float* EncoderModel::Impl::pooler_output() {
  const size_t B = s.lengths.size(), H = config.hidden_size;
  const float* first = first_tokens();
  float* pooled = s.pooled.reserve(B * H);
  pooler->run(first, B, pooled);
  if (config.pooler == PoolerHead::tanh) {
    for (size_t i = 0; i < B * H; ++i) pooled[i] = std::tanh(pooled[i]);
  } else {
    for (size_t i = 0; i < B * H; ++i) pooled[i] = std::max(pooled[i], 0.0f);
  }
  return pooled;
}

Status EncoderModel::Impl::pool(std::span<float> out) {
  const size_t B = s.lengths.size(), H = config.hidden_size;
  if (config.pooling == Pooling::cls || config.pooling == Pooling::pooler) {
    const float* src = config.pooling == Pooling::cls ? first_tokens() : pooler_output();
    std::copy(src, src + B * H, out.begin());
  } else {
    const bool mean = config.pooling == Pooling::mean;
    for (size_t b = 0; b < B; ++b) {
      const float* rows = s.x.data() + s.offsets[b] * H;
      float* o = out.data() + b * H;
      std::copy(rows, rows + H, o);
      for (int32_t t = 1; t < s.lengths[b]; ++t) {
        for (size_t j = 0; j < H; ++j) o[j] = mean ? o[j] + rows[t * H + j] : std::max(o[j], rows[t * H + j]);
      }
      if (mean) {
        for (size_t j = 0; j < H; ++j) o[j] /= float(s.lengths[b]);
      }
    }
  }
  if (config.normalize) {
    // As torch.nn.functional.normalize: x / max(‖x‖₂, 1e-12).
    for (size_t b = 0; b < B; ++b) {
      float* o = out.data() + b * H;
      double sq = 0;
      for (size_t j = 0; j < H; ++j) sq += double(o[j]) * o[j];
      const float inv = float(1.0 / std::max(std::sqrt(sq), 1e-12));
      for (size_t j = 0; j < H; ++j) o[j] *= inv;
    }
  }
  return {};
}

namespace {

// EncoderOptions::int8_attention, else SPARQ_ATTENTION, else whether the weights are integer.
Result<bool> wants_int8_attention(const EncoderOptions& options, const std::vector<EncoderLayer>& layers) {
  if (options.int8_attention) return *options.int8_attention;
  const char* env = std::getenv("SPARQ_ATTENTION");
  const std::string choice = env ? env : "auto";
  if (choice == "f32") return false;
  if (choice == "int8") return true;
  if (choice != "auto" && !choice.empty())
    return Error(fmt::format("SPARQ_ATTENTION='{}': expected f32, int8 or auto", choice), ErrorKind::invalid_argument);
  return !layers.empty() && std::all_of(layers.begin(), layers.end(), [](const EncoderLayer& l) {
    return l.qkv.integer_weights();
  });
}

}  // namespace

EncoderModel::EncoderModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EncoderModel::~EncoderModel() = default;

Result<std::unique_ptr<EncoderModel>> EncoderModel::load(const std::string& path, const EncoderOptions& options) {
  auto reader = open_model_file(path);
  if (!reader) return reader.error();
  return load(std::move(*reader), options);
}

Result<std::unique_ptr<EncoderModel>> EncoderModel::load(std::shared_ptr<const formats::SparqReader> reader,
                                                         const EncoderOptions& options) {
  const std::string path = reader->path();
  auto k = kernels_for_model(options.isa, path);
  if (!k) return k.error();
  auto impl = std::make_unique<Impl>(std::move(reader), *k);
  if (Status s = impl->bind(); !s) return s.error().within(path);
  auto int8 = wants_int8_attention(options, impl->layers);
  if (!int8) return int8.error();
  impl->int8_attention = *int8 && k->ops->attention_int8 != nullptr;
  return std::unique_ptr<EncoderModel>(new EncoderModel(std::move(impl)));
}

const BertConfig& EncoderModel::config() const { return impl_->config; }
const nlohmann::json& EncoderModel::metadata() const { return impl_->weights.reader().metadata(); }
const std::string& EncoderModel::path() const { return impl_->weights.reader().path(); }
std::vector<std::string> EncoderModel::labels() const { return impl_->labels; }
double EncoderModel::temperature() const { return impl_->temperature; }
size_t EncoderModel::embedding_dim() const { return impl_->config.hidden_size; }
uint64_t EncoderModel::weight_bytes() const { return impl_->weights.stored_bytes(); }
kernels::Isa EncoderModel::isa() const { return impl_->weights.kernels().isa; }
std::vector<std::string> EncoderModel::describe_kernels() const {
  std::vector<std::string> lines = impl_->weights.describe_kernels();
  lines.push_back(fmt::format("attention: {} ({})", impl_->int8_attention ? "int8 products" : "f32",
                              impl_->weights.kernels().ops->name));
  return lines;
}

Status EncoderModel::classify(const TokenBatch& batch, std::span<float> logits) {
  const BertConfig& c = impl_->config;
  if (!impl_->classifier) return Error("classify: this model has no classifier head (it is an embedder)");
  if (logits.size() != batch.batch * c.num_labels) {
    return Error(fmt::format("classify: {} logits for {} sequences of {} labels", logits.size(), batch.batch,
                             c.num_labels));
  }
  if (Status s = impl_->forward(batch); !s) return s;
  if (batch.batch == 0) return {};
  const float* features = impl_->pooler ? impl_->pooler_output() : impl_->first_tokens();
  impl_->classifier->run(features, batch.batch, logits.data());
  return {};
}

Status EncoderModel::embed(const TokenBatch& batch, std::span<float> embeddings) {
  if (embeddings.size() != batch.batch * impl_->config.hidden_size) {
    return Error(fmt::format("embed: {} floats for {} sequences of {}", embeddings.size(), batch.batch,
                             impl_->config.hidden_size));
  }
  if (Status s = impl_->forward(batch); !s) return s;
  return impl_->pool(embeddings);
}

Status EncoderModel::hidden_states(const TokenBatch& batch, std::span<float> hidden) {
  const size_t H = impl_->config.hidden_size, L = batch.seq_len;
  if (hidden.size() != batch.batch * L * H) {
    return Error(fmt::format("hidden_states: {} floats for {} sequences of {} x {}", hidden.size(), batch.batch,
                             L, H));
  }
  if (Status s = impl_->forward(batch); !s) return s;
  std::fill(hidden.begin(), hidden.end(), 0.0f);
  for (size_t b = 0; b < batch.batch; ++b) {
    const float* rows = impl_->s.x.data() + impl_->s.offsets[b] * H;
    std::copy(rows, rows + batch.lengths[b] * H, hidden.data() + b * L * H);
  }
  return {};
}

}  // namespace sparq::runtime
