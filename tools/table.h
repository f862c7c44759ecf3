// Plain-text tables for people: columns padded to their widest cell, numbers right-aligned.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sparq::tools {

class TextTable {
 public:
  enum class Align { left, right };
  explicit TextTable(std::vector<std::string> headers, std::vector<Align> align = {});
  void add_row(std::vector<std::string> cells);
  void add_separator();
  std::string render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<Align> align_;
  std::vector<std::vector<std::string>> rows_;  // an empty row is a separator
};

// 1536 -> "1.5 KiB"
std::string human_bytes(uint64_t bytes);

}  // namespace sparq::tools
