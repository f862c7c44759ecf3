#!/usr/bin/env node
// The serving peer of `sparq serve` for the load test: ONNX Runtime (onnxruntime-node, CPU
// execution provider, one InferenceSession) behind Node's built-in http module, answering
// Text Embeddings Inference's POST /predict (and GET /health, /info) as `sparq serve` does,
// with a dynamic batcher in front of the session.
//
//   node bench/serve/ort_server.mjs --dir build/serve-peers/debian-sections [--threads 2]
//        [--port 8081] [--max-batch 64] [--max-batch-tokens 1024] [--batch-wait-ms 0] [--spin 0]
//
// --dir is what bench/serve/make_onnx_peer.py writes: model.onnx, tokenizer.json,
// tokenizer_config.json and config.json (labels, max_tokens). Session options are
// bench/peers/ort_bench.mjs's: intraOpNumThreads = --threads, interOpNumThreads = 1, graph
// optimisation `all`, sequential execution; session.intra_op.allow_spinning is --spin (0 by
// default: ORT's intra-op threads then sleep between tasks instead of spinning, as `sparq
// serve`'s OpenMP threads do). Tokenisation is Hugging Face's own, transformers.js's
// BertTokenizer (tools/node), on the event-loop thread while the session runs on its own.
//
// Batching: requests are tokenised on arrival and queued. When the session is idle the
// queue is run after --batch-wait-ms (0: once the requests already read in this turn of the
// event loop are queued); while it runs, requests queue and all of them (up to --max-batch
// texts) form the next batch the moment it finishes: sparq serve's policy. A batch is sorted
// by length, longest first, and cut into forward passes of at most --max-batch-tokens padded
// tokens, each padded to its longest text (sparq's EncoderPipeline sorts them the same way,
// but runs only the real tokens; ONNX Runtime computes the padding too, so small forwards of
// similar lengths suit it). The defaults (1024 tokens, no spinning) were the fastest of the
// settings tried for both models of bench/RESULTS.md's "sparq serve under load".
//
// Prints "listening on http://HOST:PORT/" then "ready" on stderr (serve_load.py waits for
// them); SIGTERM or SIGINT close the listener, answer what is queued and exit 0.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const nodeRefs = new URL('../../tools/node/package.json', import.meta.url);
const require = createRequire(nodeRefs);
let ort, tf;
try {
  ort = require('onnxruntime-node');
  tf = require('@huggingface/transformers');
} catch (e) {
  console.error(`ort_server: cannot load onnxruntime-node or transformers.js from ` +
                `${new URL('node_modules', nodeRefs).pathname} (run tools/install-deps.sh): ${e.message}`);
  process.exit(2);
}
const ortVersion = JSON.parse(readFileSync(new URL('node_modules/onnxruntime-node/package.json', nodeRefs))).version;

function parseArgs(argv) {
  const o = { dir: null, threads: 2, host: '127.0.0.1', port: 8081, maxBatch: 64, maxBatchTokens: 1024,
              batchWaitMs: 0, spin: 0 };
  const names = { '--dir': 'dir', '--threads': 'threads', '-t': 'threads', '--host': 'host', '--port': 'port',
                  '--max-batch': 'maxBatch', '--max-batch-tokens': 'maxBatchTokens', '--batch-wait-ms': 'batchWaitMs',
                  '--spin': 'spin' };
  for (let i = 0; i < argv.length; ++i) {
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) throw new Error(`unknown or incomplete option '${argv[i]}'`);
    const v = argv[++i];
    o[key] = ['dir', 'host'].includes(key) ? v : Number(v);
    if (typeof o[key] === 'number' && !(o[key] >= 0)) throw new Error(`${argv[i - 1]}: '${v}' is not a number >= 0`);
  }
  if (!o.dir) throw new Error('--dir is required (bench/serve/make_onnx_peer.py writes it)');
  return o;
}

const opts = (() => {
  try {
    return parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`ort_server: ${e.message}`);
    process.exit(1);
  }
})();
const read = (name) => JSON.parse(readFileSync(path.join(opts.dir, name), 'utf8'));
const config = read('config.json');
const labels = Object.keys(config.id2label).sort((a, b) => a - b).map((k) => config.id2label[k]);
const maxTokens = config.max_tokens;
const tokenizer = new tf.BertTokenizer(read('tokenizer.json'), read('tokenizer_config.json'));
const [cls, sep] = tokenizer.encode('');  // [CLS] [SEP]
const session = await ort.InferenceSession.create(path.join(opts.dir, 'model.onnx'), {
  executionProviders: ['cpu'], intraOpNumThreads: opts.threads, interOpNumThreads: 1,
  graphOptimizationLevel: 'all', executionMode: 'sequential',
  extra: { session: { intra_op: { allow_spinning: String(opts.spin ? 1 : 0) } } },
});

class HttpError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

