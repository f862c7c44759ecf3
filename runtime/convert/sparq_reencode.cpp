#include "runtime/convert/sparq_reencode.h"

#include <fmt/core.h>

#include <map>

#include "formats/sha256_file.h"
#include "formats/sparq_reader.h"
#include "formats/sparq_writer.h"
#include "runtime/convert/encode_and_write.h"
#include "runtime/model/classifier_calibration.h"
#include "runtime/model/model_schema.h"

namespace sparq::runtime {
namespace {

// The dense encoding a stored tensor had before any sparse layout.
formats::EncodeOptions own_dense_encoding(const formats::TensorDesc& d) {
  formats::EncodeOptions o;
  o.encoding = formats::is_sparse_layout(d.encoding) ? d.value_encoding : d.encoding;
  o.group_size = d.group_size;
  o.asymmetric = d.asymmetric;
  return o;
}

}  // namespace

Result<ReencodeSummary> reencode_sparq(const std::string& in_path, const ReencodeOptions& options,
                                       const std::string& out_path) {
  if (options.recipe == nullptr && !options.temperature) {
    return Error("re-encoding needs a compression recipe or a calibration temperature", ErrorKind::invalid_argument);
  }
  if (options.temperature) {
    if (auto t = checked_temperature(*options.temperature, "temperature"); !t) return t.error();
  }
  auto opened = formats::SparqReader::open(in_path);
  if (!opened) return opened.error();
  const formats::SparqReader& reader = **opened;
  const nlohmann::json& source_meta = reader.metadata();
  if (!source_meta.contains("architecture")) return Error(fmt::format("{}: metadata has no \"architecture\"", in_path));
  auto specs = tensors_for(source_meta["architecture"]);
  if (!specs) return specs.error().within(in_path);
  std::map<std::string, TensorRole> role_of;
  for (const TensorSpec& s : *specs) role_of[s.name] = s.role;
  if (options.temperature) {
    const nlohmann::json& arch = source_meta["architecture"];
    if (arch.value("name", "") != "bert" || arch.value("num_labels", uint64_t{0}) == 0) {
      return Error(fmt::format("{}: a temperature scales a classifier's logits; this model is not a classifier", in_path),
                   ErrorKind::invalid_argument)
          .about("temperature");
    }
  }

  std::vector<SourceTensor> tensors;
  for (const formats::TensorView& view : reader.tensors()) {
    SourceTensor t;
    t.name = view.desc.name;
    t.dims = view.desc.dims;
    const auto role = role_of.find(t.name);
    t.linear = role != role_of.end() && role->second == TensorRole::linear;
    t.encoding = options.weights.value_or(own_dense_encoding(view.desc));
    t.origin = fmt::format("{}: tensor '{}'", in_path, t.name);
    t.read = [&view, origin = t.origin]() -> Result<std::vector<float>> {
      auto decoded = formats::decode_tensor(view.desc, view.payload);
      if (!decoded) return decoded.error().within(origin);
      return decoded;
    };
    t.stored = &view;
    tensors.push_back(std::move(t));
  }
  auto writer = formats::SparqWriter::create(out_path);
  if (!writer) return writer.error();
  EncodeAndWriteOptions stage;
  stage.recipe = options.recipe;
  stage.compress = options.compress;
  stage.bitmap_rows = source_meta["architecture"].value("name", "") == "llama";
  auto written = encode_and_write(tensors, stage, **writer);
  if (!written) return written.error();

  ReencodeSummary summary;
  summary.compressed = std::move(written->compressed);
  summary.tensors = tensors.size();
  uint64_t source_bytes = 0;
  auto sha = formats::sha256_file(in_path, &source_bytes);
  if (!sha) return sha.error();
  summary.source_bytes = source_bytes;
  nlohmann::json meta = source_meta;
  for (const char* written_by_writer : {"format", "sparq_version", "created_utc"}) meta.erase(written_by_writer);
  nlohmann::json step = {{"tool", "sparq convert"},
                         {"command_line", options.command_line},
                         {"from", "sparq"},
                         {"source", {{"path", in_path}, {"sha256", *sha}, {"bytes", source_bytes}}}};
  if (source_meta.contains("compression")) step["previous_compression"] = source_meta["compression"];
  if (options.temperature) {
    if (source_meta.contains("calibration")) step["previous_calibration"] = source_meta["calibration"];
    meta["calibration"] = calibration_metadata(*options.temperature);
  }
  if (!meta["provenance"].is_object()) meta["provenance"] = nlohmann::json::object();
  meta["provenance"]["reencoded"].push_back(step);
  if (options.recipe) meta["compression"] = compression_metadata(*options.recipe, summary.compressed);
  if (Status s = (*writer)->finish(meta); !s) return s.error();
  summary.file_bytes = (*writer)->bytes_written();
  return summary;
}

}  // namespace sparq::runtime
