#include "runtime/convert/llama2c_import.h"

#include <cstring>
#include <memory>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "formats/encoding_spec.h"
#include "formats/mapped_file.h"
#include "runtime/convert/decoder_import.h"
#include "runtime/convert/rope_permutation.h"
#include "runtime/convert/sentencepiece_tokenizer_json.h"

namespace sparq::runtime {
namespace {

constexpr uint32_t kMagic = 0x616b3432;  // "ak42" as a little-endian uint32
constexpr uint64_t kVersionedHeader = 256;
constexpr int64_t kMaxDim = int64_t{1} << 24, kMaxLayers = 65536;

int32_t i32_at(std::span<const uint8_t> b, uint64_t at) {
  int32_t v;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}

struct Header {
  int version = 0;  // 0: legacy
  int64_t dim = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, vocab = 0, seq_len = 0;
  bool shared_classifier = true;
  uint64_t group_size = 0;  // version 2
  uint64_t bytes = 0;       // where the weights start
};

Result<Header> read_header(std::span<const uint8_t> b, const std::string& path) {
  Header h;
  uint64_t fields = 0;
  if (b.size() >= 4 && uint32_t(i32_at(b, 0)) == kMagic) {
    if (b.size() < kVersionedHeader) {
      return Error(fmt::format("{}: {} bytes: truncated inside the {}-byte header", path, b.size(), kVersionedHeader));
    }
    h.version = i32_at(b, 4);
    if (h.version != 1 && h.version != 2) {
      return Error(fmt::format("{}: version: {} is not supported (llama2.c versions 1 and 2 are)", path, h.version),
                   ErrorKind::unsupported);
    }
    fields = 8;
    h.shared_classifier = b[36] != 0;
    h.bytes = kVersionedHeader;
  } else {
    if (b.size() < 28) return Error(fmt::format("{}: {} bytes: truncated inside the 28-byte header", path, b.size()));
    h.bytes = 28;
  }
  int64_t* out[] = {&h.dim, &h.hidden, &h.layers, &h.heads, &h.kv_heads, &h.vocab, &h.seq_len};
  const char* names[] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
  for (int i = 0; i < 7; ++i) *out[i] = i32_at(b, fields + 4 * uint64_t(i));
  if (h.version == 0) {
    // Legacy files say "untied classifier" by a negative vocabulary size.
    h.shared_classifier = h.vocab > 0;
    h.vocab = h.vocab < 0 ? -h.vocab : h.vocab;
  }
  for (int i = 0; i < 7; ++i) {
    const int64_t hi = i == 2 ? kMaxLayers : kMaxDim;
    if (*out[i] < 1 || *out[i] > hi) {
      return Error(fmt::format("{}: header field {}: {} is outside [1, {}]", path, names[i], *out[i], hi));
    }
  }
  if (h.dim % h.heads != 0 || (h.dim / h.heads) % 2 != 0) {
    return Error(fmt::format("{}: header: dim {} is not n_heads {} times an even head size", path, h.dim, h.heads));
  }
  if (h.heads % h.kv_heads != 0) {
    return Error(fmt::format("{}: header: n_kv_heads {} does not divide n_heads {}", path, h.kv_heads, h.heads));
  }
  if (h.version == 2) {
    const int32_t gs = i32_at(b, 37);
    if (gs < 1 || gs > kMaxDim) return Error(fmt::format("{}: header field group_size: {} is not a group size", path, gs));
    h.group_size = uint64_t(gs);
  }
  return h;
}

// Where one stored tensor lies: its f32 values, or (version 2) its int8 values and f32 scales.
struct Stored {
  uint64_t offset = 0, scales_offset = 0, rows = 0, cols = 0;
  bool q8 = false;
};

// Every tensor's place in file order (see the top of llama2c_import.h), and where the file ends.
struct FileLayout {
  Stored tok, final_norm, classifier;
  std::vector<Stored> att_norm, ffn_norm, wq, wk, wv, wo, w1, w2, w3;
  unsigned __int128 end = 0;  // wide: a hostile header must not wrap the size around
};

FileLayout layout_of(const Header& h) {
  FileLayout l;
  unsigned __int128 at = h.bytes;
  const uint64_t d = uint64_t(h.dim), f = uint64_t(h.hidden), kv = uint64_t(h.kv_heads) * (d / uint64_t(h.heads));
  const uint64_t v = uint64_t(h.vocab), hs = d / uint64_t(h.heads);
  auto put = [&](Stored& s, uint64_t rows, uint64_t cols, bool q8) {
    s = {uint64_t(at), 0, rows, cols, q8};
    const unsigned __int128 n = (unsigned __int128)rows * cols;
    if (!q8) {
      at += 4 * n;
      return;
    }
    at += n;
    s.scales_offset = uint64_t(at);
    at += 4 * (n / h.group_size);
  };
  auto per_layer = [&](std::vector<Stored>& list, uint64_t rows, uint64_t cols, bool q8) {
    list.resize(uint64_t(h.layers));
    for (Stored& s : list) put(s, rows, cols, q8);
  };
  if (h.version == 0) {
    put(l.tok, v, d, false);
    per_layer(l.att_norm, 1, d, false);
    per_layer(l.wq, d, d, false);
    per_layer(l.wk, kv, d, false);
    per_layer(l.wv, kv, d, false);
    per_layer(l.wo, d, d, false);
    per_layer(l.ffn_norm, 1, d, false);
    per_layer(l.w1, f, d, false);
    per_layer(l.w2, d, f, false);
    per_layer(l.w3, f, d, false);
    put(l.final_norm, 1, d, false);
    at += 2 * 4 * (unsigned __int128)uint64_t(h.seq_len) * (hs / 2);  // the RoPE cos/sin tables, unused
    if (!h.shared_classifier) put(l.classifier, v, d, false);
  } else {
    const bool q8 = h.version == 2;
    per_layer(l.att_norm, 1, d, false);
    per_layer(l.ffn_norm, 1, d, false);
    put(l.final_norm, 1, d, false);
    put(l.tok, v, d, q8);
    per_layer(l.wq, d, d, q8);
    per_layer(l.wk, kv, d, q8);
    per_layer(l.wv, kv, d, q8);
    per_layer(l.wo, d, d, q8);
    per_layer(l.w1, f, d, q8);
    per_layer(l.w2, d, f, q8);
    per_layer(l.w3, f, d, q8);
    if (!h.shared_classifier) put(l.classifier, v, d, q8);
  }
  l.end = at;
  return l;
}

// A canonical tensor's parts in the file; `heads` > 0: rows un-permuted for RoPE.
struct Part {
  Stored stored;
  uint64_t heads = 0;
};

std::vector<uint8_t> rows_of(std::span<const uint8_t> bytes, uint64_t rows, uint64_t heads, uint64_t head_dim) {
  if (heads == 0) return {bytes.begin(), bytes.end()};
  return gather_rows(bytes, bytes.size() / rows, half_split_rows_from_interleaved(heads, head_dim));
}

SourceTensor source_tensor(const TensorSpec& spec, std::vector<Part> parts, std::span<const uint8_t> file,
                           const Header& h, const HfImportOptions& o, const std::string& path, bool* exact) {
  SourceTensor t;
  t.name = spec.name;
  t.dims = spec.dims;
  t.linear = spec.role == TensorRole::linear;
  t.encoding = encoding_for_role(spec.role, o);
  t.origin = fmt::format("{}: tensor '{}'", path, spec.name);
  const uint64_t head_dim = uint64_t(h.dim / h.heads), gs = h.group_size;
  t.read = [parts, file, head_dim, gs]() -> Result<std::vector<float>> {
    std::vector<float> values;
    for (const Part& p : parts) {
      const uint64_t n = p.stored.rows * p.stored.cols;
      std::vector<float> v(n);
      if (p.stored.q8) {
        // As llama2.c's dequantize: q[i] * s[i / GS].
        for (uint64_t i = 0; i < n; ++i) {
          float s;
          std::memcpy(&s, file.data() + p.stored.scales_offset + 4 * (i / gs), 4);
          v[i] = float(int8_t(file[p.stored.offset + i])) * s;
        }
      } else {
        std::memcpy(v.data(), file.data() + p.stored.offset, 4 * n);
      }
      const std::vector<uint8_t> rows =
          rows_of({reinterpret_cast<const uint8_t*>(v.data()), 4 * n}, p.stored.rows, p.heads, head_dim);
      const size_t at = values.size();
      values.resize(at + n);
      std::memcpy(values.data() + at, rows.data(), rows.size());
    }
    return values;
  };
  // Version 2 groups that never straddle a row are sparq's q8 with that group size, exactly.
  const bool role_keeps = (spec.role == TensorRole::linear && !o.weights_given) ||
                          (spec.role == TensorRole::embedding && !o.embeddings_given);
  *exact = role_keeps && parts[0].stored.q8 && spec.dims.back() % gs == 0;
  if (*exact) {
    formats::EncodeOptions q8;
    q8.encoding = formats::Encoding::q8;
    q8.group_size = uint32_t(gs);
    // Also what a recipe that prunes the tensor without naming an encoding re-encodes it in.
    t.encoding = q8;
    t.encoded = [parts, file, head_dim, gs, q8, name = spec.name, dims = spec.dims]() -> Result<formats::EncodedTensor> {
      formats::EncodedTensor out;
      out.desc = formats::describe_encoding(name, dims, q8);
      auto layout = formats::compute_layout(out.desc);
      if (!layout) return layout.error();
      out.payload.assign(layout->total_size, 0);
      uint64_t value_at = layout->values.offset, scale_at = layout->scales.offset;
      for (const Part& p : parts) {
        const uint64_t n = p.stored.rows * p.stored.cols;
        const std::vector<uint8_t> q = rows_of(file.subspan(p.stored.offset, n), p.stored.rows, p.heads, head_dim);
        const std::vector<uint8_t> s =
            rows_of(file.subspan(p.stored.scales_offset, 4 * (n / gs)), p.stored.rows, p.heads, head_dim);
        std::memcpy(out.payload.data() + value_at, q.data(), q.size());
        std::memcpy(out.payload.data() + scale_at, s.data(), s.size());
        value_at += q.size();
        scale_at += s.size();
      }
      return out;
    };
  }
  return t;
}

// tokenizer.bin: int32 max_token_length, then per token f32 score, int32 length, bytes.
// llama2.c's exporter spells "▁" as a space and BOS / EOS as "\n<s>\n" / "\n</s>\n"; both
// are turned back into SentencePiece's pieces.
Result<std::vector<SentencePiece>> read_tokenizer_bin(const std::string& path, uint64_t vocab) {
  auto mapped = formats::MappedFile::open(path);
  if (!mapped) return mapped.error();
  const std::span<const uint8_t> b = (*mapped)->bytes();
  if (b.size() < 4) return Error(fmt::format("{}: truncated: no max_token_length", path));
  std::vector<SentencePiece> pieces;
  pieces.reserve(vocab);
  uint64_t at = 4;
  for (uint64_t i = 0; i < vocab; ++i) {
    if (b.size() - at < 8) {
      return Error(fmt::format("{}: truncated at token {} of the model's {} (byte {})", path, i, vocab, at));
    }
    SentencePiece p;
    std::memcpy(&p.score, b.data() + at, 4);
    const int32_t len = i32_at(b, at + 4);
    at += 8;
    if (len < 0 || uint64_t(len) > b.size() - at) {
      return Error(fmt::format("{}: token {}: length {} runs past the end of the file (byte {})", path, i, len, at));
    }
    std::string text(reinterpret_cast<const char*>(b.data() + at), size_t(len));
    at += uint64_t(len);
    if (text == "\n<s>\n") text = "<s>";
    if (text == "\n</s>\n") text = "</s>";
    for (size_t k = 0; (k = text.find(' ', k)) != std::string::npos; k += 3) text.replace(k, 1, "\u2581");
    p.piece = std::move(text);
    const bool byte = p.piece.size() == 6 && p.piece.starts_with("<0x") && p.piece.ends_with(">");
    p.type = i == 0 ? PieceType::unknown : i <= 2 ? PieceType::control : byte ? PieceType::byte : PieceType::normal;
    pieces.push_back(std::move(p));
  }
  if (at != b.size()) {
    return Error(fmt::format("{}: {} bytes after the model's {} tokens: the tokenizer belongs to another vocabulary",
                             path, b.size() - at, vocab));
  }
  return pieces;
}

}  // namespace

Result<HfImportSummary> import_llama2c(const std::string& path, const std::string& tokenizer_path,
                                       const HfImportOptions& options, const std::string& out_path) {
  auto mapped = formats::MappedFile::open(path);
  if (!mapped) return mapped.error();
  const std::span<const uint8_t> file = (*mapped)->bytes();
  auto header = read_header(file, path);
  if (!header) return header.error();
  const Header& h = *header;
  const FileLayout l = layout_of(h);
  if (l.end != file.size()) {
    return Error(fmt::format("{}: {} bytes, but its header ({}) describes {}{} bytes", path, file.size(),
                             h.version == 0 ? "legacy" : fmt::format("version {}", h.version),
                             l.end > file.size() ? "" : "only ",
                             l.end > UINT64_MAX ? std::string("more than 2^64") : fmt::format("{}", uint64_t(l.end))));
  }
  if (h.version == 2) {
    for (const Stored* s : {&l.tok, &l.wq[0], &l.wk[0], &l.w2[0]}) {
      if ((s->rows * s->cols) % h.group_size != 0) {
        return Error(fmt::format("{}: group_size {} does not divide a {}x{} matrix", path, h.group_size, s->rows, s->cols));
      }
    }
  }

  LlamaConfig c;
  c.variant = "llama";
  c.vocab_size = uint64_t(h.vocab), c.hidden_size = uint64_t(h.dim), c.num_layers = uint64_t(h.layers);
  c.num_heads = uint64_t(h.heads), c.num_kv_heads = uint64_t(h.kv_heads), c.intermediate_size = uint64_t(h.hidden);
  c.max_positions = uint64_t(h.seq_len);
  c.rope_theta = 10000.0, c.rms_norm_eps = 1e-5;  // llama2.c's run.c hard-codes both
  c.tie_embeddings = h.shared_classifier;

  auto pieces = read_tokenizer_bin(tokenizer_path, c.vocab_size);
  if (!pieces) return pieces.error();

  ImportedDecoder m;
  m.origin = path;
  m.source_format = "llama2c";
  m.description = h.version == 0 ? "llama2.c legacy" : fmt::format("llama2.c version {}", h.version);
  m.config = c;
  m.tokenizer = sentencepiece_bpe_tokenizer_json(*pieces, {.unk = 0, .bos = 1, .eos = 2, .add_bos = true});
  m.tokenizer_origin = tokenizer_path;
  m.generation.bos_token_id = 1;
  m.generation.eos_token_ids = {2};
  m.generation.add_bos_token = true;
  m.files = {path, tokenizer_path};
  uint64_t exact = 0;
  for (const TensorSpec& spec : llama_tensors(c)) {
    std::vector<Part> parts;
    uint64_t layer = 0;
    std::string kind = spec.name;
    if (spec.name.starts_with("layers.")) {
      const size_t dot = spec.name.find('.', 7);
      layer = std::stoull(spec.name.substr(7, dot - 7));
      kind = spec.name.substr(dot + 1);
    }
    if (kind == "embeddings.word.weight") parts = {{l.tok}};
    else if (kind == "norm.weight") parts = {{l.final_norm}};
    else if (kind == "lm_head.weight") parts = {{l.classifier}};
    else if (kind == "attention.norm.weight") parts = {{l.att_norm[layer]}};
    else if (kind == "ffn.norm.weight") parts = {{l.ffn_norm[layer]}};
    else if (kind == "attention.qkv.weight") parts = {{l.wq[layer], c.num_heads}, {l.wk[layer], c.num_kv_heads}, {l.wv[layer]}};
    else if (kind == "attention.output.weight") parts = {{l.wo[layer]}};
    else if (kind == "ffn.gate.weight") parts = {{l.w1[layer]}};
    else if (kind == "ffn.up.weight") parts = {{l.w3[layer]}};
    else if (kind == "ffn.down.weight") parts = {{l.w2[layer]}};
    bool is_exact = false;
    m.tensors.push_back(source_tensor(spec, std::move(parts), file, h, options, path, &is_exact));
    exact += is_exact;
  }
  m.conversion = {{"llama2c_version", h.version}, {"group_size", h.group_size}, {"exact_q8_transcodes", exact}};
  m.notes.push_back("llama2.c files fix no RoPE base or norm epsilon: rope_theta 10000 and rms_norm_eps 1e-5, the "
                    "values llama2.c runs with");
  if (h.version == 2) {
    m.notes.push_back(fmt::format("{} tensor(s) transcoded exactly from llama2.c's int8 groups of {} to q8:g{}", exact,
                                  h.group_size, h.group_size));
  }
  return write_decoder_sparq(std::move(m), options, out_path);
}

}  // namespace sparq::runtime
