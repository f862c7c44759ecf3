#include "runtime/convert/encode_and_write.h"

#include <algorithm>
#include <cmath>

#include <fmt/core.h>

namespace sparq::runtime {
namespace {

using formats::Encoding;

uint64_t layout_size(const std::vector<uint64_t>& dims, const formats::EncodeOptions& o, uint64_t count) {
  formats::TensorDesc d = formats::describe_encoding({}, dims, o);
  d.count = count;
  auto layout = formats::compute_layout(d);
  return layout ? layout->total_size : UINT64_MAX;
}

// Blocks of a block shape that hold a non-zero (BSR stores those, zeros inside them
// included).
uint64_t nonzero_blocks(std::span<const float> v, uint64_t rows, uint64_t cols, uint64_t br, uint64_t bc) {
  uint64_t blocks = 0;
  for (uint64_t r0 = 0; r0 < rows; r0 += br) {
    for (uint64_t c0 = 0; c0 < cols; c0 += bc) {
      const uint64_t r1 = std::min(rows, r0 + br), c1 = std::min(cols, c0 + bc);
      bool any = false;
      for (uint64_t r = r0; r < r1 && !any; ++r) {
        for (uint64_t c = c0; c < c1 && !any; ++c) any = v[r * cols + c] != 0.0f;
      }
      blocks += any;
    }
  }
  return blocks;
}

// The encoding of a linear weight: `dense`, or CSR / BSR (block shapes the kernels run) or,
// where `options` allow, bitmap rows, when the weight holds zeros and the sparse payload is
// smaller (the smallest layout wins; a BSR block may hold zeros: q8 rounds small weights to
// zero inside kept blocks). `sparsity` receives the fraction of zeros.
formats::EncodeOptions choose_linear_encoding(std::span<const float> v, const std::vector<uint64_t>& dims,
                                              const formats::EncodeOptions& dense,
                                              const EncodeAndWriteOptions& options, double* sparsity) {
  const uint64_t cols = dims.back(), rows = v.size() / cols;
  const uint64_t nnz = static_cast<uint64_t>(std::count_if(v.begin(), v.end(), [](float x) { return x != 0.0f; }));
  *sparsity = v.empty() ? 0.0 : 1.0 - double(nnz) / double(v.size());
  // Below this a sparse layout cannot be smaller than the dense one in any value encoding.
  constexpr double kMinSparsity = 0.3;
  if (!options.keep_sparse || *sparsity < kMinSparsity) return dense;
  formats::EncodeOptions best = dense;
  uint64_t best_size = layout_size(dims, dense, 0);
  auto consider = [&](const formats::EncodeOptions& o, uint64_t count) {
    uint64_t size = layout_size(dims, o, count);
    if (size < best_size) best = o, best_size = size;
  };
  const bool quantized = dense.encoding == Encoding::q8 || dense.encoding == Encoding::q4;
  formats::EncodeOptions bsr;
  bsr.encoding = Encoding::bsr;
  bsr.value_encoding = quantized ? Encoding::q8 : Encoding::f32;
  // Larger blocks first: on equal size the one the kernels run fastest wins.
  for (auto [br, bc] : kSupportedBlocks) {
    bsr.block_rows = static_cast<uint16_t>(br);
    bsr.block_cols = static_cast<uint16_t>(bc);
    consider(bsr, nonzero_blocks(v, rows, cols, br, bc));
  }
  formats::EncodeOptions csr;
  csr.encoding = Encoding::csr;
  csr.value_encoding = dense.encoding == Encoding::bf16 ? Encoding::f32 : dense.encoding;
  consider(csr, nnz);
  // q8 with one scale per row is bitmap q8 with one group of all the row's columns: the same
  // scales and values, when the row is whole 32-column words.
  const bool q8_rows = dense.encoding == Encoding::q8 && dense.group_size == 0 && cols % 32 == 0;
  const bool bitmap_values = (dense.encoding == Encoding::q8 && dense.group_size > 0 && dense.group_size % 32 == 0) ||
                             (dense.encoding == Encoding::q4 && !dense.asymmetric) || q8_rows;
  if (options.bitmap_rows && bitmap_values) {
    formats::EncodeOptions bitmap = dense;
    bitmap.encoding = Encoding::bitmap;
    bitmap.value_encoding = dense.encoding;
    if (q8_rows) bitmap.group_size = static_cast<uint32_t>(cols);
    consider(bitmap, nnz);
  }
  return best;
}

// A tensor's values as read, refused when any is NaN or infinite: such a model converts
// and runs, but every score it gives is null.
Result<std::vector<float>> read_finite(const SourceTensor& t) {
  auto values = t.read();
  if (!values) return values.error();
  auto bad = std::find_if(values->begin(), values->end(), [](float x) { return !std::isfinite(x); });
  if (bad != values->end()) {
    const uint64_t at = uint64_t(bad - values->begin()), cols = t.dims.empty() ? 1 : t.dims.back();
    return Error(fmt::format("{}: value {} at element {} (row {}, column {}): the checkpoint holds non-finite "
                             "weights; no model converted from it can give finite outputs",
                             t.origin.empty() ? t.name : t.origin, *bad, at, at / cols, at % cols),
                 ErrorKind::invalid_input);
  }
  return values;
}

// The tensors a recipe selects, read and pruned before anything is written.
struct Pruned {
  std::vector<int> rule_of;                  // per tensor: its rule, or -1
  std::vector<std::vector<float>> values;    // per tensor: the pruned values, if selected
  std::vector<CompressedTensor> compressed;  // per selected tensor, in tensor order
};

Result<Pruned> prune_selected(std::span<const SourceTensor> tensors, const CompressionRecipe& recipe) {
  std::vector<RecipeTensor> candidates;
  for (const SourceTensor& t : tensors) candidates.push_back({t.name, t.dims});
  auto assigned = assign_rules(recipe, candidates);
  if (!assigned) return assigned.error();
  Pruned p;
  p.rule_of = std::move(*assigned);
  p.values.resize(tensors.size());
  std::vector<PruneTensor> targets;
  std::vector<int> target_rules;
  std::vector<formats::EncodeOptions> stored_as;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (p.rule_of[i] < 0) continue;
    auto values = read_finite(tensors[i]);
    if (!values) return values.error();
    p.values[i] = std::move(*values);
    PruneTensor& target = targets.emplace_back();
    target.name = tensors[i].name;
    target.values = p.values[i];
    target.rows = tensors[i].dims[0];
    target.cols = tensors[i].dims[1];
    target_rules.push_back(p.rule_of[i]);
    const std::optional<formats::EncodeOptions>& rule_encoding = recipe.rules[size_t(p.rule_of[i])].encoding;
    stored_as.push_back(rule_encoding ? *rule_encoding : tensors[i].encoding);
  }
  auto compressed = prune_with_recipe(recipe, target_rules, targets, stored_as);
  if (!compressed) return compressed.error();
  p.compressed = std::move(*compressed);
  return p;
}

// Writes one tensor: as stored when the recipe leaves it alone, else encoded from `values`
// (the pruned ones when the recipe selects it, else read now) in its dense encoding or, for
// a linear weight, a sparse layout where that is smaller.
Result<formats::StoredTensor> write_tensor(const SourceTensor& t, int rule, std::vector<float> values,
                                           const EncodeAndWriteOptions& options, formats::SparqWriter& writer,
                                           TensorReport& report) {
  const formats::WriteOptions write{.compress = options.compress};
  if (rule < 0 && t.stored != nullptr) {
    report.elements = t.stored->desc.elements();
    return writer.add_tensor(t.stored->desc, t.stored->payload, write);
  }
  if (rule < 0 && t.encoded) {
    auto encoded = t.encoded();
    if (!encoded) return encoded.error().within(t.origin);
    report.elements = encoded->desc.elements();
    return writer.add_tensor(encoded->desc, encoded->payload, write);
  }
  formats::EncodeOptions dense = t.encoding;
  if (rule >= 0) {
    const CompressionRecipe& recipe = *options.recipe;
    const RecipeRule& r = recipe.rules[static_cast<size_t>(rule)];
    if (r.encoding) dense = *r.encoding;
    if (!t.linear && dense.encoding == Encoding::q4) {
      return Error(fmt::format("{}: rules[{}].encoding: tensor '{}' is not a linear weight; it takes f32, f16, bf16 or q8",
                               recipe.source, rule, t.name));
    }
  } else {
    auto read = read_finite(t);
    if (!read) return read.error();
    values = std::move(*read);
  }
  report.elements = values.size();
  formats::EncodeOptions encoding = dense;
  if (t.linear) {
    encoding = choose_linear_encoding(values, t.dims, dense, options, &report.sparsity);
  } else {
    report.sparsity =
        values.empty() ? 0.0 : double(std::count(values.begin(), values.end(), 0.0f)) / double(values.size());
  }
  auto encoded = formats::encode_tensor(t.name, t.dims, values, encoding);
  if (!encoded) return encoded.error().within(t.origin);
  values = {};  // the write needs only the payload
  return writer.add_tensor(encoded->desc, encoded->payload, write);
}

}  // namespace

