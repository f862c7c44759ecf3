// The chat template language's tokens and syntax tree, shared by its lexer, parser and
// evaluator (chat_template_lexer.cpp, chat_template_parser.cpp, chat_template.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sparq::runtime::chat_template_detail {

// Where a token or node starts in the original source (1-based).
struct SourcePosition {
  uint32_t line = 1, column = 1;
};

// Thrown inside the lexer, parser and evaluator only; ChatTemplate's API turns it into an
// Error naming the position, so nothing escapes the library as an exception.
struct TemplateError : std::runtime_error {
  TemplateError(SourcePosition at, const std::string& message)
      : std::runtime_error(message), position(at) {}
  SourcePosition position;
};

enum class TokenKind : uint8_t {
  text, open_statement, close_statement, open_expression, close_expression,
  identifier, number, string, symbol,  // symbol: ( ) [ ] { } , . : | = and the operators
  end
};

struct Token {
  TokenKind kind;
  std::string value;
  SourcePosition position;
  bool is_float = false;  // numbers: written with a fraction
};

// Lexes a template the way @huggingface/jinja's Template does: trailing newline dropped,
// lstrip_blocks and trim_blocks applied, {%- -%} whitespace control, comments dropped.
std::vector<Token> lex_chat_template(std::string_view source);

struct Node;
using NodePtr = std::unique_ptr<Node>;

enum class NodeKind : uint8_t {
  // statements
  text, output, if_, for_, set, set_block, break_, continue_,
  // expressions
  literal, identifier, list, tuple, dict, member, subscript, slice, call, filter, test,
  unary_not, unary_minus, binary, ternary, keyword_argument
};

struct Node {
  NodeKind kind;
  SourcePosition position;
  std::string text;                 // text, identifier names, operators, literal strings,
                                    // attribute/filter/test names, keyword names
  double number = 0;                // numeric literals
  bool is_float = false;            // numeric literal written with a fraction
  int literal_kind = 0;             // literal: 0 string, 1 number
  bool negated = false;             // test: "is not"
  std::vector<NodePtr> children;    // operands, arguments, list items, dict key/value pairs
  std::vector<NodePtr> body;        // if/for: the block; set_block: its body
  std::vector<NodePtr> else_body;   // if: elif/else chain; for: {% else %}
  std::vector<std::string> targets; // for/set: names assigned (several: tuple unpacking)
};

struct Program {
  std::vector<NodePtr> body;
};

// Parses tokens into a program; nesting (blocks and expressions) deeper than `max_depth`
// is an error.
Program parse_chat_template(const std::vector<Token>& tokens, size_t max_depth);

}  // namespace sparq::runtime::chat_template_detail
