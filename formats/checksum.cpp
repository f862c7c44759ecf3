#include <xxhash.h>

#include "formats/sparq_file.h"

namespace sparq::formats {

uint64_t checksum64(const void* data, uint64_t size) { return XXH3_64bits(data, size); }

}  // namespace sparq::formats
