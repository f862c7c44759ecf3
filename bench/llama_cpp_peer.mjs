// llama.cpp as sparq's decoder peer, through node-llama-cpp (pinned in tools/node) and its
// prebuilt CPU backend (@node-llama-cpp/linux-x64: one libggml-cpu-<level>.so per x86 level,
// the best one for this CPU loaded at start; which one is printed to stderr).
//
// Usage: node bench/llama_cpp_peer.mjs SUBCOMMAND MODEL.gguf ... [--threads N]
//   tokenize MODEL STRINGS.jsonl    one JSON line per input line: llama.cpp's ids for its "text",
//                                   BOS first when the file says add_bos_token, special-token text
//                                   such as "<s>" parsed as the token: what Hugging Face's encode()
//                                   returns with its default add_special_tokens
//   argmax   MODEL TOKENS.json      TOKENS.json: [[id, ...], ...]; prints {"argmax": [[...], ...]}:
//                                   teacher-forced, the most likely next token after every position
//   logits   MODEL TOKENS.json      as argmax, plus {"logits": [[[vocab floats] per position]]}
//   bench    MODEL [--prompt-len 128] [--gen-len 64] [--repeat 3] [--seed 1]
//                                   prefill tok/s, time to first token, decode tok/s and per-token
//                                   latency percentiles of greedy generation (EOS does not stop it),
//                                   after one warm-up run; medians over the repeats; JSON
// Options: --threads N (default 2), --kv-cache F16|F32 (the KV cache type; default llama.cpp's F16,
// F32 for logits so an F32 model is compared without that rounding), --node-modules DIR (default: $SPARQ_NODE_MODULES or
// tools/node/node_modules of this checkout).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const positional = [];
  const options = { threads: 2, 'prompt-len': 128, 'gen-len': 64, repeat: 3, seed: 1 };
  for (let i = 0; i < argv.length; ++i) {
    if (argv[i].startsWith('--')) {
      const key = argv[i].slice(2);
      const value = argv[++i];
      if (value === undefined) throw new Error(`option --${key} needs a value`);
      const text = key === 'node-modules' || key === 'kv-cache';
      options[key] = text ? value : Number(value);
      if (!text && !Number.isFinite(options[key])) throw new Error(`--${key}: not a number: ${value}`);
    } else {
      positional.push(argv[i]);
    }
  }
  return { positional, options };
}

async function loadPeer(modelPath, options) {
  const modules = options['node-modules'] || process.env.SPARQ_NODE_MODULES ||
                  path.join(here, '..', 'tools', 'node', 'node_modules');
  const nlc = await import(pathToFileURL(path.join(modules, 'node-llama-cpp', 'dist', 'index.js')).href);
  let cpuVariant = 'not logged';
  // build: "never" keeps it offline (prebuilt binaries only); the CPU variant ggml chose is only
  // reported through the debug log ("load_backend: loaded CPU backend from ...").
  const llama = await nlc.getLlama({
    gpu: false, build: 'never', maxThreads: options.threads, logLevel: nlc.LlamaLogLevel.debug,
    logger: (level, message) => {
      const m = /loaded CPU backend from (\S+)/.exec(message);
      if (m) cpuVariant = path.basename(m[1]);
      if (level === 'error' || level === 'fatal') process.stderr.write(`llama.cpp: ${message}\n`);
    },
  });
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  const version = JSON.parse(fs.readFileSync(path.join(modules, 'node-llama-cpp', 'package.json'), 'utf8')).version;
  process.stderr.write(`node-llama-cpp ${version}, llama.cpp ${llama.llamaCppRelease?.release ?? '?'}, ` +
                       `CPU backend ${cpuVariant}, ${options.threads} threads\n`);
  return { nlc, llama, model, info: { node_llama_cpp: version, llama_cpp: llama.llamaCppRelease?.release,
                                      cpu_backend: cpuVariant, threads: options.threads } };
}

// The context is made larger than what is evaluated: a full context makes node-llama-cpp shift
// it (drop early tokens) before the last token, which changes that token's logits.
async function newSequence(model, options, tokens) {
  const contextSize = tokens + 64;
  const kv = options['kv-cache'] || 'F16';
  const context = await model.createContext({
    contextSize, batchSize: contextSize, sequences: 1,
    threads: { ideal: options.threads, min: options.threads },
    experimentalKvCacheKeyType: kv, experimentalKvCacheValueType: kv, flashAttention: kv === 'F32' ? false : 'auto',
  });
  return { context, sequence: context.getSequence() };
}

