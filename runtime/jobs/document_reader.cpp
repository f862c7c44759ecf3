#include "runtime/jobs/document_reader.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "formats/input_file.h"
#include "formats/utf8.h"
#include "runtime/jobs/byte_source.h"

namespace sparq::runtime {

std::optional<RecordError> check_document_text(std::string_view text, size_t max_text_bytes) {
  if (text.size() > max_text_bytes) {
    return RecordError{"text_too_long", fmt::format("text is longer than the limit of {} bytes", max_text_bytes)};
  }
  size_t bad = formats::find_invalid_utf8(text);
  if (bad != std::string_view::npos) {
    return RecordError{"invalid_utf8", fmt::format("text is not valid UTF-8 (byte {})", bad)};
  }
  if (text.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos) {
    return RecordError{"empty_text", "text is empty"};
  }
  return std::nullopt;
}

namespace {

using nlohmann::json;

// Reads a ByteSource through one block buffer and counts line breaks; takes lines without
// holding more than `cap` bytes of any one, so a 1 GB line costs 1 GB of reading, not of
// memory. A UTF-8 byte order mark at the start of the input is skipped.
class LineSource {
 public:
  explicit LineSource(std::unique_ptr<ByteSource> src) : src_(std::move(src)), buf_(size_t{1} << 16) {}

  // One byte, or -1 at the end of input (or on a read error: see error()).
  int get() {
    if (pos_ == end_ && !fill()) return -1;
    char c = buf_[pos_++];
    if (c == '\n') ++newlines_;
    ended_line_ = c == '\n';
    return uint8_t(c);
  }
  int peek() {
    if (pos_ == end_ && !fill()) return -1;
    return uint8_t(buf_[pos_]);
  }

  // Reads one line without its terminator (\n or \r\n). Returns false at the end of input.
  // `overflow` is set when the line was longer than `cap` (the kept prefix is `cap` bytes).
  bool read_line(std::string& line, size_t cap, bool& overflow) {
    line.clear();
    overflow = false;
    if (pos_ == end_ && !fill()) return false;
    for (;;) {
      const char* begin = buf_.data() + pos_;
      const char* nl = static_cast<const char*>(std::memchr(begin, '\n', end_ - pos_));
      size_t n = nl ? size_t(nl - begin) : end_ - pos_;
      size_t keep = std::min(n, cap - line.size());
      line.append(begin, keep);
      overflow |= keep < n;
      pos_ += n;
      if (nl) {
        ++pos_;
        ++newlines_;
        break;
      }
      if (!fill()) {
        if (error_) return false;  // a line cut short by a read error is not a record
        break;
      }
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return true;
  }

  // Consumes the bytes before the next `stop` byte (or the end of input), appending at most
  // `room` of them to `out` when it is not null. Returns how many were consumed.
  uint64_t take_until(char stop, std::string* out, size_t room) {
    uint64_t taken = 0;
    while (pos_ < end_ || fill()) {
      const char* begin = buf_.data() + pos_;
      const char* hit = static_cast<const char*>(std::memchr(begin, stop, end_ - pos_));
      size_t n = hit ? size_t(hit - begin) : end_ - pos_;
      if (out) out->append(begin, std::min(n, room - std::min(room, size_t(taken))));
      newlines_ += uint64_t(std::count(begin, begin + n, '\n'));
      if (n > 0) ended_line_ = begin[n - 1] == '\n';
      pos_ += n;
      taken += n;
      if (hit) break;
    }
    return taken;
  }

  const std::optional<Error>& error() const { return error_; }
  // Line breaks consumed so far: the 1-based number of the line being read is this + 1.
  uint64_t newlines() const { return newlines_; }
  // The number of the last line begun so far (a line break ends a line; it begins none).
  uint64_t last_line() const { return newlines_ + (ended_line_ ? 0 : 1); }
  uint64_t file_bytes() const { return src_->file_bytes(); }

 private:
  bool fill() {
    if (error_ || at_end_) return false;
    pos_ = end_ = 0;
    // At the start, enough bytes to recognise the byte order mark.
    do {
      Result<size_t> got = src_->read(buf_.data() + end_, buf_.size() - end_);
      if (!got) {
        error_ = got.error();
        return false;
      }
      if (*got == 0) {
        at_end_ = true;
        break;
      }
      end_ += *got;
    } while (at_start_ && end_ < 3);
    if (at_start_ && end_ >= 3 && std::memcmp(buf_.data(), "\xEF\xBB\xBF", 3) == 0) pos_ = 3;
    at_start_ = false;
    return pos_ < end_;
  }

  std::unique_ptr<ByteSource> src_;
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;
  bool at_start_ = true, at_end_ = false;
  std::optional<Error> error_;
  uint64_t newlines_ = 0;
  bool ended_line_ = true;
};

// What next() returns when no record is left: the end, or the error that ended the input.
Result<std::optional<Document>> end_of_input(const LineSource& src) {
  if (src.error()) return *src.error();
  return std::optional<Document>();
}

// Room for a record's JSON syntax and other fields around a text at the byte limit.
size_t line_cap(const DocumentReaderOptions& o) { return o.max_text_bytes * 2 + (size_t{1} << 16); }

class TextLineReader final : public DocumentReader {
 public:
  TextLineReader(LineSource src, DocumentReaderOptions o) : src_(std::move(src)), o_(std::move(o)) {}
  uint64_t bytes_read() const override { return src_.file_bytes(); }

