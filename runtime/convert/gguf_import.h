// Import of llama.cpp GGUF decoders (`sparq convert --from gguf FILE.gguf`): architectures
// "llama" (Llama 2/3, TinyLlama, SmolLM, Mistral as llama.cpp writes it) and "qwen2". The
// hyper-parameters come from the `<arch>.*` keys (a missing or inconsistent one is an error
// naming it), the tensors (token_embd, blk.N.attn_q/k/v/output, ffn_gate/up/down, the norms,
// output) map onto model_schema.h's canonical names, Q and K of llama GGUFs are un-permuted
// from llama.cpp's interleaved RoPE rows back to Hugging Face's half-split order (qwen2 GGUFs
// are written unpermuted: llama.cpp runs them with NeoX-style RoPE), and the embedded
// tokenizer becomes a tokenizer.json object (gguf_tokenizer_import.h). Llama 3.1's RoPE scaling,
// which llama.cpp stores only as the per-pair divisors of rope_freqs.weight, is recovered as
// llama3 scaling parameters when Meta's low/high frequency factors (1, 4) give back every
// divisor; other RoPE scaling (linear, YaRN), sliding windows and experts are refused by key.
//
// Tensor data: F32, F16, BF16, Q8_0, Q4_0, Q4_K and Q6_K are transcoded exactly
// (formats/gguf_transcode.h) unless --weights / --embeddings / a recipe ask for another
// encoding, when the values are dequantized and encoded as asked; Q5_K is dequantized
// exactly to f32; every other type is refused naming the tensor and the type.
#pragma once

#include <string>

#include "formats/error.h"
#include "runtime/convert/hf_import.h"

namespace sparq::runtime {

Result<HfImportSummary> import_gguf(const std::string& path, const HfImportOptions& options,
                                    const std::string& out_path);

}  // namespace sparq::runtime
