// End-to-end: small Hugging Face checkpoint directories (config.json, safetensors with random
// weights, tokenizer files) written here for each supported layout, converted by the real
// `sparq convert`, then read back with SparqReader. The expected canonical tensors are
// recorded while the Hugging Face tensors are generated (Q, K, V concatenated in that
// order), so every stored tensor is compared with the values it must hold.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "cli_runner.h"
#include "formats/safetensors_test_writer.h"
#include "formats/sparq_reader.h"
#include "formats/tensor_codec.h"

namespace {

using nlohmann::json;
using sparq::test::run_sparq;
using sparq::test::StEntry;
using sparq::test::temp_dir;
using sparq::test::write_file;
namespace fs = std::filesystem;

struct Dims {
  uint64_t vocab = 40, hidden = 16, heads = 2, layers = 2, inter = 32, positions = 24, types = 2;
};

// A checkpoint being built: the Hugging Face tensors (file order) and what each canonical
// tensor must hold after conversion.
struct Checkpoint {
  explicit Checkpoint(std::string d = "") : dir(std::move(d)) {}
  std::string dir;
  std::vector<StEntry> tensors;
  std::map<std::string, std::vector<float>> canonical;
  std::mt19937 rng{1234};
  bool bf16 = false;  // store BF16 (values k/256, |k| < 256, which BF16 holds exactly)

  std::vector<float> random(size_t n) {
    std::normal_distribution<float> dist(0.0f, 0.5f);
    std::uniform_int_distribution<int> k(-255, 255);
    std::vector<float> v(n);
    for (float& x : v) x = bf16 ? static_cast<float>(k(rng)) / 256.0f : dist(rng);
    return v;
  }
  // BF16 is the upper half of the f32 bit pattern.
  StEntry entry(const std::string& name, std::vector<uint64_t> shape, const std::vector<float>& v) const {
    if (!bf16) return sparq::test::st_f32(name, std::move(shape), v);
    StEntry e{name, "BF16", std::move(shape), std::vector<uint8_t>(2 * v.size())};
    for (size_t i = 0; i < v.size(); ++i) {
      uint32_t bits;
      std::memcpy(&bits, &v[i], 4);
      e.bytes[2 * i] = static_cast<uint8_t>(bits >> 16);
      e.bytes[2 * i + 1] = static_cast<uint8_t>(bits >> 24);
    }
    return e;
  }
  std::vector<float> tensor(const std::string& hf, std::vector<uint64_t> shape, const std::string& canonical_name) {
    size_t n = 1;
    for (uint64_t d : shape) n *= d;
    std::vector<float> v = random(n);
    tensors.push_back(entry(hf, shape, v));
    if (!canonical_name.empty()) canonical[canonical_name] = v;
    return v;
  }
  void linear(const std::string& hf, uint64_t out, uint64_t in, const std::string& canonical_name) {
    tensor(hf + ".weight", {out, in}, canonical_name + ".weight");
    tensor(hf + ".bias", {out}, canonical_name + ".bias");
  }
  void norm(const std::string& hf, uint64_t h, const std::string& canonical_name) {
    tensor(hf + ".weight", {h}, canonical_name + ".weight");
    tensor(hf + ".bias", {h}, canonical_name + ".bias");
  }
  void qkv(const std::string& q, const std::string& k, const std::string& v, uint64_t h, const std::string& canonical_name) {
    for (const char* part : {".weight", ".bias"}) {
      std::vector<uint64_t> shape = part == std::string(".weight") ? std::vector<uint64_t>{h, h} : std::vector<uint64_t>{h};
      std::vector<float> all;
      for (const std::string& name : {q, k, v}) {
        std::vector<float> x = tensor(name + part, shape, "");
        all.insert(all.end(), x.begin(), x.end());
      }
      canonical[canonical_name + part] = all;
    }
  }
  void write_weights(const std::string& file = "model.safetensors") {
    write_file(dir + "/" + file, sparq::test::st_file_bytes(tensors));
  }
};

// BERT / RoBERTa body under `p` ("bert.", "roberta." or "").
void bert_body(Checkpoint& c, const std::string& p, const Dims& d) {
  const uint64_t h = d.hidden;
  c.tensor(p + "embeddings.word_embeddings.weight", {d.vocab, h}, "embeddings.word.weight");
  c.tensor(p + "embeddings.position_embeddings.weight", {d.positions, h}, "embeddings.position.weight");
  c.tensor(p + "embeddings.token_type_embeddings.weight", {d.types, h}, "embeddings.token_type.weight");
  c.norm(p + "embeddings.LayerNorm", h, "embeddings.norm");
  for (uint64_t i = 0; i < d.layers; ++i) {
    const std::string l = "layers." + std::to_string(i) + ".";
    const std::string s = p + "encoder.layer." + std::to_string(i) + ".";
    c.qkv(s + "attention.self.query", s + "attention.self.key", s + "attention.self.value", h, l + "attention.qkv");
    c.linear(s + "attention.output.dense", h, h, l + "attention.output");
    c.norm(s + "attention.output.LayerNorm", h, l + "attention.norm");
    c.linear(s + "intermediate.dense", d.inter, h, l + "ffn.up");
    c.linear(s + "output.dense", h, d.inter, l + "ffn.down");
    c.norm(s + "output.LayerNorm", h, l + "ffn.norm");
  }
}

void distilbert_body(Checkpoint& c, const std::string& p, const Dims& d) {
  const uint64_t h = d.hidden;
  c.tensor(p + "embeddings.word_embeddings.weight", {d.vocab, h}, "embeddings.word.weight");
  c.tensor(p + "embeddings.position_embeddings.weight", {d.positions, h}, "embeddings.position.weight");
  c.norm(p + "embeddings.LayerNorm", h, "embeddings.norm");
  for (uint64_t i = 0; i < d.layers; ++i) {
    const std::string l = "layers." + std::to_string(i) + ".";
    const std::string s = p + "transformer.layer." + std::to_string(i) + ".";
    c.qkv(s + "attention.q_lin", s + "attention.k_lin", s + "attention.v_lin", h, l + "attention.qkv");
    c.linear(s + "attention.out_lin", h, h, l + "attention.output");
    c.norm(s + "sa_layer_norm", h, l + "attention.norm");
    c.linear(s + "ffn.lin1", d.inter, h, l + "ffn.up");
    c.linear(s + "ffn.lin2", h, d.inter, l + "ffn.down");
    c.norm(s + "output_layer_norm", h, l + "ffn.norm");
  }
}

json bert_config(const Dims& d, const std::string& arch, const std::string& model_type = "bert") {
  return {{"architectures", {arch}}, {"model_type", model_type}, {"vocab_size", d.vocab},
          {"hidden_size", d.hidden}, {"num_hidden_layers", d.layers}, {"num_attention_heads", d.heads},
          {"intermediate_size", d.inter}, {"max_position_embeddings", d.positions},
          {"type_vocab_size", d.types}, {"hidden_act", "gelu"}, {"layer_norm_eps", 1e-12},
          {"position_embedding_type", "absolute"}, {"pad_token_id", 0}};
}

json distilbert_config(const Dims& d, const std::string& arch) {
  return {{"architectures", {arch}}, {"model_type", "distilbert"}, {"vocab_size", d.vocab},
          {"dim", d.hidden}, {"n_layers", d.layers}, {"n_heads", d.heads}, {"hidden_dim", d.inter},
          {"max_position_embeddings", d.positions}, {"activation", "gelu"}, {"sinusoidal_pos_embds", false}};
}

// A BERT vocab.txt of `n` tokens: the five specials at 0..4, then ordinary tokens.
std::vector<std::string> vocab_tokens(uint64_t n) {
  std::vector<std::string> t = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  for (uint64_t i = t.size(); i < n; ++i) t.push_back(i % 2 ? "tok" + std::to_string(i) : "##w" + std::to_string(i));
  return t;
}

void write_vocab(const std::string& dir, uint64_t n) {
  std::string text;
  for (const std::string& t : vocab_tokens(n)) text += t + "\n";
  write_file(dir + "/vocab.txt", text);
}

json tiny_tokenizer_json() {
  return {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr},
          {"added_tokens", {{{"id", 0}, {"content", "<s>"}, {"special", true}}}},
          {"model", {{"type", "BPE"}, {"vocab", {{"<s>", 0}, {"<pad>", 1}, {"a", 2}, {"b", 3}}}, {"merges", json::array()}}}};
}

