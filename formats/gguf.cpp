#include "formats/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "formats/mapped_file.h"

namespace sparq::formats {
namespace {

constexpr uint32_t kMaxDims = 4;          // ggml's GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 8;         // arrays of arrays, nested at most this deep
// Arrays of arrays are unused by real models; their elements are bounded in total so that a
// hostile file of empty arrays (12 bytes each) cannot cost 100 bytes of memory per 12 read.
constexpr uint64_t kMaxNestedArrayElements = uint64_t{1} << 16;
// Real files hold tens of keys and up to a few thousand tensors; each parsed entry costs a
// few hundred bytes of memory for as few as 13 (or 32) bytes of file, so the counts are
// bounded outright as well as by the file's size.
constexpr uint64_t kMaxMetadataCount = uint64_t{1} << 20;
constexpr uint64_t kMaxTensorCount = uint64_t{1} << 20;
// The smallest encodings, for bounding counts by what is left of the file.
constexpr uint64_t kMinKeyValueBytes = 8 + 4 + 1;        // empty key, type, one-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // empty name, one dim, type, offset

uint64_t load_le(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = n; i-- > 0;) v = (v << 8) | p[i];
  return v;
}

// Bytes per element of the fixed-size value types; 0 for string and array.
uint64_t fixed_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::u8: case GgufValueType::i8: case GgufValueType::boolean: return 1;
    case GgufValueType::u16: case GgufValueType::i16: return 2;
    case GgufValueType::u32: case GgufValueType::i32: case GgufValueType::f32: return 4;
    case GgufValueType::u64: case GgufValueType::i64: case GgufValueType::f64: return 8;
    default: return 0;
  }
}

bool is_integer(GgufValueType t) {
  return fixed_size(t) != 0 && t != GgufValueType::f32 && t != GgufValueType::f64 && t != GgufValueType::boolean;
}

bool is_signed(GgufValueType t) {
  return t == GgufValueType::i8 || t == GgufValueType::i16 || t == GgufValueType::i32 || t == GgufValueType::i64;
}

bool known_value_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufValueType::f64); }

// An integer element as 64 bits: sign-extended for signed types.
uint64_t integer_bits(GgufValueType t, const uint8_t* p) {
  const uint64_t size = fixed_size(t);
  uint64_t v = load_le(p, size);
  if (is_signed(t) && size < 8 && (v >> (8 * size - 1)) & 1) v |= ~uint64_t{0} << (8 * size);
  return v;
}

