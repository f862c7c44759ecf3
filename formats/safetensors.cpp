#include "formats/safetensors.h"

#include "formats/input_file.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "formats/float16.h"
#include "formats/mapped_file.h"

#include "formats/tensor_codec.h"

namespace sparq::formats {

using nlohmann::json;

namespace {

// HF's own reader refuses headers above 100 MB; a real header is a few hundred KB.
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;

struct DtypeInfo {
  const char* name;
  uint64_t bytes;
  bool supported;
  SafetensorsDtype dtype;
};

// Every dtype the safetensors format defines: the ones sparq imports, and the others, which
// are still sized (so the header can be validated) but refused when read.
constexpr DtypeInfo kDtypes[] = {
    {"F32", 4, true, SafetensorsDtype::f32},       {"F16", 2, true, SafetensorsDtype::f16},
    {"BF16", 2, true, SafetensorsDtype::bf16},     {"F64", 8, false, SafetensorsDtype::other},
    {"I64", 8, false, SafetensorsDtype::other},    {"U64", 8, false, SafetensorsDtype::other},
    {"I32", 4, false, SafetensorsDtype::other},    {"U32", 4, false, SafetensorsDtype::other},
    {"I16", 2, false, SafetensorsDtype::other},    {"U16", 2, false, SafetensorsDtype::other},
    {"I8", 1, false, SafetensorsDtype::other},     {"U8", 1, false, SafetensorsDtype::other},
    {"BOOL", 1, false, SafetensorsDtype::other},   {"F8_E4M3", 1, false, SafetensorsDtype::other},
    {"F8_E5M2", 1, false, SafetensorsDtype::other},
};

const DtypeInfo* find_dtype(const std::string& name) {
  for (const DtypeInfo& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }

// Duplicate keys are refused (nlohmann would keep the last silently, hiding a second tensor
// of the same name).
Result<json> parse_header_json(const std::string& file, std::string_view text) {
  Result<json> header = parse_json(text, file + ": header", {.max_depth = 8, .max_bytes = text.size()});
  if (!header) return header.error();
  if (!header->is_object()) return Error(fmt::format("{}: header is not a JSON object", file));
  return header;
}

struct Span {
  uint64_t begin, end;
  std::string name;
};

}  // namespace

// Fills a checkpoint from one or more files; a friend of SafetensorsCheckpoint.
struct SafetensorsLoader {
  SafetensorsCheckpoint& ckpt;