std::string make_dir(const std::string& name) {
  std::string dir = temp_dir("convert_hf_" + name);
  fs::create_directories(dir + "/model");
  return dir;
}

struct Converted {
  sparq::test::CliResult cli;
  std::unique_ptr<sparq::formats::SparqReader> reader;
};

Converted convert(const std::string& model_dir, const std::string& out, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"convert", "--from", "hf", model_dir, "-o", out};
  args.insert(args.end(), extra.begin(), extra.end());
  Converted c;
  c.cli = run_sparq(args);
  if (c.cli.exit_code == 0) {
    auto r = sparq::formats::SparqReader::open(out);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
    if (r.ok()) c.reader = std::move(r.value());
  }
  return c;
}

std::vector<float> decoded(const sparq::formats::SparqReader& r, const std::string& name) {
  const auto* t = r.find(name);
  EXPECT_NE(t, nullptr) << name;
  if (t == nullptr) return {};
  auto v = sparq::formats::decode_tensor(t->desc, t->payload);
  EXPECT_TRUE(v.ok()) << name;
  return v.ok() ? *v : std::vector<float>{};
}

// Every canonical tensor is stored and holds the expected values within `bound(name,
// expected, i)`; the file holds nothing else.
template <class Bound>
void expect_tensors(const sparq::formats::SparqReader& r, const std::map<std::string, std::vector<float>>& expected,
                    Bound bound) {
  EXPECT_EQ(r.tensors().size(), expected.size());
  for (const auto& t : r.tensors()) EXPECT_TRUE(expected.count(t.desc.name)) << "unexpected tensor " << t.desc.name;
  for (const auto& [name, want] : expected) {
    std::vector<float> got = decoded(r, name);
    ASSERT_EQ(got.size(), want.size()) << name;
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_LE(std::fabs(got[i] - want[i]), bound(name, want, i)) << name << "[" << i << "]";
    }
  }
}

auto exact = [](const std::string&, const std::vector<float>&, size_t) { return 0.0f; };

std::string sha256sum(const std::string& path) {
  std::string cmd = "sha256sum '" + path + "'";
  std::FILE* p = popen(cmd.c_str(), "r");
  char buf[128] = {};
  std::string out = std::fgets(buf, sizeof buf, p) ? std::string(buf) : "";
  pclose(p);
  return out.substr(0, 64);
}