double float_at(GgufValueType t, const uint8_t* p) {
  if (t == GgufValueType::f32) {
    const uint32_t bits = static_cast<uint32_t>(load_le(p, 4));
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  const uint64_t bits = load_le(p, 8);
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

// The value of an integer type as unsigned, or an error when negative.
Result<uint64_t> unsigned_value(GgufValueType t, uint64_t bits) {
  if (is_signed(t) && static_cast<int64_t>(bits) < 0) {
    return Error(fmt::format("expected a non-negative integer, found {} {}", gguf_value_type_name(t),
                             static_cast<int64_t>(bits)));
  }
  return bits;
}

Result<int64_t> signed_value(GgufValueType t, uint64_t bits) {
  if (!is_signed(t) && bits > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Error(fmt::format("{} value {} does not fit in int64", gguf_value_type_name(t), bits));
  }
  return static_cast<int64_t>(bits);
}

}  // namespace

const char* gguf_value_type_name(GgufValueType type) {
  switch (type) {
    case GgufValueType::u8: return "uint8";
    case GgufValueType::i8: return "int8";
    case GgufValueType::u16: return "uint16";
    case GgufValueType::i16: return "int16";
    case GgufValueType::u32: return "uint32";
    case GgufValueType::i32: return "int32";
    case GgufValueType::f32: return "float32";
    case GgufValueType::boolean: return "bool";
    case GgufValueType::string: return "string";
    case GgufValueType::array: return "array";
    case GgufValueType::u64: return "uint64";
    case GgufValueType::i64: return "int64";
    case GgufValueType::f64: return "float64";
  }
  return "unknown";
}

// ---- GgufValue ----------------------------------------------------------------------------

std::string GgufValue::type_name() const {
  if (type_ != GgufValueType::array) return gguf_value_type_name(type_);
  return fmt::format("array of {}", gguf_value_type_name(element_type_));
}

Error GgufValue::wrong_type(const char* expected) const {
  return Error(fmt::format("expected {}, found {}", expected, type_name()));
}

Result<uint64_t> GgufValue::to_unsigned() const {
  if (!is_integer(type_)) return wrong_type("an unsigned integer");
  return unsigned_value(type_, bits_);
}

Result<int64_t> GgufValue::to_signed() const {
  if (!is_integer(type_)) return wrong_type("an integer");
  return signed_value(type_, bits_);
}

Result<double> GgufValue::to_float() const {
  if (type_ != GgufValueType::f32 && type_ != GgufValueType::f64) return wrong_type("float32 or float64");
  return float_;
}

Result<bool> GgufValue::to_bool() const {
  if (type_ != GgufValueType::boolean) return wrong_type("bool");
  return bits_ != 0;
}

Result<std::string_view> GgufValue::to_string() const {
  if (type_ != GgufValueType::string) return wrong_type("string");
  return string_;
}

Result<std::vector<std::string_view>> GgufValue::to_strings() const {
  if (type_ != GgufValueType::array || element_type_ != GgufValueType::string) return wrong_type("array of string");
  return strings_;
}

Result<std::vector<float>> GgufValue::to_floats() const {
  if (type_ != GgufValueType::array || element_type_ != GgufValueType::f32) return wrong_type("array of float32");
  std::vector<float> out(count_);
  for (uint64_t i = 0; i < count_; ++i) out[i] = static_cast<float>(float_at(element_type_, raw_.data() + 4 * i));
  return out;
}

Result<std::vector<double>> GgufValue::to_doubles() const {
  if (type_ != GgufValueType::array || (element_type_ != GgufValueType::f32 && element_type_ != GgufValueType::f64)) {
    return wrong_type("array of float32 or float64");
  }
  const uint64_t size = fixed_size(element_type_);
  std::vector<double> out(count_);
  for (uint64_t i = 0; i < count_; ++i) out[i] = float_at(element_type_, raw_.data() + size * i);
  return out;
}

Result<std::vector<bool>> GgufValue::to_bools() const {
  if (type_ != GgufValueType::array || element_type_ != GgufValueType::boolean) return wrong_type("array of bool");
  std::vector<bool> out(count_);
  for (uint64_t i = 0; i < count_; ++i) out[i] = raw_[i] != 0;
  return out;
}

Result<std::vector<int64_t>> GgufValue::to_integers() const {
  if (type_ != GgufValueType::array || !is_integer(element_type_)) return wrong_type("array of integers");
  const uint64_t size = fixed_size(element_type_);
  std::vector<int64_t> out(count_);
  for (uint64_t i = 0; i < count_; ++i) {
    Result<int64_t> v = signed_value(element_type_, integer_bits(element_type_, raw_.data() + size * i));
    if (!v) return v.error().within(fmt::format("element {}", i));
    out[i] = *v;
  }
  return out;
}

bool GgufTensor::decodable() const {
  const GgmlTypeInfo* info = ggml_type_info(type);
  return info != nullptr && info->decodable;
}

// ---- parsing ------------------------------------------------------------------------------

// Fills a GgufFile from its bytes; a friend of GgufFile and GgufValue.
struct GgufParser {
  GgufFile& file;
  std::span<const uint8_t> b;
  uint64_t pos = 0;
  uint64_t nested_elements = 0;

  uint64_t left() const { return b.size() - pos; }

  Error fail(const std::string& what) const { return Error(fmt::format("{}: {}", file.path_, what)); }

  // Reads an n-byte little-endian integer for `what`, or says where the file ended.
  Result<uint64_t> read(size_t n, const std::string& what) {
    if (left() < n) {
      return fail(fmt::format("{} at byte {}: needs {} bytes but the file ends at byte {}", what, pos, n, b.size()));
    }
    const uint64_t v = load_le(b.data() + pos, n);
    pos += n;
    return v;
  }

  Result<std::string_view> read_string(const std::string& what) {
    const uint64_t at = pos;
    Result<uint64_t> len = read(8, what + " length");
    if (!len) return len.error();
    if (*len > left()) {
      return fail(fmt::format("{} at byte {}: length {} runs past the end of the file ({} bytes left)", what, at,
                              *len, left()));
    }
    std::string_view s(reinterpret_cast<const char*>(b.data() + pos), *len);
    pos += *len;
    return s;
  }

  Status parse_header() {
    if (b.size() < 4 || std::memcmp(b.data(), "GGUF", 4) != 0) {
      if (b.size() < 4) return fail(fmt::format("{} bytes, too short for a GGUF file", b.size()));
      return fail(fmt::format("not a GGUF file (starts with bytes {:02x} {:02x} {:02x} {:02x}, not \"GGUF\")", b[0],
                              b[1], b[2], b[3]));
    }
    pos = 4;
    Result<uint64_t> version = read(4, "version");
    if (!version) return version.error();
    const uint32_t v = static_cast<uint32_t>(*version);
    const uint32_t swapped = __builtin_bswap32(v);
    if (v == 1) {
      return fail("GGUF version 1 is not supported (sparq reads versions 2 and 3; convert the model again with a "
                  "current llama.cpp)");
    }
    if (v != 2 && v != 3) {
      if (swapped >= 1 && swapped <= 3) {
        return Error(fmt::format("{}: big-endian GGUF (version {} stored byte-swapped) is not supported; sparq reads "
                                 "little-endian GGUF",
                                 file.path_, swapped),
                     ErrorKind::unsupported);
      }
      return fail(fmt::format("GGUF version {} is not supported (sparq reads versions 2 and 3)", v));
    }
    file.version_ = v;
    return {};
  }

  // The value of `type` at pos. `what` names the item for messages ("metadata 'k'").
  Status parse_value(GgufValueType type, GgufValue& out, const std::string& what, int depth) {
    out.type_ = type;
    const uint64_t at = pos;
    if (const uint64_t size = fixed_size(type); size != 0) {
      Result<uint64_t> raw = read(size, what);
      if (!raw) return raw.error();
      if (type == GgufValueType::f32 || type == GgufValueType::f64) {
        out.float_ = float_at(type, b.data() + at);
      } else if (type == GgufValueType::boolean && *raw > 1) {
        return fail(fmt::format("{} at byte {}: bool value {} is neither 0 nor 1", what, at, *raw));
      } else {
        out.bits_ = integer_bits(type, b.data() + at);
      }
      return {};
    }
    if (type == GgufValueType::string) {
      Result<std::string_view> s = read_string(what);
      if (!s) return s.error();
      out.string_ = *s;
      return {};
    }
    // An array: element type, count, elements.
    Result<uint64_t> elem = read(4, what + " element type");
    if (!elem) return elem.error();
    if (!known_value_type(static_cast<uint32_t>(*elem))) {
      return fail(fmt::format("{} at byte {}: unknown array element type {}", what, at, *elem));
    }
    out.element_type_ = static_cast<GgufValueType>(*elem);
    Result<uint64_t> count = read(8, what + " element count");
    if (!count) return count.error();
    out.count_ = *count;
    const GgufValueType et = out.element_type_;
    const uint64_t min_bytes = fixed_size(et) != 0 ? fixed_size(et) : et == GgufValueType::string ? 8 : 12;
    if (*count > left() / min_bytes) {
      return fail(fmt::format("{} at byte {}: array of {} {} values cannot fit in the {} bytes left in the file", what,
                              at, *count, gguf_value_type_name(et), left()));
    }
    if (const uint64_t size = fixed_size(et); size != 0) {
      out.raw_ = b.subspan(pos, *count * size);
      if (et == GgufValueType::boolean) {
        for (uint64_t i = 0; i < *count; ++i) {
          if (out.raw_[i] > 1) {
            return fail(fmt::format("{} element {} at byte {}: bool value {} is neither 0 nor 1", what, i, pos + i,
                                    out.raw_[i]));
          }
        }
      }
      pos += *count * size;
      return {};
    }
    if (et == GgufValueType::string) {
      out.strings_.reserve(*count);
      for (uint64_t i = 0; i < *count; ++i) {
        Result<std::string_view> s = read_string(fmt::format("{} element {}", what, i));
        if (!s) return s.error();
        out.strings_.push_back(*s);
      }
      return {};
    }
    if (depth >= kMaxArrayDepth) {
      return fail(fmt::format("{} at byte {}: arrays nested more than {} deep", what, at, kMaxArrayDepth));
    }
    nested_elements += *count;
    if (nested_elements > kMaxNestedArrayElements) {
      return fail(fmt::format("{} at byte {}: more than {} elements in arrays of arrays", what, at,
                              kMaxNestedArrayElements));
    }
    out.items_.resize(*count);
    for (uint64_t i = 0; i < *count; ++i) {
      // Each element is an array header (element type, count) and its elements.
      const std::string item = fmt::format("{} element {}", what, i);
      if (Status s = parse_value(GgufValueType::array, out.items_[i], item, depth + 1); !s) return s;
    }
    return {};
  }

  // A header count, refused before anything is reserved for it: each entry takes at least
  // `min_bytes` of what is left of the file, and no real model comes near `limit`.
  Status check_count(const char* what, uint64_t count, uint64_t min_bytes, uint64_t limit) {
    if (count > left() / min_bytes) {
      return fail(fmt::format("{} count {} cannot fit in the {} bytes left in the file", what, count, left()));
    }
    if (count > limit) return fail(fmt::format("{} count {} exceeds the limit of {}", what, count, limit));
    return {};
  }

  Status parse_metadata(uint64_t count) {
    if (Status s = check_count("metadata", count, kMinKeyValueBytes, kMaxMetadataCount); !s) return s;
    file.metadata_.reserve(count);
    std::unordered_map<std::string_view, uint64_t> seen;
    for (uint64_t i = 0; i < count; ++i) {
      GgufKeyValue kv;
      kv.offset = pos;
      Result<std::string_view> key = read_string(fmt::format("metadata key {}", i));
      if (!key) return key.error();
      const std::string what = fmt::format("metadata '{}'", *key);
      if (auto [it, fresh] = seen.emplace(*key, kv.offset); !fresh) {
        return fail(fmt::format("{} at byte {}: key also defined at byte {}", what, kv.offset, it->second));
      }
      kv.key = std::string(*key);
      const uint64_t type_at = pos;
      Result<uint64_t> type = read(4, what + " value type");
      if (!type) return type.error();
      if (!known_value_type(static_cast<uint32_t>(*type))) {
        return fail(fmt::format("{} at byte {}: unknown value type {}", what, type_at, *type));
      }
      if (Status s = parse_value(static_cast<GgufValueType>(*type), kv.value, what, 0); !s) return s;
      file.metadata_.push_back(std::move(kv));
    }
    for (size_t i = 0; i < file.metadata_.size(); ++i) file.metadata_index_.emplace(file.metadata_[i].key, i);
    return {};
  }

  Status read_alignment() {
    const GgufValue* v = file.find("general.alignment");
    if (v == nullptr) return {};
    if (v->type() != GgufValueType::u32) {
      return fail(fmt::format("metadata 'general.alignment': expected uint32, found {}", v->type_name()));
    }
    const uint64_t a = v->bits_;
    if (a == 0 || (a & (a - 1)) != 0) {
      return fail(fmt::format("metadata 'general.alignment': {} is not a power of two", a));
    }
    file.alignment_ = a;
    return {};
  }

  Status parse_tensor_infos(uint64_t count) {
    if (Status s = check_count("tensor", count, kMinTensorInfoBytes, kMaxTensorCount); !s) return s;
    file.tensors_.reserve(count);
    std::unordered_map<std::string_view, uint64_t> seen;
    for (uint64_t i = 0; i < count; ++i) {
      GgufTensor t;
      t.info_offset = pos;
      Result<std::string_view> name = read_string(fmt::format("tensor {} name", i));
      if (!name) return name.error();
      t.name = std::string(*name);
      const std::string what = fmt::format("tensor '{}' (info at byte {})", t.name, t.info_offset);
      if (auto [it, fresh] = seen.emplace(*name, t.info_offset); !fresh) {
        return fail(fmt::format("{}: name also used by the tensor at byte {}", what, it->second));
      }
      Result<uint64_t> n_dims = read(4, what + " dimension count");
      if (!n_dims) return n_dims.error();
      if (*n_dims < 1 || *n_dims > kMaxDims) {
        return fail(fmt::format("{}: {} dimensions (1 to {} are valid)", what, *n_dims, kMaxDims));
      }
      t.elements = 1;
      bool overflow = false;
      for (uint64_t d = 0; d < *n_dims; ++d) {
        Result<uint64_t> dim = read(8, fmt::format("{} dimension {}", what, d));
        if (!dim) return dim.error();
        if (*dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return fail(fmt::format("{}: dimension {} is {}, negative as ggml's int64", what, d, *dim));
        }
        t.dims.push_back(*dim);
        overflow |= __builtin_mul_overflow(t.elements, *dim, &t.elements);
      }
      if (overflow || t.elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return fail(fmt::format("{}: dims [{}] hold more than 2^63 values", what, fmt::join(t.dims, ", ")));
      }
      t.shape.assign(t.dims.rbegin(), t.dims.rend());
      Result<uint64_t> type = read(4, what + " type");
      if (!type) return type.error();
      t.type = static_cast<uint32_t>(*type);
      const GgmlTypeInfo* info = ggml_type_info(t.type);
      if (info == nullptr) {
        return fail(fmt::format("{}: unknown ggml type {} (this reader knows types 0 to 41)", what, t.type));
      }
      if (info->block_bytes == 0) {
        return fail(fmt::format("{}: type {} was removed from ggml and has no defined layout", what,
                                t.type_label()));
      }
      if (t.dims[0] % info->block_size != 0) {
        return fail(fmt::format("{}: rows of {} values are not a whole number of {} blocks of {}", what, t.dims[0],
                                info->name, info->block_size));
      }
      Result<uint64_t> offset = read(8, what + " offset");
      if (!offset) return offset.error();
      t.offset = *offset;
      file.tensors_.push_back(std::move(t));
    }
    return {};
  }

  // Places every tensor in the data section: aligned, inside the file, no overlaps.
  Status place_tensors() {
    const uint64_t a = file.alignment_;
    file.data_offset_ = (pos + a - 1) / a * a;  // pos < 2^63 and a <= 2^32: no overflow
    struct Range {
      uint64_t begin, end;
      size_t index;
    };
    std::vector<Range> ranges;
    for (size_t i = 0; i < file.tensors_.size(); ++i) {
      GgufTensor& t = file.tensors_[i];
      const GgmlTypeInfo* info = ggml_type_info(t.type);
      const std::string what = fmt::format("tensor '{}' (info at byte {})", t.name, t.info_offset);
      uint64_t bytes = 0;
      if (__builtin_mul_overflow(t.elements / info->block_size, uint64_t{info->block_bytes}, &bytes)) {
        return fail(fmt::format("{}: its byte size overflows 64 bits", what));
      }
      if (t.offset % a != 0) {
        return fail(fmt::format("{}: data offset {} is not a multiple of the alignment {}", what, t.offset, a));
      }
      uint64_t begin = 0, end = 0;
      if (__builtin_add_overflow(file.data_offset_, t.offset, &begin) || __builtin_add_overflow(begin, bytes, &end) ||
          end > b.size()) {
        return fail(fmt::format("{}: {} bytes of {} at data offset {} (byte {}) run past the end of the file ({} "
                                "bytes)",
                                what, bytes, t.type_label(), t.offset,
                                begin >= file.data_offset_ ? fmt::to_string(begin) : std::string("past 2^64"),
                                b.size()));
      }
      t.file_offset = begin;
      t.bytes = b.subspan(begin, bytes);
      if (bytes != 0) ranges.push_back({begin, end, i});
    }
    std::sort(ranges.begin(), ranges.end(), [](const Range& x, const Range& y) { return x.begin < y.begin; });
    for (size_t i = 1; i < ranges.size(); ++i) {
      if (ranges[i].begin < ranges[i - 1].end) {
        const GgufTensor& t = file.tensors_[ranges[i].index];
        const GgufTensor& prev = file.tensors_[ranges[i - 1].index];
        return fail(fmt::format("tensor '{}' (info at byte {}): data [{}, {}) overlaps tensor '{}' [{}, {})", t.name,
                                t.info_offset, ranges[i].begin, ranges[i].end, prev.name, ranges[i - 1].begin,
                                ranges[i - 1].end));
      }
    }
    for (size_t i = 0; i < file.tensors_.size(); ++i) file.tensor_index_.emplace(file.tensors_[i].name, i);
    return {};
  }

  Status parse() {
    if (Status s = parse_header(); !s) return s;
    Result<uint64_t> tensor_count = read(8, "tensor count");
    if (!tensor_count) return tensor_count.error();
    Result<uint64_t> kv_count = read(8, "metadata count");
    if (!kv_count) return kv_count.error();
    if (Status s = parse_metadata(*kv_count); !s) return s;
    if (Status s = read_alignment(); !s) return s;
    if (Status s = parse_tensor_infos(*tensor_count); !s) return s;
    return place_tensors();
  }
};

// ---- GgufFile -----------------------------------------------------------------------------

GgufFile::~GgufFile() = default;

Result<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path) {
  auto mapped = MappedFile::open(path);
  if (!mapped) return mapped.error();
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = path;
  file->bytes_ = (*mapped)->bytes();
  file->mapping_ = std::move(mapped.value());
  GgufParser parser{*file, file->bytes_};
  if (Status s = parser.parse(); !s) return s.error();
  return file;
}

