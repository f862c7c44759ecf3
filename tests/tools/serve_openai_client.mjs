// `sparq serve` driven by OpenAI's official Node client (the `openai` package, tools/node):
// embeddings.create (base64 by default, decoded by the client), completions.create and
// chat.completions.create with and without streaming. The client checks the shapes as it
// parses them; this script checks the values against `sparq embed` and `sparq generate`.
//
// usage: node serve_openai_client.mjs SPARQ NODE_MODULES SOURCE_DIR WORK_DIR
import { spawn, execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import assert from "node:assert/strict";

const [sparq, nodeModules, sourceDir, workDir] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(nodeModules), "noop.js"));
const { default: OpenAI } = await import(require.resolve("openai"));

fs.mkdirSync(workDir, { recursive: true });
const encoder = path.join(sourceDir, "models/debian-sections-s90b4-q8.sparq");
const decoder = path.join(workDir, "debian-llama.sparq");
execFileSync(sparq, ["convert", "--from", "hf", path.join(sourceDir, "models/debian-llama"), "-o", decoder, "--weights", "q8", "-q"]);
const run = (args) => execFileSync(sparq, args, { encoding: "utf8" });

const server = spawn(sparq, ["serve", encoder, decoder, "--port", "0", "-t", "1", "-q"], { stdio: ["ignore", "ignore", "pipe"] });
let log = "";
const port = await new Promise((resolve, reject) => {
  server.stderr.on("data", (d) => {
    log += d;
    const m = log.match(/listening on http:\/\/127\.0\.0\.1:(\d+)\//);
    if (m && log.includes("ready")) resolve(Number(m[1]));
  });
  server.on("exit", (code) => reject(new Error(`sparq serve exited ${code}: ${log}`)));
});
let failures = 0;
const check = async (name, body) => {
  try {
    await body();
    console.log(`ok ${name}`);
  } catch (e) {
    failures++;
    console.log(`FAILED ${name}: ${e.stack}`);
  }
};

try {
  const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "unused", maxRetries: 0 });
  const text = "A fast lossless compression algorithm and library";

  await check("embeddings.create equals sparq embed over its norm", async () => {
    fs.writeFileSync(path.join(workDir, "doc.jsonl"), JSON.stringify({ id: "d", text }) + "\n");
    const ref = JSON.parse(run(["embed", encoder, "--input", path.join(workDir, "doc.jsonl"), "-q", "-t", "1"])).embedding;
    const norm = Math.sqrt(ref.reduce((s, x) => s + x * x, 0));
    const res = await client.embeddings.create({ model: "debian-sections-s90b4-q8", input: [text, "other"] });
    assert.equal(res.object, "list");
    assert.equal(res.data.length, 2);
    assert.equal(res.data[0].embedding.length, ref.length);
    res.data[0].embedding.forEach((x, i) => assert.ok(Math.abs(x - ref[i] / norm) < 1e-6, `dimension ${i}`));
    assert.ok(res.usage.prompt_tokens > 0);
  });

  const prompt = "Package: zstd\nSection: utils\nDescription:";
  await check("completions.create equals sparq generate (greedy)", async () => {
    const ref = JSON.parse(run(["generate", decoder, "--prompt", prompt, "-n", "20", "--json", "-t", "1"]));
    const res = await client.completions.create({ model: "debian-llama", prompt, max_tokens: 20, temperature: 0 });
    assert.equal(res.choices[0].text, ref.text);
    assert.equal(res.usage.completion_tokens, ref.generated_tokens);
  });

  await check("chat.completions.create equals sparq generate --chat, streamed and not", async () => {
    const ref = JSON.parse(run(["generate", decoder, "--prompt", "What is zstd?", "--chat", "-n", "24", "--temperature", "0.8",
                                "--seed", "11", "--json", "-t", "1"]));
    const request = { model: "debian-llama", messages: [{ role: "user", content: "What is zstd?" }], max_tokens: 24,
                      temperature: 0.8, seed: 11 };
    const whole = await client.chat.completions.create(request);
    assert.equal(whole.choices[0].message.role, "assistant");
    assert.equal(whole.choices[0].message.content, ref.text);
    let streamed = "";
    let finish = null;
    const stream = await client.chat.completions.create({ ...request, stream: true });
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.delta?.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(streamed, ref.text);
    assert.equal(finish, whole.choices[0].finish_reason);
  });

  await check("errors reach the client as OpenAI's APIError", async () => {
    await assert.rejects(client.completions.create({ model: "no-such-model", prompt: "x" }),
                         (e) => e.status === 404 && e.code === "model_not_found");
    await assert.rejects(client.chat.completions.create({ model: "debian-llama", messages: [], max_tokens: 2 }),
                         (e) => e.status === 422 && e.param === "messages");
  });

  await check("models.list names both models", async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.deepEqual(ids, ["debian-sections-s90b4-q8", "debian-llama"]);
  });
} finally {
  server.kill("SIGTERM");
  const code = await new Promise((resolve) => server.on("exit", resolve));
  if (code !== 0) {
    failures++;
    console.log(`FAILED sparq serve exited ${code} on SIGTERM`);
  }
}
console.log(`${5 - failures} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
