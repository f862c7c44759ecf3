// sparq merge: joins the outputs of a sharded classify/embed/generate job (--shard I/N) back
// into input order, after proving from their manifests (shard_manifest.h) that the set is
// complete, comes from one job, and is untouched. The result is byte-identical to the
// output of the same job run unsharded.
#include <fmt/core.h>
#include <sys/stat.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "runtime/jobs/byte_source.h"
#include "tools/command.h"
#include "runtime/jobs/document_job.h"
#include "tools/npy_f32_matrix.h"
#include "runtime/jobs/job_checkpoint.h"
#include "runtime/jobs/output_file.h"
#include "formats/sha256_file.h"
#include "runtime/jobs/shard_manifest.h"

namespace sparq::tools {

using runtime::DocumentJobOptions;
using runtime::OutputFile;
using runtime::ShardManifest;
using runtime::fingerprint_differences;
using runtime::load_manifest;
using runtime::manifest_path;
namespace {

struct MergeArgs {
  std::vector<std::string> inputs;
  std::string output;
  bool json = false, quiet = false;
};

struct ShardInput {
  std::string path;
  ShardManifest manifest;
};

// Records of an input of `input_records` records that shard `shard` of `shards` takes.
uint64_t shard_records(uint64_t input_records, uint64_t shard, uint64_t shards) {
  return input_records > shard ? (input_records - shard + shards - 1) / shards : 0;
}

// Reads the top-level "index" of a JSON record and stops there, so merging does not parse
// every embedding.
class IndexField final : public nlohmann::json_sax<nlohmann::json> {
 public:
  std::optional<uint64_t> index;

  bool key(string_t& k) override {
    at_index_ = depth_ == 1 && k == "index";
    return true;
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (!at_index_) return true;
    index = v;
    return false;  // found: stop parsing
  }
  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override { return open(); }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  bool value() {
    // "index" holding anything but a non-negative integer ends the search without one.
    return !at_index_;
  }
  bool open() {
    if (at_index_) return false;
    ++depth_;
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }
  int depth_ = 0;
  bool at_index_ = false;
};

std::optional<uint64_t> record_index(const std::string& line) {
  IndexField sax;
  nlohmann::json::sax_parse(line, &sax, nlohmann::json::input_format_t::json, false);
  return sax.index;
}

// Every shard 0..N-1 exactly once, from one job over one input, each output as its
// manifest describes it. Returns the inputs ordered by shard.
Result<std::vector<ShardInput>> check_shard_set(const std::vector<std::string>& paths) {
  std::vector<ShardInput> inputs;
  for (const std::string& path : paths) {
    Result<ShardManifest> m = load_manifest(manifest_path(path));
    if (!m) return m.error();
    inputs.push_back({path, std::move(*m)});
  }
  const ShardInput& first = inputs.front();
  auto without_shard = [](nlohmann::json job) {
    job.erase("shard");
    return job;
  };
  std::vector<const ShardInput*> by_shard(first.manifest.shards, nullptr);
  for (const ShardInput& in : inputs) {
    const ShardManifest& m = in.manifest;
    if (m.shards != first.manifest.shards) {
      return Error(fmt::format("{}: shard {}/{}, but {} is shard {}/{}: not one job's shards", in.path, m.shard,
                               m.shards, first.path, first.manifest.shard, first.manifest.shards));
    }
    std::string differences = fingerprint_differences(without_shard(first.manifest.job), without_shard(m.job));
    if (!differences.empty()) {
      return Error(fmt::format("{}: not the same job as {}: {} (first file's, then this one's)", in.path, first.path,
                               differences));
    }
    if (m.input_records != first.manifest.input_records || m.input_xxh3 != first.manifest.input_xxh3) {
      return Error(fmt::format("{}: read {} input records (hash {}), but {} read {} (hash {}): the input changed "
                               "between shards",
                               in.path, m.input_records, m.input_xxh3, first.path, first.manifest.input_records,
                               first.manifest.input_xxh3));
    }
    if (by_shard[m.shard]) {
      return Error(fmt::format("{}: shard {}/{} given twice (also {})", in.path, m.shard, m.shards,
                               by_shard[m.shard]->path));
    }
    by_shard[m.shard] = &in;
    uint64_t expected = shard_records(m.input_records, m.shard, m.shards);
    if (m.records != expected) {
      return Error(fmt::format("{}: {} records, but shard {}/{} of {} input records has {}", in.path, m.records,
                               m.shard, m.shards, m.input_records, expected));
    }
  }
  std::string missing;
  for (uint64_t i = 0; i < by_shard.size(); ++i) {
    if (!by_shard[i]) missing += fmt::format("{}{}", missing.empty() ? "" : ", ", i);
  }
  if (!missing.empty()) {
    return Error(fmt::format("shard{} {} of {} missing (given: {} file{})", missing.find(',') == std::string::npos ? "" : "s",
                             missing, by_shard.size(), inputs.size(), inputs.size() == 1 ? "" : "s"));
  }
  for (const ShardInput& in : inputs) {
    Result<std::string> sha = formats::sha256_file(in.path);
    if (!sha) return sha.error();
    if (*sha != in.manifest.output_sha256) {
      return Error(fmt::format("{}: SHA-256 {} differs from its manifest's {}: the file changed after its job wrote "
                               "it",
                               in.path, *sha, in.manifest.output_sha256));
    }
  }
  std::vector<ShardInput> ordered;
  for (const ShardInput* in : by_shard) ordered.push_back(*in);
  return ordered;
}

// Lines of a shard output, plain or zstd-compressed.
class LineReader {
 public:
  static Result<LineReader> open(const std::string& path) {
    Result<std::unique_ptr<runtime::ByteSource>> src = runtime::open_byte_source(path);
    if (!src) return src.error();
    return LineReader(std::move(*src));
  }
  // false at the end of the file.
  Result<bool> next(std::string& line) {
    line.clear();
    for (;;) {
      if (pos_ == end_) {
        Result<size_t> n = src_->read(buf_.data(), buf_.size());
        if (!n) return n.error();
        if (*n == 0) return !line.empty();
        pos_ = 0;
        end_ = *n;
      }
      const char* start = buf_.data() + pos_;
      const char* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - pos_));
      size_t take = nl ? size_t(nl - start) : end_ - pos_;
      line.append(start, take);
      pos_ += take;
      if (nl) {
        ++pos_;
        return true;
      }
    }
  }

