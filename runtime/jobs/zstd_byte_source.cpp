#include "runtime/jobs/zstd_byte_source.h"

#include <fmt/core.h>
#include <zstd.h>

#include <vector>

namespace sparq::runtime {
namespace {

class ZstdByteSource final : public ByteSource {
 public:
  ZstdByteSource(std::unique_ptr<ByteSource> compressed, std::string name, ZSTD_DCtx* dctx)
      : src_(std::move(compressed)), name_(std::move(name)), dctx_(dctx), block_(ZSTD_DStreamInSize()) {}
  ~ZstdByteSource() override { ZSTD_freeDCtx(dctx_); }

  Result<size_t> read(char* buf, size_t n) override {
    if (n == 0) return size_t{0};
    for (;;) {
      // The decoder may still hold output from the last call even when no input is left.
      if (in_.pos == in_.size && !output_pending_) {
        if (at_end_) {
          if (!frame_complete_) {
            return Error(fmt::format("{}: truncated zstd data: the input ends inside a frame at compressed byte {}",
                                     name_, file_bytes()),
                         ErrorKind::invalid_input);
          }
          return size_t{0};
        }
        Result<size_t> got = src_->read(block_.data(), block_.size());
        if (!got) return got.error();
        block_start_ += in_.size;
        in_ = ZSTD_inBuffer{block_.data(), *got, 0};
        at_end_ = *got == 0;
        continue;
      }
      ZSTD_outBuffer out{buf, n, 0};
      size_t consumed_before = in_.pos;
      size_t r = ZSTD_decompressStream(dctx_, &out, &in_);
      if (ZSTD_isError(r)) {
        return Error(fmt::format("{}: corrupt zstd data at compressed byte {}: {}", name_, file_bytes(),
                                 ZSTD_getErrorName(r)),
                     ErrorKind::invalid_input);
      }
      // 0: a frame ended and all its output was handed out. A call without input after
      // that returns the next header's size, which does not begin a frame.
      if (r == 0) {
        frame_complete_ = true;
      } else if (in_.pos > consumed_before) {
        frame_complete_ = false;
      }
      output_pending_ = out.pos == out.size;
      if (out.pos > 0) return out.pos;
    }
  }

  uint64_t file_bytes() const override { return block_start_ + in_.pos; }

 private:
  std::unique_ptr<ByteSource> src_;
  std::string name_;
  ZSTD_DCtx* dctx_;
  std::vector<char> block_;
  ZSTD_inBuffer in_{nullptr, 0, 0};
  uint64_t block_start_ = 0;     // compressed bytes before the current block
  bool at_end_ = false;          // the compressed input is exhausted
  bool frame_complete_ = true;   // no frame begun and unfinished (empty input is empty)
  bool output_pending_ = false;
};

}  // namespace

Result<std::unique_ptr<ByteSource>> make_zstd_byte_source(std::unique_ptr<ByteSource> compressed,
                                                          const std::string& name) {
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  if (!dctx) return Error(fmt::format("{}: cannot create a zstd decoder", name), ErrorKind::invalid_input);
  return std::unique_ptr<ByteSource>(new ZstdByteSource(std::move(compressed), name, dctx));
}

}  // namespace sparq::runtime
