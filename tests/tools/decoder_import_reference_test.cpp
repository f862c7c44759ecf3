// Llama-family decoders imported three ways, against references written by independent code
// (tests/tools/fixtures/decoders/make_decoder_import_fixtures.py: the Hugging Face checkpoint
// maker, the GGUF and llama2.c exporters of models/train, numpy):
// - one checkpoint through `--from hf`, its F32 GGUF and its llama2.c exports gives the same
//   .sparq tensors, bit for bit;
// - every tensor of a quantized GGUF (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K, BF16, F16) decodes from the
//   .sparq file to exactly what the GGUF reader's ggml-exact dequantization gives;
// - llama2.c version 2 becomes q8 that decodes to numpy's q * s exactly;
// - the RoPE row un-permutation undoes numpy's (llama_rope.hf_to_interleaved);
// - malformed, inconsistent and unsupported inputs are refused naming the file and the field.
// The fixtures come from a ctest fixture step; without them (no python3-numpy) these fail.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "cli_runner.h"
#include "formats/gguf.h"
#include "formats/input_file.h"
#include "formats/sparq_reader.h"
#include "formats/tensor_codec.h"
#include "runtime/convert/rope_permutation.h"

namespace {

using nlohmann::json;
using sparq::test::json_lines;
using sparq::test::run_sparq;
using sparq::test::temp_dir;
namespace fs = std::filesystem;

std::string fixtures() {
  const char* dir = std::getenv("SPARQ_DECODER_FIXTURES");
  return dir ? dir : "";
}

#define REQUIRE_FIXTURES()                                                                             \
  ASSERT_FALSE(fixtures().empty()) << "SPARQ_DECODER_FIXTURES is not set: run through ctest, whose "    \
                                      "fixture step (python3 with numpy) writes them";                  \
  ASSERT_TRUE(fs::exists(fixtures() + "/llama/config.json")) << "fixtures missing in " << fixtures()

std::unique_ptr<sparq::formats::SparqReader> convert(const std::vector<std::string>& args, const std::string& out) {
  std::vector<std::string> full = {"convert"};
  full.insert(full.end(), args.begin(), args.end());
  full.insert(full.end(), {"-o", out, "-q"});
  auto r = run_sparq(full);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0) return nullptr;
  auto reader = sparq::formats::SparqReader::open(out);
  EXPECT_TRUE(reader.ok()) << (reader.ok() ? "" : reader.error().message());
  return reader.ok() ? std::move(*reader) : nullptr;
}

std::vector<float> decoded(const sparq::formats::SparqReader& r, const std::string& name) {
  const auto* t = r.find(name);
  EXPECT_NE(t, nullptr) << name;
  if (t == nullptr) return {};
  auto v = sparq::formats::decode_tensor(t->desc, t->payload);
  EXPECT_TRUE(v.ok()) << name;
  return v.ok() ? *v : std::vector<float>{};
}

bool bit_equal(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Every tensor of `a` is in `b` with the same encoding and identical payload bytes.
void expect_same_tensors(const sparq::formats::SparqReader& a, const sparq::formats::SparqReader& b,
                         const std::string& what) {
  EXPECT_EQ(a.tensors().size(), b.tensors().size()) << what;
  for (const auto& t : a.tensors()) {
    const auto* u = b.find(t.desc.name);
    ASSERT_NE(u, nullptr) << what << ": " << t.desc.name;
    EXPECT_EQ(t.desc.encoding_string(), u->desc.encoding_string()) << what << ": " << t.desc.name;
    EXPECT_EQ(t.desc.dims, u->desc.dims) << what << ": " << t.desc.name;
    EXPECT_TRUE(t.payload.size() == u->payload.size() &&
                std::memcmp(t.payload.data(), u->payload.data(), t.payload.size()) == 0)
        << what << ": tensor " << t.desc.name << " differs";
  }
}

// The architecture objects agree; GGUF stores the epsilon and RoPE base as float32.
void expect_same_architecture(const json& a, const json& b, const std::string& what) {
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (it.key() == "variant") continue;
    ASSERT_TRUE(b.contains(it.key())) << what << ": " << it.key();
    if (it->is_number_float()) {
      EXPECT_EQ(float(it->get<double>()), float(b[it.key()].get<double>())) << what << ": " << it.key();
    } else {
      EXPECT_EQ(*it, b[it.key()]) << what << ": " << it.key();
    }
  }
}

