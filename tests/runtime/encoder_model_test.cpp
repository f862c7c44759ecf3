// EncoderModel on synthetic .sparq models (runtime/synthetic_model.h): every variant of the
// BERT family and every weight encoding against the scalar double-precision reference of
// encoder_reference.h; every ISA level against `ref`; batch invariance; load and input
// errors.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "encoder_reference.h"
#include "formats/encoding_spec.h"
#include "formats/sparq_reader.h"
#include "formats/sparq_writer.h"
#include "sparq_file_edit.h"
#include "kernels/cpu_features.h"
#include "kernels/threading.h"
#include "runtime/model/encoder_model.h"
#include "runtime/convert/synthetic_model.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;

struct Synth {
  json overrides = json::object();
  std::string weights = "f32", embeddings = "f32";
  double sparsity = 0;
};

formats::EncodeOptions encoding_of(const formats::TensorDesc& d) {
  formats::EncodeOptions o;
  o.encoding = d.encoding;
  o.value_encoding = d.value_encoding;
  o.group_size = d.group_size;
  o.asymmetric = d.asymmetric;
  o.block_rows = d.block_rows;
  o.block_cols = d.block_cols;
  return o;
}

// Synthetic weights (std 0.02, unit norms) leave each layer close to the identity, which
// would hide mistakes in the FFN or attention; this re-encodes the file with linear weights
// scaled to std 0.2 and random LayerNorm weights and biases, in the same encodings.
void make_layers_matter(const std::string& path) {
  std::vector<formats::EncodedTensor> tensors;
  json meta;
  {
    auto r = formats::SparqReader::open(path);
    ASSERT_TRUE(r.ok()) << r.error().message();
    meta = (*r)->metadata();
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> gamma(0.5f, 1.5f), beta(-0.3f, 0.3f);
    for (const formats::TensorView& t : (*r)->tensors()) {
      auto v = formats::decode_tensor(t.desc, t.payload);
      ASSERT_TRUE(v.ok());
      const std::string& n = t.desc.name;
      const bool norm = n.find("norm.") != std::string::npos;
      for (float& x : *v) {
        if (norm && n.ends_with(".weight")) {
          x = gamma(rng);
        } else if (norm) {
          x = beta(rng);
        } else if (n.ends_with(".bias")) {
          x *= 10.0f;
        } else if (!n.starts_with("embeddings.")) {
          x *= 10.0f;
        }
      }
      auto e = formats::encode_tensor(n, t.desc.dims, *v, encoding_of(t.desc));
      ASSERT_TRUE(e.ok()) << e.error().message();
      tensors.push_back(std::move(*e));
    }
  }
  auto w = formats::SparqWriter::create(path);
  ASSERT_TRUE(w.ok());
  for (const auto& t : tensors) ASSERT_TRUE((*w)->add_tensor(t.desc, t.payload).ok());
  ASSERT_TRUE((*w)->finish(meta).ok());
}

std::string make_synth(const std::string& name, const Synth& s) {
  static const std::string dir = test::temp_dir("encoder_model");
  SynthOptions o;
  o.architecture = *architecture_preset("bert", "bert-tiny");
  o.architecture["num_labels"] = 3;
  o.architecture["max_positions"] = 40;
  for (auto it = s.overrides.begin(); it != s.overrides.end(); ++it) o.architecture[it.key()] = it.value();
  o.weights = *formats::parse_encode_options(s.weights);
  o.embeddings = *formats::parse_encode_options(s.embeddings);
  o.sparsity = s.sparsity;
  o.seed = 7;
  const std::string path = dir + "/" + name + ".sparq";
  auto r = write_synthetic_model(o, path);
  EXPECT_TRUE(r.ok()) << r.error().message();
  make_layers_matter(path);
  return path;
}

// A padded batch of random ids with the given lengths (type ids 0/1 when the model has
// two types); padding holds id 0 and type 0, which the mask must make irrelevant.
TokenBatch random_batch(const BertConfig& c, const std::vector<int32_t>& lengths, size_t seq_len,
                        uint32_t seed, int32_t pad_id = 0) {
  std::mt19937 rng(seed);
  TokenBatch b;
  b.batch = lengths.size();
  b.seq_len = seq_len;
  b.lengths = lengths;
  b.ids.assign(b.batch * seq_len, pad_id);
  if (c.type_vocab_size > 1) b.type_ids.assign(b.batch * seq_len, 0);
  for (size_t i = 0; i < b.batch; ++i) {
    for (int32_t t = 0; t < lengths[i]; ++t) {
      b.ids[i * seq_len + t] = int32_t(rng() % c.vocab_size);
      if (!b.type_ids.empty()) b.type_ids[i * seq_len + t] = t >= lengths[i] / 2 ? 1 : 0;
    }
  }
  return b;
}

