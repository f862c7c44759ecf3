#include "runtime/convert/hf_llama_config.h"

#include <tuple>

#include <fmt/core.h>

#include "runtime/convert/hf_files.h"

namespace sparq::runtime::hf {
namespace {

using nlohmann::json;

Result<double> config_number(const json& c, const std::string& file, const char* key, double fallback, double lo,
                             double hi) {
  if (!c.contains(key) || c[key].is_null()) return fallback;
  if (!c[key].is_number() || !(c[key].get<double>() >= lo && c[key].get<double>() <= hi)) {
    return Error(fmt::format("{}: {}: expected a number in [{}, {}], got {}", file, key, lo, hi, c[key].dump()));
  }
  return c[key].get<double>();
}

// rope_scaling: null, {"rope_type"/"type": "default"} or Llama 3.1's {"rope_type": "llama3",
// factor, low_freq_factor, high_freq_factor, original_max_position_embeddings}.
Status read_rope_scaling(const json& c, const std::string& file, LlamaConfig& l) {
  if (!c.contains("rope_scaling") || c["rope_scaling"].is_null()) return {};
  const json& s = c["rope_scaling"];
  if (!s.is_object()) return Error(fmt::format("{}: rope_scaling: expected an object or null", file));
  auto type = config_string(s, file + ": rope_scaling", "rope_type", "");
  if (!type) return type.error();
  if (type->empty()) {
    auto legacy = config_string(s, file + ": rope_scaling", "type", "default");
    if (!legacy) return legacy.error();
    type = *legacy;
  }
  if (*type == "default") return {};
  if (*type != "llama3") {
    return unsupported(file, "rope_scaling.rope_type",
                       fmt::format("'{}' is not supported (default and llama3 are)", *type));
  }
  const std::string where = file + ": rope_scaling";
  l.rope_scaling = RopeScaling::llama3;
  for (auto [key, out, fallback] : {std::tuple{"factor", &l.rope_factor, 8.0},
                                    {"low_freq_factor", &l.rope_low_freq_factor, 1.0},
                                    {"high_freq_factor", &l.rope_high_freq_factor, 4.0}}) {
    auto v = config_number(s, where, key, fallback, 1e-3, 1e6);
    if (!v) return v.error();
    *out = *v;
  }
  auto original = config_uint(s, where, "original_max_position_embeddings", 8192);
  if (!original) return original.error();
  l.rope_original_max_positions = *original;
  return {};
}

}  // namespace

Result<LlamaConfig> llama_config_from_hf(const json& c, const std::string& file, const std::string& variant) {
  LlamaConfig l;
  l.variant = variant;
  const bool qwen2 = variant == "qwen2", mistral = variant == "mistral";
  for (auto [key, fallback, out] :
       {std::tuple{"vocab_size", uint64_t{qwen2 ? 151936u : 32000u}, &l.vocab_size},
        {"hidden_size", uint64_t{4096}, &l.hidden_size},
        {"num_hidden_layers", uint64_t{32}, &l.num_layers},
        {"num_attention_heads", uint64_t{32}, &l.num_heads},
        {"intermediate_size", uint64_t{qwen2 ? 22016u : mistral ? 14336u : 11008u}, &l.intermediate_size},
        {"max_position_embeddings", uint64_t{mistral ? 131072u : qwen2 ? 32768u : 2048u}, &l.max_positions}}) {
    auto v = config_uint(c, file, key, fallback);
    if (!v) return v.error();
    *out = *v;
  }
  auto kv = config_uint(c, file, "num_key_value_heads", l.num_heads);
  if (!kv) return kv.error();
  l.num_kv_heads = *kv;
  auto head_dim = config_uint(c, file, "head_dim", 0, 0, 1024);
  if (!head_dim) return head_dim.error();
  l.head_dim = *head_dim;
  auto eps = config_number(c, file, "rms_norm_eps", 1e-6, 0, 1);
  if (!eps) return eps.error();
  l.rms_norm_eps = *eps;
  auto theta = config_number(c, file, "rope_theta", 10000.0, 1, 1e9);
  if (!theta) return theta.error();
  l.rope_theta = *theta;
  auto act = config_string(c, file, "hidden_act", "silu");
  if (!act) return act.error();
  if (*act != "silu") return unsupported(file, "hidden_act", fmt::format("'{}' is not supported (silu is)", *act));
  if (config_true(c, "mlp_bias")) return unsupported(file, "mlp_bias", "biases on the MLP are not supported");
  // Qwen2 always has q/k/v biases (and no attention_bias field); Llama may declare them.
  l.attention_bias = qwen2 || config_true(c, "attention_bias");
  l.tie_embeddings = config_true(c, "tie_word_embeddings");
  if (!c.contains("tie_word_embeddings") && qwen2) l.tie_embeddings = false;
  if (c.contains("sliding_window") && !c["sliding_window"].is_null()) {
    // Qwen2 declares a window but uses it only with use_sliding_window.
    const bool used = !qwen2 || config_true(c, "use_sliding_window");
    auto window = config_uint(c, file, "sliding_window", 0, 0, UINT64_MAX);
    if (!window) return window.error();
    if (used && *window > 0 && *window < l.max_positions) {
      return unsupported(file, "sliding_window",
                         fmt::format("{} tokens below max_position_embeddings {}: sliding-window attention is not "
                                     "supported yet",
                                     *window, l.max_positions));
    }
  }
  if (Status s = read_rope_scaling(c, file, l); !s) return s.error();
  if (auto checked = llama_config_from_json(to_json(l)); !checked) return checked.error().within(file);
  return l;
}

}  // namespace sparq::runtime::hf
