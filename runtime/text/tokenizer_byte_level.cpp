#include "runtime/text/tokenizer_byte_level.h"

#include <array>
#include <string>

#include "runtime/text/tokenizer_unicode.h"

namespace sparq::runtime {
namespace {

bool stands_for_itself(unsigned b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); }

struct ByteLevelTable {
  std::array<char32_t, 256> code_points{};
  std::array<std::string, 256> utf8;
  std::array<int16_t, 0x100 + 68> bytes;  // by code point; the alphabet ends at U+0143
  ByteLevelTable() {
    bytes.fill(-1);
    char32_t next = 0x100;
    for (unsigned b = 0; b < 256; ++b) {
      code_points[b] = stands_for_itself(b) ? char32_t(b) : next++;
      unicode::append_utf8(utf8[b], code_points[b]);
      bytes[code_points[b]] = int16_t(b);
    }
  }
};

const ByteLevelTable& table() {
  static const ByteLevelTable t;
  return t;
}

}  // namespace

char32_t byte_level_code_point(uint8_t byte) { return table().code_points[byte]; }
std::string_view byte_level_char(uint8_t byte) { return table().utf8[byte]; }
int byte_level_byte(char32_t code_point) {
  return code_point < table().bytes.size() ? table().bytes[code_point] : -1;
}

}  // namespace sparq::runtime
