#include "runtime/serve/model_registry.h"

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>

#include "formats/sparq_reader.h"
#include "kernels/isa.h"

namespace sparq::serve {
namespace {

bool is_decoder(const nlohmann::json& metadata) {
  auto it = metadata.find("architecture");
  return it != metadata.end() && it->is_object() && it->value("name", "") == "llama";
}

}  // namespace

std::string default_model_name(const std::string& path) {
  std::filesystem::path p(path);
  return p.extension() == ".sparq" ? p.stem().string() : p.filename().string();
}

Result<std::unique_ptr<ModelRegistry>> ModelRegistry::load(const ServeOptions& options, Metrics& metrics) {
  if (options.models.empty()) return Error("no model to serve", ErrorKind::invalid_argument);
  if (!options.model_names.empty() && options.model_names.size() != options.models.size()) {
    return Error(fmt::format("{} models but {} --model-name: give one name per model, in the same order",
                             options.models.size(), options.model_names.size()),
                 ErrorKind::invalid_argument)
        .about("model_name");
  }
  std::unique_ptr<ModelRegistry> r(new ModelRegistry());
  for (size_t i = 0; i < options.models.size(); ++i) {
    const std::string& path = options.models[i];
    std::string name = options.model_names.empty() ? default_model_name(path) : options.model_names[i];
    if (std::find(r->names_.begin(), r->names_.end(), name) != r->names_.end()) {
      return Error(fmt::format("two models are named '{}': name them apart with --model-name", name),
                   ErrorKind::invalid_argument)
          .about("model_name");
    }
    auto reader = formats::SparqReader::open(path);
    if (!reader) return reader.error();
    std::shared_ptr<const formats::SparqReader> file(std::move(*reader));
    if (is_decoder(file->metadata())) {
      auto service = GenerationService::load(name, std::move(file), options, metrics);
      if (!service) return service.error();
      runtime::DecoderModel& m = (*service)->model();
      metrics.set_model_info({{"model", name},
                              {"task", "generate"},
                              {"path", path},
                              {"isa", std::string(kernels::isa_name(m.isa()))},
                              {"slots", std::to_string(options.decode_slots)},
                              {"context", std::to_string((*service)->context())}});
      r->decoders_.push_back(std::move(*service));
    } else {
      auto service = EncoderService::load(name, std::move(file), options, metrics);
      if (!service) return service.error();
      runtime::EncoderModel& m = (*service)->model();
      metrics.set_model_info({{"model", name},
                              {"task", m.config().num_labels > 0 ? "classify" : "embed"},
                              {"path", path},
                              {"isa", std::string(kernels::isa_name(m.isa()))}});
      r->encoders_.push_back(std::move(*service));
    }
    r->names_.push_back(std::move(name));
  }
  return r;
}

ModelRegistry::~ModelRegistry() { shutdown(); }

EncoderService* ModelRegistry::encoder(std::string_view name) const {
  for (const auto& e : encoders_) {
    if (name.empty() || e->name() == name) return e.get();
  }
  return nullptr;
}

GenerationService* ModelRegistry::decoder(std::string_view name) const {
  for (const auto& d : decoders_) {
    if (name.empty() || d->name() == name) return d.get();
  }
  return nullptr;
}

std::vector<std::string> ModelRegistry::names() const { return names_; }

void ModelRegistry::shutdown() {
  for (auto& e : encoders_) e->shutdown();
  for (auto& d : decoders_) d->shutdown();
}

}  // namespace sparq::serve