TEST(ConvertHf, BertForSequenceClassificationF32IsExactWithLabelsTokenizerAndProvenance) {
  std::string root = make_dir("bert_cls");
  std::string dir = root + "/model";
  Dims d;
  Checkpoint c{dir};
  bert_body(c, "bert.", d);
  c.linear("bert.pooler.dense", d.hidden, d.hidden, "pooler");
  c.linear("classifier", 3, d.hidden, "classifier");
  // Tensors a classifier does not use: an integer buffer and an MLM head.
  c.tensors.push_back({"bert.embeddings.position_ids", "I64", {1, d.positions}, std::vector<uint8_t>(8 * d.positions)});
  c.tensor("cls.predictions.bias", {d.vocab}, "");
  c.write_weights();
  json config = bert_config(d, "BertForSequenceClassification");
  config["id2label"] = {{"2", "positive"}, {"0", "negative"}, {"1", "neutral"}};
  write_file(dir + "/config.json", config.dump());
  write_vocab(dir, d.vocab);
  write_file(dir + "/tokenizer_config.json", json{{"do_lower_case", false}, {"model_max_length", 16}}.dump());

  std::string out = root + "/m.sparq";
  Converted r = convert(dir, out, {"--json"});
  ASSERT_EQ(r.cli.exit_code, 0) << r.cli.err;
  ASSERT_TRUE(r.reader);
  expect_tensors(*r.reader, c.canonical, exact);

  const json& meta = r.reader->metadata();
  const json& a = meta["architecture"];
  EXPECT_EQ(a["name"], "bert");
  EXPECT_EQ(a["hidden_size"], d.hidden);
  EXPECT_EQ(a["num_layers"], d.layers);
  EXPECT_EQ(a["num_heads"], d.heads);
  EXPECT_EQ(a["intermediate_size"], d.inter);
  EXPECT_EQ(a["max_positions"], d.positions);
  EXPECT_EQ(a["vocab_size"], d.vocab);
  EXPECT_EQ(a["type_vocab_size"], 2);
  EXPECT_EQ(a["num_labels"], 3);
  EXPECT_EQ(a["position_offset"], 0);
  EXPECT_EQ(a["pooler"], "tanh");
  EXPECT_EQ(a["pooling"], "pooler");
  EXPECT_EQ(a["activation"], "gelu");
  EXPECT_EQ(meta["labels"], json({"negative", "neutral", "positive"}));
  EXPECT_EQ(meta["max_tokens"], 16);

  // The tokenizer built from vocab.txt: WordPiece over the file's lines, casing as configured.
  const json& tok = meta["tokenizer"];
  EXPECT_EQ(tok["model"]["type"], "WordPiece");
  EXPECT_EQ(tok["model"]["unk_token"], "[UNK]");
  EXPECT_EQ(tok["model"]["continuing_subword_prefix"], "##");
  EXPECT_EQ(tok["model"]["max_input_chars_per_word"], 100);
  std::vector<std::string> words = vocab_tokens(d.vocab);
  ASSERT_EQ(tok["model"]["vocab"].size(), words.size());
  for (size_t i = 0; i < words.size(); ++i) EXPECT_EQ(tok["model"]["vocab"][words[i]], i) << words[i];
  EXPECT_EQ(tok["normalizer"]["type"], "BertNormalizer");
  EXPECT_EQ(tok["normalizer"]["lowercase"], false);
  EXPECT_EQ(tok["normalizer"]["handle_chinese_chars"], true);
  EXPECT_TRUE(tok["normalizer"]["strip_accents"].is_null());
  EXPECT_EQ(tok["pre_tokenizer"]["type"], "BertPreTokenizer");
  EXPECT_EQ(tok["post_processor"]["special_tokens"]["[CLS]"]["ids"], json({2}));
  EXPECT_EQ(tok["post_processor"]["special_tokens"]["[SEP]"]["ids"], json({3}));
  ASSERT_EQ(tok["post_processor"]["pair"].size(), 5u);
  EXPECT_EQ(tok["post_processor"]["pair"][3]["Sequence"]["type_id"], 1);
  ASSERT_EQ(tok["added_tokens"].size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(tok["added_tokens"][i]["id"], i);
    EXPECT_EQ(tok["added_tokens"][i]["content"], words[i]);
    EXPECT_EQ(tok["added_tokens"][i]["special"], true);
  }

  // Provenance: each file with its size and SHA-256 (checked against coreutils' sha256sum).
  const json& sources = meta["provenance"]["sources"];
  std::set<std::string> names;
  for (const json& s : sources) {
    std::string path = s["path"];
    names.insert(fs::path(path).filename().string());
    EXPECT_EQ(s["sha256"], sha256sum(path)) << path;
    EXPECT_EQ(s["bytes"], fs::file_size(path)) << path;
  }
  for (const char* f : {"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"}) {
    EXPECT_TRUE(names.count(f)) << f;
  }
  EXPECT_EQ(meta["provenance"]["conversion"]["weights"], "f32");

  // The JSON summary, and the note listing the tensors left out.
  json summary = json::parse(r.cli.out);
  EXPECT_EQ(summary["hf_architecture"], "BertForSequenceClassification");
  EXPECT_EQ(summary["tensors"].size(), c.canonical.size());
  EXPECT_EQ(summary["file_bytes"], fs::file_size(out));
  EXPECT_EQ(summary["source_bytes"], fs::file_size(dir + "/model.safetensors"));
  ASSERT_EQ(summary["notes"].size(), 1u);
  std::string note = summary["notes"][0];
  EXPECT_NE(note.find("bert.embeddings.position_ids"), std::string::npos) << note;
  EXPECT_NE(note.find("cls.predictions.bias"), std::string::npos) << note;

  // The readable table names the encodings and totals.
  Converted table = convert(dir, root + "/t.sparq");
  ASSERT_EQ(table.cli.exit_code, 0) << table.cli.err;
  EXPECT_NE(table.cli.out.find("f32"), std::string::npos);
  EXPECT_NE(table.cli.out.find("total"), std::string::npos);
  EXPECT_NE(table.cli.out.find("parameters"), std::string::npos);
}

// q8 (one scale per row): |w - ŵ| ≤ max|row| / 127 / 2, plus f32 rounding.
auto q8_row_bound(uint64_t cols) {
  return [cols](const std::string&, const std::vector<float>& w, size_t i) {
    size_t row = i / cols;
    float m = 0;
    for (size_t c = 0; c < cols; ++c) m = std::max(m, std::fabs(w[row * cols + c]));
    return m / 127.0f / 2.0f * 1.0001f + 1e-7f;
  };
}

TEST(ConvertHf, BareBertModelWithoutPrefixOrPoolerQ8WeightsF16Embeddings) {
  std::string root = make_dir("bert_bare");
  std::string dir = root + "/model";
  Dims d;
  Checkpoint c{dir};
  bert_body(c, "", d);
  c.write_weights();
  json config = bert_config(d, "BertModel");
  config["hidden_act"] = "gelu_new";
  write_file(dir + "/config.json", config.dump());
  write_vocab(dir, d.vocab);

  Converted r = convert(dir, root + "/m.sparq", {"--weights", "q8", "--embeddings", "f16"});
  ASSERT_EQ(r.cli.exit_code, 0) << r.cli.err;
  ASSERT_TRUE(r.reader);
  const json& a = r.reader->metadata()["architecture"];
  EXPECT_EQ(a["pooler"], "none");
  EXPECT_EQ(a["pooling"], "cls");
  EXPECT_EQ(a["num_labels"], 0);
  EXPECT_EQ(a["activation"], "gelu_tanh");
  EXPECT_FALSE(r.reader->metadata().contains("labels"));
  // Without tokenizer_config.json the truncation length is the position table's.
  EXPECT_EQ(r.reader->metadata()["max_tokens"], d.positions);
  EXPECT_EQ(r.reader->find("layers.1.ffn.down.weight")->desc.encoding_string(), "q8");
  EXPECT_EQ(r.reader->find("embeddings.word.weight")->desc.encoding_string(), "f16");
  EXPECT_EQ(r.reader->find("layers.1.ffn.down.bias")->desc.encoding_string(), "f32");
  expect_tensors(*r.reader, c.canonical, [&](const std::string& name, const std::vector<float>& w, size_t i) {
    if (name == "embeddings.word.weight" || name == "embeddings.position.weight" ||
        name == "embeddings.token_type.weight") {
      // f16 rounds to nearest with 11 significant bits (fixed 2^-25 steps below 2^-14).
      return std::max(std::fabs(w[i]) * 0x1.0p-11f, 0x1.0p-25f);
    }
    if (name.ends_with(".weight") && name.starts_with("layers.") && name.find(".norm.") == std::string::npos) {
      uint64_t cols = r.reader->find(name)->desc.cols();
      return q8_row_bound(cols)(name, w, i);
    }
    return 0.0f;
  });
}

