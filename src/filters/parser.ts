import { allOf, always, anyOf, selector, type Filter, type Operator } from './filter.js';
import { Scanner, type Token } from './scanner.js';

/**
 * containerd's filter syntax (filters/parser.go):
 *
 *   selectors := selector ("," selector)*
 *   selector  := fieldpath [operator value]
 *   fieldpath := field ("." field)*
 *   field     := quoted | [A-Za-z0-9_]+
 *   operator  := "==" | "!=" | "~="
 *   value     := quoted | [^\s,]+        (/…/ and |…| quotes only after ~=)
 */
export class FilterSyntaxError extends Error {
  constructor(
    readonly input: string,
    readonly pos: number,
    readonly reason: string,
  ) {
    const where =
      pos < input.length ? `[${input.slice(0, pos)} >|${input[pos]}|< ${input.slice(pos + 1)}]` : `[${input}]`;
    super(`filters: parse error: ${where}: ${reason}`);
    this.name = 'FilterSyntaxError';
  }
}

/** One filter string: its comma-separated selectors must all match; "" matches everything. */
export function parseFilter(input: string): Filter {
  if (input === '') return always;
  return new Parser(input).selectors();
}

/** A request's filters: any one of them may match; none at all matches everything. */
export function parseFilters(inputs: readonly string[]): Filter {
  if (inputs.length === 0) return always;
  return anyOf(inputs.map(parseFilter));
}

const OPERATORS: Record<string, Operator> = { '==': '==', '!=': '!=', '~=': '~=' };

class Parser {
  private readonly scanner: Scanner;

  constructor(private readonly input: string) {
    this.scanner = new Scanner(input);
  }

  selectors(): Filter {
    const all = [this.selector()];
    for (;;) {
      const next = this.scanner.peek();
      if (next.kind === 'eof') return allOf(all);
      if (next.kind !== 'separator' || next.text !== ',') throw this.error(next.pos, `unexpected input: ${next.text}`);
      this.scanner.scan();
      all.push(this.selector());
    }
  }

  private selector(): Filter {
    const path = this.fieldpath();
    const next = this.scanner.peek();
    if (next.kind === 'eof' || next.kind === 'separator') return selector(path, 'present');
    const operator = this.operator();
    const value = this.value(operator === '~=');
    if (operator !== '~=') return selector(path, operator, value);
    let pattern: RegExp;
    try {
      pattern = new RegExp(value);
    } catch (err) {
      throw this.error(next.pos, `invalid regular expression ${JSON.stringify(value)}: ${(err as Error).message}`);
    }
    return selector(path, operator, value, pattern);
  }

  private fieldpath(): string[] {
    const path = [this.field()];
    for (let next = this.scanner.peek(); next.kind === 'separator' && next.text === '.'; next = this.scanner.peek()) {
      this.scanner.scan();
      path.push(this.field());
    }
    return path;
  }

  private field(): string {
    const token = this.scanner.scan();
    if (token.kind === 'field') return token.text;
    if (token.kind === 'quoted') return this.unquote(token, false);
    if (token.kind === 'illegal') throw this.error(token.pos, this.scanner.error || `unexpected ${token.text}`);
    throw this.error(token.pos, 'expected field or quoted');
  }

  private operator(): Operator {
    const token = this.scanner.scan();
    if (token.kind === 'operator') {
      const operator = OPERATORS[token.text];
      if (!operator) throw this.error(token.pos, `unsupported operator "${token.text}"`);
      return operator;
    }
    if (token.kind === 'illegal') throw this.error(token.pos, this.scanner.error || `unexpected ${token.text}`);
    throw this.error(token.pos, 'expected an operator ("=="|"!="|"~=")');
  }

  private value(allowAltQuotes: boolean): string {
    const token = this.scanner.scan();
    if (token.kind === 'value' || token.kind === 'field') return token.text;
    if (token.kind === 'quoted') return this.unquote(token, allowAltQuotes);
    if (token.kind === 'illegal') throw this.error(token.pos, this.scanner.error || `unexpected ${token.text}`);
    throw this.error(token.pos, 'expected value or quoted');
  }

  private unquote(token: Token, allowAltQuotes: boolean): string {
    if (!allowAltQuotes && token.text[0] !== '"') throw this.error(token.pos, 'invalid quote encountered');
    try {
      return unquote(token.text);
    } catch (err) {
      throw this.error(token.pos, `unquoting failed: ${(err as Error).message}`);
    }
  }

  private error(pos: number, reason: string): FilterSyntaxError {
    return new FilterSyntaxError(this.input, pos, reason);
  }
}

const SIMPLE_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };

/** Go-style unquoting of "…", /…/ or |…|, with Go's escapes. */
function unquote(quoted: string): string {
  const quote = quoted[0]!;
  if (quoted.length < 2 || quoted[quoted.length - 1] !== quote) throw new Error('quote syntax error');
  const body = quoted.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === quote) throw new Error('quote syntax error');
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e === undefined) throw new Error('quote syntax error');
    if (e === quote) out += quote;
    else if (SIMPLE_ESCAPES[e] !== undefined) out += SIMPLE_ESCAPES[e];
    else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + n);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) throw new Error('quote syntax error');
      out += String.fromCodePoint(parseInt(hex, 16));
      i += n;
    } else if (e >= '0' && e <= '7') {
      const oct = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct) || parseInt(oct, 8) > 255) throw new Error('quote syntax error');
      out += String.fromCharCode(parseInt(oct, 8));
      i += 2;
    } else throw new Error('quote syntax error');
  }
  return out;
}
