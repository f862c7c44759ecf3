// `sparq serve` with the default classifier, over real HTTP on loopback: its answers equal
// `sparq classify` and `sparq embed` on the same texts (the reference: the batch job, run as
// its own process), alone and with many clients at once; errors come in each API's shape with
// the right status; a full queue answers 429; SIGTERM exits 0.
#ifdef SPARQ_HAVE_SERVE
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <thread>

#include "cli_runner.h"
#include "serve_process.h"

namespace sparq::test {
namespace {

using nlohmann::json;
using sparq::test::default_model_path;


// The first `n` dev documents whose text fits the model's 256 tokens (so no request needs
// truncation), as a JSONL file for the CLI and as texts for the server.
struct Docs {
  std::vector<std::string> texts;
  std::string path;
};

Docs dev_docs(const std::string& dir, size_t n) {
  Docs d;
  d.path = dir + "/docs.jsonl";
  std::ifstream in(dev_subset_path());
  std::ofstream out(d.path);
  std::string line;
  while (d.texts.size() < n && std::getline(in, line)) {
    json j = json::parse(line);
    const std::string text = j["text"];
    if (text.size() > 600) continue;  // about 150 tokens at most
    d.texts.push_back(text);
    out << json{{"id", j["id"]}, {"text", text}}.dump() << "\n";
  }
  return d;
}

std::vector<json> cli_records(const std::vector<std::string>& args) {
  CliResult r = run_sparq(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> out;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) out.push_back(json::parse(line));
  return out;
}

// RFC 4648 base64, decoded (padding ignored).
std::string base64_decode(const std::string& in) {
  static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char ch : in) {
    const size_t v = alphabet.find(ch);
    if (v == std::string::npos) continue;
    bits = (bits << 6) | uint32_t(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += char((bits >> count) & 0xff);
    }
  }
  return out;
}

json post(const ServeProcess& server, const std::string& path, const json& body, int expect_status = 200) {
  auto res = server.client().Post(path, body.dump(), "application/json");
  EXPECT_TRUE(res) << path;
  if (!res) return nullptr;
  EXPECT_EQ(res->status, expect_status) << path << " " << res->body;
  return json::parse(res->body);
}

// A /predict answer ([{"label", "score"}], most likely first) as `sparq classify` prints it.
void expect_prediction_equals(const json& predictions, const json& record) {
  ASSERT_EQ(predictions.size(), record["scores"].size());
  EXPECT_EQ(predictions[0]["label"], record["label"]);
  for (const json& p : predictions) {
    EXPECT_EQ(p["score"].get<double>(), record["scores"][p["label"].get<std::string>()].get<double>())
        << p["label"];
  }
}

class ServeEncoder : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(temp_dir("serve_encoder"));
    docs_ = new Docs(dev_docs(*dir_, 24));
    server_ = new ServeProcess({default_model_path(), "-t", "1", "-q", "--max-client-batch-size", "32"}, *dir_ + "/serve.log");
  }
  static void TearDownTestSuite() {
    delete server_;
    delete docs_;
    delete dir_;
  }
  void SetUp() override { ASSERT_NE(server_->port(), 0) << server_->log_text(); }

  static std::string* dir_;
  static Docs* docs_;
  static ServeProcess* server_;
};
std::string* ServeEncoder::dir_ = nullptr;
Docs* ServeEncoder::docs_ = nullptr;
ServeProcess* ServeEncoder::server_ = nullptr;

TEST_F(ServeEncoder, PredictEqualsClassify) {
  const std::vector<json> records = cli_records({"classify", default_model_path(), "--input", docs_->path, "-t", "1", "-q"});
  ASSERT_EQ(records.size(), docs_->texts.size());
  // One text per request, then all of them in one batch request.
  for (size_t i = 0; i < 4; ++i) expect_prediction_equals(post(*server_, "/predict", {{"inputs", docs_->texts[i]}}), records[i]);
  json batch = json::array();
  for (const std::string& t : docs_->texts) batch.push_back(json::array({t}));
  const json answers = post(*server_, "/predict", {{"inputs", batch}});
  ASSERT_EQ(answers.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) expect_prediction_equals(answers[i], records[i]);
  // raw_scores: the logits sparq classify --logits prints, in the same order as the scores.
  const std::vector<json> with_logits =
      cli_records({"classify", default_model_path(), "--input", docs_->path, "-t", "1", "-q", "--logits"});
  const json raw = post(*server_, "/predict", {{"inputs", docs_->texts[0]}, {"raw_scores", true}});
  double best = -1e30;
  for (const json& l : with_logits[0]["logits"]) best = std::max(best, l.get<double>());
  EXPECT_EQ(raw[0]["score"].get<double>(), best);
  EXPECT_EQ(raw[0]["label"], records[0]["label"]);
}