function readJsonLines(file) {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

async function tokenize(peer, stringsFile) {
  const tokens = peer.model.tokens;
  const prefix = tokens.shouldPrependBosToken && tokens.bos != null ? [tokens.bos] : [];
  for (const record of readJsonLines(stringsFile)) {
    process.stdout.write(JSON.stringify([...prefix, ...peer.model.tokenize(record.text, true)]) + '\n');
  }
}

// Teacher forcing with controlledEvaluate: every input token asks for the logits of the next
// one, so one call evaluates the whole sequence and returns a result per position.
async function teacherForced(peer, tokensFile, options, wantLogits) {
  const sequences = JSON.parse(fs.readFileSync(tokensFile, 'utf8'));
  const longest = Math.max(...sequences.map((s) => s.length));
  const { context, sequence } = await newSequence(peer.model, options, longest);
  const out = { argmax: [], ...(wantLogits ? { logits: [] } : {}) };
  for (const ids of sequences) {
    await sequence.clearHistory();
    const results = await sequence.controlledEvaluate(ids.map((id) => [id, { generateNext: { logits: true } }]));
    const argmax = [];
    const logits = [];
    for (let i = 0; i < ids.length; ++i) {
      const map = results[i].next.logits;  // sorted from the highest logit down
      argmax.push(map.keys().next().value);
      if (wantLogits) {
        const row = new Array(map.size);
        for (const [token, value] of map) row[token] = value;
        logits.push(row);
      }
    }
    out.argmax.push(argmax);
    if (wantLogits) out.logits.push(logits);
  }
  await context.dispose();
  process.stdout.write(JSON.stringify(out) + '\n');
}

function percentile(sorted, p) {
  const at = (sorted.length - 1) * p;
  const lo = Math.floor(at);
  return sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (at - lo);
}

const median = (xs) => percentile([...xs].sort((a, b) => a - b), 0.5);

function randomPrompt(n, vocab, seed) {
  let state = seed >>> 0 || 1;  // xorshift32: reproducible prompts without a dependency
  const ids = [];
  for (let i = 0; i < n; ++i) {
    state ^= state << 13; state >>>= 0; state ^= state >>> 17; state ^= state << 5; state >>>= 0;
    ids.push(3 + (state % (vocab - 3)));  // past <unk>, <s>, </s>
  }
  return ids;
}

// One measured run: prefill alone (evaluateWithoutGeneratingNewTokens), then from a cleared
// sequence the same prompt through the generator: time to its first token, then each next one.
async function benchRun(sequence, prompt, genLen) {
  await sequence.clearHistory();
  let t = performance.now();
  await sequence.evaluateWithoutGeneratingNewTokens(prompt);
  const prefillMs = performance.now() - t;
  await sequence.clearHistory();
  const stamps = [];
  t = performance.now();
  const generated = [];
  for await (const token of sequence.evaluate(prompt, { temperature: 0, yieldEogToken: true })) {
    stamps.push(performance.now());
    generated.push(token);
    if (generated.length >= genLen) break;
  }
  const gaps = stamps.slice(1).map((s, i) => s - stamps[i]);
  return { prefillMs, ttftMs: stamps[0] - t, gaps, generated };
}

async function bench(peer, options) {
  const promptLen = options['prompt-len'];
  const genLen = options['gen-len'];
  const vocab = peer.model.fileInfo.metadata.tokenizer.ggml.tokens.length;
  const prompt = randomPrompt(promptLen, vocab, options.seed);
  const { context, sequence } = await newSequence(peer.model, options, promptLen + genLen);
  await benchRun(sequence, prompt.slice(0, 16), 4);  // warm-up: page the weights in, start the threads
  const runs = [];
  for (let r = 0; r < options.repeat; ++r) runs.push(await benchRun(sequence, prompt, genLen));
  await context.dispose();
  const gaps = runs.flatMap((r) => r.gaps).sort((a, b) => a - b);
  const decodeTokS = runs.map((r) => r.gaps.length / (r.gaps.reduce((a, b) => a + b, 0) / 1000));
  const result = {
    peer: 'llama.cpp (node-llama-cpp)', ...peer.info, model: path.basename(options.model),
    prompt_len: promptLen, gen_len: genLen, repeats: options.repeat,
    generated_per_run: runs.map((r) => r.generated.length),
    prefill_tok_s: median(runs.map((r) => promptLen / (r.prefillMs / 1000))),
    ttft_ms: median(runs.map((r) => r.ttftMs)),
    decode_tok_s: median(decodeTokS),
    token_latency_ms: { p50: percentile(gaps, 0.5), p95: percentile(gaps, 0.95), p99: percentile(gaps, 0.99) },
    per_run: runs.map((r, i) => ({ prefill_ms: r.prefillMs, ttft_ms: r.ttftMs, decode_tok_s: decodeTokS[i] })),
  };
  process.stdout.write(JSON.stringify(result, null, 1) + '\n');
}

async function main() {
  const { positional, options } = parseArgs(process.argv.slice(2));
  const [command, modelPath, input] = positional;
  const needsInput = { tokenize: true, argmax: true, logits: true, bench: false };
  if (!(command in needsInput) || !modelPath || (needsInput[command] && !input)) {
    process.stderr.write('usage: llama_cpp_peer.mjs tokenize|argmax|logits|bench MODEL.gguf [INPUT] [--threads N]\n');
    process.exit(2);
  }
  options.model = modelPath;
  if (command === 'logits' && !options['kv-cache']) options['kv-cache'] = 'F32';
  const peer = await loadPeer(modelPath, options);
  if (command === 'tokenize') await tokenize(peer, input);
  else if (command === 'bench') await bench(peer, options);
  else await teacherForced(peer, input, options, command === 'logits');
  await peer.model.dispose();
  await peer.llama.dispose();
}

main().catch((e) => { process.stderr.write(`llama_cpp_peer: ${e.stack || e}\n`); process.exit(1); });
