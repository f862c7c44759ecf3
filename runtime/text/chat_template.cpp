// Rendering a parsed chat template: an interpreter over the syntax tree with
// @huggingface/jinja's semantics (the reference the tests compare to byte for byte), bounded
// in output size and evaluation steps because templates come from model files.
#include "runtime/text/chat_template.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <ctime>
#include <map>
#include <stdexcept>
#include <string>

#include "runtime/text/chat_template_strings.h"
#include "runtime/text/chat_template_syntax.h"
#include "runtime/text/chat_template_value.h"
#include "runtime/text/tokenizer_unicode.h"

namespace sparq::runtime {
namespace chat_template_detail {
namespace {

using Kind = Value::Kind;

// {% break %} and {% continue %} unwind to their loop as exceptions, as in the reference
// (which also drops the interrupted iteration's partial output).
struct BreakSignal {};
struct ContinueSignal {};

// Variables: one scope per loop (and the loop body's), looked up outward; `set` writes to
// the innermost scope, so a set inside a loop does not leak out (namespaces exist for that).
class Scope {
 public:
  explicit Scope(Scope* parent) : parent_(parent) {}
  void set(const std::string& name, Value v) { vars_[name] = std::move(v); }
  const Value* find(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent_) {
      auto it = s->vars_.find(name);
      if (it != s->vars_.end()) return &it->second;
    }
    return nullptr;
  }

 private:
  Scope* parent_;
  std::map<std::string, Value> vars_;
};

const char* type_name(const Value& v) {
  switch (v.kind) {
    case Kind::undefined: return "undefined";
    case Kind::null: return "none";
    case Kind::boolean: return "boolean";
    case Kind::integer: return "integer";
    case Kind::floating: return "float";
    case Kind::string: return "string";
    case Kind::array: return "list";
    case Kind::object: return "mapping";
    case Kind::namespace_: return "namespace";
    case Kind::function: return "function";
  }
  return "value";
}

// JavaScript's == on two values' payloads (loose: 1 == true, "1" == 1, null == undefined);
// containers compare by identity as JavaScript objects do.
bool loose_equal(const Value& a, const Value& b) {
  const bool a_nullish = a.kind == Kind::undefined || a.kind == Kind::null;
  const bool b_nullish = b.kind == Kind::undefined || b.kind == Kind::null;
  if (a_nullish || b_nullish) return a_nullish && b_nullish;
  auto as_number = [](const Value& v, double& out) {
    if (v.is_number()) out = v.number;
    else if (v.kind == Kind::boolean) out = v.boolean ? 1 : 0;
    else if (v.kind == Kind::string) {
      const std::string t = js_trim(v.string, true, true);
      if (t.empty()) { out = 0; return true; }
      char* end = nullptr;
      out = std::strtod(t.c_str(), &end);
      if (end != t.c_str() + t.size()) out = NAN;
    } else return false;
    return true;
  };
  if (a.kind == Kind::string && b.kind == Kind::string) return a.string == b.string;
  if (a.kind == Kind::function || b.kind == Kind::function) return a.function_name == b.function_name && a.kind == b.kind;
  if (a.kind == Kind::array || b.kind == Kind::array) return a.kind == b.kind && a.array == b.array;
  if (a.is_map() || b.is_map()) return a.kind == b.kind && a.object == b.object;
  double x, y;
  if (as_number(a, x) && as_number(b, y)) return x == y;
  return false;
}

// JavaScript's === on payloads (the reference's `in` for lists and the equalto test).
bool strict_equal(const Value& a, const Value& b) {
  if (a.kind == Kind::string || b.kind == Kind::string) return a.kind == b.kind && a.string == b.string;
  if (a.is_number() && b.is_number()) return a.number == b.number;
  if (a.kind != b.kind) return (a.kind == Kind::undefined || a.kind == Kind::null) && false;
  return loose_equal(a, b);
}

// A value as `~` and string `+` turn it into text: the reference concatenates the raw
// JavaScript payloads, so a float prints as a JS number (2.0 as "2"), a list as its items
// joined by "," and a mapping as "[object Map]".
std::string concat_string(const Value& v) {
  switch (v.kind) {
    case Kind::integer:
    case Kind::floating: return js_number_string(v.number);
    case Kind::array: {
      std::string out;
      for (size_t i = 0; i < v.array->size(); ++i) {
        // Each item's own toString(); the reference's none holds JavaScript's undefined.
        const Value& item = (*v.array)[i];
        if (i) out += ',';
        out += item.kind == Kind::null ? std::string("undefined") : display_string(item);
      }
      return out;
    }
    case Kind::object:
    case Kind::namespace_: return "[object Map]";
    default: return display_string(v);
  }
}

class Renderer {
 public:
  Renderer(const ChatTemplateContext& context) : context_(context) {}

  std::string run(const Program& program, Scope& globals) {
    std::string out;
    render_block(program.body, globals, out);
    return out;
  }

 private:
  [[noreturn]] void fail(const Node& at, const std::string& message) const { throw TemplateError(at.position, message); }