std::vector<int32_t> row(const std::vector<int32_t>& v, const TokenBatch& b, size_t i) {
  if (v.empty()) return {};
  return {v.begin() + i * b.seq_len, v.begin() + i * b.seq_len + b.lengths[i]};
}

double max_abs(std::span<const float> got, const std::vector<double>& want) {
  double m = 0;
  for (size_t i = 0; i < want.size(); ++i) m = std::max(m, std::fabs(got[i] - want[i]));
  return m;
}

double max_magnitude(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

// Classifier logits (or embeddings, for embedders) and hidden states of `path` against the
// reference, within `tol` relative to the largest reference value. Attention runs in f32 as
// the reference's does (int8 attention: Int8AttentionTracksF32Attention).
void expect_matches_reference(const std::string& path, double tol, EncoderOptions options = {}) {
  SCOPED_TRACE(path);
  options.int8_attention = false;
  auto model = EncoderModel::load(path, options);
  ASSERT_TRUE(model.ok()) << model.error().message();
  test::ReferenceEncoder ref(path);
  const BertConfig& c = (*model)->config();
  const TokenBatch batch = random_batch(c, {5, 1, 17, 9}, 20, 11);
  const size_t H = c.hidden_size;

  std::vector<float> hidden(batch.batch * batch.seq_len * H, -1.0f);
  ASSERT_TRUE((*model)->hidden_states(batch, hidden).ok());
  std::vector<float> out(batch.batch * (c.num_labels > 0 ? c.num_labels : H));
  Status s = c.num_labels > 0 ? (*model)->classify(batch, out) : (*model)->embed(batch, out);
  ASSERT_TRUE(s.ok()) << s.error().message();

  for (size_t i = 0; i < batch.batch; ++i) {
    SCOPED_TRACE("sequence " + std::to_string(i));
    const std::vector<double> h = ref.hidden(row(batch.ids, batch, i), row(batch.type_ids, batch, i));
    std::span<const float> got(hidden.data() + i * batch.seq_len * H, batch.seq_len * H);
    EXPECT_LE(max_abs(got, h), tol * max_magnitude(h));
    for (size_t j = h.size(); j < got.size(); ++j) ASSERT_EQ(got[j], 0.0f) << "padding row element " << j;
    const std::vector<double> want = c.num_labels > 0 ? ref.logits(h) : ref.embedding(h);
    EXPECT_LE(max_abs(std::span<const float>(out).subspan(i * want.size(), want.size()), want),
              tol * std::max(max_magnitude(want), 1e-3));
  }
}

// f32 everywhere: only f32 rounding separates the model from the double reference.
constexpr double kF32Tolerance = 1e-5;
// Integer layers: the reference reproduces the int8 activations, but an activation that
// sits at a rounding tie in one and not the other moves by one step (max|x|/127): 1e-3.
constexpr double kInt8Tolerance = 1e-3;

TEST(EncoderModel, VariantsMatchReference) {
  expect_matches_reference(make_synth("bert", {}), kF32Tolerance);
  expect_matches_reference(
      make_synth("roberta_like", {{{"position_offset", 2}, {"type_vocab_size", 1}, {"activation", "gelu_tanh"}}}),
      kF32Tolerance);
  expect_matches_reference(
      make_synth("distilbert_like", {{{"type_vocab_size", 0}, {"pooler", "relu"}, {"num_heads", 4}}}),
      kF32Tolerance);
  expect_matches_reference(make_synth("no_pooler", {{{"pooler", "none"}}}), kF32Tolerance);
  for (const char* pooling : {"cls", "mean", "max", "pooler"}) {
    for (bool normalize : {false, true}) {
      expect_matches_reference(make_synth(std::string("embedder_") + pooling + (normalize ? "_norm" : ""),
                                          {{{"num_labels", 0}, {"pooling", pooling}, {"normalize", normalize}}}),
                               kF32Tolerance);
    }
  }
}

TEST(EncoderModel, EncodingsMatchReference) {
  expect_matches_reference(make_synth("f16", {.weights = "f16", .embeddings = "f16"}), kF32Tolerance);
  expect_matches_reference(make_synth("bf16", {.weights = "bf16", .embeddings = "q8"}), kF32Tolerance);
  expect_matches_reference(make_synth("q8", {.weights = "q8"}), kInt8Tolerance);
  expect_matches_reference(make_synth("q8_g32", {.weights = "q8:g32"}), kInt8Tolerance);
  expect_matches_reference(make_synth("q4", {.weights = "q4:g32"}), kInt8Tolerance);
  expect_matches_reference(make_synth("q4_asym", {.weights = "q4:g32:asym"}), kInt8Tolerance);
  expect_matches_reference(make_synth("csr_f32", {.weights = "f32", .sparsity = 0.8}), kF32Tolerance);
  expect_matches_reference(make_synth("csr_q8", {.weights = "q8", .sparsity = 0.8}), kInt8Tolerance);
  expect_matches_reference(make_synth("bsr_q8", {.weights = "bsr:q8:4x4", .sparsity = 0.8}), kInt8Tolerance);
  // Encodings no sparse kernel takes are widened to csr f32 at load.
  expect_matches_reference(make_synth("csr_f16", {.weights = "csr:f16", .sparsity = 0.8}), kF32Tolerance);
}

TEST(EncoderModel, EveryIsaMatchesReference) {
  const std::string f32 = make_synth("isa_f32", {}), q8 = make_synth("isa_q8", {.weights = "q8"});
  const std::string bsr = make_synth("isa_bsr", {.weights = "bsr:q8:4x4", .sparsity = 0.8});
  for (kernels::Isa isa : kernels::supported_isas(kernels::cpu_info().features)) {
    SCOPED_TRACE(std::string(kernels::isa_name(isa)));
    expect_matches_reference(f32, kF32Tolerance, {.isa = isa});
    expect_matches_reference(q8, kInt8Tolerance, {.isa = isa});
    expect_matches_reference(bsr, kInt8Tolerance, {.isa = isa});
  }
}

// A sequence's outputs do not depend on what else is in its batch or how far it is padded:
// rows are independent in every matmul, and attention masks the padding.
TEST(EncoderModel, BatchInvariance) {
  for (const char* weights : {"f32", "q8"}) {
    SCOPED_TRACE(weights);
    auto model = EncoderModel::load(make_synth(std::string("invariance_") + weights, {.weights = weights}));
    ASSERT_TRUE(model.ok()) << model.error().message();
    const BertConfig& c = (*model)->config();
    const TokenBatch batch = random_batch(c, {3, 12, 1, 30, 7}, 32, 5, /*pad_id=*/int32_t(c.vocab_size) - 1);
    std::vector<float> all(batch.batch * c.num_labels);
    ASSERT_TRUE((*model)->classify(batch, all).ok());
    for (size_t i = 0; i < batch.batch; ++i) {
      TokenBatch one;
      one.batch = 1;
      one.seq_len = size_t(batch.lengths[i]);
      one.lengths = {batch.lengths[i]};
      one.ids = row(batch.ids, batch, i);
      one.type_ids = row(batch.type_ids, batch, i);
      std::vector<float> alone(c.num_labels);
      ASSERT_TRUE((*model)->classify(one, alone).ok());
      for (size_t j = 0; j < c.num_labels; ++j) {
        // Only the matmul tiling may change with the row count (f32 accumulation order).
        EXPECT_NEAR(alone[j], all[i * c.num_labels + j], 1e-5) << "sequence " << i << " label " << j;
      }
    }
  }
}

// Every kernel on the forward's path computes each output with one thread in a fixed order,
// and packed attention splits whole tasks, so the thread count changes no bit.
TEST(EncoderModel, ThreadCountChangesNothing) {
  for (const char* weights : {"f32", "q8"}) {
    SCOPED_TRACE(weights);
    auto model = EncoderModel::load(make_synth(std::string("threads_") + weights, {.weights = weights}));
    ASSERT_TRUE(model.ok()) << model.error().message();
    const BertConfig& c = (*model)->config();
    const TokenBatch batch = random_batch(c, {33, 2, 17, 40, 1, 25}, 40, 9);
    std::vector<float> one(batch.batch * batch.seq_len * c.hidden_size), many(one.size());
    kernels::set_num_threads(1);
    ASSERT_TRUE((*model)->hidden_states(batch, one).ok());
    for (int threads : {2, 3}) {
      kernels::set_num_threads(threads);
      ASSERT_TRUE((*model)->hidden_states(batch, many).ok());
      EXPECT_EQ(one, many) << threads << " threads";
    }
    kernels::set_num_threads(0);
  }
}

TEST(EncoderModel, DescribesKernelsAndLabels) {
  auto model = EncoderModel::load(make_synth("describe", {.weights = "q8", .sparsity = 0.5}));
  ASSERT_TRUE(model.ok()) << model.error().message();
  EXPECT_EQ((*model)->labels(), (std::vector<std::string>{"LABEL_0", "LABEL_1", "LABEL_2"}));
  const std::vector<std::string> lines = (*model)->describe_kernels();
  // qkv, output, up, down (same packing in both layers), pooler, classifier, attention.
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[2].rfind("layers.*.ffn.up.weight: csr:q8 -> ", 0), 0u) << lines[2];
  // q8 weights: int8 attention products where the ISA has them.
  const bool int8 = kernels::transformer_ops_config().attention_int8 != nullptr;
  EXPECT_EQ(lines[6].rfind(int8 ? "attention: int8 products (" : "attention: f32 (", 0), 0u) << lines[6];
  EXPECT_GT((*model)->weight_bytes(), 0u);
}

