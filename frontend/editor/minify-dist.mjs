// Trunk's post_build hook (Trunk.toml), release builds only. Trunk copies wasm-bindgen's glue
// and the stylesheet as they are (its own JS minifier stops at the glue's
// `export { … as default }`), and the wasm's imports keep wasm-bindgen's names
// (`__wbg_preventDefault_cfb06b02e7406899`: a 16-digit hash each, which gzip cannot shrink,
// in both files). Here: the imports get short names in the wasm and the glue, the glue and
// the css are minified, and index.html gets their new SRI hashes. Saves ~8.6 KB gzip of the
// studio's download (docs/perf.md, "Bundle under the goal"). The CodeMirror bundle is
// minified when it is built (package.json) and is left alone.
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

/**
 * Rename wasm-bindgen's imports (`__wbg_…`, `__wbindgen_…`) to `w0`, `w1`, …: the new wasm
 * and the map from old names to new.
 */
function renameImports(wasm) {
  if (wasm.readUInt32BE(0) !== 0x0061736d) fail("not a wasm module");
  const parts = [wasm.subarray(0, 8)];
  const renamed = new Map();
  let at = 8;
  while (at < wasm.length) {
    const id = wasm[at];
    const [size, body] = readU32(wasm, at + 1);
    const end = body + size;
    if (id !== 2) {
      parts.push(wasm.subarray(at, end));
    } else {
      let [count, p] = readU32(wasm, body);
      const entries = [u32(count)];
      for (let i = 0; i < count; i++) {
        const [moduleLen, m] = readU32(wasm, p);
        const module = wasm.subarray(p, m + moduleLen);
        const [fieldLen, f] = readU32(wasm, m + moduleLen);
        const field = wasm.toString("utf8", f, f + fieldLen);
        const descEnd = skipImportDesc(wasm, f + fieldLen);
        let short = field;
        if (/^__wbg(indgen)?_/.test(field)) {
          short = `w${renamed.size.toString(36)}`;
          renamed.set(field, short);
        }
        entries.push(module, name(short), wasm.subarray(f + fieldLen, descEnd));
        p = descEnd;
      }
      if (p !== end) fail("the import section did not end where its size says");
      const section = Buffer.concat(entries);
      parts.push(Buffer.from([2]), u32(section.length), section);
    }
    at = end;
  }
  return [Buffer.concat(parts), renamed];
}

/** The glue with the imports' new names: each old name must be there exactly once. */
function renameInGlue(glue, renamed) {
  const seen = new Map();
  const out = glue.replace(/__wbg(?:indgen)?_[A-Za-z0-9_$]+/g, (word) => {
    const short = renamed.get(word);
    if (!short) return word;
    seen.set(word, (seen.get(word) || 0) + 1);
    return short;
  });
  for (const old of renamed.keys()) {
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

  const [wasm, renamed] = renameImports(readFileSync(wasmPath));
  const glue = renameInGlue(readFileSync(gluePath, "utf8"), renamed);
  replace(wasmPath, wasm);
  replace(gluePath, Buffer.from(transformSync(glue, { loader: "js", minify: true, target: "es2020" }).code));
  const css = readFileSync(cssPath, "utf8");
  replace(cssPath, Buffer.from(transformSync(css, { loader: "css", minify: true }).code));
  writeFileSync(htmlPath, html);
}
