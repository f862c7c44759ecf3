// `sparq serve` with the project's debian-llama (converted once, q8), over real HTTP on
// loopback: /v1/completions, /v1/chat/completions and /completion equal `sparq generate` (the
// reference, its own process) greedy and seeded; streamed events concatenate to the whole
// text; clients at once (more than the slots) get what they get alone; a client that leaves
// mid-stream frees its slot; errors in OpenAI's shape.
#ifdef SPARQ_HAVE_SERVE
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "cli_runner.h"
#include "serve_process.h"

namespace sparq::test {
namespace {

using nlohmann::json;

const std::string kPrompt = "Package: zstd\nSection: utils\nDescription:";

class ServeDecoder : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(temp_dir("serve_decoder"));
    server_ = new ServeProcess({sparq::test::debian_llama_q8(), "-t", "1", "-q", "--slots", "4", "--prefill-chunk", "8"},
                               *dir_ + "/serve.log");
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }
  void SetUp() override { ASSERT_NE(server_->port(), 0) << server_->log_text(); }

  // `sparq generate --json` with `args`: the reference text.
  static json generate(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"generate", sparq::test::debian_llama_q8(), "--json", "-t", "1"};
    all.insert(all.end(), args.begin(), args.end());
    CliResult r = run_sparq(all);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
  }
  static json post(const std::string& path, const json& body, int status = 200) {
    auto res = server_->client().Post(path, body.dump(), "application/json");
    EXPECT_TRUE(res);
    if (!res) return nullptr;
    EXPECT_EQ(res->status, status) << res->body;
    return json::parse(res->body);
  }
  // The events of a streamed response, "[DONE]" left out.
  static std::vector<json> events(const std::string& path, const json& body) {
    auto res = server_->client().Post(path, body.dump(), "application/json");
    EXPECT_TRUE(res);
    std::vector<json> out;
    if (!res) return out;
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
    std::istringstream lines(res->body);
    std::string line;
    while (std::getline(lines, line)) {
      if (!line.starts_with("data: ") || line == "data: [DONE]") continue;
      out.push_back(json::parse(line.substr(6)));
    }
    return out;
  }

  static std::string* dir_;
  static ServeProcess* server_;
};
std::string* ServeDecoder::dir_ = nullptr;
ServeProcess* ServeDecoder::server_ = nullptr;

TEST_F(ServeDecoder, CompletionsEqualGenerateGreedyAndSeeded) {
  const json greedy = generate({"--prompt", kPrompt, "-n", "24"});
  json c = post("/v1/completions", {{"prompt", kPrompt}, {"max_tokens", 24}, {"temperature", 0}});
  EXPECT_EQ(c["object"], "text_completion");
  EXPECT_EQ(c["choices"][0]["text"], greedy["text"]);
  EXPECT_EQ(c["usage"]["completion_tokens"], greedy["generated_tokens"]);
  EXPECT_EQ(c["usage"]["prompt_tokens"], greedy["prompt_tokens"]);
  EXPECT_EQ(c["choices"][0]["finish_reason"], greedy["finish_reason"] == "length" ? "length" : "stop");

  const json seeded = generate({"--prompt", kPrompt, "-n", "24", "--temperature", "0.9", "--top-p", "0.9", "--seed", "42"});
  c = post("/v1/completions",
           {{"prompt", kPrompt}, {"max_tokens", 24}, {"temperature", 0.9}, {"top_p", 0.9}, {"seed", 42}});
  EXPECT_EQ(c["choices"][0]["text"], seeded["text"]);
  // llama-server's route, its defaults spelled out as sparq generate options.
  const json llama_ref = generate({"--prompt", kPrompt, "-n", "16", "--temperature", "0.8", "--top-k", "40", "--top-p",
                                   "0.95", "--min-p", "0.05", "--seed", "7"});
  c = post("/completion", {{"prompt", kPrompt}, {"n_predict", 16}, {"seed", 7}});
  EXPECT_EQ(c["content"], llama_ref["text"]);
  EXPECT_EQ(c["tokens_predicted"], llama_ref["generated_tokens"]);
  EXPECT_EQ(c["stop"], true);
}