// [CLS] a [SEP] (b [SEP]) with BERT's type ids; over maxTokens: 413, or with truncate the
// longer text loses its last token until it fits (Hugging Face's longest_first).
function encode(a, b, truncate) {
  const ta = tokenizer.encode(a, { add_special_tokens: false });
  const tb = b === undefined ? null : tokenizer.encode(b, { add_special_tokens: false });
  const room = maxTokens - (tb ? 3 : 2);
  let [na, nb] = [ta.length, tb ? tb.length : 0];
  if (na + nb > room) {
    if (!truncate) {
      throw new HttpError(413, 'Validation', `input must have less than ${maxTokens} tokens, given ${na + nb + (tb ? 3 : 2)}`);
    }
    while (na + nb > room) (na >= nb ? --na : --nb);
  }
  const ids = [cls, ...ta.slice(0, na), sep];
  const types = ids.map(() => 0);
  if (tb) {
    ids.push(...tb.slice(0, nb), sep);
    while (types.length < ids.length) types.push(1);
  }
  return { ids, types };
}

// TEI's PredictInput: a string, a pair [a, b], or a batch [[a], [a, b], ...].
function parsePredict(body) {
  const inputs = body.inputs;
  const isText = (v) => typeof v === 'string';
  const isItem = (v) => Array.isArray(v) && (v.length === 1 || v.length === 2) && v.every(isText);
  if (isText(inputs)) return { batch: false, items: [[inputs]] };
  if (isItem(inputs) && inputs.length === 2) return { batch: false, items: [inputs] };
  if (Array.isArray(inputs) && inputs.length > 0 && inputs.every(isItem)) return { batch: true, items: inputs };
  throw new HttpError(422, 'Validation', '`inputs` must be a string, a pair [a, b] or a list of [a] / [a, b]');
}

const queue = [];  // {ids, types, resolve, reject}
let running = false, timer = null;

function submit(encodings) {
  const done = encodings.map((e) => new Promise((resolve, reject) => queue.push({ ...e, resolve, reject })));
  if (!running && timer === null) {
    timer = opts.batchWaitMs > 0 ? setTimeout(runQueued, opts.batchWaitMs) : setImmediate(runQueued);
  }
  return Promise.all(done);
}

function int64(rows, width, pad) {
  const a = new BigInt64Array(rows.length * width).fill(BigInt(pad));
  rows.forEach((r, i) => r.forEach((v, j) => { a[i * width + j] = BigInt(v); }));
  return new ort.Tensor('int64', a, [rows.length, width]);
}

async function forward(items) {
  const width = items[0].ids.length;  // longest first
  const feeds = {
    input_ids: int64(items.map((x) => x.ids), width, 0),
    attention_mask: int64(items.map((x) => x.ids.map(() => 1)), width, 0),
    token_type_ids: int64(items.map((x) => x.types), width, 0),
  };
  const logits = (await session.run(feeds)).logits.data;
  const n = labels.length;
  items.forEach((x, i) => x.resolve(Array.from(logits.subarray(i * n, (i + 1) * n))));
}

async function runQueued() {
  timer = null;
  if (running || queue.length === 0) return;
  running = true;
  const batch = queue.splice(0, opts.maxBatch).sort((a, b) => b.ids.length - a.ids.length);
  try {
    for (let start = 0; start < batch.length;) {
      const width = batch[start].ids.length;
      let count = 1;
      while (start + count < batch.length && (count + 1) * width <= opts.maxBatchTokens) ++count;
      await forward(batch.slice(start, start + count));
      start += count;
    }
  } catch (e) {
    for (const x of batch) x.reject(e);
  }
  running = false;
  if (queue.length > 0) runQueued();
}

function scores(logits, raw) {
  let out = logits;
  if (!raw) {
    const m = Math.max(...logits);
    const ex = logits.map((v) => Math.exp(v - m));
    const sum = ex.reduce((a, b) => a + b, 0);
    out = ex.map((v) => v / sum);
  }
  return out.map((score, i) => ({ label: labels[i], score })).sort((a, b) => b.score - a.score);
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

async function predict(raw) {
  let body;
  try {
    body = JSON.parse(raw);
  } catch (e) {
    throw new HttpError(400, 'Validation', `body is not JSON: ${e.message}`);
  }
  const { batch, items } = parsePredict(body);
  const encodings = items.map(([a, b]) => encode(a, b, body.truncate === true));
  const logits = await submit(encodings);
  const answers = logits.map((l) => scores(l, body.raw_scores === true));
  return batch ? answers : answers[0];
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/health') return send(res, 200, {});
    if (req.method === 'GET' && req.url === '/info') {
      return send(res, 200, { model_id: config.source, engine: 'onnxruntime-node', version: ortVersion,
                              threads: opts.threads, max_batch: opts.maxBatch, max_batch_tokens: opts.maxBatchTokens,
                              batch_wait_ms: opts.batchWaitMs, spin: opts.spin, max_input_length: maxTokens });
    }
    if (req.method !== 'POST' || req.url !== '/predict') {
      return send(res, 404, { error: `no route ${req.method} ${req.url}`, error_type: 'Validation' });
    }
    predict(Buffer.concat(chunks).toString('utf8')).then(
      (answer) => send(res, 200, answer),
      (e) => send(res, e.status ?? 500, { error: e.message, error_type: e.type ?? 'Backend' }));
  });
});
server.keepAliveTimeout = 60000;
server.listen(opts.port, opts.host, () => {
  const { port } = server.address();
  console.error(`ort_server: onnxruntime-node ${ortVersion}, ${opts.threads} intra-op threads, ` +
                `batches of up to ${opts.maxBatch} texts; listening on http://${opts.host}:${port}/`);
  console.error('ort_server: ready');
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
  });
}
