// Compares the Python trainer's token ids with Hugging Face transformers.js on real documents.
// Usage: node verify_tokenizer.mjs CHECKPOINT_DIR DATA.jsonl PY_IDS.jsonl [--auto]
//   --auto: load through AutoTokenizer.from_pretrained (offline, local directory), so the class
//   named by tokenizer_config.json's tokenizer_class is used, as an application would get it.
//   PY_IDS.jsonl: one JSON id list per document, in DATA.jsonl order (bert_tokenizer.py main, or
//   check_ids.jsonl from train_sp_tokenizer.py --check).
// Prints the number of documents compared and mismatches (with the first few shown), and how many
// documents decode back to their exact text (only lossless tokenizers, such as the Llama one, can).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// tools/node's transformers.js, or the node_modules named by SPARQ_NODE_MODULES.
const modules = process.env.SPARQ_NODE_MODULES || path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'tools', 'node', 'node_modules');
const tf = require(path.join(modules, '@huggingface', 'transformers'));
const [dir, dataPath, idsPath, mode] = process.argv.slice(2);
let tok;
if (mode === '--auto') {
  tf.env.allowRemoteModels = false;
  tf.env.localModelPath = path.dirname(path.resolve(dir)) + '/';
  tok = await tf.AutoTokenizer.from_pretrained(path.basename(path.resolve(dir)));
} else {
  const tokJson = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
  const tokCfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
  tok = new tf.PreTrainedTokenizer(tokJson, tokCfg);
}
const docs = fs.readFileSync(dataPath, 'utf8').split('\n').filter(Boolean);
const pyIds = fs.readFileSync(idsPath, 'utf8').split('\n').filter(Boolean);
let bad = 0, roundTrips = 0;
for (let i = 0; i < pyIds.length; ++i) {
  const text = JSON.parse(docs[i]).text;
  const hf = tok.encode(text);
  const py = JSON.parse(pyIds[i]);
  if (tok.decode(hf, { skip_special_tokens: true }) === text) ++roundTrips;
  if (hf.length !== py.length || hf.some((v, k) => v !== py[k])) {
    ++bad;
    if (bad <= 5) {
      let k = 0;
      while (k < hf.length && hf[k] === py[k]) ++k;
      console.log(`doc ${i}: first difference at token ${k}: hf=${JSON.stringify(hf.slice(k, k + 5))} ` +
                  `py=${JSON.stringify(py.slice(k, k + 5))} near ${JSON.stringify(tok.decode(hf.slice(Math.max(0, k - 3), k + 3)))}`);
    }
  }
}
console.log(JSON.stringify({ tokenizer: tok.constructor.name, compared: pyIds.length, mismatches: bad, decode_round_trips: roundTrips }));
