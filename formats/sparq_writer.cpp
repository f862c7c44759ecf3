#include "formats/sparq_writer.h"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include <fmt/core.h>

#include "formats/tensor_codec.h"
#include "sparq_version.h"

namespace sparq::formats {
namespace {

template <class T>
void put(std::vector<uint8_t>& out, T value) {
  uint8_t bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.insert(out.end(), bytes, bytes + sizeof(T));
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::vector<uint8_t> serialize_header(const FileHeader& h) {
  std::vector<uint8_t> out(kMagic.begin(), kMagic.end());
  put<uint16_t>(out, h.version_major);
  put<uint16_t>(out, h.version_minor);
  put<uint32_t>(out, kHeaderSize);
  put<uint64_t>(out, h.file_size);
  put<uint64_t>(out, h.metadata_offset);
  put<uint64_t>(out, h.metadata_size);
  put<uint64_t>(out, h.metadata_checksum);
  put<uint64_t>(out, h.directory_offset);
  put<uint64_t>(out, h.directory_size);
  put<uint64_t>(out, h.directory_checksum);
  put<uint32_t>(out, h.tensor_count);
  put<uint32_t>(out, 0);  // flags
  out.resize(kHeaderChecksumOffset, 0);
  put<uint64_t>(out, checksum64(out.data(), kHeaderChecksumOffset));
  return out;
}

std::vector<uint8_t> serialize_directory(const std::vector<DirectoryEntry>& entries) {
  std::vector<uint8_t> out;
  put<uint32_t>(out, static_cast<uint32_t>(entries.size()));
  put<uint32_t>(out, 0);
  for (const auto& e : entries) {
    const TensorDesc& d = e.desc;
    put<uint16_t>(out, static_cast<uint16_t>(d.name.size()));
    out.insert(out.end(), d.name.begin(), d.name.end());
    put<uint8_t>(out, static_cast<uint8_t>(d.encoding));
    put<uint8_t>(out, static_cast<uint8_t>(d.dims.size()));
    put<uint8_t>(out, e.compression);
    put<uint8_t>(out, is_sparse_layout(d.encoding) ? static_cast<uint8_t>(d.value_encoding) : 0);
    put<uint32_t>(out, d.group_size);
    put<uint16_t>(out, d.block_rows);
    put<uint16_t>(out, d.block_cols);
    put<uint8_t>(out, d.asymmetric ? 1 : 0);
    out.insert(out.end(), 3, 0);
    for (uint64_t dim : d.dims) put<uint64_t>(out, dim);
    put<uint64_t>(out, d.count);
    put<uint64_t>(out, e.offset);
    put<uint64_t>(out, e.stored_size);
    put<uint64_t>(out, e.raw_size);
    put<uint64_t>(out, e.checksum);
  }
  return out;
}

Result<std::unique_ptr<SparqWriter>> SparqWriter::create(const std::string& path) {
  std::string temp = path + ".partial";
  std::FILE* f = std::fopen(temp.c_str(), "wb");
  if (!f) {
    return Error(fmt::format("{}: cannot create: {}", temp, std::strerror(errno)));
  }
  auto writer = std::unique_ptr<SparqWriter>(new SparqWriter(path, temp, f));
  // The header is written last; reserve its bytes now.
  std::vector<uint8_t> zeros(kHeaderSize, 0);
  if (Status s = writer->write_at_end(zeros.data(), zeros.size()); !s) return s.error();
  return writer;
}

SparqWriter::SparqWriter(std::string path, std::string temp_path, std::FILE* file)
    : path_(std::move(path)), temp_path_(std::move(temp_path)), file_(file) {}

SparqWriter::~SparqWriter() {
  if (file_) std::fclose(file_);
  if (!finished_) std::remove(temp_path_.c_str());
}

Error SparqWriter::io_error(const std::string& what) const {
  return Error(fmt::format("{}: {}: {}", temp_path_, what, std::strerror(errno)));
}

Status SparqWriter::write_at_end(const void* data, uint64_t size) {
  if (size && std::fwrite(data, 1, size, file_) != size) return io_error("write failed");
  position_ += size;
  return {};
}

Status SparqWriter::pad_to(uint64_t alignment) {
  static const uint8_t zeros[kPageAlign] = {};
  uint64_t pad = align_up(position_, alignment) - position_;
  return write_at_end(zeros, pad);
}

Result<StoredTensor> SparqWriter::add_tensor(const TensorDesc& desc, std::span<const uint8_t> payload,
                                             const WriteOptions& options) {
  auto context = [&](const Error& e) { return e.within(fmt::format("{}: tensor '{}'", path_, desc.name)); };
  if (finished_) return Error(fmt::format("{}: add_tensor after finish", path_));
  if (desc.name.empty() || desc.name.size() > kMaxNameLength) {
    return Error(fmt::format("{}: tensor name must be 1..{} bytes, got {}", path_, kMaxNameLength,
                             desc.name.size()));
  }
  if (!names_.insert(desc.name).second) {
    return Error(fmt::format("{}: tensor '{}' added twice", path_, desc.name));
  }
  Result<TensorLayout> layout = compute_layout(desc);
  if (!layout) return context(layout.error());
  if (payload.size() != layout->total_size) {
    return context(Error(fmt::format("payload is {} bytes, layout needs {}", payload.size(),
                                     layout->total_size)));
  }
  if (Status s = validate_payload(desc, *layout, payload); !s) return context(s.error());

  DirectoryEntry entry;
  entry.desc = desc;
  entry.raw_size = payload.size();
  std::span<const uint8_t> stored = payload;
  std::vector<uint8_t> compressed;
  if (options.compress && !payload.empty()) {
    compressed.resize(ZSTD_compressBound(payload.size()));
    size_t n = ZSTD_compress(compressed.data(), compressed.size(), payload.data(), payload.size(),
                             options.zstd_level);
    if (ZSTD_isError(n)) {
      return context(Error(fmt::format("zstd compression failed: {}", ZSTD_getErrorName(n))));
    }
    if (n < payload.size()) {  // keep compression only where it pays
      compressed.resize(n);
      stored = compressed;
      entry.compression = static_cast<uint8_t>(Compression::zstd);
    }
  }
  entry.stored_size = stored.size();
  entry.checksum = checksum64(stored.data(), stored.size());
  if (Status s = pad_to(payload_alignment(stored.size())); !s) return s.error();
  entry.offset = position_;
  if (Status s = write_at_end(stored.data(), stored.size()); !s) return s.error();
  entries_.push_back(entry);
  return StoredTensor{entry.desc, static_cast<Compression>(entry.compression), entry.raw_size, entry.stored_size};
}

Status SparqWriter::finish(nlohmann::json metadata) {
  if (finished_) return Error(fmt::format("{}: finish called twice", path_));
  if (!metadata.is_object()) return Error(fmt::format("{}: metadata must be a JSON object", path_));
  if (!metadata.contains("architecture") || !metadata["architecture"].is_object() ||
      !metadata["architecture"].contains("name")) {
    return Error(fmt::format("{}: metadata needs an \"architecture\" object with a \"name\"", path_));
  }
  metadata["format"] = "sparq";
  if (!metadata.contains("sparq_version")) metadata["sparq_version"] = SPARQ_VERSION_STRING;
  if (!metadata.contains("created_utc")) metadata["created_utc"] = utc_now();

  FileHeader header;
  header.tensor_count = static_cast<uint32_t>(entries_.size());
  std::string meta = metadata.dump();
  if (Status s = pad_to(64); !s) return s;
  header.metadata_offset = position_;
  header.metadata_size = meta.size();
  header.metadata_checksum = checksum64(meta.data(), meta.size());
  if (Status s = write_at_end(meta.data(), meta.size()); !s) return s;

  std::vector<uint8_t> dir = serialize_directory(entries_);
  if (Status s = pad_to(64); !s) return s;
  header.directory_offset = position_;
  header.directory_size = dir.size();
  header.directory_checksum = checksum64(dir.data(), dir.size());
  if (Status s = write_at_end(dir.data(), dir.size()); !s) return s;
  header.file_size = position_;

  std::vector<uint8_t> head = serialize_header(header);
  if (std::fseek(file_, 0, SEEK_SET) != 0) return io_error("seek failed");
  if (std::fwrite(head.data(), 1, head.size(), file_) != head.size()) return io_error("write failed");
  if (std::fflush(file_) != 0 || fsync(fileno(file_)) != 0) return io_error("flush failed");
  if (std::fclose(file_) != 0) {
    file_ = nullptr;
    return io_error("close failed");
  }
  file_ = nullptr;
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    return Error(fmt::format("{}: cannot rename {} into place: {}", path_, temp_path_,
                             std::strerror(errno)));
  }
  finished_ = true;
  return {};
}

}  // namespace sparq::formats