// A pre-training checkpoint (what bert-base-uncased ships): the body becomes an embedder,
// the masked-LM head is left out and said so.
TEST(ConvertHf, BertForMaskedLMImportsTheBodyAsAnEmbedder) {
  std::string dir = make_dir("bert_masked_lm");
  Dims d;
  Checkpoint c{dir};
  bert_body(c, "bert.", d);
  c.tensor("cls.predictions.bias", {d.vocab}, "");
  c.write_weights();
  write_file(dir + "/config.json", bert_config(d, "BertForMaskedLM").dump());
  write_vocab(dir, d.vocab);
  Converted r = convert(dir, dir + "/m.sparq");
  ASSERT_EQ(r.cli.exit_code, 0) << r.cli.err;
  ASSERT_TRUE(r.reader);
  expect_tensors(*r.reader, c.canonical, exact);
  const auto& a = r.reader->metadata()["architecture"];
  EXPECT_EQ(a["num_labels"], 0);
  EXPECT_EQ(a["pooler"], "none");
  EXPECT_EQ(a["pooling"], "cls");
  EXPECT_NE(r.cli.out.find("cls.predictions.bias"), std::string::npos) << r.cli.out;
}

TEST(ConvertHf, RobertaForSequenceClassificationMapsHeadAndPositionOffset) {
  std::string root = make_dir("roberta_cls");
  std::string dir = root + "/model";
  Dims d;
  d.types = 1;
  Checkpoint c{dir};
  bert_body(c, "roberta.", d);
  c.linear("classifier.dense", d.hidden, d.hidden, "pooler");
  c.linear("classifier.out_proj", 2, d.hidden, "classifier");
  c.write_weights();
  json config = bert_config(d, "RobertaForSequenceClassification", "roberta");
  config["pad_token_id"] = 1;
  write_file(dir + "/config.json", config.dump());
  write_file(dir + "/tokenizer.json", tiny_tokenizer_json().dump());

  Converted r = convert(dir, root + "/m.sparq");
  ASSERT_EQ(r.cli.exit_code, 0) << r.cli.err;
  ASSERT_TRUE(r.reader);
  expect_tensors(*r.reader, c.canonical, exact);
  const json& meta = r.reader->metadata();
  EXPECT_EQ(meta["architecture"]["position_offset"], 2);
  EXPECT_EQ(meta["architecture"]["type_vocab_size"], 1);
  EXPECT_EQ(meta["architecture"]["pooler"], "tanh");
  EXPECT_EQ(meta["architecture"]["pooling"], "pooler");
  EXPECT_EQ(meta["architecture"]["num_labels"], 2);
  EXPECT_EQ(meta["tokenizer"], tiny_tokenizer_json());
  EXPECT_EQ(meta["max_tokens"], d.positions - 2);
}

TEST(ConvertHf, RobertaModelKeepsItsPooler) {
  std::string root = make_dir("roberta_model");
  std::string dir = root + "/model";
  Dims d;
  d.types = 1;
  Checkpoint c{dir};
  bert_body(c, "roberta.", d);
  c.linear("roberta.pooler.dense", d.hidden, d.hidden, "pooler");
  c.write_weights();
  json config = bert_config(d, "RobertaModel", "roberta");
  config["pad_token_id"] = 1;
  write_file(dir + "/config.json", config.dump());
  write_file(dir + "/tokenizer.json", tiny_tokenizer_json().dump());

  Converted r = convert(dir, root + "/m.sparq");
  ASSERT_EQ(r.cli.exit_code, 0) << r.cli.err;
  ASSERT_TRUE(r.reader);
  expect_tensors(*r.reader, c.canonical, exact);
  EXPECT_EQ(r.reader->metadata()["architecture"]["pooler"], "tanh");
  EXPECT_EQ(r.reader->metadata()["architecture"]["pooling"], "cls");
  EXPECT_EQ(r.reader->metadata()["architecture"]["num_labels"], 0);
}

TEST(ConvertHf, DistilBertForSequenceClassificationHasNoTokenTypesAndReluPooler) {
  std::string root = make_dir("distilbert_cls");
  std::string dir = root + "/model";
  Dims d;
  Checkpoint c{dir};
  distilbert_body(c, "distilbert.", d);
  c.linear("pre_classifier", d.hidden, d.hidden, "pooler");
  c.linear("classifier", 4, d.hidden, "classifier");
  c.write_weights();
  json config = distilbert_config(d, "DistilBertForSequenceClassification");
  config["id2label"] = {{"0", "a"}, {"1", "b"}, {"2", "c"}, {"3", "d"}};
  write_file(dir + "/config.json", config.dump());
  write_vocab(dir, d.vocab);

  Converted r = convert(dir, root + "/m.sparq");
  ASSERT_EQ(r.cli.exit_code, 0) << r.cli.err;
  ASSERT_TRUE(r.reader);
  expect_tensors(*r.reader, c.canonical, exact);
  const json& a = r.reader->metadata()["architecture"];
  EXPECT_EQ(a["type_vocab_size"], 0);
  EXPECT_EQ(a["pooler"], "relu");
  EXPECT_EQ(a["pooling"], "pooler");
  EXPECT_EQ(a["num_labels"], 4);
  EXPECT_DOUBLE_EQ(a["layer_norm_eps"].get<double>(), 1e-12);
  EXPECT_EQ(r.reader->metadata()["labels"], json({"a", "b", "c", "d"}));
}

TEST(ConvertHf, DistilBertModelQ4WeightsWithinGroupBound) {
  std::string root = make_dir("distilbert_model");
  std::string dir = root + "/model";
  Dims d;
  d.hidden = 64, d.inter = 128;
  Checkpoint c{dir};
  distilbert_body(c, "distilbert.", d);
  c.write_weights();
  write_file(dir + "/config.json", distilbert_config(d, "DistilBertModel").dump());
  write_vocab(dir, d.vocab);

  Converted r = convert(dir, root + "/m.sparq", {"--weights", "q4:32"});
  ASSERT_EQ(r.cli.exit_code, 0) << r.cli.err;
  ASSERT_TRUE(r.reader);
  EXPECT_EQ(r.reader->find("layers.0.ffn.up.weight")->desc.encoding_string(), "q4:g32");
  EXPECT_EQ(r.reader->metadata()["architecture"]["pooler"], "none");
  expect_tensors(*r.reader, c.canonical, [&](const std::string& name, const std::vector<float>& w, size_t i) {
    const auto* t = r.reader->find(name);
    if (t->desc.encoding != sparq::formats::Encoding::q4) return 0.0f;
    // Symmetric q4 over groups of 32: |w - ŵ| ≤ max|group| / 7 / 2.
    size_t start = i / 32 * 32;  // cols are multiples of 32 here, so groups never straddle rows
    float m = 0;
    for (size_t k = start; k < start + 32; ++k) m = std::max(m, std::fabs(w[k]));
    return m / 7.0f / 2.0f * 1.0001f + 1e-7f;
  });
}

