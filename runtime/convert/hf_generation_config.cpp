#include "runtime/convert/hf_generation_config.h"

#include <optional>

#include <fmt/core.h>

#include "formats/input_file.h"
#include "runtime/convert/hf_files.h"

namespace sparq::runtime::hf {
namespace {

using nlohmann::json;

// A special token of tokenizer_config.json (a string, or an AddedToken object with
// "content"), as its id in tokenizer.json; nullopt when absent or null.
Result<std::optional<int64_t>> token_id(const json& config, const char* key, const json& tokenizer,
                                        const std::string& file) {
  if (!config.is_object() || !config.contains(key) || config[key].is_null()) return std::optional<int64_t>();
  const json& v = config[key];
  const json* content = v.is_string() ? &v : v.is_object() && v.contains("content") ? &v["content"] : nullptr;
  if (content == nullptr || !content->is_string()) {
    return Error(fmt::format("{}: {}: expected a token string or an object with \"content\"", file, key));
  }
  const std::string& text = content->get_ref<const std::string&>();
  if (tokenizer.contains("added_tokens") && tokenizer["added_tokens"].is_array()) {
    for (const json& t : tokenizer["added_tokens"]) {
      if (t.is_object() && t.value("content", "") == text && t.contains("id") && t["id"].is_number_integer()) {
        return std::optional<int64_t>(t["id"].get<int64_t>());
      }
    }
  }
  if (tokenizer.contains("model") && tokenizer["model"].is_object() && tokenizer["model"].contains("vocab") &&
      tokenizer["model"]["vocab"].is_object()) {
    const json& vocab = tokenizer["model"]["vocab"];
    if (auto it = vocab.find(text); it != vocab.end() && it->is_number_integer()) {
      return std::optional<int64_t>(it->get<int64_t>());
    }
  }
  return Error(fmt::format("{}: {}: '{}' is not a token of tokenizer.json", file, key, text));
}

// An id field of config.json / generation_config.json: an integer, or a list of them
// (eos_token_id); nullopt when absent or null.
Result<std::optional<std::vector<int64_t>>> ids_field(const json& c, const char* key, const std::string& file) {
  if (!c.is_object() || !c.contains(key) || c[key].is_null()) return std::optional<std::vector<int64_t>>();
  const json& v = c[key];
  std::vector<int64_t> ids;
  for (const json& id : v.is_array() ? v : json::array({v})) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0) {
      return Error(fmt::format("{}: {}: expected a token id or a list of them, got {}", file, key, v.dump()));
    }
    ids.push_back(id.get<int64_t>());
  }
  return std::optional(ids);
}

Status read_sampling(const json& g, const std::string& file, GenerationConfig& out) {
  for (auto [key, field] : {std::pair{"temperature", &out.temperature}, {"top_p", &out.top_p}, {"min_p", &out.min_p},
                            {"repetition_penalty", &out.repetition_penalty}}) {
    if (!g.contains(key) || g[key].is_null()) continue;
    if (!g[key].is_number()) return Error(fmt::format("{}: {}: expected a number, got {}", file, key, g[key].dump()));
    *field = g[key].get<double>();
  }
  auto top_k = config_uint(g, file, "top_k", 0, 0);
  if (!top_k) return top_k.error();
  out.top_k = *top_k;
  out.do_sample = config_true(g, "do_sample");
  return {};
}

Result<std::string> chat_template(const json& tc, const std::string& file, const std::string& dir,
                                  std::vector<std::string>* files) {
  if (tc.is_object() && tc.contains("chat_template") && !tc["chat_template"].is_null()) {
    const json& t = tc["chat_template"];
    if (t.is_string()) return t.get<std::string>();
    if (t.is_array()) {
      for (const json& named : t) {
        if (named.is_object() && named.value("name", "") == "default" && named.contains("template") &&
            named["template"].is_string()) {
          return named["template"].get<std::string>();
        }
      }
    }
    return Error(fmt::format("{}: chat_template: expected a string or a list with a \"default\" template", file));
  }
  // Newer checkpoints keep the template in its own file.
  const std::string jinja = join_path(dir, "chat_template.jinja");
  if (entry_exists(jinja)) {
    auto text = formats::read_regular_file(jinja, size_t{1} << 20);
    if (!text) return text.error();
    files->push_back(jinja);
    return *text;
  }
  return std::string();
}

}  // namespace

Result<GenerationImport> import_generation_config(const Checkpoint& m, const json& tokenizer, const json& tc) {
  GenerationImport out;
  GenerationConfig& g = out.generation;
  const std::string tc_file = join_path(m.model_dir, "tokenizer_config.json");
  json gen = json::object();
  const std::string gen_file = join_path(m.model_dir, "generation_config.json");
  if (entry_exists(gen_file)) {
    auto loaded = formats::load_json_file(gen_file);
    if (!loaded) return loaded.error();
    if (!loaded->is_object()) return Error(fmt::format("{}: expected a JSON object", gen_file));
    gen = std::move(*loaded);
    out.files_read.push_back(gen_file);
  }
  auto config = formats::load_json_file(m.config_file);
  if (!config) return config.error();

  // BOS: the token the tokenizer prepends, else the generation / model config's id.
  auto bos = token_id(tc, "bos_token", tokenizer, tc_file);
  if (!bos) return bos.error();
  if (*bos) {
    g.bos_token_id = **bos;
  } else {
    for (auto [c, file] : {std::pair{&gen, &gen_file}, {&*config, &m.config_file}}) {
      auto ids = ids_field(*c, "bos_token_id", *file);
      if (!ids) return ids.error();
      if (*ids && !(*ids)->empty()) {
        g.bos_token_id = (*ids)->front();
        break;
      }
    }
  }
  // EOS: generation_config.json's list (instruct models stop at several), else config.json's,
  // else the tokenizer's eos_token.
  for (auto [c, file] : {std::pair{&gen, &gen_file}, {&*config, &m.config_file}}) {
    auto ids = ids_field(*c, "eos_token_id", *file);
    if (!ids) return ids.error();
    if (*ids) {
      g.eos_token_ids = **ids;
      break;
    }
  }
  if (g.eos_token_ids.empty()) {
    auto eos = token_id(tc, "eos_token", tokenizer, tc_file);
    if (!eos) return eos.error();
    if (*eos) g.eos_token_ids = {**eos};
  }
  // LlamaTokenizer prepends BOS unless told otherwise; Qwen2's tokenizer has no BOS.
  g.add_bos_token = m.llama.variant != "qwen2";
  if (tc.is_object() && tc.contains("add_bos_token") && tc["add_bos_token"].is_boolean()) {
    g.add_bos_token = tc["add_bos_token"].get<bool>();
  }
  if (g.bos_token_id < 0) g.add_bos_token = false;
  auto tmpl = chat_template(tc, tc_file, m.model_dir, &out.files_read);
  if (!tmpl) return tmpl.error();
  g.chat_template = std::move(*tmpl);
  if (Status s = read_sampling(gen, gen_file, g); !s) return s.error();
  if (auto checked = generation_config_from_json(to_json(g)); !checked) {
    return checked.error().within(out.files_read.empty() ? m.config_file : out.files_read.front());
  }
  return out;
}

}  // namespace sparq::runtime::hf
