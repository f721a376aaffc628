/**
 * containerd matches `~=` values with Go's regexp (RE2 syntax). This translates an RE2 pattern
 * into an equivalent JS RegExp (always in `u` mode, so `.` and classes see code points as Go
 * sees runes), and throws for what RE2 rejects or JS cannot express.
 *
 * Translated: `.` (excludes only \n), `^`/`$` under (?m) (only \n ends a line), `\A`, `\z`,
 * `\s`/`\S` (ASCII), `[[:alpha:]]` and negated POSIX classes, `\pL`/`\p{Greek}`/`\p{^L}`,
 * `\Q…\E`, `\x{…}`, octal `\123`, escaped punctuation, literal `{`/`}`/`]` (`a{`, `[]a]`),
 * `(?P<name>…)`, scoped (?s) (?m) (?U) flags.
 * Refused: lookarounds and backreferences (RE2 has none), repeat counts over 1000, `\C`, and a
 * case-insensitive (?i) anywhere but at the very start (JS in Node 20 has no scoped `i`).
 */
export function compileRe2(pattern: string): RegExp {
  const fail = (detail: string): never => {
    throw new Error(`error parsing regexp: ${detail}: \`${pattern}\``);
  };
  if (/\p{Cs}/u.test(pattern)) fail('invalid UTF-8');
  const { source, flags } = new Translator(pattern, fail).run();
  try {
    return new RegExp(source, flags);
  } catch (err) {
    return fail((err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, ''));
  }
}

type Range = [number, number];
interface Flags {
  dotAll: boolean;
  multiLine: boolean;
  ungreedy: boolean;
}

const ch = (c: string): number => c.codePointAt(0)!;
const PERL_SPACE: Range[] = [[0x09, 0x0a], [0x0c, 0x0d], [0x20, 0x20]];
const POSIX: Record<string, Range[]> = {
  alnum: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]],
  alpha: [[0x41, 0x5a], [0x61, 0x7a]],
  ascii: [[0x00, 0x7f]],
  blank: [[0x09, 0x09], [0x20, 0x20]],
  cntrl: [[0x00, 0x1f], [0x7f, 0x7f]],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]],
  space: [[0x09, 0x0d], [0x20, 0x20]],
  upper: [[0x41, 0x5a]],
  word: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a], [0x5f, 0x5f]],
  xdigit: [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]],
};
const CATEGORIES = new Set('C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs'.split(' '));

const hex = (cp: number) => `\\u{${cp.toString(16)}}`;
/** Class-body text for ranges (complemented over all code points when `negate`). */
function ranges(list: Range[], negate = false): string {
  let rs = [...list].sort((a, b) => a[0] - b[0]);
  if (negate) {
    const out: Range[] = [];
    let lo = 0;
    for (const [a, b] of rs) {
      if (a > lo) out.push([lo, a - 1]);
      lo = Math.max(lo, b + 1);
    }
    if (lo <= 0x10ffff) out.push([lo, 0x10ffff]);
    rs = out;
  }
  return rs.map(([a, b]) => (a === b ? hex(a) : `${hex(a)}-${hex(b)}`)).join('');
}

/** A literal code point, escaped as JS `u` mode needs, inside a class or outside. */
function literal(cp: number, inClass: boolean): string {
  const c = String.fromCodePoint(cp);
  if (cp < 0x20 || cp === 0x7f) return hex(cp);
  if ((inClass ? '\\]-[^' : '\\^$.*+?()[]{}|').includes(c)) return `\\${c}`;
  return c;
}

class Translator {
  private i = 0;
  private out = '';
  private flags: Flags = { dotAll: false, multiLine: false, ungreedy: false };
  private readonly saved: Flags[] = [];
  private ignoreCase = false;

  constructor(
    private readonly re: string,
    private readonly fail: (detail: string) => never,
  ) {}

  run(): { source: string; flags: string } {
    while (this.i < this.re.length) this.out += this.term();
    return { source: this.out, flags: this.ignoreCase ? 'iu' : 'u' };
  }

  private rest(): string {
    return this.re.slice(this.i);
  }

