// --kv-cache f32|f16|q8, the same on every command that makes a decoder's KV cache
// (`generate`, `bench`, `eval --perplexity`): how the cache stores keys and values.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "kernels/transformer_ops.h"

namespace sparq::tools {

// `applies_to` starts the help text where the option does not apply to every run, e.g.
// "Decoders: ".
CLI::Option* add_kv_cache_option(CLI::App* app, kernels::KvEncoding* encoding, const std::string& applies_to = "");

}  // namespace sparq::tools