  Result<std::optional<Document>> next() override {
    bool overflow = false;
    uint64_t line = src_.newlines() + 1;
    if (!src_.read_line(line_, o_.max_text_bytes + 1, overflow)) return end_of_input(src_);
    Document d;
    d.index = index_++;
    d.line = line;
    d.id = d.index;
    d.error = check_document_text(line_, o_.max_text_bytes);
    if (!d.error) d.text = line_;
    return std::optional<Document>(std::move(d));
  }

 private:
  LineSource src_;
  DocumentReaderOptions o_;
  std::string line_;
  uint64_t index_ = 0;
};

class JsonLinesReader final : public DocumentReader {
 public:
  JsonLinesReader(LineSource src, DocumentReaderOptions o) : src_(std::move(src)), o_(std::move(o)) {}
  uint64_t bytes_read() const override { return src_.file_bytes(); }

  Result<std::optional<Document>> next() override {
    bool overflow = false;
    uint64_t line = 0;
    do {
      line = src_.newlines() + 1;
      if (!src_.read_line(line_, line_cap(o_), overflow)) return end_of_input(src_);
    } while (!overflow && line_.find_first_not_of(" \t") == std::string::npos);  // blank lines are not records
    Document d;
    d.index = index_++;
    d.line = line;
    d.id = d.index;
    d.error = parse(d, overflow);
    if (d.error) {
      d.text.clear();
      d.messages = nullptr;
    }
    return std::optional<Document>(std::move(d));
  }

 private:
  std::optional<RecordError> parse(Document& d, bool overflow) {
    if (overflow) {
      return RecordError{"text_too_long", fmt::format("line {}: record is longer than {} bytes", d.line, line_cap(o_))};
    }
    if (size_t bad = formats::find_invalid_utf8(line_); bad != std::string::npos) {
      return RecordError{"invalid_utf8", fmt::format("line {} is not valid UTF-8 (byte {})", d.line, bad)};
    }
    Result<json> parsed = formats::parse_json(line_, fmt::format("line {}", d.line), {.max_depth = 32});
    if (!parsed) return RecordError{"malformed_json", parsed.error().message()};
    const json& record = *parsed;
    if (!record.is_object()) {
      return RecordError{"not_an_object", fmt::format("line {}: expected a JSON object", d.line)};
    }
    if (auto it = record.find(o_.id_field); it != record.end()) d.id = *it;
    if (!o_.extra_fields.empty()) {
      d.fields = json::object();
      for (const std::string& name : o_.extra_fields) {
        if (auto field = record.find(name); field != record.end()) d.fields[name] = *field;
      }
    }
    auto it = record.find(o_.text_field);
    auto messages = o_.messages_field.empty() ? record.end() : record.find(o_.messages_field);
    if (messages != record.end()) {
      if (it != record.end()) {
        return RecordError{"conflicting_fields", fmt::format("line {}: both \"{}\" and \"{}\"; give one",
                                                             d.line, o_.text_field, o_.messages_field)};
      }
      return parse_messages(d, *messages);
    }
    if (it == record.end()) {
      return RecordError{"missing_field",
                         o_.messages_field.empty()
                             ? fmt::format("line {}: no field \"{}\"", d.line, o_.text_field)
                             : fmt::format("line {}: no field \"{}\" (or \"{}\")", d.line, o_.text_field,
                                           o_.messages_field)};
    }
    if (!it->is_string()) {
      return RecordError{"not_a_string",
                         fmt::format("line {}: field \"{}\" is {}, not a string", d.line, o_.text_field, it->type_name())};
    }
    d.text = it->get<std::string>();
    if (!o_.label_field.empty()) {
      auto label = record.find(o_.label_field);
      if (label != record.end() && label->is_string()) {
        d.label = label->get<std::string>();
      } else if (label != record.end() && label->is_number_integer()) {
        d.label = label->dump();
      } else {
        return RecordError{"missing_label",
                           fmt::format("line {}: no string or integer field \"{}\"", d.line, o_.label_field)};
      }
    }
    return check_document_text(d.text, o_.max_text_bytes);
  }

