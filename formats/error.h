// Errors as values. An Error carries a message that names what failed and where (file,
// tensor, field, offset) and what kind of failure it is.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace sparq {

// What kind of failure an Error is, in the library's terms. Front ends map kinds to their own
// codes (the CLI to its exit codes, tools/exit_code.h).
enum class ErrorKind : uint8_t {
  invalid_input,     // unreadable or invalid data: a model file, documents, a configuration
  invalid_argument,  // a request that cannot be valid whatever the data (a bad option value)
  unsupported,       // a valid request this CPU, OS or build cannot serve
  below_floor        // a quality or throughput floor was not cleared
};

class Error {
 public:
  explicit Error(std::string message, ErrorKind kind = ErrorKind::invalid_input)
      : message_(std::move(message)), kind_(kind) {}

  const std::string& message() const { return message_; }
  ErrorKind kind() const { return kind_; }
  // The request option the error is about, by its library name ("threads", "restart"), or
  // empty; a front end names it in its own spelling (the CLI: its flag).
  const std::string& option() const { return option_; }
  Error about(std::string option) && {
    option_ = std::move(option);
    return std::move(*this);
  }

  // Prefixes context, outermost last: Error("bad row pointer").within("tensor 'w'")
  // reads "tensor 'w': bad row pointer".
  Error within(const std::string& context) const& {
    Error e(context + ": " + message_, kind_);
    e.option_ = option_;
    return e;
  }

 private:
  std::string message_;
  ErrorKind kind_;
  std::string option_;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT(implicit)
  Result(Error error) : v_(std::move(error)) {}     // NOLINT(implicit)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// The result of an operation that produces nothing but may fail.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT(implicit)

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

}  // namespace sparq