TEST_F(ServeEncoder, EmbedEqualsEmbed) {
  const std::vector<json> records = cli_records({"embed", default_model_path(), "--input", docs_->path, "-t", "1", "-q"});
  ASSERT_EQ(records.size(), docs_->texts.size());
  const json raw = post(*server_, "/embed", {{"inputs", docs_->texts}, {"normalize", false}});
  ASSERT_EQ(raw.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) EXPECT_EQ(raw[i], records[i]["embedding"]) << i;

  // Normalised (TEI's default, OpenAI's always): sparq embed's vector over its L2 norm, to
  // float rounding.
  const json unit = post(*server_, "/embed", {{"inputs", docs_->texts[0]}});
  const json openai = post(*server_, "/v1/embeddings", {{"input", docs_->texts[0]}, {"model", "debian-sections-s90b4-q8"}});
  const json b64 = post(*server_, "/v1/embeddings", {{"input", json::array({docs_->texts[0]})}, {"encoding_format", "base64"}});
  std::vector<double> expected;
  double norm = 0;
  for (const json& x : records[0]["embedding"]) norm += x.get<double>() * x.get<double>();
  for (const json& x : records[0]["embedding"]) expected.push_back(x.get<double>() / std::sqrt(norm));
  ASSERT_EQ(unit.size(), 1u);
  ASSERT_EQ(unit[0].size(), expected.size());
  EXPECT_EQ(openai["object"], "list");
  EXPECT_EQ(openai["data"][0]["object"], "embedding");
  EXPECT_EQ(openai["data"][0]["index"], 0);
  EXPECT_EQ(openai["model"], "debian-sections-s90b4-q8");
  EXPECT_GT(openai["usage"]["prompt_tokens"].get<int>(), 0);
  EXPECT_EQ(openai["data"][0]["embedding"], unit[0]);
  // base64: the same float32 values, little-endian.
  const std::string encoded = b64["data"][0]["embedding"];
  const std::string bytes = base64_decode(encoded);
  ASSERT_EQ(bytes.size(), expected.size() * sizeof(float));
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(unit[0][i].get<double>(), expected[i], 1e-6);
    float f;
    std::memcpy(&f, bytes.data() + i * sizeof(float), sizeof f);
    EXPECT_EQ(f, unit[0][i].get<float>());
  }
}

TEST_F(ServeEncoder, TokenizeEqualsSparqTokenize) {
  const std::vector<json> records = cli_records({"tokenize", default_model_path(), "--input", docs_->path, "-q"});
  const json tokens = post(*server_, "/tokenize", {{"inputs", json::array({docs_->texts[0], docs_->texts[1]})}});
  ASSERT_EQ(tokens.size(), 2u);
  for (size_t d = 0; d < 2; ++d) {
    const json& ids = records[d]["ids"];
    ASSERT_EQ(tokens[d].size(), ids.size());
    for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(tokens[d][i]["id"], ids[i]);
    EXPECT_EQ(tokens[d].front()["special"], true);
    EXPECT_EQ(tokens[d][1]["special"], false);
  }
}

TEST_F(ServeEncoder, ManyClientsAtOnceGetTheAnswersOfOne) {
  std::vector<json> alone;
  for (const std::string& t : docs_->texts) alone.push_back(post(*server_, "/predict", {{"inputs", t}}));
  // 8 clients, each its own keep-alive connection, all texts in different orders.
  std::vector<std::vector<json>> got(8, std::vector<json>(docs_->texts.size()));
  std::vector<std::thread> clients;
  for (size_t c = 0; c < got.size(); ++c) {
    clients.emplace_back([&, c] {
      httplib::Client client = server_->client();
      for (size_t k = 0; k < docs_->texts.size(); ++k) {
        const size_t i = (k * 7 + c * 5) % docs_->texts.size();
        auto res = client.Post("/predict", json{{"inputs", docs_->texts[i]}}.dump(), "application/json");
        if (res && res->status == 200) got[c][i] = json::parse(res->body);
      }
    });
  }
  for (std::thread& t : clients) t.join();
  for (size_t c = 0; c < got.size(); ++c) {
    for (size_t i = 0; i < alone.size(); ++i) EXPECT_EQ(got[c][i], alone[i]) << "client " << c << " text " << i;
  }
  // The metrics saw the forwards and the requests.
  auto metrics = server_->client().Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("sparq_batch_size_count{model=\"debian-sections-s90b4-q8\"}"), std::string::npos);
  EXPECT_NE(metrics->body.find("sparq_http_requests_total{route=\"/predict\",status=\"200\"}"), std::string::npos);
}

