// The plan as one self-contained HTML page (inline CSS and SVG, no scripts, no external
// assets - it must open air-gapped - and no paths of the machine that made it): verdict,
// legend, three charts - cost per million documents (encoders) or generated tokens
// (decoders) by option, per-unit throughput against monthly cost, and the yearly cost of
// owning against renting over hours of use (the break-even curve; none when the workload
// is on-prem only) - the ranked table, and every assumption with its source. Estimates are
// hatched or hollow in the charts and marked "est." in the table; the measured row stands out.
#pragma once

#include <string>

#include "runtime/plan/plan.h"

namespace sparq::runtime::planner {

std::string html_report(const Plan& plan, const BenchReport& bench, const Workload& workload,
                        const Catalog& catalog);

}  // namespace sparq::runtime::planner