Result<std::unique_ptr<GgufFile>> GgufFile::from_memory(std::span<const uint8_t> bytes, const std::string& name) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = name;
  file->bytes_ = bytes;
  GgufParser parser{*file, bytes};
  if (Status s = parser.parse(); !s) return s.error();
  return file;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].value;
}

template <class T>
Result<T> GgufFile::lookup(std::string_view key, Result<T> (GgufValue::*get)() const) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return Error(fmt::format("{}: metadata '{}' is missing", path_, key));
  Result<T> r = (v->*get)();
  if (!r) return r.error().within(fmt::format("{}: metadata '{}'", path_, key));
  return r;
}

Result<std::string_view> GgufFile::get_string(std::string_view key) const { return lookup(key, &GgufValue::to_string); }
Result<uint64_t> GgufFile::get_unsigned(std::string_view key) const { return lookup(key, &GgufValue::to_unsigned); }
Result<int64_t> GgufFile::get_signed(std::string_view key) const { return lookup(key, &GgufValue::to_signed); }
Result<double> GgufFile::get_float(std::string_view key) const { return lookup(key, &GgufValue::to_float); }
Result<bool> GgufFile::get_bool(std::string_view key) const { return lookup(key, &GgufValue::to_bool); }
Result<std::vector<std::string_view>> GgufFile::get_strings(std::string_view key) const {
  return lookup(key, &GgufValue::to_strings);
}
Result<std::vector<float>> GgufFile::get_floats(std::string_view key) const { return lookup(key, &GgufValue::to_floats); }
Result<std::vector<int64_t>> GgufFile::get_integers(std::string_view key) const {
  return lookup(key, &GgufValue::to_integers);
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Status GgufFile::dequantize_into(const GgufTensor& tensor, std::span<float> out) const {
  const std::string what = fmt::format("{}: tensor '{}'", path_, tensor.name);
  if (out.size() != tensor.elements) {
    return Error(fmt::format("{}: {} values, but the output holds {}", what, tensor.elements, out.size()),
                 ErrorKind::invalid_argument);
  }
  if (Status s = dequantize_ggml(tensor.type, tensor.bytes, out); !s) return s.error().within(what);
  return {};
}

Result<std::vector<float>> GgufFile::dequantize(const GgufTensor& tensor) const {
  if (!tensor.decodable()) {  // refused before allocating anything
    Status s = dequantize_ggml(tensor.type, {}, {});
    return s.error().within(fmt::format("{}: tensor '{}'", path_, tensor.name));
  }
  std::vector<float> out(tensor.elements);
  if (Status s = dequantize_into(tensor, out); !s) return s.error();
  return out;
}

}  // namespace sparq::formats
