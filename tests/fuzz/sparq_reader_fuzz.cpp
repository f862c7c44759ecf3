// Fuzzes the .sparq reader. Random mutations almost never survive the header, metadata and
// directory checksums, so half of the inputs get those checksums recomputed first: the
// fuzzer then reaches the directory parser, the layout checks, zstd and the CSR/BSR
// structure validation, which must also reject garbage without crashing.
#include <cstdint>
#include <cstring>
#include <vector>

#include "formats/sparq_reader.h"
#include "formats/tensor_codec.h"

namespace {

using namespace sparq::formats;

uint64_t load64(const std::vector<uint8_t>& b, size_t at) {
  uint64_t v;
  std::memcpy(&v, b.data() + at, 8);
  return v;
}

void store64(std::vector<uint8_t>& b, size_t at, uint64_t v) { std::memcpy(b.data() + at, &v, 8); }

// Recomputes the metadata, directory and header checksums where the ranges are sane.
void fix_checksums(std::vector<uint8_t>& b) {
  if (b.size() < kHeaderSize) return;
  auto fix = [&](size_t off_at, size_t size_at, size_t sum_at) {
    uint64_t off = load64(b, off_at), size = load64(b, size_at);
    if (off <= b.size() && size <= b.size() - off) store64(b, sum_at, checksum64(b.data() + off, size));
  };
  fix(24, 32, 40);
  fix(48, 56, 64);
  store64(b, 16, b.size());
  store64(b, kHeaderChecksumOffset, checksum64(b.data(), kHeaderChecksumOffset));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::vector<uint8_t> bytes(data + 1, data + size);
  const bool fixup = data[0] & 1;
  if (fixup) fix_checksums(bytes);
  ReadOptions options;
  options.verify_checksums = !fixup;
  auto reader = SparqReader::from_memory(bytes, "fuzz.sparq", options);
  if (!reader.ok()) return 0;
  for (const auto& t : (*reader)->tensors()) {
    if (t.desc.elements() <= (1u << 20)) (void)decode_tensor(t.desc, t.payload);
  }
  return 0;
}
