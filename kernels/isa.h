// ISA levels the kernels are written for, ordered from portable to most specialised
// within each architecture. The process picks one level once: the best the CPU supports,
// or the one SPARQ_ISA names (asking for a level the CPU or OS lacks is an error).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "formats/error.h"
#include "kernels/cpu_features.h"

namespace sparq::kernels {

enum class Isa { ref, avx2, avx512, avx512vnni, amx, neon, neon_dotprod, neon_i8mm };

std::string_view isa_name(Isa isa);                 // "avx512vnni"
Result<Isa> parse_isa(std::string_view name);       // inverse of isa_name
bool isa_supported(Isa isa, const CpuFeatures& f);  // can this CPU+OS run kernels of `isa`?
Isa best_isa(const CpuFeatures& f);
std::vector<Isa> supported_isas(const CpuFeatures& f);  // ref first

// The features `isa` needs that `f` lacks, by feature_names() name; empty if supported.
std::vector<std::string> missing_features(Isa isa, const CpuFeatures& f);

// The decision behind selected_isa(), without the process-wide caching: `env_value` is the
// value of SPARQ_ISA (nullptr or "" when unset). An unknown name is a usage error listing
// the valid names; a level `f` cannot run is an `unsupported` error naming what is missing.
Result<Isa> resolve_isa(const char* env_value, const CpuFeatures& f);

// The level for this process: SPARQ_ISA if set (validated), else best_isa(cpu_info()).
// Decided on first call, then fixed.
Result<Isa> selected_isa();

}  // namespace sparq::kernels