  private term(): string {
    const c = this.re[this.i];
    const { dotAll, multiLine } = this.flags;
    switch (c) {
      case '(':
        return this.group();
      case ')':
        this.i++;
        this.flags = this.saved.pop() ?? this.flags;
        return ')';
      case '[':
        return this.charClass();
      case '\\':
        return this.escape();
      case '*':
      case '+':
      case '?':
        this.i++;
        return this.quantifier(c);
      case '{': {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.rest());
        if (!m) break;
        if (Number(m[1]) > 1000 || Number(m[3] || 0) > 1000) this.fail(`invalid repeat count: \`${m[0]}\``);
        this.i += m[0].length;
        return this.quantifier(m[0]);
      }
      case '.':
        this.i++;
        return dotAll ? '[^]' : '[^\\n]';
      case '^':
        this.i++;
        return multiLine ? '(?<![^\\n])' : '^';
      case '$':
        this.i++;
        return multiLine ? '(?![^\\n])' : '$';
      case '|':
        this.i++;
        return '|';
    }
    const cp = this.re.codePointAt(this.i)!;
    this.i += cp > 0xffff ? 2 : 1;
    return literal(cp, false);
  }

  private quantifier(q: string): string {
    let lazy = false;
    if (this.re[this.i] === '?') {
      lazy = true;
      this.i++;
    }
    return lazy !== this.flags.ungreedy ? `${q}?` : q;
  }

  private group(): string {
    const start = this.i;
    const named = /^\(\?P?<(?![=!])([^>]*)>/.exec(this.rest());
    if (named) {
      if (!/^[A-Za-z0-9_]+$/.test(named[1])) this.fail(`invalid named capture: \`${named[0]}\``);
      this.i += named[0].length;
      this.saved.push(this.flags);
      return '('; // names do not change what matches, and RE2 allows names JS does not
    }
    if (this.re[start + 1] !== '?') {
      this.i++;
      this.saved.push(this.flags);
      return '(';
    }
    const m = /^\(\?([imsU]*)(?:(-)([imsU]*))?([:)])/.exec(this.rest());
    if (!m || (m[2] && !m[3]) || (m[4] === ')' && !m[1] && !m[2])) {
      return this.fail(`invalid or unsupported Perl syntax: \`${this.re.slice(start, start + 3)}\``);
    }
    const [whole, on, , off = '', end] = m;
    const flags = { ...this.flags };
    for (const [set, value] of [[on, true], [off, false]] as const) {
      if (set.includes('s')) flags.dotAll = value;
      if (set.includes('m')) flags.multiLine = value;
      if (set.includes('U')) flags.ungreedy = value;
    }
    if (on.includes('i')) {
      if (start !== 0 || end !== ')') this.fail('case-insensitive (?i) is only supported at the start of the pattern');
      this.ignoreCase = true;
    }
    if (off.includes('i') && this.ignoreCase) this.fail('turning case-insensitivity off with (?-i) is not supported');
    this.i += whole.length;
    if (end === ')') {
      this.flags = flags;
      return '';
    }
    this.saved.push(this.flags);
    this.flags = flags;
    return '(?:';
  }

  private charClass(): string {
    this.i++;
    let body = '';
    const negated = this.re[this.i] === '^';
    if (negated) this.i++;
    for (let first = true; ; first = false) {
      if (this.i >= this.re.length) this.fail('missing closing ]');
      if (this.re[this.i] === ']' && !first) break;
      const posix = /^\[:(\^?)([a-z]+):\]/.exec(this.rest());
      if (posix) {
        const list = POSIX[posix[2]] ?? this.fail(`invalid character class range: \`${posix[0]}\``);
        body += ranges(list, posix[1] === '^');
        this.i += posix[0].length;
        continue;
      }
      const lo = this.classAtom();
      if (typeof lo === 'string') {
        body += lo;
        continue;
      }
      if (this.re[this.i] === '-' && this.i + 1 < this.re.length && this.re[this.i + 1] !== ']') {
        this.i++;
        const hi = this.classAtom();
        if (typeof hi === 'string' || hi < lo) this.fail('invalid character class range');
        body += `${literal(lo, true)}-${literal(hi as number, true)}`;
      } else {
        body += literal(lo, true);
      }
    }
    this.i++;
    return `[${negated ? '^' : ''}${body}]`;
  }

  /** A code point, or a ready class-body fragment for \d, \s, \pL…. */
  private classAtom(): number | string {
    if (this.re[this.i] !== '\\') {
      const cp = this.re.codePointAt(this.i)!;
      this.i += cp > 0xffff ? 2 : 1;
      return cp;
    }
    const e = this.backslash();
    return this.classEscape(e, true) ?? this.escapedChar(e);
  }

  /** An escape outside a class. */
  private escape(): string {
    const e = this.backslash();
    switch (e) {
      case 'A':
        return '(?<![^])';
      case 'z':
        return '(?![^])';
      case 'b':
      case 'B':
        return `\\${e}`;
      case 'Q': {
        const end = this.re.indexOf('\\E', this.i);
        const text = this.re.slice(this.i, end < 0 ? undefined : end);
        this.i = end < 0 ? this.re.length : end + 2;
        return [...text].map((c) => literal(ch(c), false)).join('');
      }
    }
    return this.classEscape(e, false) ?? literal(this.escapedChar(e), false);
  }

  /** Consumes a backslash and returns the character after it. */
  private backslash(): string {
    const e = this.re[this.i + 1];
    if (e === undefined) return this.fail('trailing backslash at end of expression');
    this.i += 2;
    return e;
  }

  /** \d \D \w \W \s \S \p \P as JS text, for inside a class or standing alone. */
  private classEscape(e: string, inClass: boolean): string | undefined {
    switch (e) {
      case 'd':
      case 'D':
      case 'w':
      case 'W':
        return `\\${e}`;
      case 's':
        return inClass ? ranges(PERL_SPACE) : `[${ranges(PERL_SPACE)}]`;
      case 'S':
        return inClass ? ranges(PERL_SPACE, true) : `[^${ranges(PERL_SPACE)}]`;
      case 'p':
      case 'P':
        return this.unicodeClass(e === 'P', inClass);
    }
    return undefined;
  }

  /** The code point of an escape that stands for one character (`e` follows the backslash). */
  private escapedChar(e: string): number {
    const simple: Record<string, number> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 };
    if (e in simple) return simple[e];
    if (e >= '0' && e <= '7') {
      // \0, \0N, \0NN, or two or three octal digits; a lone \1-\7 would be a backreference
      const m = /^[0-7]{0,2}/.exec(this.rest())![0];
      if (e !== '0' && m === '') this.fail(`invalid escape sequence: \`\\${e}\``);
      this.i += m.length;
      return parseInt(e + m, 8);
    }
    if (e === 'x') {
      const m = /^(?:\{([0-9A-Fa-f]+)\}|([0-9A-Fa-f]{2}))/.exec(this.rest());
      const v = m ? parseInt(m[1] ?? m[2], 16) : NaN;
      if (!m || !(v <= 0x10ffff)) this.fail(`invalid escape sequence: \`\\x${this.rest().slice(0, 4)}\``);
      this.i += m![0].length;
      return v;
    }
    if (e < '\x80' && !/[A-Za-z0-9]/.test(e)) return ch(e);
    return this.fail(`invalid escape sequence: \`\\${e}\``);
  }

  private unicodeClass(negated: boolean, inClass: boolean): string {
    let name: string;
    if (this.re[this.i] === '{') {
      const end = this.re.indexOf('}', this.i);
      if (end < 0) this.fail('invalid character class range');
      name = this.re.slice(this.i + 1, end);
      this.i = end + 1;
    } else {
      const cp = this.re.codePointAt(this.i);
      if (cp === undefined) this.fail('invalid character class range');
      name = String.fromCodePoint(cp!);
      this.i += name.length;
    }
    if (name.startsWith('^')) {
      negated = !negated;
      name = name.slice(1);
    }
    if (name === 'Any') return inClass ? (negated ? '' : '\\u{0}-\\u{10ffff}') : negated ? '[]' : '[^]';
    const prop = CATEGORIES.has(name) ? name : `Script=${name}`;
    return `\\${negated ? 'P' : 'p'}{${prop}}`;
  }
}
