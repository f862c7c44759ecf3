#include "formats/sparq_reader.h"

#include "formats/input_file.h"

#include <sys/mman.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/core.h>

#include "formats/mapped_file.h"
#include "formats/tensor_codec.h"
#include "formats/utf8.h"

namespace sparq::formats {
namespace {

// Bounds-checked little-endian cursor over a byte range.
class ByteCursor {
 public:
  explicit ByteCursor(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  template <class T>
  bool read(T* out) {
    if (bytes_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(out, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool read_bytes(size_t n, std::string* out) {
    if (bytes_.size() - pos_ < n) return false;
    out->assign(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return true;
  }
  size_t position() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

struct Range {
  uint64_t begin, end;
  std::string what;
};

bool known_encoding(uint8_t e) { return e <= static_cast<uint8_t>(Encoding::bitmap); }

}  // namespace

SparqReader::~SparqReader() {
  for (const auto& m : decompressed_) munmap(m.first, m.second);
}

const TensorView* SparqReader::find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

Result<std::unique_ptr<SparqReader>> SparqReader::open(const std::string& path,
                                                       const ReadOptions& options) {
  auto file = MappedFile::open(path);
  if (!file) return file.error();
  auto reader = std::unique_ptr<SparqReader>(new SparqReader());
  reader->path_ = path;
  reader->bytes_ = (*file)->bytes();
  reader->file_ = std::move(*file);
  if (Status s = reader->parse(options); !s) return s.error();
  return reader;
}

Result<std::unique_ptr<SparqReader>> SparqReader::from_memory(std::span<const uint8_t> bytes,
                                                              const std::string& name,
                                                              const ReadOptions& options) {
  auto reader = std::unique_ptr<SparqReader>(new SparqReader());
  reader->path_ = name;
  reader->bytes_ = bytes;
  if (Status s = reader->parse(options); !s) return s.error();
  return reader;
}

Status SparqReader::parse(const ReadOptions& options) {
  auto fail = [&](const std::string& msg) { return Error(fmt::format("{}: {}", path_, msg)); };
  const uint64_t size = bytes_.size();

  // 1. Header.
  if (size < kHeaderSize) {
    return fail(fmt::format("truncated: {} bytes, smaller than the {}-byte header", size, kHeaderSize));
  }
  if (!std::equal(kMagic.begin(), kMagic.end(), bytes_.begin())) {
    return fail("not a .sparq file (bad magic)");
  }
  ByteCursor head(bytes_.first(kHeaderSize));
  uint64_t skip;
  uint32_t header_size = 0, flags = 0;
  head.read(&skip);
  head.read(&header_.version_major);
  head.read(&header_.version_minor);
  if (header_.version_major > kVersionMajor) {
    return fail(fmt::format("written by a newer sparq (format {}.{}); this sparq reads format {}.x",
                            header_.version_major, header_.version_minor, kVersionMajor));
  }
  if (header_.version_major == 0) return fail("invalid format version 0");
  head.read(&header_size);
  head.read(&header_.file_size);
  head.read(&header_.metadata_offset);
  head.read(&header_.metadata_size);
  head.read(&header_.metadata_checksum);
  head.read(&header_.directory_offset);
  head.read(&header_.directory_size);
  head.read(&header_.directory_checksum);
  head.read(&header_.tensor_count);
  head.read(&flags);
  uint64_t header_checksum;
  std::memcpy(&header_checksum, bytes_.data() + kHeaderChecksumOffset, 8);
  if (checksum64(bytes_.data(), kHeaderChecksumOffset) != header_checksum) {
    return fail("header checksum mismatch (corrupt header)");
  }
  if (header_size != kHeaderSize) return fail(fmt::format("header_size is {}, expected {}", header_size, kHeaderSize));
  if (header_.file_size != size) {
    return fail(fmt::format("{}: header says {} bytes, file has {}",
                            size < header_.file_size ? "truncated" : "trailing bytes",
                            header_.file_size, size));
  }

  // 2. Metadata and directory ranges.
  std::vector<Range> ranges;
  auto check_range = [&](uint64_t offset, uint64_t length, const std::string& what) -> Status {
    if (offset < kHeaderSize) {
      return fail(fmt::format("{} at offset {} overlaps the {}-byte file header", what, offset, kHeaderSize));
    }
    if (offset > size || length > size - offset) {
      return fail(fmt::format("{} [{}, +{}) lies outside the file ({} bytes)", what, offset, length, size));
    }
    ranges.push_back({offset, offset + length, what});
    return {};
  };
  if (Status s = check_range(header_.metadata_offset, header_.metadata_size, "metadata"); !s) return s;
  if (Status s = check_range(header_.directory_offset, header_.directory_size, "directory"); !s) return s;
  auto metadata_bytes = bytes_.subspan(header_.metadata_offset, header_.metadata_size);
  auto directory_bytes = bytes_.subspan(header_.directory_offset, header_.directory_size);
  if (checksum64(metadata_bytes.data(), metadata_bytes.size()) != header_.metadata_checksum) {
    return fail("metadata checksum mismatch");
  }
  if (checksum64(directory_bytes.data(), directory_bytes.size()) != header_.directory_checksum) {
    return fail("directory checksum mismatch");
  }
  Result<nlohmann::json> metadata = parse_json(
      std::string_view(reinterpret_cast<const char*>(metadata_bytes.data()), metadata_bytes.size()), "metadata");
  if (!metadata) return fail(metadata.error().message());
  metadata_ = std::move(*metadata);
  if (!metadata_.is_object()) return fail("metadata is not a JSON object");
  if (!metadata_.contains("format") || metadata_["format"] != "sparq") {
    return fail("metadata: \"format\" is not \"sparq\"");
  }
  for (const char* key : {"sparq_version", "created_utc"}) {
    if (!metadata_.contains(key) || !metadata_[key].is_string()) {
      return fail(fmt::format("metadata: missing string field \"{}\"", key));
    }
  }
  if (!metadata_.contains("architecture") || !metadata_["architecture"].is_object() ||
      !metadata_["architecture"].contains("name") || !metadata_["architecture"]["name"].is_string()) {
    return fail("metadata: missing \"architecture\" object with a string \"name\"");
  }

  // 3. Directory.
  ByteCursor dir(directory_bytes);
  uint32_t count = 0, reserved = 0;
  if (!dir.read(&count) || !dir.read(&reserved)) return fail("directory: truncated before the entry count");
  if (count != header_.tensor_count) {
    return fail(fmt::format("directory holds {} entries, header says {}", count, header_.tensor_count));
  }
  // Every entry takes at least 64 bytes; refuse counts the directory cannot hold before
  // reserving memory for them.
  if (count > dir.remaining() / 64 + 1) return fail(fmt::format("directory too small for {} entries", count));
  tensors_.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    auto entry_fail = [&](const std::string& name, const std::string& msg) {
      return name.empty() ? fail(fmt::format("directory entry {}: {}", i, msg))
                          : fail(fmt::format("tensor '{}': {}", name, msg));
    };
    TensorView t;
    TensorDesc& d = t.desc;
    uint16_t name_len = 0;
    if (!dir.read(&name_len)) return entry_fail("", "truncated");
    if (name_len == 0 || name_len > kMaxNameLength) return entry_fail("", fmt::format("name length {} out of range", name_len));
    if (!dir.read_bytes(name_len, &d.name)) return entry_fail("", "truncated in the name");
    if (!is_valid_utf8(d.name)) return entry_fail("", "name is not valid UTF-8");
    if (by_name_.count(d.name)) return entry_fail(d.name, "duplicate tensor name");
    uint8_t encoding, rank, compression, value_encoding, asymmetric;
    uint8_t pad[3];
    bool ok = dir.read(&encoding) && dir.read(&rank) && dir.read(&compression) &&
              dir.read(&value_encoding) && dir.read(&d.group_size) && dir.read(&d.block_rows) &&
              dir.read(&d.block_cols) && dir.read(&asymmetric) && dir.read(&pad);
    if (!ok) return entry_fail(d.name, "directory truncated");
    if (!known_encoding(encoding)) return entry_fail(d.name, fmt::format("unknown encoding code {}", encoding));
    if (!known_encoding(value_encoding)) return entry_fail(d.name, fmt::format("unknown value encoding code {}", value_encoding));
    if (compression > static_cast<uint8_t>(Compression::zstd)) {
      return entry_fail(d.name, fmt::format("unknown compression code {}", compression));
    }
    if (asymmetric > 1) return entry_fail(d.name, fmt::format("asymmetric flag is {}", asymmetric));
    if (pad[0] || pad[1] || pad[2]) return entry_fail(d.name, "reserved bytes are not zero");
    if (rank == 0 || rank > kMaxRank) return entry_fail(d.name, fmt::format("rank {} out of range 1..{}", rank, kMaxRank));
    d.encoding = static_cast<Encoding>(encoding);
    d.value_encoding = static_cast<Encoding>(value_encoding);
    d.asymmetric = asymmetric != 0;
    t.compression = static_cast<Compression>(compression);
    d.dims.resize(rank);
    for (auto& dim : d.dims) {
      if (!dir.read(&dim)) return entry_fail(d.name, "directory truncated in the dims");
    }
    uint64_t raw_size = 0, checksum = 0;
    if (!dir.read(&d.count) || !dir.read(&t.offset) || !dir.read(&t.stored_size) ||
        !dir.read(&raw_size) || !dir.read(&checksum)) {
      return entry_fail(d.name, "directory truncated");
    }
    Result<TensorLayout> layout = compute_layout(d);
    if (!layout) return entry_fail(d.name, layout.error().message());
    t.layout = *layout;
    if (raw_size != t.layout.total_size) {
      return entry_fail(d.name, fmt::format("raw size {} does not match shape {} and encoding {} ({} bytes)",
                                            raw_size, d.shape_string(), d.encoding_string(), t.layout.total_size));
    }
    if (t.compression == Compression::none && t.stored_size != raw_size) {
      return entry_fail(d.name, fmt::format("stored size {} differs from raw size {} for an uncompressed tensor",
                                            t.stored_size, raw_size));
    }
    if (t.offset % payload_alignment(t.stored_size) != 0) {
      return entry_fail(d.name, fmt::format("offset {} is not aligned to {}", t.offset, payload_alignment(t.stored_size)));
    }
    if (Status s = check_range(t.offset, t.stored_size, fmt::format("tensor '{}'", d.name)); !s) return s;

    // 4. Checksum and decompression.
    auto stored = bytes_.subspan(t.offset, t.stored_size);
    if (options.verify_checksums && checksum64(stored.data(), stored.size()) != checksum) {
      return entry_fail(d.name, "checksum mismatch (corrupt data)");
    }
    if (t.compression == Compression::zstd) {
      // A frame may leave its size out (`zstd --no-content-size`, streaming writers): then
      // only decompressing tells, and it must give exactly raw_size bytes.
      unsigned long long frame = ZSTD_getFrameContentSize(stored.data(), stored.size());
      if (frame == ZSTD_CONTENTSIZE_ERROR) return entry_fail(d.name, "payload is not zstd data");
      if (frame != ZSTD_CONTENTSIZE_UNKNOWN && frame != raw_size) {
        return entry_fail(d.name, fmt::format("zstd frame declares {} bytes, expected {}", frame, raw_size));
      }
      // Anonymous mappings: page-aligned, eligible for huge pages, and only the pages the
      // decompressor really writes cost memory (a lying frame header costs nothing).
      void* buf = mmap(nullptr, raw_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (buf == MAP_FAILED) return entry_fail(d.name, fmt::format("cannot allocate {} bytes to decompress", raw_size));
      madvise(buf, raw_size, MADV_HUGEPAGE);
      decompressed_.push_back({buf, raw_size});
      size_t n = ZSTD_decompress(buf, raw_size, stored.data(), stored.size());
      if (ZSTD_isError(n)) {
        return entry_fail(d.name, fmt::format("zstd decompression failed: {}",
                                              ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall
                                                  ? fmt::format("more than the {} bytes expected", raw_size)
                                                  : std::string(ZSTD_getErrorName(n))));
      }
      if (n != raw_size) {
        return entry_fail(d.name, fmt::format("zstd data decompresses to {} bytes, expected {}", n, raw_size));
      }
      t.payload = {static_cast<const uint8_t*>(buf), raw_size};
    } else {
      t.payload = stored;
    }

    // 5. Structure.
    if (Status s = validate_payload(d, t.layout, t.payload); !s) return entry_fail(d.name, s.error().message());
    by_name_.emplace(d.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }
  if (dir.remaining() != 0) {
    return fail(fmt::format("directory has {} unexplained trailing bytes", dir.remaining()));
  }

  // No two regions may overlap.
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].begin < ranges[i - 1].end) {
      return fail(fmt::format("{} overlaps {}", ranges[i].what, ranges[i - 1].what));
    }
  }
  return {};
}

}  // namespace sparq::formats