 private:
  explicit LineReader(std::unique_ptr<runtime::ByteSource> src) : src_(std::move(src)), buf_(size_t{1} << 16) {}
  std::unique_ptr<runtime::ByteSource> src_;
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;
};

// Record k of the input is the next record of shard k % N; each must say so. A compressed
// output gets a frame per `frame_records` records, as the unsharded job would have written.
Status interleave(const std::vector<ShardInput>& shards, uint64_t frame_records, OutputFile& out) {
  const uint64_t n = shards.size(), total = shards.front().manifest.input_records;
  std::vector<LineReader> files;
  std::vector<uint64_t> lines(n, 0);
  for (const ShardInput& s : shards) {
    Result<LineReader> r = LineReader::open(s.path);
    if (!r) return r.error();
    files.push_back(std::move(*r));
  }
  std::string line;
  for (uint64_t k = 0; k < total; ++k) {
    uint64_t s = k % n;
    Result<bool> more = files[s].next(line);
    if (!more) return more.error();
    if (!*more) {
      return Error(fmt::format("{}: ends after line {}; input record {} is missing", shards[s].path, lines[s], k));
    }
    ++lines[s];
    std::optional<uint64_t> index = record_index(line);
    if (!index) return Error(fmt::format("{}:{}: no \"index\" in the record", shards[s].path, lines[s]));
    if (*index != k) {
      return Error(fmt::format("{}:{}: \"index\" {}, expected {} (shard {}/{} holds input records {}, {}, {}, ...)",
                               shards[s].path, lines[s], *index, k, s, n, s, s + n, s + 2 * n));
    }
    line += '\n';
    if (Status st = out.write(line); !st) return st;
    if ((k + 1) % frame_records == 0) {
      if (Status st = out.end_frame(); !st) return st;
    }
  }
  for (uint64_t s = 0; s < n; ++s) {
    Result<bool> more = files[s].next(line);
    if (!more) return more.error();
    if (*more) {
      return Error(fmt::format("{}:{}: more records than its manifest's {}", shards[s].path, lines[s] + 1,
                               shards[s].manifest.records));
    }
  }
  return out.commit();
}

bool is_npy(const ShardManifest& m) {
  return m.job.value("output", nlohmann::json::object()).value("format", "jsonl") == "npy";
}

