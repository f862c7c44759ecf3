// The C API against the `sparq` CLI on the same documents: `sparq classify` for labels and
// probabilities (the shipped model, the sample documents), `sparq embed` for embeddings (a
// converted sentence-transformers fixture). Then what a C caller can get wrong: missing
// and corrupt files, NULL arguments, texts that are not UTF-8, a model shared by threads.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_runner.h"
#include "runtime/capi/sparq.h"

namespace {

using nlohmann::json;
using sparq::test::run_sparq;
using sparq::test::temp_dir;

const std::string kModel = sparq::test::default_model_path();
const std::string kDocs = sparq::test::sample_docs_path();
using sparq::test::json_lines;

std::vector<json> json_lines_of_file(const std::string& path) {
  std::ifstream in(path);
  return json_lines(std::string(std::istreambuf_iterator<char>(in), {}));
}

// Frees whatever a test leaves, so a failed assertion leaks nothing under ASan.
struct Owned {
  sparq_model* model = nullptr;
  sparq_classification* classification = nullptr;
  sparq_embeddings* embeddings = nullptr;
  sparq_error* error = nullptr;
  ~Owned() {
    sparq_classification_free(classification);
    sparq_embeddings_free(embeddings);
    sparq_model_free(model);
    sparq_error_free(error);
  }
};

std::string message(const sparq_error* e) { return e ? sparq_error_message(e) : "(no error)"; }

sparq_model* open_or_fail(const std::string& path) {
  sparq_model* model = nullptr;
  sparq_error* e = sparq_model_open(path.c_str(), &model);
  EXPECT_EQ(e, nullptr) << message(e);
  sparq_error_free(e);
  return model;
}

std::vector<const char*> pointers(const std::vector<std::string>& texts) {
  std::vector<const char*> p;
  for (const std::string& t : texts) p.push_back(t.c_str());
  return p;
}

TEST(CApi, VersionIsTheCliVersion) {
  auto r = run_sparq({"--version"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, std::string("sparq ") + sparq_version() + "\n");
}

TEST(CApi, ClassifyGivesSparqClassifyLabelsAndProbabilities) {
  auto cli = run_sparq({"classify", kModel, "--input", kDocs, "-q"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  std::vector<json> expected = json_lines(cli.out);
  std::vector<std::string> texts;
  for (const json& doc : json_lines_of_file(kDocs)) texts.push_back(doc["text"]);
  ASSERT_EQ(expected.size(), texts.size());
  ASSERT_EQ(texts.size(), 303u);

  Owned o;
  o.model = open_or_fail(kModel);
  ASSERT_NE(o.model, nullptr);
  EXPECT_EQ(sparq_model_task(o.model), SPARQ_TASK_CLASSIFY);
  const size_t num_labels = sparq_model_num_labels(o.model);
  ASSERT_EQ(num_labels, expected[0]["scores"].size());
  for (size_t j = 0; j < num_labels; ++j) EXPECT_TRUE(expected[0]["scores"].contains(sparq_model_label(o.model, j)));
  EXPECT_EQ(sparq_model_label(o.model, num_labels), nullptr);

  std::vector<const char*> p = pointers(texts);
  o.error = sparq_classify(o.model, p.data(), p.size(), &o.classification);
  ASSERT_EQ(o.error, nullptr) << message(o.error);
  ASSERT_EQ(sparq_classification_count(o.classification), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    SCOPED_TRACE("document " + std::to_string(i));
    ASSERT_EQ(sparq_classification_error(o.classification, i), nullptr)
        << message(sparq_classification_error(o.classification, i));
    const char* label = sparq_classification_label(o.classification, i);
    ASSERT_NE(label, nullptr);
    EXPECT_EQ(label, expected[i]["label"].get<std::string>());
    EXPECT_STREQ(sparq_model_label(o.model, size_t(sparq_classification_label_index(o.classification, i))), label);
    EXPECT_DOUBLE_EQ(sparq_classification_score(o.classification, i), expected[i]["score"].get<double>());
    const double* probabilities = sparq_classification_probabilities(o.classification, i);
    ASSERT_NE(probabilities, nullptr);
    for (size_t j = 0; j < num_labels; ++j) {
      EXPECT_DOUBLE_EQ(probabilities[j], expected[i]["scores"][sparq_model_label(o.model, j)].get<double>());
    }
    EXPECT_EQ(sparq_classification_truncated_tokens(o.classification, i),
              expected[i].value("truncated_tokens", uint32_t{0}));
  }
}

TEST(CApi, EmbedGivesSparqEmbedVectors) {
  std::string dir = temp_dir("capi_embed");
  std::string model_path = dir + "/minilm-st.sparq";
  auto convert = run_sparq({"convert", "--from", "hf", std::string(SPARQ_SOURCE_DIR) + "/tests/runtime/fixtures/encoders/minilm-st",
                            "-o", model_path, "--weights", "f32"});
  ASSERT_EQ(convert.exit_code, 0) << convert.err;
  std::vector<std::string> texts;
  for (const json& doc : json_lines_of_file(kDocs)) {
    if (texts.size() == 24) break;
    texts.push_back(doc["text"]);
  }
  std::string input = dir + "/docs.jsonl";
  {
    std::ofstream out(input);
    for (const std::string& t : texts) out << json{{"text", t}}.dump() << "\n";
  }
  auto cli = run_sparq({"embed", model_path, "--input", input, "-q"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  std::vector<json> expected = json_lines(cli.out);
  ASSERT_EQ(expected.size(), texts.size());

  Owned o;
  o.model = open_or_fail(model_path);
  ASSERT_NE(o.model, nullptr);
  EXPECT_EQ(sparq_model_task(o.model), SPARQ_TASK_EMBED);
  EXPECT_EQ(sparq_model_num_labels(o.model), 0u);
  const size_t dim = sparq_model_embedding_dim(o.model);
  ASSERT_EQ(dim, expected[0]["embedding"].size());

  std::vector<const char*> p = pointers(texts);
  o.error = sparq_classify(o.model, p.data(), p.size(), &o.classification);
  ASSERT_NE(o.error, nullptr);
  EXPECT_EQ(sparq_error_kind_of(o.error), SPARQ_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(message(o.error).find("embedder"), std::string::npos) << message(o.error);
  EXPECT_EQ(o.classification, nullptr);

  sparq_error_free(o.error);
  o.error = sparq_embed(o.model, p.data(), p.size(), &o.embeddings);
  ASSERT_EQ(o.error, nullptr) << message(o.error);
  ASSERT_EQ(sparq_embeddings_count(o.embeddings), texts.size());
  ASSERT_EQ(sparq_embeddings_dim(o.embeddings), dim);
  for (size_t i = 0; i < texts.size(); ++i) {
    SCOPED_TRACE("document " + std::to_string(i));
    ASSERT_EQ(sparq_embeddings_error(o.embeddings, i), nullptr);
    const float* v = sparq_embeddings_vector(o.embeddings, i);
    ASSERT_NE(v, nullptr);
    // The CLI prints the shortest text that reads back as the same float.
    for (size_t j = 0; j < dim; ++j) EXPECT_EQ(v[j], expected[i]["embedding"][j].get<float>()) << "dimension " << j;
  }
}

TEST(CApi, ModelQueriesAnswerWhatSparqInspectReads) {
  Owned o;
  o.model = open_or_fail(kModel);
  ASSERT_NE(o.model, nullptr);
  auto inspect = run_sparq({"inspect", kModel, "--json"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  const json metadata = json::parse(inspect.out)["metadata"];
  const json& architecture = metadata["architecture"];
  EXPECT_EQ(sparq_model_embedding_dim(o.model), architecture["hidden_size"].get<size_t>());
  const size_t positions = architecture["max_positions"].get<size_t>() - architecture["position_offset"].get<size_t>();
  EXPECT_EQ(sparq_model_max_length(o.model), std::min(positions, metadata["max_tokens"].get<size_t>()));
  ASSERT_EQ(sparq_model_num_labels(o.model), metadata["labels"].size());
  for (size_t j = 0; j < metadata["labels"].size(); ++j) EXPECT_EQ(sparq_model_label(o.model, j), metadata["labels"][j]);
}

TEST(CApi, MissingAndCorruptModelFilesAreErrorsNamingTheFile) {
  std::string dir = temp_dir("capi_bad_models");
  // Not NULL, to check that a failed open resets it.
  sparq_model* model = reinterpret_cast<sparq_model*>(&dir);

  std::string missing = dir + "/missing.sparq";
  sparq_error* e = sparq_model_open(missing.c_str(), &model);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(model, nullptr);
  EXPECT_EQ(sparq_error_kind_of(e), SPARQ_ERROR_INVALID_INPUT);
  EXPECT_NE(message(e).find("sparq_model_open: " + missing), std::string::npos) << message(e);
  sparq_error_free(e);

  std::ifstream in(kModel, std::ios::binary);
  std::string bytes(std::istreambuf_iterator<char>(in), {});
  const std::vector<std::pair<std::string, std::string>> corrupt = {
      {"truncated.sparq", bytes.substr(0, bytes.size() / 2)},
      {"garbage.sparq", std::string(4096, 'x')},
      {"flipped.sparq", bytes.substr(0, bytes.size() / 2) + char(bytes[bytes.size() / 2] ^ 0x5a) +
                            bytes.substr(bytes.size() / 2 + 1)},
      {"empty.sparq", ""},
  };
  for (const auto& [name, content] : corrupt) {
    SCOPED_TRACE(name);
    std::string path = dir + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    e = sparq_model_open(path.c_str(), &model);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(model, nullptr);
    EXPECT_EQ(sparq_error_kind_of(e), SPARQ_ERROR_INVALID_INPUT);
    EXPECT_NE(message(e).find(path), std::string::npos) << message(e);
    sparq_error_free(e);
  }
}

TEST(CApi, NullArgumentsAreErrorsNotCrashes) {
  Owned o;
  o.model = open_or_fail(kModel);
  ASSERT_NE(o.model, nullptr);
  const char* texts[] = {"a text"};
  sparq_model* model = nullptr;
  auto expect_null_argument = [](sparq_error* e, const std::string& what) {
    ASSERT_NE(e, nullptr) << what;
    EXPECT_EQ(sparq_error_kind_of(e), SPARQ_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(message(e), what + " is NULL");
    sparq_error_free(e);
  };
  expect_null_argument(sparq_model_open(nullptr, &model), "sparq_model_open: path");
  expect_null_argument(sparq_model_open(kModel.c_str(), nullptr), "sparq_model_open: model");
  expect_null_argument(sparq_classify(nullptr, texts, 1, &o.classification), "sparq_classify: model");
  expect_null_argument(sparq_classify(o.model, nullptr, 1, &o.classification), "sparq_classify: texts");
  expect_null_argument(sparq_classify(o.model, texts, 1, nullptr), "sparq_classify: result");
  expect_null_argument(sparq_embed(nullptr, texts, 1, &o.embeddings), "sparq_embed: model");
  expect_null_argument(sparq_embed(o.model, nullptr, 1, &o.embeddings), "sparq_embed: texts");
  EXPECT_EQ(o.classification, nullptr);
  EXPECT_EQ(o.embeddings, nullptr);

  // Accessors on NULL, or past the end, never read as a success.
  EXPECT_EQ(sparq_model_task(nullptr), 0);
  EXPECT_EQ(sparq_model_num_labels(nullptr), 0u);
  EXPECT_EQ(sparq_model_label(nullptr, 0), nullptr);
  EXPECT_EQ(sparq_classification_count(nullptr), 0u);
  EXPECT_NE(sparq_classification_error(nullptr, 0), nullptr);
  EXPECT_EQ(sparq_classification_label_index(nullptr, 0), -1);
  EXPECT_EQ(sparq_classification_label(nullptr, 0), nullptr);
  EXPECT_EQ(sparq_classification_probabilities(nullptr, 0), nullptr);
  EXPECT_NE(sparq_embeddings_error(nullptr, 0), nullptr);
  EXPECT_EQ(sparq_embeddings_vector(nullptr, 0), nullptr);
  EXPECT_EQ(sparq_error_message(nullptr), nullptr);
  sparq_error_free(nullptr);
  sparq_model_free(nullptr);
  sparq_classification_free(nullptr);
  sparq_embeddings_free(nullptr);

  // No texts: an empty result, texts may be NULL.
  o.error = sparq_classify(o.model, nullptr, 0, &o.classification);
  ASSERT_EQ(o.error, nullptr) << message(o.error);
  EXPECT_EQ(sparq_classification_count(o.classification), 0u);
  const sparq_error* past_end = sparq_classification_error(o.classification, 0);
  ASSERT_NE(past_end, nullptr);
  EXPECT_EQ(sparq_error_kind_of(past_end), SPARQ_ERROR_INVALID_ARGUMENT);
}

TEST(CApi, BadTextsGetTheirOwnErrorsAndTheOthersTheirLabels) {
  Owned o;
  o.model = open_or_fail(kModel);
  ASSERT_NE(o.model, nullptr);
  std::vector<std::string> good;
  for (const json& doc : json_lines_of_file(kDocs)) {
    if (good.size() == 3) break;
    good.push_back(doc["text"]);
  }
  const std::string latin1 = "caf\xE9 au lait", too_long(size_t{1} << 21, 'a');
  const char* texts[] = {good[0].c_str(), latin1.c_str(), nullptr, good[1].c_str(), "", " \t\n",
                         too_long.c_str(), good[2].c_str()};
  o.error = sparq_classify(o.model, texts, std::size(texts), &o.classification);
  ASSERT_EQ(o.error, nullptr) << message(o.error);
  ASSERT_EQ(sparq_classification_count(o.classification), std::size(texts));

  const std::vector<std::pair<size_t, std::string>> failures = {
      {1, "sparq_classify: text 1: text is not valid UTF-8 (byte 3)"},
      {2, "sparq_classify: text 2: text is NULL"},
      {4, "sparq_classify: text 4: text is empty"},
      {5, "sparq_classify: text 5: text is empty"},
      {6, "sparq_classify: text 6: text is longer than the limit of 1048576 bytes"},
  };
  for (const auto& [i, expected] : failures) {
    const sparq_error* e = sparq_classification_error(o.classification, i);
    ASSERT_NE(e, nullptr) << "text " << i;
    EXPECT_EQ(message(e), expected);
    EXPECT_EQ(sparq_error_kind_of(e), i == 2 ? SPARQ_ERROR_INVALID_ARGUMENT : SPARQ_ERROR_INVALID_INPUT);
    EXPECT_EQ(sparq_classification_label(o.classification, i), nullptr);
    EXPECT_EQ(sparq_classification_label_index(o.classification, i), -1);
    EXPECT_EQ(sparq_classification_probabilities(o.classification, i), nullptr);
  }

  // The good texts get what they get alone.
  std::vector<const char*> p = pointers(good);
  sparq_classification* alone = nullptr;
  sparq_error* e = sparq_classify(o.model, p.data(), p.size(), &alone);
  ASSERT_EQ(e, nullptr) << message(e);
  const size_t mixed_index[] = {0, 3, 7};
  for (size_t g = 0; g < good.size(); ++g) {
    size_t i = mixed_index[g];
    EXPECT_EQ(sparq_classification_error(o.classification, i), nullptr);
    EXPECT_STREQ(sparq_classification_label(o.classification, i), sparq_classification_label(alone, g));
    EXPECT_EQ(sparq_classification_score(o.classification, i), sparq_classification_score(alone, g));
  }
  sparq_classification_free(alone);
}

TEST(CApi, AModelSharedByThreadsGivesEveryThreadTheSameResults) {
  Owned o;
  o.model = open_or_fail(kModel);
  ASSERT_NE(o.model, nullptr);
  std::vector<std::string> texts;
  for (const json& doc : json_lines_of_file(kDocs)) {
    if (texts.size() == 16) break;
    texts.push_back(doc["text"]);
  }
  std::vector<const char*> p = pointers(texts);
  o.error = sparq_classify(o.model, p.data(), p.size(), &o.classification);
  ASSERT_EQ(o.error, nullptr) << message(o.error);

  constexpr int kThreads = 4, kRounds = 3;
  std::vector<std::vector<std::string>> labels(kThreads);
  std::vector<std::vector<double>> scores(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        sparq_classification* r = nullptr;
        if (sparq_error* e = sparq_classify(o.model, p.data(), p.size(), &r)) {
          errors[t] = message(e);
          sparq_error_free(e);
          return;
        }
        for (size_t i = 0; i < texts.size(); ++i) {
          labels[t].push_back(sparq_classification_label(r, i));
          scores[t].push_back(sparq_classification_score(r, i));
        }
        EXPECT_NE(sparq_model_label(o.model, 0), nullptr);  // queries run alongside
        sparq_classification_free(r);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(errors[t], "") << "thread " << t;
    ASSERT_EQ(labels[t].size(), texts.size() * kRounds);
    for (size_t k = 0; k < labels[t].size(); ++k) {
      EXPECT_EQ(labels[t][k], sparq_classification_label(o.classification, k % texts.size()));
      EXPECT_EQ(scores[t][k], sparq_classification_score(o.classification, k % texts.size()));
    }
  }
}

TEST(CApi, ResultsOutliveTheirModel) {
  sparq_model* model = open_or_fail(kModel);
  ASSERT_NE(model, nullptr);
  const char* texts[] = {"Command-line tool to convert images between formats"};
  sparq_classification* r = nullptr;
  sparq_error* e = sparq_classify(model, texts, 1, &r);
  ASSERT_EQ(e, nullptr) << message(e);
  std::string label = sparq_model_label(model, size_t(sparq_classification_label_index(r, 0)));
  sparq_model_free(model);
  EXPECT_EQ(sparq_classification_label(r, 0), label);
  sparq_classification_free(r);
}

}  // namespace
