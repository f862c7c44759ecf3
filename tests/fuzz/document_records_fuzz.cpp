// Fuzzes the documents reader every job reads its input with: JSON Lines, CSV (RFC 4180,
// header row) and plain text, plain or zstd-compressed. Every record must come back as a
// Document (maybe carrying a RecordError); an Error only for job-level failures. The first
// input byte picks the options:
//   bits 0-1: format (0 jsonl, 1 csv, 2 txt, 3 jsonl);
//   bit 2: a label field ("label", as `sparq eval` reads);
//   bit 3: a 64-byte text limit (text_too_long), instead of the default;
//   bit 4: the rest is compressed into a zstd frame first, so the reader decompresses it;
//   bit 5: other field names ("body", "key") than the defaults;
//   bit 6: a generation job's records (`sparq generate --input`): "prompt" or a "messages"
//          conversation, and the per-record fields handed on.
#include <zstd.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_scratch.h"
#include "runtime/jobs/document_reader.h"

namespace {

using namespace sparq::runtime;

std::string zstd_frame(std::string_view bytes) {
  std::string out(ZSTD_compressBound(bytes.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), bytes.data(), bytes.size(), 1);
  if (ZSTD_isError(n)) std::abort();
  out.resize(n);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  DocumentReaderOptions options;
  options.format = (mode & 3) == 1 ? DocumentFormat::csv : (mode & 3) == 2 ? DocumentFormat::txt : DocumentFormat::jsonl;
  if (mode & 4) options.label_field = "label";
  if (mode & 8) options.max_text_bytes = 64;
  if (mode & 32) {
    options.text_field = "body";
    options.id_field = "key";
  }
  if (mode & 64) {
    options.text_field = "prompt";
    options.messages_field = "messages";
    options.extra_fields = {"max_tokens", "temperature", "seed", "stop"};
  }
  const std::string path =
      sparq::fuzz::Scratch::get().write("documents", (mode & 16) ? std::string_view(zstd_frame(rest)) : rest);
  auto reader = DocumentReader::open(path, options);
  if (!reader) return 0;
  // A reader that stops making progress shows up as a timeout (-timeout in run_fuzz.sh).
  for (;;) {
    auto doc = (*reader)->next();
    if (!doc || !*doc) return 0;
    (void)(*reader)->bytes_read();
  }
}
