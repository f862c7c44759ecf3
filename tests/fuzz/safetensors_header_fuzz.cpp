// Fuzzes the safetensors reader: the 8-byte header length, the JSON header (dtype, shape,
// data_offsets, __metadata__) and the reading of each tensor as f32, and the sharded
// checkpoint's model.safetensors.index.json. The first input byte picks the mode:
//   0: the rest is a whole .safetensors file, as it is;
//   1: the rest is "<header JSON>\0<data>": the length prefix is written for the header,
//      so mutations reach the header's fields instead of failing on a broken prefix;
//   2: the rest is a model.safetensors.index.json beside two valid shards.
#include <cstdint>
#include <string>
#include <string_view>

#include "formats/safetensors.h"
#include "fuzz_scratch.h"

namespace {

using sparq::formats::SafetensorsCheckpoint;
using sparq::fuzz::Scratch;

std::string with_prefix(std::string_view header, std::string_view data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(uint64_t{header.size()} >> (8 * i));
  out.append(header);
  out.append(data);
  return out;
}

// Two shards of a tiny checkpoint for the index mode, written once.
void write_shards(const Scratch& s) {
  static bool done = false;
  if (done) return;
  done = true;
  const std::string four_f32(16, '\0');
  s.write("model-00001-of-00002.safetensors",
          with_prefix(R"({"a.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})", four_f32));
  s.write("model-00002-of-00002.safetensors",
          with_prefix(R"({"__metadata__":{"format":"pt"},"b.bias":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})",
                      std::string_view(four_f32).substr(0, 8)));
}

void read_all(const SafetensorsCheckpoint& ckpt) {
  for (const auto& [name, t] : ckpt.tensors()) {
    if (t.bytes.size() <= (size_t{1} << 20)) (void)ckpt.read_f32(name);
  }
  (void)ckpt.read_f32("no such tensor");
  (void)ckpt.files();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Scratch& s = Scratch::get();
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string path;
  switch (data[0] % 3) {
    case 0:
      path = s.write("fuzz.safetensors", rest);
      break;
    case 1: {
      const size_t nul = rest.find('\0');
      const std::string_view header = rest.substr(0, nul);
      const std::string_view body = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
      path = s.write("fuzz.safetensors", with_prefix(header, body));
      break;
    }
    default:
      write_shards(s);
      path = s.write("model.safetensors.index.json", rest);
      break;
  }
  auto ckpt = SafetensorsCheckpoint::open(path);
  if (ckpt) read_all(**ckpt);
  return 0;
}
