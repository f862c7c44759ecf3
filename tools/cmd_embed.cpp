// sparq embed: one embedding per document, as JSON lines or a NumPy .npy matrix.
#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "tools/command.h"
#include "runtime/jobs/document_job.h"
#include "tools/job_options.h"
#include "tools/npy_f32_matrix.h"

namespace sparq::tools {

using runtime::DocumentJobOptions;
using runtime::OutputFile;
using runtime::ResultSink;
using runtime::error_record_json;
namespace {

struct EmbedArgs {
  DocumentJobOptions job;
  bool quiet = false, json = false;
  std::string output_format = "auto";
};

class JsonlEmbeddingSink final : public ResultSink {
 public:
  explicit JsonlEmbeddingSink(OutputFile& out) : out_(out) {}
  Status write(const runtime::Document& doc, const runtime::DocumentOutput& r, runtime::RecordOutcome&) override {
    if (r.error) return out_.write(error_record_json(doc, *r.error) + "\n");
    line_ = "{\"id\":" + doc.id.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
            fmt::format(",\"index\":{},\"embedding\":[{}]", doc.index, fmt::join(r.values, ","));  // shortest round trip
    if (r.truncated_tokens) line_ += fmt::format(",\"truncated_tokens\":{}", r.truncated_tokens);
    line_ += "}\n";
    return out_.write(line_);
  }
  Status finish() override { return {}; }

 private:
  OutputFile& out_;
  std::string line_;
};

// A float32 [documents, dim] matrix (NumPy format 1.0). The row count is known only at the
// end, so the header is written with room to spare and patched by finish(); a resumed job
// goes on counting from the rows already written. Documents that failed get a row of NaN
// and are listed on stderr.
class NpyEmbeddingSink final : public ResultSink {
 public:
  NpyEmbeddingSink(OutputFile& out, size_t dim) : out_(out), dim_(dim) {}
  Status begin(uint64_t records_written) override {
    rows_ = records_written;
    return out_.bytes_written() ? Status() : out_.write(header(0));
  }
  Status write(const runtime::Document& doc, const runtime::DocumentOutput& r, runtime::RecordOutcome&) override {
    if (r.error) {
      fmt::print(stderr, "record {} (id {}): {}: {}\n", doc.index, doc.id.dump(), r.error->code, r.error->message);
      row_.assign(dim_, std::numeric_limits<float>::quiet_NaN());
    } else {
      row_ = r.values;
    }
    ++rows_;
    return out_.write({reinterpret_cast<const char*>(row_.data()), row_.size() * sizeof(float)});
  }
  Status finish() override { return out_.write_at(0, header(rows_)); }

 private:
  std::string header(uint64_t rows) const { return npy_f32_header(rows, dim_); }
  OutputFile& out_;
  size_t dim_;
  uint64_t rows_ = 0;
  std::vector<float> row_;
};

}  // namespace

Command add_embed_command(CLI::App& parent) {
  auto args = std::make_shared<EmbedArgs>();
  CLI::App* app = parent.add_subcommand(
      "embed",
      "Embed documents with a .sparq encoder (pooling and normalisation as the model defines them): one JSON "
      "line {\"id\", \"index\", \"embedding\": [...]} per input record in input order (\"index\": the record's "
      "0-based position in the input; {\"id\", \"index\", \"error\": {\"code\", \"message\"}} for a record that "
      "cannot be processed), or a float32 .npy matrix (a row of NaN for such a record). A summary goes to stderr, or "
      "with --json to stdout. A job writing a file is resumable and can be sharded; see --output, --shard and "
      "`sparq merge`.");
  add_document_job_options(app, &args->job, &args->quiet);
  add_batch_job_options(app, &args->job);
  app->add_option("--output-format", args->output_format, "jsonl, npy or auto (npy for a .npy output path)")
      ->capture_default_str();
  add_json_flag(app, &args->json, "the summary (records, errors, throughput, output path; needs -o FILE)");
  return {app, [args]() -> Status {
            const std::string& path = args->job.output;
            bool npy = args->output_format == "npy" ||
                       (args->output_format == "auto" && path.size() > 4 && path.ends_with(".npy"));
            if (args->output_format != "npy" && args->output_format != "jsonl" && args->output_format != "auto") {
              return Error(fmt::format("--output-format: expected jsonl, npy or auto, got '{}'", args->output_format),
                           ErrorKind::invalid_argument);
            }
            if (npy && path == "-") return Error("--output-format npy needs an output file, not stdout", ErrorKind::invalid_argument);
            if ((npy || args->output_format == "auto") && (path.ends_with(".npy.zst") || (npy && path.ends_with(".zst")))) {
              return Error(fmt::format("{}: a .npy output cannot be zstd-compressed (its header is rewritten at the "
                                       "end); write .npy, or JSON lines to a .jsonl.zst",
                                       path),
                           ErrorKind::invalid_argument);
            }
            args->job.output_options = {{"format", npy ? "npy" : "jsonl"}};
            auto sink = [npy](const runtime::EncoderModel& model, OutputFile& out) -> Result<std::unique_ptr<ResultSink>> {
              if (!npy) return std::unique_ptr<ResultSink>(new JsonlEmbeddingSink(out));
              return std::unique_ptr<ResultSink>(new NpyEmbeddingSink(out, model.embedding_dim()));
            };
            return run_reported_job(args->job, runtime::EncoderTask::embed, sink, args->quiet, args->json);
          }};
}

}  // namespace sparq::tools
