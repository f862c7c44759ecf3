// Fuzzes tokenizer.json loading (Tokenizer::from_json: the model, normalizers,
// pre-tokenizers, post-processor, decoder and their nesting) and, for a tokenizer that
// loads, encoding texts with it and decoding the ids back (whole and streamed, ids out of
// range too): what `convert --from hf`, every job and generation do with a user's file.
// The input is the tokenizer.json text, optionally followed by "\0" and a text to encode
// (JSON text cannot hold a raw NUL); a few fixed texts are encoded as well.
#include <cstdint>
#include <string>
#include <string_view>

#include "formats/input_file.h"
#include "runtime/text/tokenizer.h"
#include "runtime/text/tokenizer_stream.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view json_text = input.substr(0, nul);
  const std::string_view text = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  // The limits `convert --from hf` reads a tokenizer.json with (hf_files.cpp).
  auto json = sparq::formats::parse_json(json_text, "tokenizer.json");
  if (!json) return 0;
  auto tokenizer = sparq::runtime::Tokenizer::from_json(*json);
  if (!tokenizer) return 0;
  const sparq::runtime::Tokenizer& t = **tokenizer;
  auto decode_all_ways = [&](const std::vector<int32_t>& ids) {
    for (bool skip : {false, true}) {
      (void)t.decode(ids, skip, !skip);
      sparq::runtime::StreamingDetokenizer stream(*tokenizer, skip);
      for (int32_t id : ids) (void)stream.push(id);
      (void)stream.finish();
    }
  };
  static constexpr std::string_view kTexts[] = {
      "Hello, world! It's 3.14 o'clock.", "  déjà vu\tÜber  naïve café 東京 🙂 ", "", "a", "\xff\xfe invalid"};
  for (std::string_view s : kTexts) (void)t.encode(s, 0);
  if (!text.empty()) {
    if (auto e = t.encode(text, 0); e) decode_all_ways(e->ids);
    (void)t.encode(text, 8);
    (void)t.encode_pair(text, kTexts[0], 12);
  }
  for (int32_t id : {-1, 0, 1, 100, 1 << 30}) {
    (void)t.id_to_token(id);
    (void)t.is_special(id);
  }
  decode_all_ways({-1, 0, 1, 100, 1 << 30, 2, 3});
  (void)t.token_to_id(text);
  (void)t.pad_id();
  (void)t.vocab_size();
  return 0;
}
