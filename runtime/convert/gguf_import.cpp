#include "runtime/convert/gguf_import.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "formats/encoding_spec.h"
#include "formats/gguf.h"
#include "formats/gguf_transcode.h"
#include "runtime/convert/decoder_import.h"
#include "runtime/convert/gguf_tokenizer_import.h"
#include "runtime/convert/rope_permutation.h"

namespace sparq::runtime {
namespace {

using formats::GgufFile;
using formats::GgufTensor;

constexpr uint64_t kMaxDim = uint64_t{1} << 24;  // model_schema's bound on every dimension

// A required hyper-parameter `<arch>.<name>`, an integer in [lo, hi].
Result<uint64_t> hparam(const GgufFile& f, const std::string& key, uint64_t lo = 1, uint64_t hi = kMaxDim) {
  if (f.find(key) == nullptr) return Error(fmt::format("{}: {}: missing (a required hyper-parameter)", f.path(), key));
  auto v = f.get_unsigned(key);
  if (!v) return v.error();
  if (*v < lo || *v > hi) return Error(fmt::format("{}: {}: {} is outside [{}, {}]", f.path(), key, *v, lo, hi));
  return *v;
}

Result<uint64_t> optional_hparam(const GgufFile& f, const std::string& key, uint64_t fallback, uint64_t lo = 1,
                                 uint64_t hi = kMaxDim) {
  if (f.find(key) == nullptr) return fallback;
  return hparam(f, key, lo, hi);
}

Result<double> float_hparam(const GgufFile& f, const std::string& key, std::optional<double> fallback, double lo,
                            double hi) {
  if (f.find(key) == nullptr) {
    if (fallback) return *fallback;
    return Error(fmt::format("{}: {}: missing (a required hyper-parameter)", f.path(), key));
  }
  auto v = f.get_float(key);
  if (!v) return v.error();
  if (!(*v >= lo && *v <= hi)) return Error(fmt::format("{}: {}: {} is outside [{}, {}]", f.path(), key, *v, lo, hi));
  return *v;
}

// Features of the llama / qwen2 families that sparq's decoder does not run, refused by key.
Status refuse_unsupported(const GgufFile& f, const std::string& arch, uint64_t context) {
  auto refuse = [&](const std::string& key, const std::string& why) {
    return Error(fmt::format("{}: {}: {}", f.path(), key, why), ErrorKind::unsupported);
  };
  if (const std::string key = arch + ".expert_count"; f.find(key) != nullptr) {
    auto n = f.get_unsigned(key);
    if (!n) return n.error();
    if (*n > 0) return refuse(key, fmt::format("{} experts: mixture-of-experts models are not supported", *n));
  }
  if (const std::string key = arch + ".attention.sliding_window"; f.find(key) != nullptr) {
    auto w = f.get_unsigned(key);
    if (!w) return w.error();
    if (*w > 0 && *w < context) {
      return refuse(key, fmt::format("{} tokens below the context of {}: sliding-window attention is not supported yet",
                                     *w, context));
    }
  }
  if (const std::string key = arch + ".rope.scaling.type"; f.find(key) != nullptr) {
    auto t = f.get_string(key);
    if (!t) return t.error();
    if (*t != "none") return refuse(key, fmt::format("RoPE scaling '{}' is not supported", *t));
  }
  for (const std::string& key : {arch + ".rope.scaling.factor", arch + ".rope.scale_linear"}) {
    if (f.find(key) == nullptr) continue;
    auto v = f.get_float(key);
    if (!v) return v.error();
    if (*v != 0.0 && *v != 1.0) return refuse(key, fmt::format("RoPE scaling by {} is not supported", *v));
  }
  return {};
}

// Llama 3.1's RoPE scaling as llama.cpp stores it: rope_freqs.weight, the divisor of each
// rotation pair's frequency, with no parameters beside it. The divisors fix `factor` (the
// largest) and, for pairs in the blend, original_context / (high - low) and low / (high - low)
// only; with Meta's low_freq_factor 1 and high_freq_factor 4 they fix the original context too.
// The parameters are accepted only if Hugging Face's formula gives back every divisor.
Status read_rope_freqs(const GgufFile& f, const std::string& arch, LlamaConfig& c, std::vector<std::string>* notes) {
  const GgufTensor* t = f.find_tensor("rope_freqs.weight");
  if (t == nullptr) return {};
  const uint64_t pairs = c.resolved_head_dim() / 2;
  const std::string where = fmt::format("{}: tensor 'rope_freqs.weight'", f.path());
  if (t->shape != std::vector<uint64_t>{pairs}) {
    return Error(fmt::format("{}: shape [{}], expected [{}] (head_dim / 2)", where, fmt::join(t->shape, ", "), pairs));
  }
  auto divisors = f.dequantize(*t);
  if (!divisors) return divisors.error();
  const float factor = *std::max_element(divisors->begin(), divisors->end());
  if (factor == 1.0f && *std::min_element(divisors->begin(), divisors->end()) == 1.0f) return {};
  constexpr double kLow = 1.0, kHigh = 4.0, kPi = 3.14159265358979323846;
  auto wavelength = [&](uint64_t i) { return 2 * kPi * std::pow(c.rope_theta, double(2 * i) / double(2 * pairs)); };
  double original = 0;
  if (const std::string key = arch + ".rope.scaling.original_context_length"; f.find(key) != nullptr) {
    auto v = hparam(f, key);
    if (!v) return v.error();
    original = double(*v);
  } else {
    std::vector<double> estimates;
    for (uint64_t i = 0; i < pairs; ++i) {
      const double d = (*divisors)[i];
      if (!(d > 1.0 + 1e-6 && d < factor * (1.0 - 1e-6))) continue;
      const double smooth = (1.0 / d - 1.0 / factor) / (1.0 - 1.0 / factor);
      estimates.push_back(wavelength(i) * (smooth * (kHigh - kLow) + kLow));
    }
    original = estimates.empty() ? 8192.0 : std::round(estimates[estimates.size() / 2]);
  }
  for (uint64_t i = 0; i < pairs; ++i) {
    const double w = wavelength(i);
    double expect = 1.0;
    if (w > original / kLow) {
      expect = factor;
    } else if (w >= original / kHigh) {
      const double smooth = (original / w - kLow) / (kHigh - kLow);
      expect = 1.0 / ((1 - smooth) / factor + smooth);
    }
    if (std::abs(double((*divisors)[i]) - expect) > 1e-5 * expect) {
      return Error(fmt::format("{}: divisor {} of pair {} does not follow Llama 3's RoPE scaling (factor {}, "
                               "low_freq_factor 1, high_freq_factor 4, original context {} give {})",
                               where, (*divisors)[i], i, factor, original, expect),
                   ErrorKind::unsupported);
    }
  }
  c.rope_scaling = RopeScaling::llama3;
  c.rope_factor = factor;
  c.rope_low_freq_factor = kLow;
  c.rope_high_freq_factor = kHigh;
  c.rope_original_max_positions = uint64_t(original);
  notes->push_back(fmt::format("RoPE scaling llama3 recovered from rope_freqs.weight: factor {}, original context {}, "
                               "with Meta's low_freq_factor 1 and high_freq_factor 4, which give back all {} divisors",
                               factor, uint64_t(original), pairs));
  return {};
}

Result<LlamaConfig> read_config(const GgufFile& f, const std::string& arch) {
  const std::string a = arch + ".";
  LlamaConfig c;
  c.variant = arch;
  auto layers = hparam(f, a + "block_count", 1, 65536);
  if (!layers) return layers.error();
  // Every layer needs nine tensors; a count the file cannot hold is refused before anything
  // is sized by it.
  if (*layers * 9 > f.tensors().size()) {
    return Error(fmt::format("{}: {}block_count: {} layers, but the file holds only {} tensors", f.path(), a, *layers,
                             f.tensors().size()));
  }
  c.num_layers = *layers;
  auto context = hparam(f, a + "context_length");
  if (!context) return context.error();
  c.max_positions = *context;
  for (auto [key, out] : {std::pair{"embedding_length", &c.hidden_size}, {"feed_forward_length", &c.intermediate_size},
                          {"attention.head_count", &c.num_heads}}) {
    auto v = hparam(f, a + key);
    if (!v) return v.error();
    *out = *v;
  }
  auto kv = optional_hparam(f, a + "attention.head_count_kv", c.num_heads);
  if (!kv) return kv.error();
  c.num_kv_heads = *kv;
  if (c.num_heads % c.num_kv_heads != 0) {
    return Error(fmt::format("{}: {}attention.head_count_kv: {} does not divide attention.head_count {}", f.path(), a,
                             c.num_kv_heads, c.num_heads));
  }
  if (c.hidden_size % c.num_heads != 0 && f.find(a + "attention.key_length") == nullptr) {
    return Error(fmt::format("{}: {}embedding_length: {} is not a multiple of attention.head_count {} (and no "
                             "attention.key_length)",
                             f.path(), a, c.hidden_size, c.num_heads));
  }
  auto head_dim = optional_hparam(f, a + "attention.key_length", c.hidden_size / c.num_heads, 2, 1024);
  if (!head_dim) return head_dim.error();
  c.head_dim = *head_dim;
  for (const char* key : {"attention.value_length", "rope.dimension_count"}) {
    auto v = optional_hparam(f, a + key, c.head_dim);
    if (!v) return v.error();
    if (*v != c.head_dim) {
      return Error(fmt::format("{}: {}{}: {} differs from the head size {} (partial or asymmetric heads are not "
                               "supported)",
                               f.path(), a, key, *v, c.head_dim),
                   ErrorKind::unsupported);
    }
  }
  auto eps = float_hparam(f, a + "attention.layer_norm_rms_epsilon", std::nullopt, 0, 1);
  if (!eps) return eps.error();
  c.rms_norm_eps = *eps;
  auto theta = float_hparam(f, a + "rope.freq_base", 10000.0, 1, 1e9);
  if (!theta) return theta.error();
  c.rope_theta = *theta;
  if (Status s = refuse_unsupported(f, arch, c.max_positions); !s) return s.error();
  return c;
}

// The GGUF tensors stacked by rows into one canonical tensor; rows of a part with `heads` > 0
// are un-permuted from interleaved to half-split RoPE order.
struct Part {
  const GgufTensor* tensor = nullptr;
  uint64_t heads = 0;
};

struct Planned {
  TensorSpec spec;
  std::vector<Part> parts;
};

// A GGUF tensor feeding a canonical one: its rows (0: all of the canonical tensor's) and the
// heads whose rows are un-permuted (0: none).
struct GgufSource {
  std::string name;
  uint64_t rows = 0, heads = 0;
};

std::map<std::string, std::vector<GgufSource>> gguf_names(const LlamaConfig& c, bool permuted) {
  std::map<std::string, std::vector<GgufSource>> n;
  const uint64_t d = c.resolved_head_dim(), q = c.num_heads * d, kv = c.num_kv_heads * d;
  const uint64_t qh = permuted ? c.num_heads : 0, kh = permuted ? c.num_kv_heads : 0;
  n["embeddings.word.weight"] = {{"token_embd.weight"}};
  for (uint64_t i = 0; i < c.num_layers; ++i) {
    const std::string l = fmt::format("layers.{}.", i), b = fmt::format("blk.{}.", i);
    n[l + "attention.norm.weight"] = {{b + "attn_norm.weight"}};
    for (std::string s : {"weight", "bias"}) {
      n[l + "attention.qkv." + s] = {{b + "attn_q." + s, q, qh}, {b + "attn_k." + s, kv, kh}, {b + "attn_v." + s, kv}};
    }
    n[l + "attention.output.weight"] = {{b + "attn_output.weight"}};
    n[l + "ffn.norm.weight"] = {{b + "ffn_norm.weight"}};
    n[l + "ffn.gate.weight"] = {{b + "ffn_gate.weight"}};
    n[l + "ffn.up.weight"] = {{b + "ffn_up.weight"}};
    n[l + "ffn.down.weight"] = {{b + "ffn_down.weight"}};
  }
  n["norm.weight"] = {{"output_norm.weight"}};
  n["lm_head.weight"] = {{"output.weight"}};
  return n;
}

Result<std::vector<Planned>> plan_tensors(const GgufFile& f, const LlamaConfig& c, bool permuted,
                                          std::set<std::string>* used) {
  const auto names = gguf_names(c, permuted);
  std::vector<Planned> plan;
  for (const TensorSpec& spec : llama_tensors(c)) {
    const auto& sources = names.at(spec.name);
    Planned p{spec, {}};
    uint64_t rows = 0;
    for (const GgufSource& src : sources) {
      const std::string& name = src.name;
      const GgufTensor* t = f.find_tensor(name);
      if (t == nullptr) {
        return Error(fmt::format("{}: tensor '{}' is missing (needed for '{}')", f.path(), name, spec.name));
      }
      if (!t->decodable()) {
        return Error(fmt::format("{}: tensor '{}': type {} is not supported (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, "
                                 "Q6_K are)",
                                 f.path(), name, t->type_label()),
                     ErrorKind::unsupported);
      }
      const uint64_t part_rows = src.rows != 0 ? src.rows : spec.dims[0];
      std::vector<uint64_t> expect = spec.dims;
      expect[0] = part_rows;
      if (t->shape != expect) {
        return Error(fmt::format("{}: tensor '{}': shape [{}], but the hyper-parameters imply [{}] (for '{}')", f.path(),
                                 name, fmt::join(t->shape, ", "), fmt::join(expect, ", "), spec.name));
      }
      rows += part_rows;
      used->insert(name);
      p.parts.push_back({t, src.heads});
    }
    if (rows != spec.dims[0]) {
      return Error(fmt::format("{}: '{}': {} rows from {} tensors, {} expected", f.path(), spec.name, rows,
                               sources.size(), spec.dims[0]));
    }
    plan.push_back(std::move(p));
  }
  return plan;
}

// A part's bytes (raw blocks or f32 values), rows un-permuted when it has heads.
std::vector<uint8_t> part_bytes(std::span<const uint8_t> bytes, uint64_t rows, uint64_t heads, uint64_t head_dim) {
  if (heads == 0) return {bytes.begin(), bytes.end()};
  return gather_rows(bytes, bytes.size() / rows, half_split_rows_from_interleaved(heads, head_dim));
}

// The exact sparq encoding the planned tensor keeps, if any: its parts share a type that has
// one, the options leave its role's encoding to the source, and the role takes it.
std::optional<formats::EncodeOptions> exact_encoding(const Planned& p, const HfImportOptions& o) {
  if (p.spec.role == TensorRole::norm || p.spec.role == TensorRole::bias) return std::nullopt;
  if (p.spec.role == TensorRole::linear && o.weights_given) return std::nullopt;
  if (p.spec.role == TensorRole::embedding && o.embeddings_given) return std::nullopt;
  const uint32_t type = p.parts[0].tensor->type;
  for (const Part& part : p.parts) {
    if (part.tensor->type != type) return std::nullopt;
  }
  auto e = formats::exact_sparq_encoding(type);
  if (e && p.spec.role == TensorRole::embedding && !check_embedding_encoding(*e)) return std::nullopt;
  return e;
}

SourceTensor source_tensor(const GgufFile& f, const Planned& p, const LlamaConfig& c, const HfImportOptions& o,
                           std::map<std::string, size_t>* exact, std::vector<std::string>* dequantized) {
  SourceTensor t;
  t.name = p.spec.name;
  t.dims = p.spec.dims;
  t.linear = p.spec.role == TensorRole::linear;
  t.encoding = encoding_for_role(p.spec.role, o);
  std::vector<std::string> names;
  for (const Part& part : p.parts) names.push_back(part.tensor->name);
  t.origin = fmt::format("{}: tensor '{}' (from {})", f.path(), p.spec.name, fmt::join(names, ", "));
  const uint64_t head_dim = c.resolved_head_dim();
  t.read = [&f, parts = p.parts, head_dim]() -> Result<std::vector<float>> {
    std::vector<float> values;
    for (const Part& part : parts) {
      auto v = f.dequantize(*part.tensor);
      if (!v) return v.error();
      const auto bytes = std::as_bytes(std::span(*v));
      const std::vector<uint8_t> rows = part_bytes({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()},
                                                   part.tensor->shape[0], part.heads, head_dim);
      const size_t at = values.size();
      values.resize(at + v->size());
      std::memcpy(values.data() + at, rows.data(), rows.size());
    }
    return values;
  };
  const std::string type = p.parts[0].tensor->type_label();
  if (auto e = exact_encoding(p, o)) {
    (*exact)[fmt::format("{} -> {}", type, formats::encode_options_string(*e))] += 1;
    // A recipe that prunes the tensor without naming an encoding keeps the source's
    // quantization (a pruned Q8_0 stays q8:g32, then bitmap rows), not f32.
    t.encoding = *e;
    t.encoded = [parts = p.parts, name = p.spec.name, dims = p.spec.dims, head_dim]() -> Result<formats::EncodedTensor> {
      std::vector<uint8_t> bytes;
      for (const Part& part : parts) {
        const std::vector<uint8_t> b = part_bytes(part.tensor->bytes, part.tensor->shape[0], part.heads, head_dim);
        bytes.insert(bytes.end(), b.begin(), b.end());
      }
      return formats::transcode_ggml_exact(name, dims, parts[0].tensor->type, bytes);
    };
  } else if (p.spec.role == TensorRole::linear || p.spec.role == TensorRole::embedding) {
    bool given = p.spec.role == TensorRole::linear ? o.weights_given : o.embeddings_given;
    if (!given) dequantized->push_back(fmt::format("{} ({})", p.spec.name, fmt::join(names, ", ")));
  }
  return t;
}

}  // namespace

Result<HfImportSummary> import_gguf(const std::string& path, const HfImportOptions& options,
                                    const std::string& out_path) {
  auto opened = GgufFile::open(path);
  if (!opened) return opened.error();
  const GgufFile& f = **opened;
  auto arch_name = f.get_string("general.architecture");
  if (!arch_name) return arch_name.error();
  const std::string arch(*arch_name);
  if (arch != "llama" && arch != "qwen2") {
    return Error(fmt::format("{}: general.architecture: '{}' is not supported (llama, qwen2 are)", path, arch),
                 ErrorKind::unsupported);
  }
  auto config = read_config(f, arch);
  if (!config) return config.error();
  LlamaConfig& c = *config;
  const GgufTensor* embd = f.find_tensor("token_embd.weight");
  if (embd == nullptr) return Error(fmt::format("{}: tensor 'token_embd.weight' is missing", path));
  if (embd->shape.size() != 2 || embd->shape[1] != c.hidden_size || embd->shape[0] > kMaxDim) {
    return Error(fmt::format("{}: tensor 'token_embd.weight': shape [{}], expected [vocab, {}] ({}embedding_length)", path,
                             fmt::join(embd->shape, ", "), c.hidden_size, arch + "."));
  }
  c.vocab_size = embd->shape[0];
  auto vocab_key = optional_hparam(f, arch + ".vocab_size", c.vocab_size);
  if (!vocab_key) return vocab_key.error();
  if (*vocab_key != c.vocab_size) {
    return Error(fmt::format("{}: {}.vocab_size: {} disagrees with the {} rows of token_embd.weight", path, arch,
                             *vocab_key, c.vocab_size));
  }
  c.tie_embeddings = f.find_tensor("output.weight") == nullptr;
  c.attention_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  if (arch == "qwen2" && !c.attention_bias) {
    return Error(fmt::format("{}: tensor 'blk.0.attn_q.bias' is missing (qwen2 has q/k/v biases)", path));
  }

  auto tokenizer = import_gguf_tokenizer(f);
  if (!tokenizer) return tokenizer.error();
  if (tokenizer->tokens != c.vocab_size) {
    return Error(fmt::format("{}: tokenizer.ggml.tokens: {} tokens, but token_embd.weight has {} rows", path,
                             tokenizer->tokens, c.vocab_size));
  }

  std::vector<std::string> rope_notes;
  if (Status s = read_rope_freqs(f, arch, c, &rope_notes); !s) return s.error();
  // llama.cpp's convert script permutes Q and K rows for llama only.
  const bool permuted = arch == "llama";
  std::set<std::string> used = {"rope_freqs.weight"};
  auto plan = plan_tensors(f, c, permuted, &used);
  if (!plan) return plan.error();

  ImportedDecoder m;
  m.origin = path;
  m.source_format = "gguf";
  m.description = fmt::format("GGUF {}", arch);
  m.config = c;
  m.tokenizer = std::move(tokenizer->tokenizer);
  m.tokenizer_origin = fmt::format("{}: tokenizer.ggml.*", path);
  m.generation = tokenizer->generation;
  m.files = {path};
  std::map<std::string, size_t> exact;
  std::vector<std::string> dequantized;
  for (const Planned& p : *plan) m.tensors.push_back(source_tensor(f, p, c, options, &exact, &dequantized));
  std::map<std::string, size_t> types;
  for (const GgufTensor& t : f.tensors()) types[t.type_label()] += 1;
  m.conversion = {{"gguf_version", f.version()}, {"architecture", arch}, {"tokenizer", tokenizer->kind},
                  {"rope_unpermuted", permuted}, {"tensor_types", types}, {"exact_transcodes", exact}};
  for (const auto& [what, n] : exact) m.notes.push_back(fmt::format("{} tensor(s) transcoded exactly: {}", n, what));
  if (!dequantized.empty()) {
    m.notes.push_back(fmt::format("{} tensor(s) without an exact sparq encoding for their role (Q5_K, mixed types in "
                                  "one fused tensor, a 4-bit embedding) dequantized exactly to f32: {}",
                                  dequantized.size(), fmt::join(dequantized, "; ")));
  }
  std::vector<std::string> unused;
  for (const GgufTensor& t : f.tensors()) {
    if (!used.count(t.name)) unused.push_back(t.name);
  }
  if (!unused.empty()) m.notes.push_back(fmt::format("{} GGUF tensor(s) not used: {}", unused.size(), fmt::join(unused, ", ")));
  m.notes.push_back(fmt::format("tokenizer: {} from tokenizer.ggml.*", tokenizer->kind));
  m.notes.insert(m.notes.end(), rope_notes.begin(), rope_notes.end());
  return write_decoder_sparq(std::move(m), options, out_path);
}

}  // namespace sparq::runtime
