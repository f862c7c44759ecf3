// Documents in, one record at a time, in bounded memory: JSON Lines, CSV (RFC 4180, with a
// header row) or plain text (one document per line), from a file or stdin, plain or
// zstd-compressed (see byte_source.h; a damaged compressed stream is a job error). A record
// that cannot become a document (malformed JSON, missing or non-string field, invalid
// UTF-8, empty text, text over the hard limit, a malformed chat conversation) is still a
// record: it carries a RecordError so the job writes exactly one output line for it and
// goes on.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "formats/error.h"

namespace sparq::runtime {

enum class DocumentFormat { jsonl, csv, txt };

// "jsonl" | "csv" | "txt" | "auto" (from the path's extension, the one under `.zst` for a
// compressed file; stdin and unknown: jsonl).
Result<DocumentFormat> parse_document_format(const std::string& name, const std::string& path);

struct RecordError {
  // Stable machine-readable codes: malformed_json, not_an_object, missing_field,
  // not_a_string, invalid_utf8, empty_text, text_too_long, malformed_csv, missing_label,
  // malformed_messages, conflicting_fields.
  std::string code;
  std::string message;
};

struct Document {
  uint64_t index = 0;      // 0-based position of the record in the input
  uint64_t line = 0;       // 1-based line where the record starts, for messages
  nlohmann::json id;       // the id field's value, or the index when there is no id field
  std::string text;
  std::string label;       // the label field's value, when the options name one
  // A chat conversation, an array of {"role", "content"} strings, when the record holds one
  // in the messages field instead of a text; null otherwise.
  nlohmann::json messages;
  // The extra fields the record has, as an object; null when the options name none.
  nlohmann::json fields;
  std::optional<RecordError> error;
};

// Why `text` cannot be a document (longer than `max_text_bytes`, not UTF-8, nothing but
// whitespace), or nullopt. Every reader applies it; front ends taking texts from elsewhere
// (the C API) apply it too, so a text fails the same way whichever way it comes in.
std::optional<RecordError> check_document_text(std::string_view text, size_t max_text_bytes);

struct DocumentReaderOptions {
  DocumentFormat format = DocumentFormat::jsonl;
  std::string text_field = "text";  // jsonl and csv
  std::string id_field = "id";      // jsonl and csv; absent from a record: the index is the id
  // Labelled data (`sparq eval`): the field holding the gold label, a string (or an
  // integer, taken as its decimal text). Empty: none. Missing from a record: missing_label.
  std::string label_field;
  // JSONL: a field that may hold a chat conversation instead of the text (a record with
  // both is conflicting_fields). Empty: none.
  std::string messages_field;
  // JSONL: fields whose values are handed on as they are, in Document::fields, for the job to
  // read and check (per-record settings).
  std::vector<std::string> extra_fields;
  // Documents longer than this many bytes are errors (text_too_long); the reader never
  // holds more than one record (plus this limit) in memory.
  size_t max_text_bytes = size_t{16} << 20;
};

class DocumentReader {
 public:
  // `path` "-" reads stdin. Errors (unreadable file, CSV without the text column) name the
  // file.
  static Result<std::unique_ptr<DocumentReader>> open(const std::string& path,
                                                      const DocumentReaderOptions& options);
  virtual ~DocumentReader() = default;

  // The next record, or nullopt at the end of input; an Error only for job-level failures
  // (read error).
  virtual Result<std::optional<Document>> next() = 0;
  const std::string& path() const { return path_; }
  // Bytes of the file consumed so far, compressed bytes for a .zst (for progress against
  // the file's size).
  virtual uint64_t bytes_read() const = 0;

 protected:
  std::string path_;
};

}  // namespace sparq::runtime
