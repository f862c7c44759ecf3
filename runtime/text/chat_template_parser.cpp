// Parsing a chat template's tokens into a syntax tree, with @huggingface/jinja's operator
// precedence (loosest first): `x if c else y`, or, and, not, comparisons and `in` (left to
// right, not chained), + - ~, * / // %, **, `is` tests, `|` filters, unary signs, then
// calls, attributes and subscripts on a primary.
#include <string>
#include <vector>

#include "runtime/text/chat_template_syntax.h"

namespace sparq::runtime::chat_template_detail {
namespace {

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, size_t max_depth) : t_(tokens), max_depth_(max_depth) {}

  Program run() {
    Program p;
    while (peek().kind != TokenKind::end) p.body.push_back(parse_any());
    return p;
  }

 private:
  // Counts nesting so a hostile template cannot exhaust the stack.
  struct DepthGuard {
    explicit DepthGuard(Parser& p) : parser(p) {
      if (++parser.depth_ > parser.max_depth_) {
        throw TemplateError(parser.peek().position,
                            "nested deeper than " + std::to_string(parser.max_depth_) + " levels");
      }
    }
    ~DepthGuard() { --parser.depth_; }
    Parser& parser;
  };

  const Token& peek(size_t ahead = 0) const {
    const size_t i = std::min(i_ + ahead, t_.size() - 1);
    return t_[i];
  }
  const Token& next() {
    const Token& tok = peek();
    if (i_ < t_.size() - 1) ++i_;
    return tok;
  }
  bool is_symbol(std::string_view s, size_t ahead = 0) const {
    return peek(ahead).kind == TokenKind::symbol && peek(ahead).value == s;
  }
  bool is_word(std::string_view s, size_t ahead = 0) const {
    return peek(ahead).kind == TokenKind::identifier && peek(ahead).value == s;
  }
  [[noreturn]] void fail(const Token& at, const std::string& message) const { throw TemplateError(at.position, message); }
  static std::string describe(const Token& tok) {
    switch (tok.kind) {
      case TokenKind::end: return "the end of the template";
      case TokenKind::text: return "text";
      case TokenKind::string: return "a string";
      default: return "'" + tok.value + "'";
    }
  }
  void expect_symbol(std::string_view s) {
    if (!is_symbol(s)) fail(peek(), "expected '" + std::string(s) + "', found " + describe(peek()));
    next();
  }
  void expect_kind(TokenKind kind, std::string_view what) {
    if (peek().kind != kind) fail(peek(), "expected " + std::string(what) + ", found " + describe(peek()));
    next();
  }
  std::string expect_identifier(std::string_view what) {
    if (peek().kind != TokenKind::identifier) fail(peek(), "expected " + std::string(what) + ", found " + describe(peek()));
    return next().value;
  }
  NodePtr node(NodeKind kind, SourcePosition at) {
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->position = at;
    return n;
  }

  // ---- statements ----

  NodePtr parse_any() {
    const Token& tok = peek();
    switch (tok.kind) {
      case TokenKind::text: {
        auto n = node(NodeKind::text, tok.position);
        n->text = next().value;
        return n;
      }
      case TokenKind::open_expression: {
        next();
        auto n = node(NodeKind::output, tok.position);
        n->children.push_back(parse_expression());
        expect_kind(TokenKind::close_expression, "'}}'");
        return n;
      }
      case TokenKind::open_statement:
        return parse_statement();
      default:
        fail(tok, "unexpected " + describe(tok));
    }
  }

  // Is the next tag `{% name ... %}` with one of these names?
  bool at_tag(std::initializer_list<std::string_view> names) const {
    if (peek().kind != TokenKind::open_statement || peek(1).kind != TokenKind::identifier) return false;
    for (std::string_view n : names) {
      if (peek(1).value == n) return true;
    }
    return false;
  }

  std::vector<NodePtr> parse_block_until(std::initializer_list<std::string_view> ends, const Token& opener) {
    DepthGuard guard(*this);
    std::vector<NodePtr> body;
    while (!at_tag(ends)) {
      if (peek().kind == TokenKind::end) {
        fail(opener, "'" + opener.value + "' block opened here is never closed");
      }
      body.push_back(parse_any());
    }
    return body;
  }

