// What the planner reads about the model and the job: the `sparq bench --json` and
// `sparq eval --json` reports of the user's model on the user's CPU, and the workload with
// its cost assumptions. Shapes (version 1; fixtures in tests/runtime/fixtures/planner/):
//
// bench, both kinds: {"version": 1,
//         "model": {"name", "bytes" (weights as stored), "parameters" (dense count, for
//                   ops per token = 2 x parameters), "kind": "encoder" | "decoder",
//                   "format" (free text, e.g. "q8, 80 % sparse")},
//         "threads", "batch",
//         "hwinfo": the `sparq hwinfo --json` report, with "measured" figures,
//         and the figures of its kind:}
//         "repeat" (optional, `sparq bench --repeat N`): {"count", "<rate key>": {"median",
//                   "min", "max"}}: the rates above are the medians of `count` runs,
// encoder: "seq_len" (optional: the longest document the bench ran; longer ones were
//         truncated), "avg_tokens_per_document",
//         "documents_per_s" and/or "tokens_per_s" (whole-machine, at `threads`),
//         "latency_ms": {"p50", "p95", "p99"} (per request of `batch` documents),
//         "activation_bytes" (optional: peak activations at this batch)
// decoder: `batch` sequences of "prompt_tokens" random tokens, each generating
//         "generated_tokens" (bench_decoder, runtime/jobs/decoder_bench.h):
//         "model": {..., "context_length" (optional: the longest sequence the model takes)},
//         "prefill_tokens_per_s", "decode_tokens_per_s" (whole machine, all sequences),
//         "time_to_first_token_ms" (median: the batch's prompts prefilled together and the
//         first token picked), "time_to_first_token_percentiles_ms": {"p50", "p95", "p99"}
//         (optional; without it the median stands in for the p95, with a warning),
//         "token_latency_ms": {"p50", "p95", "p99"} (one decode step of the batch),
//         "kv_cache_bytes" (the batch's cache for prompt + generated tokens),
//         "decode_weight_bytes_per_step" (weight bytes one decode step reads)
// eval:  {"version": 1, "model", "dataset", "examples", "accuracy", "macro_f1",
//         "floor": null | {"metric", "value", "measured", "passed"}}; the floor's metric is
//         any of `sparq eval --floor`'s, e.g. "accuracy@0.9": the accuracy of the 90 % most
//         confident documents (triage that sends the rest to a person), so the plan's quality
//         verdict can be "accurate enough on what it does not hand over"
//         (other fields, e.g. "calibration", are not read)
// workload (YAML or JSON), of one of two kinds told apart by their volume field:
//   documents (encoders): documents_per_day or tokens_per_month; every field in
//   models/example-workload.yaml;
//   generation requests (decoders): requests_per_day or generated_tokens_per_month; every
//   field in models/example-llm-workload.yaml.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "formats/error.h"
#include "runtime/plan/economics.h"

namespace sparq::runtime::planner {

enum class ModelKind { encoder, decoder };
const char* model_kind_name(ModelKind kind);

// The two ways a transformer spends a request's tokens, each bound by its own roofline.
// read: all of a sequence's input tokens in one forward pass (an encoder's document, a
//   decoder's prompt prefill): compute-bound, 2 x parameters int8 ops per token.
// generate: one new token per sequence per forward pass, reading every weight once for the
//   whole batch and the sequence's KV cache: memory-bound.
enum class Stage { read, generate };

// One stage of the model's work as the bench measured it.
struct Phase {
  Stage stage = Stage::read;
  std::string name;           // "encode", "prefill" or "decode"
  std::string latency_key;    // "latency", "ttft" or "token_latency": JSON keys and workload objectives
  std::string latency_label;  // for people: "p95", "TTFT p95", "token p95"
  double tokens_per_s = 0;    // whole machine, all sequences of the batch (median of repeats)
  double tokens_per_s_min = 0, tokens_per_s_max = 0;  // range over `sparq bench --repeat`; 0 = one run
  // One forward pass of the batch in this stage: batch latency (encoders), time to first
  // token (prefill), one decode step (decode).
  double p50_ms = 0, p95_ms = 0, p99_ms = 0;
};

struct BenchReport {
  std::string file;
  std::string model_name;
  std::string model_format;
  ModelKind kind = ModelKind::encoder;
  double model_bytes = 0;
  double parameters = 0;
  // Weights multiplied per token and their dense bytes at the stored precision; without them
  // (older reports) `parameters` and `model_bytes` stand in, embeddings counted, with a warning.
  double matmul_parameters = 0;
  double matmul_dense_bytes = 0;
  double layers = 0;  // 0 = not reported (kLayersAssumed stands in)
  double context_length = 0;  // decoders: the longest sequence the model takes; 0 = not reported
  int threads = 1;
  double batch = 1;
  int repeats = 1;               // `sparq bench --repeat`: runs the rates are the median of
  double seq_len = 0;            // encoders: longest document the bench ran (0 = not reported)
  double input_tokens = 0;       // per sequence: an encoder's average document, a decoder's prompt
  double generated_tokens = 0;   // per sequence (decoders)
  double activation_bytes = 0;   // encoders: peak activations at this batch (optional)
  double kv_bytes_per_token = 0;    // decoders: KV cache per sequence and token of context
  double decode_weight_bytes = 0;   // decoders: weight bytes one decode step reads
  std::vector<Phase> phases;     // encoders: encode; decoders: prefill, then decode
  std::vector<std::string> warnings;  // what the report leaves the plan to assume
  // From hwinfo: what the measured machine is and its measured peaks at all threads.
  std::string cpu_model;
  int cpu_threads = 0;
  int cpu_cores = 0;
  bool amx = false;              // the measured CPU has AMX tiles (its int8 peak is AMX's)
  double memory_bytes = 0;
  double bandwidth_gbs = 0;
  double int8_gops = 0;

