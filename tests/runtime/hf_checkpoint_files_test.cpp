// The JSON files of a Hugging Face checkpoint directory are read like every other user file
// (formats::load_json_file): bounded nesting and size, regular files only, errors naming
// the file. hf_files.cpp once parsed them with an unbounded nlohmann::json::parse through
// std::ifstream; these pin the bounds that fuzz_model_config relies on.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli_runner.h"
#include "runtime/convert/hf_checkpoint_discovery.h"
#include "runtime/convert/hf_tokenizer_import.h"

namespace {

namespace hf = sparq::runtime::hf;

const std::string kFixture = std::string(SPARQ_SOURCE_DIR) + "/tests/runtime/fixtures/encoders/bert-odd";

void write_file(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// A checkpoint directory with the fixture's config.json and weights, and no tokenizer.
std::string checkpoint_dir(const std::string& name) {
  const std::string dir = sparq::test::temp_dir("hf_checkpoint_files") + "/" + name;
  std::filesystem::create_directories(dir);
  for (const char* f : {"config.json", "model.safetensors"})
    std::filesystem::copy_file(kFixture + "/" + f, dir + "/" + f, std::filesystem::copy_options::overwrite_existing);
  return dir;
}

TEST(HfCheckpointFiles, DeeplyNestedTokenizerJsonIsRefusedNamingTheFile) {
  const std::string dir = checkpoint_dir("nested");
  // Serialising this into the .sparq metadata overflowed the stack.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  write_file(dir + "/tokenizer.json", R"({"model": {"type": "WordPiece", "vocab": {}}, "x": )" + deep + "}");
  auto ckpt = hf::discover_checkpoint(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.error().message();
  auto imported = hf::import_tokenizer(*ckpt);
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.error().message().rfind(dir + "/tokenizer.json: nested deeper than 64 levels", 0), 0u)
      << imported.error().message();
}

TEST(HfCheckpointFiles, DuplicateKeysInConfigJsonAreRefused) {
  const std::string dir = checkpoint_dir("duplicate");
  std::ifstream in(kFixture + "/config.json");
  std::string config((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  config.insert(config.find('{') + 1, R"( "hidden_size": 4096,)");
  write_file(dir + "/config.json", config);
  auto ckpt = hf::discover_checkpoint(dir);
  ASSERT_FALSE(ckpt.ok());
  EXPECT_NE(ckpt.error().message().find("config.json: key 'hidden_size' is listed twice"), std::string::npos)
      << ckpt.error().message();
}

TEST(HfCheckpointFiles, DirectoryAsConfigJsonIsRefusedNamingWhatItIs) {
  const std::string dir = checkpoint_dir("directory");
  std::filesystem::remove(dir + "/config.json");
  std::filesystem::create_directory(dir + "/config.json");
  auto ckpt = hf::discover_checkpoint(dir);
  ASSERT_FALSE(ckpt.ok());
  EXPECT_NE(ckpt.error().message().find(dir + "/config.json: a directory, not a regular file"), std::string::npos)
      << ckpt.error().message();
}

}  // namespace