  void step(const Node& at) {
    if (++steps_ > kMaxChatTemplateSteps) {
      fail(at, "stopped after " + std::to_string(kMaxChatTemplateSteps) + " evaluation steps (a runaway template?)");
    }
  }
  void append(std::string& out, std::string_view s, const Node& at) {
    if (out.size() + s.size() > kMaxChatTemplateOutputBytes || s.size() > kMaxChatTemplateOutputBytes) {
      fail(at, "output exceeds " + std::to_string(kMaxChatTemplateOutputBytes) + " bytes");
    }
    out.append(s);
  }
  // Any string the template builds is bounded too (loops doubling a string would otherwise
  // exhaust memory before output is written).
  Value bounded(Value v, const Node& at) {
    if (v.kind == Kind::string && v.string.size() > kMaxChatTemplateOutputBytes) {
      fail(at, "a string exceeds " + std::to_string(kMaxChatTemplateOutputBytes) + " bytes");
    }
    return v;
  }

  // ---- statements ----

  void render_block(const std::vector<NodePtr>& body, Scope& scope, std::string& out) {
    for (const NodePtr& n : body) render_statement(*n, scope, out);
  }

  void render_statement(const Node& n, Scope& scope, std::string& out) {
    step(n);
    switch (n.kind) {
      case NodeKind::text: append(out, n.text, n); return;
      case NodeKind::output: {
        const Value v = eval(*n.children[0], scope);
        if (v.kind != Kind::undefined && v.kind != Kind::null) append(out, display_string(v), n);
        return;
      }
      case NodeKind::if_:
        render_block(truthy(eval(*n.children[0], scope)) ? n.body : n.else_body, scope, out);
        return;
      case NodeKind::for_: render_for(n, scope, out); return;
      case NodeKind::set: {
        Value v = eval(*n.children[0], scope);
        if (n.text == "attribute") {
          const Value* target = scope.find(n.targets[0]);
          if (!target || target->kind != Kind::namespace_) fail(n, "cannot assign attribute on non-namespace object");
          assign(*target->object, n.targets[1], std::move(v));
        } else if (n.targets.size() == 1) {
          scope.set(n.targets[0], std::move(v));
        } else {
          if (v.kind != Kind::array) fail(n, std::string("cannot unpack a ") + type_name(v) + " in set");
          if (v.array->size() != n.targets.size()) fail(n, "wrong number of items to unpack in set");
          for (size_t i = 0; i < n.targets.size(); ++i) scope.set(n.targets[i], (*v.array)[i]);
        }
        return;
      }
      case NodeKind::set_block: {
        std::string captured;
        render_block(n.body, scope, captured);
        scope.set(n.targets[0], Value::of(std::move(captured)));
        return;
      }
      case NodeKind::break_: throw BreakSignal{};
      case NodeKind::continue_: throw ContinueSignal{};
      default: fail(n, "not a statement");
    }
  }

  static void assign(ValueMap& map, const std::string& key, Value v) {
    for (auto& [k, existing] : map) {
      if (k == key) {
        existing = std::move(v);
        return;
      }
    }
    map.emplace_back(key, std::move(v));
  }

  void bind_loop_targets(const Node& n, Scope& scope, const Value& item) {
    if (n.targets.size() == 1) {
      scope.set(n.targets[0], item);
      return;
    }
    if (item.kind != Kind::array) fail(n, std::string("cannot unpack a ") + type_name(item) + " into loop variables");
    if (item.array->size() != n.targets.size()) fail(n, "wrong number of items to unpack into loop variables");
    for (size_t i = 0; i < n.targets.size(); ++i) scope.set(n.targets[i], (*item.array)[i]);
  }

  void render_for(const Node& n, Scope& scope, std::string& out) {
    Scope loop_scope(&scope);
    Value iterable = eval(*n.children[0], loop_scope);
    ValueList items_all;
    if (iterable.kind == Kind::array) {
      items_all = *iterable.array;
    } else if (iterable.kind == Kind::object) {
      for (const auto& [k, v] : *iterable.object) items_all.push_back(Value::of(k));
    } else {
      fail(*n.children[0], std::string("cannot loop over a ") + type_name(iterable));
    }
    ValueList items;
    if (n.children.size() > 1) {  // {% for x in xs if cond %}
      for (const Value& item : items_all) {
        Scope probe(&loop_scope);
        bind_loop_targets(n, probe, item);
        if (truthy(eval(*n.children[1], probe))) items.push_back(item);
      }
    } else {
      items = std::move(items_all);
    }
    bool iterated = false;
    const double count = static_cast<double>(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      step(n);
      const double index = static_cast<double>(i);
      ValueMap loop{{"index", Value::integer(index + 1)},
                    {"index0", Value::integer(index)},
                    {"revindex", Value::integer(count - index)},
                    {"revindex0", Value::integer(count - index - 1)},
                    {"first", Value::of(i == 0)},
                    {"last", Value::of(i + 1 == items.size())},
                    {"length", Value::integer(count)},
                    {"previtem", i > 0 ? items[i - 1] : Value::undefined()},
                    {"nextitem", i + 1 < items.size() ? items[i + 1] : Value::undefined()}};
      loop_scope.set("loop", Value::map(std::move(loop)));
      bind_loop_targets(n, loop_scope, items[i]);
      std::string body;
      try {
        render_block(n.body, loop_scope, body);
      } catch (const ContinueSignal&) {
        continue;
      } catch (const BreakSignal&) {
        break;
      }
      append(out, body, n);
      iterated = true;
    }
    if (!iterated) render_block(n.else_body, loop_scope, out);
  }

