// Errors as values. An Error carries a message that names what failed and where (file,
// tensor, field, offset) and the process exit code the CLI should use for it.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace sparq {

// Documented exit codes of the `sparq` CLI (see README).
enum class ExitCode : int {
  ok = 0,
  usage = 1,       // bad command line
  data = 2,        // unreadable or invalid input: model file, documents, configuration
  floor = 3,       // a quality or throughput floor was not cleared
  unsupported = 4  // the request is valid but this CPU/OS/build cannot serve it
};

class Error {
 public:
  explicit Error(std::string message, ExitCode code = ExitCode::data)
      : message_(std::move(message)), code_(code) {}

  const std::string& message() const { return message_; }
  ExitCode code() const { return code_; }

  // Prefixes context, outermost last: Error("bad row pointer").within("tensor 'w'")
  // reads "tensor 'w': bad row pointer".
  Error within(const std::string& context) const& {
    return Error(context + ": " + message_, code_);
  }

 private:
  std::string message_;
  ExitCode code_;
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
