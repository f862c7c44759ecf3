// JavaScript's string semantics for chat template filters and methods (see the header).
#include "runtime/text/chat_template_strings.h"

#include <algorithm>
#include <cmath>

#include "runtime/text/tokenizer_unicode.h"

namespace sparq::runtime::chat_template_detail {

std::vector<std::string> code_points(std::string_view s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    const size_t start = i;
    unicode::next_code_point(s, i);
    out.emplace_back(s.substr(start, i - start));
  }
  return out;
}

std::string js_trim(std::string_view s, bool start, bool end) {
  size_t b = 0, e = s.size();
  if (start) {
    while (b < e) {
      size_t i = b;
      if (!unicode::is_js_whitespace(unicode::next_code_point(s, i))) break;
      b = i;
    }
  }
  if (end) {
    while (e > b) {
      size_t k = e - 1;  // back to the start of the last code point
      while (k > b && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
      size_t i = k;
      if (!unicode::is_js_whitespace(unicode::next_code_point(s, i))) break;
      e = k;
    }
  }
  return std::string(s.substr(b, e - b));
}

namespace {
bool is_ascii_word(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_js_space_at(std::string_view s, size_t& i) {
  size_t k = i;
  if (!unicode::is_js_whitespace(unicode::next_code_point(s, k))) return false;
  i = k;
  return true;
}
}  // namespace

std::string js_title(std::string_view s) {
  std::string out(s);
  for (size_t i = 0; i < out.size(); ++i) {
    const bool boundary = i == 0 || !is_ascii_word(out[i - 1]);
    if (boundary && out[i] >= 'a' && out[i] <= 'z') out[i] = static_cast<char>(out[i] - ('a' - 'A'));
  }
  return out;
}

std::string js_capitalize(std::string_view s) {
  if (s.empty()) return std::string();
  size_t i = 0;
  unicode::next_code_point(s, i);
  std::string out = unicode::to_upper(s.substr(0, i));
  out.append(s.substr(i));
  return out;
}

std::string js_replace(std::string_view s, std::string_view from, std::string_view to, double count) {
  if (count == 0) return std::string(s);
  double remaining = count < 0 ? INFINITY : count;
  std::string out;
  if (from.empty()) {  // the empty pattern matches before every code point and at the end
    for (const std::string& c : code_points(s)) {
      if (remaining-- > 0) out.append(to);
      out += c;
    }
    if (remaining > 0) out.append(to);
    return out;
  }
  size_t pos = 0;
  while (remaining > 0) {
    const size_t at = s.find(from, pos);
    if (at == std::string_view::npos) break;
    out.append(s.substr(pos, at - pos));
    out.append(to);
    pos = at + from.size();
    --remaining;
  }
  out.append(s.substr(pos));
  return out;
}

std::vector<std::string> js_split(std::string_view s, std::string_view separator, double max_split) {
  std::vector<std::string> pieces;
  size_t from = 0;
  while (true) {
    const size_t at = s.find(separator, from);
    if (at == std::string_view::npos) break;
    pieces.emplace_back(s.substr(from, at - from));
    from = at + separator.size();
  }
  pieces.emplace_back(s.substr(from));
  // Python's maxsplit on top of JavaScript's split: the pieces past it joined back.
  if (max_split != -1 && static_cast<double>(pieces.size()) > max_split) {
    const auto keep = static_cast<size_t>(std::max(max_split, 0.0));
    std::string rest;
    for (size_t i = keep; i < pieces.size(); ++i) {
      if (i > keep) rest.append(separator);
      rest += pieces[i];
    }
    pieces.resize(keep);
    pieces.push_back(std::move(rest));
  }
  return pieces;
}

std::vector<std::string> js_split_whitespace(std::string_view s, double max_split) {
  const std::string text = js_trim(s, true, false);
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < text.size()) {
    const size_t start = i;
    while (i < text.size()) {
      size_t k = i;
      if (is_js_space_at(text, k)) break;
      unicode::next_code_point(text, i);
    }
    if (max_split != -1 && static_cast<double>(parts.size()) >= max_split) {
      parts.push_back(text.substr(start));  // the rest, whitespace and all
      break;
    }
    parts.push_back(text.substr(start, i - start));
    while (i < text.size() && is_js_space_at(text, i)) {
    }
  }
  return parts;
}

std::string js_strftime(std::string_view format, const std::tm& time) {
  static const char* const kMonths[] = {"January", "February", "March", "April", "May", "June",
                                        "July", "August", "September", "October", "November", "December"};
  auto pad2 = [](int v) {
    std::string digits = std::to_string(v);
    if (v < 10) digits.insert(digits.begin(), '0');
    return digits;
  };
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%' || i + 1 >= format.size()) {
      out.push_back(format[i]);
      continue;
    }
    switch (format[i + 1]) {
      case 'Y': out += std::to_string(time.tm_year + 1900); break;
      case 'm': out += pad2(time.tm_mon + 1); break;
      case 'd': out += pad2(time.tm_mday); break;
      case 'b': out += std::string_view(kMonths[time.tm_mon]).substr(0, 3); break;
      case 'B': out += kMonths[time.tm_mon]; break;
      case 'H': out += pad2(time.tm_hour); break;
      case 'M': out += pad2(time.tm_min); break;
      case '%': out += '%'; break;
      default:
        out.push_back('%');  // not a directive: the next character is copied as it is
        continue;
    }
    ++i;
  }
  return out;
}

}  // namespace sparq::runtime::chat_template_detail
