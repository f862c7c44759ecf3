// ISA levels: what each needs, which one this process uses.
#include "kernels/isa.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdlib>

namespace sparq::kernels {
namespace {

struct Requirement {
  bool CpuFeatures::*member;
  const char* name;
};

struct Level {
  Isa isa;
  const char* name;
  std::vector<Requirement> needs;  // every feature, not only those above the level below
};

constexpr Requirement kAvx2{&CpuFeatures::avx2, "avx2"}, kFma{&CpuFeatures::fma, "fma"},
    kF16c{&CpuFeatures::f16c, "f16c"}, kAvx512f{&CpuFeatures::avx512f, "avx512f"},
    kAvx512bw{&CpuFeatures::avx512bw, "avx512bw"}, kAvx512vl{&CpuFeatures::avx512vl, "avx512vl"},
    kAvx512dq{&CpuFeatures::avx512dq, "avx512dq"},
    kAvx512vnni{&CpuFeatures::avx512vnni, "avx512vnni"},
    kAmxTile{&CpuFeatures::amx_tile, "amx_tile"}, kAmxInt8{&CpuFeatures::amx_int8, "amx_int8"},
    kNeon{&CpuFeatures::neon, "neon"}, kDotprod{&CpuFeatures::dotprod, "dotprod"},
    kI8mm{&CpuFeatures::i8mm, "i8mm"};

// Ordered portable -> most specialised within each architecture; best_isa relies on it.
// Each level's kernels are compiled with exactly these features (cmake/SparqIsa.cmake). DQ
// is in the AVX-512 levels because the compiler emits DQ instructions for AVX512VL code
// (every CPU with BW and VL has DQ: Skylake-SP and later, Zen 4).
const Level kLevels[] = {
    {Isa::ref, "ref", {}},
    {Isa::avx2, "avx2", {kAvx2, kFma, kF16c}},
    {Isa::avx512, "avx512", {kAvx2, kFma, kF16c, kAvx512f, kAvx512bw, kAvx512vl, kAvx512dq}},
    {Isa::avx512vnni, "avx512vnni",
     {kAvx2, kFma, kF16c, kAvx512f, kAvx512bw, kAvx512vl, kAvx512dq, kAvx512vnni}},
    {Isa::amx, "amx",
     {kAvx2, kFma, kF16c, kAvx512f, kAvx512bw, kAvx512vl, kAvx512dq, kAvx512vnni, kAmxTile,
      kAmxInt8}},
    {Isa::neon, "neon", {kNeon}},
    {Isa::neon_dotprod, "neon-dotprod", {kNeon, kDotprod}},
    {Isa::neon_i8mm, "neon-i8mm", {kNeon, kDotprod, kI8mm}},
};

const Level& level_of(Isa isa) {
  for (const Level& level : kLevels)
    if (level.isa == isa) return level;
  return kLevels[0];
}

std::string valid_names() {
  std::string names;
  for (const Level& level : kLevels) names += (names.empty() ? "" : ", ") + std::string(level.name);
  return names;
}

}  // namespace

std::string_view isa_name(Isa isa) { return level_of(isa).name; }

Result<Isa> parse_isa(std::string_view name) {
  for (const Level& level : kLevels)
    if (name == level.name) return level.isa;
  return Error(fmt::format("unknown ISA '{}'; valid names: {}", name, valid_names()), ErrorKind::invalid_argument);
}

std::vector<std::string> missing_features(Isa isa, const CpuFeatures& f) {
  std::vector<std::string> missing;
  for (const Requirement& r : level_of(isa).needs)
    if (!(f.*r.member)) missing.emplace_back(r.name);
  return missing;
}

bool isa_supported(Isa isa, const CpuFeatures& f) { return missing_features(isa, f).empty(); }

std::vector<Isa> supported_isas(const CpuFeatures& f) {
  std::vector<Isa> isas;
  for (const Level& level : kLevels)
    if (isa_supported(level.isa, f)) isas.push_back(level.isa);
  return isas;
}

Isa best_isa(const CpuFeatures& f) { return supported_isas(f).back(); }

Result<Isa> resolve_isa(const char* env_value, const CpuFeatures& f) {
  if (env_value == nullptr || *env_value == '\0') return best_isa(f);
  Result<Isa> isa = parse_isa(env_value);
  if (!isa) return isa.error().within("SPARQ_ISA");
  std::vector<std::string> missing = missing_features(*isa, f);
  if (!missing.empty())
    return Error(fmt::format("SPARQ_ISA={} needs {} which this CPU/OS does not provide", env_value,
                             fmt::join(missing, ", ")),
                 ErrorKind::unsupported);
  return isa;
}

Result<Isa> selected_isa() {
  static const Result<Isa> isa = resolve_isa(std::getenv("SPARQ_ISA"), cpu_info().features);
  return isa;
}

}  // namespace sparq::kernels
