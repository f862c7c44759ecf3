// One transformer-ops config per process, chosen once from selected_isa(); ISA levels map to
// kernel families (the VNNI and AMX levels run avx512's f32 kernels plus int8 attention).
#include <string>

#include "kernels/ref/transformer_ops__ref.h"
#include "kernels/transformer_ops.h"

namespace sparq::kernels {

// Each ISA directory's kernels/<isa>/transformer_ops__<isa>.cpp builds its family's config.
#if SPARQ_HAVE_AVX2
TransformerOpsConfig transformer_ops_config__avx2();
#endif
#if SPARQ_HAVE_AVX512
TransformerOpsConfig transformer_ops_config__avx512();
#endif
#if SPARQ_HAVE_AVX512VNNI
TransformerOpsConfig transformer_ops_config__avx512vnni();
#endif
#if SPARQ_HAVE_NEON
TransformerOpsConfig transformer_ops_config__neon();
#endif

namespace {

TransformerOpsConfig ref_config() {
  TransformerOpsConfig c;
  c.isa = Isa::ref;
  c.name = "ref";
  c.layernorm = layernorm__ref;
  c.rmsnorm = rmsnorm__ref;
  c.softmax = softmax__ref;
  c.gelu_erf = gelu_erf__ref;
  c.gelu_tanh = gelu_tanh__ref;
  c.silu = silu__ref;
  c.swiglu = swiglu__ref;
  c.exp = exp__ref;
  c.attention = attention__ref;
  return c;
}

// Null when this build has no kernels for `isa`.
const TransformerOpsConfig* build_config(Isa isa) {
  switch (isa) {
    case Isa::ref: {
      static const TransformerOpsConfig c = ref_config();
      return &c;
    }
#if SPARQ_HAVE_AVX2
    case Isa::avx2: {
      static const TransformerOpsConfig c = transformer_ops_config__avx2();
      return &c;
    }
#endif
#if SPARQ_HAVE_AVX512
    case Isa::avx512: {
      static const TransformerOpsConfig c = transformer_ops_config__avx512();
      return &c;
    }
#endif
#if SPARQ_HAVE_AVX512VNNI
    case Isa::avx512vnni:
    case Isa::amx: {
      static const TransformerOpsConfig c = transformer_ops_config__avx512vnni();
      return &c;
    }
#endif
#if SPARQ_HAVE_NEON
    case Isa::neon:
    case Isa::neon_dotprod:
    case Isa::neon_i8mm: {
      static const TransformerOpsConfig c = transformer_ops_config__neon();
      return &c;
    }
#endif
    default:
      return nullptr;
  }
}

}  // namespace

Result<const TransformerOpsConfig*> transformer_ops_config_for(Isa isa) {
  if (!isa_supported(isa, cpu_info().features))
    return Error("transformer ops: ISA level '" + std::string(isa_name(isa)) +
                     "' is not supported by this CPU/OS",
                 ErrorKind::unsupported);
  const TransformerOpsConfig* c = build_config(isa);
  if (c == nullptr)
    return Error("transformer ops: this build has no kernels for ISA level '" +
                     std::string(isa_name(isa)) + "'",
                 ErrorKind::unsupported);
  return c;
}

const TransformerOpsConfig& transformer_ops_config() {
  static const TransformerOpsConfig* chosen = [] {
    Result<Isa> isa = selected_isa();
    Result<const TransformerOpsConfig*> c =
        transformer_ops_config_for(isa.ok() ? *isa : best_isa(cpu_info().features));
    return c.ok() ? *c : build_config(Isa::ref);
  }();
  return *chosen;
}

}  // namespace sparq::kernels
