// An output that appears whole or not at all: written to `PATH.partial`, then flushed,
// fsynced and renamed over PATH by commit(), and the directory fsynced. A job that dies
// leaves no file that looks complete. "-" writes to stdout (committed by flushing).
//
// A resumable job keeps its partial file when it fails (keep_partial()), makes what it has
// written durable at checkpoints (sync()), and reopens it after a crash cut back to the
// last checkpoint (resume()). One job at a time may write a partial file: it is locked.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "formats/error.h"

namespace sparq::tools {

class OutputFile {
 public:
  static Result<std::unique_ptr<OutputFile>> create(const std::string& path);
  // Reopens `PATH.partial`, truncated to `committed_bytes`, writing on after them.
  static Result<std::unique_ptr<OutputFile>> resume(const std::string& path, uint64_t committed_bytes);
  ~OutputFile();  // removes the partial file when not committed, unless keep_partial()

  Status write(std::string_view bytes);
  // Overwrites bytes at `offset` (file outputs only; headers patched at the end).
  Status write_at(uint64_t offset, std::string_view bytes);
  // Everything written so far reaches the disk (fflush + fdatasync); stdout: flushed.
  Status sync();
  Status commit();
  void keep_partial() { keep_partial_ = true; }
  uint64_t bytes_written() const { return bytes_; }  // the file's size (appended bytes)
  bool is_stdout() const { return path_ == "-"; }
  const std::string& path() const { return path_; }
  std::string partial_path() const { return path_ + ".partial"; }

 private:
  OutputFile(std::string path, std::FILE* f, uint64_t bytes) : path_(std::move(path)), f_(f), bytes_(bytes) {}
  static Result<std::unique_ptr<OutputFile>> open(const std::string& path, uint64_t keep_bytes);
  std::string path_;
  std::FILE* f_;
  uint64_t bytes_;
  bool committed_ = false, keep_partial_ = false;
};

// Replaces `path` with `contents` so that a crash leaves the old or the new file, never a
// mix, and the new one is on disk when this returns (temporary file, fsync, rename, fsync
// of the directory).
Status write_file_durably(const std::string& path, std::string_view contents);

// Makes a rename or removal in the directory holding `path` durable.
Status sync_parent_directory(const std::string& path);

}  // namespace sparq::tools
