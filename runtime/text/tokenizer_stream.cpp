#include "runtime/text/tokenizer_stream.h"

#include "runtime/text/tokenizer_unicode.h"

namespace sparq::runtime {

StreamingDetokenizer::StreamingDetokenizer(std::shared_ptr<const Tokenizer> tokenizer, bool skip_special_tokens)
    : tokenizer_(std::move(tokenizer)), skip_special_tokens_(skip_special_tokens) {}

std::string StreamingDetokenizer::push(int32_t id) {
  if (skip_special_tokens_ && tokenizer_->is_special(id)) return {};
  ids_.push_back(id);
  return next_text(false);
}

std::string StreamingDetokenizer::finish() { return next_text(true); }

std::string StreamingDetokenizer::next_text(bool final) {
  std::span<const int32_t> window(ids_.data() + prefix_, ids_.size() - prefix_);
  std::string before = tokenizer_->decode(window.first(read_ - prefix_), false);
  std::string now = tokenizer_->decode(window, false);
  // `now` extends `before` unless a character was still incomplete at read_; then wait (or,
  // at the end, there is nothing more to wait for).
  if (now.size() <= before.size() || now.compare(0, before.size(), before) != 0 ||
      (!final && now.ends_with(unicode::kReplacementCharacter))) {
    return {};
  }
  std::string added = now.substr(before.size());
  // The window moves on; ids before its new start are no longer needed.
  ids_.erase(ids_.begin(), ids_.begin() + std::ptrdiff_t(read_));
  prefix_ = 0;
  read_ = ids_.size();
  return added;
}

}  // namespace sparq::runtime
