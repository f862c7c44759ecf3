#include "runtime/document_reader.h"

#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <vector>

#include "formats/utf8.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;

bool ends_with(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// Owns the stream (a file, or borrows stdin) and counts lines; reads without holding more
// than `cap` bytes of any one line, so a 1 GB line costs 1 GB of reading, not of memory.
class LineSource {
 public:
  LineSource(std::unique_ptr<std::istream> owned, std::istream* in) : owned_(std::move(owned)), in_(in) {}

  // Reads one line without its terminator (\n or \r\n). Returns false at end of input.
  // `overflow` is set when the line was longer than `cap` (the kept prefix is `cap` bytes).
  bool read_line(std::string& line, size_t cap, bool& overflow) {
    line.clear();
    overflow = false;
    std::streambuf* sb = in_->rdbuf();
    int c = sb->sbumpc();
    if (c == std::char_traits<char>::eof()) return false;
    ++bytes_;
    for (; c != std::char_traits<char>::eof() && c != '\n'; c = sb->sbumpc(), ++bytes_) {
      if (line.size() < cap) {
        line.push_back(char(c));
      } else {
        overflow = true;
      }
    }
    ++line_number_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_number_ == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
    return true;
  }

  bool bad() const { return in_->bad(); }
  uint64_t line_number() const { return line_number_; }
  uint64_t bytes() const { return bytes_; }

 private:
  std::unique_ptr<std::istream> owned_;
  std::istream* in_;
  uint64_t line_number_ = 0;
  uint64_t bytes_ = 0;
};

// What next() returns when no line is left: the end, or the error that ended the input.
Result<std::optional<Document>> end_of_input(const LineSource& src, const std::string& path) {
  if (src.bad()) return Error(fmt::format("{}: read error", path), ExitCode::data);
  return std::optional<Document>();
}

Result<LineSource> open_source(const std::string& path) {
  if (path == "-") return LineSource(nullptr, &std::cin);
  auto file = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!*file) {
    return Error(fmt::format("{}: cannot open documents: {}", path, std::strerror(errno)), ExitCode::data);
  }
  std::istream* in = file.get();
  return LineSource(std::move(file), in);
}

std::optional<RecordError> check_text(const std::string& text, const DocumentReaderOptions& o) {
  if (text.size() > o.max_text_bytes) {
    return RecordError{"text_too_long", fmt::format("text is longer than the limit of {} bytes", o.max_text_bytes)};
  }
  size_t bad = formats::find_invalid_utf8(text);
  if (bad != std::string::npos) {
    return RecordError{"invalid_utf8", fmt::format("text is not valid UTF-8 (byte {})", bad)};
  }
  if (text.find_first_not_of(" \t\r\n\f\v") == std::string::npos) {
    return RecordError{"empty_text", "text is empty"};
  }
  return std::nullopt;
}

// Room for a record's JSON syntax and other fields around a text at the byte limit.
size_t line_cap(const DocumentReaderOptions& o) { return o.max_text_bytes * 2 + (size_t{1} << 16); }

class TextLineReader final : public DocumentReader {
 public:
  TextLineReader(LineSource src, DocumentReaderOptions o) : src_(std::move(src)), o_(std::move(o)) {}
  uint64_t bytes_read() const override { return src_.bytes(); }

  Result<std::optional<Document>> next() override {
    bool overflow = false;
    if (!src_.read_line(line_, o_.max_text_bytes + 1, overflow)) return end_of_input(src_, path_);
    Document d;
    d.index = index_++;
    d.line = src_.line_number();
    d.id = d.index;
    d.text = line_;
    d.error = check_text(d.text, o_);
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
  uint64_t bytes_read() const override { return src_.bytes(); }

  Result<std::optional<Document>> next() override {
    bool overflow = false;
    do {
      if (!src_.read_line(line_, line_cap(o_), overflow)) {
        return end_of_input(src_, path_);
      }
    } while (!overflow && line_.find_first_not_of(" \t") == std::string::npos);  // blank lines are not records
    Document d;
    d.index = index_++;
    d.line = src_.line_number();
    d.id = d.index;
    d.error = parse(d, overflow);
    return std::optional<Document>(std::move(d));
  }

 private:
  std::optional<RecordError> parse(Document& d, bool overflow) {
    if (overflow) {
      return RecordError{"text_too_long", fmt::format("record is longer than {} bytes", line_cap(o_))};
    }
    if (size_t bad = formats::find_invalid_utf8(line_); bad != std::string::npos) {
      return RecordError{"invalid_utf8", fmt::format("line {} is not valid UTF-8 (byte {})", d.line, bad)};
    }
    json record;
    try {
      record = json::parse(line_);
    } catch (const json::parse_error& e) {
      return RecordError{"malformed_json", fmt::format("line {}: {}", d.line, e.what())};
    }
    if (!record.is_object()) {
      return RecordError{"not_an_object", fmt::format("line {}: expected a JSON object", d.line)};
    }
    if (auto it = record.find(o_.id_field); it != record.end()) d.id = *it;
    auto it = record.find(o_.text_field);
    if (it == record.end()) {
      return RecordError{"missing_field", fmt::format("line {}: no field \"{}\"", d.line, o_.text_field)};
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
    return check_text(d.text, o_);
  }

  LineSource src_;
  DocumentReaderOptions o_;
  std::string line_;
  uint64_t index_ = 0;
};

// RFC 4180: fields separated by commas, optionally double-quoted; a quoted field may hold
// commas, doubled quotes and line breaks. The first record names the columns.
class CsvReader final : public DocumentReader {
 public:
  CsvReader(LineSource src, DocumentReaderOptions o) : src_(std::move(src)), o_(std::move(o)) {}
  uint64_t bytes_read() const override { return src_.bytes(); }

  Status read_header() {
    std::vector<std::string> names;
    std::optional<RecordError> error;
    if (!read_record(names, error)) return Error(fmt::format("{}: empty CSV (no header row)", path_), ExitCode::data);
    if (error) return Error(fmt::format("{}: header row: {}", path_, error->message), ExitCode::data);
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == o_.text_field) text_column_ = i;
      if (names[i] == o_.id_field) id_column_ = i;
      if (!o_.label_field.empty() && names[i] == o_.label_field) label_column_ = i;
    }
    if (!text_column_) {
      return Error(fmt::format("{}: the header row has no column \"{}\" (use --text-field)", path_, o_.text_field),
                   ExitCode::usage);
    }
    if (!o_.label_field.empty() && !label_column_) {
      return Error(fmt::format("{}: the header row has no column \"{}\" (use --label-field)", path_, o_.label_field),
                   ExitCode::usage);
    }
    columns_ = names.size();
    return {};
  }