  NodePtr parse_statement() {
    next();  // {%
    const Token& name = peek();
    if (name.kind != TokenKind::identifier) fail(name, "expected a statement name, found " + describe(name));
    next();
    const std::string& n = name.value;
    if (n == "if") return parse_if(name);
    if (n == "for") return parse_for(name);
    if (n == "set") return parse_set(name);
    if (n == "generation" || n == "endgeneration") {
      // Training-time markers (assistant-token masks); the reference deletes them before
      // lexing, keeping the whitespace around them as its whitespace control says, which
      // is what an empty statement with the same control gives.
      expect_kind(TokenKind::close_statement, "'%}'");
      return node(NodeKind::text, name.position);
    }
    if (n == "break" || n == "continue") {
      expect_kind(TokenKind::close_statement, "'%}'");
      return node(n == "break" ? NodeKind::break_ : NodeKind::continue_, name.position);
    }
    fail(name, "unsupported statement '" + n + "'");
  }

  NodePtr parse_if(const Token& keyword) {
    auto n = node(NodeKind::if_, keyword.position);
    n->children.push_back(parse_expression());
    expect_kind(TokenKind::close_statement, "'%}'");
    n->body = parse_block_until({"elif", "else", "endif"}, keyword);
    next();  // {%
    const Token& which = next();
    if (which.value == "elif") {
      n->else_body.push_back(parse_if(which));  // the elif's own parse consumes endif
      return n;
    }
    if (which.value == "else") {
      expect_kind(TokenKind::close_statement, "'%}'");
      n->else_body = parse_block_until({"endif"}, keyword);
      next();
      next();
    }
    expect_kind(TokenKind::close_statement, "'%}'");
    return n;
  }

  NodePtr parse_for(const Token& keyword) {
    auto n = node(NodeKind::for_, keyword.position);
    n->targets.push_back(expect_identifier("a loop variable"));
    while (is_symbol(",")) {
      next();
      n->targets.push_back(expect_identifier("a loop variable"));
    }
    if (!is_word("in")) fail(peek(), "expected 'in', found " + describe(peek()));
    next();
    n->children.push_back(parse_if_expression(/*allow_condition=*/false));
    if (is_word("if")) {  // {% for x in xs if cond %}: a filter on the items
      next();
      n->children.push_back(parse_expression());
    }
    expect_kind(TokenKind::close_statement, "'%}'");
    n->body = parse_block_until({"else", "endfor"}, keyword);
    next();
    if (next().value == "else") {
      expect_kind(TokenKind::close_statement, "'%}'");
      n->else_body = parse_block_until({"endfor"}, keyword);
      next();
      next();
    }
    expect_kind(TokenKind::close_statement, "'%}'");
    return n;
  }

  NodePtr parse_set(const Token& keyword) {
    // set name = value | set name.attr = value | set a, b = value | set name %}...{% endset
    std::string target = expect_identifier("a variable name");
    std::vector<std::string> targets{target};
    if (is_symbol(".")) {
      next();
      targets.push_back(expect_identifier("an attribute name"));
      auto n = node(NodeKind::set, keyword.position);
      n->targets = std::move(targets);
      n->text = "attribute";
      expect_symbol("=");
      n->children.push_back(parse_expression());
      expect_kind(TokenKind::close_statement, "'%}'");
      return n;
    }
    while (is_symbol(",")) {
      next();
      targets.push_back(expect_identifier("a variable name"));
    }
    if (peek().kind == TokenKind::close_statement && targets.size() == 1) {
      next();
      auto n = node(NodeKind::set_block, keyword.position);
      n->targets = std::move(targets);
      n->body = parse_block_until({"endset"}, keyword);
      next();
      next();
      expect_kind(TokenKind::close_statement, "'%}'");
      return n;
    }
    auto n = node(NodeKind::set, keyword.position);
    n->targets = std::move(targets);
    expect_symbol("=");
    n->children.push_back(parse_expression_sequence());
    expect_kind(TokenKind::close_statement, "'%}'");
    return n;
  }

  // ---- expressions ----

  NodePtr parse_expression() { return parse_if_expression(true); }

  // a, b, c (a tuple) or a single expression.
  NodePtr parse_expression_sequence() {
    const SourcePosition at = peek().position;
    NodePtr first = parse_expression();
    if (!is_symbol(",")) return first;
    auto tuple = node(NodeKind::tuple, at);
    tuple->children.push_back(std::move(first));
    while (is_symbol(",")) {
      next();
      tuple->children.push_back(parse_expression());
    }
    return tuple;
  }

