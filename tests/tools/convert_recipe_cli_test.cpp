// `sparq convert` with compression recipes, end to end: a small BERT classifier checkpoint is
// written here; converting it with a recipe must give the same model (tensors, encodings,
// logits) as converting a copy whose weights this test pruned itself (sorting magnitudes /
// block norms), and must record the recipe and what it achieved under "compression".
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <tuple>

#include "cli_runner.h"
#include "formats/safetensors_test_writer.h"
#include "formats/sparq_reader.h"
#include "formats/tensor_codec.h"

namespace {

using nlohmann::json;
using sparq::test::run_sparq;
using sparq::test::temp_dir;
using sparq::test::write_file;

constexpr uint64_t kHidden = 16, kInter = 32, kVocab = 40, kPositions = 24, kLayers = 2;

// Hugging Face tensors of a BertForSequenceClassification, by name (file order kept).
struct HfWeights {
  std::vector<std::string> order;
  std::map<std::string, std::pair<std::vector<uint64_t>, std::vector<float>>> t;

  void add(const std::string& name, std::vector<uint64_t> shape, std::mt19937& rng) {
    std::normal_distribution<float> d(0.0f, 0.4f);
    uint64_t n = 1;
    for (uint64_t s : shape) n *= s;
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    order.push_back(name);
    t[name] = {std::move(shape), std::move(v)};
  }
  void write(const std::string& dir) const {
    std::vector<sparq::test::StEntry> entries;
    for (const std::string& name : order) entries.push_back(sparq::test::st_f32(name, t.at(name).first, t.at(name).second));
    write_file(dir + "/model.safetensors", sparq::test::st_file_bytes(entries));
  }
};

std::string layer_prefix(uint64_t l) { return "bert.encoder.layer." + std::to_string(l) + "."; }

HfWeights make_weights() {
  std::mt19937 rng(42);
  HfWeights w;
  auto linear = [&](const std::string& name, uint64_t out, uint64_t in) {
    w.add(name + ".weight", {out, in}, rng);
    w.add(name + ".bias", {out}, rng);
  };
  w.add("bert.embeddings.word_embeddings.weight", {kVocab, kHidden}, rng);
  w.add("bert.embeddings.position_embeddings.weight", {kPositions, kHidden}, rng);
  w.add("bert.embeddings.token_type_embeddings.weight", {2, kHidden}, rng);
  for (const char* p : {"weight", "bias"}) w.add(std::string("bert.embeddings.LayerNorm.") + p, {kHidden}, rng);
  for (uint64_t l = 0; l < kLayers; ++l) {
    const std::string s = layer_prefix(l);
    for (const char* qkv : {"query", "key", "value"}) linear(s + "attention.self." + qkv, kHidden, kHidden);
    linear(s + "attention.output.dense", kHidden, kHidden);
    for (const char* p : {"weight", "bias"}) w.add(s + "attention.output.LayerNorm." + p, {kHidden}, rng);
    linear(s + "intermediate.dense", kInter, kHidden);
    linear(s + "output.dense", kHidden, kInter);
    for (const char* p : {"weight", "bias"}) w.add(s + "output.LayerNorm." + p, {kHidden}, rng);
  }
  linear("bert.pooler.dense", kHidden, kHidden);
  linear("classifier", 3, kHidden);
  return w;
}

void write_checkpoint(const std::string& dir, const HfWeights& w) {
  std::filesystem::create_directories(dir);
  w.write(dir);
  json config = {{"architectures", {"BertForSequenceClassification"}}, {"model_type", "bert"},
                 {"vocab_size", kVocab}, {"hidden_size", kHidden}, {"num_hidden_layers", kLayers},
                 {"num_attention_heads", 2}, {"intermediate_size", kInter},
                 {"max_position_embeddings", kPositions}, {"type_vocab_size", 2}, {"hidden_act", "gelu"},
                 {"id2label", {{"0", "a"}, {"1", "b"}, {"2", "c"}}}};
  write_file(dir + "/config.json", config.dump());
  std::string vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
  for (uint64_t i = 5; i < kVocab; ++i) vocab += "tok" + std::to_string(i) + "\n";
  write_file(dir + "/vocab.txt", vocab);
  write_file(dir + "/tokenizer_config.json", json{{"do_lower_case", false}, {"model_max_length", 16}}.dump());
}

// The reference: zero the round(s * units) units (entries, or br x bc blocks) of smallest
// score (|w|, or the block's RMS), ties to the earlier unit.
void reference_prune(std::vector<float>& v, uint64_t rows, uint64_t cols, uint64_t br, uint64_t bc, double s) {
  std::vector<std::pair<double, uint64_t>> units;
  for (uint64_t r0 = 0, u = 0; r0 < rows; r0 += br) {
    for (uint64_t c0 = 0; c0 < cols; c0 += bc, ++u) {
      double ss = 0;
      for (uint64_t r = r0; r < r0 + br; ++r) {
        for (uint64_t c = c0; c < c0 + bc; ++c) ss += double(v[r * cols + c]) * v[r * cols + c];
      }
      units.push_back({std::sqrt(ss / double(br * bc)), u});
    }
  }
  std::sort(units.begin(), units.end());
  const size_t k = static_cast<size_t>(std::llround(s * double(units.size())));
  for (size_t i = 0; i < k; ++i) {
    const uint64_t u = units[i].second, r0 = u / (cols / bc) * br, c0 = u % (cols / bc) * bc;
    for (uint64_t r = r0; r < r0 + br; ++r) std::fill_n(v.begin() + long(r * cols + c0), bc, 0.0f);
  }
}

// Prunes the canonical matrix of one layer's linear (Q, K, V are fused: pruned as one
// [3h, h] matrix, then split back).
void reference_prune_layer(HfWeights& w, uint64_t l, uint64_t br, uint64_t bc, double s) {
  const std::string p = layer_prefix(l);
  std::vector<float> qkv;
  for (const char* n : {"query", "key", "value"}) {
    const auto& v = w.t[p + "attention.self." + n + ".weight"].second;
    qkv.insert(qkv.end(), v.begin(), v.end());
  }
  reference_prune(qkv, 3 * kHidden, kHidden, br, bc, s);
  for (int i = 0; i < 3; ++i) {
    auto& v = w.t[p + "attention.self." + std::vector<std::string>{"query", "key", "value"}[i] + ".weight"].second;
    std::copy(qkv.begin() + i * long(kHidden * kHidden), qkv.begin() + (i + 1) * long(kHidden * kHidden), v.begin());
  }
  for (auto [name, rows, cols] : {std::tuple{"attention.output.dense", kHidden, kHidden},
                                  {"intermediate.dense", kInter, kHidden}, {"output.dense", kHidden, kInter}}) {
    reference_prune(w.t[p + name + ".weight"].second, rows, cols, br, bc, s);
  }
}

std::unique_ptr<sparq::formats::SparqReader> open(const std::string& path) {
  auto r = sparq::formats::SparqReader::open(path);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.ok() ? std::move(r.value()) : nullptr;
}

// Both files hold the same tensors with the same encodings and decoded values.
void expect_same_model(const std::string& a, const std::string& b) {
  auto ra = open(a), rb = open(b);
  ASSERT_TRUE(ra && rb);
  ASSERT_EQ(ra->tensors().size(), rb->tensors().size());
  for (const auto& t : ra->tensors()) {
    const auto* u = rb->find(t.desc.name);
    ASSERT_NE(u, nullptr) << t.desc.name;
    EXPECT_EQ(t.desc.encoding_string(), u->desc.encoding_string()) << t.desc.name;
    auto va = sparq::formats::decode_tensor(t.desc, t.payload);
    auto vb = sparq::formats::decode_tensor(u->desc, u->payload);
    ASSERT_TRUE(va.ok() && vb.ok()) << t.desc.name;
    EXPECT_EQ(*va, *vb) << t.desc.name;
  }
}

std::string logits_of(const std::string& model, const std::string& dir) {
  const std::string docs = dir + "/docs.jsonl";
  write_file(docs, std::string(R"({"id": "1", "text": "tok5 tok6 tok7"})") + "\n" +
                       R"({"id": "2", "text": "tok20 tok31 tok9 tok12 tok38"})" + "\n" +
                       R"({"id": "3", "text": "tok11"})" + "\n");
  auto r = run_sparq({"classify", model, "--input", docs, "--logits", "-q", "-t", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

json inspect(const std::string& model) {
  auto r = run_sparq({"inspect", model, "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? json::parse(r.out) : json();
}

class ConvertRecipe : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = temp_dir("convert_recipe");
    weights = make_weights();
    write_checkpoint(dir + "/dense", weights);
  }
  std::string dir;
  HfWeights weights;
};

TEST_F(ConvertRecipe, RecipeFileGivesTheReferencePrunedModelAndRecordsWhatItAchieved) {
  const std::string recipe = dir + "/recipe.json";
  write_file(recipe, R"({"rules": [{"match": "layers.0.*", "sparsity": 0.75, "pattern": "4x4"},
                                    {"match": "*", "sparsity": 0.5}]})");
  const std::string out = dir + "/pruned.sparq";
  auto r = run_sparq({"convert", "--from", "hf", dir + "/dense", "-o", out, "--recipe", recipe, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  HfWeights pruned = weights;
  reference_prune_layer(pruned, 0, 4, 4, 0.75);
  reference_prune_layer(pruned, 1, 1, 1, 0.5);
  write_checkpoint(dir + "/reference", pruned);
  const std::string ref = dir + "/reference.sparq";
  auto rr = run_sparq({"convert", "--from", "hf", dir + "/reference", "-o", ref});
  ASSERT_EQ(rr.exit_code, 0) << rr.err;
  expect_same_model(out, ref);
  EXPECT_EQ(logits_of(out, dir), logits_of(ref, dir));

  json info = inspect(out);
  const json& c = info["metadata"]["compression"];
  ASSERT_TRUE(c.is_object()) << info.dump();
  EXPECT_EQ(c["source"], recipe);
  EXPECT_EQ(c["recipe"]["rules"][0]["pattern"], "4x4");
  EXPECT_EQ(c["recipe"]["scope"], "tensor");
  ASSERT_EQ(c["tensors"].size(), 8u);
  std::map<std::string, json> stored;
  for (const json& t : info["tensors"]) stored[t["name"]] = t;
  for (const json& t : c["tensors"]) {
    const std::string name = t["name"];
    const bool first = name.starts_with("layers.0.");
    const double target = first ? 0.75 : 0.5;
    EXPECT_EQ(t["target_sparsity"], target) << name;
    EXPECT_EQ(t["sparsity"], target) << name;
    EXPECT_EQ(t["pattern"], first ? "4x4" : "unstructured") << name;
    // What inspect measures in the stored tensor agrees with the record.
    EXPECT_DOUBLE_EQ(stored[name]["sparsity"].get<double>(), target) << name;
    EXPECT_EQ(stored[name]["encoding"], t["encoding"]) << name;
    EXPECT_EQ(t["encoding"], first ? "bsr:f32:4x4" : "csr:f32") << name;
    EXPECT_EQ(stored[name]["bytes_on_disk"], t["bytes"]) << name;
  }
  // The text form shows the recipe and the per-tensor table.
  auto text = run_sparq({"inspect", out});
  EXPECT_NE(text.out.find("compression recipe (" + recipe + ")"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("layers.1.ffn.down.weight"), std::string::npos);
}

TEST_F(ConvertRecipe, ShorthandFlagsGlobalScopeAndQ8) {
  const std::string out = dir + "/global.sparq";
  auto r = run_sparq({"convert", "--from", "hf", dir + "/dense", "-o", out, "--weights", "q8", "--prune", "0.6",
                      "--prune-scope", "global", "--exclude", "layers.1.ffn.*", "--include", "layers.*",
                      "--include", "classifier.weight"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json info = inspect(out);
  const json& c = info["metadata"]["compression"];
  ASSERT_TRUE(c.is_object());
  EXPECT_EQ(c["source"], "command line");
  EXPECT_EQ(c["recipe"]["scope"], "global");
  // Reference: one ranking over every selected matrix's |w|.
  std::vector<std::pair<std::string, std::vector<float>>> selected;
  auto fused = [&](uint64_t l) {
    std::vector<float> v;
    for (const char* n : {"query", "key", "value"}) {
      const auto& x = weights.t[layer_prefix(l) + "attention.self." + n + ".weight"].second;
      v.insert(v.end(), x.begin(), x.end());
    }
    return v;
  };
  selected.push_back({"layers.0.attention.qkv.weight", fused(0)});
  selected.push_back({"layers.0.attention.output.weight", weights.t[layer_prefix(0) + "attention.output.dense.weight"].second});
  selected.push_back({"layers.0.ffn.up.weight", weights.t[layer_prefix(0) + "intermediate.dense.weight"].second});
  selected.push_back({"layers.0.ffn.down.weight", weights.t[layer_prefix(0) + "output.dense.weight"].second});
  selected.push_back({"layers.1.attention.qkv.weight", fused(1)});
  selected.push_back({"layers.1.attention.output.weight", weights.t[layer_prefix(1) + "attention.output.dense.weight"].second});
  selected.push_back({"classifier.weight", weights.t["classifier.weight"].second});
  std::vector<std::tuple<float, size_t, size_t>> all;
  for (size_t t = 0; t < selected.size(); ++t) {
    for (size_t i = 0; i < selected[t].second.size(); ++i) all.emplace_back(std::fabs(selected[t].second[i]), t, i);
  }
  std::sort(all.begin(), all.end());
  const size_t k = static_cast<size_t>(std::llround(0.6 * double(all.size())));
  std::vector<size_t> zeros(selected.size());
  for (size_t i = 0; i < k; ++i) ++zeros[std::get<1>(all[i])];
  ASSERT_EQ(c["tensors"].size(), selected.size());
  auto reader = open(out);
  ASSERT_TRUE(reader);
  for (size_t t = 0; t < selected.size(); ++t) {
    const json& rec = c["tensors"][t];
    EXPECT_EQ(rec["name"], selected[t].first);
    EXPECT_DOUBLE_EQ(rec["sparsity"].get<double>(), double(zeros[t]) / double(selected[t].second.size()))
        << selected[t].first;
    // The stored (q8) tensor is zero exactly where the reference pruned (q8 keeps the sign
    // of every surviving weight, none of which is below the threshold).
    const auto* view = reader->find(selected[t].first);
    ASSERT_NE(view, nullptr);
    auto v = sparq::formats::decode_tensor(view->desc, view->payload);
    ASSERT_TRUE(v.ok());
    size_t stored_zeros = static_cast<size_t>(std::count(v->begin(), v->end(), 0.0f));
    EXPECT_EQ(stored_zeros, zeros[t]) << selected[t].first;
    EXPECT_EQ(rec["encoding"], view->desc.encoding_string()) << selected[t].first;
  }
  EXPECT_EQ(reader->find("layers.1.ffn.up.weight")->desc.encoding_string(), "q8");
}

TEST_F(ConvertRecipe, FromSparqReencodesOnlyWhatTheRecipeSelects) {
  const std::string dense = dir + "/dense.sparq";
  ASSERT_EQ(run_sparq({"convert", "--from", "hf", dir + "/dense", "-o", dense, "--weights", "q8"}).exit_code, 0);
  const std::string recipe = dir + "/ffn.json";
  write_file(recipe, R"({"rules": [{"match": "layers.*.ffn.*", "sparsity": 0.75, "pattern": "16x1"}]})");
  const std::string out = dir + "/reencoded.sparq";
  auto r = run_sparq({"convert", "--from", "sparq", dense, "-o", out, "--recipe", recipe});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto src = open(dense), dst = open(out);
  ASSERT_TRUE(src && dst);
  for (const auto& t : src->tensors()) {
    const auto* u = dst->find(t.desc.name);
    ASSERT_NE(u, nullptr);
    if (t.desc.name.find(".ffn.") != std::string::npos && t.desc.name.ends_with("weight") &&
        t.desc.name.find("norm") == std::string::npos) {
      EXPECT_EQ(u->desc.encoding_string(), "bsr:q8:16x1") << t.desc.name;
      // Reference: the decoded q8 weights pruned by 16x1 block RMS; re-quantizing values
      // that are already on the q8 grid gives them back.
      auto v = sparq::formats::decode_tensor(t.desc, t.payload);
      auto got = sparq::formats::decode_tensor(u->desc, u->payload);
      ASSERT_TRUE(v.ok() && got.ok());
      const uint64_t rows = t.desc.dims[0], cols = t.desc.dims[1];
      reference_prune(*v, rows, cols, 16, 1, 0.75);
      ASSERT_EQ(v->size(), got->size());
      for (uint64_t row = 0; row < rows; ++row) {
        // Pruning may remove a row's largest weight: the row is then quantized again on a
        // finer grid, within half of its new step.
        float max_abs = 0;
        for (uint64_t c = 0; c < cols; ++c) max_abs = std::max(max_abs, std::fabs((*v)[row * cols + c]));
        for (uint64_t c = 0; c < cols; ++c) {
          const size_t i = row * cols + c;
          if ((*v)[i] == 0.0f) {
            ASSERT_EQ((*got)[i], 0.0f) << t.desc.name << "[" << i << "]";
          }
          ASSERT_NEAR((*got)[i], (*v)[i], max_abs / 127 * 0.5001f + 1e-7f) << t.desc.name << "[" << i << "]";
        }
      }
    } else {
      ASSERT_EQ(t.desc.encoding_string(), u->desc.encoding_string()) << t.desc.name;
      EXPECT_TRUE(std::equal(t.payload.begin(), t.payload.end(), u->payload.begin(), u->payload.end()))
          << t.desc.name << " must be copied byte for byte";
    }
  }
  const json& meta = dst->metadata();
  EXPECT_EQ(meta["labels"], src->metadata()["labels"]);
  EXPECT_EQ(meta["tokenizer"], src->metadata()["tokenizer"]);
  EXPECT_EQ(meta["compression"]["tensors"].size(), 4u);
  ASSERT_EQ(meta["provenance"]["reencoded"].size(), 1u);
  EXPECT_EQ(meta["provenance"]["reencoded"][0]["source"]["path"], dense);
  EXPECT_EQ(meta["provenance"]["reencoded"][0]["source"]["sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(meta["provenance"]["tool"], "sparq convert");  // the import's record is kept
}

TEST_F(ConvertRecipe, BadRecipesAndFlagCombinationsAreRefused) {
  const std::string out = dir + "/x.sparq";
  const std::string recipe = dir + "/typo.json";
  write_file(recipe, R"({"rules": [{"match": "layers.*.fnn.*", "sparsity": 0.5}]})");
  auto r = run_sparq({"convert", "--from", "hf", dir + "/dense", "-o", out, "--recipe", recipe});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(recipe + ": rules[0].match: 'layers.*.fnn.*' matches no tensor"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));

  write_file(recipe, R"({"rules": [{"match": "*", "sparsity": 0.5, "encoding": "q3"}]})");
  r = run_sparq({"convert", "--from", "hf", dir + "/dense", "-o", out, "--recipe", recipe});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(recipe + ": rules[0].encoding"), std::string::npos) << r.err;

  r = run_sparq({"convert", "--from", "hf", dir + "/dense", "-o", out, "--recipe", recipe, "--prune", "0.5"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  r = run_sparq({"convert", "--from", "hf", dir + "/dense", "-o", out, "--prune", "0.5", "--pattern", "3x3"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("3x3"), std::string::npos) << r.err;
  r = run_sparq({"convert", "--from", "sparq", dir + "/dense.sparq", "-o", out});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  r = run_sparq({"convert", "--from", "hf", dir + "/dense", "-o", out, "--pattern", "4x4"});  // without --prune
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
  // The classifier's 3 rows are not a multiple of the 4x4 block.
  r = run_sparq({"convert", "--from", "hf", dir + "/dense", "-o", out, "--prune", "0.5", "--pattern", "4x4", "--include",
                 "classifier.weight"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("'classifier.weight'"), std::string::npos) << r.err;
}

}  // namespace
