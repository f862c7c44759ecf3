#include "tools/output_file.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sparq::tools {
namespace {

std::string partial_path(const std::string& path) { return path + ".partial"; }

Error io_error(const std::string& path, const char* what) {
  return Error(fmt::format("{}: {}: {}", path, what, std::strerror(errno)), ExitCode::data);
}

}  // namespace

Result<std::unique_ptr<OutputFile>> OutputFile::create(const std::string& path) {
  if (path == "-") return std::unique_ptr<OutputFile>(new OutputFile(path, stdout));
  std::FILE* f = std::fopen(partial_path(path).c_str(), "wb");
  if (!f) return io_error(partial_path(path), "cannot create output");
  return std::unique_ptr<OutputFile>(new OutputFile(path, f));
}

OutputFile::~OutputFile() {
  if (is_stdout()) return;
  if (f_) std::fclose(f_);
  if (!committed_) std::remove(partial_path(path_).c_str());
}

Status OutputFile::write(std::string_view bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), f_) != bytes.size()) {
    return io_error(is_stdout() ? "stdout" : partial_path(path_), "write failed");
  }
  return {};
}

Status OutputFile::write_at(uint64_t offset, std::string_view bytes) {
  if (is_stdout()) return Error("cannot rewrite stdout; write to a file", ExitCode::usage);
  long end = std::ftell(f_);
  if (std::fseek(f_, long(offset), SEEK_SET) != 0) return io_error(partial_path(path_), "seek failed");
  if (Status s = write(bytes); !s) return s;
  if (std::fseek(f_, end, SEEK_SET) != 0) return io_error(partial_path(path_), "seek failed");
  return {};
}

Status OutputFile::commit() {
  if (std::fflush(f_) != 0) return io_error(is_stdout() ? "stdout" : partial_path(path_), "write failed");
  if (is_stdout()) return {};
  if (fsync(fileno(f_)) != 0) return io_error(partial_path(path_), "fsync failed");
  if (std::fclose(f_) != 0) {
    f_ = nullptr;
    return io_error(partial_path(path_), "close failed");
  }
  f_ = nullptr;
  if (std::rename(partial_path(path_).c_str(), path_.c_str()) != 0) return io_error(path_, "cannot rename output");
  committed_ = true;
  return {};
}

}  // namespace sparq::tools
