// A corpus of bad records, one of every error code the document reader emits, interleaved
// with good ones, through the real `sparq classify` with the default model, for JSONL, CSV
// and plain text: exactly one output line per input record, in input order, the right code
// for each bad record, every good record classified exactly as in a run over the good
// records alone, exit status 0, and the summary's counts by code equal to the corpus's.
#include <gtest/gtest.h>
#include <zstd.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "cli_runner.h"

namespace {

using nlohmann::json;
using sparq::test::run_sparq;
using sparq::test::temp_dir;
using sparq::test::default_model_path;
using sparq::test::split_lines;

constexpr size_t kMaxTextBytes = 2000;  // --max-text-bytes for every run

struct GoodDoc {
  std::string id, text;
};

// Real documents (the model's sample set), short enough to stay under the byte limit.
std::vector<GoodDoc> good_docs(size_t n) {
  std::ifstream in(sparq::test::sample_docs_path());
  EXPECT_TRUE(in);
  std::vector<GoodDoc> docs;
  for (std::string line; docs.size() < n && std::getline(in, line);) {
    json j = json::parse(line);
    std::string text = j["text"];
    if (text.size() < kMaxTextBytes / 2) docs.push_back({j["id"], text});
  }
  return docs;
}

// What the test knows about one input record.
struct Expected {
  std::string code;          // "ok" or the error code
  std::optional<json> id;    // when the record's id is readable
  std::optional<size_t> good;  // position among the good records
};

struct Corpus {
  std::string mixed, good_only;
  std::vector<Expected> records;
  std::map<std::string, uint64_t> errors_by_code() const {
    std::map<std::string, uint64_t> counts;
    for (const auto& r : records) {
      if (r.code != "ok") ++counts[r.code];
    }
    return counts;
  }
};

// Adds good and bad records alternately; `bad` are (record bytes, code, readable id). A
// record without a readable id has its index as id; good records carry their document's id
// when `good_have_ids`.
void interleave(Corpus& c, const std::vector<std::string>& good,
                const std::vector<std::tuple<std::string, std::string, std::optional<json>>>& bad,
                const std::vector<GoodDoc>& docs, bool good_have_ids) {
  for (size_t i = 0; i < std::max(good.size(), bad.size()); ++i) {
    if (i < good.size()) {
      c.mixed += good[i];
      c.good_only += good[i];
      c.records.push_back({"ok", good_have_ids ? std::optional<json>(docs[i].id) : std::nullopt, i});
    }
    if (i < bad.size()) {
      c.mixed += std::get<0>(bad[i]);
      c.records.push_back({std::get<1>(bad[i]), std::get<2>(bad[i]), std::nullopt});
    }
  }
}

Corpus jsonl_corpus(const std::vector<GoodDoc>& docs) {
  Corpus c;
  std::vector<std::string> good;
  for (const auto& d : docs) good.push_back(json({{"id", d.id}, {"text", d.text}}).dump() + "\n");
  interleave(c, good,
             {{"{\"id\": \"bad-json\", \"text\": \n", "malformed_json", std::nullopt},
              {"[\"an\", \"array\"]\n", "not_an_object", std::nullopt},
              {"{\"id\": \"no-text\", \"body\": \"elsewhere\"}\n", "missing_field", json("no-text")},
              {"{\"id\": \"number\", \"text\": 42}\n", "not_a_string", json("number")},
              {"{\"id\": \"latin1\", \"text\": \"caf\xE9\"}\n", "invalid_utf8", std::nullopt},
              {"{\"id\": \"blank\", \"text\": \" \\n\\t \"}\n", "empty_text", json("blank")},
              {"\n{\"id\": \"long\", \"text\": \"" + std::string(kMaxTextBytes + 1, 'x') + "\"}\n", "text_too_long",
               json("long")},
              {"{\"id\": \"huge\", \"text\": \"" + std::string(100000, 'y') + "\"}\n", "text_too_long", std::nullopt},
              // Once "internal error" ending the whole job, on every resume again.
              {"{\"id\": \"overflow\", \"text\": \"x\", \"n\": 1e400}\n", "malformed_json", std::nullopt},
              {"{\"id\": \"deep\", \"text\": \"x\", \"n\": " + std::string(5000, '[') + std::string(5000, ']') + "}\n",
               "malformed_json", std::nullopt},
              {"{\"id\": \"twice\", \"text\": \"one\", \"text\": \"two\"}\n", "malformed_json", std::nullopt}},
             docs, true);
  return c;
}

std::string csv_quoted(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

Corpus csv_corpus(const std::vector<GoodDoc>& docs) {
  Corpus c;
  c.mixed = c.good_only = "\xEF\xBB\xBFid,text,extra\r\n";
  std::vector<std::string> good;
  for (const auto& d : docs) good.push_back(d.id + "," + csv_quoted(d.text) + ",x\r\n");
  std::string huge = "huge,\"" + std::string(40000, 'z') + "\n,\"\"" + std::string(40000, 'z') + "\",x\r\n";
  interleave(c, good,
             {{"bad-quote,te\"xt,x\r\n", "malformed_csv", std::nullopt},
              {"few,only two fields\r\n", "malformed_csv", std::nullopt},
              {"many,a,b,c\r\n", "malformed_csv", std::nullopt},
              {"latin1,caf\xE9,x\r\n", "invalid_utf8", json("latin1")},
              {"blank,\"  \",x\r\n", "empty_text", json("blank")},
              {"long," + std::string(kMaxTextBytes + 1, 'x') + ",x\r\n", "text_too_long", json("long")},
              {huge, "text_too_long", std::nullopt}},
             docs, true);
  // Last, without a final line break: a quote left open to the end of its own line.
  c.mixed += "open,\"unterminated to the end";
  c.records.push_back({"malformed_csv", std::nullopt, std::nullopt});
  return c;
}

Corpus txt_corpus(const std::vector<GoodDoc>& docs) {
  Corpus c;
  std::vector<std::string> good;
  for (const auto& d : docs) {
    std::string line = d.text;
    for (char& ch : line) {
      if (ch == '\n' || ch == '\r') ch = ' ';
    }
    good.push_back(line + "\n");
  }
  interleave(c, good,
             {{"caf\xE9 au lait\n", "invalid_utf8", std::nullopt},
              {"\n", "empty_text", std::nullopt},
              {" \t \r\n", "empty_text", std::nullopt},
              {std::string(kMaxTextBytes + 1, 'x') + "\n", "text_too_long", std::nullopt},
              {std::string(100000, 'y') + "\n", "text_too_long", std::nullopt}},
             docs, false);
  return c;
}

// "classified N documents in S s: A ok, B errors (n code, ...)" from the summary.
struct Summary {
  uint64_t documents = 0, ok = 0, errors = 0;
  std::map<std::string, uint64_t> by_code;
};

Summary parse_summary(const std::string& err) {
  Summary s;
  std::smatch m;
  std::regex line(R"(classified (\d+) documents in [0-9.]+ s: (\d+) ok, (\d+) errors(?: \(([^)]*)\))?)");
  EXPECT_TRUE(std::regex_search(err, m, line)) << err;
  if (m.empty()) return s;
  s.documents = std::stoull(m[1]);
  s.ok = std::stoull(m[2]);
  s.errors = std::stoull(m[3]);
  std::string codes = m[4];
  std::regex count(R"((\d+) ([a-z0-9_]+))");
  for (auto it = std::sregex_iterator(codes.begin(), codes.end(), count); it != std::sregex_iterator(); ++it) {
    s.by_code[(*it)[2]] = std::stoull((*it)[1]);
  }
  return s;
}

std::vector<json> classify(const std::string& input, const std::string& stdin_text, std::string* err = nullptr) {
  auto r = run_sparq({"classify", default_model_path(), "--input", input, "--max-text-bytes", std::to_string(kMaxTextBytes),
                      "--threads", "2", "--batch-size", "4"},
                     stdin_text);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (err) *err = r.err;
  std::vector<json> out;
  for (const std::string& line : split_lines(r.out)) out.push_back(json::parse(line));
  return out;
}

std::string zstd_compress(const std::string& bytes) {
  std::string out(ZSTD_compressBound(bytes.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), bytes.data(), bytes.size(), 3);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

void check_corpus(const Corpus& c, const std::string& ext) {
  std::string dir = temp_dir("bad_records_" + ext);
  std::string mixed_path = dir + "/mixed." + ext, good_path = dir + "/good." + ext;
  std::ofstream(mixed_path, std::ios::binary) << c.mixed;
  std::ofstream(good_path, std::ios::binary) << c.good_only;

  std::string err;
  std::vector<json> out = classify(mixed_path, "", &err);
  std::vector<json> alone = classify(good_path, "");
  ASSERT_EQ(out.size(), c.records.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const json& o = out[i];
    const Expected& e = c.records[i];
    SCOPED_TRACE("record " + std::to_string(i) + ": " + o.dump().substr(0, 300));
    if (o.contains("index")) {
      EXPECT_EQ(o["index"], i);
    }
    EXPECT_EQ(o["id"], e.id ? *e.id : json(i));
    if (e.code != "ok") {
      ASSERT_TRUE(o.contains("error"));
      EXPECT_EQ(o["error"]["code"], e.code);
      EXPECT_FALSE(o["error"]["message"].get<std::string>().empty());
      EXPECT_FALSE(o.contains("label"));
      continue;
    }
    ASSERT_FALSE(o.contains("error"));
    ASSERT_LT(*e.good, alone.size());
    const json& ref = alone[*e.good];
    for (const char* field : {"label", "score", "scores"}) EXPECT_EQ(o[field], ref[field]) << field;
  }

  Summary s = parse_summary(err);
  EXPECT_EQ(s.documents, c.records.size());
  EXPECT_EQ(s.errors, c.records.size() - alone.size());
  EXPECT_EQ(s.ok, alone.size());
  EXPECT_EQ(s.by_code, c.errors_by_code());

  // The same records from stdin, and zstd-compressed (by extension, and by magic on stdin).
  std::string zst_path = mixed_path + ".zst";
  std::ofstream(zst_path, std::ios::binary) << zstd_compress(c.mixed);
  EXPECT_EQ(classify(zst_path, ""), out);
  if (ext == "jsonl") {
    EXPECT_EQ(classify("-", c.mixed), out);
    EXPECT_EQ(classify("-", zstd_compress(c.mixed)), out);
  }
}

TEST(CliBadRecords, JsonLinesEveryCodeOneLineEachInOrder) {
  Corpus c = jsonl_corpus(good_docs(9));
  std::set<std::string> codes;
  for (const auto& r : c.records) codes.insert(r.code);
  EXPECT_EQ(codes, (std::set<std::string>{"ok", "malformed_json", "not_an_object", "missing_field", "not_a_string",
                                          "invalid_utf8", "empty_text", "text_too_long"}));
  check_corpus(c, "jsonl");
}

TEST(CliBadRecords, CsvEveryCodeOneLineEachInOrder) { check_corpus(csv_corpus(good_docs(8)), "csv"); }

TEST(CliBadRecords, PlainTextEveryCodeOneLineEachInOrder) { check_corpus(txt_corpus(good_docs(6)), "txt"); }

// A record can be skipped; a damaged compressed input cannot (what follows the damage is
// unknown): the job fails naming the file and the compressed byte offset.
TEST(CliBadRecords, TruncatedZstdInputIsAJobFailure) {
  std::string dir = temp_dir("bad_records_zst");
  Corpus c = jsonl_corpus(good_docs(9));
  std::string compressed = zstd_compress(c.mixed);
  std::string path = dir + "/cut.jsonl.zst";
  std::ofstream(path, std::ios::binary) << compressed.substr(0, compressed.size() - 10);
  auto r = run_sparq({"classify", default_model_path(), "--input", path});
  EXPECT_EQ(r.exit_code, 2) << r.err;  // ErrorKind::invalid_input
  EXPECT_NE(r.err.find(path + ": truncated zstd data"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("compressed byte " + std::to_string(compressed.size() - 10)), std::string::npos) << r.err;
}

// An unterminated quote swallows every line after it (1,001 rows once gave 1 record and exit
// 0): the job fails naming the line where the quote opened.
TEST(CliBadRecords, UnterminatedCsvQuoteFailsTheJobNamingItsLine) {
  std::string dir = temp_dir("bad_records_csv_quote");
  std::string csv = "id,text\nr0,first row\nr1,\"opens here\n";
  for (int i = 2; i <= 1000; ++i) csv += "r" + std::to_string(i) + ",row number " + std::to_string(i) + "\n";
  std::ofstream(dir + "/rows.csv", std::ios::binary) << csv;
  auto r = run_sparq({"classify", default_model_path(), "--input", dir + "/rows.csv", "-o", dir + "/out.jsonl"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("rows.csv: line 3: a quoted field opens here and is never closed; the 999 lines after it"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::ifstream(dir + "/out.jsonl").good()) << "no output may look complete";
}

// missing_label is the one code only labelled reading (`sparq eval`) can emit.
TEST(CliBadRecords, MissingLabelInEvalPredictions) {
  std::string dir = temp_dir("bad_records_eval");
  std::vector<GoodDoc> docs = good_docs(4);
  std::string input;
  std::vector<std::string> expected;
  for (size_t i = 0; i < docs.size(); ++i) {
    input += json({{"id", docs[i].id}, {"text", docs[i].text}, {"label", "misc"}}).dump() + "\n";
    expected.push_back("ok");
    input += i % 2 ? json({{"id", "unlabelled"}, {"text", docs[i].text}}).dump() + "\n"
                   : json({{"id", "array-label"}, {"text", docs[i].text}, {"label", {1, 2}}}).dump() + "\n";
    expected.push_back("missing_label");
  }
  std::ofstream(dir + "/labelled.jsonl") << input;
  auto r = run_sparq({"eval", default_model_path(), "--input", dir + "/labelled.jsonl", "--predictions", dir + "/predictions.jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(dir + "/predictions.jsonl");
  std::vector<std::string> codes;
  for (std::string line; std::getline(in, line);) {
    json o = json::parse(line);
    codes.push_back(o.contains("error") ? o["error"]["code"].get<std::string>() : "ok");
  }
  EXPECT_EQ(codes, expected);
}

}  // namespace