// Int8 attention (q8/q4 weights on a VNNI CPU, by default) against the same model with f32
// attention: the rounding of Q, K, V (per vector) and of the softmax weights (per row and key
// block) moves the hidden states of these random-weight models, whose attention is peaked, by
// up to 4 % of their largest value (q8; 1 % at bsr 80 %); the bound leaves 2.5x. Real models lose
// nothing measurable (bench/RESULTS.md, "int8 attention": the shipped classifier's dev
// accuracy 0.7894 -> 0.7896). f32 weights keep f32 attention; SPARQ_ATTENTION chooses.
// Without VNNI, asking for int8 attention runs f32 attention: the same bits.
TEST(EncoderModel, Int8AttentionTracksF32Attention) {
  const bool has_int8 = kernels::transformer_ops_config().attention_int8 != nullptr;
  for (const char* weights : {"q8", "bsr:q8:4x4"}) {
    SCOPED_TRACE(weights);
    const std::string path = make_synth(std::string("int8_attention_") + (weights[0] == 'b' ? "bsr" : "q8"),
                                        {.weights = weights, .sparsity = weights[0] == 'b' ? 0.8 : 0.0});
    auto int8 = EncoderModel::load(path, {.int8_attention = true});
    auto f32 = EncoderModel::load(path, {.int8_attention = false});
    ASSERT_TRUE(int8.ok() && f32.ok());
    const BertConfig& c = (*f32)->config();
    const TokenBatch batch = random_batch(c, {5, 1, 17, 9}, 20, 11);
    std::vector<float> a(batch.batch * batch.seq_len * c.hidden_size), b(a.size());
    ASSERT_TRUE((*int8)->hidden_states(batch, a).ok());
    ASSERT_TRUE((*f32)->hidden_states(batch, b).ok());
    double worst = 0, largest = 0, sq = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      worst = std::max(worst, double(std::fabs(a[i] - b[i])));
      largest = std::max(largest, double(std::fabs(b[i])));
      sq += double(a[i] - b[i]) * (a[i] - b[i]);
    }
    RecordProperty(std::string(weights) + "_worst_of_largest", ::testing::PrintToString(worst / largest));
    RecordProperty(std::string(weights) + "_rms_of_largest",
                   ::testing::PrintToString(std::sqrt(sq / double(a.size())) / largest));
    if (!has_int8) {
      EXPECT_EQ(worst, 0.0) << "no int8 attention here, yet the results differ";
      continue;
    }
    EXPECT_LE(worst, 0.1 * largest);
    EXPECT_GT(worst, 0.0) << "int8 attention was not used";
    std::vector<float> la(batch.batch * c.num_labels), lb(la.size());
    ASSERT_TRUE((*int8)->classify(batch, la).ok());
    ASSERT_TRUE((*f32)->classify(batch, lb).ok());
    for (size_t i = 0; i < batch.batch; ++i) {
      const auto row = [&](const std::vector<float>& l) {
        return std::max_element(l.begin() + i * c.num_labels, l.begin() + (i + 1) * c.num_labels) - l.begin();
      };
      EXPECT_EQ(row(la), row(lb)) << "sequence " << i;
    }
  }
}

