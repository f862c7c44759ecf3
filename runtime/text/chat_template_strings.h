// The string operations chat templates call (trim, title, split, replace, strftime_now),
// with the semantics of JavaScript's String methods, because @huggingface/jinja, the
// reference sparq renders identically to, implements its filters and methods with them.
// Input is valid UTF-8 (the template and its variables are checked on the way in).
#pragma once

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace sparq::runtime::chat_template_detail {

// Each code point of `s` as its own UTF-8 string (what Array.from(string) iterates).
std::vector<std::string> code_points(std::string_view s);
// trim / trimStart / trimEnd: JavaScript's whitespace (U+00A0, U+3000, U+FEFF, ... too).
std::string js_trim(std::string_view s, bool start, bool end);
// /\b\w/g upper-cased: the first ASCII letter of every ASCII word; nothing else changes.
std::string js_title(std::string_view s);
// charAt(0).toUpperCase() + the rest unchanged (Python's capitalize would lower the rest).
std::string js_capitalize(std::string_view s);
// replace(old, new, count): count < 0 is every occurrence; an empty `from` inserts between
// code points.
std::string js_replace(std::string_view s, std::string_view from, std::string_view to, double count);
// split(sep, maxsplit) with a separator, and split() on runs of whitespace; maxsplit -1: all.
std::vector<std::string> js_split(std::string_view s, std::string_view separator, double max_split);
std::vector<std::string> js_split_whitespace(std::string_view s, double max_split);
// The reference's strftime: %Y %m %d %b %B %H %M %% with English month names (node's
// default locale); any other directive stays as written.
std::string js_strftime(std::string_view format, const std::tm& time);

}  // namespace sparq::runtime::chat_template_detail
