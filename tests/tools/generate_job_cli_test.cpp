// `sparq generate --input` as a batch job, end to end on the project's debian-llama
// (converted once, q8): one output or error record per input record, in input order; every
// record's text, tokens and finish reason equal `sparq generate --prompt` with the same
// options (the record's seed, derived from --seed and its index as documented, for sampled
// ones); the output bytes do not depend on batch size, chunks or threads; a job killed with
// SIGKILL and run again, or split into shards merged by `sparq merge`, writes the bytes of one
// uninterrupted run; a resume with other options is refused.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_runner.h"
#include "kill_and_resume.h"

namespace {

using nlohmann::json;
using sparq::test::CliResult;
using sparq::test::kill_and_resume;
using sparq::test::read_file;
using sparq::test::scaled_for_build;
using sparq::test::run_sparq;
using sparq::test::ScopedEnv;
using sparq::test::temp_dir;
using sparq::test::write_file;
using sparq::test::debian_llama_q8;
using sparq::test::json_lines;

// "Package: NAME\nSection: SECTION\nDescription:" for the dev subset's packages, in turn.
std::vector<std::string> package_prompts(size_t n) {
  std::ifstream dev(sparq::test::dev_subset_path());
  std::vector<std::string> all;
  for (std::string line; std::getline(dev, line);) {
    const json d = json::parse(line);
    all.push_back("Package: " + d["id"].get<std::string>() + "\nSection: " + d["label"].get<std::string>() +
                  "\nDescription:");
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back(all[i % all.size()]);
  return out;
}

// `n` prompt records with unique ids; every 13th (from the 5th) is malformed JSON, so the job
// has error records to write in their place too.
std::string prompt_records(size_t n) {
  std::string out;
  const std::vector<std::string> prompts = package_prompts(n);
  for (size_t i = 0; i < n; ++i) {
    out += i % 13 == 5 ? "{\"id\": \"broken\", \"prompt\": \n"
                       : json({{"id", "p-" + std::to_string(i)}, {"prompt", prompts[i]}}).dump() + "\n";
  }
  return out;
}

// The seed the job documents for record `index`: XXH3-64 (xxHash's own) of the index as 8
// little-endian bytes, seeded with --seed.
uint64_t documented_seed(uint64_t job_seed, uint64_t index) {
  std::array<unsigned char, 8> bytes;
  for (size_t i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(index >> (8 * i));
  return XXH3_64bits_withSeed(bytes.data(), bytes.size(), job_seed);
}

CliResult generate_job(const std::string& input, const std::string& output, std::vector<std::string> extra) {
  std::vector<std::string> args = {"generate", debian_llama_q8(), "-i", input, "-o", output};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_sparq(args);
}

TEST(GenerateJob, EveryRecordGetsOneOutputOrErrorInInputOrder) {
  const std::string dir = temp_dir("generate_job_records");
  const std::string prompt = package_prompts(1)[0];
  // What each record must become: "" an output record, else its error code.
  const std::vector<std::pair<json, std::string>> records = {
      {{{"id", "plain"}, {"prompt", prompt}}, ""},
      {{{"id", "chat"}, {"messages", {{{"role", "user"}, {"content", "What is zstd?"}}}}}, ""},
      {{{"id", "short"}, {"prompt", prompt}, {"max_tokens", 3}}, ""},
      {{{"id", "hot"}, {"prompt", prompt}, {"temperature", 1.0}, {"seed", 5}}, ""},
      {{{"id", "stops"}, {"prompt", prompt}, {"stop", "e"}}, ""},
      {{{"id", "empty"}, {"prompt", " "}}, "empty_text"},
      {{{"id", "long"}, {"prompt", std::string(3000, 'a')}}, "prompt_too_long"},
      {{{"id", "no prompt"}, {"text", prompt}}, "missing_field"},
      {{{"id", "both"}, {"prompt", prompt}, {"messages", {{{"role", "user"}, {"content", "x"}}}}},
       "conflicting_fields"},
      {{{"id", "not a list"}, {"messages", "hello"}}, "malformed_messages"},
      {{{"id", "no content"}, {"messages", {{{"role", "user"}}}}}, "malformed_messages"},
      {{{"id", "no messages"}, {"messages", json::array()}}, "malformed_messages"},
      {{{"id", "cold"}, {"prompt", prompt}, {"temperature", -1}}, "invalid_field"},
      {{{"id", "zero"}, {"prompt", prompt}, {"max_tokens", 0}}, "invalid_field"},
      {{{"id", "negative seed"}, {"prompt", prompt}, {"seed", -3}}, "invalid_field"},
      {{{"id", "empty stop"}, {"prompt", prompt}, {"stop", {"x", ""}}}, "invalid_field"},
  };
  std::string input;
  for (const auto& [record, code] : records) input += record.dump() + "\n";
  input += "{\"id\": \"broken\", \"prompt\": \n";
  input += "{\"id\": \"latin1\", \"prompt\": \"caf\xE9\"}\n";
  input += json({{"prompt", prompt}}).dump() + "\n";  // no id: the index is the id
  write_file(dir + "/prompts.jsonl", input);

  CliResult r = generate_job(dir + "/prompts.jsonl", dir + "/out.jsonl",
                             {"-n", "12", "--context", "64", "-t", "1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<json> out = json_lines(read_file(dir + "/out.jsonl"));
  ASSERT_EQ(out.size(), records.size() + 3);
  std::map<std::string, uint64_t> errors;
  for (size_t i = 0; i < out.size(); ++i) {
    const json& o = out[i];
    EXPECT_EQ(o["index"], i) << o;
    const std::string want = i < records.size() ? records[i].second
                             : i == records.size()     ? "malformed_json"
                             : i == records.size() + 1 ? "invalid_utf8"
                                                       : "";
    if (i < records.size()) {
      EXPECT_EQ(o["id"], records[i].first["id"]) << o;
    }
    if (!want.empty()) {
      ++errors[want];
      ASSERT_TRUE(o.contains("error")) << i << ": " << o;
      EXPECT_EQ(o["error"]["code"], want) << o;
      EXPECT_EQ(o.size(), 3u) << "an error record is {id, index, error}: " << o;
      continue;
    }
    ASSERT_FALSE(o.contains("error")) << o;
    EXPECT_TRUE(o["text"].is_string()) << o;
    EXPECT_TRUE(o["finish_reason"] == "eos" || o["finish_reason"] == "stop" || o["finish_reason"] == "length") << o;
    EXPECT_GT(o["prompt_tokens"].get<size_t>(), 0u) << o;
    EXPECT_LE(o["generated_tokens"].get<size_t>(), o["id"] == "short" ? 3u : 12u) << o;
    EXPECT_EQ(o.contains("seed"), o["id"] == "hot") << "a seed only where it chose the tokens: " << o;
  }
  EXPECT_EQ(out.back()["id"], records.size() + 2);
  EXPECT_EQ(out[4]["text"].get<std::string>().find('e'), std::string::npos) << out[4];
  EXPECT_EQ(out[3]["seed"], 5) << "a record's own seed is used as it is";
  // The messages name the record's line and what is wrong with it.
  EXPECT_NE(out[12]["error"]["message"].get<std::string>().find("line 13: temperature"), std::string::npos) << out[12];
  EXPECT_NE(out[10]["error"]["message"].get<std::string>().find("line 11: \"messages\": message 0 has no \"content\""),
            std::string::npos)
      << out[10];
  EXPECT_NE(out[6]["error"]["message"].get<std::string>().find("the context holds 64"), std::string::npos) << out[6];

  const json summary = json::parse(r.out);
  EXPECT_EQ(summary["task"], "generate");
  EXPECT_EQ(summary["records"], out.size());
  EXPECT_EQ(summary["errors_by_code"], json(errors));
  EXPECT_EQ(summary["ok"], out.size() - summary["errors"].get<size_t>());
}

// The reference for every record is the interactive command with the same options: the
// batch job's continuous batching, chunking and seed derivation must not change a token.
TEST(GenerateJob, RecordsEqualInteractiveGenerateWithTheSameOptions) {
  const std::string dir = temp_dir("generate_job_interactive");
  const std::vector<std::string> prompts = package_prompts(4);
  const std::string system = "Answer briefly.", question = "What does zstd do?";
  auto interactive = [&](const std::string& prompt, std::vector<std::string> options) {
    std::vector<std::string> args = {"generate", debian_llama_q8(), "--prompt", prompt, "--json", "-q", "-t", "1"};
    args.insert(args.end(), options.begin(), options.end());
    CliResult r = run_sparq(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
  };
  auto expect_same = [](const json& record, const json& alone) {
    EXPECT_EQ(record["text"], alone["text"]) << record;
    EXPECT_EQ(record["tokens"], alone["tokens"]) << record;
    EXPECT_EQ(record["finish_reason"], alone["finish_reason"]) << record;
    EXPECT_EQ(record["prompt_tokens"], alone["prompt_tokens"]) << record;
    EXPECT_EQ(record["generated_tokens"], alone["generated_tokens"]) << record;
  };

  for (const std::vector<std::string>& sampling :
       {std::vector<std::string>{}, {"--temperature", "0.9", "--top-p", "0.95", "--seed", "7"}}) {
    std::string input;
    for (const std::string& p : prompts) input += json({{"prompt", p}}).dump() + "\n";
    // The same prompt again at another index: another seed when sampled.
    input += json({{"prompt", prompts[0]}}).dump() + "\n";
    write_file(dir + "/prompts.jsonl", input);
    std::vector<std::string> options = {"-n", "24", "--batch-size", "3"};
    options.insert(options.end(), sampling.begin(), sampling.end());
    std::vector<std::string> job = options;
    job.insert(job.end(), {"--token-ids", "-q", "-t", "1"});
    CliResult r = generate_job(dir + "/prompts.jsonl", dir + "/out.jsonl", job);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::vector<json> out = json_lines(read_file(dir + "/out.jsonl"));
    ASSERT_EQ(out.size(), prompts.size() + 1);
    for (size_t i = 0; i < out.size(); ++i) {
      std::vector<std::string> alone = {"-n", "24"};
      alone.insert(alone.end(), sampling.begin(), sampling.end());
      if (!sampling.empty()) {
        ASSERT_EQ(out[i]["seed"], documented_seed(7, i)) << out[i];
        alone.back() = std::to_string(out[i]["seed"].get<uint64_t>());
      }
      expect_same(out[i], interactive(prompts[i % prompts.size()], alone));
    }
    if (!sampling.empty()) {
      EXPECT_NE(out[0]["tokens"], out[prompts.size()]["tokens"]) << "one prompt at two indices, two seeds";
    }
  }

  // --chat --system makes a plain prompt the user's message; a record's own conversation is
  // rendered as it is. Both equal the interactive --chat --system.
  const json conversation = {{{"role", "system"}, {"content", system}}, {{"role", "user"}, {"content", question}}};
  write_file(dir + "/chat.jsonl",
             json({{"prompt", question}}).dump() + "\n" + json({{"messages", conversation}}).dump() + "\n");
  CliResult chat = generate_job(dir + "/chat.jsonl", dir + "/chat-out.jsonl",
                                {"-n", "16", "--chat", "--system", system, "--token-ids", "-q", "-t", "1"});
  ASSERT_EQ(chat.exit_code, 0) << chat.err;
  const json alone = interactive(question, {"-n", "16", "--chat", "--system", system});
  for (const json& record : json_lines(read_file(dir + "/chat-out.jsonl"))) expect_same(record, alone);

  // A record's own settings are those options given to the interactive command.
  const json own_settings = {
      {"prompt", prompts[1]}, {"max_tokens", 9}, {"temperature", 1.2}, {"seed", 11}, {"stop", {"zz", "ion"}}};
  write_file(dir + "/own.jsonl", own_settings.dump() + "\n");
  CliResult own =
      generate_job(dir + "/own.jsonl", dir + "/own-out.jsonl", {"-n", "30", "--token-ids", "-q", "-t", "1"});
  ASSERT_EQ(own.exit_code, 0) << own.err;
  expect_same(json_lines(read_file(dir + "/own-out.jsonl")).at(0),
              interactive(prompts[1], {"-n", "9", "--temperature", "1.2", "--seed", "11", "--stop", "zz", "--stop",
                                       "ion"}));
}

// Why --batch-size, --chunk-size and --threads are not in the job's fingerprint.
TEST(GenerateJob, OutputBytesDoNotDependOnBatchSizeChunksOrThreads) {
  const std::string dir = temp_dir("generate_job_invariance");
  write_file(dir + "/prompts.jsonl", prompt_records(scaled_for_build(48)));
  const std::vector<std::string> sampled = {"-n", "20", "--temperature", "0.8", "--seed", "3", "--logprobs", "2", "-q"};
  auto run = [&](const std::string& name, std::vector<std::string> extra) {
    extra.insert(extra.end(), sampled.begin(), sampled.end());
    CliResult r = generate_job(dir + "/prompts.jsonl", dir + "/" + name, extra);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return read_file(dir + "/" + name);
  };
  const std::string one = run("one.jsonl", {"--batch-size", "1", "--chunk-size", "5", "-t", "1"});
  const std::string four = run("four.jsonl", {"--batch-size", "4", "--chunk-size", "64", "-t", "2"});
  EXPECT_EQ(json_lines(one).size(), scaled_for_build(48));
  EXPECT_TRUE(one == four) << "output bytes differ between batch size 1 and 4 / other chunks and threads";
}

TEST(GenerateJob, KilledAtRandomPointsResumesToIdenticalOutput) {
  const std::string dir = temp_dir("generate_job_resume");
  const size_t n = scaled_for_build(400);
  write_file(dir + "/prompts.jsonl", prompt_records(n));
  auto args = [&](const std::string& out) {
    return std::vector<std::string>{"generate", debian_llama_q8(), "-i", dir + "/prompts.jsonl", "-o", out, "-n", "24",
                                    "--temperature", "0.8", "--seed", "3", "--chunk-size", "4", "--batch-size", "3",
                                    "-t", "1"};
  };
  CliResult ref = run_sparq(args(dir + "/ref.jsonl"));
  ASSERT_EQ(ref.exit_code, 0) << ref.err;

  CliResult last = kill_and_resume(args(dir + "/out.jsonl"), dir + "/out.jsonl", 5, 20261206);
  EXPECT_NE(last.err.find("resuming after input record"), std::string::npos) << last.err;
  EXPECT_TRUE(read_file(dir + "/out.jsonl") == read_file(dir + "/ref.jsonl"))
      << "the resumed output differs from the uninterrupted one";
  EXPECT_FALSE(std::filesystem::exists(dir + "/out.jsonl.partial.checkpoint"));
  const std::vector<json> out = json_lines(read_file(dir + "/ref.jsonl"));
  ASSERT_EQ(out.size(), n);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(out[i]["index"], i);
    if (i % 13 != 5) {
      EXPECT_EQ(out[i]["id"], "p-" + std::to_string(i));
    }
  }
}

TEST(GenerateJob, ShardsMergedEqualTheSingleRunByteForByte) {
  const std::string dir = temp_dir("generate_job_shards");
  write_file(dir + "/prompts.jsonl", prompt_records(scaled_for_build(60) + 1));  // not a multiple of the shard count
  const std::vector<std::string> options = {"-n", "16", "--temperature", "0.7", "--seed", "9", "-q", "-t", "1"};
  CliResult single = generate_job(dir + "/prompts.jsonl", dir + "/single.jsonl", options);
  ASSERT_EQ(single.exit_code, 0) << single.err;

  std::vector<std::string> shard0 = options, merge = {"merge", "-o", dir + "/merged.jsonl"};
  shard0.insert(shard0.end(), {"--shard", "0/2"});
  ASSERT_EQ(generate_job(dir + "/prompts.jsonl", dir + "/part-{shard}.jsonl", shard0).exit_code, 0);
  {
    // Shard 1 from a Slurm job array's variables instead of the flag: the same job.
    ScopedEnv env{{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "2"}};
    CliResult r = generate_job(dir + "/prompts.jsonl", dir + "/part-{shard}.jsonl", options);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // Merged out of order on the command line: merge orders them by their manifests.
  CliResult merged = run_sparq({"merge", "-o", dir + "/merged.jsonl", dir + "/part-1.jsonl", dir + "/part-0.jsonl"});
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_TRUE(read_file(dir + "/merged.jsonl") == read_file(dir + "/single.jsonl"));
  EXPECT_EQ(json::parse(read_file(dir + "/part-0.jsonl.manifest.json"))["job"]["task"], "generate");
}

TEST(GenerateJob, ResumeWithOtherOptionsIsRefusedAndRestartStartsOver) {
  const std::string dir = temp_dir("generate_job_fingerprint");
  write_file(dir + "/prompts.jsonl", prompt_records(30));
  auto args = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {"-n", "12", "--temperature", "0.5", "--chunk-size", "4", "-t", "1"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  CliResult ref = generate_job(dir + "/prompts.jsonl", dir + "/ref.jsonl", args({"-q"}));
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  // Record 5 is malformed: --max-errors 0 stops the job after its chunk, resumable.
  CliResult stopped = generate_job(dir + "/prompts.jsonl", dir + "/out.jsonl", args({"--max-errors", "0"}));
  EXPECT_EQ(stopped.exit_code, 2) << stopped.err;
  EXPECT_NE(stopped.err.find("(--max-errors)"), std::string::npos) << stopped.err;
  ASSERT_TRUE(std::filesystem::exists(dir + "/out.jsonl.partial.checkpoint"));
  const std::string partial = read_file(dir + "/out.jsonl.partial");

  using Change = std::pair<std::vector<std::string>, std::string>;  // options, the fingerprint field named
  for (const auto& [changed, named] : {Change{{"--seed", "4"}, "generation ("}, Change{{"--token-ids"}, "output ("},
                                       Change{{"--text-field", "text"}, "fields ("},
                                       Change{{"--kv-cache", "f16"}, "generation ("}}) {
    CliResult r = generate_job(dir + "/prompts.jsonl", dir + "/out.jsonl", args(changed));
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(named), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--restart"), std::string::npos) << r.err;
  }
  EXPECT_EQ(read_file(dir + "/out.jsonl.partial"), partial) << "a refused resume touched the partial job";

  // The same options go on from the checkpoint (another batch size is the same job).
  CliResult resumed =
      generate_job(dir + "/prompts.jsonl", dir + "/out.jsonl", args({"--max-errors", "10", "--batch-size", "2"}));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resuming after input record 8"), std::string::npos) << resumed.err;
  EXPECT_EQ(read_file(dir + "/out.jsonl"), read_file(dir + "/ref.jsonl"));

  // --restart discards a partial job started with other options.
  CliResult other =
      generate_job(dir + "/prompts.jsonl", dir + "/out2.jsonl", args({"--max-errors", "0", "--seed", "4"}));
  ASSERT_EQ(other.exit_code, 2) << other.err;
  CliResult restarted = generate_job(dir + "/prompts.jsonl", dir + "/out2.jsonl", args({"--restart", "-q"}));
  ASSERT_EQ(restarted.exit_code, 0) << restarted.err;
  EXPECT_EQ(read_file(dir + "/out2.jsonl"), read_file(dir + "/ref.jsonl"));
}

TEST(GenerateJob, BadOptionsAreUsageErrors) {
  const std::string dir = temp_dir("generate_job_usage");
  write_file(dir + "/prompts.jsonl", prompt_records(3));
  for (const auto& [args, needle] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"generate", debian_llama_q8()}, "give --prompt TEXT, or --input FILE"},
           {{"generate", debian_llama_q8(), "-p", "x", "-o", dir + "/o.jsonl"}, "--output requires --input"},
           {{"generate", debian_llama_q8(), "-p", "x", "-i", dir + "/prompts.jsonl"}, "excludes"},
           {{"generate", debian_llama_q8(), "-i", dir + "/prompts.jsonl", "--json"}, "--json prints the summary on stdout"},
           {{"generate", debian_llama_q8(), "-i", dir + "/prompts.jsonl", "--stop", ""}, "empty stop string (--stop)"},
           {{"generate", debian_llama_q8(), "-i", dir + "/prompts.jsonl", "--batch-size", "0"}, "--batch-size"},
       }) {
    CliResult r = run_sparq(args);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  }
  CliResult help = run_sparq({"generate", "--help"});
  for (const char* needle : {"--input", "--chunk-size", "--restart", "--max-errors", "--shard", "--batch-size",
                             "\"messages\"", "\"index\"", "--token-ids"}) {
    EXPECT_NE(help.out.find(needle), std::string::npos) << "generate --help lacks " << needle;
  }
}

}  // namespace