  // A non-empty array of objects, each with a string "role" and a string "content" (a chat
  // template may read other keys too, so those are kept as they are).
  std::optional<RecordError> parse_messages(Document& d, const json& messages) {
    auto malformed = [&](const std::string& what) {
      return RecordError{"malformed_messages", fmt::format("line {}: \"{}\": {}", d.line, o_.messages_field, what)};
    };
    if (!messages.is_array()) {
      return malformed(fmt::format("expected an array of messages, got {}", messages.type_name()));
    }
    if (messages.empty()) return malformed("no messages");
    size_t bytes = 0;
    for (size_t i = 0; i < messages.size(); ++i) {
      const json& m = messages[i];
      if (!m.is_object()) return malformed(fmt::format("message {} is {}, not an object", i, m.type_name()));
      for (const char* key : {"role", "content"}) {
        auto value = m.find(key);
        if (value == m.end()) return malformed(fmt::format("message {} has no \"{}\"", i, key));
        if (!value->is_string()) {
          return malformed(fmt::format("message {}: \"{}\" is {}, not a string", i, key, value->type_name()));
        }
      }
      bytes += m.at("content").get_ref<const std::string&>().size();
    }
    if (bytes > o_.max_text_bytes) {
      return RecordError{"text_too_long", fmt::format("line {}: the messages hold more than the limit of {} bytes",
                                                      d.line, o_.max_text_bytes)};
    }
    d.messages = messages;
    return std::nullopt;
  }

  LineSource src_;
  DocumentReaderOptions o_;
  std::string line_;
  uint64_t index_ = 0;
};

// RFC 4180: fields separated by commas, optionally double-quoted; a quoted field may hold
// commas, doubled quotes and line breaks (kept as they are, CRLF included). Records end
// with LF or CRLF; blank lines between records are skipped. The first record names the
// columns.
class CsvReader final : public DocumentReader {
 public:
  CsvReader(LineSource src, DocumentReaderOptions o) : src_(std::move(src)), o_(std::move(o)) {}
  uint64_t bytes_read() const override { return src_.file_bytes(); }

  Status read_header() {
    std::vector<std::string> names;
    std::optional<RecordError> error;
    uint64_t line = 0;
    if (!read_record(names, error, line, std::numeric_limits<size_t>::max())) {
      if (src_.error()) return *src_.error();
      return Error(fmt::format("{}: empty CSV (no header row)", path_), ErrorKind::invalid_input);
    }
    if (error) return Error(fmt::format("{}: header row: {}", path_, error->message), ErrorKind::invalid_input);
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == o_.text_field) text_column_ = i;
      if (names[i] == o_.id_field) id_column_ = i;
      if (!o_.label_field.empty() && names[i] == o_.label_field) label_column_ = i;
    }
    if (!text_column_) {
      return Error(fmt::format("{}: the header row has no column \"{}\" for the text", path_, o_.text_field),
                   ErrorKind::invalid_argument)
          .about("text_field");
    }
    if (!o_.label_field.empty() && !label_column_) {
      return Error(fmt::format("{}: the header row has no column \"{}\" for the label", path_, o_.label_field),
                   ErrorKind::invalid_argument)
          .about("label_field");
    }
    columns_ = names.size();
    return {};
  }

  Result<std::optional<Document>> next() override {
    std::optional<RecordError> error;
    uint64_t line = 0;
    if (!read_record(fields_, error, line, columns_)) {
      if (unclosed_quote_) return *unclosed_quote_;
      return end_of_input(src_);
    }
    Document d;
    d.index = index_++;
    d.line = line;
    d.id = d.index;
    if (error) {
      d.error = error;
    } else if (fields_.size() != columns_) {
      d.error = RecordError{"malformed_csv",
                            fmt::format("line {}: {} fields, the header has {}", line, fields_.size(), columns_)};
    } else {
      if (id_column_) d.id = fields_[*id_column_];
      if (label_column_) d.label = fields_[*label_column_];
      d.error = check_document_text(fields_[*text_column_], o_.max_text_bytes);
      if (!d.error) d.text = std::move(fields_[*text_column_]);
    }
    return std::optional<Document>(std::move(d));
  }

