// Unicode services the tokenizers need, with the semantics of Hugging Face's JavaScript
// tokenizers (the reference sparq is tested against): JavaScript's `\s`, its
// String.prototype.toLowerCase and normalize(), and \p{...} general categories. Categories,
// case mapping and normalisation come from ICU; UTF-8 is decoded here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sparq::runtime::unicode {

// Decodes the code point at `text[i]` (valid UTF-8 assumed: callers validate input once)
// and advances `i` past it.
inline char32_t next_code_point(std::string_view text, size_t& i) {
  auto c = static_cast<uint8_t>(text[i]);
  if (c < 0x80) {
    ++i;
    return c;
  }
  auto byte = [&](size_t k) { return static_cast<char32_t>(static_cast<uint8_t>(text[i + k]) & 0x3F); };
  char32_t cp;
  if (c < 0xE0) {
    cp = (char32_t(c & 0x1F) << 6) | byte(1);
    i += 2;
  } else if (c < 0xF0) {
    cp = (char32_t(c & 0x0F) << 12) | (byte(1) << 6) | byte(2);
    i += 3;
  } else {
    cp = (char32_t(c & 0x07) << 18) | (byte(1) << 12) | (byte(2) << 6) | byte(3);
    i += 4;
  }
  return cp;
}

void append_utf8(std::string& out, char32_t cp);
size_t count_code_points(std::string_view text);

// ECMAScript WhiteSpace and LineTerminator: what `\s`, trim() and `\S` mean in JavaScript.
bool is_js_whitespace_above_ascii(char32_t c);
inline bool is_js_whitespace(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  return is_js_whitespace_above_ascii(c);
}
// The Unicode White_Space property: what `\s` means in the Split patterns Hugging Face's
// JavaScript tokenizers rewrite from Oniguruma (U+0085 is one, U+FEFF is not, unlike
// JavaScript's own `\s`).
bool is_white_space_property(char32_t c);
// General categories (\p{L}, \p{N}, \p{P}, \p{M}, \p{Mn}) and BERT's control set
// (Cc, Cf, Co, Cs).
bool is_letter(char32_t c);
bool is_number(char32_t c);
bool is_punctuation(char32_t c);
bool is_mark(char32_t c);
bool is_nonspacing_mark(char32_t c);
bool is_other_control_format_private(char32_t c);

// Appends `bytes` decoded as UTF-8 the way the WHATWG TextDecoder (non-fatal) does, as the
// reference's byte-level and byte-fallback decoders use it: each maximal invalid or truncated
// subpart becomes one U+FFFD.
void append_utf8_lossy(std::string& out, std::string_view bytes);
inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

// Whole-string transforms (valid UTF-8 in and out), as JavaScript's toLowerCase() (full
// case mapping, final sigma) and toUpperCase() and normalize("NFD"/"NFC"/"NFKD"/"NFKC").
std::string to_lower(std::string_view text);
std::string to_upper(std::string_view text);  // as JavaScript's toUpperCase()
std::string to_nfd(std::string_view text);
std::string to_nfc(std::string_view text);
std::string to_nfkd(std::string_view text);
std::string to_nfkc(std::string_view text);

inline bool is_ascii(std::string_view text) {
  for (char ch : text) {
    if (static_cast<uint8_t>(ch) >= 0x80) return false;
  }
  return true;
}

}  // namespace sparq::runtime::unicode