TEST_F(ServeEncoder, ErrorsInEachApisShape) {
  httplib::Client c = server_->client();
  const auto expect_tei = [&](const httplib::Result& res, int status, const std::string& type, const std::string& says) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status) << res->body;
    json j = json::parse(res->body);
    EXPECT_EQ(j["error_type"], type) << res->body;
    EXPECT_NE(j["error"].get<std::string>().find(says), std::string::npos) << res->body;
  };
  expect_tei(c.Post("/embed", "{\"inputs\": ", "application/json"), 400, "validation", "not valid JSON");
  expect_tei(c.Post("/embed", "[1, 2]", "application/json"), 422, "validation", "JSON object");
  // A number beyond a double (found by fuzz_serve_request: it was answered 500).
  expect_tei(c.Post("/predict", "{\"inputs\": \"a\", \"truncate\": 1e400}", "application/json"), 400,
             "validation", "not valid JSON");
  expect_tei(c.Post("/embed", "{\"inputs\": 3}", "application/json"), 422, "validation", "`inputs`");
  expect_tei(c.Post("/embed", "{\"inputs\": []}", "application/json"), 422, "validation", "`inputs`");
  expect_tei(c.Post("/embed", "{\"inputs\": [\"a\", 1]}", "application/json"), 422, "validation", "`inputs[1]`");
  expect_tei(c.Post("/embed", "{\"inputs\": \"a\", \"normalize\": \"yes\"}", "application/json"), 422, "validation",
             "`normalize`");
  expect_tei(c.Post("/predict", "{\"inputs\": \"   \"}", "application/json"), 422, "validation", "`inputs`");
  // Ill-formed UTF-8 inside a JSON string.
  expect_tei(c.Post("/embed", std::string("{\"inputs\": \"caf\xe9\"}"), "application/json"), 400, "validation",
             "UTF-8");
  // More texts than --max-client-batch-size.
  expect_tei(c.Post("/embed", json{{"inputs", std::vector<std::string>(33, "text")}}.dump(), "application/json"),
             413, "validation", "batch size");
  // Longer than the model's 256 tokens: 413 unless truncation is asked for.
  std::string long_text;
  for (int i = 0; i < 400; ++i) long_text += "word ";
  expect_tei(c.Post("/embed", json{{"inputs", long_text}}.dump(), "application/json"), 413, "validation", "256");
  auto truncated = c.Post("/embed", json{{"inputs", long_text}, {"truncate", true}}.dump(), "application/json");
  ASSERT_TRUE(truncated);
  EXPECT_EQ(truncated->status, 200);
  expect_tei(c.Get("/no/such/route"), 404, "validation", "no route");

  // OpenAI's shape on /v1/.
  auto unknown = c.Post("/v1/embeddings", "{\"input\": \"a\", \"model\": \"gpt-4\"}", "application/json");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  json e = json::parse(unknown->body)["error"];
  EXPECT_EQ(e["code"], "model_not_found");
  EXPECT_EQ(e["param"], "model");
  EXPECT_EQ(e["type"], "not_found_error");
  auto bad = c.Post("/v1/embeddings", "{\"input\": \"a\", \"encoding_format\": \"int8\"}", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 422);
  EXPECT_EQ(json::parse(bad->body)["error"]["param"], "encoding_format");
  EXPECT_EQ(json::parse(bad->body)["error"]["type"], "invalid_request_error");
}

