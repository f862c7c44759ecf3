#include "formats/encoding_spec.h"

#include <charconv>
#include <string>
#include <vector>

#include <fmt/core.h>

namespace sparq::formats {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

bool parse_uint(std::string_view s, uint32_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

}  // namespace

Result<EncodeOptions> parse_encode_options(std::string_view spec) {
  const std::string syntax =
      "expected f32, f16, bf16, q8[:gN], q4[:gN][:asym], csr:f32|f16|q8|q4, bsr:f32|q8:RxC or "
      "bitmap:q8|q4[:gN]";
  auto bad = [&](const std::string& why) {
    return Error(fmt::format("invalid encoding '{}': {} ({})", spec, why, syntax), ErrorKind::invalid_argument);
  };
  std::vector<std::string_view> parts = split(spec, ':');
  EncodeOptions o;
  if (!parse_encoding(parts[0], &o.encoding)) return bad("unknown encoding");
  size_t next = 1;
  switch (o.encoding) {
    case Encoding::f32:
    case Encoding::f16:
    case Encoding::bf16:
      break;
    case Encoding::q8:
    case Encoding::q4:
      if (o.encoding == Encoding::q4) o.group_size = 32;
      if (next < parts.size() && parts[next].size() > 1 && parts[next][0] == 'g') {
        if (!parse_uint(parts[next].substr(1), &o.group_size) || o.group_size == 0) return bad("bad group size");
        ++next;
      }
      if (o.encoding == Encoding::q4 && next < parts.size() && parts[next] == "asym") {
        o.asymmetric = true;
        ++next;
      }
      break;
    case Encoding::bitmap:
      if (next >= parts.size() || !parse_encoding(parts[next], &o.value_encoding))
        return bad("missing or unknown value encoding");
      ++next;
      o.group_size = 32;
      if (next < parts.size() && parts[next].size() > 1 && parts[next][0] == 'g') {
        if (!parse_uint(parts[next].substr(1), &o.group_size) || o.group_size == 0) return bad("bad group size");
        ++next;
      }
      break;
    case Encoding::csr:
    case Encoding::bsr: {
      if (next >= parts.size() || !parse_encoding(parts[next], &o.value_encoding)) {
        return bad("missing or unknown value encoding");
      }
      ++next;
      if (o.encoding == Encoding::bsr) {
        if (next >= parts.size()) return bad("missing block shape RxC");
        std::vector<std::string_view> rc = split(parts[next], 'x');
        uint32_t r = 0, c = 0;
        if (rc.size() != 2 || !parse_uint(rc[0], &r) || !parse_uint(rc[1], &c) || r == 0 ||
            c == 0 || r > 256 || c > 256) {
          return bad("bad block shape");
        }
        o.block_rows = static_cast<uint16_t>(r);
        o.block_cols = static_cast<uint16_t>(c);
        ++next;
      }
      break;
    }
  }
  if (next != parts.size()) return bad(fmt::format("unexpected '{}'", parts[next]));
  return o;
}

std::string encode_options_string(const EncodeOptions& o) {
  return describe_encoding({}, {}, o).encoding_string();
}

}  // namespace sparq::formats
