// Planner inputs (bench and eval reports, workloads, catalogs) are small documents in JSON
// or YAML. Both are read into one JSON value so every field is checked in one place, and a
// bad value is reported as "<file>: <field path>: <what is wrong>".
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "formats/error.h"

namespace sparq::formats {

// JSON unless the name ends in .yaml/.yml. YAML plain scalars become numbers, booleans or
// null where they read as such; quoted scalars stay strings.
Result<nlohmann::json> load_document(const std::string& path);
Result<nlohmann::json> parse_document(const std::string& text, const std::string& name, bool yaml);

// A view of one object inside a document that knows where it is, for error messages.
class Fields {
 public:
  Fields(const nlohmann::json& object, std::string file, std::string path = "");

  bool has(const std::string& key) const;
  // Numbers must be finite and >= 0 (the planner has no negative quantities).
  Result<double> number(const std::string& key) const;
  Result<double> number_or(const std::string& key, double fallback) const;
  // A number in [lo, hi] (absent: `fallback`, unchecked). Bounds catch values that are
  // numbers but not quantities (redundancy: 1e18), which would overflow the arithmetic.
  Result<double> number_in(const std::string& key, double lo, double hi, double fallback) const;
  // An error naming the first key not in `known`, with the closest known one as a hint.
  Status only_keys(std::span<const std::string_view> known) const;
  Status only_keys(std::initializer_list<std::string_view> known) const {
    return only_keys(std::span(known.begin(), known.size()));
  }
  Result<std::string> text(const std::string& key) const;
  Result<std::string> text_or(const std::string& key, const std::string& fallback) const;
  Result<Fields> object(const std::string& key) const;
  const nlohmann::json& json() const { return *object_; }
  std::string where(const std::string& key) const;  // "file: path.key"
  Error error(const std::string& key, const std::string& what) const;

 private:
  const nlohmann::json* object_;
  std::string file_;
  std::string path_;
};

// Reads many fields in a row and keeps the first error, so a loader reads like the shape
// it loads: `b.bytes = first.get(model.number("bytes"));` ... `if (first.error) ...`.
// A failed read yields the fallback (an empty object for Fields) so reading can go on.
struct FirstError {
  std::optional<Error> error;
  template <class T>
  T get(Result<T> r, T fallback = T{}) {
    if (r) return std::move(r).value();
    if (!error) error = r.error();
    return fallback;
  }
  Fields get(Result<Fields> r);
};

// The candidate closest to `word` by edit distance, when close enough to be a likely typo
// (at most a third of its letters wrong); empty otherwise.
std::string closest_name(std::string_view word, std::span<const std::string_view> candidates);
inline std::string closest_name(std::string_view word, std::initializer_list<std::string_view> candidates) {
  return closest_name(word, std::span(candidates.begin(), candidates.size()));
}

// The document's top level, which must be an object.
Result<Fields> top_level(const nlohmann::json& document, const std::string& file);

}  // namespace sparq::formats
