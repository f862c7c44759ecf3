// Shared by the PyTorch numerics tests (encoder_numerics_test.cpp and the BERT-base-sized
// bert_base/encoder_bert_base_test.cpp): a Hugging Face fixture directory written by
// fixtures/encoders/make_encoder_fixtures.py is converted with the importer, run through
// EncoderModel, and its outputs are compared with the PyTorch outputs in reference.json.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "formats/encoding_spec.h"
#include "runtime/model/encoder_model.h"
#include "runtime/convert/hf_import.h"

namespace sparq::test {

inline nlohmann::json read_reference(const std::string& dir) {
  std::ifstream in(dir + "/reference.json");
  EXPECT_TRUE(in.good()) << dir << "/reference.json: cannot open";
  return in.good() ? nlohmann::json::parse(in) : nlohmann::json();
}

// Imports `dir` with linear weights as `weights` ("f32", "q8", "q4:g32") into `out_path`.
inline std::unique_ptr<runtime::EncoderModel> convert_and_load(const std::string& dir, const std::string& weights,
                                                               const std::string& out_path) {
  runtime::HfImportOptions o;
  auto w = formats::parse_encode_options(weights);
  EXPECT_TRUE(w.ok());
  o.weights = *w;
  auto summary = runtime::import_hf_checkpoint(dir, o, out_path);
  EXPECT_TRUE(summary.ok()) << summary.error().message();
  if (!summary) return nullptr;
  auto model = runtime::EncoderModel::load(out_path);
  EXPECT_TRUE(model.ok()) << model.error().message();
  return model ? std::move(*model) : nullptr;
}

// reference.json "sequences" padded into one batch with the tokenizer's pad id.
inline runtime::TokenBatch batch_of(const nlohmann::json& sequences, int32_t pad_id) {
  runtime::TokenBatch b;
  b.batch = sequences.size();
  for (const auto& s : sequences) b.seq_len = std::max(b.seq_len, s["ids"].size());
  b.ids.assign(b.batch * b.seq_len, pad_id);
  const bool types = !sequences.empty() && !sequences[0]["type_ids"].empty();
  if (types) b.type_ids.assign(b.batch * b.seq_len, 0);
  for (size_t i = 0; i < b.batch; ++i) {
    const auto& s = sequences[i];
    b.lengths.push_back(int32_t(s["ids"].size()));
    for (size_t t = 0; t < s["ids"].size(); ++t) {
      b.ids[i * b.seq_len + t] = s["ids"][t].get<int32_t>();
      if (types) b.type_ids[i * b.seq_len + t] = s["type_ids"][t].get<int32_t>();
    }
  }
  return b;
}

struct Comparison {
  double max_abs = 0;
  double dot = 0, norm_got = 0, norm_want = 0;
  void add(float got, double want) {
    max_abs = std::max(max_abs, std::fabs(got - want));
    dot += got * want;
    norm_got += double(got) * got;
    norm_want += want * want;
  }
  double cosine() const { return dot / std::sqrt(norm_got * norm_want); }
};

// The model's outputs for the reference batch: the head's (logits or embeddings) and the
// last hidden states of the real tokens, each compared with PyTorch's.
struct FixtureComparison {
  Comparison head, hidden;
};

inline FixtureComparison compare_with_pytorch(runtime::EncoderModel& model, const nlohmann::json& ref) {
  FixtureComparison c;
  const runtime::TokenBatch batch = batch_of(ref["sequences"], ref["pad_id"].get<int32_t>());
  const size_t H = model.config().hidden_size;
  const bool classifier = ref.contains("logits");
  const nlohmann::json& want = classifier ? ref["logits"] : ref["embeddings"];
  std::vector<float> out(batch.batch * want[0].size());
  Status s = classifier ? model.classify(batch, out) : model.embed(batch, out);
  EXPECT_TRUE(s.ok()) << s.error().message();
  for (size_t i = 0; i < batch.batch; ++i) {
    for (size_t j = 0; j < want[i].size(); ++j) c.head.add(out[i * want[i].size() + j], want[i][j].get<double>());
  }
  std::vector<float> hidden(batch.batch * batch.seq_len * H);
  s = model.hidden_states(batch, hidden);
  EXPECT_TRUE(s.ok()) << s.error().message();
  for (size_t i = 0; i < batch.batch; ++i) {
    const nlohmann::json& h = ref["last_hidden_state"][i];
    EXPECT_EQ(h.size(), size_t(batch.lengths[i]) * H);
    for (size_t j = 0; j < h.size(); ++j) c.hidden.add(hidden[i * batch.seq_len * H + j], h[j].get<double>());
  }
  return c;
}

}  // namespace sparq::test
