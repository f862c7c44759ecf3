// Import of llama2.c models (`sparq convert --from llama2c MODEL.bin --tokenizer
// tokenizer.bin`), as karpathy/llama2.c's export.py writes them:
//   legacy      7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size — negative
//               when the classifier is not the embedding — and seq_len), then every weight in
//               f32, grouped by kind across layers, the RoPE tables, the classifier if untied;
//   version 1   a 256-byte header (magic "ak42", version, the 7 int32, a shared-classifier
//               byte), then the norms and the weights in f32;
//   version 2   the same header plus the group size, the norms in f32, then every matrix as
//               int8 values and f32 group scales (Q8_0 over the flattened tensor), transcoded
//               exactly to q8 with that group size when the groups never straddle a row.
// Q and K rows are un-permuted from Meta's interleaved RoPE layout to Hugging Face's; w1, w3
// and w2 are the FFN's gate, up and down. The file fixes no RoPE base or norm epsilon: llama2.c
// runs with rope_theta 10000 and rms_norm_eps 1e-5, and so does the import (a note says so).
// tokenizer.bin (int32 max token length, then per token a f32 score, an int32 length and the
// bytes) becomes a SentencePiece BPE tokenizer.json; BOS is 1, EOS 2.
//
// The file size is checked against the header before anything is read, so a truncated file
// or a header claiming terabytes is refused naming the file and the field.
#pragma once

#include <string>

#include "formats/error.h"
#include "runtime/convert/hf_import.h"

namespace sparq::runtime {

Result<HfImportSummary> import_llama2c(const std::string& model_path, const std::string& tokenizer_path,
                                       const HfImportOptions& options, const std::string& out_path);

}  // namespace sparq::runtime
