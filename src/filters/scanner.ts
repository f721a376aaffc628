/**
 * Tokens of containerd's filter syntax (filters/scanner.go): fields, quoted strings (", / or |),
 * separators (, and .), operators (runs of = ! ~) and, after an operator, bare values.
 */
/** 'other' is a character that starts no token; 'illegal' a malformed one (see `error`). */
export type TokenKind = 'eof' | 'quoted' | 'value' | 'field' | 'separator' | 'operator' | 'illegal' | 'other';

export interface Token {
  readonly kind: TokenKind;
  readonly pos: number;
  readonly text: string;
}

const isFieldChar = (c: string) => /^[A-Za-z0-9_]$/.test(c);
const isOperatorChar = (c: string) => c === '=' || c === '!' || c === '~';
const isQuoteChar = (c: string) => c === '"' || c === '/' || c === '|';
const isSeparatorChar = (c: string) => c === ',' || c === '.';
const isSpace = (c: string) => /^\s$/u.test(c);
/** Printable, not a space, not a comma (Go: letter, digit, number, graphic or punctuation). */
const isValueChar = (c: string) => c !== ',' && !isSpace(c) && /^[\p{L}\p{N}\p{P}\p{S}\p{M}]$/u.test(c);

export class Scanner {
  private pos = 0;
  private expectValue = false;
  error = '';

  constructor(private readonly input: string) {}

  /** The next token without consuming it. */
  peek(): Token {
    const { pos, expectValue, error } = this;
    const token = this.scan();
    Object.assign(this, { pos, expectValue, error });
    return token;
  }

  scan(): Token {
    while (this.pos < this.input.length && isSpace(this.charAt(this.pos))) this.pos += this.charAt(this.pos).length;
    const start = this.pos;
    if (start >= this.input.length) return { kind: 'eof', pos: start, text: '' };
    const c = this.charAt(start);
    if (c === '\0') {
      this.error ||= 'unexpected null';
      return { kind: 'illegal', pos: start, text: c };
    }
    if (isQuoteChar(c)) {
      const legal = this.scanQuoted(c);
      return { kind: legal ? 'quoted' : 'illegal', pos: start, text: this.input.slice(start, this.pos) };
    }
    if (isSeparatorChar(c)) {
      this.pos++;
      this.expectValue = false;
      return { kind: 'separator', pos: start, text: c };
    }
    if (isOperatorChar(c)) {
      while (this.pos < this.input.length && isOperatorChar(this.input[this.pos]!)) this.pos++;
      this.expectValue = true;
      return { kind: 'operator', pos: start, text: this.input.slice(start, this.pos) };
    }
    if (this.expectValue) {
      this.expectValue = false;
      return { kind: 'value', pos: start, text: this.take(start, isValueChar) };
    }
    if (isFieldChar(c)) return { kind: 'field', pos: start, text: this.take(start, isFieldChar) };
    this.pos += c.length;
    return { kind: 'other', pos: start, text: c };
  }

  private charAt(i: number): string {
    return String.fromCodePoint(this.input.codePointAt(i)!);
  }

  private take(start: number, accept: (c: string) => boolean): string {
    while (this.pos < this.input.length && accept(this.charAt(this.pos))) this.pos += this.charAt(this.pos).length;
    return this.input.slice(start, this.pos);
  }

  /** Consumes a quoted literal; false (with `error` set) when it is unterminated or has a bad escape. */
  private scanQuoted(quote: string): boolean {
    let legal = true;
    this.pos++;
    for (;;) {
      if (this.pos >= this.input.length || this.input[this.pos] === '\n') {
        this.error ||= 'quoted literal not terminated';
        return false;
      }
      const c = this.input[this.pos]!;
      if (c === quote) {
        this.pos++;
        return legal;
      }
      if (c === '\\') {
        legal = this.scanEscape(quote) && legal;
      } else {
        this.pos++;
      }
    }
  }

  private scanEscape(quote: string): boolean {
    this.pos++;
    const c = this.input[this.pos] ?? '';
    const digits = (base: number, n: number) => {
      let i = 0;
      while (i < n && this.pos < this.input.length && parseInt(this.input[this.pos]!, base) >= 0) {
        this.pos++;
        i++;
      }
      if (i < n) this.error ||= 'illegal numeric escape sequence';
      return i === n;
    };
    if ('abfnrtv\\'.includes(c) || c === quote) {
      this.pos++;
      return true;
    }
    if (c >= '0' && c <= '7') return digits(8, 3);
    if (c === 'x' || c === 'u' || c === 'U') {
      this.pos++;
      return digits(16, c === 'x' ? 2 : c === 'u' ? 4 : 8);
    }
    this.error ||= 'illegal escape sequence';
    return false;
  }
}
