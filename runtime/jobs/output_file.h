// An output that appears whole or not at all: written to `PATH.partial`, then flushed,
// fsynced and renamed over PATH by commit(), and the directory fsynced. A job that dies
// leaves no file that looks complete. "-" writes to stdout (committed by flushing).
//
// A PATH ending in ".zst" is written zstd-compressed, one frame per sync() (so a file cut
// back to a checkpoint's size is still a valid stream, and the same writes between the
// same syncs give the same bytes), plus a frame whenever 32 MiB are pending.
//
// A resumable job keeps its partial file when it fails (keep_partial()), makes what it has
// written durable at checkpoints (sync()), and reopens it after a crash cut back to the
// last checkpoint (resume()), which it checks against the hash the checkpoint recorded.
// One job at a time may write a partial file: it is locked.
//
// A symbolic link is followed: the file it points to is replaced and the link stays. An
// output that is not a regular file (a character device such as /dev/null, a FIFO, a
// socket) is written through as a stream, like stdout: there is no partial file to rename
// over it, and so no resuming.
#pragma once

#include <xxhash.h>
#include <zstd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "formats/error.h"

namespace sparq::runtime {

// Where an output path really writes: symlinks followed; a stream (stdout, a device, a FIFO)
// or a regular file (existing or not). A directory, a symlink loop or a missing parent
// directory is an error naming the path, found before any work is done.
struct OutputTarget {
  std::string path;     // symlinks resolved; "-" for stdout
  bool stream = false;  // written through: no partial file, no resume
  std::string kind;     // what a stream is ("stdout", "a character device", ...), for messages
};
Result<OutputTarget> resolve_output(const std::string& path);

class OutputFile {
 public:
  static Result<std::unique_ptr<OutputFile>> create(const std::string& path);
  // Reopens `PATH.partial` (PATH a regular file's), truncated to `committed_bytes` after
  // checking that those bytes still hash to `committed_xxh3` (hash()).
  static Result<std::unique_ptr<OutputFile>> resume(const std::string& path, uint64_t committed_bytes,
                                                    uint64_t committed_xxh3);
  ~OutputFile();  // removes the partial file when not committed, unless keep_partial()

  Status write(std::string_view bytes);
  // Overwrites bytes at `offset` (file outputs only; headers patched at the end).
  Status write_at(uint64_t offset, std::string_view bytes);
  // Everything written so far reaches the disk (a frame ends, fflush + fdatasync); stdout:
  // flushed.
  Status sync();
  // Ends a compressed output's frame here (as sync() does, without waiting for the disk).
  Status end_frame();
  Status commit();
  void keep_partial() { keep_partial_ = true; }
  // The file's size: bytes appended, or for a compressed output the frames written so far.
  uint64_t bytes_written() const { return bytes_; }
  // XXH3-64 of those bytes, as appended (a header patched by write_at() is not included).
  uint64_t hash() const;
  bool compressed() const { return zstd_ != nullptr; }
  bool is_stream() const { return stream_; }
  const std::string& path() const { return path_; }
  std::string partial_path() const { return path_ + ".partial"; }

 private:
  OutputFile(std::string path, std::FILE* f, uint64_t bytes, bool stream);
  static Result<std::unique_ptr<OutputFile>> open(const std::string& path, uint64_t keep_bytes,
                                                  std::optional<uint64_t> keep_xxh3);
  Status append(std::string_view bytes);
  std::string path_;
  std::FILE* f_;
  uint64_t bytes_;
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> zstd_;
  std::string pending_, frame_;  // uncompressed bytes of the open frame; a compressed frame
  bool stream_;
  bool committed_ = false, keep_partial_ = false;
  std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> hash_;
};

// Replaces `path` with `contents` so that a crash leaves the old or the new file, never a
// mix, and the new one is on disk when this returns (temporary file, fsync, rename, fsync
// of the directory; the temporary file is removed when that fails). A stream target is
// written through.
Status write_file_durably(const std::string& path, std::string_view contents);

// Makes a rename or removal in the directory holding `path` durable.
Status sync_parent_directory(const std::string& path);

}  // namespace sparq::runtime
