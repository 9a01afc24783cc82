// The studio's code editor: CodeMirror 6 with YAML highlighting, diagnostics, completion,
// hover and go-to-definition. The language intelligence is not here: diagnostics and every
// source come from slipway-core in the analysis worker (analysis.js), which this same bundle
// becomes when it is loaded without a window. Offsets crossing to the core are UTF-16 code
// units (CodeMirror's); the Rust side converts from the core's byte spans. The view owns the
// text; the Rust component (frontend/src/components/editor.rs) gets it once it settles.
// Bundled by esbuild into one ES module (see package.json) that sets `window.SlipwayEditor`;
// no eval, so the page's CSP (`script-src 'self'`) holds.

import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  highlightSpecialChars, ViewPlugin, Decoration, MatchDecorator, hoverTooltip, tooltips,
} from "@codemirror/view";
import { EditorState, StateField, StateEffect } from "@codemirror/state";
import { yaml } from "@codemirror/lang-yaml";
import {
  syntaxHighlighting, HighlightStyle, indentUnit, indentOnInput, bracketMatching, syntaxTreeAvailable,
} from "@codemirror/language";
import { tags as t } from "@lezer/highlight";
import { setDiagnostics, lintGutter, linter } from "@codemirror/lint";
import { autocompletion, completionKeymap, startCompletion } from "@codemirror/autocomplete";
import { search, searchKeymap } from "@codemirror/search";
import { history, historyKeymap, defaultKeymap, indentWithTab } from "@codemirror/commands";
import { AnalysisClient, serveAnalysis } from "./analysis.js";

const inPage = typeof window !== "undefined";

// CodeMirror's styles (style-mod) go into a <style> element, which the page's CSP
// (`style-src 'self'`, no 'unsafe-inline') does not apply: no `white-space: pre`, so Chrome
// collapses an indent-only line and typing lands on the line above. A constructed stylesheet
// is CSSOM, which CSP allows; mirror the element's text into one whenever it changes.
const mirrored = inPage ? new CSSStyleSheet() : null;
function mirrorStyles() {
  const css = [...document.querySelectorAll("head style")].map((s) => s.textContent).join("\n");
  if (css !== mirrored.__css) {
    mirrored.replaceSync(css);
    mirrored.__css = css;
  }
}
if (inPage) {
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, mirrored];
  new MutationObserver(mirrorStyles).observe(document.head, { childList: true, subtree: true, characterData: true });
}

/**
 * UTF-16 units from which a document counts as large: its text and the worker's report reach
 * the rest of the page (Problems list, preview, drafts, Run and Export panels) only after a
 * pause in typing. Taking a 5,000-step text costs the page's thread tens of milliseconds
 * (the Export panel converts it, the drafts store it): 1 s, so that it falls in a real pause
 * rather than between two keystrokes (docs/perf.md).
 */
const LARGE_DOC = 48 * 1024;
const SETTLE_MS = 1000;

/** Editors by name ("services", "steps"), for the automation hook and cross-file jumps. */
const editors = new Map();

/**
 * UTF-16 units of both files under which the page checks them on its own thread as well
 * (see analysis.js): ~1 ms for Codeship's 00.aggregate (5 KB), ~3 ms at this size.
 */
const INLINE_DOC = 16 * 1024;

const analysis = new AnalysisClient(onDiagnostics, LARGE_DOC, SETTLE_MS, INLINE_DOC, (name) => editors.get(name)?.getText() ?? "");

function onDiagnostics(result, msg) {
  const started = performance.now();
  for (const [name, ed] of editors) ed.setDiagnostics(result[name] || []);
  // For docs/perf.md and the browser tests: when the last diagnostics reached the views, of
  // which version of the texts, and which thread checked them.
  Object.assign(window.slipwayStudio, {
    diagnosticsAt: performance.now(),
    diagnosticsThread: result.thread,
    diagnosticsVersion: msg.version,
    checkMs: msg.took,
    checkedMs: msg.checkedMs,
    diagnosticsMs: msg.diagnosticsMs,
    showMs: performance.now() - started,
  });
}

