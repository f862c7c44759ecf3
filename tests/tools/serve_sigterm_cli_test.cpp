// SIGTERM while `sparq serve` is under load, over real HTTP on loopback: decoder streams and
// encoder batches are in flight when the signal comes; each of them is answered in full with
// what the same request got before the signal (the reference: the same server, unloaded), a
// new connection is refused while they drain (some are answered after the refusal was seen),
// and the process exits 0.
#ifdef SPARQ_HAVE_SERVE
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "cli_runner.h"
#include "serve_process.h"

namespace sparq::test {
namespace {

using nlohmann::json;

const std::string kClassifier = sparq::test::default_model_path();

// Whether a new TCP connection to 127.0.0.1:port is refused (nothing listens any more).
bool connection_refused(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool refused = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno == ECONNREFUSED;
  close(fd);
  return refused;
}

// llama-server's streamed /completion: the concatenated "content" of its events.
struct Stream {
  json body;
  std::string reference;  // the non-streamed content before the signal
  std::string text;
  std::atomic<bool> started{false}, finished{false};
  bool closed_by_final_event = false;
  bool finished_after_refusal = false;  // still running when the listener was seen closed
  int status = 0;
};

TEST(ServeSigterm, InFlightRequestsAreAnsweredNewConnectionsRefusedExit0) {
  const std::string dir = temp_dir("serve_sigterm");
  const std::string& decoder = sparq::test::debian_llama_q8();
  ServeProcess server({kClassifier, decoder, "-t", "1", "-q", "--slots", "4"}, dir + "/serve.log");
  ASSERT_NE(server.port(), 0) << server.log_text();

  // References, one request at a time.
  std::vector<std::unique_ptr<Stream>> streams;
  for (int i = 0; i < 3; ++i) {
    auto s = std::make_unique<Stream>();
    s->body = {{"prompt", "Package: lib" + std::string(1, char('a' + i)) + "\nDescription:"},
               {"n_predict", 200}, {"ignore_eos", true}, {"temperature", 0}};
    auto res = server.client().Post("/completion", s->body.dump(), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    s->reference = json::parse(res->body)["content"];
    s->body["stream"] = true;
    streams.push_back(std::move(s));
  }
  std::string text;
  for (int i = 0; i < 20; ++i) text += "compression library for archives ";
  const json batch = {{"inputs", json(std::vector<json>(24, json::array({text})))}};
  auto first = server.client().Post("/predict", batch.dump(), "application/json");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200) << first->body;
  const json predicted = json::parse(first->body);

  // The load: the streams, each started before the signal.
  std::atomic<bool> refusal_seen{false};
  std::vector<std::thread> clients;
  for (auto& s : streams) {
    clients.emplace_back([&server, &refusal_seen, &s = *s] {
      httplib::Client client = server.client();
      // cpp-httplib 0.11's Post has no content receiver; a Request carries one.
      httplib::Request req;
      req.method = "POST";
      req.path = "/completion";
      req.set_header("Content-Type", "application/json");
      req.body = s.body.dump();
      std::string pending;
      req.content_receiver = [&s, &pending](const char* data, size_t size, uint64_t, uint64_t) {
        pending.append(data, size);
        for (size_t end; (end = pending.find("\n\n")) != std::string::npos; pending.erase(0, end + 2)) {
          if (!pending.starts_with("data: ")) continue;
          const json event = json::parse(pending.substr(6, end - 6));
          s.text += event.value("content", "");
          s.closed_by_final_event = event.value("stop", false);
          s.started = true;
        }
        return true;
      };
      auto res = client.send(req);
      s.status = res ? res->status : -1;
      s.finished_after_refusal = refusal_seen;
      s.finished = true;
    });
  }
  for (auto& s : streams) {
    while (!s->started && !s->finished) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Then encoder batches, until one is queued on its model (accepted and in flight).
  std::atomic<int> predictions_ok{0}, predictions_wrong{0}, predictions_refused{0}, ok_after_refusal{0};
  for (int k = 0; k < 6; ++k) {
    clients.emplace_back([&] {
      auto res = server.client().Post("/predict", batch.dump(), "application/json");
      if (!res) {
        ++predictions_refused;  // not accepted before the listener closed
      } else if (res->status == 200 && json::parse(res->body) == predicted) {
        ++predictions_ok;
        ok_after_refusal += refusal_seen;
      } else {
        ++predictions_wrong;
      }
    });
  }
  bool encoder_busy = false;
  for (int i = 0; i < 400 && !encoder_busy; ++i) {
    auto m = server.client().Get("/metrics");
    encoder_busy = m && m->body.find("sparq_queue_depth{model=\"debian-sections-s90b4-q8\"} 0") == std::string::npos;
    if (!encoder_busy) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(encoder_busy);

  server.terminate();
  // The listening socket closes at once, while the streams are still being generated.
  bool refused = false;
  for (int i = 0; i < 500 && !refused; ++i) {
    refused = connection_refused(server.port());
    if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(refused);
  refusal_seen = refused;

  for (std::thread& t : clients) t.join();
  // Requests were still being answered after the listener had closed: the drain was tested.
  int drained = ok_after_refusal;
  for (auto& s : streams) drained += s->finished_after_refusal && s->status == 200;
  EXPECT_GT(drained, 0) << "every request ended before the listener closed: the test proves nothing";
  for (size_t i = 0; i < streams.size(); ++i) {
    const Stream& s = *streams[i];
    EXPECT_EQ(s.status, 200) << "stream " << i;
    EXPECT_TRUE(s.closed_by_final_event) << "stream " << i;
    EXPECT_EQ(s.text, s.reference) << "stream " << i;
  }
  EXPECT_GT(predictions_ok, 0);
  EXPECT_EQ(predictions_wrong, 0);
  EXPECT_EQ(predictions_ok + predictions_refused, 6);
  EXPECT_EQ(server.wait(), 0) << server.log_text();
  EXPECT_NE(server.log_text().find("sparq serve: stopped"), std::string::npos) << server.log_text();
}

}  // namespace
}  // namespace sparq::test
#endif
