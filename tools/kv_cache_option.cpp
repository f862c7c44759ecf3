#include "tools/kv_cache_option.h"

#include <string>
#include <vector>

#include "runtime/model/kv_cache.h"

namespace sparq::tools {

CLI::Option* add_kv_cache_option(CLI::App* app, kernels::KvEncoding* encoding, const std::string& applies_to) {
  std::vector<std::string> names;
  for (kernels::KvEncoding e : {kernels::KvEncoding::f32, kernels::KvEncoding::f16, kernels::KvEncoding::q8}) {
    names.push_back(kernels::kv_encoding_name(e));
  }
  return app
      ->add_option_function<std::string>(
          "--kv-cache",
          [encoding](const std::string& name) {
            if (auto e = runtime::kv_encoding_from_name(name); e.ok()) *encoding = *e;
          },
          applies_to + "KV-cache storage: f32 (default), f16 (half the memory) or q8 (int8 with one scale per "
                       "position and KV head, about a quarter)")
      ->check(CLI::IsMember(names));
}

}  // namespace sparq::tools