  // ---- expressions ----

  Value eval(const Node& n, Scope& scope) {
    step(n);
    switch (n.kind) {
      case NodeKind::literal:
        if (n.literal_kind == 1) return n.is_float ? Value::floating(n.number) : Value::integer(n.number);
        return Value::of(n.text);
      case NodeKind::identifier: {
        if (const Value* v = scope.find(n.text)) return *v;
        return Value::undefined();
      }
      case NodeKind::list:
      case NodeKind::tuple: {
        ValueList items;
        for (const NodePtr& c : n.children) items.push_back(eval(*c, scope));
        return Value::list(std::move(items));
      }
      case NodeKind::dict: {
        ValueMap entries;
        for (size_t i = 0; i + 1 < n.children.size(); i += 2) {
          const Value key = eval(*n.children[i], scope);
          if (key.kind != Kind::string && !key.is_number()) fail(*n.children[i], "dictionary keys must be strings or numbers");
          assign(entries, display_string(key), eval(*n.children[i + 1], scope));
        }
        return Value::map(std::move(entries));
      }
      case NodeKind::member: return member(eval(*n.children[0], scope), Value::of(n.text), n);
      case NodeKind::subscript: return member(eval(*n.children[0], scope), eval(*n.children[1], scope), n);
      case NodeKind::slice: return slice(n, scope);
      case NodeKind::call: return call(n, scope);
      case NodeKind::filter: return filter(n, scope);
      case NodeKind::test: {
        const bool r = test(n.text, eval(*n.children[0], scope), n);
        return Value::of(n.negated ? !r : r);
      }
      case NodeKind::unary_not: return Value::of(!truthy(eval(*n.children[0], scope)));
      case NodeKind::unary_minus: {
        Value v = eval(*n.children[0], scope);
        if (!v.is_number()) fail(n, std::string("cannot negate a ") + type_name(v));
        v.number = -v.number;
        return v;
      }
      case NodeKind::ternary:
        return truthy(eval(*n.children[0], scope)) ? eval(*n.children[1], scope) : eval(*n.children[2], scope);
      case NodeKind::binary: return bounded(binary(n, scope), n);
      default: fail(n, "not an expression");
    }
  }

  Value member(const Value& object, const Value& key, const Node& n) {
    if (object.is_map()) {
      if (key.kind != Kind::string) fail(n, std::string("cannot index a mapping with a ") + type_name(key));
      if (const Value* v = object.find(key.string)) return *v;
      if (object.kind == Kind::object) return method(object, key.string);
      return Value::undefined();
    }
    if (object.kind == Kind::array || object.kind == Kind::string) {
      if (key.kind == Kind::integer) {
        // Array.prototype.at: negative indexes count from the end.
        const double len = object.kind == Kind::array ? static_cast<double>(object.array->size())
                                                      : static_cast<double>(code_points(object.string).size());
        const double i = key.number < 0 ? len + key.number : key.number;
        if (i < 0 || i >= len) return Value::undefined();
        if (object.kind == Kind::array) return (*object.array)[static_cast<size_t>(i)];
        return Value::of(code_points(object.string)[static_cast<size_t>(i)]);
      }
      if (key.kind == Kind::string) return method(object, key.string);
      fail(n, std::string("cannot index a ") + type_name(object) + " with a " + type_name(key));
    }
    if (key.kind != Kind::string) fail(n, std::string("cannot index a ") + type_name(object) + " with a " + type_name(key));
    return Value::undefined();
  }

  // A builtin property of a value: methods (bound, called later) and `length`.
  static Value method(const Value& self, const std::string& name) {
    static const char* const kStringMethods[] = {"upper", "lower", "strip", "title", "capitalize", "rstrip",
                                                 "lstrip", "startswith", "endswith", "split", "replace"};
    static const char* const kObjectMethods[] = {"get", "items", "keys", "values"};
    if (self.kind == Kind::string) {
      if (name == "length") return Value::integer(static_cast<double>(utf16_length(self.string)));
      for (const char* m : kStringMethods) {
        if (name == m) return Value::function(name, std::make_shared<Value>(self));
      }
    } else if (self.kind == Kind::array) {
      if (name == "length") return Value::integer(static_cast<double>(self.array->size()));
    } else if (self.kind == Kind::object) {
      for (const char* m : kObjectMethods) {
        if (name == m) return Value::function(name, std::make_shared<Value>(self));
      }
    }
    return Value::undefined();
  }