TEST(ServeLimits, OversizedBodyFullQueueApiKeyAndSigterm) {
  const std::string dir = temp_dir("serve_limits");
  { std::ofstream(dir + "/key") << "s3cret\n"; }
  ServeProcess server({default_model_path(), "-t", "1", "-q", "--max-queue", "1", "--max-request-bytes", "200000",
                       "--api-key-file", dir + "/key"},
                      dir + "/serve.log");
  ASSERT_NE(server.port(), 0) << server.log_text();
  httplib::Client c = server.client();
  const httplib::Headers auth = {{"Authorization", "Bearer s3cret"}};

  // /health needs no key; everything else does, and says so in its API's shape.
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto no_key = c.Post("/v1/embeddings", "{\"input\": \"a\"}", "application/json");
  ASSERT_TRUE(no_key);
  EXPECT_EQ(no_key->status, 401);
  EXPECT_EQ(json::parse(no_key->body)["error"]["code"], "invalid_api_key");
  auto wrong_key = c.Post("/embed", {{"Authorization", "Bearer s3cre7"}}, "{\"inputs\": \"a\"}", "application/json");
  ASSERT_TRUE(wrong_key);
  EXPECT_EQ(wrong_key->status, 401);
  auto with_key = c.Post("/embed", auth, "{\"inputs\": \"a\"}", "application/json");
  ASSERT_TRUE(with_key);
  EXPECT_EQ(with_key->status, 200);

  // A body over --max-request-bytes: 413 in the route's shape, the server unharmed.
  auto big = c.Post("/embed", auth, json{{"inputs", std::string(300000, 'a')}}.dump(), "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(json::parse(big->body)["error_type"], "validation");

  // 12 clients at once with 32 texts each against a queue of one: some are refused with
  // 429 and Retry-After, every answered one is right.
  std::string text;
  for (int i = 0; i < 25; ++i) text += "package manager library ";  // about 200 tokens
  const json request = {{"inputs", json(std::vector<json>(32, json::array({text})))}};
  auto first = c.Post("/predict", auth, request.dump(), "application/json");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200) << first->body;
  const json alone = json::parse(first->body);
  std::atomic<int> ok{0}, refused{0}, wrong{0};
  std::vector<std::thread> clients;
  for (int k = 0; k < 12; ++k) {
    clients.emplace_back([&] {
      httplib::Client client = server.client();
      auto res = client.Post("/predict", auth, request.dump(), "application/json");
      if (!res) {
        ++wrong;
      } else if (res->status == 200) {
        ok += json::parse(res->body) == alone;
        wrong += json::parse(res->body) != alone;
      } else if (res->status == 429 && res->get_header_value("Retry-After") == "1" &&
                 json::parse(res->body)["error_type"] == "overloaded") {
        ++refused;
      } else {
        ++wrong;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_GT(ok, 0);
  EXPECT_GT(refused, 0);
  EXPECT_EQ(ok + refused, 12);
  EXPECT_EQ(server.stop(), 0) << server.log_text();
  EXPECT_NE(server.log_text().find("sparq serve: stopped"), std::string::npos);
}

// A burst of new connections is queued by the kernel, not dropped. Debian's cpp-httplib
// listens with a backlog of 5: with the server busy (here: stopped), the 7th connection of a
// burst got no answer to its SYN and waited for the client's retransmit, a second or more (the
// load test saw 6 of 64 connections at 1.02 s). Deterministic: while the process is stopped
// the kernel completes as many handshakes as the backlog holds, and no more.
TEST(ServeLimits, BurstOfConnectionsIsQueuedNotDropped) {
  const std::string dir = temp_dir("serve_backlog");
  ServeProcess server({default_model_path(), "-t", "1", "-q"}, dir + "/serve.log");
  ASSERT_NE(server.port(), 0) << server.log_text();
  constexpr int kConnections = 64;
  ASSERT_EQ(kill(server.pid(), SIGSTOP), 0);
  std::vector<int> socks;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(server.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < kConnections; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ASSERT_GE(fd, 0);
    connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);  // EINPROGRESS
    socks.push_back(fd);
  }
  // Well under the 1 s of a SYN retransmit: only handshakes the backlog took are complete.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int connected = 0;
  for (int fd : socks) {
    pollfd p{fd, POLLOUT, 0};
    int error = -1;
    socklen_t len = sizeof error;
    if (poll(&p, 1, 0) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == 0) ++connected;
  }
  ASSERT_EQ(kill(server.pid(), SIGCONT), 0);
  for (int fd : socks) close(fd);
  EXPECT_EQ(connected, kConnections);
  auto health = server.client().Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(server.stop(), 0) << server.log_text();
}

TEST(ServeLimits, UnusableModelOrPortIsAnError) {
  const std::string dir = temp_dir("serve_bad_model");
  { std::ofstream(dir + "/not-a-model.sparq") << "nonsense"; }
  CliResult r = run_sparq({"serve", dir + "/not-a-model.sparq", "--port", "0"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("not-a-model.sparq"), std::string::npos) << r.err;
  r = run_sparq({"serve", default_model_path(), "--model-name", "a", "--model-name", "b", "--port", "0"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("--model-name"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sparq::test
#endif
