// sparq tokenize: token ids (and type ids) of each input record, one JSON line per record,
// with the tokenizer of a .sparq model or a Hugging Face tokenizer.json; with --decode, the
// text of each record's ids. A record that cannot be tokenized (or decoded) gets an
// {"error": ...} line and the job goes on.
#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <utility>

#include "formats/input_file.h"
#include "formats/sparq_reader.h"
#include "runtime/text/tokenizer.h"
#include "runtime/text/tokenizer_stream.h"
#include "tools/command.h"
#include "tools/job_options.h"

namespace sparq::tools {
namespace {

struct TokenizeArgs {
  std::string model;
  std::string input = "-";
  std::string output = "-";
  std::string format = "auto";
  std::string text_field = "text";
  std::string pair_field;
  size_t max_length = 0;
  bool tokens = false, quiet = false, json = false;
  bool decode = false, skip_special_tokens = false, clean_up_spaces = false, stream = false;
  std::string ids_field = "ids";
};

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Result<std::shared_ptr<const runtime::Tokenizer>> load_tokenizer(const std::string& path) {
  nlohmann::json tokenizer_json;
  if (ends_with(path, ".json")) {
    Result<nlohmann::json> parsed = formats::load_json_file(path, {.max_depth = 64, .max_bytes = size_t{256} << 20});
    if (!parsed) return parsed.error();
    tokenizer_json = std::move(*parsed);
  } else {
    auto reader = formats::SparqReader::open(path);
    if (!reader) return reader.error();
    const auto& meta = (*reader)->metadata();
    if (!meta.contains("tokenizer")) return Error(path + ": metadata has no \"tokenizer\"");
    tokenizer_json = meta["tokenizer"];
  }
  auto tokenizer = runtime::Tokenizer::from_json(tokenizer_json);
  if (!tokenizer) return tokenizer.error().within(path);
  return tokenizer;
}

// The text (and pair text) of one input line.
struct Record {
  std::string text, pair;
  bool has_pair = false;
};

Result<Record> parse_record(const std::string& line, bool jsonl, const TokenizeArgs& a) {
  Record r;
  if (!jsonl) {
    r.text = line;
    return r;
  }
  Result<nlohmann::json> parsed = formats::parse_json(line, "malformed JSON", {.max_depth = 32});
  if (!parsed) return parsed.error();
  const nlohmann::json& j = *parsed;
  auto field = [&j](const std::string& name, std::string& out) -> Status {
    if (!j.is_object() || !j.contains(name)) return Error("missing field \"" + name + "\"");
    if (!j[name].is_string()) return Error("field \"" + name + "\" is not a string");
    out = j[name].get<std::string>();
    return {};
  };
  if (Status s = field(a.text_field, r.text); !s) return s.error();
  if (!a.pair_field.empty()) {
    if (Status s = field(a.pair_field, r.pair); !s) return s.error();
    r.has_pair = true;
  }
  return r;
}

std::string encoding_line(const runtime::Encoding& e, const runtime::Tokenizer& t, bool tokens) {
  nlohmann::json out = {{"ids", e.ids}, {"type_ids", e.type_ids}};
  if (tokens) {
    nlohmann::json names = nlohmann::json::array();
    for (int32_t id : e.ids) names.push_back(t.id_to_token(id));
    out["tokens"] = std::move(names);
  }
  if (e.truncated_tokens) out["truncated_tokens"] = e.truncated_tokens;
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// One input record's output line, counting its tokens.
Result<std::string> encode_line(const std::string& line, bool jsonl, const TokenizeArgs& a, const runtime::Tokenizer& t,
                                uint64_t& tokens) {
  auto record = parse_record(line, jsonl, a);
  if (!record) return record.error();
  auto encoding = record->has_pair ? t.encode_pair(record->text, record->pair, a.max_length)
                                   : t.encode(record->text, a.max_length);
  if (!encoding) return encoding.error();
  tokens += encoding->ids.size();
  return encoding_line(*encoding, t, a.tokens);
}

// --decode: the ids of one JSONL record back to text, through decode() or, with --stream, the
// streaming detokenizer `sparq generate` uses (its pieces joined).
Result<std::string> decode_line(const std::string& line, const std::shared_ptr<const runtime::Tokenizer>& t,
                                const TokenizeArgs& a) {
  Result<nlohmann::json> parsed = formats::parse_json(line, "malformed JSON", {.max_depth = 32});
  if (!parsed) return parsed.error();
  const nlohmann::json& j = *parsed;
  if (!j.is_object() || !j.contains(a.ids_field) || !j[a.ids_field].is_array()) {
    return Error("field \"" + a.ids_field + "\" is missing or not an array");
  }
  std::vector<int32_t> ids;
  for (const auto& id : j[a.ids_field]) {
    // A JSON integer is stored as uint64 or int64; std::in_range compares either without a wrap.
    const bool in_range = id.is_number_unsigned() ? std::in_range<int32_t>(id.get<uint64_t>())
                          : id.is_number_integer() ? std::in_range<int32_t>(id.get<int64_t>())
                                                   : false;
    if (!in_range) {
      return Error("field \"" + a.ids_field + "\": expected integer ids, got " + id.dump());
    }
    ids.push_back(id.get<int32_t>());
  }
  std::string text;
  if (a.stream) {
    runtime::StreamingDetokenizer stream(t, a.skip_special_tokens);
    for (int32_t id : ids) text += stream.push(id);
    text += stream.finish();
  } else {
    text = t->decode(ids, a.skip_special_tokens, a.clean_up_spaces);
  }
  return nlohmann::json{{"text", text}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Status run_tokenize(const TokenizeArgs& a) {
  if (Status s = check_json_output(a.json, a.output); !s) return s;
  auto tokenizer = load_tokenizer(a.model);
  if (!tokenizer) return tokenizer.error();
  const runtime::Tokenizer& t = **tokenizer;

  bool jsonl;
  if (a.format == "jsonl" || a.format == "txt") {
    jsonl = a.format == "jsonl";
  } else if (a.format == "auto") {
    jsonl = !ends_with(a.input, ".txt");
  } else {
    return Error("--format: expected jsonl, txt or auto, not '" + a.format + "'", ErrorKind::invalid_argument);
  }
  if (!jsonl && !a.pair_field.empty()) return Error("--pair-field needs JSONL input", ErrorKind::invalid_argument);
  if (a.decode && !jsonl) return Error("--decode needs JSONL input", ErrorKind::invalid_argument);
  if (!a.decode && (a.skip_special_tokens || a.clean_up_spaces || a.stream)) {
    return Error("--skip-special-tokens, --clean-up-spaces and --stream need --decode", ErrorKind::invalid_argument);
  }
  if (a.clean_up_spaces && a.stream) {
    return Error("--clean-up-spaces cannot stream (it looks at the text on both sides of a token)",
                 ErrorKind::invalid_argument);
  }

  std::ifstream file;
  if (a.input != "-") {
    file.open(a.input, std::ios::binary);
    if (!file) return Error(a.input + ": cannot open");
  }
  std::istream& in = a.input == "-" ? std::cin : file;
  std::FILE* out = a.output == "-" ? stdout : std::fopen(a.output.c_str(), "wb");
  if (!out) return Error(a.output + ": cannot open for writing");

  uint64_t records = 0, failed = 0, tokens = 0;
  std::string line, buffer;
  for (size_t line_no = 1; std::getline(in, line); ++line_no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (jsonl && line.find_first_not_of(" \t") == std::string::npos) continue;
    ++records;
    Result<std::string> result = a.decode ? decode_line(line, *tokenizer, a) : encode_line(line, jsonl, a, t, tokens);
    if (result) {
      buffer += *result;
    } else {
      ++failed;
      nlohmann::json err = {{"error", {{"line", line_no}, {"message", result.error().message()}}}};
      buffer += err.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    buffer += '\n';
    if (buffer.size() > (1u << 16)) {
      std::fwrite(buffer.data(), 1, buffer.size(), out);
      buffer.clear();
    }
  }
  std::fwrite(buffer.data(), 1, buffer.size(), out);
  bool write_failed = std::ferror(out) != 0;
  if (out != stdout) write_failed |= std::fclose(out) != 0;
  if (write_failed) return Error(a.output + ": write failed");
  if (in.bad()) return Error(a.input + ": read failed");
  if (a.json) {
    nlohmann::ordered_json j = {{"input", a.input}, {"output", a.output}, {"tokenizer", t.kind()},
                                {"records", records}, {"ok", records - failed}, {"errors", failed},
                                {"tokens", tokens}};
    fmt::print("{}\n", j.dump(2));
  } else if (!a.quiet) {
    fmt::print(stderr, "sparq tokenize: {} records, {} errors, {} tokens ({} tokenizer)\n", records, failed, tokens,
               t.kind());
  }
  return {};
}

}  // namespace

Command add_tokenize_command(CLI::App& parent) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* app = parent.add_subcommand(
      "tokenize",
      "Tokenize text with the tokenizer of a model (MODEL.sparq or tokenizer.json): one JSON line {\"ids\", "
      "\"type_ids\"} per input record, or {\"error\": {\"line\", \"message\"}} for a record that cannot be "
      "tokenized. A summary goes to stderr, or with --json to stdout.");
  app->add_option("model", args->model, "MODEL.sparq or a Hugging Face tokenizer.json")->required();
  app->add_option("--input,-i", args->input, "JSONL or text file, one record per line, or - for stdin")
      ->capture_default_str();
  app->add_option("--output,-o", args->output, "Where the JSON lines go: a file, or - for stdout")
      ->capture_default_str();
  app->add_option("--format", args->format, "Input format: jsonl, txt or auto (from the extension)")
      ->capture_default_str();
  app->add_option("--text-field", args->text_field, "JSONL field holding the text")->capture_default_str();
  app->add_option("--pair-field", args->pair_field, "JSONL field holding the second text of a pair");
  app->add_option("--max-length", args->max_length, "Truncate to this many tokens in total (0: no limit)");
  app->add_flag("--tokens", args->tokens, "Also write the token strings");
  app->add_flag("--decode", args->decode,
                "Decode instead: each JSONL record's ids (--ids-field) back to text, one {\"text\"} line per record");
  app->add_option("--ids-field", args->ids_field, "With --decode: JSONL field holding the ids")->capture_default_str();
  app->add_flag("--skip-special-tokens", args->skip_special_tokens, "With --decode: leave special tokens out");
  app->add_flag("--clean-up-spaces", args->clean_up_spaces,
                "With --decode: Hugging Face's clean_up_tokenization_spaces (\" .\" -> \".\", \" 's\" -> \"'s\", ...)");
  app->add_flag("--stream", args->stream,
                "With --decode: through the streaming detokenizer of `sparq generate`, one id at a time");
  app->add_flag("--quiet,-q", args->quiet, "No summary on stderr");
  add_json_flag(app, &args->json, "the summary (records, errors, tokens, output path; needs -o FILE)");
  return {app, [args] { return run_tokenize(*args); }};
}

}  // namespace sparq::tools