  Value slice(const Node& n, Scope& scope) {
    const Value object = eval(*n.children[0], scope);
    if (object.kind != Kind::array && object.kind != Kind::string) fail(n, "only lists and strings can be sliced");
    double bounds[3];
    bool given[3];
    for (int k = 0; k < 3; ++k) {
      given[k] = n.children[k + 1] != nullptr;
      if (!given[k]) continue;
      const Value v = eval(*n.children[k + 1], scope);
      if (v.kind == Kind::undefined) {
        given[k] = false;
        continue;
      }
      if (v.kind != Kind::integer) fail(*n.children[k + 1], "slice bounds must be integers");
      bounds[k] = v.number;
    }
    const double step_by = given[2] ? bounds[2] : 1;
    if (step_by == 0) fail(n, "slice step cannot be zero");
    std::vector<std::string> chars;
    const double len = object.kind == Kind::array ? static_cast<double>(object.array->size())
                                                  : static_cast<double>((chars = code_points(object.string)).size());
    double start, stop;
    if (step_by > 0) {
      start = given[0] ? bounds[0] : 0;
      start = start < 0 ? std::max(len + start, 0.0) : std::min(start, len);
      stop = given[1] ? bounds[1] : len;
      stop = stop < 0 ? std::max(len + stop, 0.0) : std::min(stop, len);
    } else {
      start = given[0] ? bounds[0] : len - 1;
      start = start < 0 ? std::max(len + start, -1.0) : std::min(start, len - 1);
      stop = given[1] ? bounds[1] : -1;
      stop = stop < -1 ? std::max(len + stop, -1.0) : std::min(stop, len - 1);
    }
    const double dir = step_by > 0 ? 1 : -1;
    ValueList items;
    std::string text;
    for (double i = start; dir * i < dir * stop; i += step_by) {
      step(n);
      const auto k = static_cast<size_t>(i);
      if (object.kind == Kind::array) items.push_back((*object.array)[k]);
      else text += chars[k];
    }
    return object.kind == Kind::array ? Value::list(std::move(items)) : Value::of(std::move(text));
  }

  // Positional and keyword arguments of a call or filter node, from child `first` on.
  void arguments(const Node& n, size_t first, Scope& scope, ValueList& args, ValueMap& kwargs) {
    for (size_t i = first; i < n.children.size(); ++i) {
      const Node& c = *n.children[i];
      if (c.kind == NodeKind::keyword_argument) {
        assign(kwargs, c.text, eval(*c.children[0], scope));
      } else {
        args.push_back(eval(c, scope));
      }
    }
  }
  static const Value* kwarg(const ValueMap& kwargs, const std::string& name) {
    for (const auto& [k, v] : kwargs) {
      if (k == name) return &v;
    }
    return nullptr;
  }

  Value call(const Node& n, Scope& scope) {
    ValueList args;
    ValueMap kwargs;
    arguments(n, 1, scope, args, kwargs);
    const Value fn = eval(*n.children[0], scope);
    if (fn.kind != Kind::function) fail(n, std::string("cannot call a ") + type_name(fn));
    const std::string& name = fn.function_name;
    if (fn.self) return call_method(*fn.self, name, args, kwargs, n);
    if (name == "raise_exception") {
      fail(n, "raise_exception: " + (args.empty() ? std::string() : display_string(args[0])));
    }
    if (name == "range") return range(args, n);
    if (name == "strftime_now") {
      if (args.empty() || args[0].kind != Kind::string) fail(n, "strftime_now expects a format string");
      return Value::of(strftime_now(args[0].string));
    }
    if (name == "namespace") {
      ValueMap entries;
      if (!args.empty()) {
        if (args.size() > 1 || args[0].kind != Kind::object) fail(n, "namespace() takes one mapping or keyword arguments");
        entries = *args[0].object;
      }
      for (auto& [k, v] : kwargs) assign(entries, k, v);
      return Value::map(std::move(entries), Kind::namespace_);
    }
    fail(n, "unknown function '" + name + "'");
  }

  Value range(const ValueList& args, const Node& n) {
    double start = 0, stop = 0, by = 1;
    for (const Value& a : args) {
      if (a.kind != Kind::integer) fail(n, "range() arguments must be integers");
    }
    if (args.size() == 1) stop = args[0].number;
    else if (args.size() == 2 || args.size() == 3) {
      start = args[0].number;
      stop = args[1].number;
      if (args.size() == 3) by = args[2].number;
    } else {
      fail(n, "range() takes one to three arguments");
    }
    if (by == 0) fail(n, "range() step cannot be zero");
    ValueList items;
    for (double i = start; by > 0 ? i < stop : i > stop; i += by) {
      step(n);
      items.push_back(Value::integer(i));
    }
    return Value::list(std::move(items));
  }

  std::string strftime_now(const std::string& format) const {
    const std::time_t t = context_.now_unix_seconds >= 0
                              ? static_cast<std::time_t>(context_.now_unix_seconds)
                              : std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm local{};
    localtime_r(&t, &local);
    return js_strftime(format, local);
  }

