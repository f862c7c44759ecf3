#include "tools/usage_error.h"

#include <fmt/core.h>

#include <charconv>
#include <optional>
#include <string_view>

#include "formats/document.h"

namespace sparq::tools {
namespace {

// The name within a few typos of `word`, else the only one it begins (`--batch` for
// `--batch-size`); empty when there is neither.
std::string closest(std::string_view word, const std::vector<std::string>& names) {
  std::vector<std::string_view> views(names.begin(), names.end());
  std::string typo = formats::closest_name(word, views);
  if (!typo.empty()) return typo;
  std::string prefixed;
  for (const std::string& name : names) {
    if (!name.starts_with(word)) continue;
    if (!prefixed.empty()) return "";
    prefixed = name;
  }
  return prefixed;
}

// "; did you mean 'NAME'?", or where the list of names is.
std::string hint(std::string_view word, const std::vector<std::string>& names, const std::string& listed_by) {
  std::string name = closest(word, names);
  return name.empty() ? fmt::format("; `{}` lists them", listed_by) : fmt::format("; did you mean '{}'?", name);
}

std::vector<const CLI::App*> commands(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App*) { return true; });
}

const CLI::App* command_named(const CLI::App& app, const std::string& name) {
  for (const CLI::App* sub : commands(app)) {
    if (sub->get_name() == name) return sub;
  }
  return nullptr;
}

std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : commands(app)) names.push_back(sub->get_name());
  return names;
}

std::vector<std::string> option_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* o : app.get_options()) {
    for (const std::string& l : o->get_lnames()) names.push_back("--" + l);
    for (const std::string& s : o->get_snames()) names.push_back("-" + s);
  }
  return names;
}

bool is_number(std::string_view s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size();
}

// The first argument that looks like an option `app` does not have ("--treads", "-x",
// "--treads=2"); "-" (stdin/stdout) and negative numbers are values, and everything after
// "--" is positional.
std::optional<std::string> unknown_option(const CLI::App& app, const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-' || is_number(arg)) continue;
    std::string name = arg.starts_with("--") ? arg.substr(0, arg.find('=')) : arg.substr(0, 2);  // -t2, -qv
    if (!app.get_option_no_throw(name)) return name;
  }
  return std::nullopt;
}

}  // namespace

std::string usage_error_message(const CLI::App& app, const std::vector<std::string>& args,
                                const CLI::ParseError& error) {
  // Only --help and --version come before the command, so the first argument names it.
  if (args.empty()) return "no command given; `sparq --help` lists them";
  const CLI::App* command = nullptr;
  if (!args[0].starts_with("-")) {
    command = command_named(app, args[0]);
    if (!command) return fmt::format("unknown command '{}'{}", args[0], hint(args[0], command_names(app), "sparq --help"));
  }
  const CLI::App& parser = command ? *command : app;
  const std::string help = command ? fmt::format("sparq {} --help", command->get_name()) : "sparq --help";
  const std::string where = command ? command->get_name() + ": " : "";
  std::vector<std::string> rest(args.begin() + (command ? 1 : 0), args.end());
  if (std::optional<std::string> option = unknown_option(parser, rest)) {
    return fmt::format("{}unknown option '{}'{}", where, *option, hint(*option, option_names(parser), help));
  }
  return fmt::format("{}{} (`{}` lists the options)", where, error.what(), help);
}

}  // namespace sparq::tools