// `{{ … }}` spans (Go templates in image_tag and build args) get their own colour on top of
// the YAML highlighting.
const templateMarks = new MatchDecorator({
  regexp: /\{\{.*?\}\}/g,
  decoration: Decoration.mark({ class: "cm-template" }),
});
const templates = ViewPlugin.fromClass(
  class {
    constructor(view) { this.decorations = templateMarks.createDeco(view); }
    update(u) { this.decorations = templateMarks.updateDeco(u, this.decorations); }
  },
  { decorations: (p) => p.decorations },
);

// Our own marks over each diagnostic's span, carrying the attributes tests and scripts look
// for; the lint extension draws the underline, gutter marker and tooltip.
const setMarks = StateEffect.define();
const marks = StateField.define({
  create: () => Decoration.none,
  update(deco, tr) {
    deco = deco.map(tr.changes);
    for (const e of tr.effects) if (e.is(setMarks)) deco = e.value;
    return deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});

const highlight = HighlightStyle.define([
  { tag: t.propertyName, color: "#7cc4ff" },
  { tag: [t.string, t.special(t.string)], color: "#a5d6a7" },
  { tag: [t.number, t.bool, t.null, t.atom], color: "#f4b26b" },
  { tag: t.comment, color: "#8a93a3", fontStyle: "italic" },
  { tag: [t.meta, t.labelName, t.typeName], color: "#d7a6ff" },
  { tag: [t.punctuation, t.separator, t.squareBracket, t.brace], color: "#aab4c3" },
]);

const theme = EditorView.theme(
  {
    "&": { color: "#e6e9ef", backgroundColor: "#151922", height: "100%", fontSize: "13px" },
    ".cm-scroller": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace", lineHeight: "1.45" },
    ".cm-content": { caretColor: "#e6e9ef" },
    ".cm-cursor, .cm-dropCursor": { borderLeftColor: "#e6e9ef" },
    "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection": { backgroundColor: "#2f4a6d" },
    ".cm-gutters": { backgroundColor: "#10141b", color: "#6b7485", border: "none" },
    ".cm-activeLine": { backgroundColor: "#1c2230" },
    ".cm-activeLineGutter": { backgroundColor: "#1c2230" },
    ".cm-template": { color: "#ffd479", backgroundColor: "#3a3220", borderRadius: "2px" },
    ".cm-tooltip": { backgroundColor: "#1f2633", color: "#e6e9ef", border: "1px solid #3a4456" },
    ".cm-tooltip-autocomplete > ul > li[aria-selected]": { backgroundColor: "#2f4a6d", color: "#fff" },
    ".cm-completionLabel": { display: "none" },
    ".cm-completionDetail": { color: "#8a93a3", marginLeft: "1em" },
    ".cm-hover": { maxWidth: "36em", padding: "4px 8px", whiteSpace: "pre-wrap" },
    ".cm-hover code": { color: "#ffd479" },
    ".cm-diagnostic": { whiteSpace: "pre-wrap" },
    ".cm-quickFix": { marginTop: "4px", marginRight: "6px" },
    ".cm-panels": { backgroundColor: "#1f2633", color: "#e6e9ef" },
    ".cm-textfield": { backgroundColor: "#10141b", color: "#e6e9ef", border: "1px solid #3a4456" },
    ".cm-button": { backgroundImage: "none", backgroundColor: "#2a3242", color: "#e6e9ef", border: "1px solid #3a4456" },
    ".cm-searchMatch": { backgroundColor: "#5a4a1a" },
  },
  { dark: true },
);

/**
 * The core's small Markdown (`code`, **bold**, line breaks) as DOM nodes; text stays text,
 * never HTML.
 */
function richText(text) {
  const span = document.createElement("span");
  text.split(/(\*\*.+?\*\*|`[^`]*`)/).forEach((part) => {
    if (part.startsWith("**") && part.endsWith("**") && part.length > 4) {
      const b = document.createElement("strong");
      b.appendChild(richText(part.slice(2, -2)));
      span.appendChild(b);
    } else if (part.startsWith("`") && part.endsWith("`") && part.length > 1) {
      const code = document.createElement("code");
      code.textContent = part.slice(1, -1);
      span.appendChild(code);
    } else if (part) {
      span.appendChild(document.createTextNode(part.replace(/ {2}\n/g, "\n")));
    }
  });
  return span;
}

function parse(json) {
  return json ? JSON.parse(json) : null;
}

/** Where tooltips may go: the window, less the page's header. */
function pageSpace() {
  const header = document.querySelector("header.top");
  const top = header ? Math.max(0, header.getBoundingClientRect().bottom) : 0;
  return { top, left: 0, right: window.innerWidth, bottom: document.documentElement.clientHeight };
}

/** Apply edits `[{from, to, insert}]` (UTF-16 offsets) as one undoable change. */
function applyEdits(view, edits) {
  view.dispatch({ changes: edits.map(({ from, to, insert }) => ({ from, to, insert })), userEvent: "input.fix" });
  view.focus();
}

/** A quick fix's edits `[{editor, from, to, insert}]`: one undoable change per editor. */
function applyFix(edits) {
  for (const [name, ed] of editors) {
    const mine = edits.filter((e) => e.editor === name);
    if (mine.length) applyEdits(ed.view, mine);
  }
}

/** Jump to a definition `{editor, from}` returned by the Rust side, maybe in the other editor. */
function goToTarget(target) {
  const ed = target && editors.get(target.editor);
  if (!ed) return false;
  ed.goTo(target.from);
  return true;
}

class Editor {
  /**
   * @param {HTMLElement} parent
   * @param {string} name "services" or "steps"
   * @param {string} text
   * @param {object} hooks Rust callbacks: change(text), with the text once it settles
   */
  constructor(parent, name, text, hooks) {
    this.name = name;
    this.hooks = hooks;
    this.settleTimer = 0;
    const ask = (type, state, pos) => analysis.request(type, name, pos, state.doc.length).then(parse);
    const completionSource = async (ctx) => {
      const r = await ask("complete", ctx.state, ctx.pos);
      if (ctx.aborted || !r || !r.options.length) return null;
      return {
        from: r.from,
        validFor: /^[\w.-]*$/,
        options: r.options.map((o) => ({
          label: o.label,
          detail: o.detail || undefined,
          info: o.info || undefined,
          apply: o.apply || undefined,
          type: o.kind || undefined,
        })),
      };
    };
    // One tooltip at a time: the core's hover already says what a diagnostic there says (with
    // its help and `slipway explain` text), so the lint's own tooltip is off and this one
    // carries the diagnostics' quick fixes.
    const hover = hoverTooltip(async (view, pos) => {
      const r = await ask("hover", view.state, pos);
      if (!r) return null;
      const fixes = this.fixesAt(pos);
      return {
        pos: r.from,
        end: r.to,
        above: true,
        create() {
          const dom = document.createElement("div");
          dom.className = "cm-hover";
          dom.dataset.testid = "hover";
          dom.appendChild(richText(r.text));
          for (const fix of fixes) {
            const b = document.createElement("button");
            b.className = "cm-button cm-quickFix";
            b.dataset.testid = "quick-fix";
            b.textContent = fix.title;
            b.onclick = (e) => { e.preventDefault(); applyFix(fix.edits); };
            dom.appendChild(document.createElement("br"));
            dom.appendChild(b);
          }
          return { dom };
        },
      };
    });
    const definitionAt = (view, pos) => {
      ask("definition", view.state, pos).then(goToTarget);
      return true;
    };
    this.view = new EditorView({
      parent,
      state: EditorState.create({
        doc: text,
        extensions: [
          lineNumbers(),
          highlightActiveLineGutter(),
          highlightSpecialChars(),
          history(),
          indentOnInput(),
          bracketMatching(),
          highlightActiveLine(),
          indentUnit.of("  "),
          EditorState.tabSize.of(2),
          yaml(),
          syntaxHighlighting(highlight),
          templates,
          marks,
          lintGutter(),
          linter(null, { tooltipFilter: () => [] }),
          // Tooltips (completion, hover) live under <body>: the editor's box no longer clips
          // them at its edge. They stay inside the window below the page's header (which
          // they covered when opened above a top line): one that does not fit above flips below.
          tooltips({ parent: document.body, tooltipSpace: pageSpace }),
          search({ top: true }),
          autocompletion({
            override: [completionSource],
            // The core answers in well under a frame: no need for CodeMirror's 100 ms wait.
            activateOnTypingDelay: 0,
            icons: false,
            addToOptions: [{
              // The label, as an element scripts can find (the built-in one is hidden by the theme).
              render(c) {
                const s = document.createElement("span");
                s.className = "cm-completionName";
                s.dataset.testid = "completion-item";
                s.textContent = c.label;
                return s;
              },
              position: 50,
            }],
          }),
          hover,
          keymap.of([
            { key: "F12", run: (v) => definitionAt(v, v.state.selection.main.head) },
            { key: "Mod-Space", run: startCompletion },
            ...completionKeymap,
            ...searchKeymap,
            ...historyKeymap,
            indentWithTab,
            ...defaultKeymap,
          ]),
          EditorView.domEventHandlers({
            mousedown(e, view) {
              if (!(e.ctrlKey || e.metaKey) || e.button !== 0) return false;
              const pos = view.posAtCoords({ x: e.clientX, y: e.clientY });
              if (pos == null) return false;
              e.preventDefault();
              return definitionAt(view, pos);
            },
          }),
          // The edit goes to the worker as soon as the transaction exists (after the change
          // filters), before CodeMirror applies it: its parse and DOM update (tens of ms in a
          // large file) then overlap with the check.
          EditorState.transactionExtender.of((tr) => {
            if (tr.docChanged) {
              const changes = [];
              tr.changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => changes.push([fromA, toA, inserted.toString()]));
              analysis.edit(name, changes, tr.newDoc.length);
            }
            return null;
          }),
          EditorView.updateListener.of((u) => {
            if (!u.docChanged) return;
            // What is shown was mapped through the edit (or dropped, by a whole-text
            // replacement): the next list must be shown whatever it is.
            this.shownDiagnostics = undefined;
            this.settle(u.state.doc.length);
          }),
          EditorView.contentAttributes.of({ "aria-label": `${name} file`, spellcheck: "false" }),
          theme,
        ],
      }),
    });
    this.view.dom.dataset.testid = `${name}-editor`;
    mirrorStyles();
    editors.set(name, this);
    analysis.open(name, text);
  }

  /** Hand the text to the page: at once when small, after a pause in typing when large. */
  settle(length) {
    clearTimeout(this.settleTimer);
    const hand = () => {
      const started = performance.now();
      this.hooks.change(this.getText());
      // For docs/perf.md: when the page last got the text.
      window.slipwayStudio.settledAt = started;
    };
    if (length < LARGE_DOC) hand();
    else this.settleTimer = setTimeout(hand, SETTLE_MS);
  }

  getText() {
    return this.view.state.doc.toString();
  }

  /** Replace the whole text as one undoable change (Reset, opened files, the automation hook). */
  setText(text) {
    if (text === this.getText()) return;
    this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: text }, userEvent: "input.replace" });
  }

  /**
   * Show diagnostics `[{from, to, line, severity, message, fixes: [{title, edits}]}]` with
   * UTF-16 offsets into the current text.
   */
  setDiagnostics(list) {
    // Most checks leave the other file's diagnostics as they were: an update of that view
    // (a DOM pass, a few ms) would change nothing. (Any edit of this file forgets the key.)
    const key = JSON.stringify(list);
    if (key === this.shownDiagnostics) return;
    this.shownDiagnostics = key;
    this.diagnosticList = list;
    const view = this.view;
    const len = view.state.doc.length;
    const diagnostics = [];
    const ranges = [];
    for (const d of list) {
      const from = Math.min(d.from, len);
      const to = Math.min(Math.max(d.to, from), len);
      diagnostics.push({
        from,
        to,
        severity: d.severity,
        source: d.code,
        message: d.message,
        renderMessage: () => {
          const box = document.createElement("div");
          box.appendChild(richText(d.message));
          for (const fix of d.fixes || []) {
            const b = document.createElement("button");
            b.className = "cm-button cm-quickFix";
            b.dataset.testid = "quick-fix";
            b.textContent = fix.title;
            b.onclick = (e) => { e.preventDefault(); applyFix(fix.edits); };
            box.appendChild(document.createElement("br"));
            box.appendChild(b);
          }
          return box;
        },
      });
      const mark = Decoration.mark({
        class: `cm-diagnosticMark cm-diagnosticMark-${d.severity}`,
        attributes: { "data-testid": "diagnostic-mark", "data-line": String(d.line), "data-severity": d.severity },
      });
      // An empty span (end of file) still gets a visible mark: widen it by one where possible.
      const end = to > from ? to : Math.min(from + 1, len);
      if (end > from) ranges.push(mark.range(from, end));
    }
    ranges.sort((a, b) => a.from - b.from);
    // One transaction, one update of the view.
    const lint = setDiagnostics(view.state, diagnostics);
    view.dispatch({ effects: [].concat(lint.effects || [], setMarks.of(Decoration.set(ranges, true))) });
  }

  /** The quick fixes of the diagnostics whose span holds `pos` (an empty span: the position). */
  fixesAt(pos) {
    const out = [];
    for (const d of this.diagnosticList || []) {
      const end = d.to > d.from ? d.to : d.from + 1;
      if (d.from <= pos && pos <= end) out.push(...(d.fixes || []));
    }
    return out;
  }

  /** Apply edits `[{from, to, insert}]` as one undoable change (quick fixes from the Problems list). */
  applyEdits(json) {
    applyEdits(this.view, JSON.parse(json));
  }

  /** Put the cursor at a UTF-16 offset, scroll it into view and focus the editor. */
  goTo(pos) {
    const p = Math.min(pos, this.view.state.doc.length);
    this.view.dispatch({ selection: { anchor: p }, effects: EditorView.scrollIntoView(p, { y: "center" }) });
    this.view.focus();
  }

  /** The cursor's UTF-16 offset and whether the editor has focus (for tests). */
  cursor() {
    return { head: this.view.state.selection.main.head, focused: this.view.hasFocus };
  }

  destroy() {
    clearTimeout(this.settleTimer);
    if (editors.get(this.name) === this) editors.delete(this.name);
    this.view.destroy();
  }
}

if (inPage) {
  window.SlipwayEditor = {
    create: (parent, name, text, hooks) => new Editor(parent, name, text, hooks),
    /** The build values completion and hovers use (an array made by language.rs). */
    setOptions: (options) => analysis.setOptions(options),
    /** Rust's callback (or null) with the worker's report of the settled texts. */
    onChecked: (f) => analysis.setOnReport(f || null),
  };
  window.slipwayStudio = automation();
} else {
  serveAnalysis();
}

/** The automation hook for tests and for people scripting the page. */
function automation() {
  return {
    setText(name, text) {
      const ed = editors.get(name);
      if (!ed) throw new Error(`no editor named ${name}; use "services" or "steps"`);
      ed.setText(text);
    },
    getText(name) {
      const ed = editors.get(name);
      if (!ed) throw new Error(`no editor named ${name}; use "services" or "steps"`);
      return ed.getText();
    },
    cursor: (name) => editors.get(name)?.cursor(),
    /** How many edits (of either file) the analysis worker has been sent. */
    edits: () => analysis.version,
    /**
     * Ask the analysis what the editors ask it: `type` "complete", "hover" or "definition" at
     * UTF-16 offset `pos` of editor `name`; a promise of the answer's JSON (or undefined).
     * `answeredOn` then says which thread answered ("main" for small texts, else "worker").
     */
    ask: (type, name, pos) => {
      const ed = editors.get(name);
      if (!ed) throw new Error(`no editor named ${name}; use "services" or "steps"`);
      return analysis.request(type, name, pos, ed.view.state.doc.length);
    },
    /** Whether CodeMirror has parsed all of an editor's text (it does so in the background). */
    parsed: (name) => {
      const s = editors.get(name)?.view.state;
      return !!s && syntaxTreeAvailable(s, s.doc.length);
    },
  };
}
