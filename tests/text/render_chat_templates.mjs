// @huggingface/jinja (the Jinja engine of transformers.js) as the reference for sparq's chat
// templates: renders every template of tests/text/chat_templates/templates.json over every
// conversation of conversations.json, with add_generation_prompt true and false, calling
// Template the way transformers.js's apply_chat_template does (new Template(source), then
// render({messages, add_generation_prompt, tools: null, documents: null, ...special tokens,
// ...kwargs})). Writes one JSON array: {template, conversation, add_generation_prompt,
// output} or {..., error} when the reference throws (raise_exception and the like).
//
// strftime_now reads `new Date()`, so the clock is fixed (to now_unix_seconds, written into
// the output for the comparison to use) and the time zone is UTC.
//
// usage: TZ=UTC node render_chat_templates.mjs NODE_MODULES_DIR FIXTURE_DIR OUTPUT.json
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [nodeModules, fixtureDir, outputPath] = process.argv.slice(2);
if (!outputPath) {
  console.error('usage: node render_chat_templates.mjs NODE_MODULES_DIR FIXTURE_DIR OUTPUT.json');
  process.exit(2);
}
if (process.env.TZ !== 'UTC') {
  console.error('render_chat_templates: run with TZ=UTC (strftime_now reads local time)');
  process.exit(2);
}
const entry = path.join(nodeModules, '@huggingface', 'jinja', 'dist', 'index.js');
if (!fs.existsSync(entry)) {
  console.error(`render_chat_templates: ${entry} not found; run tools/install-deps.sh`);
  process.exit(2);
}
const { Template } = await import(pathToFileURL(entry).href);

// 2026-02-03 09:07:05 UTC: a month and day below 10, to see zero padding.
const NOW_UNIX_SECONDS = 1770109625;
const RealDate = Date;
globalThis.Date = class extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(NOW_UNIX_SECONDS * 1000);
    else super(...args);
  }
  static now() { return NOW_UNIX_SECONDS * 1000; }
};

const read = (name) => JSON.parse(fs.readFileSync(path.join(fixtureDir, name), 'utf8'));
const { templates } = read('templates.json');
const { conversations } = read('conversations.json');
const results = [];
for (const t of templates) {
  const source = fs.readFileSync(path.join(fixtureDir, t.file), 'utf8');
  const template = new Template(source);
  for (const c of conversations) {
    for (const addGenerationPrompt of [true, false]) {
      const specialTokens = {};
      // transformers.js passes only the special tokens the tokenizer config sets.
      if (t.bos_token) specialTokens.bos_token = t.bos_token;
      if (t.eos_token) specialTokens.eos_token = t.eos_token;
      const record = { template: t.file, conversation: c.name, add_generation_prompt: addGenerationPrompt };
      try {
        record.output = template.render({
          messages: structuredClone(c.messages),
          add_generation_prompt: addGenerationPrompt,
          tools: null,
          documents: null,
          ...specialTokens,
          ...(t.extra ?? {}),
        });
      } catch (e) {
        record.error = String(e?.message ?? e);
      }
      results.push(record);
    }
  }
}
fs.mkdirSync(path.dirname(outputPath), { recursive: true });
fs.writeFileSync(outputPath, JSON.stringify({ now_unix_seconds: NOW_UNIX_SECONDS, renders: results }, null, 1));
console.log(`render_chat_templates: ${results.length} renders of ${templates.length} templates`);
