// The plan as one self-contained HTML page (inline CSS and SVG, no scripts, no external
// assets - it must open air-gapped): verdict, ranked table, and three charts: cost per
// million documents (encoders) or generated tokens (decoders) by option, per-unit throughput against monthly cost, and the yearly
// cost of owning against renting over hours of use per year (the break-even curve).
#pragma once

#include <string>

#include "runtime/plan/plan.h"

namespace sparq::runtime::planner {

std::string html_report(const Plan& plan, const BenchReport& bench, const Workload& workload,
                        const Catalog& catalog);

}  // namespace sparq::runtime::planner
