// `sparq eval MODEL --perplexity TEXT_FILE`: a decoder's perplexity on a text, optionally
// next to a baseline's on the same tokens, with the floors and exit status 3 of `eval`.
#pragma once

#include <string>
#include <vector>

#include "formats/error.h"
#include "kernels/transformer_ops.h"

namespace sparq::tools {

struct PerplexityArgs {
  std::string model, baseline, text_file;
  size_t context = 0, stride = 0;
  kernels::KvEncoding kv_cache = kernels::KvEncoding::f32;  // the model's; the baseline keeps f32
  std::vector<std::string> floors;  // max_perplexity=P, relative_perplexity=R
  int threads = 0;
  bool quiet = false, json = false;
};

Status run_perplexity_eval(const PerplexityArgs& a);

}  // namespace sparq::tools
