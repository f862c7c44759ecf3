// Reader of GGUF files (llama.cpp / ggml models), versions 2 and 3, little-endian.
//
// A GGUF file is: "GGUF", u32 version, u64 tensor count, u64 metadata count; the metadata as
// (string key, u32 value type, value); the tensor infos as (string name, u32 n_dims, u64
// dims[n_dims], u32 ggml type, u64 offset); zero padding to `general.alignment` (default 32);
// then the data section, where each tensor's bytes start at its offset. Strings are a u64
// byte length and the bytes; arrays a u32 element type, a u64 count and the elements.
//
// The file is memory-mapped and validated before anything is returned: every count and
// length fits in what is left of the file, and at most 2^20 keys, 2^20 tensors and 2^16
// elements of arrays of arrays are read (a hostile file cannot make the reader allocate
// more than a small multiple of its own size), keys and tensor names are unique, every
// tensor has 1-4 dimensions, a known type, whole blocks per row, and a byte range that is
// aligned, inside the file and overlaps no other tensor. Every error names the file and the
// key or tensor, and the byte offset where that item starts. Version 1 and big-endian files
// are refused by name.
//
// Shapes: GGUF lists dimensions fastest-varying first (ggml's ne[0] is the length of a
// contiguous row). `GgufTensor::shape` is sparq's row-major order, the reverse: a weight
// stored with dims {in, out} has shape {out, in}, and dequantize() returns its values
// row-major in that shape (out rows of in values) — the storage order, unchanged.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "formats/error.h"
#include "formats/gguf_quants.h"

namespace sparq::formats {

class MappedFile;

enum class GgufValueType : uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
  string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12,
};

// GGUF's names: "uint8", "int32", "float32", "bool", "string", "array", "uint64", ...
const char* gguf_value_type_name(GgufValueType type);

// One metadata value. Strings and arrays of numbers point into the file's mapping (they
// live as long as the GgufFile). The typed accessors accept exactly the types they name
// (the integer ones any integer type whose value fits) and otherwise say what they found.
class GgufValue {
 public:
  GgufValueType type() const { return type_; }
  // "uint32", "string", "array of float32", "array of array".
  std::string type_name() const;

  Result<uint64_t> to_unsigned() const;    // any integer type, value >= 0
  Result<int64_t> to_signed() const;       // any integer type, value <= INT64_MAX
  Result<double> to_float() const;         // float32 or float64
  Result<bool> to_bool() const;
  Result<std::string_view> to_string() const;

  // Arrays. size() is the element count (0 for a scalar).
  GgufValueType element_type() const { return element_type_; }
  uint64_t size() const { return count_; }
  Result<std::vector<std::string_view>> to_strings() const;  // array of string
  Result<std::vector<float>> to_floats() const;              // array of float32
  Result<std::vector<double>> to_doubles() const;            // array of float32 or float64
  Result<std::vector<bool>> to_bools() const;                // array of bool
  Result<std::vector<int64_t>> to_integers() const;          // array of any integer type
                                                             // (uint64 values <= INT64_MAX)
  // The elements of an array of arrays (empty for any other value).
  const std::vector<GgufValue>& items() const { return items_; }

 private:
  friend struct GgufParser;
  Error wrong_type(const char* expected) const;
  GgufValueType type_ = GgufValueType::u8;
  GgufValueType element_type_ = GgufValueType::u8;
  uint64_t count_ = 0;
  uint64_t bits_ = 0;                     // integer scalars (sign-extended) and bool
  double float_ = 0;                      // float32 / float64 scalars
  std::string_view string_;               // string
  std::span<const uint8_t> raw_;          // array of a fixed-size type: its little-endian bytes
  std::vector<std::string_view> strings_; // array of string
  std::vector<GgufValue> items_;          // array of array
};

struct GgufKeyValue {
  std::string key;
  GgufValue value;
  uint64_t offset = 0;  // where the entry starts in the file
};

struct GgufTensor {
  std::string name;
  uint32_t type = 0;            // ggml type id; ggml_type_info(type) describes it
  std::vector<uint64_t> dims;   // as stored: dims[0] varies fastest (ggml's ne)
  std::vector<uint64_t> shape;  // row-major (sparq's order): dims reversed
  uint64_t elements = 0;
  uint64_t offset = 0;          // as stored: relative to the data section
  uint64_t file_offset = 0;     // absolute: data section start + offset
  uint64_t info_offset = 0;     // where the tensor's info starts in the file, for messages
  std::span<const uint8_t> bytes;  // exactly the tensor's bytes, inside the mapping

  std::string type_label() const { return ggml_type_label(type); }  // "Q4_K (12)"
  bool decodable() const;  // dequantize() reads this type
};

class GgufFile {
 public:
  // Maps and validates `path` (a regular file only).
  static Result<std::unique_ptr<GgufFile>> open(const std::string& path);
  // The same over bytes already in memory, which must outlive the result; `name` is used
  // in messages.
  static Result<std::unique_ptr<GgufFile>> from_memory(std::span<const uint8_t> bytes, const std::string& name);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the data section

  // Metadata in file order, and lookup by key.
  const std::vector<GgufKeyValue>& metadata() const { return metadata_; }
  const GgufValue* find(std::string_view key) const;
  // Typed lookups: a missing key or a value of another type is an error naming the file,
  // the key, and the expected and found types.
  Result<std::string_view> get_string(std::string_view key) const;
  Result<uint64_t> get_unsigned(std::string_view key) const;
  Result<int64_t> get_signed(std::string_view key) const;
  Result<double> get_float(std::string_view key) const;
  Result<bool> get_bool(std::string_view key) const;
  Result<std::vector<std::string_view>> get_strings(std::string_view key) const;
  Result<std::vector<float>> get_floats(std::string_view key) const;
  Result<std::vector<int64_t>> get_integers(std::string_view key) const;

  // Tensors in file order, and lookup by name.
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(std::string_view name) const;

  // The tensor's values as f32, row-major in `shape` (see the top of this file). Types other
  // than F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K and Q6_K are refused naming the file, the
  // tensor and the type ("tensor 'x': type IQ2_XXS (16) is not supported").
  Result<std::vector<float>> dequantize(const GgufTensor& tensor) const;
  // The same into `out`, which must hold exactly `tensor.elements` values.
  Status dequantize_into(const GgufTensor& tensor, std::span<float> out) const;

 private:
  friend struct GgufParser;
  GgufFile() = default;
  template <class T>
  Result<T> lookup(std::string_view key, Result<T> (GgufValue::*get)() const) const;

  std::string path_;
  std::unique_ptr<MappedFile> mapping_;
  std::span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<GgufKeyValue> metadata_;
  std::unordered_map<std::string_view, size_t> metadata_index_;
  std::vector<GgufTensor> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

}  // namespace sparq::formats
