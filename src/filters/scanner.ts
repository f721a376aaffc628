/**
 * The lexer of containerd's filter syntax (filters/scanner.go, filters/quote.go).
 *
 * Positions are JS string indices (UTF-16 code units); containerd counts UTF-8 bytes, so the
 * two only differ for input with non-ASCII characters. The scanner keeps containerd's quirks on
 * purpose, since they decide which inputs are parse errors and how the errors read:
 *  - after an operator the next token is a value, which may start with any character but a
 *    quote, separator, operator or space, and then runs until a comma or space;
 *  - `/`, `|` and `"` always open a quoted literal, even where only `"` is allowed later;
 *  - the first error message sticks for the rest of the scan (even one met while peeking).
 */

export const EOF = -1;
export const ILLEGAL = -2;

export type TokenKind = 'eof' | 'illegal' | 'quoted' | 'value' | 'field' | 'separator' | 'operator' | 'char';

export interface Token {
  kind: TokenKind;
  /** Index of the token's first character (for 'eof': the input's length). */
  pos: number;
  /** The token's source text ('' for 'eof', 'char' and an illegal character). */
  text: string;
  /** For 'char': the unexpected code point. */
  ch?: number;
}

const isSpace = (ch: number): boolean => ch >= 0 && /^\p{White_Space}$/u.test(String.fromCodePoint(ch));
const isFieldRune = (ch: number): boolean => ch >= 0 && /^[A-Za-z0-9_]$/.test(String.fromCodePoint(ch));
const isOperatorRune = (ch: number): boolean => ch === 0x3d /* = */ || ch === 0x21 /* ! */ || ch === 0x7e; /* ~ */
const isQuoteRune = (ch: number): boolean => ch === 0x2f /* / */ || ch === 0x7c /* | */ || ch === 0x22; /* " */
const isSeparatorRune = (ch: number): boolean => ch === 0x2c /* , */ || ch === 0x2e; /* . */
/** Go: a letter, digit, number, graphic or punctuation rune that is neither a comma nor a space. */
const isValueRune = (ch: number): boolean =>
  ch >= 0 && ch !== 0x2c && /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(String.fromCodePoint(ch));

function digitVal(ch: number): number {
  if (ch >= 0x30 && ch <= 0x39) return ch - 0x30;
  if (ch >= 0x61 && ch <= 0x66) return ch - 0x61 + 10;
  if (ch >= 0x41 && ch <= 0x46) return ch - 0x41 + 10;
  return 16;
}

export class Scanner {
  /** Start of the current character. */
  pos = 0;
  /** End of the current character: where the next one starts. */
  ppos = 0;
  /** The first error met, if any. */
  err = '';
  /** Set by an operator: the next token is a value. */
  private value = false;

  constructor(readonly input: string) {}

  /** The next code point, EOF or ILLEGAL (lone surrogates, U+FFFD and NUL are illegal). */
  next(): number {
    if (this.pos >= this.input.length) return EOF;
    this.pos = this.ppos;
    if (this.ppos >= this.input.length) return EOF;
    const ch = this.input.codePointAt(this.ppos)!;
    this.ppos += ch > 0xffff ? 2 : 1;
    if ((ch >= 0xd800 && ch <= 0xdfff) || ch === 0xfffd) return this.illegal('rune error');
    if (ch === 0) return this.illegal('unexpected null');
    return ch;
  }

  peek(): number {
    const { pos, ppos } = this;
    const ch = this.next();
    this.pos = pos;
    this.ppos = ppos;
    return ch;
  }

  scan(): Token {
    let ch = this.next();
    while (isSpace(ch)) ch = this.next();
    const pos = this.pos;
    const token = (kind: TokenKind): Token => ({ kind, pos, text: this.input.slice(pos, this.ppos) });

    if (ch === EOF) return { kind: 'eof', pos: this.pos, text: '' };
    if (ch === ILLEGAL) return { kind: 'illegal', pos, text: '' };
    if (isQuoteRune(ch)) return token(this.scanQuoted(ch) ? 'quoted' : 'illegal');
    if (isSeparatorRune(ch)) {
      this.value = false;
      return token('separator');
    }
    if (isOperatorRune(ch)) {
      while (isOperatorRune(this.peek())) this.next();
      this.value = true;
      return token('operator');
    }
    if (this.value) {
      while (isValueRune(this.peek())) this.next();
      this.value = false;
      return token('value');
    }
    if (isFieldRune(ch)) {
      while (isFieldRune(this.peek())) this.next();
      return token('field');
    }
    return { kind: 'char', pos, text: '', ch };
  }

