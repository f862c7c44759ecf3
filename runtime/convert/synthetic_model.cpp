#include "runtime/convert/synthetic_model.h"

#include <cmath>
#include <vector>

#include <fmt/core.h>

#include "formats/sparq_writer.h"
#include "runtime/model/model_schema.h"

namespace sparq::runtime {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t hash_name(const std::string& s, uint64_t seed) {
  uint64_t h = splitmix64(seed);
  for (unsigned char c : s) h = splitmix64(h ^ c);
  return h;
}

// Uniform in (0, 1) from 53 random bits.
double unit(uint64_t bits) { return (static_cast<double>(bits >> 11) + 0.5) * 0x1.0p-53; }

// Deterministic normal(0, stddev) values for one tensor, filled in parallel: element i
// depends only on (seed, tensor name, i), never on the thread count.
void fill_normal(std::vector<float>& v, uint64_t stream, float stddev) {
  const int64_t n = static_cast<int64_t>(v.size());
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i += 2) {
    uint64_t a = splitmix64(stream ^ static_cast<uint64_t>(i));
    uint64_t b = splitmix64(a);
    double r = std::sqrt(-2.0 * std::log(unit(a))), t = 2.0 * M_PI * unit(b);
    v[i] = static_cast<float>(stddev * r * std::cos(t));
    if (i + 1 < n) v[i + 1] = static_cast<float>(stddev * r * std::sin(t));
  }
}

// Zeroes a random `sparsity` fraction of the elements, or of the block_rows x block_cols
// blocks for block-sparse encodings, so the stored pattern has the requested density.
void prune_random(std::vector<float>& v, uint64_t rows, uint64_t cols, double sparsity,
                  uint64_t block_rows, uint64_t block_cols, uint64_t stream) {
  const uint64_t brs = (rows + block_rows - 1) / block_rows, bcs = (cols + block_cols - 1) / block_cols;
#pragma omp parallel for schedule(static)
  for (int64_t br = 0; br < static_cast<int64_t>(brs); ++br) {
    for (uint64_t bc = 0; bc < bcs; ++bc) {
      if (unit(splitmix64(stream ^ (br * bcs + bc))) >= sparsity) continue;
      for (uint64_t r = br * block_rows; r < std::min(rows, (br + 1) * block_rows); ++r) {
        for (uint64_t c = bc * block_cols; c < std::min(cols, (bc + 1) * block_cols); ++c) {
          v[r * cols + c] = 0.0f;
        }
      }
    }
  }
}

}  // namespace

Result<SynthSummary> write_synthetic_model(const SynthOptions& options, const std::string& path) {
  Result<std::vector<TensorSpec>> specs = tensors_for(options.architecture);
  if (!specs) return specs.error();
  if (options.sparsity < 0.0 || options.sparsity >= 1.0) {
    return Error(fmt::format("sparsity must be in [0, 1), got {}", options.sparsity), ErrorKind::invalid_argument);
  }
  formats::EncodeOptions linear = options.weights;
  if (options.sparsity > 0.0 && !formats::is_sparse_layout(linear.encoding)) {
    // Sparse weights keep the requested value encoding inside CSR.
    linear.value_encoding = linear.encoding;
    linear.encoding = formats::Encoding::csr;
    linear.group_size = 0;
    linear.asymmetric = false;
  }

  auto writer = formats::SparqWriter::create(path);
  if (!writer) return writer.error();
  SynthSummary summary;
  for (const TensorSpec& spec : *specs) {
    uint64_t elements = 1;
    for (uint64_t d : spec.dims) elements *= d;
    std::vector<float> values(elements);
    formats::EncodeOptions enc;  // norms and biases stay f32
    uint64_t stream = hash_name(spec.name, options.seed);
    switch (spec.role) {
      case TensorRole::norm:
        std::fill(values.begin(), values.end(), 1.0f);
        break;
      case TensorRole::bias:
        fill_normal(values, stream, 0.01f);
        break;
      case TensorRole::embedding:
        fill_normal(values, stream, 0.02f);
        enc = options.embeddings;
        break;
      case TensorRole::linear: {
        fill_normal(values, stream, 0.02f);
        enc = linear;
        if (options.sparsity > 0.0) {
          uint64_t cols = spec.dims.back(), rows = elements / cols;
          bool block = enc.encoding == formats::Encoding::bsr;
          prune_random(values, rows, cols, options.sparsity, block ? enc.block_rows : 1,
                       block ? enc.block_cols : 1, splitmix64(stream));
        }
        break;
      }
    }
    auto encoded = formats::encode_tensor(spec.name, spec.dims, values, enc);
    if (!encoded) return encoded.error().within(fmt::format("tensor '{}'", spec.name));
    formats::WriteOptions wo;
    wo.compress = options.compress;
    if (auto s = (*writer)->add_tensor(encoded->desc, encoded->payload, wo); !s) return s.error();
    summary.tensors += 1;
    summary.parameters += elements;
  }

  nlohmann::json meta = {
      {"architecture", options.architecture},
      {"provenance",
       {{"tool", "sparq synth"},
        {"command_line", options.command_line},
        {"seed", options.seed},
        {"note", "random weights for tests and benchmarks; not a trained model"}}},
  };
  if (options.architecture.value("name", "") == "bert") {
    uint64_t labels = options.architecture.value("num_labels", uint64_t{0});
    nlohmann::json names = nlohmann::json::array();
    for (uint64_t i = 0; i < labels; ++i) names.push_back(fmt::format("LABEL_{}", i));
    meta["labels"] = names;
  }
  if (Status s = (*writer)->finish(meta); !s) return s.error();
  summary.file_bytes = (*writer)->bytes_written();
  return summary;
}

}  // namespace sparq::runtime
