// A minimal safetensors writer for tests, written from the format's description (8-byte
// little-endian header length, JSON header of {dtype, shape, data_offsets}, raw bytes)
// independently of formats/safetensors.cpp. Tests build valid files with it and then damage
// them on purpose.
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "cli_runner.h"  // write_file for text

namespace sparq::test {

struct StEntry {
  std::string name;
  std::string dtype;  // "F32", "F16", "BF16", "I64", ...
  std::vector<uint64_t> shape;
  std::vector<uint8_t> bytes;
};

inline std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

inline StEntry st_f32(std::string name, std::vector<uint64_t> shape, const std::vector<float>& v) {
  return {std::move(name), "F32", std::move(shape), f32_bytes(v)};
}

// The header JSON the writer would emit for `entries` laid out back to back.
inline nlohmann::json st_header(const std::vector<StEntry>& entries) {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const StEntry& e : entries) {
    header[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {offset, offset + e.bytes.size()}}};
    offset += e.bytes.size();
  }
  return header;
}

// File bytes from a header text (any JSON, even broken) and the data that follows it.
inline std::vector<uint8_t> st_file_bytes(const std::string& header_text, const std::vector<uint8_t>& data) {
  const uint64_t n = header_text.size();
  std::vector<uint8_t> out(8 + n + data.size());
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  std::copy(header_text.begin(), header_text.end(), out.begin() + 8);
  std::copy(data.begin(), data.end(), out.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  return out;
}

inline std::vector<uint8_t> st_data(const std::vector<StEntry>& entries) {
  std::vector<uint8_t> data;
  for (const StEntry& e : entries) data.insert(data.end(), e.bytes.begin(), e.bytes.end());
  return data;
}

inline std::vector<uint8_t> st_file_bytes(const std::vector<StEntry>& entries) {
  return st_file_bytes(st_header(entries).dump(), st_data(entries));
}

inline void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace sparq::test
