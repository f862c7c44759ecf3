// The models one server process serves, by the names clients use: each .sparq file is
// loaded as what its metadata says it is (an encoder: classify, embed; a decoder: generate).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "formats/error.h"
#include "runtime/serve/encoder_service.h"
#include "runtime/serve/generation_service.h"
#include "runtime/serve/metrics.h"
#include "runtime/serve/serve_options.h"

namespace sparq::serve {

class ModelRegistry {
 public:
  // Loads every model of `options` (names: options.model_names, else each file's stem).
  static Result<std::unique_ptr<ModelRegistry>> load(const ServeOptions& options, Metrics& metrics);
  ~ModelRegistry();

  // The encoder called `name`; "" names the first encoder. nullptr when there is none.
  EncoderService* encoder(std::string_view name = {}) const;
  // The decoder called `name`; "" names the first decoder. nullptr when there is none.
  GenerationService* decoder(std::string_view name = {}) const;
  std::vector<std::string> names() const;  // in the order given

  // Finishes every queued request and stops the models' workers.
  void shutdown();

 private:
  ModelRegistry() = default;
  std::vector<std::unique_ptr<EncoderService>> encoders_;
  std::vector<std::unique_ptr<GenerationService>> decoders_;
  std::vector<std::string> names_;
};

// The name a model file is served under when none is given: its file name without ".sparq".
std::string default_model_name(const std::string& path);

}  // namespace sparq::serve