  // Validates one file's header and adds its tensors.
  Status add_file(const std::string& path) {
    auto mapped = MappedFile::open(path);
    if (!mapped) return mapped.error();
    const std::span<const uint8_t> m = (*mapped)->bytes();
    if (m.size() < 8) return Error(fmt::format("{}: {} bytes, too short for a safetensors file", path, m.size()));
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | m[i];
    if (header_len > kMaxHeaderBytes) {
      return Error(fmt::format("{}: header length {} exceeds the {} byte limit", path, header_len, kMaxHeaderBytes));
    }
    if (header_len > m.size() - 8) {
      return Error(fmt::format("{}: header length {} runs past the end of the file ({} bytes)", path, header_len,
                               m.size()));
    }
    auto header = parse_header_json(
        path, std::string_view(reinterpret_cast<const char*>(m.data() + 8), header_len));
    if (!header) return header.error();
    const uint8_t* data = m.data() + 8 + header_len;
    const uint64_t data_size = m.size() - 8 - header_len;

    std::vector<Span> spans;
    std::map<std::string, SafetensorsTensor> parsed;
    for (auto it = header->begin(); it != header->end(); ++it) {
      const std::string& name = it.key();
      if (name == "__metadata__") {
        if (Status s = read_metadata(path, it.value()); !s) return s;
        continue;
      }
      auto bad = [&](const std::string& why) { return Error(fmt::format("{}: tensor '{}': {}", path, name, why)); };
      const json& e = it.value();
      if (!e.is_object()) return bad("header entry is not an object");
      if (!e.contains("dtype") || !e["dtype"].is_string()) return bad("missing dtype");
      if (!e.contains("shape") || !e["shape"].is_array()) return bad("missing shape");
      if (!e.contains("data_offsets") || !e["data_offsets"].is_array() || e["data_offsets"].size() != 2) {
        return bad("data_offsets must be [begin, end]");
      }
      const std::string dtype_name = e["dtype"].get<std::string>();
      const DtypeInfo* dtype = find_dtype(dtype_name);
      if (dtype == nullptr) return bad(fmt::format("unknown dtype '{}'", dtype_name));

      SafetensorsTensor t;
      t.name = name;
      t.dtype = dtype->dtype;
      t.dtype_name = dtype_name;
      t.file = path;
      uint64_t bytes = dtype->bytes;
      for (const json& d : e["shape"]) {
        if (!d.is_number_unsigned()) return bad(fmt::format("shape entry {} is not a non-negative integer", d.dump()));
        t.shape.push_back(d.get<uint64_t>());
        if (mul_overflows(bytes, t.shape.back(), &bytes)) return bad("shape's byte count overflows 64 bits");
      }
      const json& off = e["data_offsets"];
      if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
        return bad("data_offsets must be non-negative integers");
      }
      const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
      if (begin > end) return bad(fmt::format("data_offsets [{}, {}] are reversed", begin, end));
      if (end > data_size) {
        return bad(fmt::format("data_offsets [{}, {}] run past the end of the data ({} bytes)", begin, end, data_size));
      }
      if (end - begin != bytes) {
        return bad(fmt::format("data_offsets [{}, {}] hold {} bytes but {} of shape [{}] needs {}", begin, end,
                               end - begin, dtype_name, fmt::join(t.shape, ", "), bytes));
      }
      t.bytes = std::span<const uint8_t>(data + begin, bytes);
      spans.push_back({begin, end, name});
      parsed.emplace(name, std::move(t));
    }
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    for (size_t i = 1; i < spans.size(); ++i) {
      // Empty tensors occupy no bytes and cannot overlap anything.
      if (spans[i].begin == spans[i].end) continue;
      for (size_t j = i; j-- > 0;) {
        if (spans[j].begin == spans[j].end) continue;
        if (spans[i].begin < spans[j].end) {
          return Error(fmt::format("{}: tensor '{}': data [{}, {}] overlaps tensor '{}' [{}, {}]", path,
                                   spans[i].name, spans[i].begin, spans[i].end, spans[j].name, spans[j].begin,
                                   spans[j].end));
        }
        break;
      }
    }
    for (auto& [name, t] : parsed) {
      if (auto prev = ckpt.tensors_.find(name); prev != ckpt.tensors_.end()) {
        return Error(fmt::format("{}: tensor '{}': also stored in {}", path, name, prev->second.file));
      }
      ckpt.tensors_.emplace(name, std::move(t));
    }
    ckpt.mappings_.push_back(std::move(mapped.value()));
    return {};
  }

  Status read_metadata(const std::string& path, const json& meta) {
    if (!meta.is_object()) return Error(fmt::format("{}: __metadata__ is not an object", path));
    if (!ckpt.mappings_.empty()) return {};  // the first file's metadata speaks for the checkpoint
    for (auto it = meta.begin(); it != meta.end(); ++it) {
      if (!it.value().is_string()) {
        return Error(fmt::format("{}: __metadata__.{}: expected a string", path, it.key()));
      }
      ckpt.metadata_[it.key()] = it.value().get<std::string>();
    }
    return {};
  }

