// End-to-end decoder commands on the project's debian-llama (converted once, q8): `generate`
// streams the text its --json reports, seeded sampling reproduces, stop strings and max
// tokens end the text, bad options and non-decoder models fail with the documented exit
// codes; `eval --perplexity` floors and baselines; `bench` reports decoder speed.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <tuple>

#include "cli_runner.h"
#include "formats/input_file.h"
#include "formats/sparq_reader.h"

namespace {

using nlohmann::json;
using sparq::test::run_sparq;
using sparq::test::debian_llama_q8;

const std::string kPrompt = "Package: zstd\nSection: utils\nDescription:";

json generate_json(std::vector<std::string> extra, const std::string& prompt = kPrompt) {
  std::vector<std::string> args = {"generate", debian_llama_q8(), "--prompt", prompt, "--json", "-t", "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = run_sparq(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return json::parse(r.out);
}

TEST(DecoderCli, GenerateStreamsWhatItsJsonReports) {
  const json j = generate_json({"-n", "40"});
  ASSERT_TRUE(j["text"].is_string());
  EXPECT_LE(j["tokens"].size(), 40u);
  EXPECT_TRUE(j["finish_reason"] == "eos" || j["finish_reason"] == "length") << j.dump();
  auto streamed = run_sparq({"generate", debian_llama_q8(), "--prompt", kPrompt, "-n", "40", "-t", "1"});
  ASSERT_EQ(streamed.exit_code, 0) << streamed.err;
  EXPECT_EQ(streamed.out, j["text"].get<std::string>() + "\n");
  EXPECT_NE(streamed.err.find("prompt +"), std::string::npos) << streamed.err;
}

TEST(DecoderCli, SeededSamplingReproducesAndLogprobsAreReported) {
  const std::vector<std::string> sampled = {"-n", "24", "--temperature", "1.0", "--top-p", "0.95", "--ignore-eos",
                                            "--logprobs", "3"};
  auto with_seed = [&](const char* seed) {
    std::vector<std::string> a = sampled;
    a.insert(a.end(), {"--seed", seed});
    return generate_json(a);
  };
  const json a = with_seed("1"), b = with_seed("1"), c = with_seed("2");
  EXPECT_EQ(a["tokens"], b["tokens"]);
  EXPECT_NE(a["tokens"], c["tokens"]);
  ASSERT_EQ(a["logprobs"].size(), 24u);
  for (const json& t : a["logprobs"]) {
    EXPECT_LE(t["logprob"].get<double>(), 0.0);
    ASSERT_EQ(t["top"].size(), 3u);
    EXPECT_GE(t["top"][0]["logprob"].get<double>(), t["top"][1]["logprob"].get<double>());
  }
}

TEST(DecoderCli, StopStringsAndMaxTokensEndTheText) {
  const json full = generate_json({"-n", "30", "--ignore-eos"});
  EXPECT_EQ(full["finish_reason"], "length");
  EXPECT_EQ(full["tokens"].size(), 30u);
  const std::string text = full["text"];
  ASSERT_GE(text.size(), 10u);
  const std::string stop = text.substr(text.size() / 2, 4);
  const json stopped = generate_json({"-n", "30", "--ignore-eos", "--stop", stop});
  EXPECT_EQ(stopped["finish_reason"], "stop");
  EXPECT_EQ(stopped["text"], text.substr(0, text.find(stop)));
}

// --chat renders the model's template (checked against @huggingface/jinja by the chat-template
// tests) and encodes it as apply_chat_template does: with no special tokens added, so the ids
// are those `sparq tokenize` gives the rendered text minus the BOS its post-processor adds.
TEST(DecoderCli, ChatWrapsThePromptInTheModelsTemplate) {
  const json j = generate_json({"--chat", "--system", "Answer briefly.", "-n", "4"}, "What is zstd?");
  const std::string rendered = j["chat_prompt"];
  EXPECT_NE(rendered.find("What"), std::string::npos) << rendered;
  EXPECT_NE(rendered.find("Answer briefly."), std::string::npos) << rendered;
  auto tok = run_sparq({"tokenize", debian_llama_q8()}, json({{"text", rendered}}).dump() + "\n");
  ASSERT_EQ(tok.exit_code, 0) << tok.err;
  const std::vector<int> ids = json::parse(tok.out)["ids"].get<std::vector<int>>();
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), 1) << "the tokenizer's template adds BOS";
  EXPECT_EQ(j["prompt_tokens"].get<size_t>(), ids.size() - 1);
}