 private:
  // One record, which may span several lines; `line` is where it starts. Returns false at
  // the end of input or on a read error. A record over the byte limit or with more than
  // `max_fields` fields is read to its end without being kept.
  bool read_record(std::vector<std::string>& fields, std::optional<RecordError>& error, uint64_t& line,
                   size_t max_fields) {
    int c = src_.get();
    while (c == '\n' || (c == '\r' && src_.peek() == '\n')) c = src_.get();
    if (c < 0) return false;
    line = src_.newlines() + 1;
    fields.assign(1, std::string());
    enum class At { field_start, unquoted, quoted, after_quote } at = At::field_start;
    uint64_t quote_line = 0;  // where the last quoted field opened
    auto keep = [&](int ch) {
      if (!error) fields.back().push_back(char(ch));
    };
    const size_t cap = line_cap(o_);
    size_t record_bytes = 0;
    auto count = [&](size_t n) {
      record_bytes += n;
      if (!error && record_bytes > cap) {
        error = RecordError{"text_too_long", fmt::format("line {}: record is longer than {} bytes", line, cap)};
        fields.clear();
      }
    };
    for (; c >= 0; c = src_.get()) {
      count(1);
      if (at == At::quoted) {
        if (c != '"') {
          keep(c);
          // The rest of the quoted run in bulk: the bytes up to the next quote.
          count(src_.take_until('"', error ? nullptr : &fields.back(), cap - std::min(cap, record_bytes)));
        } else if (src_.peek() == '"') {
          keep(src_.get());
        } else {
          at = At::after_quote;
        }
      } else if (c == '\n' || (c == '\r' && (src_.peek() == '\n' || src_.peek() < 0))) {
        if (c == '\r') src_.get();
        return true;
      } else if (c == ',') {
        if (!error && fields.size() == max_fields) {
          error = RecordError{"malformed_csv", fmt::format("line {}: more fields than the header's {}", line, max_fields)};
          fields.clear();
        }
        if (!error) fields.emplace_back();
        at = At::field_start;
      } else if (c == '"' && at == At::field_start) {
        at = At::quoted;
        quote_line = src_.newlines() + 1;
      } else if (c == '"' || at == At::after_quote) {
        if (!error) {
          error = RecordError{"malformed_csv",
                              fmt::format("line {}: a quote inside an unquoted field, or text after a closing quote",
                                          src_.newlines() + 1)};
        }
        at = At::unquoted;
      } else {
        keep(c);
        at = At::unquoted;
      }
    }
    if (src_.error()) return false;
    const uint64_t last_line = src_.last_line();
    if (at == At::quoted && last_line > quote_line) {
      // The quote swallowed every line after it: what were records there cannot be told
      // apart any more, so no output could hold one record per input record.
      unclosed_quote_ = Error(fmt::format("{}: line {}: a quoted field opens here and is never closed; the {} lines "
                                          "after it were read into it, so records would be missing",
                                          path_, quote_line, last_line - quote_line));
      return false;
    }
    if (at == At::quoted && !error) {
      error = RecordError{"malformed_csv", fmt::format("line {}: end of input inside a quoted field", line)};
    }
    return true;
  }

  LineSource src_;
  DocumentReaderOptions o_;
  std::vector<std::string> fields_;
  std::optional<Error> unclosed_quote_;
  std::optional<size_t> text_column_, id_column_, label_column_;
  size_t columns_ = 0;
  uint64_t index_ = 0;
};

}  // namespace

Result<DocumentFormat> parse_document_format(const std::string& name, const std::string& path) {
  if (name == "jsonl" || name == "json") return DocumentFormat::jsonl;
  if (name == "csv") return DocumentFormat::csv;
  if (name == "txt" || name == "text") return DocumentFormat::txt;
  if (name != "auto") {
    return Error(fmt::format("document format '{}': expected jsonl, csv, txt or auto", name), ErrorKind::invalid_argument)
        .about("format");
  }
  // A compressed file's format is the extension under `.zst`.
  std::string inner = path.ends_with(".zst") ? path.substr(0, path.size() - 4) : path;
  if (inner.ends_with(".csv")) return DocumentFormat::csv;
  if (inner.ends_with(".txt")) return DocumentFormat::txt;
  return DocumentFormat::jsonl;
}

Result<std::unique_ptr<DocumentReader>> DocumentReader::open(const std::string& path,
                                                             const DocumentReaderOptions& options) {
  Result<std::unique_ptr<ByteSource>> bytes = open_byte_source(path);
  if (!bytes) return bytes.error();
  LineSource src(std::move(*bytes));
  std::unique_ptr<DocumentReader> reader;
  switch (options.format) {
    case DocumentFormat::txt:
      reader = std::make_unique<TextLineReader>(std::move(src), options);
      break;
    case DocumentFormat::jsonl:
      reader = std::make_unique<JsonLinesReader>(std::move(src), options);
      break;
    case DocumentFormat::csv: {
      auto csv = std::make_unique<CsvReader>(std::move(src), options);
      csv->path_ = path;
      if (Status s = csv->read_header(); !s) return s.error();
      reader = std::move(csv);
      break;
    }
  }
  reader->path_ = path;
  return reader;
}

}  // namespace sparq::runtime
