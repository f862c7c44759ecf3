// Every input record becomes exactly one Document, in order; bad records carry an error
// code instead of stopping the reader.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <fstream>

#include "cli_runner.h"
#include "runtime/jobs/document_reader.h"

namespace sparq::runtime {
namespace {

// Each call starts a fresh directory: read a file before writing the next.
std::string write_file(const std::string& name, const std::string& bytes) {
  std::string path = test::temp_dir("document_reader") + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::vector<Document> read_all(const std::string& path, DocumentReaderOptions o) {
  auto reader = DocumentReader::open(path, o);
  EXPECT_TRUE(reader) << reader.error().message();
  std::vector<Document> docs;
  if (!reader) return docs;
  for (;;) {
    auto d = (*reader)->next();
    EXPECT_TRUE(d);
    if (!d || !*d) break;
    docs.push_back(std::move(**d));
  }
  return docs;
}

std::string code_of(const Document& d) { return d.error ? d.error->code : "ok"; }

// What a record is to the job: compared field by field between two readings.
std::string describe(const Document& d) {
  return std::to_string(d.index) + "|" + std::to_string(d.line) + "|" + d.id.dump() + "|" + d.text + "|" + code_of(d);
}

std::vector<std::string> describe_all(const std::vector<Document>& docs) {
  std::vector<std::string> out;
  for (const auto& d : docs) out.push_back(describe(d));
  return out;
}

// One zstd frame per piece, with the content checksum the zstd tool writes by default.
std::string zstd_frames(const std::string& bytes, std::vector<size_t> cuts = {}) {
  cuts.insert(cuts.begin(), 0);
  cuts.push_back(bytes.size());
  std::string out;
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 3);
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {
    std::string frame(ZSTD_compressBound(cuts[i + 1] - cuts[i]), '\0');
    size_t n = ZSTD_compress2(cctx, frame.data(), frame.size(), bytes.data() + cuts[i], cuts[i + 1] - cuts[i]);
    EXPECT_FALSE(ZSTD_isError(n)) << ZSTD_getErrorName(n);
    out += frame.substr(0, n);
  }
  ZSTD_freeCCtx(cctx);
  return out;
}

// Every record of a reader, then the job-level error that ended it, if any.
struct Reading {
  std::vector<Document> docs;
  std::optional<Error> error;
  uint64_t bytes_read = 0;
};

Reading read_until_error(const std::string& path, DocumentReaderOptions o) {
  Reading r;
  auto reader = DocumentReader::open(path, o);
  if (!reader) {
    r.error = reader.error();
    return r;
  }
  for (;;) {
    auto d = (*reader)->next();
    if (!d) {
      r.error = d.error();
      break;
    }
    if (!*d) break;
    r.docs.push_back(std::move(**d));
  }
  r.bytes_read = (*reader)->bytes_read();
  return r;
}

// The decimal number after `marker` in `message`.
uint64_t number_after(const std::string& message, const std::string& marker) {
  size_t at = message.find(marker);
  EXPECT_NE(at, std::string::npos) << message;
  return at == std::string::npos ? 0 : std::stoull(message.substr(at + marker.size()));
}

// Good and bad records of each format, long enough to cross the reader's and the
// decoder's buffers several times.
std::string sample(DocumentFormat format) {
  std::string out;
  if (format == DocumentFormat::csv) out = "\xEF\xBB\xBFid,text\r\n";
  for (int i = 0; i < 3000; ++i) {
    std::string text = "document " + std::to_string(i) + " " + std::string(size_t(i % 97), 'a' + char(i % 26));
    switch (format) {
      case DocumentFormat::jsonl:
        out += i % 50 == 7 ? "{\"id\": " + std::to_string(i) + ", \"text\": \n"
                           : "{\"id\": " + std::to_string(i) + ", \"text\": \"" + text + "\"}\n";
        break;
      case DocumentFormat::csv:
        out += i % 50 == 7 ? std::to_string(i) + ",\"two\nlines, \"\"quoted\"\"\"\r\n"
                           : std::to_string(i) + "," + text + "\r\n";
        break;
      case DocumentFormat::txt:
        out += i % 50 == 7 ? "\n" : text + "\n";
        break;
    }
  }
  return out;
}

TEST(DocumentReader, JsonLinesRecordsAndErrorsInOrder) {
  std::string bytes =
      "\xEF\xBB\xBF{\"id\": \"a\", \"text\": \"first\"}\r\n"
      "{\"text\": \"no id\"}\n"
      "\n"
      "{\"id\": 7, \"text\": \"bad json\"\n"
      "[1, 2]\n"
      "{\"id\": \"m\"}\n"
      "{\"id\": \"n\", \"text\": 42}\n"
      "{\"id\": \"u\", \"text\": \"caf\xC3\"}\n"
      "{\"id\": \"e\", \"text\": \"  \"}\n"
      "{\"id\": \"b\", \"body\": \"other field\"}";
  DocumentReaderOptions o;
  auto docs = read_all(write_file("mixed.jsonl", bytes), o);
  ASSERT_EQ(docs.size(), 9u);  // the blank line is not a record
  std::vector<std::string> codes;
  for (const auto& d : docs) codes.push_back(code_of(d));
  EXPECT_EQ(codes, (std::vector<std::string>{"ok", "ok", "malformed_json", "not_an_object", "missing_field",
                                             "not_a_string", "invalid_utf8", "empty_text", "missing_field"}));
  EXPECT_EQ(docs[0].id, "a");
  EXPECT_EQ(docs[0].text, "first");
  EXPECT_EQ(docs[1].id, 1);  // no id field: the record index
  EXPECT_EQ(docs[2].line, 4u);
  for (size_t i = 0; i < docs.size(); ++i) EXPECT_EQ(docs[i].index, i);

  o.text_field = "body";
  auto other = read_all(write_file("mixed.jsonl", bytes), o);
  EXPECT_EQ(code_of(other.back()), "ok");
  EXPECT_EQ(other.back().text, "other field");
}

// Prompts for a generation job: a text or a conversation, and per-record fields handed on.
TEST(DocumentReader, JsonLinesConversationsAndExtraFields) {
  const std::string bytes =
      "{\"id\": \"t\", \"prompt\": \"hi\", \"seed\": 3, \"other\": 1}\n"
      "{\"id\": \"c\", \"messages\": [{\"role\": \"user\", \"content\": \"hello\", \"name\": \"x\"}],"
      " \"stop\": \"\\n\"}\n"
      "{\"id\": \"both\", \"prompt\": \"hi\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}\n"
      "{\"id\": \"neither\"}\n"
      "{\"messages\": {\"role\": \"user\"}}\n"
      "{\"messages\": []}\n"
      "{\"messages\": [\"hello\"]}\n"
      "{\"messages\": [{\"role\": \"user\", \"content\": 5}]}\n"
      "{\"messages\": [{\"content\": \"x\"}]}\n"
      "{\"messages\": [{\"role\": \"user\", \"content\": \"" + std::string(40, 'a') + "\"}]}\n";
  DocumentReaderOptions o;
  o.text_field = "prompt";
  o.messages_field = "messages";
  o.extra_fields = {"seed", "stop"};
  o.max_text_bytes = 32;
  auto docs = read_all(write_file("prompts.jsonl", bytes), o);
  std::vector<std::string> codes;
  for (const auto& d : docs) codes.push_back(code_of(d));
  EXPECT_EQ(codes, (std::vector<std::string>{"ok", "ok", "conflicting_fields", "missing_field", "malformed_messages",
                                             "malformed_messages", "malformed_messages", "malformed_messages",
                                             "malformed_messages", "text_too_long"}));
  EXPECT_EQ(docs[0].text, "hi");
  EXPECT_TRUE(docs[0].messages.is_null());
  EXPECT_EQ(docs[0].fields, nlohmann::json({{"seed", 3}})) << "only the fields asked for";
  EXPECT_EQ(docs[1].text, "");
  EXPECT_EQ(docs[1].messages, nlohmann::json::parse(R"([{"role": "user", "content": "hello", "name": "x"}])"));
  EXPECT_EQ(docs[1].fields, nlohmann::json({{"stop", "\n"}}));
  for (const auto& [i, message] : std::vector<std::pair<size_t, std::string>>{
           {2, "line 3: both \"prompt\" and \"messages\""},
           {3, "line 4: no field \"prompt\" (or \"messages\")"},
           {4, "line 5: \"messages\": expected an array of messages, got object"},
           {5, "line 6: \"messages\": no messages"},
           {6, "line 7: \"messages\": message 0 is string, not an object"},
           {7, "line 8: \"messages\": message 0: \"content\" is number, not a string"},
           {8, "line 9: \"messages\": message 0 has no \"role\""},
       }) {
    EXPECT_NE(docs[i].error->message.find(message), std::string::npos) << docs[i].error->message;
    EXPECT_TRUE(docs[i].messages.is_null()) << i;
  }

  // Without a messages field a conversation is no prompt; without extra fields none are kept.
  DocumentReaderOptions prompt_only;
  prompt_only.text_field = "prompt";
  auto plain = read_all(write_file("prompts.jsonl", bytes), prompt_only);
  EXPECT_EQ(code_of(plain[1]), "missing_field");
  EXPECT_EQ(code_of(plain[2]), "ok");
  EXPECT_TRUE(plain[0].fields.is_null());
}

TEST(DocumentReader, OverlongRecordIsAnErrorAndTheNextRecordIsIntact) {
  DocumentReaderOptions o;
  o.max_text_bytes = 1000;
  std::string huge(100000, 'x');
  auto docs = read_all(write_file("long.jsonl", "{\"text\": \"" + huge + "\"}\n{\"text\": \"" + std::string(1001, 'y') +
                                                    "\"}\n{\"text\": \"after\"}\n"),
                       o);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(code_of(docs[0]), "text_too_long");
  EXPECT_EQ(code_of(docs[1]), "text_too_long");
  EXPECT_EQ(docs[2].text, "after");

  o.format = DocumentFormat::txt;
  auto lines = read_all(write_file("long.txt", huge + "\nshort\n"), o);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(code_of(lines[0]), "text_too_long");
  EXPECT_LE(lines[0].text.size(), 1001u);  // never held whole
  EXPECT_EQ(lines[1].text, "short");
}

TEST(DocumentReader, CsvQuotesNewlinesAndBom) {
  std::string bytes =
      "\xEF\xBB\xBFid,text,extra\r\n"
      "1,plain,x\r\n"
      "2,\"with, comma and \"\"quotes\"\"\",x\n"
      "3,\"two\nlines\",x\n"
      "4,\"\",x\n"
      "5,too,many,fields\n"
      "6,bad\"quote,x\n"
      "7,\"unterminated,x\n";
  DocumentReaderOptions o;
  o.format = DocumentFormat::csv;
  auto docs = read_all(write_file("docs.csv", bytes), o);
  ASSERT_EQ(docs.size(), 7u);
  EXPECT_EQ(docs[0].id, "1");
  EXPECT_EQ(docs[0].text, "plain");
  EXPECT_EQ(docs[1].text, "with, comma and \"quotes\"");
  EXPECT_EQ(docs[2].text, "two\nlines");
  EXPECT_EQ(docs[3].line, 6u);  // header, 1, 2, then 3 spans lines 4-5
  EXPECT_EQ(code_of(docs[3]), "empty_text");
  EXPECT_EQ(code_of(docs[4]), "malformed_csv");
  EXPECT_EQ(code_of(docs[5]), "malformed_csv");
  EXPECT_EQ(code_of(docs[6]), "malformed_csv");
}

TEST(DocumentReader, CsvWithoutTheTextColumnIsRefusedNamingTheFile) {
  DocumentReaderOptions o;
  o.format = DocumentFormat::csv;
  std::string path = write_file("nocol.csv", "id,body\n1,x\n");
  auto reader = DocumentReader::open(path, o);
  ASSERT_FALSE(reader);
  EXPECT_NE(reader.error().message().find(path), std::string::npos);
  EXPECT_NE(reader.error().message().find("\"text\""), std::string::npos);
}

TEST(DocumentReader, PlainTextOneDocumentPerLine) {
  DocumentReaderOptions o;
  o.format = DocumentFormat::txt;
  auto docs = read_all(write_file("docs.txt", "alpha\r\n\nbeta\ngamma"), o);
  ASSERT_EQ(docs.size(), 4u);
  EXPECT_EQ(docs[0].text, "alpha");
  EXPECT_EQ(code_of(docs[1]), "empty_text");
  EXPECT_EQ(docs[3].text, "gamma");
  EXPECT_EQ(docs[3].id, 3);
}

TEST(DocumentReader, FormatFromExtensionAndMissingFile) {
  EXPECT_EQ(*parse_document_format("auto", "x.csv"), DocumentFormat::csv);
  EXPECT_EQ(*parse_document_format("auto", "x.txt"), DocumentFormat::txt);
  EXPECT_EQ(*parse_document_format("auto", "-"), DocumentFormat::jsonl);
  EXPECT_FALSE(parse_document_format("xml", "x"));
  auto r = DocumentReader::open("/nonexistent/docs.jsonl", {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("/nonexistent/docs.jsonl"), std::string::npos);
}

TEST(DocumentReader, ZstdInputReadsLikeTheUncompressedFileInEachFormat) {
  const std::pair<DocumentFormat, const char*> formats[] = {
      {DocumentFormat::jsonl, "jsonl"}, {DocumentFormat::csv, "csv"}, {DocumentFormat::txt, "txt"}};
  for (const auto& [format, ext] : formats) {
    SCOPED_TRACE(ext);
    std::string bytes = sample(format);
    DocumentReaderOptions o;
    o.format = *parse_document_format("auto", std::string("docs.") + ext + ".zst");
    ASSERT_EQ(o.format, format);
    std::vector<std::string> plain = describe_all(read_all(write_file(std::string("docs.") + ext, bytes), o));
    ASSERT_EQ(plain.size(), 3000u);

    std::string one_frame = zstd_frames(bytes);
    std::string zst = write_file(std::string("docs.") + ext + ".zst", one_frame);
    Reading r = read_until_error(zst, o);
    ASSERT_FALSE(r.error) << r.error->message();
    EXPECT_EQ(describe_all(r.docs), plain);
    EXPECT_EQ(r.bytes_read, one_frame.size());  // compressed bytes: progress against the file size

    // Frames cut anywhere (inside a record, inside the byte order mark) are one stream.
    std::string frames = zstd_frames(bytes, {1, 2, 777, 65536, bytes.size() / 2});
    EXPECT_EQ(describe_all(read_all(write_file(std::string("frames.") + ext + ".zst", frames), o)), plain);

    // No .zst extension: recognised by the zstd magic.
    EXPECT_EQ(describe_all(read_all(write_file("docs.bin", one_frame), o)), plain);
  }
}

TEST(DocumentReader, ZstdOnStdinIsRecognisedByItsMagic) {
  std::string bytes = sample(DocumentFormat::jsonl);
  DocumentReaderOptions o;
  std::vector<std::string> expected = describe_all(read_all(write_file("stdin.jsonl", bytes), o));
  std::string path = write_file("stdin.jsonl.zst", zstd_frames(bytes, {100}));
  int saved = dup(STDIN_FILENO);
  int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  dup2(fd, STDIN_FILENO);
  close(fd);
  std::vector<std::string> got = describe_all(read_all("-", o));
  dup2(saved, STDIN_FILENO);
  close(saved);
  EXPECT_EQ(got, expected);
}

TEST(DocumentReader, CorruptZstdIsAJobErrorNamingTheFileAndOffset) {
  std::string bytes = sample(DocumentFormat::txt);
  std::string compressed = zstd_frames(bytes);
  DocumentReaderOptions o;
  o.format = DocumentFormat::txt;

  // A flipped byte in the middle: the checksum (or the block structure) catches it no
  // earlier than the flipped byte and no later than the end of the frame.
  std::string corrupt = compressed;
  size_t flipped = corrupt.size() / 2;
  corrupt[flipped] = char(corrupt[flipped] ^ 0x5A);
  std::string path = write_file("corrupt.txt.zst", corrupt);
  Reading r = read_until_error(path, o);
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->message().find(path), std::string::npos) << r.error->message();
  EXPECT_NE(r.error->message().find("corrupt zstd data"), std::string::npos) << r.error->message();
  uint64_t at = number_after(r.error->message(), "compressed byte ");
  EXPECT_GE(at, flipped);
  EXPECT_LE(at, corrupt.size());
  EXPECT_LT(r.docs.size(), 3000u);

  // Not zstd at all behind a .zst name: refused at the first bytes.
  std::string garbage = write_file("garbage.txt.zst", "hello, this is not zstd\n");
  Reading g = read_until_error(garbage, o);
  ASSERT_TRUE(g.error);
  EXPECT_NE(g.error->message().find(garbage), std::string::npos);
  EXPECT_LE(number_after(g.error->message(), "compressed byte "), 24u);
  EXPECT_TRUE(g.docs.empty());
}

TEST(DocumentReader, TruncatedZstdIsAJobErrorAfterTheRecordsBeforeTheCut) {
  std::string bytes = sample(DocumentFormat::txt);
  std::string compressed = zstd_frames(bytes, {bytes.size() / 2});
  DocumentReaderOptions o;
  o.format = DocumentFormat::txt;
  std::vector<std::string> whole = describe_all(read_all(write_file("whole.txt", bytes), o));
  for (size_t cut : {compressed.size() - 1, compressed.size() * 3 / 4, size_t{3}}) {
    SCOPED_TRACE(cut);
    std::string path = write_file("truncated.txt.zst", compressed.substr(0, cut));
    Reading r = read_until_error(path, o);
    ASSERT_TRUE(r.error);
    EXPECT_NE(r.error->message().find(path), std::string::npos) << r.error->message();
    EXPECT_NE(r.error->message().find("truncated"), std::string::npos) << r.error->message();
    EXPECT_EQ(number_after(r.error->message(), "compressed byte "), cut);  // all of the file was read
    // The records before the cut are intact and in order; a line cut short is not one.
    // (Cut in the last frame's checksum, every record may have been decoded.)
    ASSERT_LE(r.docs.size(), whole.size());
    if (cut <= compressed.size() * 3 / 4) {
      EXPECT_LT(r.docs.size(), whole.size());
    }
    for (size_t i = 0; i < r.docs.size(); ++i) EXPECT_EQ(describe(r.docs[i]), whole[i]);
  }
}

// A quote never closed swallows the lines after it, and the records they held cannot be
// told apart any more: the reader fails, naming where the quote opened.
TEST(DocumentReader, CsvQuoteOpenAcrossLinesToTheEndIsAReadError) {
  DocumentReaderOptions o;
  o.format = DocumentFormat::csv;
  const std::string path = write_file("open_quote.csv", "id,text\n1,fine\n2,\"opens\n3,lost\n4,lost too\n");
  auto reader = DocumentReader::open(path, o);
  ASSERT_TRUE(reader) << reader.error().message();
  auto first = (*reader)->next();
  ASSERT_TRUE(first && *first);
  EXPECT_EQ((*first)->text, "fine");
  auto second = (*reader)->next();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().message(), path + ": line 3: a quoted field opens here and is never closed; the 2 lines "
                                              "after it were read into it, so records would be missing");
}

TEST(DocumentReader, CsvEdgeCasesOfRfc4180) {
  // Expected values by hand from RFC 4180: quoted header names, the text column not first,
  // no id column, doubled quotes, CRLF and LF inside quotes kept as they are, empty fields,
  // blank lines between records, rows with too few or too many fields, and a quote left
  // open on the last line of a file that has no final line break.
  std::string bytes =
      "\xEF\xBB\xBF\"lang\",\"the \"\"text\"\"\",\"note\"\r\n"
      "en,\"say \"\"hi\"\"\",\r\n"
      "\r\n"
      ",\"crlf\r\ninside\",\"\"\n"
      "\n"
      "de,\"lf\ninside, with comma\",x\n"
      "fr,too few\n"
      "it,too,many,fields,here\n"
      "es,\"\"\"quoted\"\" start\",\"\"\n"
      "pt,last,\"open quote running to the end";
  DocumentReaderOptions o;
  o.format = DocumentFormat::csv;
  o.text_field = "the \"text\"";
  auto docs = read_all(write_file("edge.csv", bytes), o);
  ASSERT_EQ(docs.size(), 7u);
  std::vector<std::string> codes;
  for (const auto& d : docs) codes.push_back(code_of(d));
  EXPECT_EQ(codes, (std::vector<std::string>{"ok", "ok", "ok", "malformed_csv", "malformed_csv", "ok",
                                             "malformed_csv"}));
  EXPECT_EQ(docs[0].text, "say \"hi\"");
  EXPECT_EQ(docs[0].id, 0);  // no id column: the record index
  EXPECT_EQ(docs[1].text, "crlf\r\ninside");
  EXPECT_EQ(docs[2].text, "lf\ninside, with comma");
  EXPECT_EQ(docs[5].text, "\"quoted\" start");
  std::vector<uint64_t> lines;
  for (const auto& d : docs) lines.push_back(d.line);
  EXPECT_EQ(lines, (std::vector<uint64_t>{2, 4, 7, 9, 10, 11, 12}));
  for (size_t i = 0; i < docs.size(); ++i) EXPECT_EQ(docs[i].index, i);

  // The id column named by the options; an empty id field is an empty id.
  o.id_field = "lang";
  auto with_ids = read_all(write_file("edge.csv", bytes), o);
  ASSERT_EQ(with_ids.size(), 7u);
  EXPECT_EQ(with_ids[0].id, "en");
  EXPECT_EQ(with_ids[1].id, "");
}

TEST(DocumentReader, OverlongCsvRecordIsSkippedWholeWithoutBeingHeld) {
  DocumentReaderOptions o;
  o.format = DocumentFormat::csv;
  o.max_text_bytes = 1000;
  // Quoted, with commas, quotes and line breaks that must not end the record early; then
  // one with far more fields than the header (each would be a string if it were kept).
  std::string quoted;
  for (int i = 0; i < 20000; ++i) quoted += i % 7 ? "x, \"\"y\"\"\n" : "\r\n";
  std::string bytes = "id,text\n1,\"" + quoted + "\"\n2," + std::string(100000, ',') + "\n3,after\n";
  auto docs = read_all(write_file("long.csv", bytes), o);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(code_of(docs[0]), "text_too_long");
  EXPECT_TRUE(docs[0].text.empty());
  EXPECT_EQ(code_of(docs[1]), "malformed_csv");
  EXPECT_EQ(docs[2].text, "after");
  EXPECT_EQ(docs[2].id, "3");
}

}  // namespace
}  // namespace sparq::runtime
