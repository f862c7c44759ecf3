// config.json of a Hugging Face causal LM of the Llama family (LlamaForCausalLM,
// MistralForCausalLM, Qwen2ForCausalLM) -> LlamaConfig, with Hugging Face's defaults for absent
// fields. Refused by field: hidden_act other than silu, mlp_bias, RoPE scaling other than none
// / default / llama3, Mistral's sliding window below the context, Qwen2's use_sliding_window.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "formats/error.h"
#include "runtime/model/model_schema.h"

namespace sparq::runtime::hf {

// `variant`: "llama", "mistral" or "qwen2" (from the class); `file` names config.json in errors.
Result<LlamaConfig> llama_config_from_hf(const nlohmann::json& config, const std::string& file,
                                         const std::string& variant);

}  // namespace sparq::runtime::hf
