#!/usr/bin/env node
// ONNX Runtime (onnxruntime-node, CPU execution provider) on the FP32 ONNX export of the
// peer model, for bench/peers/run_encoder_peers.py.
//
//   node bench/peers/ort_bench.mjs --model build/peers/bert-base.onnx [--threads 2]
//        [--batch 16] [--seq-len 128] [--seconds 20] [--min-iters 3] [--max-iters 1000]
//        [--warmup 1]
//   node bench/peers/ort_bench.mjs --model M.onnx --check onnx_check.json
//
// Bench mode prints one JSON object: documents_per_s, tokens_per_s, latency_ms
// {p50, p95, p99, mean} of one batch, iterations, the settings and ORT's version. Every
// document is seq-len tokens long (no padding), ids drawn from a fixed seed.
// Check mode runs the model on the inputs of the JSON file make_bert_base.py wrote and
// prints the max abs difference between ORT's logits and the PyTorch logits stored there.
// onnxruntime-node comes from tools/node/node_modules (tools/install-deps.sh installs it).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const nodeRefs = new URL('../../tools/node/package.json', import.meta.url);
let ort;
try {
  ort = createRequire(nodeRefs)('onnxruntime-node');
} catch (e) {
  console.error(`ort_bench: cannot load onnxruntime-node from ${new URL('node_modules', nodeRefs).pathname} ` +
                `(run tools/install-deps.sh): ${e.message}`);
  process.exit(2);
}
const ortVersion = JSON.parse(readFileSync(new URL('node_modules/onnxruntime-node/package.json', nodeRefs))).version;

function parseArgs(argv) {
  const opts = { model: null, check: null, threads: 2, batch: 16, seqLen: 128, seconds: 20, minIters: 3,
                 maxIters: 1000, warmup: 1, vocab: 30522 };
  const names = { '--model': 'model', '--check': 'check', '--threads': 'threads', '--batch': 'batch',
                  '--seq-len': 'seqLen', '--seconds': 'seconds', '--min-iters': 'minIters',
                  '--max-iters': 'maxIters', '--warmup': 'warmup', '--vocab': 'vocab' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) throw new Error(`unknown or incomplete option '${argv[i]}'`);
    opts[key] = ['model', 'check'].includes(key) ? argv[i + 1] : Number(argv[i + 1]);
    if (typeof opts[key] === 'number' && !(opts[key] >= 0)) throw new Error(`${argv[i]}: '${argv[i + 1]}' is not a number >= 0`);
  }
  if (!opts.model) throw new Error('--model is required');
  return opts;
}

function int64Tensor(rows, batch, seq) {
  return new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [batch, seq]);
}

// Deterministic ids without Math.random: a 32-bit LCG.
function syntheticFeeds(batch, seq, vocab) {
  let s = 12345;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  const ids = [];
  for (let b = 0; b < batch; ++b) {
    const row = [];
    for (let t = 0; t < seq; ++t) row.push(t === 0 ? 101 : t === seq - 1 ? 102 : 1000 + (next() % (vocab - 1000)));
    ids.push(row);
  }
  const ones = ids.map((r) => r.map(() => 1));
  const zeros = ids.map((r) => r.map(() => 0));
  return { input_ids: int64Tensor(ids, batch, seq), attention_mask: int64Tensor(ones, batch, seq),
           token_type_ids: int64Tensor(zeros, batch, seq) };
}

function percentile(sorted, p) {
  // Nearest-rank on the sorted sample.
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

async function check(session, path) {
  const c = JSON.parse(readFileSync(path, 'utf8'));
  const [batch, seq] = [c.input_ids.length, c.input_ids[0].length];
  const out = await session.run({ input_ids: int64Tensor(c.input_ids, batch, seq),
                                  attention_mask: int64Tensor(c.attention_mask, batch, seq),
                                  token_type_ids: int64Tensor(c.token_type_ids, batch, seq) });
  const got = out.logits.data;
  const want = c.logits.flat();
  if (got.length !== want.length) throw new Error(`logits: ${got.length} values, expected ${want.length}`);
  let maxAbsDiff = 0;
  for (let i = 0; i < got.length; ++i) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(got[i] - want[i]));
  return { engine: 'onnxruntime-node', version: ortVersion, max_abs_diff: maxAbsDiff, logits: Array.from(got) };
}

async function bench(session, o) {
  const feeds = syntheticFeeds(o.batch, o.seqLen, o.vocab);
  for (let i = 0; i < o.warmup; ++i) await session.run(feeds);
  const times = [];
  const start = performance.now();
  while (times.length < o.maxIters && (times.length < o.minIters || performance.now() - start < o.seconds * 1000)) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t0);
  }
  const total = times.reduce((a, b) => a + b, 0) / 1000;
  const sorted = [...times].sort((a, b) => a - b);
  return {
    engine: 'onnxruntime-node', precision: 'f32', version: ortVersion,
    threads: o.threads, batch: o.batch, seq_len: o.seqLen, iterations: times.length, warmup: o.warmup,
    documents_per_s: (o.batch * times.length) / total,
    tokens_per_s: (o.batch * o.seqLen * times.length) / total,
    latency_ms: { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99),
                  mean: (total * 1000) / times.length },
  };
}

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`ort_bench: ${e.message}`);
    return 1;
  }
  const session = await ort.InferenceSession.create(o.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const result = o.check ? await check(session, o.check) : await bench(session, o);
  process.stdout.write(JSON.stringify(result) + '\n');
  return 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error(`ort_bench: ${e.message ?? e}`);
  process.exit(1);
});