TEST(EncoderModel, LoadErrorsNameFileAndTensor) {
  const std::string good = make_synth("good", {});
  const std::string dir = test::temp_dir("encoder_model_errors");
  const std::string missing = dir + "/missing.sparq", labels = dir + "/labels.sparq", arch = dir + "/arch.sparq";
  const std::string twice = dir + "/twice.sparq", offset = dir + "/offset.sparq";
  // Once accepted: "scores" collapsed two classes into one; the offset failed only at run time
  // without naming the file.
  test::rewrite_sparq(good, twice, [](const std::string&) { return true; }, [](json& m) { m["labels"] = {"a", "b", "a"}; });
  test::rewrite_sparq(good, offset, [](const std::string&) { return true; },
          [](json& m) { m["architecture"]["position_offset"] = 1000; });
  test::rewrite_sparq(good, missing, [](const std::string& n) { return n != "layers.1.ffn.up.bias"; }, [](json&) {});
  test::rewrite_sparq(good, labels, [](const std::string&) { return true; }, [](json& m) { m["labels"] = {"a", "b"}; });
  // Claiming more layers than the file holds: the first absent layer's tensor is named.
  test::rewrite_sparq(good, arch, [](const std::string&) { return true; }, [](json& m) { m["architecture"]["num_layers"] = 3; });
  struct Case {
    std::string path, expect;
  } cases[] = {{missing, "tensor 'layers.1.ffn.up.bias': missing"},
               {labels, "metadata.labels: expected an array of 3"},
               {arch, "tensor 'layers.2.attention.qkv.weight': missing"},
               {twice, "metadata.labels: 'a' is listed twice"},
               {offset, "architecture.position_offset: 1000 leaves no position for a token"}};
  for (const Case& c : cases) {
    auto m = EncoderModel::load(c.path);
    ASSERT_FALSE(m.ok()) << c.path;
    EXPECT_NE(m.error().message().find(c.path), std::string::npos) << m.error().message();
    EXPECT_NE(m.error().message().find(c.expect), std::string::npos) << m.error().message();
  }
}