  NodePtr parse_if_expression(bool allow_condition) {
    DepthGuard guard(*this);
    NodePtr a = parse_or();
    if (allow_condition && is_word("if")) {
      const SourcePosition at = next().position;
      auto n = node(NodeKind::ternary, at);
      NodePtr cond = parse_or();
      NodePtr otherwise;
      if (is_word("else")) {
        next();
        otherwise = parse_if_expression(true);
      } else {  // `a if c` without else: undefined when c is false
        otherwise = node(NodeKind::identifier, at);
        otherwise->text = "\x01undefined";
      }
      n->children.push_back(std::move(cond));
      n->children.push_back(std::move(a));
      n->children.push_back(std::move(otherwise));
      return n;
    }
    return a;
  }

  NodePtr binary(std::string op, SourcePosition at, NodePtr l, NodePtr r) {
    auto n = node(NodeKind::binary, at);
    n->text = std::move(op);
    n->children.push_back(std::move(l));
    n->children.push_back(std::move(r));
    return n;
  }

  NodePtr parse_or() {
    NodePtr l = parse_and();
    while (is_word("or")) {
      const SourcePosition at = next().position;
      l = binary("or", at, std::move(l), parse_and());
    }
    return l;
  }
  NodePtr parse_and() {
    NodePtr l = parse_not();
    while (is_word("and")) {
      const SourcePosition at = next().position;
      l = binary("and", at, std::move(l), parse_not());
    }
    return l;
  }
  NodePtr parse_not() {
    if (is_word("not")) {
      DepthGuard guard(*this);
      const SourcePosition at = next().position;
      auto n = node(NodeKind::unary_not, at);
      n->children.push_back(parse_not());
      return n;
    }
    return parse_comparison();
  }
  NodePtr parse_comparison() {
    NodePtr l = parse_additive();
    while (true) {
      std::string op;
      const SourcePosition at = peek().position;
      if (is_word("not") && is_word("in", 1)) {
        next();
        next();
        op = "not in";
      } else if (is_word("in")) {
        next();
        op = "in";
      } else if (peek().kind == TokenKind::symbol &&
                 (peek().value == "==" || peek().value == "!=" || peek().value == "<" || peek().value == ">" ||
                  peek().value == "<=" || peek().value == ">=")) {
        op = next().value;
      } else {
        return l;
      }
      l = binary(op, at, std::move(l), parse_additive());
    }
  }
  NodePtr parse_additive() {
    NodePtr l = parse_multiplicative();
    while (is_symbol("+") || is_symbol("-") || is_symbol("~")) {
      const Token& op = next();
      l = binary(op.value, op.position, std::move(l), parse_multiplicative());
    }
    return l;
  }
  NodePtr parse_multiplicative() {
    NodePtr l = parse_power();
    while (is_symbol("*") || is_symbol("/") || is_symbol("//") || is_symbol("%")) {
      const Token& op = next();
      l = binary(op.value, op.position, std::move(l), parse_power());
    }
    return l;
  }
  NodePtr parse_power() {
    NodePtr l = parse_test();
    while (is_symbol("**")) {
      const Token& op = next();
      l = binary(op.value, op.position, std::move(l), parse_test());
    }
    return l;
  }
  NodePtr parse_test() {
    NodePtr operand = parse_filter();
    while (is_word("is")) {
      const SourcePosition at = next().position;
      auto n = node(NodeKind::test, at);
      if (is_word("not")) {
        next();
        n->negated = true;
      }
      n->text = expect_identifier("a test name");
      n->children.push_back(std::move(operand));
      operand = std::move(n);
    }
    return operand;
  }
  NodePtr parse_filter() {
    NodePtr operand = parse_unary_sign();
    while (is_symbol("|")) {
      next();
      const Token& name = peek();
      auto n = node(NodeKind::filter, name.position);
      n->text = expect_identifier("a filter name");
      n->children.push_back(std::move(operand));
      if (is_symbol("(")) parse_arguments(*n);
      operand = std::move(n);
    }
    return operand;
  }
  NodePtr parse_unary_sign() {
    if (is_symbol("unary-") || is_symbol("unary+") || is_symbol("-") || is_symbol("+")) {
      DepthGuard guard(*this);
      const Token& op = next();
      NodePtr arg = parse_unary_sign();
      if (op.value.back() == '+') return arg;
      auto n = node(NodeKind::unary_minus, op.position);
      n->children.push_back(std::move(arg));
      return n;
    }
    return parse_call_member();
  }