TEST_F(ServeDecoder, ChatEqualsGenerateChat) {
  const json ref = generate({"--prompt", "What is zstd?", "--chat", "--system", "Be brief.", "-n", "20"});
  const json messages = {{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "What is zstd?"}}};
  json c = post("/v1/chat/completions", {{"messages", messages}, {"max_tokens", 20}, {"temperature", 0}});
  EXPECT_EQ(c["object"], "chat.completion");
  EXPECT_EQ(c["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(c["choices"][0]["message"]["content"], ref["text"]);
}

TEST_F(ServeDecoder, StreamedEventsConcatenateToTheWholeText) {
  const json body = {{"prompt", kPrompt}, {"max_tokens", 40}, {"temperature", 0.7}, {"seed", 5}};
  const std::string whole = post("/v1/completions", body)["choices"][0]["text"];
  json streamed_body = body;
  streamed_body["stream"] = true;
  streamed_body["stream_options"] = {{"include_usage", true}};
  std::string text;
  const std::vector<json> ev = events("/v1/completions", streamed_body);
  ASSERT_GE(ev.size(), 2u);
  for (const json& e : ev) {
    if (!e["choices"].empty()) text += e["choices"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(text, whole);
  EXPECT_GT(ev.back()["usage"]["completion_tokens"].get<int>(), 0);

  const json chat = {{"messages", {{{"role", "user"}, {"content", "What is zstd?"}}}}, {"max_tokens", 30},
                     {"temperature", 0}};
  const std::string chat_whole = post("/v1/chat/completions", chat)["choices"][0]["message"]["content"];
  json chat_stream = chat;
  chat_stream["stream"] = true;
  std::string chat_text;
  const std::vector<json> chat_ev = events("/v1/chat/completions", chat_stream);
  ASSERT_FALSE(chat_ev.empty());
  EXPECT_EQ(chat_ev.front()["choices"][0]["delta"]["role"], "assistant");
  for (const json& e : chat_ev) chat_text += e["choices"][0]["delta"].value("content", "");
  EXPECT_EQ(chat_text, chat_whole);
  EXPECT_FALSE(chat_ev.back()["choices"][0]["finish_reason"].is_null());

  const json llama = {{"prompt", kPrompt}, {"n_predict", 30}, {"temperature", 0}};
  const std::string llama_whole = post("/completion", llama)["content"];
  json llama_stream = llama;
  llama_stream["stream"] = true;
  std::string llama_text;
  for (const json& e : events("/completion", llama_stream)) llama_text += e["content"].get<std::string>();
  EXPECT_EQ(llama_text, llama_whole);
}

TEST_F(ServeDecoder, ClientsAtOnceGetWhatTheyGetAlone) {
  std::vector<json> bodies, alone;
  for (int i = 0; i < 7; ++i) {
    bodies.push_back({{"prompt", "Package: " + std::string(1, char('a' + i)) + "lib\nDescription:"},
                      {"max_tokens", 12 + 3 * i},
                      {"temperature", i % 2 ? 0.8 : 0.0},
                      {"seed", i}});
    alone.push_back(post("/v1/completions", bodies.back())["choices"][0]["text"]);
  }
  std::vector<json> together(bodies.size());
  std::vector<std::thread> clients;
  for (size_t i = 0; i < bodies.size(); ++i) {
    clients.emplace_back([&, i] {
      auto res = server_->client().Post("/v1/completions", bodies[i].dump(), "application/json");
      if (res && res->status == 200) together[i] = json::parse(res->body)["choices"][0]["text"];
    });
  }
  for (std::thread& t : clients) t.join();
  for (size_t i = 0; i < bodies.size(); ++i) EXPECT_EQ(together[i], alone[i]) << "request " << i;
}

TEST_F(ServeDecoder, AClientLeavingMidStreamFreesItsSlot) {
  // A long generation, abandoned after its first event: its slot is freed (cancelled at the
  // next step, or finished if it was faster than the client) and the server serves on.
  // A plain socket, so that the test decides when the connection closes.
  const json body = {{"prompt", kPrompt}, {"n_predict", 200}, {"ignore_eos", true}, {"stream", true}};
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(server_->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string request = "POST /completion HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                              "Content-Length: " + std::to_string(body.dump().size()) + "\r\n\r\n" + body.dump();
  ASSERT_EQ(write(fd, request.data(), request.size()), ssize_t(request.size()));
  std::string got;
  char buf[4096];
  while (got.find("data: ") == std::string::npos) {
    const ssize_t n = read(fd, buf, sizeof buf);
    ASSERT_GT(n, 0);
    got.append(buf, size_t(n));
  }
  close(fd);
  // The queue drains: no request left on the model (named by its file's stem).
  const std::string queue_empty =
      "sparq_queue_depth{model=\"" + std::filesystem::path(sparq::test::debian_llama_q8()).stem().string() + "\"} 0";
  bool drained = false;
  for (int i = 0; i < 200 && !drained; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto m = server_->client().Get("/metrics");
    drained = m && m->body.find(queue_empty) != std::string::npos;
  }
  EXPECT_TRUE(drained);
  EXPECT_EQ(post("/v1/completions", {{"prompt", kPrompt}, {"max_tokens", 4}})["object"], "text_completion");
}

TEST_F(ServeDecoder, ErrorsInOpenAisShape) {
  json e = post("/v1/completions", {{"prompt", kPrompt}, {"model", "gpt-4"}}, 404)["error"];
  EXPECT_EQ(e["code"], "model_not_found");
  e = post("/v1/completions", {{"prompt", kPrompt}, {"temperature", 3}}, 422)["error"];
  EXPECT_EQ(e["param"], "temperature");
  e = post("/v1/completions", {{"prompt", kPrompt}, {"n", 2}}, 422)["error"];
  EXPECT_EQ(e["param"], "n");
  std::string long_prompt;
  for (int i = 0; i < 300; ++i) long_prompt += "word ";
  e = post("/v1/completions", {{"prompt", long_prompt}}, 400)["error"];
  EXPECT_EQ(e["param"], "prompt");
  e = post("/v1/chat/completions", {{"messages", "hi"}}, 422)["error"];
  EXPECT_EQ(e["param"], "messages");
  e = post("/completion", {{"prompt", kPrompt}, {"n_predict", "ten"}}, 422)["error"];
  EXPECT_EQ(e["code"], 422);
}

}  // namespace
}  // namespace sparq::test
#endif
