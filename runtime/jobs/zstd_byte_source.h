// zstd decompression of a ByteSource as a stream, in bounded memory: one input block and
// the decoder's window (at most 128 MiB, libzstd's default limit; frames that need more are
// refused). Concatenated frames, as `zstd` and `cat a.zst b.zst` make, are one stream.
#pragma once

#include <memory>
#include <string>

#include "runtime/jobs/byte_source.h"

namespace sparq::runtime {

// `name` is the file named in errors; a corrupt or truncated stream is an Error giving the
// compressed byte offset where decoding stopped.
Result<std::unique_ptr<ByteSource>> make_zstd_byte_source(std::unique_ptr<ByteSource> compressed,
                                                          const std::string& name);

}  // namespace sparq::runtime
