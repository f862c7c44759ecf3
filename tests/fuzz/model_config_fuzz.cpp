// Fuzzes the JSON files of a Hugging Face checkpoint directory as `convert --from hf` reads
// them, and the model architecture a .sparq file's metadata carries. The first input byte
// picks the file the rest becomes:
//   0: config.json (discover_checkpoint: architecture, hyper-parameters, labels);
//   1: the "architecture" object of .sparq metadata (bert/llama config, tensor list);
//   2: tokenizer_config.json beside a vocab.txt (import_tokenizer, then loading it);
//   3: tokenizer.json read from the checkpoint (import_tokenizer, then loading it);
//   4: modules.json of a sentence-transformers checkpoint (discover_checkpoint).
// The other files of each directory are small valid ones, written once.
#include <cstdint>
#include <string>
#include <string_view>

#include "formats/input_file.h"
#include "fuzz_scratch.h"
#include "runtime/convert/hf_checkpoint_discovery.h"
#include "runtime/convert/hf_tokenizer_import.h"
#include "runtime/model/model_schema.h"
#include "runtime/text/tokenizer.h"

namespace {

using sparq::fuzz::Scratch;
namespace hf = sparq::runtime::hf;

constexpr std::string_view kConfig = R"({"architectures": ["BertForSequenceClassification"], "model_type": "bert",
 "vocab_size": 12, "hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1, "intermediate_size": 16,
 "hidden_act": "gelu", "max_position_embeddings": 16, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
 "pad_token_id": 0, "id2label": {"0": "neg", "1": "pos"}, "label2id": {"neg": 0, "pos": 1}})";
constexpr std::string_view kVocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\ncat\n##s\nsat\n.\n,\nhello\n";

std::string safetensors_file() {
  const std::string header = R"({"embeddings.word_embeddings.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(uint64_t{header.size()} >> (8 * i));
  return out + header + std::string(16, '\0');
}

// The directories, made once: "cfg" (mode 0), "tokcfg" (2), "tok" (3), "st" (4).
struct Dirs {
  std::string cfg, tokcfg, tok, st;
  hf::Checkpoint tokcfg_ckpt, tok_ckpt;
  Dirs() {
    const Scratch& s = Scratch::get();
    for (const char* d : {"cfg", "tokcfg", "tok", "st", "st/1_Pooling"}) std::filesystem::create_directory(s.path(d));
    const std::string weights = safetensors_file();
    for (const char* d : {"cfg", "tokcfg", "tok", "st"}) s.write(std::string(d) + "/model.safetensors", weights);
    for (const char* d : {"tokcfg", "tok", "st"}) s.write(std::string(d) + "/config.json", kConfig);
    s.write("tokcfg/vocab.txt", kVocab);
    s.write("st/1_Pooling/config.json", R"({"word_embedding_dimension": 8, "pooling_mode_mean_tokens": true})");
    cfg = s.path("cfg");
    tokcfg = s.path("tokcfg");
    tok = s.path("tok");
    st = s.path("st");
    // Both hold a valid config; only the tokenizer files change per input.
    tokcfg_ckpt = std::move(hf::discover_checkpoint(tokcfg).value());
    s.write("tok/tokenizer.json", "{}");
    tok_ckpt = std::move(hf::discover_checkpoint(tok).value());
  }
};

void load_tokenizer(const hf::Checkpoint& ckpt) {
  auto imported = hf::import_tokenizer(ckpt);
  if (!imported) return;
  auto tokenizer = sparq::runtime::Tokenizer::from_json(imported->tokenizer);
  if (tokenizer) (void)(*tokenizer)->encode("the cats sat, hello.", imported->max_tokens);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static Dirs dirs;
  const Scratch& s = Scratch::get();
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      s.write("cfg/config.json", rest);
      (void)hf::discover_checkpoint(dirs.cfg);
      break;
    case 1: {
      auto json = sparq::formats::parse_json(rest, "metadata");
      if (!json) break;
      (void)sparq::runtime::bert_config_from_json(*json);
      (void)sparq::runtime::llama_config_from_json(*json);
      (void)sparq::runtime::tensors_for(*json);
      break;
    }
    case 2:
      s.write("tokcfg/tokenizer_config.json", rest);
      load_tokenizer(dirs.tokcfg_ckpt);
      break;
    case 3:
      s.write("tok/tokenizer.json", rest);
      load_tokenizer(dirs.tok_ckpt);
      break;
    default:
      s.write("st/modules.json", rest);
      (void)hf::discover_checkpoint(dirs.st);
      break;
  }
  return 0;
}