  Value call_method(const Value& self, const std::string& name, const ValueList& args, const ValueMap& kwargs,
                    const Node& n) {
    if (self.kind == Kind::string) {
      const std::string& s = self.string;
      if (name == "upper") return Value::of(unicode::to_upper(s));
      if (name == "lower") return Value::of(unicode::to_lower(s));
      if (name == "strip") return Value::of(js_trim(s, true, true));
      if (name == "lstrip") return Value::of(js_trim(s, true, false));
      if (name == "rstrip") return Value::of(js_trim(s, false, true));
      if (name == "title") return Value::of(js_title(s));
      if (name == "capitalize") return Value::of(js_capitalize(s));
      if (name == "startswith" || name == "endswith") {
        if (args.empty()) fail(n, name + "() requires an argument");
        auto matches = [&](const Value& p) {
          if (p.kind != Kind::string) fail(n, name + "() takes strings");
          return name == "startswith" ? s.starts_with(p.string) : s.ends_with(p.string);
        };
        if (args[0].kind == Kind::array) {
          for (const Value& p : *args[0].array) {
            if (matches(p)) return Value::of(true);
          }
          return Value::of(false);
        }
        return Value::of(matches(args[0]));
      }
      if (name == "split") return split(s, args, n);
      if (name == "replace") {
        if (args.size() < 2 || args[0].kind != Kind::string || args[1].kind != Kind::string) {
          fail(n, "replace() takes two strings");
        }
        double count = -1;
        const Value* c = args.size() > 2 ? &args[2] : kwarg(kwargs, "count");
        if (c && c->kind == Kind::integer) count = c->number;
        return bounded(Value::of(js_replace(s, args[0].string, args[1].string, count)), n);
      }
    }
    if (self.kind == Kind::object) {
      if (name == "get") {
        if (args.empty() || args[0].kind != Kind::string) fail(n, "get() takes a string key");
        if (const Value* v = self.find(args[0].string)) return *v;
        return args.size() > 1 ? args[1] : Value::null();
      }
      if (name == "items") return items(self);
      if (name == "keys" || name == "values") {
        ValueList out;
        for (const auto& [k, v] : *self.object) out.push_back(name == "keys" ? Value::of(k) : v);
        return Value::list(std::move(out));
      }
    }
    fail(n, "unknown method '" + name + "'");
  }

  static Value items(const Value& object) {
    ValueList out;
    for (const auto& [k, v] : *object.object) out.push_back(Value::list({Value::of(k), v}));
    return Value::list(std::move(out));
  }

  Value split(const std::string& s, const ValueList& args, const Node& n) {
    const Value sep = args.empty() ? Value::null() : args[0];
    double max_split = -1;
    if (args.size() > 1) {
      if (args[1].kind != Kind::integer) fail(n, "split() maxsplit must be an integer");
      max_split = args[1].number;
    }
    std::vector<std::string> pieces;
    if (sep.kind == Kind::null) {
      pieces = js_split_whitespace(s, max_split);
    } else {
      if (sep.kind != Kind::string) fail(n, "split() separator must be a string or none");
      if (sep.string.empty()) fail(n, "split() separator is empty");
      pieces = js_split(s, sep.string, max_split);
    }
    ValueList parts;
    for (auto& p : pieces) parts.push_back(Value::of(std::move(p)));
    return Value::list(std::move(parts));
  }

  bool test(const std::string& name, const Value& v, const Node& n) {
    if (name == "defined") return v.kind != Kind::undefined;
    if (name == "undefined") return v.kind == Kind::undefined;
    if (name == "none") return v.kind == Kind::null;
    if (name == "string") return v.kind == Kind::string;
    if (name == "number") return v.is_number();
    if (name == "integer") return v.kind == Kind::integer;
    if (name == "boolean") return v.kind == Kind::boolean;
    if (name == "true") return v.kind == Kind::boolean && v.boolean;
    if (name == "false") return v.kind == Kind::boolean && !v.boolean;
    if (name == "mapping") return v.kind == Kind::object;
    if (name == "iterable") return v.kind == Kind::array || v.kind == Kind::string;
    if (name == "sequence") return v.kind == Kind::array || v.kind == Kind::object || v.kind == Kind::string;
    if (name == "callable") return v.kind == Kind::function;
    if (name == "odd" || name == "even") {
      if (v.kind != Kind::integer) fail(n, "cannot test " + name + " on a " + type_name(v));
      const bool odd = std::fmod(v.number, 2) != 0;
      return name == "odd" ? odd : !odd;
    }
    if (name == "lower") return v.kind == Kind::string && v.string == unicode::to_lower(v.string);
    if (name == "upper") return v.kind == Kind::string && v.string == unicode::to_upper(v.string);
    fail(n, "unknown test '" + name + "'");
  }

