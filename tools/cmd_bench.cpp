// sparq bench: throughput and latency of a model on this machine, with the hardware
// fingerprint, as a table for people or the JSON `sparq plan` consumes.
#include <fmt/core.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "formats/sparq_reader.h"
#include "formats/tensor_codec.h"
#include "kernels/isa.h"
#include "kernels/threading.h"
#include "runtime/jobs/decoder_bench.h"
#include "runtime/jobs/document_job.h"
#include "runtime/jobs/encoder_pipeline.h"
#include "runtime/model/decoder_model.h"
#include "runtime/plan/hardware_measurement.h"
#include "tools/command.h"
#include "tools/kv_cache_option.h"
#include "tools/progress_bar.h"
#include "tools/table.h"

namespace sparq::tools {
namespace {

using Clock = std::chrono::steady_clock;

// Tokens per synthetic document when --max-length is not given: the shape peers are
// measured at (bench/peers).
constexpr size_t kSyntheticLength = 128;

struct BenchArgs {
  std::string model, input, format = "auto", task = "auto", text_field = "text";
  size_t batch_size = 0, max_length = 0, max_docs = 2000;  // batch 0: 16 documents, or 1 sequence
  size_t prompt_len = 128, gen_len = 64;  // decoders
  kernels::KvEncoding kv_cache = kernels::KvEncoding::f32;
  int threads = 0;
  double seconds = 10, warmup_seconds = 2;
  size_t min_iterations = 5;
  size_t repeat = 1;  // whole measurements; rates are their median
  bool json = false, quiet = false, no_measure = false;
};

// What the linear layers are stored as, e.g. "q8" or "bsr:q8:4x4, 90.0 % sparse".
std::string describe_format(const formats::SparqReader& r) {
  std::map<std::string, uint64_t> by_encoding;
  uint64_t elements = 0, stored = 0;
  for (const auto& t : r.tensors()) {
    if (t.desc.name.rfind("layers.", 0) != 0 || t.desc.dims.size() != 2) continue;
    by_encoding[t.desc.encoding_string()] += t.desc.elements();
    elements += t.desc.elements();
    stored += formats::stored_entries(t.desc);
  }
  std::string s;
  for (const auto& [enc, n] : by_encoding) s += (s.empty() ? "" : " + ") + enc;
  double sparsity = elements ? 1.0 - double(stored) / double(elements) : 0;
  if (sparsity >= 0.005) s += fmt::format(", {:.1f} % sparse", 100 * sparsity);
  return s;
}

// The weights multiplied per token - the layers' matrices and the output head (a decoder's
// tied head is its embedding table) - and their bytes stored dense at their precision, what
// `sparq plan` puts on an accelerator's roofline. Embedding tables are looked up, not multiplied.
struct MatmulWeights {
  uint64_t parameters = 0;
  double dense_bytes = 0;
};

double value_bits(formats::Encoding e) {
  switch (e) {
    case formats::Encoding::f32: return 32;
    case formats::Encoding::f16:
    case formats::Encoding::bf16: return 16;
    case formats::Encoding::q4: return 4;
    default: return 8;
  }
}

MatmulWeights matmul_weights(const formats::SparqReader& r) {
  bool untied_head = false;
  for (const auto& t : r.tensors()) untied_head = untied_head || t.desc.name == "lm_head.weight";
  MatmulWeights m;
  for (const auto& t : r.tensors()) {
    const std::string& name = t.desc.name;
    bool head = name == "lm_head.weight" || name == "classifier.weight" ||
                (!untied_head && name == "embeddings.word.weight" && r.metadata().contains("architecture") &&
                 r.metadata()["architecture"].value("name", "") == "llama");
    if (t.desc.dims.size() != 2 || !(head || name.rfind("layers.", 0) == 0)) continue;
    bool sparse = formats::is_sparse_layout(t.desc.encoding);
    m.parameters += t.desc.elements();
    m.dense_bytes += double(t.desc.elements()) * value_bits(sparse ? t.desc.value_encoding : t.desc.encoding) / 8;
  }
  return m;
}

// The median of runs' rates and their range, for --repeat.
nlohmann::ordered_json rate_range(std::vector<double> rates) {
  std::sort(rates.begin(), rates.end());
  return {{"median", runtime::percentile(rates, 50)}, {"min", rates.front()}, {"max", rates.back()}};
}

uint64_t peak_rss_bytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return uint64_t(ru.ru_maxrss) * 1024;
}

struct Measurement {
  std::vector<double> latency_ms;
  double seconds = 0, warmup_seconds = 0;
  uint64_t documents = 0, tokens = 0;
  std::vector<double> run_documents_per_s, run_tokens_per_s;  // one per --repeat run
};

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A bar over a phase of planned length: its "bytes" are the milliseconds elapsed, so the
// percentage and ETA are those of the time (more iterations may run past it).
ProgressBar phase_bar(const std::string& unit, double planned_seconds, bool enabled) {
  return ProgressBar(unit, uint64_t(planned_seconds * 1000), enabled);
}

// Runs `step` (one batch; returns documents and tokens it did) for the warm-up, then until
// both `seconds` and `min_iterations` are reached, showing each phase's progress on stderr.
template <class Step>
Result<Measurement> measure(const BenchArgs& a, Step&& step) {
  Measurement m;
  const auto warm_start = Clock::now();
  {
    ProgressBar bar = phase_bar("warm-up batches", a.warmup_seconds, !a.quiet);
    uint64_t batches = 0;
    do {
      if (Result<std::pair<uint64_t, uint64_t>> r = step(); !r) return r.error();
      bar.update(++batches, uint64_t(seconds_since(warm_start) * 1000));
    } while (seconds_since(warm_start) < a.warmup_seconds);
  }
  m.warmup_seconds = seconds_since(warm_start);
  ProgressBar bar = phase_bar("batches", a.seconds, !a.quiet);
  const auto t0 = Clock::now();
  while (m.latency_ms.size() < a.min_iterations || seconds_since(t0) < a.seconds) {
    auto s = Clock::now();
    Result<std::pair<uint64_t, uint64_t>> r = step();
    if (!r) return r.error();
    m.latency_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
    m.documents += r->first;
    m.tokens += r->second;
    bar.update(m.latency_ms.size(), uint64_t(seconds_since(t0) * 1000));
  }
  m.seconds = seconds_since(t0);
  return m;
}

// `measure` --repeat times: latencies pooled, each run's rates kept for their median.
template <class Step>
Result<Measurement> measure_repeated(const BenchArgs& a, Step&& step) {
  Measurement all;
  for (size_t i = 0; i < a.repeat; ++i) {
    Result<Measurement> run = measure(a, step);
    if (!run) return run.error();
    all.latency_ms.insert(all.latency_ms.end(), run->latency_ms.begin(), run->latency_ms.end());
    all.seconds += run->seconds;
    all.warmup_seconds += run->warmup_seconds;
    all.documents += run->documents;
    all.tokens += run->tokens;
    all.run_documents_per_s.push_back(double(run->documents) / run->seconds);
    all.run_tokens_per_s.push_back(double(run->tokens) / run->seconds);
  }
  return all;
}

Result<std::vector<runtime::Document>> read_documents(const BenchArgs& a) {
  runtime::DocumentReaderOptions o;
  Result<runtime::DocumentFormat> f = runtime::parse_document_format(a.format, a.input);
  if (!f) return f.error();
  o.format = *f;
  o.text_field = a.text_field;
  auto reader = runtime::DocumentReader::open(a.input, o);
  if (!reader) return reader.error();
  std::vector<runtime::Document> docs;
  while (docs.size() < a.max_docs) {
    auto d = (*reader)->next();
    if (!d) return d.error();
    if (!*d) break;
    if (!(*d)->error) docs.push_back(std::move(**d));
  }
  if (docs.empty()) return Error(fmt::format("{}: no usable documents", a.input), ErrorKind::invalid_input);
  return docs;
}

// The hardware fingerprint, measured after the model's work so its arrays do not count in
// the model's peak RSS.
Result<runtime::HardwareReport> fingerprint(const BenchArgs& a) {
  runtime::MeasurementOptions measurement;
  measurement.measure = !a.no_measure;
  measurement.threads = kernels::num_threads();
  if (!a.quiet && measurement.measure) fmt::print(stderr, "measuring this machine's bandwidth and peaks for the fingerprint ...\n");
  return runtime::measure_hardware(measurement);
}

std::string model_name(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  if (name.ends_with(".sparq")) name.resize(name.size() - 6);
  return name;
}

// The report's first rows, the same for encoders and decoders: the model and the machine.
TextTable report_table(const BenchArgs& a, const formats::SparqReader& r, uint64_t weight_bytes,
                       uint64_t parameters, const runtime::HardwareReport& hw) {
  TextTable t({"", ""}, {TextTable::Align::left, TextTable::Align::left});
  t.add_row({"model", fmt::format("{} ({}, {}, {:.1f} M parameters)", a.model, describe_format(r),
                                  human_bytes(weight_bytes), double(parameters) / 1e6)});
  t.add_row({"machine", fmt::format("{}, {} threads, isa {}", hw.cpu.model_name, kernels::num_threads(),
                                    kernels::isa_name(hw.selected_isa))});
  return t;
}

// Prints the report with its last row, the machine's measured peaks (when measured).
void print_report(TextTable& t, const runtime::HardwareReport& hw) {
  if (hw.measured) {
    t.add_row({"machine peaks", fmt::format("{:.0f} GB/s triad, {:.0f} GFLOP/s f32, {:.0f} GOP/s int8 ({} threads)",
                                            hw.measured->bandwidth_gbs.all_threads, hw.measured->f32_gflops.all_threads,
                                            hw.measured->int8_gops.all_threads, hw.measured->threads)});
  }
  fmt::print("{}", t.render());
}

// Decoders: prefill and decode speed, time to first token, per-token latency, and decode
// against the memory-bandwidth roofline (every weight byte read once per decode step).
Status run_decoder_bench(const BenchArgs& a, std::shared_ptr<const formats::SparqReader> shared) {
  auto model = runtime::DecoderModel::load(shared);
  if (!model) return model.error();
  runtime::DecoderModel& m = **model;
  runtime::DecoderBenchOptions o;
  o.prompt_len = a.prompt_len;
  o.gen_len = a.gen_len;
  o.batch = a.batch_size ? a.batch_size : 1;
  o.kv_cache = a.kv_cache;
  o.seconds = a.seconds;
  o.warmup_seconds = a.warmup_seconds;
  o.min_runs = a.min_iterations;
  std::optional<ProgressBar> bar;
  std::string phase;
  o.progress = [&](const char* p, size_t runs, double elapsed) {
    if (a.quiet) return;
    if (phase != p) {
      phase = p;
      bar.reset();
      bar.emplace(phase == "warm-up" ? "warm-up runs" : "runs",
                  uint64_t((phase == "warm-up" ? a.warmup_seconds : a.seconds) * 1000), true);
    }
    bar->update(runs, uint64_t(elapsed * 1000));
  };
  Result<runtime::DecoderBenchResult> r = Error("no run");
  std::vector<double> prefill_rates, decode_rates;
  for (size_t i = 0; i < a.repeat; ++i) {
    Result<runtime::DecoderBenchResult> run = runtime::bench_decoder(m, o);
    if (!run) return run.error();
    prefill_rates.push_back(run->prefill_tokens_per_s);
    decode_rates.push_back(run->decode_tokens_per_s);
    if (i == 0) {
      r = std::move(run);
      continue;
    }
    r->runs += run->runs;
    r->seconds += run->seconds;
    r->warmup_seconds += run->warmup_seconds;
    r->ttft_ms.insert(r->ttft_ms.end(), run->ttft_ms.begin(), run->ttft_ms.end());
    r->token_latency_ms.insert(r->token_latency_ms.end(), run->token_latency_ms.begin(), run->token_latency_ms.end());
  }
  bar.reset();
  r->prefill_tokens_per_s = runtime::percentile(prefill_rates, 50);
  r->decode_tokens_per_s = runtime::percentile(decode_rates, 50);
  const uint64_t peak_rss = peak_rss_bytes();
  Result<runtime::HardwareReport> hw = fingerprint(a);
  if (!hw) return hw.error();

  uint64_t parameters = 0;
  for (const auto& t : shared->tensors()) parameters += t.desc.elements();
  const MatmulWeights matmul = matmul_weights(*shared);
  const auto& lat = r->token_latency_ms;
  const double p50 = runtime::percentile(lat, 50), p95 = runtime::percentile(lat, 95),
               p99 = runtime::percentile(lat, 99), ttft = runtime::percentile(r->ttft_ms, 50);
  // A decode step reads every weight once for the whole batch: the roofline in tokens/s is
  // batch x bandwidth / bytes per step.
  std::optional<double> roofline;
  if (hw->measured) roofline = double(o.batch) * hw->measured->bandwidth_gbs.all_threads * 1e9 / double(r->decode_weight_bytes);
  nlohmann::ordered_json j = {
      {"version", 1},
      {"model",
       {{"name", model_name(a.model)}, {"path", a.model}, {"bytes", m.weight_bytes()}, {"parameters", parameters},
        {"matmul_parameters", matmul.parameters}, {"matmul_dense_bytes", matmul.dense_bytes},
        {"layers", m.config().num_layers}, {"kind", "decoder"}, {"format", describe_format(*shared)},
        {"context_length", m.config().max_positions}}},
      {"task", "generate"},
      {"input", "synthetic"},
      {"threads", kernels::num_threads()},
      {"batch", o.batch},
      {"prompt_tokens", o.prompt_len},
      {"generated_tokens", o.gen_len},
      {"runs", r->runs},
      {"warmup_seconds", r->warmup_seconds},
      {"seconds", r->seconds},
      {"prefill_tokens_per_s", r->prefill_tokens_per_s},
      {"decode_tokens_per_s", r->decode_tokens_per_s},
      {"time_to_first_token_ms", ttft},
      {"time_to_first_token_percentiles_ms", {{"p50", ttft},
                                              {"p95", runtime::percentile(r->ttft_ms, 95)},
                                              {"p99", runtime::percentile(r->ttft_ms, 99)}}},
      {"token_latency_ms", {{"p50", p50}, {"p95", p95}, {"p99", p99},
                            {"min", *std::min_element(lat.begin(), lat.end())},
                            {"max", *std::max_element(lat.begin(), lat.end())}}},
      {"kv_cache_type", kernels::kv_encoding_name(o.kv_cache)},
      {"kv_cache_bytes", r->kv_cache_bytes},
      {"decode_weight_bytes_per_step", r->decode_weight_bytes},
      {"peak_rss_bytes", peak_rss},
      {"hwinfo", runtime::to_json(*hw)}};
  if (a.repeat > 1)
    j["repeat"] = {{"count", a.repeat}, {"prefill_tokens_per_s", rate_range(prefill_rates)},
                   {"decode_tokens_per_s", rate_range(decode_rates)}};
  if (roofline) {
    j["decode_roofline_tokens_per_s"] = *roofline;
    j["decode_roofline_share"] = r->decode_tokens_per_s / *roofline;
  }
  if (a.json) {
    fmt::print("{}\n", j.dump(2));
    return {};
  }
  TextTable t = report_table(a, *shared, m.weight_bytes(), parameters, *hw);
  t.add_row({"workload", fmt::format("{} sequence{} x ({} prompt + {} generated) random tokens, greedy", o.batch,
                                     o.batch == 1 ? "" : "s", o.prompt_len, o.gen_len)});
  t.add_row({"runs", fmt::format("{} in {:.1f} s (after {:.1f} s warm-up)", r->runs, r->seconds, r->warmup_seconds)});
  t.add_row({"prefill", fmt::format("{:.1f} tokens/s, time to first token {:.1f} ms", r->prefill_tokens_per_s, ttft)});
  t.add_row({"decode", fmt::format("{:.1f} tokens/s{}", r->decode_tokens_per_s,
                                   roofline ? fmt::format(", {:.0f} % of the {:.1f} tokens/s bandwidth roofline",
                                                          100 * r->decode_tokens_per_s / *roofline, *roofline)
                                            : "")});
  t.add_row({"token latency", fmt::format("p50 {:.1f} ms, p95 {:.1f} ms, p99 {:.1f} ms", p50, p95, p99)});
  t.add_row({"memory", fmt::format("peak RSS {}, KV cache {} ({}), {} of weights read per decode step",
                                   human_bytes(peak_rss), human_bytes(r->kv_cache_bytes),
                                   kernels::kv_encoding_name(o.kv_cache), human_bytes(r->decode_weight_bytes))});
  print_report(t, *hw);
  return {};
}

Status run_bench(BenchArgs a) {
  if (a.threads < 0 || (a.max_length != 0 && a.max_length < 2) || a.seconds <= 0 || a.warmup_seconds < 0) {
    return Error("need --threads >= 0, --max-length >= 2, --seconds > 0 and --warmup >= 0",
                 ErrorKind::invalid_argument);
  }
  if (Status s = runtime::apply_thread_count(a.threads); !s) return s;
  auto reader = formats::SparqReader::open(a.model);
  if (!reader) return reader.error();
  std::shared_ptr<const formats::SparqReader> shared(std::move(*reader));
  const nlohmann::json& meta = shared->metadata();
  if (meta.contains("architecture") && meta["architecture"].is_object() &&
      meta["architecture"].value("name", "") == "llama") {
    return run_decoder_bench(a, shared);
  }
  if (a.batch_size == 0) a.batch_size = 16;
  auto model = runtime::EncoderModel::load(shared);
  if (!model) return model.error();
  runtime::EncoderModel& m = **model;
  const runtime::BertConfig& c = m.config();

  std::string task = a.task == "auto" ? (c.num_labels > 0 ? "classify" : "embed") : a.task;
  if (task != "classify" && task != "embed") return Error("--task: expected classify, embed or auto", ErrorKind::invalid_argument);
  if (task == "classify" && c.num_labels == 0) return Error("--task classify: the model has no classifier head", ErrorKind::invalid_argument);
  const bool classify = task == "classify";

  Result<Measurement> result = Error("unreachable");
  size_t seq_len = a.max_length ? a.max_length : kSyntheticLength;
  double avg_tokens = double(seq_len);
  size_t documents_read = 0;
  if (a.input.empty()) {
    if (seq_len + c.position_offset > c.max_positions) {
      return Error(fmt::format("--max-length {}: the model takes at most {} tokens", seq_len,
                               c.max_positions - c.position_offset),
                   ErrorKind::invalid_argument);
    }
    // Synthetic: `batch_size` documents of exactly `seq_len` random tokens, the shape peers use.
    runtime::TokenBatch batch;
    batch.batch = a.batch_size;
    batch.seq_len = seq_len;
    std::mt19937 rng(42);
    std::uniform_int_distribution<int32_t> token(0, int32_t(c.vocab_size) - 1);
    batch.ids.resize(a.batch_size * seq_len);
    for (int32_t& id : batch.ids) id = token(rng);
    batch.lengths.assign(a.batch_size, int32_t(seq_len));
    std::vector<float> out(a.batch_size * (classify ? c.num_labels : m.embedding_dim()));
    result = measure_repeated(a, [&]() -> Result<std::pair<uint64_t, uint64_t>> {
      Status s = classify ? m.classify(batch, out) : m.embed(batch, out);
      if (!s) return s.error();
      return std::pair<uint64_t, uint64_t>(a.batch_size, a.batch_size * seq_len);
    });
  } else {
    // Real documents, end to end (tokenisation included), in batches of up to `batch_size`.
    auto docs = read_documents(a);
    if (!docs) return docs.error();
    documents_read = docs->size();
    runtime::BatchingOptions bo;
    bo.max_batch = a.batch_size;
    bo.max_length = a.max_length;
    bo.max_tokens_per_batch = 0;  // batches of `batch_size` documents whatever their length
    auto pipeline = runtime::EncoderPipeline::create(
        m, classify ? runtime::EncoderTask::classify : runtime::EncoderTask::embed, bo);
    if (!pipeline) return pipeline.error();
    std::vector<runtime::DocumentOutput> outs;
    size_t next = 0;
    result = measure_repeated(a, [&]() -> Result<std::pair<uint64_t, uint64_t>> {
      size_t n = std::min(a.batch_size, docs->size() - next);
      uint64_t tokens_before = (*pipeline)->stats().tokens;
      if (Status s = (*pipeline)->run(std::span(*docs).subspan(next, n), outs); !s) return s.error();
      next = (next + n) % docs->size();
      return std::pair<uint64_t, uint64_t>(n, (*pipeline)->stats().tokens - tokens_before);
    });
    seq_len = (*pipeline)->max_length();
  }
  if (!result) return result.error();
  const Measurement& r = *result;
  if (!a.input.empty()) avg_tokens = double(r.tokens) / double(std::max<uint64_t>(r.documents, 1));
  // The benchmark's own peak: read before the hardware measurement, whose bandwidth arrays
  // (hundreds of MiB) would otherwise be reported as the model's memory.
  const uint64_t peak_rss = peak_rss_bytes();

  Result<runtime::HardwareReport> hw = fingerprint(a);
  if (!hw) return hw.error();

  uint64_t parameters = 0;
  for (const auto& t : shared->tensors()) parameters += t.desc.elements();
  const MatmulWeights matmul = matmul_weights(*shared);
  const std::string name = model_name(a.model);
  double docs_per_s = runtime::percentile(r.run_documents_per_s, 50),
         tokens_per_s = runtime::percentile(r.run_tokens_per_s, 50);
  double p50 = runtime::percentile(r.latency_ms, 50), p95 = runtime::percentile(r.latency_ms, 95),
         p99 = runtime::percentile(r.latency_ms, 99);
  nlohmann::ordered_json j = {
      {"version", 1},
      {"model",
       {{"name", name}, {"path", a.model}, {"bytes", m.weight_bytes()}, {"parameters", parameters},
        {"matmul_parameters", matmul.parameters}, {"matmul_dense_bytes", matmul.dense_bytes},
        {"layers", c.num_layers}, {"kind", "encoder"}, {"format", describe_format(*shared)}}},
      {"task", task},
      {"input", a.input.empty() ? "synthetic" : a.input},
      {"documents_read", documents_read},
      {"threads", kernels::num_threads()},
      {"batch", a.batch_size},
      {"seq_len", seq_len},
      {"avg_tokens_per_document", avg_tokens},
      {"iterations", r.latency_ms.size()},
      {"warmup_seconds", r.warmup_seconds},
      {"seconds", r.seconds},
      {"documents_per_s", docs_per_s},
      {"tokens_per_s", tokens_per_s},
      {"latency_ms", {{"p50", p50}, {"p95", p95}, {"p99", p99},
                      {"min", *std::min_element(r.latency_ms.begin(), r.latency_ms.end())},
                      {"max", *std::max_element(r.latency_ms.begin(), r.latency_ms.end())}}},
      // Before the hardware measurement: the model's and the batches' memory, not the probe's.
      {"peak_rss_bytes", peak_rss},
      {"hwinfo", runtime::to_json(*hw)}};
  if (a.repeat > 1)
    j["repeat"] = {{"count", a.repeat}, {"documents_per_s", rate_range(r.run_documents_per_s)},
                   {"tokens_per_s", rate_range(r.run_tokens_per_s)}};
  if (a.json) {
    fmt::print("{}\n", j.dump(2));
    return {};
  }
  TextTable t = report_table(a, *shared, m.weight_bytes(), parameters, *hw);
  t.add_row({"workload", a.input.empty()
                             ? fmt::format("{}: batches of {} x {} random tokens", task, a.batch_size, seq_len)
                             : fmt::format("{}: {} documents of {}, batches of up to {}, {:.0f} tokens/doc", task,
                                           documents_read, a.input, a.batch_size, avg_tokens)});
  t.add_row({"iterations", fmt::format("{} in {:.1f} s (after {:.1f} s warm-up)", r.latency_ms.size(), r.seconds,
                                       r.warmup_seconds)});
  t.add_row({"throughput", fmt::format("{:.1f} documents/s, {:.0f} tokens/s{}", docs_per_s, tokens_per_s,
                                       a.repeat > 1 ? fmt::format(" (median of {} runs, {:.0f}-{:.0f} tokens/s)", a.repeat,
                                                                  *std::min_element(r.run_tokens_per_s.begin(), r.run_tokens_per_s.end()),
                                                                  *std::max_element(r.run_tokens_per_s.begin(), r.run_tokens_per_s.end()))
                                                    : "")});
  t.add_row({"batch latency", fmt::format("p50 {:.1f} ms, p95 {:.1f} ms, p99 {:.1f} ms", p50, p95, p99)});
  t.add_row({"peak RSS", human_bytes(peak_rss)});
  print_report(t, *hw);
  return {};
}

}  // namespace