  const Phase& last_phase() const { return phases.back(); }
};

// Layers assumed when an older bench does not report them: a BERT-base encoder's.
inline constexpr double kLayersAssumed = 12;

struct EvalReport {
  std::string file;
  double accuracy = 0;
  double macro_f1 = 0;
  std::string floor_metric;  // empty: the eval set no floor; e.g. "accuracy", "accuracy@0.9"
  double floor_value = 0;
  double floor_measured = -1;  // the floor metric's value; -1: not given (older reports)
  bool floor_passed = false;
};

struct CostAssumptions {
  EnergyPrice energy;                  // $/kWh and PUE
  double years = 3;                    // amortisation; the 5-year view is reported too
  double utilisation = 0.7;            // share of capacity planned to be used at peak
  double maintenance_usd_per_year = 500;  // per on-prem unit
  double rack_usd_per_year = 0;        // space/rack per on-prem unit
  double egress_gb_per_month = 0;      // cloud options only
  double egress_usd_per_gb = 0.09;
  double memory_headroom = 0.65;       // model + KV + OS within this share of device memory
  double runtime_overhead = 0.2;       // on top of weights + activations / KV cache
  double cloud_min_instances = 1;      // kept running through the working hours
};

// The machine the bench ran on, as a deployment option of its own (usually already owned).
struct OwnedMachine {
  int owned_units = 1;   // already owned: these cost no purchase; every further unit costs price_usd
  double price_usd = 0;  // one more machine like it; 0 = unknown (extra units cannot be priced)
  double power_w = 0;
  bool power_estimated = false;
  double cloud_usd_per_hour = 0;
};

// Where the workload may run: an air-gapped site rules out the cloud, a cloud-only team
// rules out buying hardware.
enum class DeploymentScope { any, on_prem, cloud };

struct Workload {
  std::string file;
  std::string name;
  ModelKind kind = ModelKind::encoder;  // documents (encoder) or generation requests (decoder)
  double requests_per_day = 0;          // documents_per_day | requests_per_day
  double tokens_per_month = 0;          // tokens_per_month | generated_tokens_per_month
  double input_tokens = 0;              // per request: avg_tokens_per_document | avg_prompt_tokens; 0 = the bench's
  double generated_tokens = 0;          // per request: avg_generated_tokens; 0 = the bench's
  double context_tokens = 0;            // max_context_tokens: KV cache per sequence; 0 = input + generated
  double peak_concurrent_users = 0;     // decoders: streams generating at once at peak; 0 = from the volume
  double hours_per_day = 24;
  double peak_to_average = 1;
  std::map<Stage, double> latency_slo_p95_ms;  // per stage, ms; absent = no objective
  double growth_per_year = 0;
  int redundancy = 0;                  // spare units: 1 = N+1
  DeploymentScope scope = DeploymentScope::any;  // deployment: on-prem | cloud | any
  std::vector<std::string> exclude;    // catalog device names left out of the plan
  CostAssumptions costs;
  OwnedMachine this_machine;
};

Result<BenchReport> load_bench(const std::string& path);
Result<EvalReport> load_eval(const std::string& path);
Result<Workload> load_workload(const std::string& path);

}  // namespace sparq::runtime::planner