TEST(ConvertHf, SentenceTransformersMeanPoolingNormalizeWeightsInRoot) {
  std::string root = make_dir("sentence_transformers");
  Dims d;
  Checkpoint c{root};
  bert_body(c, "", d);
  c.write_weights();
  write_file(root + "/config.json", bert_config(d, "BertModel").dump());
  write_vocab(root, d.vocab);
  write_file(root + "/modules.json",
             json::array({{{"idx", 0}, {"name", "0"}, {"path", ""}, {"type", "sentence_transformers.models.Transformer"}},
                          {{"idx", 1}, {"name", "1"}, {"path", "1_Pooling"}, {"type", "sentence_transformers.models.Pooling"}},
                          {{"idx", 2}, {"name", "2"}, {"path", "2_Normalize"}, {"type", "sentence_transformers.models.Normalize"}}})
                 .dump());
  fs::create_directories(root + "/1_Pooling");
  write_file(root + "/1_Pooling/config.json",
             json{{"word_embedding_dimension", d.hidden}, {"pooling_mode_cls_token", false},
                  {"pooling_mode_mean_tokens", true}, {"pooling_mode_max_tokens", false},
                  {"pooling_mode_mean_sqrt_len_tokens", false}}
                 .dump());
  write_file(root + "/sentence_bert_config.json", json{{"max_seq_length", 12}, {"do_lower_case", false}}.dump());

  Converted r = convert(root, root + "/m.sparq");
  ASSERT_EQ(r.cli.exit_code, 0) << r.cli.err;
  ASSERT_TRUE(r.reader);
  expect_tensors(*r.reader, c.canonical, exact);
  const json& a = r.reader->metadata()["architecture"];
  EXPECT_EQ(a["pooling"], "mean");
  EXPECT_EQ(a["normalize"], true);
  EXPECT_EQ(a["num_labels"], 0);
  EXPECT_EQ(r.reader->metadata()["max_tokens"], 12);

  // CLS pooling, no Normalize module.
  write_file(root + "/modules.json",
             json::array({{{"idx", 0}, {"name", "0"}, {"path", ""}, {"type", "sentence_transformers.models.Transformer"}},
                          {{"idx", 1}, {"name", "1"}, {"path", "1_Pooling"}, {"type", "sentence_transformers.models.Pooling"}}})
                 .dump());
  write_file(root + "/1_Pooling/config.json",
             json{{"pooling_mode_cls_token", true}, {"pooling_mode_mean_tokens", false}}.dump());
  Converted cls = convert(root, root + "/cls.sparq");
  ASSERT_EQ(cls.cli.exit_code, 0) << cls.cli.err;
  EXPECT_EQ(cls.reader->metadata()["architecture"]["pooling"], "cls");
  EXPECT_EQ(cls.reader->metadata()["architecture"]["normalize"], false);

  // A Dense projection module is refused, naming modules.json.
  write_file(root + "/modules.json",
             json::array({{{"idx", 0}, {"path", ""}, {"type", "sentence_transformers.models.Transformer"}},
                          {{"idx", 1}, {"path", "1_Pooling"}, {"type", "sentence_transformers.models.Pooling"}},
                          {{"idx", 2}, {"path", "2_Dense"}, {"type", "sentence_transformers.models.Dense"}}})
                 .dump());
  Converted dense = convert(root, root + "/dense.sparq");
  EXPECT_EQ(dense.cli.exit_code, 4);
  EXPECT_NE(dense.cli.err.find("modules.json"), std::string::npos) << dense.cli.err;
  EXPECT_NE(dense.cli.err.find("Dense"), std::string::npos) << dense.cli.err;
}

// The layout sentence-transformers 1.x saved: the Transformer module in 0_Transformer/ with
// its own config (whose head class does not matter: the body is loaded), weights and
// tokenizer.
TEST(ConvertHf, SentenceTransformersTransformerModuleInSubdirectory) {
  std::string root = make_dir("sentence_transformers_subdir");
  std::string dir = root + "/0_Transformer";
  fs::create_directories(dir);
  Dims d;
  Checkpoint c{dir};
  bert_body(c, "bert.", d);
  c.tensor("cls.predictions.bias", {d.vocab}, "");
  c.write_weights();
  write_file(dir + "/config.json", bert_config(d, "BertForMaskedLM").dump());
  write_vocab(dir, d.vocab);
  write_file(root + "/modules.json",
             json::array({{{"idx", 0}, {"path", "0_Transformer"}, {"type", "sentence_transformers.models.Transformer"}},
                          {{"idx", 1}, {"path", "1_Pooling"}, {"type", "sentence_transformers.models.Pooling"}}})
                 .dump());
  fs::create_directories(root + "/1_Pooling");
  write_file(root + "/1_Pooling/config.json", json{{"pooling_mode_max_tokens", true}}.dump());

  Converted r = convert(root, root + "/m.sparq");
  ASSERT_EQ(r.cli.exit_code, 0) << r.cli.err;
  ASSERT_TRUE(r.reader);
  expect_tensors(*r.reader, c.canonical, exact);
  EXPECT_EQ(r.reader->metadata()["architecture"]["pooling"], "max");
  EXPECT_EQ(r.reader->metadata()["architecture"]["normalize"], false);

  // Two pooling modes at once (sentence-transformers would concatenate them) are refused.
  write_file(root + "/1_Pooling/config.json",
             json{{"pooling_mode_max_tokens", true}, {"pooling_mode_mean_tokens", true}}.dump());
  Converted both = convert(root, root + "/both.sparq");
  EXPECT_EQ(both.cli.exit_code, 4);
  EXPECT_NE(both.cli.err.find("1_Pooling/config.json"), std::string::npos) << both.cli.err;
}

