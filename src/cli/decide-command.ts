/**
 * `slotscaler decide`: one decision input (JSON) on stdin, the decision (JSON) on stdout. Several
 * inputs, one per line (NDJSON), get one output line each, in order; a bad line is answered with
 * `{"error": "..."}` on its line and the others are still answered.
 */
import { decide } from '../scaler/decide.js';
import { decisionToJson, parseDecisionInput } from './decision-json.js';

export interface DecideIo {
  readonly stdin: string;
  readonly write: (line: string) => void;
  readonly writeError: (line: string) => void;
}

type Answer = { ok: true; output: Record<string, unknown> } | { ok: false; error: string };

function answer(document: unknown): Answer {
  const parsed = parseDecisionInput(document);
  if (!parsed.ok) return parsed;
  return { ok: true, output: decisionToJson(decide(parsed.input)) };
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, error: `invalid JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/**
 * Answers the inputs; resolves to the exit code: 0 when every input was answered with a decision,
 * 2 when any input was invalid.
 */
export function runDecide(io: DecideIo, options: { readonly pretty?: boolean } = {}): number {
  const format = (value: unknown): string =>
    JSON.stringify(value, null, options.pretty === true ? 2 : undefined);
  const lines = io.stdin.split(/\r?\n/).filter((line) => line.trim() !== '');
  const whole = parseJson(io.stdin);

  // One document (possibly spread over several lines), or one line: the single-input form.
  if (whole.ok || lines.length <= 1 || !parseJson(lines[0] ?? '').ok) {
    if (lines.length === 0) {
      io.writeError('slotscaler decide: expected a JSON decision input on stdin');
      return 2;
    }
    const result = whole.ok ? answer(whole.value) : whole;
    if (!result.ok) {
      io.writeError(`slotscaler decide: ${result.error}`);
      return 2;
    }
    io.write(format(result.output));
    return 0;
  }

  let failed = false;
  for (const line of lines) {
    const json = parseJson(line);
    const result = json.ok ? answer(json.value) : json;
    if (result.ok) {
      io.write(format(result.output));
    } else {
      failed = true;
      io.write(JSON.stringify({ error: result.error }));
    }
  }
  return failed ? 2 : 0;
}
