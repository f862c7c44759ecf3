#include "formats/sha256_file.h"

#include <fmt/core.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace sparq::formats {

Result<std::string> sha256_file(const std::string& path, uint64_t* bytes) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return Error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)), ErrorKind::invalid_input);
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return Error("SHA-256 unavailable");
  std::vector<unsigned char> buf(size_t{1} << 20);
  uint64_t total = 0;
  for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0; total += n) {
    EVP_DigestUpdate(ctx.get(), buf.data(), n);
  }
  if (std::ferror(f.get())) return Error(fmt::format("{}: read failed: {}", path, std::strerror(errno)), ErrorKind::invalid_input);
  if (bytes) *bytes = total;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

}  // namespace sparq::formats
