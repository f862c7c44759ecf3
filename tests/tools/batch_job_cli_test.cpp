// End-to-end batch jobs with the real `sparq` process: `classify`/`embed` killed with
// SIGKILL at random points and resumed (several times in a row) write output byte-identical
// to an uninterrupted run; a resume with another model/options/input is refused; shards
// (--shard, Slurm and Kubernetes array variables) merged by `sparq merge` equal the
// unsharded run byte for byte, and merge refuses incomplete, mixed or altered shard sets;
// --max-errors stops a job. The reference is always the same job run uninterrupted and
// unsharded.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include <openssl/evp.h>
#include <zstd.h>

#include "cli_runner.h"
#include "kill_and_resume.h"

namespace {

using nlohmann::json;
using sparq::test::CliResult;
using sparq::test::committed_records;
using sparq::test::kill_and_resume;
using sparq::test::scaled_for_build;
using sparq::test::read_file;
using sparq::test::run_sparq;
using sparq::test::spawn_sparq;
using sparq::test::ScopedEnv;
using sparq::test::temp_dir;
using sparq::test::write_file;
using sparq::test::convert_encoder_fixture;

// OpenSSL's SHA-256, the reference for the manifests' "output_sha256".
std::string sha256_hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    static const char* kDigits = "0123456789abcdef";
    hex += kDigits[digest[i] >> 4];
    hex += kDigits[digest[i] & 15];
  }
  return hex;
}

// libzstd's one-shot decoder over every frame, the reference for `.zst` outputs; nullopt
// when the bytes are not a complete zstd stream.
std::optional<std::string> zstd_decompress(const std::string& compressed) {
  std::unique_ptr<ZSTD_DStream, size_t (*)(ZSTD_DStream*)> d(ZSTD_createDStream(), &ZSTD_freeDStream);
  std::string out, buf(ZSTD_DStreamOutSize(), '\0');
  ZSTD_inBuffer in{compressed.data(), compressed.size(), 0};
  size_t left = 0;  // 0: the last frame is complete
  while (in.pos < in.size) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    left = ZSTD_decompressStream(d.get(), &o, &in);
    if (ZSTD_isError(left)) return std::nullopt;
    out.append(buf.data(), o.pos);
  }
  while (left != 0) {  // all input read: flush what the decoder still holds
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    left = ZSTD_decompressStream(d.get(), &o, &in);
    if (ZSTD_isError(left)) return std::nullopt;
    out.append(buf.data(), o.pos);
    if (o.pos == 0) break;  // no progress: the stream ends mid-frame
  }
  if (left != 0) return std::nullopt;
  return out;
}

bool exists(const std::string& path) { return std::filesystem::exists(path); }

// `n` records from the repository's sample documents (repeated as needed), with records that
// must become error lines sprinkled in: malformed JSON, empty text, invalid UTF-8.
enum class Bad { none, malformed_json, empty_text, invalid_utf8 };
Bad bad_record(size_t i) {
  if (i % 97 == 13) return Bad::malformed_json;
  if (i % 131 == 50) return Bad::empty_text;
  if (i % 173 == 90) return Bad::invalid_utf8;
  return Bad::none;
}

size_t bad_records(size_t n) {
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) bad += bad_record(i) != Bad::none;
  return bad;
}

std::string samples_with_bad_records(size_t n) {
  std::ifstream sample(sparq::test::sample_docs_path());
  std::vector<std::string> lines;
  for (std::string line; std::getline(sample, line);) lines.push_back(line);
  EXPECT_FALSE(lines.empty());
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    Bad bad = bad_record(i);
    if (bad == Bad::malformed_json) {
      out += "{\"id\": \"broken\", \"text\": \n";
    } else if (bad == Bad::empty_text) {
      out += "{\"id\": \"empty\", \"text\": \"\"}\n";
    } else if (bad == Bad::invalid_utf8) {
      out += "{\"id\": \"latin1\", \"text\": \"caf\xE9\"}\n";
    } else {
      json doc = json::parse(lines[i % lines.size()]);
      doc["id"] = "doc-" + std::to_string(i);  // unique ids, so a duplicated or lost record shows
      out += doc.dump() + "\n";
    }
  }
  return out;
}

TEST(CliBatchJob, ClassifyKilledAtRandomPointsResumesToIdenticalOutput) {
  std::string dir = temp_dir("batch_classify_resume");
  std::string model = convert_encoder_fixture("bert-odd", dir);
  std::string input = dir + "/docs.jsonl";
  write_file(input, samples_with_bad_records(scaled_for_build(1600)));
  std::vector<std::string> common = {"classify", model, "-i", input, "--max-length", "32", "--chunk-size", "16",
                                     "--logits", "-t", "1"};
  auto with_output = [&](const std::string& out) {
    std::vector<std::string> a = common;
    a.insert(a.end(), {"-o", out});
    return a;
  };
  CliResult ref = run_sparq(with_output(dir + "/ref.jsonl"));
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  EXPECT_FALSE(exists(dir + "/ref.jsonl.partial.checkpoint")) << "a finished job removes its checkpoint";

  CliResult last = kill_and_resume(with_output(dir + "/out.jsonl"), dir + "/out.jsonl", 5, 20261123);
  EXPECT_NE(last.err.find("resuming after input record"), std::string::npos) << last.err;
  EXPECT_NE(last.err.find("written by an earlier, interrupted run"), std::string::npos) << last.err;
  EXPECT_EQ(read_file(dir + "/out.jsonl"), read_file(dir + "/ref.jsonl"));
  EXPECT_FALSE(exists(dir + "/out.jsonl.partial"));
  EXPECT_FALSE(exists(dir + "/out.jsonl.partial.checkpoint"));

  // Every input record exactly once, in order, its index where it belongs.
  std::istringstream lines(read_file(dir + "/ref.jsonl"));
  uint64_t i = 0;
  for (std::string line; std::getline(lines, line); ++i) EXPECT_EQ(json::parse(line)["index"], i) << line;
  EXPECT_EQ(i, scaled_for_build(1600));
}