TEST(EncoderModel, RejectsBadBatches) {
  auto model = EncoderModel::load(make_synth("bad_batches", {}));
  ASSERT_TRUE(model.ok());
  const BertConfig& c = (*model)->config();
  std::vector<float> logits(2 * c.num_labels);
  TokenBatch b = random_batch(c, {3, 4}, 4, 1);
  b.lengths[1] = 0;
  EXPECT_FALSE((*model)->classify(b, logits).ok());
  b.lengths[1] = 5;
  EXPECT_FALSE((*model)->classify(b, logits).ok());
  b = random_batch(c, {3, 41}, 41, 1);  // max_positions is 40
  EXPECT_FALSE((*model)->classify(b, logits).ok());
  b = random_batch(c, {3, 4}, 4, 1);
  b.ids[1] = int32_t(c.vocab_size);
  Status s = (*model)->classify(b, logits);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("outside the vocabulary"), std::string::npos) << s.error().message();
  b = random_batch(c, {3, 4}, 4, 1);
  std::vector<float> short_logits(c.num_labels);
  EXPECT_FALSE((*model)->classify(b, short_logits).ok());
  ASSERT_TRUE((*model)->classify(b, logits).ok());  // the model still works after errors
}

TEST(EncoderModel, ABadIdAmongManyTokensIsNamedWhateverTheThreads) {
  auto model = EncoderModel::load(make_synth("bad_id_threads", {}));
  ASSERT_TRUE(model.ok());
  const BertConfig& c = (*model)->config();
  // Enough tokens that the embedding lookups are split between threads; the bad id is in
  // the last thread's share.
  const std::vector<int32_t> lengths(96, 36);
  std::vector<float> logits(lengths.size() * c.num_labels);
  for (int threads : {1, 2, 3}) {
    kernels::set_num_threads(threads);
    TokenBatch b = random_batch(c, lengths, 36, 7);
    b.ids[b.ids.size() - 2] = int32_t(c.vocab_size) + 5;
    Status s = (*model)->classify(b, logits);
    ASSERT_FALSE(s.ok()) << threads;
    EXPECT_NE(s.error().message().find("token ids"), std::string::npos) << s.error().message();
    EXPECT_NE(s.error().message().find(fmt::format("token {} at position {}", c.vocab_size + 5, b.ids.size() - 2)),
              std::string::npos)
        << s.error().message();
    b.ids[b.ids.size() - 2] = 1;
    EXPECT_TRUE((*model)->classify(b, logits).ok()) << threads;
  }
  kernels::set_num_threads(0);
}

}  // namespace
}  // namespace sparq::runtime