  // (args...) after a callee or filter name: positional then keyword arguments.
  void parse_arguments(Node& call) {
    expect_symbol("(");
    while (!is_symbol(")")) {
      if (peek().kind == TokenKind::end) fail(peek(), "expected ')', found the end of the template");
      if (peek().kind == TokenKind::identifier && is_symbol("=", 1)) {
        auto kw = node(NodeKind::keyword_argument, peek().position);
        kw->text = next().value;
        next();
        kw->children.push_back(parse_expression());
        call.children.push_back(std::move(kw));
      } else {
        call.children.push_back(parse_expression());
      }
      if (!is_symbol(",")) break;
      next();
    }
    expect_symbol(")");
  }

  NodePtr parse_call_member() {
    NodePtr e = parse_primary();
    while (true) {
      if (is_symbol(".")) {
        const SourcePosition at = next().position;
        auto n = node(NodeKind::member, at);
        n->text = expect_identifier("an attribute name");
        n->children.push_back(std::move(e));
        e = std::move(n);
      } else if (is_symbol("[")) {
        const SourcePosition at = next().position;
        e = parse_subscript(std::move(e), at);
      } else if (is_symbol("(")) {
        auto n = node(NodeKind::call, peek().position);
        n->children.push_back(std::move(e));
        parse_arguments(*n);
        e = std::move(n);
      } else {
        return e;
      }
    }
  }

  // After "[": an index or a slice start:stop:step (each part optional).
  NodePtr parse_subscript(NodePtr object, SourcePosition at) {
    std::vector<NodePtr> parts(1);
    bool is_slice = false;
    while (!is_symbol("]")) {
      if (is_symbol(":")) {
        next();
        is_slice = true;
        parts.emplace_back();
        if (parts.size() > 3) fail(peek(), "a slice has at most three parts");
        continue;
      }
      if (parts.back()) fail(peek(), "expected ']' or ':', found " + describe(peek()));
      parts.back() = parse_expression();
    }
    next();
    if (!is_slice && !parts[0]) fail(peek(), "empty subscript");
    auto n = node(is_slice ? NodeKind::slice : NodeKind::subscript, at);
    n->children.push_back(std::move(object));
    parts.resize(is_slice ? 3 : 1);
    for (auto& p : parts) n->children.push_back(std::move(p));  // missing slice parts stay null
    return n;
  }

  NodePtr parse_primary() {
    DepthGuard guard(*this);
    const Token& tok = next();
    switch (tok.kind) {
      case TokenKind::number: {
        auto n = node(NodeKind::literal, tok.position);
        n->literal_kind = 1;
        n->is_float = tok.is_float;
        n->number = std::stod(tok.value);
        return n;
      }
      case TokenKind::string: {
        auto n = node(NodeKind::literal, tok.position);
        n->text = tok.value;
        while (peek().kind == TokenKind::string) n->text += next().value;  // 'a' 'b' is 'ab'
        return n;
      }
      case TokenKind::identifier: {
        auto n = node(NodeKind::identifier, tok.position);
        n->text = tok.value;
        return n;
      }
      case TokenKind::symbol:
        if (tok.value == "(") {
          NodePtr e = parse_expression_sequence();
          expect_symbol(")");
          return e;
        }
        if (tok.value == "[") {
          auto n = node(NodeKind::list, tok.position);
          while (!is_symbol("]")) {
            if (peek().kind == TokenKind::end) fail(tok, "'[' opened here is never closed");
            n->children.push_back(parse_expression());
            if (is_symbol(",")) next();
          }
          next();
          return n;
        }
        if (tok.value == "{") {
          auto n = node(NodeKind::dict, tok.position);
          while (!is_symbol("}")) {
            if (peek().kind == TokenKind::end) fail(tok, "'{' opened here is never closed");
            n->children.push_back(parse_expression());
            expect_symbol(":");
            n->children.push_back(parse_expression());
            if (is_symbol(",")) next();
          }
          next();
          return n;
        }
        break;
      default:
        break;
    }
    fail(tok, "unexpected " + describe(tok));
  }

  const std::vector<Token>& t_;
  size_t i_ = 0;
  size_t max_depth_;
  size_t depth_ = 0;
};

}  // namespace

Program parse_chat_template(const std::vector<Token>& tokens, size_t max_depth) {
  return Parser(tokens, max_depth).run();
}

}  // namespace sparq::runtime::chat_template_detail
