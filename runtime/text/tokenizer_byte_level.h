// GPT-2's byte-level alphabet: every byte stands for a printable character, so any byte
// string is a string of visible characters. Printable Latin-1 bytes ('!'..'~', 0xA1..0xAC,
// 0xAE..0xFF) stand for themselves; the other 68 bytes, in increasing order, for U+0100,
// U+0101, ...
#pragma once

#include <cstdint>
#include <string_view>

namespace sparq::runtime {

char32_t byte_level_code_point(uint8_t byte);
// The UTF-8 encoding of byte_level_code_point(byte).
std::string_view byte_level_char(uint8_t byte);
// The byte a character of the alphabet stands for; -1 for any other character.
int byte_level_byte(char32_t code_point);

}  // namespace sparq::runtime