Result<WrittenTensors> encode_and_write(std::span<const SourceTensor> tensors, const EncodeAndWriteOptions& options,
                                        formats::SparqWriter& writer) {
  Pruned pruned;
  pruned.rule_of.assign(tensors.size(), -1);
  pruned.values.resize(tensors.size());
  if (options.recipe != nullptr) {
    auto selected = prune_selected(tensors, *options.recipe);
    if (!selected) return selected.error();
    pruned = std::move(*selected);
  }
  WrittenTensors out;
  out.compressed = std::move(pruned.compressed);
  size_t next_compressed = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    TensorReport report;
    report.name = tensors[i].name;
    auto stored = write_tensor(tensors[i], pruned.rule_of[i], std::move(pruned.values[i]), options, writer, report);
    if (!stored) return stored.error();
    report.encoding = formats::stored_encoding_string(stored->desc, stored->compression);
    report.sparse_layout = formats::is_sparse_layout(stored->desc.encoding);
    report.bytes = stored->stored_size;
    if (pruned.rule_of[i] >= 0) {
      // The recipe's record gives the payload as encoded, before zstd.
      CompressedTensor& c = out.compressed[next_compressed++];
      c.encoding = stored->desc.encoding_string();
      c.bytes = stored->raw_size;
    }
    out.parameters += report.elements;
    out.tensors.push_back(report);
    if (options.on_tensor) options.on_tensor(out.tensors.back(), i, tensors.size());
  }
  return out;
}

}  // namespace sparq::runtime