// vocab.txt + tokenizer_config.json become the tokenizer.json BertTokenizerFast would
// build: lines split as Python's text mode splits them (CRLF too), a repeated token keeps
// its last line, casing / accents / CJK flags and special tokens from the config, and a
// special token missing from vocab.txt appended after it.
TEST(ConvertHf, VocabTxtTokenizerFollowsTokenizerConfig) {
  std::string root = make_dir("vocab_txt");
  std::string dir = root + "/model";
  Dims d;
  Checkpoint c{dir};
  bert_body(c, "bert.", d);
  c.write_weights();
  write_file(dir + "/config.json", bert_config(d, "BertModel").dump());
  // 38 lines for a 40-row embedding table; "dup" on lines 5 and 7.
  std::vector<std::string> lines = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "dup", "##lo", "dup"};
  while (lines.size() < 38) lines.push_back("w" + std::to_string(lines.size()));
  std::string text;
  for (const std::string& l : lines) text += l + "\r\n";
  write_file(dir + "/vocab.txt", text);
  write_file(dir + "/tokenizer_config.json",
             json{{"tokenizer_class", "BertTokenizer"}, {"do_lower_case", true}, {"strip_accents", false},
                  {"tokenize_chinese_chars", false}, {"cls_token", {{"content", "[CLS]"}, {"lstrip", false}}},
                  {"mask_token", "<mask>"}, {"model_max_length", 1000000000000000019884624838656.0}}
                 .dump());

  Converted r = convert(dir, root + "/m.sparq");
  ASSERT_EQ(r.cli.exit_code, 0) << r.cli.err;
  ASSERT_TRUE(r.reader);
  const json& tok = r.reader->metadata()["tokenizer"];
  // The "effectively unlimited" model_max_length falls back to the position table.
  EXPECT_EQ(r.reader->metadata()["max_tokens"], d.positions);
  EXPECT_EQ(tok["normalizer"]["lowercase"], true);
  EXPECT_EQ(tok["normalizer"]["strip_accents"], false);
  EXPECT_EQ(tok["normalizer"]["handle_chinese_chars"], false);
  const json& vocab = tok["model"]["vocab"];
  EXPECT_EQ(vocab.size(), 37u);  // 38 lines, one token twice
  EXPECT_EQ(vocab["hello"], 4);
  EXPECT_EQ(vocab["dup"], 7);
  EXPECT_EQ(vocab["##lo"], 6);
  EXPECT_EQ(vocab["w37"], 37);
  EXPECT_FALSE(vocab.contains("<mask>"));
  json contents = json::array(), ids = json::array();
  for (const json& t : tok["added_tokens"]) {
    contents.push_back(t["content"]);
    ids.push_back(t["id"]);
    EXPECT_EQ(t["normalized"], false);
  }
  EXPECT_EQ(contents, json({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "<mask>"}));
  EXPECT_EQ(ids, json({0, 1, 2, 3, 38}));

  // A recent tokenizer_config.json lists the added tokens itself (added_tokens_decoder).
  write_file(dir + "/tokenizer_config.json",
             json{{"added_tokens_decoder",
                   {{"1", {{"content", "[UNK]"}, {"special", true}, {"normalized", false}}},
                    {"39", {{"content", "<extra>"}, {"special", false}, {"normalized", true}, {"lstrip", true}}}}}}
                 .dump());
  Converted decoder = convert(dir, root + "/decoder.sparq");
  ASSERT_EQ(decoder.cli.exit_code, 0) << decoder.cli.err;
  const json& added = decoder.reader->metadata()["tokenizer"]["added_tokens"];
  ASSERT_EQ(added.size(), 2u);
  EXPECT_EQ(added[0]["id"], 1);
  EXPECT_EQ(added[1]["id"], 39);
  EXPECT_EQ(added[1]["content"], "<extra>");
  EXPECT_EQ(added[1]["special"], false);
  EXPECT_EQ(added[1]["normalized"], true);
  EXPECT_EQ(added[1]["lstrip"], true);
  // Defaults without tokenizer_config.json flags: lowercase, strip_accents null, CJK spacing.
  EXPECT_EQ(decoder.reader->metadata()["tokenizer"]["normalizer"]["lowercase"], true);
  EXPECT_TRUE(decoder.reader->metadata()["tokenizer"]["normalizer"]["strip_accents"].is_null());
  EXPECT_EQ(decoder.reader->metadata()["tokenizer"]["normalizer"]["handle_chinese_chars"], true);

  // A tokenizer whose ids run past the embedding table is refused: 40 lines fill the
  // 40-row table and "<mask>" is appended as id 40.
  write_file(dir + "/tokenizer_config.json", json{{"mask_token", "<mask>"}}.dump());
  lines.resize(40);
  for (size_t i = 38; i < 40; ++i) lines[i] = "x" + std::to_string(i);
  text.clear();
  for (const std::string& l : lines) text += l + "\n";
  write_file(dir + "/vocab.txt", text);
  Converted past = convert(dir, root + "/past.sparq");
  EXPECT_EQ(past.cli.exit_code, 2);
  EXPECT_NE(past.cli.err.find("vocab_size"), std::string::npos) << past.cli.err;
}

// A BF16 checkpoint (values k/256 with |k| < 256: 8 significant bits, so BF16 holds them
// exactly) converts exactly to f32, to f16 weights, and with --compress.
TEST(ConvertHf, Bf16CheckpointConvertsExactlyToF32AndF16AndCompressed) {
  std::string root = make_dir("bf16");
  std::string dir = root + "/model";
  Dims d;
  Checkpoint c{dir};
  c.bf16 = true;
  bert_body(c, "", d);
  c.write_weights();
  write_file(dir + "/config.json", bert_config(d, "BertModel").dump());
  write_vocab(dir, d.vocab);

  for (const std::vector<std::string>& extra : {std::vector<std::string>{}, {"--weights", "f16", "--embeddings", "f16"},
                                                {"--compress"}}) {
    Converted r = convert(dir, root + "/m.sparq", extra);
    ASSERT_EQ(r.cli.exit_code, 0) << r.cli.err;
    ASSERT_TRUE(r.reader);
    expect_tensors(*r.reader, c.canonical, exact);
  }
}

// With --compress the report gives what the file holds: "+zstd" where zstd paid, and the
// bytes on disk.
TEST(ConvertHf, CompressedReportMatchesTheFile) {
  std::string root = make_dir("compressed_report");
  std::string dir = root + "/model";
  Dims d;
  Checkpoint c{dir};
  c.bf16 = true;  // f32 values with 16 zero bits: zstd pays on every matrix
  bert_body(c, "", d);
  c.write_weights();
  write_file(dir + "/config.json", bert_config(d, "BertModel").dump());
  write_vocab(dir, d.vocab);

  Converted r = convert(dir, root + "/m.sparq", {"--compress", "--json"});
  ASSERT_EQ(r.cli.exit_code, 0) << r.cli.err;
  ASSERT_TRUE(r.reader);
  const json report = json::parse(r.cli.out);
  size_t zstd = 0;
  for (const json& t : report["tensors"]) {
    const auto* stored = r.reader->find(t["name"].get<std::string>());
    ASSERT_NE(stored, nullptr) << t.dump();
    EXPECT_EQ(t["bytes"].get<uint64_t>(), stored->stored_size) << t.dump();
    EXPECT_EQ(t["encoding"].get<std::string>(),
              sparq::formats::stored_encoding_string(stored->desc, stored->compression))
        << t.dump();
    zstd += stored->compression == sparq::formats::Compression::zstd;
  }
  EXPECT_GT(zstd, 0u);
}