  Value filter(const Node& n, Scope& scope) {
    const Value operand = eval(*n.children[0], scope);
    ValueList args;
    ValueMap kwargs;
    arguments(n, 1, scope, args, kwargs);
    const std::string& name = n.text;
    const auto no_filter = [&]() -> Value {
      fail(n, "unknown filter '" + name + "' for a " + type_name(operand));
    };
    if (name == "safe") return operand;
    if (name == "tojson") {
      JsonTextOptions o;
      if (const Value* indent = kwarg(kwargs, "indent"); indent && indent->kind != Kind::null) {
        if (indent->kind != Kind::integer) fail(n, "tojson indent must be an integer");
        o.indent = static_cast<int>(std::clamp(indent->number, 0.0, 64.0));
      }
      if (const Value* a = kwarg(kwargs, "ensure_ascii")) o.ensure_ascii = truthy(*a);
      if (const Value* a = kwarg(kwargs, "sort_keys")) o.sort_keys = truthy(*a);
      if (const Value* sep = kwarg(kwargs, "separators"); sep && sep->kind == Kind::array) {
        if (sep->array->size() != 2 || (*sep->array)[0].kind != Kind::string || (*sep->array)[1].kind != Kind::string) {
          fail(n, "tojson separators must be two strings");
        }
        o.has_separators = true;
        o.item_separator = (*sep->array)[0].string;
        o.key_separator = (*sep->array)[1].string;
      }
      return bounded(Value::of(json_text(operand, o)), n);
    }
    if (name == "default" || name == "d") {
      const Value fallback = args.empty() ? Value::of(std::string()) : args[0];
      const Value* flag = args.size() > 1 ? &args[1] : kwarg(kwargs, "boolean");
      const bool boolean = flag && flag->kind == Kind::boolean && flag->boolean;
      if (operand.kind == Kind::undefined || (boolean && !truthy(operand))) return fallback;
      return operand;
    }
    if (name == "join") {
      std::vector<std::string> parts;
      if (operand.kind == Kind::string) parts = code_points(operand.string);
      else if (operand.kind == Kind::array) {
        for (const Value& v : *operand.array) {
          // Array.join of raw payloads: null and undefined join as empty.
          parts.push_back(v.kind == Kind::undefined || v.kind == Kind::null ? std::string() : display_string(v));
        }
      } else {
        return no_filter();
      }
      const Value sep = !args.empty() ? args[0] : kwarg(kwargs, "d") ? Value::of(std::string()) : Value::of(std::string());
      const Value* named = kwarg(kwargs, "separator");
      const std::string separator = !args.empty() ? sep.string : named && named->kind == Kind::string ? named->string : "";
      std::string out;
      for (size_t i = 0; i < parts.size(); ++i) {
        if (i) out += separator;
        out += parts[i];
        if (out.size() > kMaxChatTemplateOutputBytes) return bounded(Value::of(std::move(out)), n);
      }
      return Value::of(std::move(out));
    }
    if (operand.kind == Kind::array) {
      const ValueList& a = *operand.array;
      if (name == "list") return operand;
      if (name == "first") return a.empty() ? Value::undefined() : a.front();
      if (name == "last") return a.empty() ? Value::undefined() : a.back();
      if (name == "length" || name == "count") return Value::integer(static_cast<double>(a.size()));
      if (name == "reverse") return Value::list(ValueList(a.rbegin(), a.rend()));
      if (name == "string") {
        JsonTextOptions o;
        o.undefined_as_null = false;
        return Value::of(json_text(operand, o));
      }
      if (name == "select" || name == "reject") {
        ValueList out;
        for (const Value& item : a) {
          bool r = args.empty() ? truthy(item) : test_with_argument(args, item, n);
          if (name == "reject") r = !r;
          if (r) out.push_back(item);
        }
        return Value::list(std::move(out));
      }
      if (name == "selectattr" || name == "rejectattr") {
        if (args.empty() || args[0].kind != Kind::string) fail(n, name + " takes an attribute name");
        ValueList out;
        for (const Value& item : a) {
          if (!item.is_map()) fail(n, name + " applies to a list of mappings");
          const Value* attr = item.find(args[0].string);
          ValueList rest(args.begin() + 1, args.end());
          bool r = attr && truthy(*attr) ? (rest.empty() ? true : test_with_argument(rest, *attr, n)) : false;
          if (name == "rejectattr") r = !r;
          if (r) out.push_back(item);
        }
        return Value::list(std::move(out));
      }
      if (name == "map") {
        const Value* attribute = kwarg(kwargs, "attribute");
        if (!attribute || attribute->kind != Kind::string) fail(n, "map needs attribute=\"name\"");
        const Value* fallback = kwarg(kwargs, "default");
        ValueList out;
        for (const Value& item : a) {
          if (!item.is_map()) fail(n, "map applies to a list of mappings");
          const Value* v = item.find(attribute->string);
          out.push_back(v ? *v : fallback ? *fallback : Value::undefined());
        }
        return Value::list(std::move(out));
      }
      return no_filter();
    }
    if (operand.kind == Kind::string) {
      const std::string& s = operand.string;
      if (name == "length" || name == "count") return Value::integer(static_cast<double>(utf16_length(s)));
      if (name == "upper") return Value::of(unicode::to_upper(s));
      if (name == "lower") return Value::of(unicode::to_lower(s));
      if (name == "title") return Value::of(js_title(s));
      if (name == "capitalize") return Value::of(js_capitalize(s));
      if (name == "trim") return Value::of(js_trim(s, true, true));
      if (name == "string") return operand;
      if (name == "replace") {
        if (args.size() < 2 || args[0].kind != Kind::string || args[1].kind != Kind::string) {
          fail(n, "replace takes two strings");
        }
        double count = -1;
        if (args.size() > 2 && args[2].kind == Kind::integer) count = args[2].number;
        return bounded(Value::of(js_replace(s, args[0].string, args[1].string, count)), n);
      }
      if (name == "indent") {
        const Value* width_arg = !args.empty() ? &args[0] : kwarg(kwargs, "width");
        const double width = width_arg && width_arg->kind == Kind::integer ? width_arg->number : 4;
        const Value* first_arg = args.size() > 1 ? &args[1] : kwarg(kwargs, "first");
        const Value* blank_arg = args.size() > 2 ? &args[2] : kwarg(kwargs, "blank");
        const bool first = first_arg && truthy(*first_arg), blank = blank_arg && truthy(*blank_arg);
        const std::string pad(static_cast<size_t>(std::clamp(width, 0.0, 256.0)), ' ');
        std::string out;
        size_t line = 0, from = 0;
        while (true) {
          const size_t nl = s.find('\n', from);
          const std::string piece = s.substr(from, nl == std::string::npos ? std::string::npos : nl - from);
          if (line > 0) out += "\n";
          out += ((line == 0 && !first) || (piece.empty() && !blank)) ? piece : pad + piece;
          if (nl == std::string::npos) break;
          from = nl + 1;
          ++line;
        }
        return bounded(Value::of(std::move(out)), n);
      }
      return no_filter();
    }
    if (operand.is_number()) {
      if (name == "abs") {
        Value v = operand;
        v.number = std::fabs(v.number);
        return v;
      }
      if (name == "int") return args.empty() ? Value::integer(std::floor(operand.number)) : operand;
      if (name == "float") return Value::floating(operand.number);
      if (name == "string") return Value::of(display_string(operand));
      return no_filter();
    }
    if (operand.kind == Kind::object) {
      if (name == "items") return items(operand);
      if (name == "length" || name == "count") return Value::integer(static_cast<double>(operand.object->size()));
      if (name == "keys" || name == "values") return call_method(operand, name, {}, {}, n);
      return no_filter();
    }
    if (operand.kind == Kind::boolean) {
      if (name == "bool") return operand;
      if (name == "int") return Value::integer(operand.boolean ? 1 : 0);
      if (name == "float") return Value::floating(operand.boolean ? 1 : 0);
      if (name == "string") return Value::of(operand.boolean ? "true" : "false");
      return no_filter();
    }
    fail(n, "cannot apply filter '" + name + "' to a " + type_name(operand));
  }

