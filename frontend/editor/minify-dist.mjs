// Trunk's post_build hook (Trunk.toml), release builds only. Trunk copies wasm-bindgen's glue
// and the stylesheet as they are (its own JS minifier stops at the glue's
// `export { … as default }`), and the wasm's imports keep wasm-bindgen's names
// (`__wbg_preventDefault_cfb06b02e7406899`: a 16-digit hash each, which gzip cannot shrink,
// in both files), as do the exports the glue calls. Here: they get short names in the wasm
// and the glue, the glue and the css are minified, and index.html gets their new SRI hashes.
// Saves ~9 KB gzip of the studio's download (docs/perf.md, "Bundle under the goal"). The
// CodeMirror bundle is minified when it is built (package.json) and is left alone.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { transformSync } from "esbuild";

function fail(message) {
  throw new Error(`minify-dist: ${message}`);
}

/** Unsigned LEB128 at `at`: `[value, next offset]`. */
function readU32(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[at++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) return [value, at];
  }
}

function u32(value) {
  const out = [];
  do {
    let b = value % 128;
    value = Math.floor(value / 128);
    if (value) b |= 0x80;
    out.push(b);
  } while (value);
  return Buffer.from(out);
}

const name = (text) => Buffer.concat([u32(Buffer.byteLength(text)), Buffer.from(text)]);

/** The end of an import's descriptor (kind byte and type) that starts at `at`. */
function skipImportDesc(bytes, at) {
  const kind = bytes[at++];
  switch (kind) {
    case 0: // function: type index
      return readU32(bytes, at)[1];
    case 1: { // table: reftype, limits
      const flags = bytes[at + 1];
      at = readU32(bytes, at + 2)[1];
      return flags & 1 ? readU32(bytes, at)[1] : at;
    }
    case 2: { // memory: limits
      const flags = bytes[at];
      at = readU32(bytes, at + 1)[1];
      return flags & 1 ? readU32(bytes, at)[1] : at;
    }
    case 3: // global: valtype, mutability
      return at + 2;
    default:
      return fail(`import kind ${kind} is not one wasm-bindgen emits`);
  }
}

const IMPORT = 2;
const EXPORT = 7;

/** The import section's entries, each with its field name's place. */
function imports(wasm, body) {
  let [count, p] = readU32(wasm, body);
  const entries = [];
  for (let i = 0; i < count; i++) {
    const [moduleLen, m] = readU32(wasm, p);
    const [fieldLen, f] = readU32(wasm, m + moduleLen);
    const end = skipImportDesc(wasm, f + fieldLen);
    entries.push({ before: wasm.subarray(p, m + moduleLen), field: wasm.toString("utf8", f, f + fieldLen), after: wasm.subarray(f + fieldLen, end) });
    p = end;
  }
  return [entries, p];
}

/** The export section's entries: name, then kind and index. */
function exports(wasm, body) {
  let [count, p] = readU32(wasm, body);
  const entries = [];
  for (let i = 0; i < count; i++) {
    const [nameLen, n] = readU32(wasm, p);
    const end = readU32(wasm, n + nameLen + 1)[1];
    entries.push({ before: Buffer.alloc(0), field: wasm.toString("utf8", n, n + nameLen), after: wasm.subarray(n + nameLen, end) });
    p = end;
  }
  return [entries, p];
}

/**
 * The wasm with short names for its imports from the glue (`__wbg_…`, `__wbindgen_…` become
 * `w0`, `w1`, …) and for the exports the glue calls (`wasm.NAME`: `x0`, `x1`, …), with the two
 * maps from old names to new.
 */
