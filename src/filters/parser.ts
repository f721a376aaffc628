import { allOf, always, anyOf, selector, type Filter, type Operator } from './filter.js';
import { compileRe2 } from './regexp.js';
import { EOF, ILLEGAL, Scanner, unquote, type Token } from './scanner.js';

/**
 * containerd's filter syntax (filters/parser.go):
 *
 *   selectors := selector ("," selector)*
 *   selector  := fieldpath [operator value]
 *   fieldpath := field ("." field)*
 *   field     := quoted | [A-Za-z0-9_]+
 *   operator  := "==" | "!=" | "~="
 *   value     := quoted | [^\s,]+        (/…/ and |…| quotes only after ~=)
 *
 * Like containerd, whitespace is skipped before a token but not where the parser peeks for a
 * `,` or the end: `a == b, c` parses, `a==b ,c` and `a==b ` do not.
 */
export class FilterSyntaxError extends Error {
  constructor(
    readonly input: string,
    /** Index into `input` of the offending character (input.length: at the end). */
    readonly pos: number,
    readonly reason: string,
  ) {
    super(`filters: parse error: ${locate(input, pos)}: ${reason}`);
    this.name = 'FilterSyntaxError';
  }
}

/** `[before >|x|< after]`, or `[input]` when the error is at the end. */
function locate(input: string, pos: number): string {
  if (pos >= input.length) return `[${input}]`;
  const at = String.fromCodePoint(input.codePointAt(pos)!);
  return `[${input.slice(0, pos)} >|${at}|< ${input.slice(pos + at.length)}]`;
}

/**
 * The message containerd's filters.ParseAll gives (it adds the errdefs class); List calls of
 * the metadata stores wrap that once more with ": invalid argument".
 */
export function invalidFilterMessage(err: FilterSyntaxError): string {
  return `${err.message}: invalid argument`;
}

/** One filter string: its comma-separated selectors must all match; "" matches everything. */
export function parseFilter(input: string): Filter {
  return input === '' ? always : new Parser(input).parse();
}

/** A request's filters: any one of them may match; [] matches everything. Throws on the first bad one. */
export function parseFilters(inputs: readonly string[]): Filter {
  return inputs.length === 0 ? always : anyOf(inputs.map(parseFilter));
}

class Parser {
  private readonly scanner: Scanner;

  constructor(private readonly input: string) {
    this.scanner = new Scanner(input);
  }

  parse(): Filter {
    const selectors = [this.selector()];
    for (;;) {
      const ch = this.scanner.peek();
      if (ch === EOF) return allOf(selectors);
      if (ch !== 0x2c /* , */) {
        const shown = ch === ILLEGAL ? '\ufffd' : String.fromCodePoint(ch);
        throw this.error(this.scanner.ppos, `unexpected input: ${shown}`);
      }
      this.scanner.scan();
      selectors.push(this.selector());
    }
  }

  private selector(): Filter {
    const path = this.fieldpath();
    const ch = this.scanner.peek();
    if (ch === 0x2c || ch === EOF) return selector(path, 'present');
    const operator = this.operator();
    const token = this.scanner.scan();
    const value = this.value(token, operator === '~=');
    if (operator !== '~=') return selector(path, operator, value);
    try {
      return selector(path, operator, value, compileRe2(value));
    } catch (err) {
      throw this.error(token.pos, (err as Error).message);
    }
  }

  private fieldpath(): string[] {
    const path = [this.field()];
    while (this.scanner.peek() === 0x2e /* . */) {
      this.scanner.scan();
      path.push(this.field());
    }
    return path;
  }

  private field(): string {
    const token = this.scanner.scan();
    switch (token.kind) {
      case 'field':
        return token.text;
      case 'quoted':
        return this.unquote(token, false);
      case 'illegal':
        throw this.error(token.pos, this.scanner.err);
      default:
        throw this.error(token.pos, 'expected field or quoted');
    }
  }

  private operator(): Operator {
    const token = this.scanner.scan();
    switch (token.kind) {
      case 'operator':
        if (token.text === '==' || token.text === '!=' || token.text === '~=') return token.text;
        throw this.error(token.pos, `unsupported operator ${JSON.stringify(token.text)}`);
      case 'illegal':
        throw this.error(token.pos, this.scanner.err);
      default:
        throw this.error(token.pos, 'expected an operator ("=="|"!="|"~=")');
    }
  }

  private value(token: Token, allowAltQuotes: boolean): string {
    switch (token.kind) {
      case 'value':
      case 'field':
        return token.text;
      case 'quoted':
        return this.unquote(token, allowAltQuotes);
      case 'illegal':
        throw this.error(token.pos, this.scanner.err);
      default:
        throw this.error(token.pos, 'expected value or quoted');
    }
  }

  private unquote(token: Token, allowAltQuotes: boolean): string {
    if (!allowAltQuotes && token.text[0] !== '"') throw this.error(token.pos, 'invalid quote encountered');
    const text = unquote(token.text);
    if (text === undefined) throw this.error(token.pos, 'unquoting failed: quote syntax error');
    return text;
  }

  private error(pos: number, reason: string): FilterSyntaxError {
    return new FilterSyntaxError(this.input, pos, reason);
  }
}
