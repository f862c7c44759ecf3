#include "tools/npy_f32_matrix.h"

#include <fmt/core.h>

#include <cstdio>

namespace sparq::tools {
namespace {

constexpr std::string_view kMagic("\x93NUMPY\x01\x00", 8);  // format version 1.0
constexpr std::string_view kDictStart = "{'descr': '<f4', 'fortran_order': False, 'shape': (";

}  // namespace

std::string npy_f32_header(uint64_t rows, uint64_t cols) {
  std::string dict = fmt::format("{}{}, {}), }}", kDictStart, rows, cols);
  dict.resize(kNpyF32HeaderBytes - 10 - 1, ' ');
  dict += '\n';
  std::string h(kMagic);
  h += char(dict.size() & 0xff);
  h += char(dict.size() >> 8);
  return h + dict;
}

Result<NpyF32Shape> parse_npy_f32_header(const std::string& header, const std::string& path) {
  if (header.size() < kNpyF32HeaderBytes || header.compare(0, kMagic.size(), kMagic) != 0 ||
      header.compare(10, kDictStart.size(), kDictStart) != 0) {
    return Error(fmt::format("{}: not a float32 .npy matrix as `sparq embed` writes it", path), ErrorKind::invalid_input);
  }
  NpyF32Shape s;
  unsigned long long rows = 0, cols = 0;
  if (std::sscanf(header.c_str() + 10 + kDictStart.size(), "%llu, %llu)", &rows, &cols) != 2) {
    return Error(fmt::format("{}: unreadable .npy shape", path), ErrorKind::invalid_input);
  }
  s.rows = rows;
  s.cols = cols;
  return s;
}

}  // namespace sparq::tools