TEST(DecoderImportReference, ThreeImportPathsGiveTheSameModel) {
  REQUIRE_FIXTURES();
  const std::string dir = temp_dir("three_paths"), fx = fixtures();
  auto hf = convert({"--from", "hf", fx + "/llama"}, dir + "/hf.sparq");
  auto gguf = convert({"--from", "gguf", fx + "/llama-f32.gguf"}, dir + "/gguf.sparq");
  auto v0 = convert({"--from", "llama2c", fx + "/llama-v0.bin", "--tokenizer", fx + "/tokenizer.bin"}, dir + "/v0.sparq");
  auto v1 = convert({"--from", "llama2c", fx + "/llama-v1.bin", "--tokenizer", fx + "/tokenizer.bin"}, dir + "/v1.sparq");
  ASSERT_TRUE(hf && gguf && v0 && v1);
  for (const auto& t : hf->tensors()) EXPECT_EQ(t.desc.encoding_string(), "f32") << t.desc.name;
  expect_same_tensors(*hf, *gguf, "gguf f32");
  expect_same_tensors(*hf, *v0, "llama2.c legacy");
  expect_same_tensors(*hf, *v1, "llama2.c version 1");
  const json& arch = hf->metadata()["architecture"];
  EXPECT_EQ(arch["tie_embeddings"], false);
  expect_same_architecture(arch, gguf->metadata()["architecture"], "gguf");
  expect_same_architecture(arch, v0->metadata()["architecture"], "llama2.c");
  for (const auto* r : {gguf.get(), v0.get()}) {
    const json& g = r->metadata()["generation"];
    EXPECT_EQ(g["bos_token_id"], hf->metadata()["generation"]["bos_token_id"]);
    EXPECT_EQ(g["eos_token_ids"], hf->metadata()["generation"]["eos_token_ids"]);
    EXPECT_EQ(g["add_bos_token"], true);
  }
  // The tokenizer rebuilt from the scores (which the exporters derived from the merge ranks)
  // has the checkpoint's vocabulary, and its merges hold the checkpoint's in the same order:
  // Hugging Face's converter rule adds every other split of a piece into two pieces (▁th from
  // ▁ + th besides ▁t + h), which reach the same pieces.
  const json& original = hf->metadata()["tokenizer"]["model"];
  for (const auto* r : {gguf.get(), v0.get()}) {
    const json& rebuilt = r->metadata()["tokenizer"]["model"];
    EXPECT_TRUE(rebuilt["vocab"] == original["vocab"]) << r->path() << ": the vocabulary differs";
    size_t next = 0;
    for (const json& m : rebuilt["merges"]) {
      if (next < original["merges"].size() && m == original["merges"][next]) ++next;
      EXPECT_TRUE(rebuilt["vocab"].contains(m[0].get<std::string>() + m[1].get<std::string>())) << m.dump();
    }
    EXPECT_EQ(next, original["merges"].size()) << r->path() << ": merge " << next << " of the checkpoint ("
                                                << original["merges"][std::min<size_t>(next, original["merges"].size() - 1)].dump()
                                                << ") is missing or out of order";
    EXPECT_EQ(rebuilt["byte_fallback"], true);
  }

  // And they tokenize the dev documents exactly as the checkpoint's tokenizer.json does.
  auto hf_ids = run_sparq({"tokenize", dir + "/hf.sparq", "--input", sparq::test::dev_subset_path(), "-q"});
  ASSERT_EQ(hf_ids.exit_code, 0) << hf_ids.err;
  ASSERT_GT(hf_ids.out.size(), 1000u);
  for (const char* file : {"/gguf.sparq", "/v0.sparq"}) {
    auto ids = run_sparq({"tokenize", dir + file, "--input", sparq::test::dev_subset_path(), "-q"});
    ASSERT_EQ(ids.exit_code, 0) << ids.err;
    EXPECT_TRUE(ids.out == hf_ids.out) << file << ": token ids differ from the checkpoint tokenizer's";
  }

  // --weights / --embeddings apply to a decoder as to an encoder; norms stay f32.
  auto q8 = convert({"--from", "hf", fx + "/llama", "--weights", "q8", "--embeddings", "q8"}, dir + "/hf-q8.sparq");
  ASSERT_TRUE(q8);
  EXPECT_EQ(q8->find("layers.0.attention.qkv.weight")->desc.encoding_string(), "q8");
  EXPECT_EQ(q8->find("lm_head.weight")->desc.encoding_string(), "q8");
  EXPECT_EQ(q8->find("embeddings.word.weight")->desc.encoding_string(), "q8");
  EXPECT_EQ(q8->find("layers.0.ffn.norm.weight")->desc.encoding_string(), "f32");

  // inspect shows a decoder's shape, generation settings and tokenizer kind.
  auto shown = run_sparq({"inspect", dir + "/gguf.sparq"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  for (const char* s : {"decoder: llama (llama), 2 layers, hidden 64, 4 heads, 2 KV heads, head_dim 16, ffn 176, vocab 768, "
                        "context 256", "generation: {", "\"bos_token_id\":1", "tokenizer: SentencePiece-style BPE"}) {
    EXPECT_NE(shown.out.find(s), std::string::npos) << s << " not in:\n" << shown.out;
  }

  // Llama 3.1 RoPE scaling: config.json's rope_scaling, and what the GGUF's rope_freqs.weight
  // divisors give back.
  auto l3hf = convert({"--from", "hf", fx + "/llama3-rope"}, dir + "/llama3-hf.sparq");
  auto l3gguf = convert({"--from", "gguf", fx + "/llama3-rope-f32.gguf"}, dir + "/llama3-gguf.sparq");
  ASSERT_TRUE(l3hf && l3gguf);
  const json& l3 = l3hf->metadata()["architecture"];
  EXPECT_EQ(l3["rope_scaling"], "llama3");
  EXPECT_EQ(l3["rope_factor"], 8.0);
  EXPECT_EQ(l3["rope_original_max_positions"], 64);
  expect_same_architecture(l3, l3gguf->metadata()["architecture"], "llama3 gguf");
  expect_same_tensors(*l3hf, *l3gguf, "llama3 gguf f32");

  // Qwen2 (tied embeddings, q/k/v biases, no RoPE permutation in its GGUF).
  auto qhf = convert({"--from", "hf", fx + "/qwen2"}, dir + "/qwen2-hf.sparq");
  auto qgguf = convert({"--from", "gguf", fx + "/qwen2-f32.gguf"}, dir + "/qwen2-gguf.sparq");
  ASSERT_TRUE(qhf && qgguf);
  EXPECT_EQ(qhf->metadata()["architecture"]["tie_embeddings"], true);
  EXPECT_EQ(qhf->metadata()["architecture"]["attention_bias"], true);
  EXPECT_NE(qhf->find("layers.0.attention.qkv.bias"), nullptr);
  EXPECT_EQ(qhf->find("lm_head.weight"), nullptr);
  expect_same_tensors(*qhf, *qgguf, "qwen2 gguf f32");
  expect_same_architecture(qhf->metadata()["architecture"], qgguf->metadata()["architecture"], "qwen2 gguf");
}

// Where each GGUF tensor lives in the .sparq file: canonical name, first row, and the heads
// whose rows llama.cpp interleaved (0: none).
struct Placement {
  std::string name;
  uint64_t row = 0, heads = 0;
};

Placement placement(const std::string& gguf_name, const json& arch, bool permuted) {
  const uint64_t d = arch["head_dim"], q = arch["num_heads"].get<uint64_t>() * d, kv = arch["num_kv_heads"].get<uint64_t>() * d;
  if (gguf_name == "token_embd.weight") return {"embeddings.word.weight"};
  if (gguf_name == "output_norm.weight") return {"norm.weight"};
  if (gguf_name == "output.weight") return {"lm_head.weight"};
  const size_t dot = gguf_name.find('.', 4);
  const std::string layer = "layers." + gguf_name.substr(4, dot - 4) + ".", rest = gguf_name.substr(dot + 1);
  const std::string kind = rest.substr(0, rest.find('.')), suffix = rest.substr(rest.find('.'));
  const std::map<std::string, std::string> simple = {
      {"attn_norm", "attention.norm"}, {"attn_output", "attention.output"}, {"ffn_norm", "ffn.norm"},
      {"ffn_gate", "ffn.gate"},        {"ffn_up", "ffn.up"},                {"ffn_down", "ffn.down"}};
  if (simple.count(kind)) return {layer + simple.at(kind) + suffix};
  const std::string qkv = layer + "attention.qkv" + suffix;
  if (kind == "attn_q") return {qkv, 0, permuted ? arch["num_heads"].get<uint64_t>() : 0};
  if (kind == "attn_k") return {qkv, q, permuted ? arch["num_kv_heads"].get<uint64_t>() : 0};
  return {qkv, q + kv, 0};
}

// Every GGUF tensor, dequantized by the GGUF reader (bit-exact to ggml, formats' tests), equals
// the rows the .sparq file decodes to; adds the sparq encodings seen per GGUF type.
void expect_decodes_both(const std::string& gguf_path, const sparq::formats::SparqReader& r,
                         std::map<std::string, std::set<std::string>>& encodings) {
  auto g = sparq::formats::GgufFile::open(gguf_path);
  ASSERT_TRUE(g.ok());
  const json& arch = r.metadata()["architecture"];
  const bool permuted = (*g)->get_string("general.architecture").value() == "llama";
  for (const auto& t : (*g)->tensors()) {
    const Placement p = placement(t.name, arch, permuted);
    auto ref = (*g)->dequantize(t);
    ASSERT_TRUE(ref.ok()) << t.name;
    std::vector<float> expect = *ref;
    const uint64_t cols = t.shape.size() == 2 ? t.shape[1] : 1, rows = t.elements / cols;
    if (p.heads != 0) {
      const auto rows_of = sparq::runtime::half_split_rows_from_interleaved(p.heads, rows / p.heads);
      auto bytes = sparq::runtime::gather_rows({reinterpret_cast<const uint8_t*>(expect.data()), expect.size() * 4},
                                               cols * 4, rows_of);
      std::memcpy(expect.data(), bytes.data(), bytes.size());
    }
    const std::vector<float> all = decoded(r, p.name);
    ASSERT_GE(all.size(), (p.row + rows) * cols) << t.name;
    std::span<const float> got(all.data() + p.row * cols, rows * cols);
    EXPECT_TRUE(bit_equal(got, expect)) << gguf_path << ": tensor " << t.name << " (" << t.type_label() << ") -> "
                                        << p.name;
    encodings[t.type_label()].insert(r.find(p.name)->desc.encoding_string());
  }
}

TEST(DecoderImportReference, GgufTensorsDecodeAsTheGgufReaderDequantizesThem) {
  REQUIRE_FIXTURES();
  const std::string dir = temp_dir("decodes_both"), fx = fixtures();
  std::map<std::string, std::set<std::string>> seen;
  for (const char* name : {"llama-f16", "llama-q8_0", "llama-q4_0", "qwen2-q8_0", "kquants"}) {
    auto r = convert({"--from", "gguf", fx + "/" + name + ".gguf"}, dir + "/" + name + ".sparq");
    ASSERT_TRUE(r) << name;
    expect_decodes_both(fx + "/" + name + ".gguf", *r, seen);
  }
  // The exact transcodes the GGUF appendix of formats/SPEC.md predicts; Q5_K and the fused
  // QKV of layer 0 of kquants.gguf (Q4_K, Q4_K, Q6_K mixed) and its Q4_K embedding are f32.
  EXPECT_TRUE(seen["Q8_0 (8)"].count("q8:g32"));
  EXPECT_TRUE(seen["Q4_0 (2)"].count("q4:g32"));
  EXPECT_TRUE(seen["Q4_K (12)"].count("q4:g32:asym"));
  EXPECT_TRUE(seen["Q6_K (14)"].count("q8:g16"));
  EXPECT_EQ(seen["Q5_K (13)"], std::set<std::string>{"f32"});
  EXPECT_TRUE(seen["BF16 (30)"].count("bf16"));
  EXPECT_TRUE(seen["F16 (1)"].count("f16"));

  // An explicit --weights dequantizes and re-encodes instead.
  auto q4 = convert({"--from", "gguf", fx + "/llama-q8_0.gguf", "--weights", "q4"}, dir + "/requantized.sparq");
  ASSERT_TRUE(q4);
  EXPECT_EQ(q4->find("layers.0.ffn.up.weight")->desc.encoding_string(), "q4:g32");
  // A recipe prunes the tensors it selects from their dequantized values, re-encoded in the
  // source's own q8:g32 (then bitmap rows, the smallest layout at 50 %): each kept weight
  // within half a step of the largest group scale of its value. The others stay exact
  // transcodes.
  auto exact = convert({"--from", "gguf", fx + "/llama-q8_0.gguf"}, dir + "/exact.sparq");
  auto pruned = convert({"--from", "gguf", fx + "/llama-q8_0.gguf", "--prune", "0.5", "--include", "layers.*.ffn.up.weight"},
                        dir + "/pruned.sparq");
  ASSERT_TRUE(exact && pruned);
  const std::vector<float> up = decoded(*pruned, "layers.0.ffn.up.weight");
  EXPECT_EQ(std::count(up.begin(), up.end(), 0.0f), std::ptrdiff_t(up.size() / 2));
  EXPECT_EQ(pruned->find("layers.0.ffn.up.weight")->desc.encoding_string(), "bitmap:q8:g32");
  const std::vector<float> up_exact = decoded(*exact, "layers.0.ffn.up.weight");
  float largest = 0;
  for (float w : up_exact) largest = std::max(largest, std::abs(w));
  size_t moved = 0;
  for (size_t i = 0; i < up.size(); ++i) moved += up[i] != 0.0f && std::abs(up[i] - up_exact[i]) > largest / 254 * 1.0001f;
  EXPECT_EQ(moved, 0u);
  EXPECT_TRUE(bit_equal(decoded(*pruned, "layers.0.attention.qkv.weight"), decoded(*exact, "layers.0.attention.qkv.weight")));
  EXPECT_EQ(pruned->find("layers.0.attention.qkv.weight")->desc.encoding_string(), "q8:g32");
  EXPECT_TRUE(pruned->metadata().contains("compression"));
}

// An F16 GGUF (models/train/gguf_export.py --type f16) keeps its weights at 2 bytes each:
// every matrix is f16 (its values exactly the GGUF's, checked above), and the model runs them
// on the f16 kernels. Its perplexity equals that of the same file with every matrix widened
// exactly to f32 (--weights f32 --embeddings f32): the values multiplied are the same and
// only the order of f32 sums differs, which moves logits by far less than the 1e-4 of the
// PyTorch comparisons; a logit error e moves each token's NLL by at most 2e (its own
// logit and the log-sum-exp), so the mean NLL by at most 2e.
TEST(DecoderImportReference, GgufF16RunsOnTwoByteWeightsAsItsExactF32Widening) {
  REQUIRE_FIXTURES();
  const std::string dir = temp_dir("gguf_f16"), fx = fixtures();
  auto f16 = convert({"--from", "gguf", fx + "/llama-f16.gguf"}, dir + "/f16.sparq");
  auto f32 = convert({"--from", "gguf", fx + "/llama-f16.gguf", "--weights", "f32", "--embeddings", "f32"},
                     dir + "/f32.sparq");
  ASSERT_TRUE(f16 && f32);
  size_t matrices = 0;
  for (const auto& t : f16->tensors()) {
    if (t.desc.dims.size() != 2) continue;
    ++matrices;
    EXPECT_EQ(t.desc.encoding_string(), "f16") << t.desc.name;
    EXPECT_EQ(f32->find(t.desc.name)->desc.encoding_string(), "f32") << t.desc.name;
    EXPECT_TRUE(bit_equal(decoded(*f16, t.desc.name), decoded(*f32, t.desc.name))) << t.desc.name;
  }
  EXPECT_GT(matrices, 0u);

  const std::string text = dir + "/text.txt";
  {
    std::ofstream out(text);
    std::ifstream dev(std::string(SPARQ_SOURCE_DIR) + "/tests/data/debian-descriptions-dev-subset.jsonl");
    std::string line;
    for (int i = 0; i < 6 && std::getline(dev, line); ++i) out << json::parse(line)["text"].get<std::string>() << "\n\n";
  }
  auto r = run_sparq({"eval", dir + "/f16.sparq", "--perplexity", text, "--context", "64", "--stride", "32",
                      "--baseline", dir + "/f32.sparq", "--json", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  const double tokens = j["scored_tokens"].get<double>();
  ASSERT_GT(tokens, 100);
  EXPECT_EQ(j["scored_tokens"], j["baseline"]["scored_tokens"]);
  EXPECT_NEAR(j["nll"].get<double>() / tokens, j["baseline"]["nll"].get<double>() / tokens, 2e-4);
}

TEST(DecoderImportReference, Llama2cVersion2IsAnExactQ8Transcode) {
  REQUIRE_FIXTURES();
  const std::string dir = temp_dir("llama2c_v2"), fx = fixtures();
  auto v2 = convert({"--from", "llama2c", fx + "/llama-v2.bin", "--tokenizer", fx + "/tokenizer.bin"}, dir + "/v2.sparq");
  auto numpy = convert({"--from", "hf", fx + "/llama-v2-dequantized"}, dir + "/numpy.sparq");
  ASSERT_TRUE(v2 && numpy);
  for (const auto& t : numpy->tensors()) {
    const auto* u = v2->find(t.desc.name);
    ASSERT_NE(u, nullptr) << t.desc.name;
    // Groups of 32 that straddle rows (ffn.down: 176 columns) have no sparq form: f32.
    if (t.desc.dims.size() == 2) {
      EXPECT_EQ(u->desc.encoding_string(), t.desc.dims[1] % 32 == 0 ? "q8:g32" : "f32") << t.desc.name;
    }
    EXPECT_TRUE(bit_equal(decoded(*v2, t.desc.name), decoded(*numpy, t.desc.name))) << t.desc.name;
  }
}

TEST(DecoderImportReference, RopeUnpermutationUndoesNumpys) {
  REQUIRE_FIXTURES();
  auto doc = sparq::formats::load_json_file(fixtures() + "/rope_case.json");
  ASSERT_TRUE(doc.ok());
  const uint64_t heads = (*doc)["heads"], head_dim = (*doc)["head_dim"];
  std::vector<float> half_split, interleaved;
  for (const json& row : (*doc)["half_split"]) for (const json& v : row) half_split.push_back(v.get<float>());
  for (const json& row : (*doc)["interleaved"]) for (const json& v : row) interleaved.push_back(v.get<float>());
  const uint64_t cols = (*doc)["half_split"][0].size();
  ASSERT_FALSE(bit_equal(half_split, interleaved));  // the case moves rows
  const auto rows = sparq::runtime::half_split_rows_from_interleaved(heads, head_dim);
  auto out = sparq::runtime::gather_rows({reinterpret_cast<const uint8_t*>(interleaved.data()), interleaved.size() * 4},
                                         cols * 4, rows);
  std::vector<float> got(out.size() / 4);
  std::memcpy(got.data(), out.data(), out.size());
  EXPECT_TRUE(bit_equal(got, half_split));
}

// A "gpt2" GGUF vocabulary becomes a byte-level BPE that tokenizes as the tokenizer.json it was
// written from (tests/tokenizers' fixture, itself checked against Hugging Face's tokenizers):
// the same ids, without the RoBERTa <s> ... </s> the original's post-processor adds.
TEST(DecoderImportReference, GgufByteLevelVocabularyTokenizesAsItsSource) {
  REQUIRE_FIXTURES();
  const std::string dir = temp_dir("byte_level"), fx = fixtures();
  const std::string source = std::string(SPARQ_SOURCE_DIR) + "/tests/tokenizers/fixtures/bpe-byte-level/tokenizer.json";
  auto model = convert({"--from", "gguf", fx + "/gpt2-vocab.gguf"}, dir + "/gpt2.sparq");
  ASSERT_TRUE(model);
  auto original = sparq::formats::load_json_file(source);
  ASSERT_TRUE(original.ok());
  const json& rebuilt = model->metadata()["tokenizer"];
  EXPECT_TRUE(rebuilt["model"]["vocab"] == (*original)["model"]["vocab"]);
  EXPECT_EQ(rebuilt["pre_tokenizer"]["type"], "ByteLevel");
  EXPECT_EQ(model->metadata()["generation"]["add_bos_token"], false);
  const std::vector<std::string> from = {"--input", sparq::test::dev_subset_path(), "-q"};
  std::vector<std::string> a = {"tokenize", dir + "/gpt2.sparq"}, b = {"tokenize", source};
  a.insert(a.end(), from.begin(), from.end());
  b.insert(b.end(), from.begin(), from.end());
  auto mine = run_sparq(a), theirs = run_sparq(b);
  ASSERT_EQ(mine.exit_code, 0) << mine.err;
  ASSERT_EQ(theirs.exit_code, 0) << theirs.err;
  const auto got = json_lines(mine.out), want = json_lines(theirs.out);
  ASSERT_EQ(got.size(), want.size());
  ASSERT_GT(got.size(), 100u);
  for (size_t i = 0; i < got.size(); ++i) {
    std::vector<int64_t> expect = want[i]["ids"];
    ASSERT_GE(expect.size(), 2u);
    expect = std::vector<int64_t>(expect.begin() + 1, expect.end() - 1);
    ASSERT_EQ(got[i]["ids"].get<std::vector<int64_t>>(), expect) << "record " << i;
  }
  // llama-bpe picks Llama 3's split regex (Llama 3's tokenizer.json also sets ignore_merges).
  auto llama3 = convert({"--from", "gguf", fx + "/llama3-vocab.gguf"}, dir + "/llama3.sparq");
  ASSERT_TRUE(llama3);
  const json& pre = llama3->metadata()["tokenizer"]["pre_tokenizer"];
  EXPECT_EQ(pre["pretokenizers"][0]["type"], "Split");
  EXPECT_NE(pre["pretokenizers"][0]["pattern"]["Regex"].get<std::string>().find("\\p{N}{1,3}"), std::string::npos);
  EXPECT_EQ(llama3->metadata()["tokenizer"]["model"]["ignore_merges"], true);
}

// A copy of `src` cut to `bytes`.
std::string truncated_copy(const std::string& src, uint64_t bytes, const std::string& dst) {
  std::ifstream in(src, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), {});
  std::ofstream(dst, std::ios::binary).write(data.data(), std::streamsize(std::min<uint64_t>(bytes, data.size())));
  return dst;
}

struct Refusal {
  std::vector<std::string> args;
  int exit_code;
  std::vector<std::string> message;  // substrings of stderr
};

void expect_refused(const Refusal& c, const std::string& out) {
  std::vector<std::string> args = {"convert"};
  args.insert(args.end(), c.args.begin(), c.args.end());
  args.insert(args.end(), {"-o", out});
  auto r = run_sparq(args);
  EXPECT_EQ(r.exit_code, c.exit_code) << c.args[2] << ": " << r.err;
  for (const std::string& s : c.message) EXPECT_NE(r.err.find(s), std::string::npos) << "'" << s << "' not in: " << r.err;
}

TEST(DecoderImportReference, BadInputsAreRefusedNamingTheFileAndField) {
  REQUIRE_FIXTURES();
  const std::string dir = temp_dir("bad_inputs"), fx = fixtures();
  const std::string half_gguf = truncated_copy(fx + "/llama-f32.gguf", fs::file_size(fx + "/llama-f32.gguf") / 2,
                                               dir + "/truncated.gguf");
  const std::string half_v0 = truncated_copy(fx + "/llama-v0.bin", fs::file_size(fx + "/llama-v0.bin") - 100,
                                             dir + "/truncated.bin");
  const std::string short_tok = truncated_copy(fx + "/tokenizer.bin", fs::file_size(fx + "/tokenizer.bin") / 2,
                                               dir + "/short-tokenizer.bin");
  // A legacy header claiming 16 M-wide layers, 65536 of them: refused from the header alone.
  const std::string huge = dir + "/huge.bin";
  {
    const int32_t h[7] = {1 << 24, 1 << 24, 65536, 1 << 12, 1 << 12, 1 << 24, 1 << 24};
    std::ofstream(huge, std::ios::binary).write(reinterpret_cast<const char*>(h), sizeof h);
  }
  const std::string tok = fx + "/tokenizer.bin";
  const std::vector<Refusal> cases = {
      {{"--from", "gguf", half_gguf}, 2, {half_gguf}},
      {{"--from", "gguf", fx + "/bad-missing-block-count.gguf"}, 2, {"bad-missing-block-count.gguf", "llama.block_count", "missing"}},
      {{"--from", "gguf", fx + "/bad-absurd-block-count.gguf"}, 2, {"llama.block_count", "60000"}},
      {{"--from", "gguf", fx + "/bad-qkv-shape.gguf"}, 2, {"bad-qkv-shape.gguf", "blk.0.attn_k.weight", "shape"}},
      {{"--from", "gguf", fx + "/bad-vocab-mismatch.gguf"}, 2, {"bad-vocab-mismatch.gguf", "tokenizer.ggml.tokens", "token_embd.weight"}},
      {{"--from", "gguf", fx + "/bad-unsupported-type.gguf"}, 4, {"bad-unsupported-type.gguf", "blk.0.attn_norm.weight", "I32 (26)"}},
      {{"--from", "llama2c", half_v0, "--tokenizer", tok}, 2, {half_v0, "bytes"}},
      {{"--from", "llama2c", huge, "--tokenizer", tok}, 2, {huge, "bytes"}},
      {{"--from", "llama2c", fx + "/llama-v0.bin", "--tokenizer", short_tok}, 2, {short_tok, "truncated"}},
      {{"--from", "llama2c", fx + "/llama-v0.bin"}, 1, {"--tokenizer"}},
  };
  for (size_t i = 0; i < cases.size(); ++i) expect_refused(cases[i], dir + "/out" + std::to_string(i) + ".sparq");

  // Hugging Face configs with what the decoder does not run, or that disagree with the weights.
  const std::vector<std::pair<json, Refusal>> configs = {
      {{{"architectures", {"MistralForCausalLM"}}, {"model_type", "mistral"}, {"sliding_window", 64}},
       {{}, 4, {"config.json", "sliding_window", "sliding-window attention is not supported yet"}}},
      {{{"rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}}}}, {{}, 4, {"config.json", "rope_scaling.rope_type", "yarn"}}},
      {{{"mlp_bias", true}}, {{}, 4, {"config.json", "mlp_bias"}}},
      {{{"hidden_act", "gelu"}}, {{}, 4, {"config.json", "hidden_act", "gelu"}}},
      {{{"num_key_value_heads", 4}}, {{}, 2, {"model.layers.0.self_attn.k_proj.weight", "shape"}}},
      {{{"vocab_size", 700}}, {{}, 2, {"model.embed_tokens.weight", "shape"}}},
  };
  for (size_t i = 0; i < configs.size(); ++i) {
    const std::string ck = dir + "/hf" + std::to_string(i);
    fs::copy(fx + "/llama", ck, fs::copy_options::recursive);
    auto config = sparq::formats::load_json_file(ck + "/config.json");
    ASSERT_TRUE(config.ok());
    config->merge_patch(configs[i].first);
    std::ofstream(ck + "/config.json") << config->dump();
    Refusal c = configs[i].second;
    c.args = {"--from", "hf", ck};
    expect_refused(c, dir + "/hf-out" + std::to_string(i) + ".sparq");
  }
  // A tokenizer with an id past the embedding rows.
  const std::string big = dir + "/hf-big-vocab";
  fs::copy(fx + "/llama", big, fs::copy_options::recursive);
  auto tok_json = sparq::formats::load_json_file(big + "/tokenizer.json");
  ASSERT_TRUE(tok_json.ok());
  (*tok_json)["added_tokens"].push_back({{"id", 800}, {"content", "<extra>"}, {"single_word", false}, {"lstrip", false},
                                    {"rstrip", false}, {"normalized", false}, {"special", true}});
  std::ofstream(big + "/tokenizer.json") << tok_json->dump();
  expect_refused({{"--from", "hf", big}, 2, {"tokenizer.json", "800", "768"}}, dir + "/big.sparq");

  // Qwen2's declared but unused window is fine.
  const std::string qwen = dir + "/qwen2-window";
  fs::copy(fx + "/qwen2", qwen, fs::copy_options::recursive);
  auto config = sparq::formats::load_json_file(qwen + "/config.json");
  ASSERT_TRUE(config.ok());
  config->merge_patch({{"sliding_window", 64}, {"use_sliding_window", false}});
  std::ofstream(qwen + "/config.json") << config->dump();
  EXPECT_TRUE(convert({"--from", "hf", qwen}, dir + "/qwen2-window.sparq"));
}

}  // namespace
