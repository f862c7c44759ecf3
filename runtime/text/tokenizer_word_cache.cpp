// The per-thread word cache in front of every tokenizer model.
#include <atomic>

#include "runtime/text/tokenizer_pipeline.h"

namespace sparq::runtime {
namespace {

constexpr size_t kMaxCachedWordBytes = 64;
constexpr size_t kMaxCachedWords = size_t{1} << 16;

struct WordCache {
  uint64_t owner = 0;
  std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> words;
};

}  // namespace

uint64_t TokenModel::next_instance() {
  static std::atomic<uint64_t> instances{0};
  return ++instances;
}

void TokenModel::encode_word(std::string_view word, std::vector<int32_t>& ids) const {
  thread_local WordCache cache;
  if (cache.owner != instance_) {
    cache.words.clear();
    cache.owner = instance_;
  }
  if (auto it = cache.words.find(word); it != cache.words.end()) {
    ids.insert(ids.end(), it->second.begin(), it->second.end());
    return;
  }
  size_t first = ids.size();
  encode_uncached(word, ids);
  if (word.size() <= kMaxCachedWordBytes) {
    if (cache.words.size() >= kMaxCachedWords) cache.words.clear();
    cache.words.emplace(std::string(word), std::vector<int32_t>(ids.begin() + std::ptrdiff_t(first), ids.end()));
  }
}

}  // namespace sparq::runtime