  Result<std::optional<Document>> next() override {
    std::vector<std::string> fields;
    std::optional<RecordError> error;
    uint64_t first_line = src_.line_number() + 1;
    if (!read_record(fields, error)) {
      return end_of_input(src_, path_);
    }
    Document d;
    d.index = index_++;
    d.line = first_line;
    d.id = d.index;
    if (error) {
      d.error = error;
    } else if (fields.size() != columns_) {
      d.error = RecordError{"malformed_csv", fmt::format("line {}: {} fields, the header has {}", first_line,
                                                         fields.size(), columns_)};
    } else {
      if (id_column_) d.id = fields[*id_column_];
      if (label_column_) d.label = fields[*label_column_];
      d.text = std::move(fields[*text_column_]);
      d.error = check_text(d.text, o_);
    }
    return std::optional<Document>(std::move(d));
  }

 private:
  // One record, which may span several physical lines. Returns false at end of input.
  bool read_record(std::vector<std::string>& fields, std::optional<RecordError>& error) {
    bool overflow = false;
    if (!src_.read_line(line_, line_cap(o_), overflow)) return false;
    fields.assign(1, std::string());
    bool quoted = false, after_quote = false;
    size_t record_bytes = 0;
    for (;;) {
      record_bytes += line_.size();
      if (overflow || record_bytes > line_cap(o_)) {
        error = RecordError{"text_too_long", fmt::format("record is longer than {} bytes", line_cap(o_))};
        quoted = quoted && !overflow;
      }
      for (size_t i = 0; i < line_.size(); ++i) {
        char c = line_[i];
        std::string& f = fields.back();
        if (quoted) {
          if (c != '"') {
            if (!error) f.push_back(c);
          } else if (i + 1 < line_.size() && line_[i + 1] == '"') {
            if (!error) f.push_back('"');
            ++i;
          } else {
            quoted = false;
            after_quote = true;
          }
        } else if (c == ',') {
          fields.emplace_back();
          after_quote = false;
        } else if (c == '"' && f.empty() && !after_quote) {
          quoted = true;
        } else if (after_quote || c == '"') {
          if (!error) {
            error = RecordError{"malformed_csv",
                                fmt::format("line {}: a quote inside an unquoted field, or text after a closing quote",
                                            src_.line_number())};
          }
        } else if (!error) {
          f.push_back(c);
        }
      }
      if (!quoted) return true;
      // A line break inside quotes belongs to the field.
      if (!src_.read_line(line_, line_cap(o_), overflow)) {
        if (!error) error = RecordError{"malformed_csv", "end of input inside a quoted field"};
        return true;
      }
      if (!error) fields.back().push_back('\n');
    }
  }

  LineSource src_;
  DocumentReaderOptions o_;
  std::string line_;
  std::optional<size_t> text_column_, id_column_, label_column_;
  size_t columns_ = 0;
  uint64_t index_ = 0;
};

}  // namespace

Result<DocumentFormat> parse_document_format(const std::string& name, const std::string& path) {
  if (name == "jsonl" || name == "json") return DocumentFormat::jsonl;
  if (name == "csv") return DocumentFormat::csv;
  if (name == "txt" || name == "text") return DocumentFormat::txt;
  if (name != "auto") return Error(fmt::format("--format: expected jsonl, csv, txt or auto, got '{}'", name));
  if (ends_with(path, ".csv")) return DocumentFormat::csv;
  if (ends_with(path, ".txt")) return DocumentFormat::txt;
  return DocumentFormat::jsonl;
}

Result<std::unique_ptr<DocumentReader>> DocumentReader::open(const std::string& path,
                                                             const DocumentReaderOptions& options) {
  Result<LineSource> src = open_source(path);
  if (!src) return src.error();
  std::unique_ptr<DocumentReader> reader;
  switch (options.format) {
    case DocumentFormat::txt:
      reader = std::make_unique<TextLineReader>(std::move(*src), options);
      break;
    case DocumentFormat::jsonl:
      reader = std::make_unique<JsonLinesReader>(std::move(*src), options);
      break;
    case DocumentFormat::csv: {
      auto csv = std::make_unique<CsvReader>(std::move(*src), options);
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
