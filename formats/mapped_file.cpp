#include "formats/mapped_file.h"

#include "formats/input_file.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sparq::formats {

Result<std::unique_ptr<MappedFile>> MappedFile::open(const std::string& path) {
  Result<int> opened = open_regular_file(path);
  if (!opened) return opened.error();
  const int fd = *opened;
  struct stat st {};
  fstat(fd, &st);
  auto file = std::unique_ptr<MappedFile>(new MappedFile());
  file->path_ = path;
  const size_t size = static_cast<size_t>(st.st_size);
  if (size > 0) {  // mmap refuses length 0; an empty file is an empty span
    void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return Error(fmt::format("{}: cannot map: {}", path, std::strerror(err)));
    }
    file->data_ = static_cast<const uint8_t*>(p);
    file->size_ = size;
  }
  ::close(fd);
  return file;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace sparq::formats