TEST(ConvertHf, ShardedCheckpointThroughIndex) {
  std::string root = make_dir("sharded");
  std::string dir = root + "/model";
  Dims d;
  Checkpoint c{dir};
  bert_body(c, "bert.", d);
  c.linear("bert.pooler.dense", d.hidden, d.hidden, "pooler");
  // Split the tensors over two shard files and list them in the index.
  std::vector<StEntry> first(c.tensors.begin(), c.tensors.begin() + c.tensors.size() / 2);
  std::vector<StEntry> second(c.tensors.begin() + c.tensors.size() / 2, c.tensors.end());
  write_file(dir + "/model-00001-of-00002.safetensors", sparq::test::st_file_bytes(first));
  write_file(dir + "/model-00002-of-00002.safetensors", sparq::test::st_file_bytes(second));
  json map = json::object();
  for (const auto& e : first) map[e.name] = "model-00001-of-00002.safetensors";
  for (const auto& e : second) map[e.name] = "model-00002-of-00002.safetensors";
  write_file(dir + "/model.safetensors.index.json", json{{"metadata", {{"total_size", 0}}}, {"weight_map", map}}.dump());
  write_file(dir + "/config.json", bert_config(d, "BertModel").dump());
  write_vocab(dir, d.vocab);

  Converted r = convert(dir, root + "/m.sparq");
  ASSERT_EQ(r.cli.exit_code, 0) << r.cli.err;
  ASSERT_TRUE(r.reader);
  expect_tensors(*r.reader, c.canonical, exact);
  EXPECT_EQ(r.reader->metadata()["architecture"]["pooler"], "tanh");
  size_t shards = 0;
  for (const json& s : r.reader->metadata()["provenance"]["sources"]) {
    shards += s["path"].get<std::string>().find("-of-00002.safetensors") != std::string::npos;
  }
  EXPECT_EQ(shards, 2u);
}

// Zeros planted in 4x1 blocks (whole column strips of 4 rows) are kept as BSR with 4x1
// blocks, zeros at random positions as CSR; both decode to the source values exactly.
TEST(ConvertHf, KeepSparsePicksBsrForBlockZerosAndCsrForScatteredZeros) {
  std::string root = make_dir("sparse");
  std::string dir = root + "/model";
  Dims d;
  d.hidden = 32, d.inter = 64;
  Checkpoint c{dir};
  bert_body(c, "", d);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0, 1);
  auto plant = [&](const std::string& hf, const std::string& canonical, uint64_t rows, uint64_t cols, uint64_t br) {
    for (auto& e : c.tensors) {
      if (e.name != hf) continue;
      std::vector<float>& w = c.canonical[canonical];
      for (uint64_t r0 = 0; r0 < rows; r0 += br) {
        for (uint64_t col = 0; col < cols; ++col) {
          if (u(rng) < 0.85f) {
            for (uint64_t r = r0; r < r0 + br; ++r) w[r * cols + col] = 0.0f;
          }
        }
      }
      e.bytes = sparq::test::f32_bytes(w);
    }
  };
  plant("encoder.layer.0.intermediate.dense.weight", "layers.0.ffn.up.weight", d.inter, d.hidden, 4);
  plant("encoder.layer.1.output.dense.weight", "layers.1.ffn.down.weight", d.hidden, d.inter, 1);
  c.write_weights();
  write_file(dir + "/config.json", bert_config(d, "BertModel").dump());
  write_vocab(dir, d.vocab);

  Converted r = convert(dir, root + "/m.sparq", {"--json"});
  ASSERT_EQ(r.cli.exit_code, 0) << r.cli.err;
  ASSERT_TRUE(r.reader);
  expect_tensors(*r.reader, c.canonical, exact);
  const auto* up = r.reader->find("layers.0.ffn.up.weight");
  const auto* down = r.reader->find("layers.1.ffn.down.weight");
  EXPECT_EQ(up->desc.encoding_string(), "bsr:f32:4x1");
  EXPECT_EQ(down->desc.encoding_string(), "csr:f32");
  EXPECT_LT(up->stored_size, up->desc.elements() * 4);
  EXPECT_LT(down->stored_size, down->desc.elements() * 4);
  EXPECT_EQ(r.reader->find("layers.0.ffn.down.weight")->desc.encoding_string(), "f32");
  json summary = json::parse(r.cli.out);
  for (const json& t : summary["tensors"]) {
    if (t["name"] == "layers.0.ffn.up.weight") {
      EXPECT_NEAR(t["sparsity"].get<double>(), 0.85, 0.1);
    }
  }

  // q8: the sparse layouts carry q8 values, within the per-row bound.
  Converted q8 = convert(dir, root + "/q8.sparq", {"--weights", "q8"});
  ASSERT_EQ(q8.cli.exit_code, 0) << q8.cli.err;
  EXPECT_EQ(q8.reader->find("layers.0.ffn.up.weight")->desc.encoding_string(), "bsr:q8:4x1");
  EXPECT_EQ(q8.reader->find("layers.1.ffn.down.weight")->desc.encoding_string(), "csr:q8");
  for (const char* name : {"layers.0.ffn.up.weight", "layers.1.ffn.down.weight"}) {
    std::vector<float> got = decoded(*q8.reader, name);
    const std::vector<float>& want = c.canonical[name];
    uint64_t cols = q8.reader->find(name)->desc.cols();
    auto bound = q8_row_bound(cols);
    for (size_t i = 0; i < want.size(); ++i) {
      if (want[i] == 0.0f) {
        ASSERT_EQ(got[i], 0.0f) << name << "[" << i << "]";
      }
      ASSERT_LE(std::fabs(got[i] - want[i]), bound(name, want, i)) << name << "[" << i << "]";
    }
  }

  Converted dense = convert(dir, root + "/dense.sparq", {"--no-sparse"});
  ASSERT_EQ(dense.cli.exit_code, 0) << dense.cli.err;
  EXPECT_EQ(dense.reader->find("layers.0.ffn.up.weight")->desc.encoding_string(), "f32");
}

// A small valid BERT directory to break in the refusal tests.
std::string valid_bert(const std::string& name, Checkpoint* out = nullptr) {
  std::string dir = make_dir(name) + "/model";
  Dims d;
  Checkpoint c{dir};
  bert_body(c, "bert.", d);
  c.write_weights();
  write_file(dir + "/config.json", bert_config(d, "BertModel").dump());
  write_vocab(dir, d.vocab);
  if (out) *out = c;
  return dir;
}

void expect_refused(const std::string& dir, int code, std::vector<std::string> mentions) {
  Converted r = convert(dir, dir + "/../out.sparq");
  EXPECT_EQ(r.cli.exit_code, code) << r.cli.err;
  for (const std::string& m : mentions) EXPECT_NE(r.cli.err.find(m), std::string::npos) << m << " in: " << r.cli.err;
  EXPECT_FALSE(fs::exists(dir + "/../out.sparq"));
}