function rename(wasm, exportsUsed) {
  if (wasm.readUInt32BE(0) !== 0x0061736d) fail("not a wasm module");
  const parts = [wasm.subarray(0, 8)];
  const renamed = { imports: new Map(), exports: new Map() };
  let at = 8;
  while (at < wasm.length) {
    const id = wasm[at];
    const [size, body] = readU32(wasm, at + 1);
    const end = body + size;
    if (id !== IMPORT && id !== EXPORT) {
      parts.push(wasm.subarray(at, end));
    } else {
      const [entries, stop] = id === IMPORT ? imports(wasm, body) : exports(wasm, body);
      if (stop !== end) fail(`section ${id} does not end where its size says`);
      const map = id === IMPORT ? renamed.imports : renamed.exports;
      const wanted = id === IMPORT ? (f) => /^__wbg(indgen)?_/.test(f) : (f) => exportsUsed.has(f) && f !== "memory";
      const section = [u32(entries.length)];
      for (const e of entries) {
        let field = e.field;
        if (wanted(field)) {
          field = `${id === IMPORT ? "w" : "x"}${map.size.toString(36)}`;
          map.set(e.field, field);
        }
        section.push(e.before, name(field), e.after);
      }
      const bytes = Buffer.concat(section);
      parts.push(Buffer.from([id]), u32(bytes.length), bytes);
    }
    at = end;
  }
  return [Buffer.concat(parts), renamed];
}

/** The exports the glue calls, as `wasm.NAME`. */
const EXPORT_USE = /\bwasm\.([A-Za-z_$][A-Za-z0-9_$]*)/g;

/** The glue with the new names: each import's name must be there exactly once. */
function renameInGlue(glue, renamed) {
  const seen = new Map();
  const out = glue
    .replace(/__wbg(?:indgen)?_[A-Za-z0-9_$]+/g, (word) => {
      const short = renamed.imports.get(word);
      if (!short) return word;
      seen.set(word, (seen.get(word) || 0) + 1);
      return short;
    })
    .replace(EXPORT_USE, (use, field) => (renamed.exports.has(field) ? `wasm.${renamed.exports.get(field)}` : use));
  for (const old of renamed.imports.keys()) {
    if (seen.get(old) !== 1) fail(`the glue names import ${old} ${seen.get(old) || 0} times, not once`);
  }
  return out;
}

if (process.env.TRUNK_PROFILE === "release") {
  const dir = process.env.TRUNK_STAGING_DIR;
  const files = readdirSync(dir);
  const one = (test, what) => {
    const found = files.filter(test);
    if (found.length !== 1) fail(`expected one ${what} in ${dir}, found ${found.length}`);
    return join(dir, found[0]);
  };
  const wasmPath = one((f) => f.endsWith("_bg.wasm"), "wasm module");
  const gluePath = one((f) => f.startsWith("slipway-studio-") && f.endsWith(".js"), "wasm-bindgen glue");
  const cssPath = one((f) => f.endsWith(".css"), "stylesheet");
  const htmlPath = join(dir, "index.html");
  const sri = (bytes) => `sha384-${createHash("sha384").update(bytes).digest("base64")}`;
  let html = readFileSync(htmlPath, "utf8");
  // Trunk writes one hash per asset; a stale one would make the page refuse the file.
  const replace = (path, bytes) => {
    const old = sri(readFileSync(path));
    if (!html.includes(old)) fail(`${path}'s integrity (${old}) is not in index.html`);
    html = html.replaceAll(old, sri(bytes));
    writeFileSync(path, bytes);
  };

  const original = readFileSync(gluePath, "utf8");
  const [wasm, renamed] = rename(readFileSync(wasmPath), new Set([...original.matchAll(EXPORT_USE)].map((m) => m[1])));
  const glue = renameInGlue(original, renamed);
  replace(wasmPath, wasm);
  replace(gluePath, Buffer.from(transformSync(glue, { loader: "js", minify: true, target: "es2020" }).code));
  const css = readFileSync(cssPath, "utf8");
  replace(cssPath, Buffer.from(transformSync(css, { loader: "css", minify: true }).code));
  writeFileSync(htmlPath, html);
}
