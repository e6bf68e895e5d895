import { useEffect, useRef } from 'preact/hooks';
import { autocompletion, type CompletionContext, type CompletionResult } from '@codemirror/autocomplete';
import { yaml } from '@codemirror/lang-yaml';
import { linter, lintGutter, type Diagnostic as EditorDiagnostic } from '@codemirror/lint';
import { EditorState, type Text } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { basicSetup } from 'codemirror';
import type { Diagnostic, JsonSchema } from '@dlexp/core';
import { completeAt } from './schema-completion';

export interface YamlEditorHandle {
  setText(text: string): void;
  text(): string;
  /** Puts the cursor at a line and column (1-based) and scrolls there. */
  reveal(line: number, col: number): void;
}

/** Where a 1-based line and column fall in the document (clamped to it). */
export function offsetOf(doc: Text, line: number, col: number): number {
  const safeLine = Math.min(Math.max(line, 1), doc.lines);
  const at = doc.line(safeLine);
  return Math.min(at.from + Math.max(col - 1, 0), at.to);
}

/** The marked range of a problem: from its column to the end of the word (or line) there. */
function rangeOf(doc: Text, d: Diagnostic): { from: number; to: number } {
  if (d.line < 1) return { from: 0, to: Math.min(doc.length, doc.line(1).to) };
  const from = offsetOf(doc, d.line, d.col);
  const line = doc.lineAt(from);
  const word = /^[^\s,{}[\]]+/.exec(line.text.slice(from - line.from));
  return { from, to: word === null || word[0].length === 0 ? line.to : from + word[0].length };
}

/**
 * CodeMirror 6 with YAML highlighting, the experiment's problems marked where the CLI reports
 * them (each as `path: message`, checked as one types), and completion from the JSON Schema.
 */
export function YamlEditor(props: {
  initialText: string;
  schema: JsonSchema;
  validate: (text: string) => Promise<Diagnostic[]>;
  onChange: (text: string) => void;
  /** The problems found, and the text they were found in. */
  onProblems: (problems: Diagnostic[], checked: string) => void;
  handle: (handle: YamlEditorHandle) => void;
}) {
  const host = useRef<HTMLDivElement>(null);
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    const complete = (context: CompletionContext): CompletionResult | null => {
      const found = completeAt(context.state.doc.toString(), context.pos, latest.current.schema);
      if (found === undefined) return null;
      // Unasked, an empty word gets completions only right after `key:`, `{` or `,` (not at every new line).
      const line = context.state.doc.lineAt(context.pos);
      if (!context.explicit && found.from === context.pos && !/[:{,]\s*$/.test(line.text.slice(0, context.pos - line.from))) return null;
      return {
        from: found.from,
        options: found.options.map((o) => ({ label: o.label, apply: o.apply, type: o.kind === 'property' ? 'property' : 'enum', ...(o.detail !== undefined ? { detail: o.detail } : {}), ...(o.info !== undefined ? { info: o.info } : {}) })),
        validFor: /^[A-Za-z0-9_.-]*$/,
      };
    };
    const problems = linter(
      async (view) => {
        // Positions refer to the text checked (CodeMirror drops the answer if the text changed meanwhile).
        const doc = view.state.doc;
        const text = doc.toString();
        const problems = await latest.current.validate(text);
        latest.current.onProblems(problems, text);
        return problems.map((d): EditorDiagnostic => ({ ...rangeOf(doc, d), severity: 'error', message: d.path === '' ? d.message : `${d.path}: ${d.message}`, source: 'schema' }));
      },
      { delay: 300 },
    );
    const view = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: props.initialText,
        extensions: [
          basicSetup,
          yaml(),
          lintGutter(),
          problems,
          autocompletion({ override: [complete], activateOnTyping: true }),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) latest.current.onChange(update.state.doc.toString());
          }),
          EditorView.theme({ '&': { height: '100%' }, '.cm-scroller': { fontFamily: 'DejaVu Sans Mono, monospace' } }),
        ],
      }),
    });
    props.handle({
      setText: (text) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } }),
      text: () => view.state.doc.toString(),
      reveal: (line, col) => {
        const at = offsetOf(view.state.doc, line, col);
        view.dispatch({ selection: { anchor: at }, effects: EditorView.scrollIntoView(at, { y: 'center' }) });
        view.focus();
      },
    });
    return () => view.destroy();
  }, []);

  return <div class="yaml-editor" ref={host} />;
}