Command add_bench_command(CLI::App& parent) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* app = parent.add_subcommand(
      "bench",
      "Measure a model on this machine: warm-up, then repeated batches; documents/s, tokens/s, batch latency "
      "percentiles (decoders: prefill and decode tokens/s, time to first token, per-token latency, KV-cache type "
      "and bytes and decode's share of the memory-bandwidth roofline), the peak RSS of the benchmark (before the hardware measurement) and the hardware "
      "fingerprint. Progress goes to stderr; --json is the input of `sparq plan`.");
  app->add_option("model", a->model, "The .sparq model")->required();
  app->add_option("--batch-size", a->batch_size,
                  "Documents per forward pass (default 16); for a decoder, sequences generated together (default 1)");
  app->add_option("--prompt-len", a->prompt_len, "Decoders: prompt tokens per sequence")->capture_default_str();
  app->add_option("--gen-len", a->gen_len, "Decoders: generated tokens per sequence")->capture_default_str();
  add_kv_cache_option(app, &a->kv_cache, "Decoders: ");
  app->add_option("--max-length", a->max_length,
                  fmt::format("Tokens per document: synthetic documents have exactly this many (default {}); with "
                              "--input, longer documents are truncated (default: the model's limit)",
                              kSyntheticLength));
  app->add_option("--input,-i", a->input, "Benchmark on real documents (JSONL/CSV/text), tokenisation included");
  app->add_option("--format", a->format, "Input format: jsonl, csv, txt or auto (from the extension)")
      ->capture_default_str();
  app->add_option("--text-field", a->text_field, "JSONL field / CSV column holding the text")->capture_default_str();
  app->add_option("--max-docs", a->max_docs, "Documents read from --input")->capture_default_str();
  app->add_option("--task", a->task, "classify, embed or auto (classify when the model has labels)")
      ->capture_default_str();
  app->add_option("--threads,-t", a->threads, "Threads (default: all CPUs, or OMP_NUM_THREADS)");
  app->add_option("--seconds", a->seconds, "Measured time at least")->capture_default_str();
  app->add_option("--warmup", a->warmup_seconds, "Warm-up time in seconds (at least one batch runs)")
      ->capture_default_str();
  app->add_option("--min-iterations", a->min_iterations, "Measured batches at least")->capture_default_str();
  app->add_option("--repeat", a->repeat,
                  "Repeat the whole measurement N times: rates are the median, with min-max in the JSON's \"repeat\"")
      ->check(CLI::Range(size_t{1}, size_t{1000}))
      ->capture_default_str();
  add_json_flag(app, &a->json, "the report (what `sparq plan --bench` reads)");
  app->add_flag("--quiet,-q", a->quiet, "No progress on stderr");
  app->add_flag("--no-measure", a->no_measure, "Skip the bandwidth/peak measurements of the fingerprint");
  return {app, [a] { return run_bench(*a); }};
}

}  // namespace sparq::tools
