// ChatTemplate against @huggingface/jinja (transformers.js's template engine): every fixture
// template of tests/text/chat_templates over every conversation, byte for byte, and an error
// wherever the reference throws (ctest's text.chat_templates_match_huggingface_jinja runs
// the reference first, tests/text/render_chat_templates.mjs). Also: errors name the line and
// column, and hostile templates are refused or stopped rather than hanging or crashing.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "formats/input_file.h"
#include "runtime/text/chat_template.h"

namespace sparq::runtime {
namespace {

const std::string kFixtures = std::string(SPARQ_SOURCE_DIR) + "/tests/text/chat_templates/";

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ChatTemplateReference, MatchesHuggingFaceJinja) {
  const char* dump = std::getenv("SPARQ_CHAT_TEMPLATE_REFERENCE");
  if (dump == nullptr) {
    GTEST_SKIP() << "SPARQ_CHAT_TEMPLATE_REFERENCE unset: ctest's text.chat_templates_match_huggingface_jinja runs "
                    "this with @huggingface/jinja's renders of the fixtures";
  }
  // strftime_now reads local time in both implementations; the reference ran with TZ=UTC.
  setenv("TZ", "UTC", 1);
  tzset();
  using formats::load_json_file;
  auto reference = load_json_file(dump);
  ASSERT_TRUE(reference.ok()) << reference.error().message();
  auto manifest = load_json_file(kFixtures + "templates.json");
  ASSERT_TRUE(manifest.ok()) << manifest.error().message();
  auto conversations = load_json_file(kFixtures + "conversations.json");
  ASSERT_TRUE(conversations.ok()) << conversations.error().message();

  std::map<std::string, nlohmann::json> messages_by_name;
  for (const auto& c : (*conversations)["conversations"]) messages_by_name[c["name"]] = c["messages"];
  std::map<std::string, nlohmann::json> template_by_file;
  for (const auto& t : (*manifest)["templates"]) template_by_file[t["file"]] = t;

  const auto& renders = (*reference)["renders"];
  ASSERT_EQ(renders.size(), template_by_file.size() * messages_by_name.size() * 2);
  std::map<std::string, ChatTemplate> parsed;
  size_t outputs = 0, errors = 0;
  for (const auto& r : renders) {
    const std::string file = r["template"];
    const auto& spec = template_by_file.at(file);
    if (!parsed.contains(file)) {
      auto t = ChatTemplate::parse(read_text(kFixtures + file));
      ASSERT_TRUE(t.ok()) << file << ": " << t.error().message();
      parsed.emplace(file, std::move(*t));
    }
    ChatTemplateContext context;
    context.add_generation_prompt = r["add_generation_prompt"];
    context.bos_token = spec.value("bos_token", "");
    context.eos_token = spec.value("eos_token", "");
    context.extra = spec.value("extra", nlohmann::json::object());
    context.now_unix_seconds = (*reference)["now_unix_seconds"];
    const std::string where = file + " over " + std::string(r["conversation"]) +
                              (context.add_generation_prompt ? " with" : " without") + " the generation prompt";
    auto ours = parsed.at(file).render(messages_by_name.at(r["conversation"]), context);
    if (r.contains("error")) {
      ++errors;
      EXPECT_FALSE(ours.ok()) << where << ": the reference failed (" << r["error"] << ") but sparq rendered:\n"
                              << *ours;
      continue;
    }
    ++outputs;
    ASSERT_TRUE(ours.ok()) << where << ": " << ours.error().message();
    EXPECT_EQ(*ours, std::string(r["output"])) << where;
  }
  // The fixtures are meant to exercise both paths; a reference that never throws (or never
  // renders) would mean the comparison lost half its point.
  EXPECT_GT(outputs, 100u);
  EXPECT_GT(errors, 10u);
}

// Renders `source` over one user message; the error message, or "" when it rendered.
std::string render_error(const std::string& source) {
  auto t = ChatTemplate::parse(source);
  if (!t.ok()) return t.error().message();
  auto out = t->render(nlohmann::json::array({{{"role", "user"}, {"content", "hi"}}}), ChatTemplateContext{});
  return out.ok() ? "" : out.error().message();
}

TEST(ChatTemplate, SyntaxErrorsNameLineAndColumn) {
  EXPECT_EQ(render_error("ok\n{% if true %}\n  {{ 1 + }}\n{% endif %}"), "chat template: line 3, column 10: unexpected '}}'");
  EXPECT_EQ(render_error("{% for m in messages %}\n{{ m }}"),
            "chat template: line 1, column 4: 'for' block opened here is never closed");
  EXPECT_EQ(render_error("a\nb {{ 'open"), "chat template: line 2, column 6: string literal opened here is never closed");
  EXPECT_EQ(render_error("{% macro x() %}{% endmacro %}"), "chat template: line 1, column 4: unsupported statement 'macro'");
  EXPECT_EQ(render_error("{{ a ? b }}"), "chat template: line 1, column 6: unexpected character '?'");
}

TEST(ChatTemplate, RaiseExceptionNamesItsCall) {
  EXPECT_EQ(render_error("{%- if messages[0].role == 'user' %}\n  {{- raise_exception('no users here') }}\n{%- endif %}"),
            "chat template: line 2, column 22: raise_exception: no users here");
}

TEST(ChatTemplate, RuntimeErrorsNameTheExpression) {
  EXPECT_EQ(render_error("{{ messages[0].content + missing }}"),
            "chat template: line 1, column 24: cannot apply '+' to an undefined value");
  EXPECT_EQ(render_error("{{ messages | nosuchfilter }}"),
            "chat template: line 1, column 15: unknown filter 'nosuchfilter' for a list");
}

TEST(ChatTemplate, RefusesDeepNesting) {
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "{% if true %}";
  EXPECT_NE(render_error(deep).find("nested deeper than"), std::string::npos);
  EXPECT_NE(render_error("{{ " + std::string(100000, '(') + " }}").find("nested deeper than"), std::string::npos);
  EXPECT_NE(render_error("{{ " + std::string(100000, '[') + " }}").find("nested deeper than"), std::string::npos);
}

TEST(ChatTemplate, StopsRunawayLoopsAndOutput) {
  EXPECT_NE(render_error("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
                .find("evaluation steps"),
            std::string::npos);
  // 1 MiB strings written 40 times: the output cap, well inside the step limit.
  EXPECT_NE(render_error("{% set ns = namespace(s='x') %}{% for i in range(20) %}{% set ns.s = ns.s ~ ns.s %}"
                         "{% endfor %}{% for i in range(40) %}{{ ns.s }}{% endfor %}")
                .find("output exceeds"),
            std::string::npos);
  // A string that doubles each iteration fails at the cap, long before memory runs out.
  EXPECT_NE(render_error("{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}"
                         "{% endfor %}")
                .find("exceeds"),
            std::string::npos);
}

TEST(ChatTemplate, RefusesInvalidUtf8) {
  EXPECT_EQ(render_error("ok\n{{ 'caf\xC3' }}"), "chat template: line 2, column 8: invalid UTF-8");
  auto t = ChatTemplate::parse("{{ messages[0].content | trim }}");
  ASSERT_TRUE(t.ok());
  auto out = t->render(nlohmann::json::array({{{"role", "user"}, {"content", "bad \xFF byte"}}}), ChatTemplateContext{});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().message(), "chat template: messages or variables: a string is not valid UTF-8");
}

TEST(ChatTemplate, BreakOutsideALoopIsAnError) {
  EXPECT_EQ(render_error("{% break %}"), "chat template: {% break %} outside a loop");
}

}  // namespace
}  // namespace sparq::runtime
