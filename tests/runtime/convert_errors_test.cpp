// The conversion library's errors say what is wrong in its own terms, never in a front
// end's: no CLI flag appears in them (tools/cmd_convert.cpp adds its flags where it needs to).
#include <gtest/gtest.h>

#include "cli_runner.h"
#include "runtime/convert/hf_import.h"
#include "runtime/convert/sparq_reencode.h"
#include "runtime/convert/synthetic_model.h"
#include "runtime/model/model_schema.h"

namespace {

void expect_refused(const sparq::Status& status, const std::string& message) {
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message(), message);
  EXPECT_EQ(status.error().kind(), sparq::ErrorKind::invalid_argument);
}

TEST(ConvertErrors, NameNoCliFlag) {
  const std::string dir = sparq::test::temp_dir("convert_errors");

  sparq::runtime::HfImportOptions hf;
  hf.embeddings.encoding = sparq::formats::Encoding::q4;
  auto imported = sparq::runtime::import_hf_checkpoint(dir, hf, dir + "/m.sparq");
  expect_refused(imported ? sparq::Status() : imported.error(), "embedding tables: expected f32, f16, bf16 or q8");
  hf.embeddings = {};
  for (auto sparse : {sparq::formats::Encoding::csr, sparq::formats::Encoding::bitmap}) {
    hf.weights.encoding = sparse;
    imported = sparq::runtime::import_hf_checkpoint(dir, hf, dir + "/m.sparq");
    expect_refused(imported ? sparq::Status() : imported.error(),
                   "linear weights: give a dense encoding (f32, f16, bf16, q8, q4); zeros already in the checkpoint "
                   "are kept sparse automatically");
  }

  auto reencoded = sparq::runtime::reencode_sparq(dir + "/in.sparq", {}, dir + "/out.sparq");
  expect_refused(reencoded ? sparq::Status() : reencoded.error(),
                 "re-encoding needs a compression recipe or a calibration temperature");
  sparq::runtime::ReencodeOptions zero_temperature;
  zero_temperature.temperature = 0.0;
  reencoded = sparq::runtime::reencode_sparq(dir + "/in.sparq", zero_temperature, dir + "/out.sparq");
  expect_refused(reencoded ? sparq::Status() : reencoded.error(), "temperature: expected a temperature in (0, 1000], got 0");

  sparq::runtime::SynthOptions synth;
  auto arch = sparq::runtime::architecture_preset("bert", "bert-tiny");
  ASSERT_TRUE(arch.ok());
  synth.architecture = *arch;
  synth.sparsity = 1.5;
  auto written = sparq::runtime::write_synthetic_model(synth, dir + "/s.sparq");
  expect_refused(written ? sparq::Status() : written.error(), "sparsity must be in [0, 1), got 1.5");
}

}  // namespace
