// Fuzzes the GGUF reader: header, metadata of every value type (nested arrays, strings,
// counts), tensor infos, layout checks and the block decoders. Any input must end in an
// error or a read that stays inside the bytes. Seeds: tests/formats/fixtures/gguf/*.gguf.
#include <cstdint>
#include <span>

#include "formats/gguf.h"

namespace {

using namespace sparq::formats;

void touch(const GgufValue& v) {
  (void)v.type_name();
  (void)v.to_unsigned();
  (void)v.to_signed();
  (void)v.to_float();
  (void)v.to_bool();
  (void)v.to_string();
  (void)v.to_strings();
  (void)v.to_floats();
  (void)v.to_doubles();
  (void)v.to_bools();
  (void)v.to_integers();
  for (const GgufValue& item : v.items()) touch(item);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = GgufFile::from_memory(std::span<const uint8_t>(data, size), "fuzz.gguf");
  if (!file.ok()) return 0;
  for (const GgufKeyValue& kv : (*file)->metadata()) touch(kv.value);
  for (const GgufTensor& t : (*file)->tensors()) {
    if (t.elements <= (1u << 20)) (void)(*file)->dequantize(t);
  }
  return 0;
}
