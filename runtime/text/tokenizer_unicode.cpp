#include "runtime/text/tokenizer_unicode.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>


namespace sparq::runtime::unicode {
namespace {

uint32_t category_mask(char32_t c) { return U_GET_GC_MASK(static_cast<UChar32>(c)); }

std::u16string to_utf16(std::string_view text) {
  std::u16string out(text.size(), u'\0');  // never more UTF-16 units than UTF-8 bytes
  int32_t length = 0;
  UErrorCode status = U_ZERO_ERROR;
  u_strFromUTF8(reinterpret_cast<UChar*>(out.data()), int32_t(out.size()), &length, text.data(),
                int32_t(text.size()), &status);
  out.resize(U_SUCCESS(status) ? size_t(length) : 0);
  return out;
}

std::string to_utf8(std::u16string_view text) {
  std::string out(text.size() * 3, '\0');  // a UTF-16 unit never needs more than 3 bytes
  int32_t length = 0;
  UErrorCode status = U_ZERO_ERROR;
  u_strToUTF8(out.data(), int32_t(out.size()), &length, reinterpret_cast<const UChar*>(text.data()),
              int32_t(text.size()), &status);
  out.resize(U_SUCCESS(status) ? size_t(length) : 0);
  return out;
}

// Runs an ICU transform that may need a larger buffer than its input.
template <class Transform>
std::u16string grow_and_run(std::u16string_view src, Transform transform) {
  std::u16string out(src.size() + 16, u'\0');
  for (;;) {
    UErrorCode status = U_ZERO_ERROR;
    int32_t n = transform(reinterpret_cast<UChar*>(out.data()), int32_t(out.size()),
                          reinterpret_cast<const UChar*>(src.data()), int32_t(src.size()), &status);
    if (status == U_BUFFER_OVERFLOW_ERROR) {
      out.assign(size_t(n), u'\0');
      continue;
    }
    out.resize(U_SUCCESS(status) ? size_t(n) : 0);
    return out;
  }
}

std::string normalize(std::string_view text, const UNormalizer2* form) {
  if (is_ascii(text) || form == nullptr) return std::string(text);
  std::u16string u16 = to_utf16(text);
  return to_utf8(grow_and_run(u16, [form](UChar* dst, int32_t cap, const UChar* src, int32_t n, UErrorCode* st) {
    return unorm2_normalize(form, src, n, dst, cap, st);
  }));
}

}  // namespace

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(char(cp));
  } else if (cp < 0x800) {
    out.push_back(char(0xC0 | (cp >> 6)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(char(0xE0 | (cp >> 12)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(char(0xF0 | (cp >> 18)));
    out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  }
}

size_t count_code_points(std::string_view text) {
  size_t n = 0;
  for (char ch : text) n += (static_cast<uint8_t>(ch) & 0xC0) != 0x80;
  return n;
}

bool is_js_whitespace_above_ascii(char32_t c) {
  switch (c) {
    case 0x00A0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
    case 0x3000: case 0xFEFF:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

bool is_white_space_property(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  if (c == 0x85) return true;
  return c != 0xFEFF && is_js_whitespace_above_ascii(c);
}

void append_utf8_lossy(std::string& out, std::string_view bytes) {
  auto at = [&](size_t k) { return static_cast<uint8_t>(bytes[k]); };
  for (size_t i = 0; i < bytes.size();) {
    uint8_t lead = at(i);
    if (lead < 0x80) {
      out.push_back(char(lead));
      ++i;
      continue;
    }
    // Continuation bytes needed, and the range of the first one (the rest are 80..BF):
    // what excludes overlong forms, surrogates and code points past U+10FFFF.
    size_t need = 0;
    uint8_t low = 0x80, high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      need = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      need = 2;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      need = 3;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    }
    size_t j = i + 1;
    for (size_t k = 0; k < need && j < bytes.size(); ++k, ++j) {
      uint8_t b = at(j);
      if (b < (k == 0 ? low : 0x80) || b > (k == 0 ? high : 0xBF)) break;
    }
    if (need > 0 && j == i + 1 + need) {
      out.append(bytes.substr(i, need + 1));
    } else {
      // The maximal subpart (the lead and the continuation bytes that fit) is one U+FFFD;
      // the byte that broke it starts afresh.
      out.append(kReplacementCharacter);
    }
    i = j;
  }
}

bool is_letter(char32_t c) {
  if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
  return (category_mask(c) & U_GC_L_MASK) != 0;
}

bool is_number(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  return (category_mask(c) & U_GC_N_MASK) != 0;
}

bool is_punctuation(char32_t c) { return (category_mask(c) & U_GC_P_MASK) != 0; }
bool is_mark(char32_t c) { return c >= 0x300 && (category_mask(c) & U_GC_M_MASK) != 0; }
bool is_nonspacing_mark(char32_t c) { return c >= 0x300 && (category_mask(c) & U_GC_MN_MASK) != 0; }

bool is_other_control_format_private(char32_t c) {
  if (c < 0x80) return c < 0x20 || c == 0x7F;
  return (category_mask(c) & (U_GC_CC_MASK | U_GC_CF_MASK | U_GC_CO_MASK | U_GC_CS_MASK)) != 0;
}

std::string to_lower(std::string_view text) {
  if (is_ascii(text)) {
    std::string out(text);
    for (char& ch : out) {
      if (ch >= 'A' && ch <= 'Z') ch = char(ch + ('a' - 'A'));
    }
    return out;
  }
  std::u16string u16 = to_utf16(text);
  // The root locale: what JavaScript's locale-independent toLowerCase() applies.
  return to_utf8(grow_and_run(u16, [](UChar* dst, int32_t cap, const UChar* src, int32_t n, UErrorCode* st) {
    return u_strToLower(dst, cap, src, n, "", st);
  }));
}

std::string to_upper(std::string_view text) {
  if (is_ascii(text)) {
    std::string out(text);
    for (char& ch : out) {
      if (ch >= 'a' && ch <= 'z') ch = char(ch - ('a' - 'A'));
    }
    return out;
  }
  std::u16string u16 = to_utf16(text);
  // The root locale, as JavaScript's toUpperCase() (full mapping: "ß" becomes "SS").
  return to_utf8(grow_and_run(u16, [](UChar* dst, int32_t cap, const UChar* src, int32_t n, UErrorCode* st) {
    return u_strToUpper(dst, cap, src, n, "", st);
  }));
}

std::string to_nfd(std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  return normalize(text, unorm2_getNFDInstance(&status));
}

std::string to_nfc(std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  return normalize(text, unorm2_getNFCInstance(&status));
}

std::string to_nfkd(std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  return normalize(text, unorm2_getNFKDInstance(&status));
}

std::string to_nfkc(std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  return normalize(text, unorm2_getNFKCInstance(&status));
}

}  // namespace sparq::runtime::unicode
