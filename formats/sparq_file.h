// Constants of the .sparq container (formats/SPEC.md, sections 2 and 4) shared by the
// reader and the writer.
#pragma once

#include <array>
#include <cstdint>

namespace sparq::formats {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the .sparq format is little-endian and is read in place");

constexpr std::array<uint8_t, 8> kMagic = {0x89, 'S', 'P', 'Q', '\r', '\n', 0x1A, '\n'};
constexpr uint16_t kVersionMajor = 1;
constexpr uint16_t kVersionMinor = 0;
constexpr uint64_t kHeaderSize = 128;
constexpr uint64_t kHeaderChecksumOffset = 120;
constexpr uint64_t kPageAlign = 4096;
constexpr uint64_t kPageAlignThreshold = 65536;  // payloads this large start on a page
constexpr uint64_t kMaxNameLength = 1024;
constexpr uint64_t kMaxRank = 4;

struct FileHeader {
  uint16_t version_major = kVersionMajor;
  uint16_t version_minor = kVersionMinor;
  uint64_t file_size = 0;
  uint64_t metadata_offset = 0, metadata_size = 0, metadata_checksum = 0;
  uint64_t directory_offset = 0, directory_size = 0, directory_checksum = 0;
  uint32_t tensor_count = 0;
};

// Alignment a payload of `stored_size` bytes must start on.
constexpr uint64_t payload_alignment(uint64_t stored_size) {
  return stored_size >= kPageAlignThreshold ? kPageAlign : 64;
}

uint64_t checksum64(const void* data, uint64_t size);  // XXH3-64, seed 0

}  // namespace sparq::formats