TEST(DecoderCli, BadRequestsFailWithTheirExitCodes) {
  auto r = run_sparq({"generate", debian_llama_q8(), "--prompt", "x", "--top-p", "1.5"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("top_p"), std::string::npos) << r.err;
  r = run_sparq({"generate", debian_llama_q8(), "--prompt", "x", "--stop", ""});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("empty stop string"), std::string::npos) << r.err;
  r = run_sparq({"generate", debian_llama_q8(), "--prompt", "x", "--context", "100000"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("longer than the model's 256"), std::string::npos) << r.err;
  r = run_sparq({"generate", debian_llama_q8(), "--prompt", std::string(3000, 'a'), "--context", "64"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("the context holds 64"), std::string::npos) << r.err;
  const std::string encoder = sparq::test::default_model_path();
  r = run_sparq({"generate", encoder, "--prompt", "x"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("debian-sections-s90b4-q8.sparq"), std::string::npos) << r.err;
}

// Wanda through the CLI: the calibration run is recorded, the pruned model differs from
// magnitude's at the same sparsity and still runs; misuse is refused. (Its masks against
// PyTorch: models/train/check_wanda_pruning.py.)
// Two package descriptions as calibration text, in `dir`.
std::string write_calibration_text(const std::string& dir) {
  const std::string text = dir + "/calibration.txt";
  std::ofstream(text) << "Package: zstd\nDescription: fast lossless compression\n\n"
                          "Package: gzip\nDescription: the GNU compression utility\n";
  return text;
}

// `sparq convert --from sparq` of the debian-llama q8 conversion to `out`, with `extra`.
sparq::test::CliResult convert_debian_llama(const std::string& out, std::vector<std::string> extra) {
  std::vector<std::string> args = {"convert", "--from", "sparq", debian_llama_q8(), "-o", out, "-q"};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_sparq(args);
}

TEST(DecoderCli, WandaPruningRecordsItsCalibration) {
  const std::string dir = sparq::test::temp_dir("decoder_cli_wanda");
  const std::string text = write_calibration_text(dir);
  auto convert = [&](const std::string& out, std::vector<std::string> extra) {
    extra.insert(extra.begin(), {"--prune", "0.5"});
    return convert_debian_llama(out, extra);
  };
  auto r = convert(dir + "/wanda.sparq", {"--prune-method", "wanda", "--calibration", text, "--calibration-tokens", "20"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = convert(dir + "/magnitude.sparq", {});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto inspect = [&](const std::string& path) {
    auto i = run_sparq({"inspect", path, "--json"});
    EXPECT_EQ(i.exit_code, 0) << i.err;
    return json::parse(i.out);
  };
  const json wanda = inspect(dir + "/wanda.sparq"), magnitude = inspect(dir + "/magnitude.sparq");
  const json& compression = wanda["metadata"]["compression"];
  EXPECT_EQ(compression["recipe"]["method"], "wanda");
  EXPECT_EQ(compression["calibration"]["file"], text);
  EXPECT_EQ(compression["calibration"]["tokens"], 20);
  EXPECT_EQ(compression["calibration"]["sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(magnitude["metadata"]["compression"]["recipe"]["method"], "magnitude");
  EXPECT_FALSE(magnitude["metadata"]["compression"].contains("calibration"));
  // Same sparsity, other weights kept: the payloads differ.
  auto wanda_file = sparq::formats::SparqReader::open(dir + "/wanda.sparq");
  auto magnitude_file = sparq::formats::SparqReader::open(dir + "/magnitude.sparq");
  ASSERT_TRUE(wanda_file && magnitude_file);
  const auto* w = (*wanda_file)->find("layers.0.ffn.up.weight");
  const auto* m = (*magnitude_file)->find("layers.0.ffn.up.weight");
  ASSERT_TRUE(w && m);
  EXPECT_FALSE(std::ranges::equal(w->payload, m->payload));
  auto g = run_sparq({"generate", dir + "/wanda.sparq", "--prompt", kPrompt, "-n", "4", "-t", "1"});
  EXPECT_EQ(g.exit_code, 0) << g.err;

  r = convert(dir + "/x.sparq", {"--prune-method", "wanda"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("give --calibration"), std::string::npos) << r.err;
  r = convert(dir + "/x.sparq", {"--calibration", text});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("--prune-method wanda"), std::string::npos) << r.err;
  r = convert(dir + "/x.sparq", {"--prune-method", "wanda", "--prune-scope", "global", "--calibration", text});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("works on each tensor"), std::string::npos) << r.err;
  const std::string encoder = sparq::test::default_model_path();
  r = run_sparq({"convert", "--from", "sparq", encoder, "-o", dir + "/x.sparq", "--prune", "0.5", "--prune-method",
                 "wanda", "--calibration", text, "-q"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("runs the model as a decoder"), std::string::npos) << r.err;
}

// SparseGPT and GPTQ from the command line: recorded in the recipe, the result runs, and
// misuse is refused. (Their values against PyTorch: models/train/check_obs_compression.py.)
TEST(DecoderCli, SparseGptAndGptqRecordTheirMethodsAndRun) {
  const std::string dir = sparq::test::temp_dir("decoder_cli_sparsegpt");
  const std::string text = write_calibration_text(dir);
  const auto& convert = convert_debian_llama;
  const std::string joint = dir + "/sparsegpt-gptq.sparq", gptq = dir + "/gptq.sparq";
  auto r = convert(joint, {"--prune", "0.5", "--prune-method", "sparsegpt", "--quantization", "gptq", "--weights",
                           "q4", "--calibration", text});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = convert(gptq, {"--quantization", "gptq", "--weights", "q8:g32", "--calibration", text});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& [path, method, sparsity] : {std::tuple{joint, "sparsegpt", 0.5}, std::tuple{gptq, "magnitude", 0.0}}) {
    auto i = run_sparq({"inspect", path, "--json"});
    ASSERT_EQ(i.exit_code, 0) << i.err;
    const json compression = json::parse(i.out)["metadata"]["compression"];
    EXPECT_EQ(compression["recipe"]["method"], method);
    EXPECT_EQ(compression["recipe"]["quantization"], "gptq");
    EXPECT_EQ(compression["calibration"]["file"], text);
    for (const json& t : compression["tensors"]) EXPECT_GE(t["sparsity"].get<double>(), sparsity) << t.dump();
    auto g = run_sparq({"generate", path, "--prompt", kPrompt, "-n", "4", "-t", "1"});
    EXPECT_EQ(g.exit_code, 0) << g.err;
  }
  r = convert(dir + "/x.sparq", {"--quantization", "gptq", "--weights", "q4"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("give --calibration"), std::string::npos) << r.err;
  r = convert(dir + "/x.sparq", {"--quantization", "gptq", "--weights", "f16", "--calibration", text});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("rounds onto q8 or symmetric q4"), std::string::npos) << r.err;
  r = convert(dir + "/x.sparq", {"--prune", "0.5", "--pattern", "4x4", "--prune-method", "sparsegpt", "--calibration",
                                 text});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("unstructured or N:M"), std::string::npos) << r.err;
}

// q8 with one scale per row, pruned: bitmap rows with one group of the row's columns, which
// decode to what the dense q8 rows do, so perplexity agrees with the dense conversion.
TEST(DecoderCli, PrunedPerRowQ8IsStoredAsBitmapRows) {
  const std::string dir = sparq::test::temp_dir("decoder_cli_bitmap_rows");
  ASSERT_EQ(convert_debian_llama(dir + "/bitmap.sparq", {"--prune", "0.7", "--weights", "q8"}).exit_code, 0);
  ASSERT_EQ(convert_debian_llama(dir + "/dense.sparq", {"--prune", "0.7", "--weights", "q8", "--no-sparse"}).exit_code,
            0);
  auto i = run_sparq({"inspect", dir + "/bitmap.sparq", "--json"});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  const json info = json::parse(i.out);
  std::map<std::string, std::string> encodings;
  for (const json& t : info["tensors"]) encodings[t["name"].get<std::string>()] = t["encoding"].get<std::string>();
  EXPECT_EQ(encodings["layers.0.ffn.up.weight"], "bitmap:q8:g128");
  EXPECT_EQ(encodings["layers.0.ffn.down.weight"], "bitmap:q8:g352");
  const std::string text = dir + "/dev.txt";
  {
    std::ifstream dev(sparq::test::dev_subset_path());
    std::ofstream out(text);
    std::string line;
    for (int n = 0; n < 6 && std::getline(dev, line); ++n) out << json::parse(line)["text"].get<std::string>() << "\n\n";
  }
  auto perplexity = [&](const std::string& model) {
    auto r = run_sparq({"eval", model, "--perplexity", text, "--context", "128", "--json", "-q"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out)["perplexity"].get<double>();
  };
  EXPECT_NEAR(perplexity(dir + "/bitmap.sparq"), perplexity(dir + "/dense.sparq"), 1e-4 * perplexity(dir + "/dense.sparq"));
}

TEST(DecoderCli, PerplexityFloorsAndBaseline) {
  const std::string text = sparq::test::temp_dir("decoder_cli_ppl") + "/dev.txt";
  {
    std::ifstream dev(sparq::test::dev_subset_path());
    std::ofstream out(text);
    std::string line;
    for (int i = 0; i < 6 && std::getline(dev, line); ++i) out << json::parse(line)["text"].get<std::string>() << "\n\n";
  }
  auto r = run_sparq({"eval", debian_llama_q8(), "--perplexity", text, "--context", "128", "--json", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  const double ppl = j["perplexity"];
  EXPECT_GT(ppl, 1.0);
  EXPECT_LT(ppl, 2048.0) << "worse than uniform over the vocabulary";
  EXPECT_EQ(j["context"], 128);
  EXPECT_EQ(j["stride"], 64);
  r = run_sparq({"eval", debian_llama_q8(), "--perplexity", text, "--context", "128", "-q", "--floor",
                 "max_perplexity=" + std::to_string(ppl * 0.9)});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  r = run_sparq({"eval", debian_llama_q8(), "--perplexity", text, "--context", "128", "-q", "--baseline", debian_llama_q8(), "--floor",
                 "relative_perplexity=0.999", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_DOUBLE_EQ(json::parse(r.out)["floors"][0]["measured"].get<double>(), 1.0);
  r = run_sparq({"eval", debian_llama_q8(), "--perplexity", text, "--context", "128", "-q", "--baseline", debian_llama_q8(), "--floor",
                 "relative=1.0", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_DOUBLE_EQ(json::parse(r.out)["floors"][0]["measured"].get<double>(), 1.0);
  for (const char* floor : {"relative_perplexity=0.9", "relative=1.05"}) {  // no baseline
    r = run_sparq({"eval", debian_llama_q8(), "--perplexity", text, "--floor", floor});
    EXPECT_EQ(r.exit_code, 1) << r.err;
  }
  r = run_sparq({"eval", debian_llama_q8(), "--perplexity", text, "--baseline", debian_llama_q8(), "--floor", "relative=0.95"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("relative=R (R >= 1"), std::string::npos) << r.err;
  r = run_sparq({"eval", debian_llama_q8(), "--perplexity", text, "--context", "64", "--stride", "65"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
}

TEST(DecoderCli, BenchReportsDecoderSpeed) {
  auto r = run_sparq({"bench", debian_llama_q8(), "--prompt-len", "16", "--gen-len", "8", "--seconds", "0.2", "--warmup", "0",
                      "--min-iterations", "1", "--no-measure", "--json", "-q", "-t", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["model"]["kind"], "decoder");
  EXPECT_GT(j["prefill_tokens_per_s"].get<double>(), 0);
  EXPECT_GT(j["decode_tokens_per_s"].get<double>(), 0);
  EXPECT_GT(j["kv_cache_bytes"].get<uint64_t>(), 0u);
  EXPECT_GT(j["decode_weight_bytes_per_step"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["token_latency_ms"].size(), 5u);
}

// --kv-cache on every command that makes a decoder cache (generate with --prompt and --input,
// bench, eval --perplexity): the type and bytes reported are the cache the sizes imply
// (debian-llama's from its config.json: sequences x layers x context x KV heads x head_dim, K
// and V, at 4/2/1 bytes a value plus q8's 4-byte scale per head_dim values).
TEST(DecoderCli, KvCacheTypeIsChosenAndItsBytesReported) {
  auto config = sparq::formats::load_json_file(std::string(SPARQ_SOURCE_DIR) + "/models/debian-llama/config.json");
  ASSERT_TRUE(config.ok());
  const uint64_t layers = (*config)["num_hidden_layers"], kv_heads = (*config)["num_key_value_heads"],
                 head_dim = (*config)["head_dim"], max_context = (*config)["max_position_embeddings"];
  const auto bytes = [&](const std::string& type, uint64_t sequences, uint64_t context) {
    const uint64_t vectors = 2 * layers * sequences * context * kv_heads;
    return type == "f32" ? vectors * head_dim * 4 : type == "f16" ? vectors * head_dim * 2 : vectors * (head_dim + 4);
  };
  for (const std::string type : {"f32", "f16", "q8"}) {
    const json j = generate_json({"-n", "4", "--kv-cache", type});
    EXPECT_EQ(j["kv_cache_type"], type);
    EXPECT_EQ(j["kv_cache_bytes"].get<uint64_t>(), bytes(type, 1, max_context)) << type;
  }
  EXPECT_EQ(generate_json({"-n", "4", "--kv-cache", "q8", "--context", "64"})["kv_cache_bytes"].get<uint64_t>(),
            bytes("q8", 1, 64));

  // The batch job: --batch-size slots of the model's context, in its summary.
  const std::string dir = sparq::test::temp_dir("decoder_cli_kv");
  std::ofstream(dir + "/prompts.jsonl") << "{\"prompt\": \"Package: zstd\"}\n{\"prompt\": \"Package: gzip\"}\n";
  auto r = run_sparq({"generate", debian_llama_q8(), "-i", dir + "/prompts.jsonl", "-o", dir + "/out.jsonl", "-n", "4",
                      "--batch-size", "3", "--kv-cache", "q8", "--json", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["kv_cache_type"], "q8");
  EXPECT_EQ(j["kv_cache_bytes"].get<uint64_t>(), bytes("q8", 3, max_context));

  r = run_sparq({"bench", debian_llama_q8(), "--prompt-len", "16", "--gen-len", "8", "--batch-size", "2", "--seconds", "0.1",
                 "--warmup", "0", "--min-iterations", "1", "--no-measure", "--json", "-q", "-t", "1", "--kv-cache",
                 "f16"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = json::parse(r.out);
  EXPECT_EQ(j["kv_cache_type"], "f16");
  EXPECT_EQ(j["kv_cache_bytes"].get<uint64_t>(), bytes("f16", 2, 16 + 8));

  const std::string text = dir + "/dev.txt";
  std::ofstream(text) << "Package: zstd\nSection: utils\nDescription: fast lossless compression\n";
  r = run_sparq({"eval", debian_llama_q8(), "--perplexity", text, "--context", "16", "--kv-cache", "q8", "--baseline", debian_llama_q8(),
                 "--json", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = json::parse(r.out);
  EXPECT_EQ(j["kv_cache_type"], "q8");
  EXPECT_EQ(j["baseline"]["kv_cache_type"], "f32") << "the baseline is the reference";

  // An unknown type is a usage error naming the option, on every command; with `eval` it
  // needs --perplexity.
  const std::vector<std::vector<std::string>> refused = {
      {"generate", debian_llama_q8(), "--prompt", "x", "--kv-cache", "q4"},
      {"bench", debian_llama_q8(), "--kv-cache", "bf16"},
      {"eval", debian_llama_q8(), "--perplexity", text, "--kv-cache", "F16"},
      {"eval", debian_llama_q8(), "--input", text, "--kv-cache", "f16"},
  };
  for (const auto& args : refused) {
    r = run_sparq(args);
    EXPECT_EQ(r.exit_code, 1) << args[0] << ": " << r.err;
    EXPECT_NE(r.err.find("--kv-cache"), std::string::npos) << r.err;
  }
}

}  // namespace
