// End-to-end: the real `sparq` binary writes synthetic models and inspects them; bad input
// ends in a clear message and the documented exit code.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include "cli_runner.h"
#include "formats/sparq_reader.h"

namespace {

using sparq::test::run_sparq;
using sparq::test::temp_dir;

const std::vector<std::string> kSmallBert = {"--arch", "bert", "--preset", "bert-tiny", "--config",
                                             "num_layers=1", "--config", "num_labels=3"};

TEST(CliSynthInspect, SparseQ8ModelReportsShapesEncodingsAndSparsity) {
  std::string path = temp_dir("cli_synth_sparse") + "/m.sparq";
  auto synth = run_sparq({"synth"});  // missing required options
  EXPECT_EQ(synth.exit_code, 1);
  auto args = kSmallBert;
  args.insert(args.begin(), "synth");
  for (const char* a : {"--weights", "q8", "--sparsity", "0.8", "--seed", "7", "-o"}) args.push_back(a);
  args.push_back(path);
  synth = run_sparq(args);
  ASSERT_EQ(synth.exit_code, 0) << synth.err;

  auto inspect = run_sparq({"inspect", path, "--json"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  auto j = nlohmann::json::parse(inspect.out);
  EXPECT_EQ(j["metadata"]["architecture"]["name"], "bert");
  EXPECT_EQ(j["metadata"]["architecture"]["num_layers"], 1);
  EXPECT_EQ(j["metadata"]["labels"].size(), 3u);
  bool saw_linear = false;
  for (const auto& t : j["tensors"]) {
    std::string name = t["name"];
    if (name == "layers.0.ffn.up.weight") {
      saw_linear = true;
      EXPECT_EQ(t["encoding"], "csr:q8");
      EXPECT_EQ(t["shape"], nlohmann::json({256, 64}));
      // Random pruning at 0.8 over 16384 weights: the stored fraction is within 0.02 of 0.2.
      EXPECT_NEAR(t["sparsity"].get<double>(), 0.8, 0.02);
      EXPECT_LT(t["bytes_on_disk"].get<uint64_t>(), t["bytes_as_f32"].get<uint64_t>() / 4);
    }
    if (name == "embeddings.norm.weight") EXPECT_EQ(t["encoding"], "f32");
  }
  EXPECT_TRUE(saw_linear);
  EXPECT_GT(j["totals"]["compression_ratio"].get<double>(), 1.0);
  EXPECT_EQ(j["totals"]["tensors"].get<size_t>(), j["tensors"].size());

  auto table = run_sparq({"inspect", path});
  ASSERT_EQ(table.exit_code, 0);
  EXPECT_NE(table.out.find("layers.0.attention.qkv.weight"), std::string::npos);
  EXPECT_NE(table.out.find("csr:q8"), std::string::npos);
  EXPECT_NE(table.out.find("total"), std::string::npos);
}

// Bitmap stores a mask bit per weight instead of csr's 16-bit column index per stored
// weight, so at 70 % sparsity the same layer takes fewer bytes than csr and than dense q8.
TEST(CliSynthInspect, BitmapModelIsSmallerThanCsrAndDenseAtSeventyPercent) {
  const std::string dir = temp_dir("cli_synth_bitmap");
  auto layer_bytes = [&](const std::vector<std::string>& weights, const std::string& encoding) {
    auto args = kSmallBert;
    args.insert(args.begin(), "synth");
    args.insert(args.end(), weights.begin(), weights.end());
    args.insert(args.end(), {"-o", dir + "/m.sparq"});
    auto synth = run_sparq(args);
    EXPECT_EQ(synth.exit_code, 0) << synth.err;
    auto inspect = run_sparq({"inspect", dir + "/m.sparq", "--json"});
    EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
    const nlohmann::json j = nlohmann::json::parse(inspect.out);
    for (const auto& t : j["tensors"]) {
      if (t["name"] != "layers.0.ffn.up.weight") continue;
      EXPECT_EQ(t["encoding"], encoding);
      if (encoding != "q8:g32") EXPECT_NEAR(t["sparsity"].get<double>(), 0.7, 0.02);
      return t["bytes_on_disk"].get<uint64_t>();
    }
    ADD_FAILURE() << "no layers.0.ffn.up.weight";
    return uint64_t{0};
  };
  const uint64_t bitmap = layer_bytes({"--weights", "bitmap:q8", "--sparsity", "0.7"}, "bitmap:q8:g32");
  const uint64_t csr = layer_bytes({"--weights", "csr:q8", "--sparsity", "0.7"}, "csr:q8");
  const uint64_t dense = layer_bytes({"--weights", "q8:g32"}, "q8:g32");
  EXPECT_LT(bitmap, csr);
  EXPECT_LT(bitmap, dense * 6 / 10);
  const uint64_t bitmap_q4 = layer_bytes({"--weights", "bitmap:q4", "--sparsity", "0.7"}, "bitmap:q4:g32");
  EXPECT_LT(bitmap_q4, bitmap);
}

TEST(CliSynthInspect, SameSeedSameBytesDifferentSeedDifferentBytes) {
  std::string dir = temp_dir("cli_synth_seed");
  auto make = [&](const std::string& name, const std::string& seed) {
    auto args = kSmallBert;
    args.insert(args.begin(), "synth");
    for (const std::string& a : {std::string("--weights"), std::string("q4:g32"), std::string("--seed"), seed,
                                 std::string("-o"), dir + "/" + name}) {
      args.push_back(a);
    }
    EXPECT_EQ(run_sparq(args).exit_code, 0);
    auto j = nlohmann::json::parse(run_sparq({"inspect", dir + "/" + name, "--json"}).out);
    return j["tensors"];
  };
  auto a = make("a.sparq", "1"), b = make("b.sparq", "1"), c = make("c.sparq", "2");
  EXPECT_EQ(a, b);
  // Payload bytes: equal for equal seeds, different for different seeds.
  auto payloads = [&](const std::string& n) {
    auto reader = sparq::formats::SparqReader::open(dir + "/" + n);
    EXPECT_TRUE(reader.ok());
    std::vector<std::vector<uint8_t>> out;
    for (const auto& t : (*reader)->tensors()) out.emplace_back(t.payload.begin(), t.payload.end());
    return out;
  };
  EXPECT_TRUE(payloads("a.sparq") == payloads("b.sparq"));
  EXPECT_FALSE(payloads("a.sparq") == payloads("c.sparq"));
}

TEST(CliSynthInspect, BadArgumentsAndBadFilesGiveClearErrorsAndExitCodes) {
  std::string dir = temp_dir("cli_errors");
  auto r = run_sparq({"synth", "--arch", "bert", "--weights", "q9", "-o", dir + "/x.sparq"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("invalid encoding 'q9'"), std::string::npos) << r.err;
  r = run_sparq({"synth", "--arch", "bert", "--preset", "bert-tiny", "--config", "hidden_size=65", "-o",
                 dir + "/x.sparq"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("num_heads"), std::string::npos) << r.err;
  r = run_sparq({"synth", "--arch", "bert", "--preset", "bert-tiny", "--config", "bogus=1", "-o", dir + "/x.sparq"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("architecture.bogus"), std::string::npos) << r.err;

  r = run_sparq({"inspect", dir + "/does-not-exist.sparq"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("does-not-exist.sparq: cannot open"), std::string::npos) << r.err;

  std::string model = dir + "/m.sparq";
  auto args = kSmallBert;
  args.insert(args.begin(), "synth");
  args.push_back("-o");
  args.push_back(model);
  ASSERT_EQ(run_sparq(args).exit_code, 0);
  std::string bytes;
  {
    std::ifstream in(model, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // Damage one byte of the first tensor's data: the checksum names the tensor.
  bytes[4096 + 10] ^= 0x40;
  std::ofstream(model, std::ios::binary) << bytes;
  r = run_sparq({"inspect", model});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("tensor 'embeddings.word.weight': checksum mismatch"), std::string::npos) << r.err;

  r = run_sparq({"frobnicate"});
  EXPECT_EQ(r.exit_code, 1);
  r = run_sparq({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("sparq "), std::string::npos);
}

}  // namespace