// Row k of the merged matrix is the next row of shard k % N. Rows carry no index, so the
// manifests' record counts (checked against each file's shape) and SHA-256 are the proof.
Status interleave_npy(const std::vector<ShardInput>& shards, OutputFile& out) {
  if (out.compressed()) return Error(fmt::format("{}: a .npy output cannot be zstd-compressed", out.path()), ErrorKind::invalid_argument);
  const uint64_t n = shards.size(), total = shards.front().manifest.input_records;
  std::vector<std::unique_ptr<std::FILE, int (*)(std::FILE*)>> files;
  uint64_t cols = 0;
  std::string header(kNpyF32HeaderBytes, '\0');
  for (const ShardInput& s : shards) {
    files.emplace_back(std::fopen(s.path.c_str(), "rb"), &std::fclose);
    if (!files.back() || std::fread(header.data(), 1, header.size(), files.back().get()) != header.size()) {
      return Error(fmt::format("{}: cannot read the .npy header", s.path));
    }
    Result<NpyF32Shape> shape = parse_npy_f32_header(header, s.path);
    if (!shape) return shape.error();
    if (shape->rows != s.manifest.records) {
      return Error(fmt::format("{}: {} rows, but its manifest says {} records", s.path, shape->rows, s.manifest.records));
    }
    if (&s != &shards.front() && shape->cols != cols) {
      return Error(fmt::format("{}: rows of {} floats, but {} has {}", s.path, shape->cols, shards.front().path, cols));
    }
    cols = shape->cols;
  }
  if (Status st = out.write(npy_f32_header(total, cols)); !st) return st;
  std::string row(cols * sizeof(float), '\0');
  for (uint64_t k = 0; k < total; ++k) {
    uint64_t s = k % n;
    if (std::fread(row.data(), 1, row.size(), files[s].get()) != row.size()) {
      return Error(fmt::format("{}: ends before row {} (input record {})", shards[s].path, k / n, k));
    }
    if (Status st = out.write(row); !st) return st;
  }
  return out.commit();
}

// Writing over a shard (or its manifest) while merging it would lose it: same file, by
// device and inode, after following links.
Status check_output_is_no_input(const std::string& output, const std::vector<std::string>& inputs) {
  struct stat out {};
  if (stat(output.c_str(), &out) != 0) return {};
  for (const std::string& input : inputs) {
    for (const std::string& path : {input, manifest_path(input)}) {
      struct stat in {};
      if (stat(path.c_str(), &in) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino) {
        return Error(fmt::format("--output {} is {}, one of the files being merged; write the merged output "
                                 "elsewhere",
                                 output, path),
                     ErrorKind::invalid_argument);
      }
    }
  }
  return {};
}

}  // namespace

Command add_merge_command(CLI::App& parent) {
  auto args = std::make_shared<MergeArgs>();
  CLI::App* app = parent.add_subcommand(
      "merge",
      "Join the JSONL outputs (plain or .zst), or .npy embedding matrices, of a sharded `sparq classify`/`embed`/"
      "`generate --input` job (--shard I/N, or a "
      "Slurm/Kubernetes array) into one output in input order, byte-identical to an unsharded run (an output named "
      "*.zst is compressed with a frame per --chunk-size records, as the job writes it). Each shard output's "
      "OUT.manifest.json is checked first: every shard 0..N-1 exactly once, one job (model, input, options), the "
      "file's SHA-256 and record count as written, and (JSONL) every record's \"index\" where it belongs; any gap, "
      "duplicate or mismatch is an error naming the file (and line) and nothing is written.");
  app->add_option("shard_outputs", args->inputs, "The shard outputs (their manifests sit beside them)")
      ->required()
      ->check(CLI::ExistingFile);
  app->add_option("--output,-o", args->output, "The merged output (written as OUT.partial, renamed when complete)")
      ->required();
  add_json_flag(app, &args->json, "the summary (records, errors, shards)");
  app->add_flag("--quiet,-q", args->quiet, "No summary on stderr");
  return {app, [args]() -> Status {
            if (args->output == "-") return Error("--output: merge writes a file, not stdout", ErrorKind::invalid_argument);
            if (Status s = check_output_is_no_input(args->output, args->inputs); !s) return s;
            Result<std::vector<ShardInput>> shards = check_shard_set(args->inputs);
            if (!shards) return shards.error();
            Result<std::unique_ptr<OutputFile>> out = OutputFile::create(args->output);
            if (!out) return out.error();
            const ShardManifest& m = shards->front().manifest;
            uint64_t frame_records = m.job.value("output", nlohmann::json::object())
                                         .value("chunk_size", uint64_t(DocumentJobOptions().chunk));
            Status merged =
                is_npy(m) ? interleave_npy(*shards, **out) : interleave(*shards, frame_records, **out);
            if (!merged) return merged;
            uint64_t errors = 0, abstained = 0;
            for (const ShardInput& s : *shards) errors += s.manifest.errors, abstained += s.manifest.abstained;
            if (args->json) {
              nlohmann::ordered_json j = {{"output", args->output}, {"shards", m.shards},
                                          {"records", m.input_records}, {"errors", errors},
                                          {"abstained", abstained}, {"inputs", nlohmann::json::array()}};
              for (const ShardInput& s : *shards) {
                j["inputs"].push_back({{"path", s.path}, {"shard", s.manifest.shard}, {"records", s.manifest.records}});
              }
              fmt::print("{}\n", j.dump(2));
            } else if (!args->quiet) {
              fmt::print(stderr, "merged {} records ({} errors{}) from {} shards into {}\n", m.input_records, errors,
                         abstained ? fmt::format(", {} abstained", abstained) : "", m.shards, args->output);
            }
            return {};
          }};
}

}  // namespace sparq::tools
