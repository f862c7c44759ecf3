// Every input record becomes exactly one Document, in order; bad records carry an error
// code instead of stopping the reader.
#include <gtest/gtest.h>

#include <fstream>

#include "cli_runner.h"
#include "runtime/document_reader.h"

namespace sparq::runtime {
namespace {

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

}  // namespace
}  // namespace sparq::runtime
