// Hugging Face's tokenizer (transformers.js, @huggingface/transformers) as the reference for
// sparq's: loads a local tokenizer.json + tokenizer_config.json (no network), tokenizes
// each JSONL record and writes {"ids": [...], "type_ids": [...]} per line, or
// {"error": "..."} when the reference itself throws. With --decode, decodes each record's
// "ids" instead and writes {"text": "..."}.
//
// usage: node hf_reference.mjs NODE_MODULES_DIR TOKENIZER_DIR JOBS.json
// JOBS.json is a list of jobs, each [INPUT.jsonl, OUTPUT.jsonl, option...] with the options
//   --text-field text, --pair-field F, --max-length N, --decode, --skip-special-tokens,
//   --clean-up-spaces
// run one after another on the tokenizer loaded once (starting node and transformers.js
// costs more than most jobs).
//
// With --max-length, texts are truncated with Hugging Face's "longest_first" strategy as the
// Rust `tokenizers` library defines it (truncation.rs: room = max_length minus the special
// tokens the post-processor adds; a single text keeps its first `room` tokens; for a pair,
// with n1 <= n2 the lengths, n2 = max(n1, room - n1) or n1 when n1 > room, and when
// n1 + n2 > room both become room / 2 (the longer one room / 2 + room % 2)); transformers.js
// only cuts the finished sequence, special tokens included.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';

const [nodeModules, tokenizerDir, jobsPath] = process.argv.slice(2);
if (!jobsPath) {
  console.error('usage: node hf_reference.mjs NODE_MODULES_DIR TOKENIZER_DIR JOBS.json');
  process.exit(2);
}

function parseOptions(args) {
  const options = { textField: 'text', pairField: null, maxLength: 0, decode: false, skipSpecial: false, cleanUp: false };
  const flags = { '--decode': 'decode', '--skip-special-tokens': 'skipSpecial', '--clean-up-spaces': 'cleanUp' };
  for (let i = 0; i < args.length; i += 2) {
    if (args[i] in flags) {
      options[flags[args[i]]] = true;
      --i;
    } else if (args[i] === '--text-field') options.textField = args[i + 1];
    else if (args[i] === '--pair-field') options.pairField = args[i + 1];
    else if (args[i] === '--max-length') options.maxLength = Number(args[i + 1]);
    else throw new Error(`unknown option ${args[i]}`);
  }
  return options;
}

const entry = path.join(nodeModules, '@huggingface', 'transformers', 'dist', 'transformers.node.mjs');
if (!fs.existsSync(entry)) {
  console.error(`hf_reference: ${entry} not found; run tools/install-deps.sh`);
  process.exit(2);
}
const { AutoTokenizer, env } = await import(pathToFileURL(entry).href);
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(path.resolve(tokenizerDir));
const tokenizer = await AutoTokenizer.from_pretrained(path.basename(path.resolve(tokenizerDir)));
const core = tokenizer._tokenizer;  // @huggingface/tokenizers' Tokenizer: the pipeline itself

// Token strings to ids, exactly as the reference's own encode() maps them.
const toId = (t) => core.added_tokens_map.get(t)?.id ?? core.model.tokens_to_ids.get(t) ?? core.model.unk_token_id;

function longestFirst(n1, n2, room) {
  if (n1 + n2 <= room) return [n1, n2];
  const swap = n1 > n2;
  if (swap) [n1, n2] = [n2, n1];
  n2 = n1 > room ? n1 : Math.max(n1, room - n1);
  if (n1 + n2 > room) {
    n1 = Math.floor(room / 2);
    n2 = n1 + (room % 2);
  }
  return swap ? [n2, n1] : [n1, n2];
}

function encode(text, pair, options) {
  if (!options.maxLength) {
    const r = core.encode(text, { text_pair: pair, add_special_tokens: true, return_token_type_ids: true });
    return { ids: r.ids, type_ids: r.token_type_ids ?? r.ids.map(() => 0) };
  }
  let a = core.encode_text(text);
  let b = pair === null ? null : core.encode_text(pair);
  const added = core.post_processor(a.slice(0, 0), b === null ? null : b.slice(0, 0), true).tokens.length;
  const room = Math.max(0, options.maxLength - added);
  if (b === null) {
    a = a.slice(0, room);
  } else {
    const [n1, n2] = longestFirst(a.length, b.length, room);
    a = a.slice(0, n1);
    b = b.slice(0, n2);
  }
  const processed = core.post_processor(a, b, true);
  const ids = processed.tokens.map(toId);
  return { ids, type_ids: processed.token_type_ids ?? ids.map(() => 0) };
}

async function runJob(inputPath, outputPath, options) {
  const out = fs.createWriteStream(outputPath);
  const lines = readline.createInterface({ input: fs.createReadStream(inputPath), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let result;
    try {
      const record = JSON.parse(line);
      if (options.decode) {
        // The core tokenizer's decode(): its decoder, the special-token filter and, when asked,
        // clean_up_tokenization_spaces (the caller's choice, from tokenizer_config.json).
        const text = core.decode(record.ids, {
          skip_special_tokens: options.skipSpecial,
          clean_up_tokenization_spaces: options.cleanUp,
        });
        out.write(JSON.stringify({ text }) + '\n');
        continue;
      }
      result = encode(record[options.textField], options.pairField ? record[options.pairField] : null, options);
    } catch (e) {
      result = { error: String(e.message ?? e) };
    }
    out.write(JSON.stringify(result) + '\n');
  }
  await new Promise((resolve, reject) => out.end((err) => (err ? reject(err) : resolve())));
}

for (const [inputPath, outputPath, ...args] of JSON.parse(fs.readFileSync(jobsPath, 'utf8'))) {
  await runJob(inputPath, outputPath, parseOptions(args));
}