  // model.safetensors.index.json: {"weight_map": {tensor: shard file}}; each shard is
  // opened once and must hold the tensors the index assigns to it.
  Status add_index(const std::string& index_path) {
    Result<json> parsed = load_json_file(index_path, {.max_depth = 8, .max_bytes = size_t{64} << 20});
    if (!parsed) return parsed.error();
    json& index = *parsed;
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
      return Error(fmt::format("{}: weight_map: missing or not an object", index_path));
    }
    const std::filesystem::path dir = std::filesystem::path(index_path).parent_path();
    std::map<std::string, std::vector<std::string>> by_shard;
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it.value().is_string()) {
        return Error(fmt::format("{}: weight_map.{}: expected a file name", index_path, it.key()));
      }
      const std::string shard = it.value().get<std::string>();
      std::filesystem::path p(shard);
      bool escapes = p.is_absolute() || shard.empty();
      for (const auto& part : p) escapes = escapes || part == "..";
      if (escapes) {
        return Error(fmt::format("{}: weight_map.{}: shard '{}' is not a file inside {}", index_path, it.key(), shard,
                                 dir.string()));
      }
      by_shard[shard].push_back(it.key());
    }
    if (by_shard.empty()) return Error(fmt::format("{}: weight_map is empty", index_path));
    for (const auto& [shard, names] : by_shard) {
      const std::string shard_path = (dir / shard).string();
      if (!std::filesystem::exists(shard_path)) {
        return Error(fmt::format("{}: shard '{}' (holding '{}') is missing", index_path, shard_path, names.front()));
      }
      if (Status s = add_file(shard_path); !s) return s.error().within(index_path);
      for (const std::string& name : names) {
        auto t = ckpt.tensors_.find(name);
        if (t == ckpt.tensors_.end() || t->second.file != shard_path) {
          return Error(fmt::format("{}: tensor '{}': the index places it in {} but that shard does not hold it",
                                   index_path, name, shard_path));
        }
      }
    }
    return {};
  }
};

SafetensorsCheckpoint::~SafetensorsCheckpoint() = default;

Result<std::unique_ptr<SafetensorsCheckpoint>> SafetensorsCheckpoint::open(const std::string& path) {
  namespace fs = std::filesystem;
  std::string target = path;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path single = fs::path(path) / "model.safetensors";
    const fs::path index = fs::path(path) / "model.safetensors.index.json";
    // Present at all (even a directory, a device or a looping symlink): opening it then
    // says what is wrong with it, instead of "no model.safetensors".
    const auto present = [&ec](const fs::path& p) { return fs::symlink_status(p, ec).type() != fs::file_type::not_found; };
    if (present(single)) {
      target = single.string();
    } else if (present(index)) {
      target = index.string();
    } else {
      return Error(fmt::format("{}: no model.safetensors or model.safetensors.index.json", path));
    }
  }
  std::unique_ptr<SafetensorsCheckpoint> ckpt(new SafetensorsCheckpoint());
  SafetensorsLoader loader{*ckpt};
  const bool is_index = target.size() >= 5 && target.compare(target.size() - 5, 5, ".json") == 0;
  if (Status s = is_index ? loader.add_index(target) : loader.add_file(target); !s) return s.error();
  return ckpt;
}

const SafetensorsTensor* SafetensorsCheckpoint::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

std::vector<std::string> SafetensorsCheckpoint::files() const {
  std::vector<std::string> out;
  for (const auto& m : mappings_) out.push_back(m->path());
  return out;
}

Result<std::vector<float>> SafetensorsCheckpoint::read_f32(const std::string& name) const {
  const SafetensorsTensor* t = find(name);
  if (t == nullptr) return Error(fmt::format("tensor '{}': not in the checkpoint", name));
  std::vector<float> out;
  const uint8_t* p = t->bytes.data();
  switch (t->dtype) {
    case SafetensorsDtype::f32:
      out.resize(t->bytes.size() / 4);
      // Little-endian on every target sparq builds for; memcpy because the data need not
      // be 4-byte aligned in the mapping.
      if (!out.empty()) std::memcpy(out.data(), p, t->bytes.size());
      break;
    case SafetensorsDtype::f16:
    case SafetensorsDtype::bf16:
      out.resize(t->bytes.size() / 2);
      for (size_t i = 0; i < out.size(); ++i) {
        const uint16_t h = static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8));
        out[i] = t->dtype == SafetensorsDtype::f16 ? f16_to_f32(h) : bf16_to_f32(h);
      }
      break;
    case SafetensorsDtype::other:
      return Error(fmt::format("{}: tensor '{}': dtype {} is not supported (F32, F16 and BF16 are)", t->file, name,
                               t->dtype_name),
                   ErrorKind::unsupported);
  }
  return out;
}

}  // namespace sparq::formats