  private illegal(message: string): number {
    if (!this.err) this.err = message;
    return ILLEGAL;
  }

  /** Consumes a quoted literal up to its closing quote; false when it is not a valid one. */
  private scanQuoted(quote: number): boolean {
    let legal = true;
    let ch = this.next();
    while (ch !== quote) {
      if (ch === 0x0a || ch < 0) {
        this.illegal('quoted literal not terminated');
        return false;
      }
      if (ch === 0x5c /* \ */) {
        let ok: boolean;
        [ch, ok] = this.scanEscape(quote);
        legal &&= ok;
      } else {
        ch = this.next();
      }
    }
    return legal;
  }

  /** After a backslash: checks one escape, returns the character that follows it. */
  private scanEscape(quote: number): [number, boolean] {
    const ch = this.next();
    if ((ch > 0 && 'abfnrtv\\'.includes(String.fromCodePoint(ch))) || ch === quote) return [this.next(), true];
    if (ch >= 0x30 && ch <= 0x37) return this.scanDigits(ch, 8, 3);
    if (ch === 0x78 /* x */) return this.scanDigits(this.next(), 16, 2);
    if (ch === 0x75 /* u */) return this.scanDigits(this.next(), 16, 4);
    if (ch === 0x55 /* U */) return this.scanDigits(this.next(), 16, 8);
    this.illegal('illegal escape sequence');
    return [ch, false];
  }

  private scanDigits(ch: number, base: number, n: number): [number, boolean] {
    for (; n > 0 && digitVal(ch) < base; n--) ch = this.next();
    if (n > 0) {
      this.illegal('illegal numeric escape sequence');
      return [ch, false];
    }
    return [ch, true];
  }
}

const SIMPLE_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 0x5c };
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes a quoted literal (`"…"`, `/…/` or `|…|`, quotes included) the way Go's
 * strconv.Unquote does, the escaped quote being the only quote escape allowed. Returns
 * undefined on a syntax error ("quote syntax error" in containerd).
 *
 * `\x` and octal escapes give raw bytes; bytes that do not form UTF-8 become the lone
 * surrogates U+DC80–U+DCFF, so they can never equal a (well-formed) field value.
 */
export function unquote(quoted: string): string | undefined {
  const quote = quoted[0];
  if (quoted.length < 2 || !'"/|'.includes(quote) || quoted[quoted.length - 1] !== quote) return undefined;
  const body = quoted.slice(1, -1);
  if (body.includes('\n')) return undefined;
  if (!body.includes('\\') && !body.includes(quote)) return body;

  const bytes: number[] = [];
  const push = (cp: number) => bytes.push(...utf8.encode(String.fromCodePoint(cp)));
  for (let i = 0; i < body.length; ) {
    const c = body[i];
    if (c === quote) return undefined;
    if (c !== '\\') {
      const cp = body.codePointAt(i)!;
      push(cp);
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const e = body[i + 1];
    i += 2;
    if (e === undefined) return undefined;
    if (e in SIMPLE_ESCAPES) {
      bytes.push(SIMPLE_ESCAPES[e]);
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const digits = body.slice(i, i + n);
      if (!new RegExp(`^[0-9A-Fa-f]{${n}}$`).test(digits)) return undefined;
      i += n;
      const v = parseInt(digits, 16);
      if (e === 'x') bytes.push(v);
      else if (v > 0x10ffff) return undefined;
      else push(v >= 0xd800 && v <= 0xdfff ? 0xfffd : v); // Go encodes a surrogate as U+FFFD
    } else if (e >= '0' && e <= '7') {
      const digits = e + body.slice(i, i + 2);
      if (!/^[0-7]{3}$/.test(digits)) return undefined;
      i += 2;
      const v = parseInt(digits, 8);
      if (v > 255) return undefined;
      bytes.push(v);
    } else if (e === quote) {
      bytes.push(e.charCodeAt(0));
    } else {
      return undefined;
    }
  }
  return decodeUtf8(Uint8Array.from(bytes));
}

/** UTF-8 to string, each byte that is not part of a valid sequence mapped to U+DC80+byte. */
function decodeUtf8(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    let out = '';
    for (let i = 0; i < bytes.length; ) {
      const b = bytes[i];
      const n = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      try {
        out += strictUtf8.decode(bytes.subarray(i, i + n));
        i += n;
      } catch {
        out += String.fromCharCode(0xdc00 + b);
        i += 1;
      }
    }
    return out;
  }
}