  // select('equalto', x) and friends: a test name and its argument.
  bool test_with_argument(const ValueList& args, const Value& item, const Node& n) {
    if (args[0].kind != Kind::string) fail(n, "expected a test name");
    const std::string& t = args[0].string;
    if (t == "equalto" || t == "eq" || t == "==") return args.size() > 1 && strict_equal(item, args[1]);
    if (t == "ne" || t == "!=") return !(args.size() > 1 && strict_equal(item, args[1]));
    return test(t, item, n);
  }

  Value binary(const Node& n, Scope& scope) {
    const std::string& op = n.text;
    const Value left = eval(*n.children[0], scope);
    if (op == "and") return truthy(left) ? eval(*n.children[1], scope) : left;
    if (op == "or") return truthy(left) ? left : eval(*n.children[1], scope);
    const Value right = eval(*n.children[1], scope);
    if (op == "==") return Value::of(loose_equal(left, right));
    if (op == "!=") return Value::of(!loose_equal(left, right));
    if (left.kind == Kind::undefined || right.kind == Kind::undefined) {
      if (right.kind == Kind::undefined && (op == "in" || op == "not in")) return Value::of(op == "not in");
      fail(n, "cannot apply '" + op + "' to an undefined value");
    }
    if (left.kind == Kind::null || right.kind == Kind::null) fail(n, "cannot apply '" + op + "' to none");
    if (op == "~") return Value::of(concat_string(left) + concat_string(right));
    const bool numeric_like_l = left.is_number() || left.kind == Kind::boolean;
    const bool numeric_like_r = right.is_number() || right.kind == Kind::boolean;
    if (op == "**" && numeric_like_l && numeric_like_r) {
      const double a = left.kind == Kind::boolean ? left.boolean : left.number;
      const double b = right.kind == Kind::boolean ? right.boolean : right.number;
      if (a == 0 && b < 0) fail(n, "0.0 cannot be raised to a negative power");
      const double r = std::pow(a, b);
      if (!std::isfinite(r)) fail(n, "exponentiation result is not finite");
      return left.kind == Kind::floating || right.kind == Kind::floating || b < 0 ? Value::floating(r) : Value::integer(r);
    }
    if (left.is_number() && right.is_number()) {
      const double a = left.number, b = right.number;
      const bool is_float = left.kind == Kind::floating || right.kind == Kind::floating;
      auto num = [&](double r) { return is_float ? Value::floating(r) : Value::integer(r); };
      if (op == "+") return num(a + b);
      if (op == "-") return num(a - b);
      if (op == "*") return num(a * b);
      if (op == "/") return Value::floating(a / b);
      if (op == "//") return num(std::floor(a / b));
      if (op == "%") return num(std::fmod(a, b));
      if (op == "<") return Value::of(a < b);
      if (op == ">") return Value::of(a > b);
      if (op == "<=") return Value::of(a <= b);
      if (op == ">=") return Value::of(a >= b);
    } else if (left.kind == Kind::array && right.kind == Kind::array) {
      if (op == "+") {
        ValueList joined = *left.array;
        joined.insert(joined.end(), right.array->begin(), right.array->end());
        return Value::list(std::move(joined));
      }
    } else if (right.kind == Kind::array) {
      bool member = false;
      for (const Value& v : *right.array) member = member || strict_equal(v, left);
      if (op == "in") return Value::of(member);
      if (op == "not in") return Value::of(!member);
    }
    if ((left.kind == Kind::string || right.kind == Kind::string) && op == "+") {
      return Value::of(concat_string(left) + concat_string(right));
    }
    if (left.kind == Kind::string && right.kind == Kind::string) {
      if (op == "in") return Value::of(right.string.find(left.string) != std::string::npos);
      if (op == "not in") return Value::of(right.string.find(left.string) == std::string::npos);
      if (op == "<") return Value::of(left.string < right.string);
      if (op == ">") return Value::of(left.string > right.string);
      if (op == "<=") return Value::of(left.string <= right.string);
      if (op == ">=") return Value::of(left.string >= right.string);
    }
    if (left.kind == Kind::string && right.is_map()) {
      const bool has = right.find(left.string) != nullptr;
      if (op == "in") return Value::of(has);
      if (op == "not in") return Value::of(!has);
    }
    fail(n, "unsupported operation: " + std::string(type_name(left)) + " " + op + " " + type_name(right));
  }