TEST(ConvertHf, RefusesUnsupportedArchitecturesAndOptions) {
  std::string dir = valid_bert("refuse_options");
  ASSERT_EQ(convert(dir, dir + "/../ok.sparq").cli.exit_code, 0);
  Dims d;
  json config = bert_config(d, "GPT2LMHeadModel");
  write_file(dir + "/config.json", config.dump());
  expect_refused(dir, 4, {"config.json", "architectures", "GPT2LMHeadModel"});

  config = bert_config(d, "BertModel");
  config["position_embedding_type"] = "relative_key";
  write_file(dir + "/config.json", config.dump());
  expect_refused(dir, 4, {"config.json", "position_embedding_type", "relative_key"});

  config = bert_config(d, "BertModel");
  config["hidden_act"] = "relu";
  write_file(dir + "/config.json", config.dump());
  expect_refused(dir, 4, {"config.json", "hidden_act"});

  config = bert_config(d, "BertModel");
  config["is_decoder"] = true;
  write_file(dir + "/config.json", config.dump());
  expect_refused(dir, 4, {"config.json", "is_decoder"});

  config = bert_config(d, "BertForSequenceClassification");
  config["problem_type"] = "multi_label_classification";
  write_file(dir + "/config.json", config.dump());
  expect_refused(dir, 4, {"config.json", "problem_type"});

  config = bert_config(d, "BertForSequenceClassification");
  config["num_labels"] = 1;
  write_file(dir + "/config.json", config.dump());
  expect_refused(dir, 4, {"config.json", "num_labels", "regression"});

  // --from gguf reads a file: a checkpoint directory is refused as such.
  auto other = run_sparq({"convert", "--from", "gguf", dir, "-o", dir + "/../g.sparq"});
  EXPECT_EQ(other.exit_code, 2);
  EXPECT_NE(other.err.find("not a regular file"), std::string::npos) << other.err;

  // The library says what is wrong with the encoding; the CLI names its flag.
  auto q4 = run_sparq({"convert", "--from", "hf", dir, "-o", dir + "/../e.sparq", "--embeddings", "q4"});
  EXPECT_EQ(q4.exit_code, 1);
  EXPECT_NE(q4.err.find("--embeddings: expected f32, f16, bf16 or q8"), std::string::npos) << q4.err;
}

TEST(ConvertHf, RefusesMissingTensorWrongShapeAndMissingTokenizer) {
  Checkpoint c;
  std::string dir = valid_bert("refuse_tensors", &c);
  // Missing: drop layer 1's key projection.
  std::vector<StEntry> kept;
  for (const auto& e : c.tensors) {
    if (e.name != "bert.encoder.layer.1.attention.self.key.weight") {
      kept.push_back(e);
    }
  }
  write_file(dir + "/model.safetensors", sparq::test::st_file_bytes(kept));
  expect_refused(dir, 2, {"bert.encoder.layer.1.attention.self.key.weight", "missing"});

  // Wrong shape: an FFN matrix transposed.
  std::vector<StEntry> wrong = c.tensors;
  for (auto& e : wrong) {
    if (e.name == "bert.encoder.layer.0.intermediate.dense.weight") {
      std::swap(e.shape[0], e.shape[1]);
    }
  }
  write_file(dir + "/model.safetensors", sparq::test::st_file_bytes(wrong));
  expect_refused(dir, 2, {"model.safetensors", "bert.encoder.layer.0.intermediate.dense.weight", "shape"});

  // No tokenizer at all.
  write_file(dir + "/model.safetensors", sparq::test::st_file_bytes(c.tensors));
  fs::remove(dir + "/vocab.txt");
  expect_refused(dir, 2, {dir, "tokenizer"});

  // No weights.
  write_vocab(dir, Dims{}.vocab);
  fs::remove(dir + "/model.safetensors");
  expect_refused(dir, 2, {dir, "model.safetensors"});
}

// What convert once accepted and only a later command (or nobody) refused: duplicate label
// names, non-finite weights, a tokenizer classify cannot build; and what it misnamed: a
// model.safetensors that is a directory, a device or a symlink loop ("no model.safetensors").
TEST(ConvertHf, RefusesAtConversionWhatWouldFailLaterAndNamesWhatIsThere) {
  Checkpoint c;
  std::string dir = valid_bert("refuse_late", &c);
  Dims d;
  json config = bert_config(d, "BertForSequenceClassification");
  config["id2label"] = {{"0", "news"}, {"1", "news"}};
  config["num_labels"] = 2;
  c.linear("bert.pooler.dense", d.hidden, d.hidden, "");
  c.linear("classifier", 2, d.hidden, "");
  c.write_weights();
  write_file(dir + "/config.json", config.dump());
  expect_refused(dir, 2, {"config.json", "id2label", "ids 0 and 1 both name 'news'"});
  config["id2label"] = {{"0", "news"}, {"1", "sport"}};
  write_file(dir + "/config.json", config.dump());
  ASSERT_EQ(convert(dir, dir + "/../ok.sparq").cli.exit_code, 0);

  std::vector<StEntry> poisoned = c.tensors;
  for (auto& e : poisoned) {
    if (e.name == "bert.encoder.layer.1.output.dense.weight") {
      const float nan = std::numeric_limits<float>::quiet_NaN();
      std::memcpy(e.bytes.data() + 4 * (2 * d.inter + 3), &nan, 4);  // row 2, column 3
    }
  }
  write_file(dir + "/model.safetensors", sparq::test::st_file_bytes(poisoned));
  expect_refused(dir, 2, {"model.safetensors", "bert.encoder.layer.1.output.dense.weight", "nan", "row 2, column 3",
                          "non-finite"});
  c.write_weights();

  // A normalizer sparq does not implement: refused by convert, naming the tokenizer file.
  json tok = tiny_tokenizer_json();
  tok["normalizer"] = {{"type", "Precompiled"}};
  write_file(dir + "/tokenizer.json", tok.dump());
  expect_refused(dir, 2, {"tokenizer.json", "Precompiled"});
  fs::remove(dir + "/tokenizer.json");

  fs::remove(dir + "/model.safetensors");
  fs::create_directory(dir + "/model.safetensors");
  expect_refused(dir, 2, {dir + "/model.safetensors", "directory"});
  fs::remove(dir + "/model.safetensors");
  fs::create_symlink("/dev/zero", dir + "/model.safetensors");
  expect_refused(dir, 2, {dir + "/model.safetensors", "character device"});
  fs::remove(dir + "/model.safetensors");
  fs::create_symlink("model.safetensors", dir + "/model.safetensors");
  expect_refused(dir, 2, {dir + "/model.safetensors", "symbolic links"});
  fs::remove(dir + "/model.safetensors");
  c.write_weights();
  fs::rename(dir + "/config.json", dir + "/config.real.json");
  fs::create_symlink("config.json", dir + "/config.json");
  expect_refused(dir, 2, {dir + "/config.json", "symbolic links"});
}

}  // namespace