TEST(CliBatchJob, EmbedNpyKilledAtRandomPointsResumesToIdenticalOutput) {
  std::string dir = temp_dir("batch_embed_resume");
  std::string model = convert_encoder_fixture("minilm-st", dir);
  std::string input = dir + "/docs.jsonl";
  write_file(input, samples_with_bad_records(scaled_for_build(1200)));
  std::vector<std::string> args = {"embed", model, "-i", input, "--max-length", "32", "--chunk-size", "16", "-t", "1"};
  std::vector<std::string> ref_args = args, out_args = args;
  ref_args.insert(ref_args.end(), {"-o", dir + "/ref.npy"});
  out_args.insert(out_args.end(), {"-o", dir + "/out.npy"});
  CliResult ref = run_sparq(ref_args);
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  kill_and_resume(out_args, dir + "/out.npy", 4, 7);
  std::string a = read_file(dir + "/out.npy"), b = read_file(dir + "/ref.npy");
  ASSERT_EQ(a.size(), b.size());
  EXPECT_TRUE(a == b) << "the resumed .npy differs from the uninterrupted one";
  EXPECT_NE(a.find("'shape': (" + std::to_string(scaled_for_build(1200)) + ","), std::string::npos) << a.substr(0, 128);
}

TEST(CliBatchJob, ZstdOutputResumesAndMergesByteIdentical) {
  std::string dir = temp_dir("batch_zstd");
  std::string model = convert_encoder_fixture("bert-odd", dir);
  std::string input = dir + "/docs.jsonl";
  write_file(input, samples_with_bad_records(scaled_for_build(640)));
  auto args = [&](const std::string& out, std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {"classify", model, "-i", input, "-o", out, "--max-length", "32", "--chunk-size", "16",
                                  "-t", "1", "-q"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  ASSERT_EQ(run_sparq(args(dir + "/plain.jsonl")).exit_code, 0);
  ASSERT_EQ(run_sparq(args(dir + "/ref.jsonl.zst")).exit_code, 0);
  std::string ref = read_file(dir + "/ref.jsonl.zst");
  EXPECT_EQ(zstd_decompress(ref), read_file(dir + "/plain.jsonl"));

  // Killed once, the partial cut back to its checkpoint is a complete zstd stream of
  // exactly the records the checkpoint counts.
  std::string out = dir + "/out.jsonl.zst";
  pid_t pid = spawn_sparq(args(out), dir + "/log");
  ASSERT_GT(pid, 0) << "cannot start sparq";
  for (int i = 0; i < 60000 && committed_records(out + ".partial.checkpoint") < 32; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  json checkpoint = json::parse(read_file(out + ".partial.checkpoint"));
  std::string partial = read_file(out + ".partial").substr(0, checkpoint["output_bytes"].get<size_t>());
  std::optional<std::string> committed = zstd_decompress(partial);
  ASSERT_TRUE(committed.has_value()) << "the committed prefix is not a valid zstd stream";
  EXPECT_EQ(std::count(committed->begin(), committed->end(), '\n'), checkpoint["records_written"].get<long>());
  EXPECT_EQ(read_file(dir + "/plain.jsonl").compare(0, committed->size(), *committed), 0);

  kill_and_resume(args(out), out, 3, 99);
  EXPECT_TRUE(read_file(out) == ref) << "the resumed .zst output differs from the uninterrupted one";

  // Compressed shards merge into the same compressed bytes, or the same plain ones.
  std::vector<std::string> merge = {"merge", "-o", dir + "/merged.jsonl.zst"};
  for (int i = 0; i < 3; ++i) {
    CliResult r = run_sparq(args(dir + "/s{shard}.jsonl.zst", {"--shard", std::to_string(i) + "/3"}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    merge.push_back(dir + "/s" + std::to_string(i) + ".jsonl.zst");
  }
  CliResult merged = run_sparq(merge);
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_TRUE(read_file(dir + "/merged.jsonl.zst") == ref);
  merge[2] = dir + "/merged.jsonl";
  ASSERT_EQ(run_sparq(merge).exit_code, 0);
  // Merging onto one of the shards would destroy it (it once did): refused, shard intact.
  const std::string shard0 = read_file(dir + "/s0.jsonl.zst");
  merge[2] = dir + "/s0.jsonl.zst";
  CliResult onto_input = run_sparq(merge);
  EXPECT_EQ(onto_input.exit_code, 1) << onto_input.err;
  EXPECT_NE(onto_input.err.find("one of the files being merged"), std::string::npos) << onto_input.err;
  EXPECT_TRUE(read_file(dir + "/s0.jsonl.zst") == shard0);
  EXPECT_EQ(read_file(dir + "/merged.jsonl"), read_file(dir + "/plain.jsonl"));
}

// A partial job left deterministically: --max-errors 0 stops after the first chunk holding
// an error record (the malformed record 13), keeping the partial output and its checkpoint.
struct PartialJob {
  std::string dir, model, input;
  std::vector<std::string> args(const std::string& out, std::vector<std::string> extra = {}) const {
    std::vector<std::string> a = {"classify", model, "-i", input, "-o", out, "--chunk-size", "8", "--max-length", "32"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};

// `stop_isa`, when given, is the SPARQ_ISA of the run that leaves the partial job.
PartialJob make_partial_job(const std::string& name, const std::string& stop_isa = "") {
  PartialJob j;
  j.dir = temp_dir(name);
  j.model = convert_encoder_fixture("bert-odd", j.dir);
  j.input = j.dir + "/docs.jsonl";
  write_file(j.input, samples_with_bad_records(120));
  CliResult ref = run_sparq(j.args(j.dir + "/ref.jsonl", {"-q"}));
  EXPECT_EQ(ref.exit_code, 0) << ref.err;
  std::optional<ScopedEnv> isa;
  if (!stop_isa.empty()) isa.emplace(std::vector<std::pair<std::string, std::string>>{{"SPARQ_ISA", stop_isa}});
  CliResult stopped = run_sparq(j.args(j.dir + "/out.jsonl", {"--max-errors", "0"}));
  EXPECT_EQ(stopped.exit_code, 2);
  EXPECT_NE(stopped.err.find("more than the limit of 0"), std::string::npos) << stopped.err;
  EXPECT_NE(stopped.err.find("(--max-errors)"), std::string::npos) << "the CLI names its flag: " << stopped.err;
  EXPECT_TRUE(exists(j.dir + "/out.jsonl.partial"));
  EXPECT_TRUE(exists(j.dir + "/out.jsonl.partial.checkpoint"));
  EXPECT_FALSE(exists(j.dir + "/out.jsonl"));
  return j;
}

std::string fmt_errors(size_t errors, size_t records, size_t limit) {
  return std::to_string(errors) + " of " + std::to_string(records) + " records are errors, more than the limit of " +
         std::to_string(limit) + "; stopped after input record " + std::to_string(records);
}

TEST(CliBatchJob, MaxErrorsStopsResumablyAndAHigherLimitGoesOn) {
  PartialJob j = make_partial_job("batch_max_errors");
  // Records 0..15 (two chunks of 8) hold one error (record 13): the job stopped after them.
  EXPECT_EQ(committed_records(j.dir + "/out.jsonl.partial.checkpoint"), 16u);
  const size_t bad = bad_records(120);
  ASSERT_GE(bad, 2u);
  // As many errors as the limit does not exceed it.
  CliResult done = run_sparq(j.args(j.dir + "/out.jsonl", {"--max-errors", std::to_string(bad)}));
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_NE(done.err.find("resuming after input record 16"), std::string::npos) << done.err;
  EXPECT_EQ(done.err.find("warning"), std::string::npos) << "same CPU, no warning: " << done.err;
  EXPECT_EQ(read_file(j.dir + "/out.jsonl"), read_file(j.dir + "/ref.jsonl"));
  CliResult over = run_sparq(j.args(j.dir + "/over.jsonl", {"--max-errors", std::to_string(bad - 1)}));
  EXPECT_EQ(over.exit_code, 2);
  // Checked at chunk boundaries: the job stops after the chunk holding the error too many.
  size_t last_bad = 119;
  while (bad_record(last_bad) == Bad::none) --last_bad;
  size_t chunk_end = std::min<size_t>(120, (last_bad / 8 + 1) * 8);
  EXPECT_NE(over.err.find(fmt_errors(bad, chunk_end, bad - 1)), std::string::npos) << over.err;
}

// A requeued job may land on another kind of node: it resumes there, and says that the
// kernel level changed (f32 sums round differently per level).
TEST(CliBatchJob, ResumeOnAnotherKernelLevelFinishesWithAWarning) {
  PartialJob j = make_partial_job("batch_other_isa", "ref");
  EXPECT_EQ(json::parse(read_file(j.dir + "/out.jsonl.partial.checkpoint")).at("isa"), "ref");
  json hw = json::parse(run_sparq({"hwinfo", "--json", "--no-measure"}).out);
  const std::string best = hw.at("isa").at("selected").get<std::string>();
  ASSERT_NE(best, "ref") << "this test needs a CPU with SIMD kernels";

  CliResult done = run_sparq(j.args(j.dir + "/out.jsonl", {"--max-errors", "1000"}));
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_NE(done.err.find("warning: its first 16 records were computed with ref kernels, the rest will be with " +
                          best),
            std::string::npos)
      << done.err;
  std::string out = read_file(j.dir + "/out.jsonl"), ref = read_file(j.dir + "/ref.jsonl");
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), std::count(ref.begin(), ref.end(), '\n'));
  // The records written after the move are the uninterrupted run's, computed with the same kernels.
  EXPECT_EQ(out.substr(out.size() - 2000), ref.substr(ref.size() - 2000));
}

TEST(CliBatchJob, ResumeWithAnotherModelOptionOrInputIsRefusedAndRestartStartsOver) {
  PartialJob j = make_partial_job("batch_fingerprint");
  std::string partial = read_file(j.dir + "/out.jsonl.partial");

  CliResult options = run_sparq(j.args(j.dir + "/out.jsonl", {"--top-k", "2"}));
  EXPECT_EQ(options.exit_code, 1);
  EXPECT_NE(options.err.find("output ("), std::string::npos) << options.err;
  EXPECT_NE(options.err.find("--restart"), std::string::npos) << options.err;

  std::string other_model = convert_encoder_fixture("roberta-cls", j.dir);
  PartialJob other = j;
  other.model = other_model;
  CliResult model = run_sparq(other.args(j.dir + "/out.jsonl"));
  EXPECT_EQ(model.exit_code, 1);
  EXPECT_NE(model.err.find("model ("), std::string::npos) << model.err;

  // Same size, first record changed: only the prefix hash can tell.
  std::string docs = read_file(j.input);
  std::string changed = docs;
  changed[changed.find("doc-0") + 4] = 'X';
  write_file(j.input, changed);
  CliResult input = run_sparq(j.args(j.dir + "/out.jsonl"));
  EXPECT_EQ(input.exit_code, 2);
  EXPECT_NE(input.err.find("the input changed"), std::string::npos) << input.err;
  write_file(j.input, docs);

  // Nothing refused touched the partial job.
  EXPECT_EQ(read_file(j.dir + "/out.jsonl.partial"), partial);

  CliResult restart = run_sparq(j.args(j.dir + "/out.jsonl", {"--restart", "--top-k", "2"}));
  ASSERT_EQ(restart.exit_code, 0) << restart.err;
  EXPECT_EQ(restart.err.find("resuming"), std::string::npos) << restart.err;
  CliResult ref2 = run_sparq(j.args(j.dir + "/ref2.jsonl", {"--top-k", "2"}));
  ASSERT_EQ(ref2.exit_code, 0) << ref2.err;
  EXPECT_EQ(read_file(j.dir + "/out.jsonl"), read_file(j.dir + "/ref2.jsonl"));
  EXPECT_FALSE(exists(j.dir + "/out.jsonl.partial.checkpoint"));
}

TEST(CliBatchJob, CompletedOrUntouchedOutputsRunAgainCleanly) {
  PartialJob j = make_partial_job("batch_rerun");
  std::string ref = read_file(j.dir + "/ref.jsonl");
  // A finished output run again: the same bytes again, no leftovers.
  CliResult again = run_sparq(j.args(j.dir + "/ref.jsonl"));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(read_file(j.dir + "/ref.jsonl"), ref);

  // Killed after the rename but before the checkpoint was removed: the job is complete.
  std::filesystem::copy_file(j.dir + "/out.jsonl.partial.checkpoint", j.dir + "/ref.jsonl.partial.checkpoint");
  CliResult complete = run_sparq(j.args(j.dir + "/ref.jsonl"));
  ASSERT_EQ(complete.exit_code, 0) << complete.err;
  EXPECT_NE(complete.err.find("already complete"), std::string::npos) << complete.err;
  EXPECT_FALSE(exists(j.dir + "/ref.jsonl.partial.checkpoint"));
  EXPECT_EQ(read_file(j.dir + "/ref.jsonl"), ref);

  // A partial file without a checkpoint (killed before its first one) is started over.
  write_file(j.dir + "/fresh.jsonl.partial", "{\"id\": \"left over\"}\n{\"trunc");
  CliResult fresh = run_sparq(j.args(j.dir + "/fresh.jsonl"));
  ASSERT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_EQ(read_file(j.dir + "/fresh.jsonl"), ref);

  // stdout cannot resume: it is written as it goes and leaves no checkpoint.
  CliResult out = run_sparq(j.args("-", {"-q"}));
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, ref);
}

struct ShardedJob {
  std::string dir, model, input;
  std::vector<std::string> args(const std::string& out, std::vector<std::string> extra = {}) const {
    std::vector<std::string> a = {"classify", model, "-i", input, "-o", out, "--max-length", "32", "--chunk-size", "32"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};

ShardedJob make_sharded_job(const std::string& name) {
  ShardedJob j{temp_dir(name), "", ""};
  j.model = convert_encoder_fixture("bert-odd", j.dir);
  j.input = j.dir + "/docs.jsonl";
  write_file(j.input, samples_with_bad_records(scaled_for_build(400) + 3));  // not a multiple of the shard count
  CliResult ref = run_sparq(j.args(j.dir + "/single.jsonl", {"-q"}));
  EXPECT_EQ(ref.exit_code, 0) << ref.err;
  return j;
}

TEST(CliBatchJob, ShardsMergedEqualTheSingleRunByteForByte) {
  ShardedJob j = make_sharded_job("batch_shards");
  std::string single = read_file(j.dir + "/single.jsonl");

  std::vector<std::string> outs;
  for (int i = 0; i < 3; ++i) {
    CliResult r = run_sparq(j.args(j.dir + "/flag-{shard}.jsonl", {"--shard", std::to_string(i) + "/3"}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("shard " + std::to_string(i) + "/3 (from --shard)"), std::string::npos) << r.err;
    outs.push_back(j.dir + "/flag-" + std::to_string(i) + ".jsonl");
    json m = json::parse(read_file(outs.back() + ".manifest.json"));
    EXPECT_EQ(m["shard"], i);
    EXPECT_EQ(m["shards"], 3);
    EXPECT_EQ(m["input_records"], scaled_for_build(400) + 3);
    std::string shard_output = read_file(outs.back());
    EXPECT_EQ(m["output_sha256"], sha256_hex(shard_output));
    EXPECT_EQ(m["records"], std::count(shard_output.begin(), shard_output.end(), '\n'));
  }
  CliResult merged = run_sparq({"merge", "-o", j.dir + "/merged3.jsonl", outs[2], outs[0], outs[1], "--json"});
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_EQ(json::parse(merged.out)["records"], scaled_for_build(400) + 3);
  EXPECT_EQ(read_file(j.dir + "/merged3.jsonl"), single);

  // A Slurm array numbered from 1 (--array=1-4): the shard is the task id minus the minimum.
  outs.clear();
  for (int task = 1; task <= 4; ++task) {
    ScopedEnv env{{"SLURM_ARRAY_TASK_ID", std::to_string(task)},
                  {"SLURM_ARRAY_TASK_MIN", "1"},
                  {"SLURM_ARRAY_TASK_COUNT", "4"}};
    CliResult r = run_sparq(j.args(j.dir + "/slurm-{shard}.jsonl"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("shard " + std::to_string(task - 1) + "/4 (from SLURM_ARRAY_TASK_ID)"), std::string::npos)
        << r.err;
    outs.push_back(j.dir + "/slurm-" + std::to_string(task - 1) + ".jsonl");
  }
  CliResult merged4 = run_sparq({"merge", "-o", j.dir + "/merged4.jsonl", outs[0], outs[1], outs[2], outs[3]});
  ASSERT_EQ(merged4.exit_code, 0) << merged4.err;
  EXPECT_EQ(read_file(j.dir + "/merged4.jsonl"), single);

  // Embedding matrices: rows interleaved under one header, as the unsharded run writes them.
  std::string embedder = convert_encoder_fixture("minilm-st", j.dir);
  CliResult single_npy = run_sparq({"embed", embedder, "-i", j.input, "-o", j.dir + "/single.npy", "-q"});
  ASSERT_EQ(single_npy.exit_code, 0) << single_npy.err;
  std::vector<std::string> npy = {"merge", "-o", j.dir + "/merged.npy"};
  for (int i = 0; i < 2; ++i) {
    CliResult r = run_sparq({"embed", embedder, "-i", j.input, "-o", j.dir + "/e{shard}.npy", "--shard",
                             std::to_string(i) + "/2", "-q"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    npy.push_back(j.dir + "/e" + std::to_string(i) + ".npy");
  }
  CliResult npy_merge = run_sparq(npy);
  ASSERT_EQ(npy_merge.exit_code, 0) << npy_merge.err;
  EXPECT_TRUE(read_file(j.dir + "/merged.npy") == read_file(j.dir + "/single.npy"));

  // Kubernetes indexed jobs give the index; the count must come with it.
  for (const char* count : {"", "two"}) {
    std::vector<std::pair<std::string, std::string>> vars = {{"JOB_COMPLETION_INDEX", "1"}};
    if (*count) vars.emplace_back("SPARQ_SHARD_COUNT", count);
    ScopedEnv env(vars);
    CliResult r = run_sparq(j.args(j.dir + "/k8s.jsonl"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(*count ? "SPARQ_SHARD_COUNT='two'" : "SPARQ_SHARD_COUNT is not set"), std::string::npos)
        << r.err;
  }
  {
    ScopedEnv env{{"JOB_COMPLETION_INDEX", "1"}, {"SPARQ_SHARD_COUNT", "2"}};
    CliResult r = run_sparq(j.args(j.dir + "/k8s-{shard}.jsonl"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json::parse(read_file(j.dir + "/k8s-1.jsonl.manifest.json"))["shard"], 1);
  }
  {
    // --array=10-40:10 numbers its 4 tasks 10, 20, 30, 40: task 30 is shard 2/4.
    ScopedEnv env{{"SLURM_ARRAY_TASK_ID", "30"},
                  {"SLURM_ARRAY_TASK_MIN", "10"},
                  {"SLURM_ARRAY_TASK_STEP", "10"},
                  {"SLURM_ARRAY_TASK_COUNT", "4"}};
    CliResult r = run_sparq(j.args(j.dir + "/step-{shard}.jsonl", {"-q"}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(read_file(j.dir + "/step-2.jsonl"), read_file(j.dir + "/slurm-2.jsonl"));
  }
  CliResult bad = run_sparq(j.args(j.dir + "/bad.jsonl", {"--shard", "3/3"}));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("--shard '3/3'"), std::string::npos) << bad.err;
}

TEST(CliBatchJob, MergeRefusesIncompleteMixedOrAlteredShardSets) {
  ShardedJob j = make_sharded_job("batch_merge_errors");
  std::vector<std::string> outs;
  for (int i = 0; i < 3; ++i) {
    CliResult r = run_sparq(j.args(j.dir + "/s{shard}.jsonl", {"--shard", std::to_string(i) + "/3", "-q"}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    outs.push_back(j.dir + "/s" + std::to_string(i) + ".jsonl");
  }
  auto merge = [&](std::vector<std::string> inputs) {
    inputs.insert(inputs.begin(), {"merge", "-o", j.dir + "/merged.jsonl"});
    return run_sparq(inputs);
  };
  auto expect_refused = [&](const CliResult& r, const std::string& needle) {
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_FALSE(exists(j.dir + "/merged.jsonl")) << "a refused merge writes nothing";
  };
  expect_refused(merge({outs[0], outs[2]}), "shard 1 of 3 missing");
  expect_refused(merge({outs[0], outs[1], outs[1], outs[2]}), "shard 1/3 given twice");

  // Another job's shard: same shard count and input, other options.
  CliResult other = run_sparq(j.args(j.dir + "/other{shard}.jsonl", {"--shard", "1/3", "--top-k", "1", "-q"}));
  ASSERT_EQ(other.exit_code, 0) << other.err;
  expect_refused(merge({outs[0], j.dir + "/other1.jsonl", outs[2]}), "not the same job");

  // One byte changed, or the file cut short: the manifest's SHA-256 no longer matches.
  std::string original = read_file(outs[1]);
  std::string tampered = original;
  tampered[tampered.find("\"label\":\"") + 9] ^= 0x01;
  write_file(outs[1], tampered);
  expect_refused(merge({outs[0], outs[1], outs[2]}), outs[1] + ": SHA-256");
  write_file(outs[1], original.substr(0, original.size() / 2));
  expect_refused(merge({outs[0], outs[1], outs[2]}), outs[1] + ": SHA-256");

  // Records out of place in a file that matches its manifest: named by file and line.
  size_t first_end = original.find('\n') + 1, second_end = original.find('\n', first_end) + 1;
  std::string swapped = original.substr(first_end, second_end - first_end) + original.substr(0, first_end) +
                        original.substr(second_end);
  write_file(outs[1], swapped);
  json manifest = json::parse(read_file(outs[1] + ".manifest.json"));
  manifest["output_sha256"] = sha256_hex(swapped);
  write_file(outs[1] + ".manifest.json", manifest.dump(2));
  expect_refused(merge({outs[0], outs[1], outs[2]}), outs[1] + ":1: \"index\" 4, expected 1");
}

// Why threads, batching and chunking are not part of the job's fingerprint: a job resumed
// or sharded with other settings still writes the same bytes.
TEST(CliBatchJob, OutputBytesDoNotDependOnThreadsBatchingOrChunks) {
  std::string dir = temp_dir("batch_invariance");
  std::string input = dir + "/docs.jsonl";
  write_file(input, samples_with_bad_records(scaled_for_build(200)));
  for (const auto& [command, fixture] : {std::pair{"classify", "bert-odd"}, std::pair{"embed", "minilm-st"}}) {
    std::string model = convert_encoder_fixture(fixture, dir);
    std::vector<std::string> base = {command, model, "-i", input, "-q"};
    if (std::string(command) == "classify") base.push_back("--logits");
    auto run = [&](const std::string& out, std::vector<std::string> extra) {
      std::vector<std::string> a = base;
      a.insert(a.end(), {"-o", out});
      a.insert(a.end(), extra.begin(), extra.end());
      CliResult r = run_sparq(a);
      EXPECT_EQ(r.exit_code, 0) << r.err;
      return read_file(out);
    };
    std::string one = run(dir + "/one.jsonl", {"-t", "1", "--batch-size", "1", "--chunk-size", "7"});
    std::string two = run(dir + "/two.jsonl", {"-t", "2", "--max-tokens-per-batch", "512", "--chunk-size", "100"});
    EXPECT_FALSE(one.empty());
    EXPECT_TRUE(one == two) << command << ": output bytes differ between 1 and 2 threads / other batching";
  }
}

TEST(CliBatchJob, HelpDocumentsTheBatchOptions) {
  for (const char* command : {"classify", "embed"}) {
    CliResult r = run_sparq({command, "--help"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const char* needle : {"--chunk-size", "--restart", "--max-errors", "--shard", "SLURM_ARRAY_TASK_ID",
                               "JOB_COMPLETION_INDEX", "{shard}", "stdout cannot resume", "\"index\""}) {
      EXPECT_NE(r.out.find(needle), std::string::npos) << command << " --help lacks " << needle;
    }
  }
}

}  // namespace

// -o onto something that is not a regular file: written through, never replaced (it once
// replaced the system's /dev/null with a regular file).
TEST(CliBatchJob, OutputsThatAreNotRegularFilesAreWrittenThroughNotReplaced) {
  std::string dir = temp_dir("batch_output_kinds");
  std::string model = convert_encoder_fixture("bert-odd", dir);
  std::string input = dir + "/docs.jsonl";
  write_file(input, samples_with_bad_records(20));
  std::vector<std::string> base = {"classify", model, "-i", input, "--max-length", "32"};
  auto with_output = [&](const std::string& out) {
    std::vector<std::string> a = base;
    a.insert(a.end(), {"-o", out});
    return a;
  };
  CliResult ref = run_sparq(with_output(dir + "/ref.jsonl"));
  ASSERT_EQ(ref.exit_code, 0) << ref.err;

  // A FIFO: a reader gets exactly the records; the FIFO is still a FIFO afterwards.
  std::string fifo = dir + "/pipe";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::string got;
  std::thread reader([&] {
    std::ifstream in(fifo, std::ios::binary);
    got.assign(std::istreambuf_iterator<char>(in), {});
  });
  CliResult piped = run_sparq(with_output(fifo));
  reader.join();
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_NE(piped.err.find("a FIFO: written through"), std::string::npos) << piped.err;
  EXPECT_EQ(got, read_file(dir + "/ref.jsonl"));
  struct stat st {};
  ASSERT_EQ(lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_FALSE(exists(fifo + ".partial.checkpoint"));

  // A character device.
  CliResult null_out = run_sparq(with_output("/dev/null"));
  EXPECT_EQ(null_out.exit_code, 0) << null_out.err;
  ASSERT_EQ(stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "/dev/null was replaced";

  // A symlink is followed: the file it names gets the output, the link stays a link.
  std::string target = dir + "/real.jsonl", link = dir + "/link.jsonl";
  write_file(target, "old\n");
  ASSERT_EQ(symlink("real.jsonl", link.c_str()), 0);
  CliResult linked = run_sparq(with_output(link));
  EXPECT_EQ(linked.exit_code, 0) << linked.err;
  ASSERT_EQ(lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(read_file(target), read_file(dir + "/ref.jsonl"));

  // A symlink loop and a directory fail at once, before any document is processed.
  std::string loop = dir + "/loop.jsonl";
  ASSERT_EQ(symlink("loop.jsonl", loop.c_str()), 0);
  CliResult looped = run_sparq(with_output(loop));
  EXPECT_EQ(looped.exit_code, 2);
  EXPECT_NE(looped.err.find("too many levels of symbolic links"), std::string::npos) << looped.err;
  CliResult to_dir = run_sparq(with_output(dir));
  EXPECT_EQ(to_dir.exit_code, 1);
  EXPECT_NE(to_dir.err.find("is a directory"), std::string::npos) << to_dir.err;
  EXPECT_EQ(to_dir.err.find("classified"), std::string::npos) << "failed only after the work: " << to_dir.err;
}

// A checkpoint is verified, not trusted: an edited count, a flipped byte in it or in the
// committed output refuse the resume (they once gave missing records and exit 0).
TEST(CliBatchJob, TamperedCheckpointOrPartialOutputRefusesToResume) {
  auto tampered = [](const std::string& name, const std::function<void(const PartialJob&)>& damage,
                     const std::string& expected) {
    PartialJob j = make_partial_job(name);
    damage(j);
    CliResult r = run_sparq(j.args(j.dir + "/out.jsonl", {"--max-errors", "100"}));
    EXPECT_EQ(r.exit_code, 2) << name << ": " << r.err;
    EXPECT_NE(r.err.find(expected), std::string::npos) << name << ": " << r.err;
    EXPECT_NE(r.err.find("--restart"), std::string::npos) << name << ": " << r.err;
    EXPECT_FALSE(exists(j.dir + "/out.jsonl")) << name;
    // --restart still gets the user out.
    CliResult again = run_sparq(j.args(j.dir + "/out.jsonl", {"--max-errors", "100", "--restart"}));
    EXPECT_EQ(again.exit_code, 0) << name << ": " << again.err;
  };
  tampered("batch_tamper_count", [](const PartialJob& j) {
    std::string path = j.dir + "/out.jsonl.partial.checkpoint";
    json c = json::parse(read_file(path));
    c["output_bytes"] = c["output_bytes"].get<uint64_t>() / 2;
    write_file(path, c.dump(2));
  }, "checksum does not match");
  tampered("batch_tamper_checkpoint_byte", [](const PartialJob& j) {
    std::string path = j.dir + "/out.jsonl.partial.checkpoint";
    std::string text = read_file(path);
    size_t at = text.find("\"records_written\": ") + 19;
    text[at] = text[at] == '9' ? '8' : char(text[at] + 1);
    write_file(path, text);
  }, "checksum does not match");
  tampered("batch_tamper_partial", [](const PartialJob& j) {
    std::string path = j.dir + "/out.jsonl.partial";
    std::string text = read_file(path);
    text[text.size() / 3] ^= 0x01;
    write_file(path, text);
  }, "differ from those its checkpoint committed");
}

// --min-score changes the output bytes: a partial job resumes only with the same threshold,
// ends byte-identical to an uninterrupted run, and its summary counts the abstentions of the
// whole job (the earlier run's, kept in the checkpoint, included).
TEST(CliBatchJob, MinScoreIsPartOfTheJobAndItsAbstentionsSurviveAResume) {
  PartialJob j;
  j.dir = temp_dir("batch_min_score");
  j.model = convert_encoder_fixture("bert-odd", j.dir);
  j.input = j.dir + "/docs.jsonl";
  write_file(j.input, samples_with_bad_records(120));
  // The random fixture's scores cluster: the median of the uninterrupted run's splits them.
  CliResult plain = run_sparq(j.args(j.dir + "/plain.jsonl", {"-q"}));
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  std::vector<double> scores;
  std::istringstream lines(read_file(j.dir + "/plain.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    json r = json::parse(line);
    if (r.contains("score")) scores.push_back(r["score"]);
  }
  std::vector<double> sorted = scores;
  std::sort(sorted.begin(), sorted.end());
  std::ostringstream threshold;
  threshold.precision(17);
  threshold << sorted[sorted.size() / 2];
  size_t below = 0;
  for (double s : scores) below += s < sorted[sorted.size() / 2];
  ASSERT_GT(below, 0u);

  CliResult ref = run_sparq(j.args(j.dir + "/ref.jsonl", {"-q", "--min-score", threshold.str()}));
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  CliResult stopped = run_sparq(j.args(j.dir + "/out.jsonl", {"--max-errors", "0", "--min-score", threshold.str()}));
  EXPECT_EQ(stopped.exit_code, 2) << stopped.err;
  ASSERT_TRUE(exists(j.dir + "/out.jsonl.partial.checkpoint"));
  const uint64_t abstained_before = json::parse(read_file(j.dir + "/out.jsonl.partial.checkpoint")).at("abstained");
  EXPECT_GT(abstained_before, 0u);

  for (std::vector<std::string> other : {std::vector<std::string>{}, {"--min-score", "0.5"}}) {
    CliResult refused = run_sparq(j.args(j.dir + "/out.jsonl", other));
    EXPECT_EQ(refused.exit_code, 1) << refused.err;
    EXPECT_NE(refused.err.find("output ("), std::string::npos) << refused.err;
  }
  CliResult done =
      run_sparq(j.args(j.dir + "/out.jsonl", {"--max-errors", "1000", "--min-score", threshold.str(), "--json"}));
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_EQ(read_file(j.dir + "/out.jsonl"), read_file(j.dir + "/ref.jsonl"));
  const std::string out = read_file(j.dir + "/out.jsonl");
  size_t marked = 0;
  for (size_t at = out.find("\"abstained\":true"); at != std::string::npos; at = out.find("\"abstained\":true", at + 1)) {
    ++marked;
  }
  EXPECT_EQ(marked, below);
  EXPECT_EQ(json::parse(done.out).at("abstained").get<size_t>(), below);
}

// A sharded job's abstentions add up: each manifest carries its shard's, `sparq merge` sums
// them, and the merged output is the single run's.
TEST(CliBatchJob, MergeSumsTheShardsAbstentions) {
  const std::string dir = temp_dir("batch_merge_abstained");
  const std::string model = convert_encoder_fixture("bert-odd", dir), input = dir + "/docs.jsonl";
  write_file(input, samples_with_bad_records(60));
  auto args = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> a = {"classify", model, "-i", input, "-o", out, "--max-length", "32", "-q",
                                  "--max-errors", "100"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  CliResult plain = run_sparq(args(dir + "/plain.jsonl", {}));
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  std::vector<double> scores;
  std::istringstream lines(read_file(dir + "/plain.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    json r = json::parse(line);
    if (r.contains("score")) scores.push_back(r["score"]);
  }
  std::sort(scores.begin(), scores.end());
  std::ostringstream threshold;
  threshold.precision(17);
  threshold << scores[scores.size() / 2];
  CliResult single = run_sparq(args(dir + "/single.jsonl", {"--min-score", threshold.str(), "--json"}));
  ASSERT_EQ(single.exit_code, 0) << single.err;
  const uint64_t expected = json::parse(single.out).at("abstained");
  ASSERT_GT(expected, 0u);
  uint64_t in_manifests = 0;
  for (const char* shard : {"0/2", "1/2"}) {
    CliResult r = run_sparq(args(dir + "/part{shard}.jsonl", {"--min-score", threshold.str(), "--shard", shard}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  for (const char* part : {"/part0.jsonl", "/part1.jsonl"}) {
    in_manifests += json::parse(read_file(dir + part + std::string(".manifest.json"))).at("abstained").get<uint64_t>();
  }
  EXPECT_EQ(in_manifests, expected);
  CliResult merged = run_sparq({"merge", "-o", dir + "/merged.jsonl", dir + "/part0.jsonl", dir + "/part1.jsonl", "--json"});
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_EQ(json::parse(merged.out).at("abstained").get<uint64_t>(), expected);
  EXPECT_EQ(read_file(dir + "/merged.jsonl"), read_file(dir + "/single.jsonl"));
}