  const ChatTemplateContext& context_;
  uint64_t steps_ = 0;
};

std::string located(const TemplateError& e) {
  return "line " + std::to_string(e.position.line) + ", column " + std::to_string(e.position.column) + ": " + e.what();
}

}  // namespace
}  // namespace chat_template_detail

using namespace chat_template_detail;

Result<ChatTemplate> ChatTemplate::parse(std::string_view source) {
  try {
    auto program = std::make_shared<Program>(parse_chat_template(lex_chat_template(source), kMaxChatTemplateDepth));
    ChatTemplate t;
    t.program_ = std::move(program);
    return t;
  } catch (const TemplateError& e) {
    return Error("chat template: " + located(e));
  }
}

Result<std::string> ChatTemplate::render(const nlohmann::json& messages, const ChatTemplateContext& context) const {
  if (!program_) return Error("chat template: not parsed", ErrorKind::invalid_argument);
  // What transformers.js's apply_chat_template passes, then the caller's extras over it.
  Scope globals(nullptr);
  globals.set("false", Value::of(false));
  globals.set("true", Value::of(true));
  globals.set("none", Value::null());
  globals.set("False", Value::of(false));
  globals.set("True", Value::of(true));
  globals.set("None", Value::null());
  for (const char* f : {"raise_exception", "range", "strftime_now", "namespace"}) globals.set(f, Value::function(f));
  globals.set("add_generation_prompt", Value::of(context.add_generation_prompt));
  globals.set("tools", Value::null());
  globals.set("documents", Value::null());
  try {
    // Only the special tokens that are set, as transformers.js passes them.
    if (!context.bos_token.empty()) globals.set("bos_token", value_from_json(context.bos_token));
    if (!context.eos_token.empty()) globals.set("eos_token", value_from_json(context.eos_token));
    globals.set("messages", value_from_json(messages));
    if (context.extra.is_object()) {
      for (auto it = context.extra.begin(); it != context.extra.end(); ++it) {
        globals.set(it.key(), value_from_json(it.value()));
      }
    }
  } catch (const std::invalid_argument& e) {
    return Error(std::string("chat template: messages or variables: ") + e.what());
  }
  Scope top(&globals);
  try {
    return Renderer(context).run(*program_, top);
  } catch (const TemplateError& e) {
    return Error("chat template: " + located(e));
  } catch (const BreakSignal&) {
    return Error("chat template: {% break %} outside a loop");
  } catch (const ContinueSignal&) {
    return Error("chat template: {% continue %} outside a loop");
  } catch (const std::bad_alloc&) {
    return Error("chat template: out of memory while rendering");
  }
}

}  // namespace sparq::runtime
