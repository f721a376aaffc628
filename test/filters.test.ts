import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  adaptorFromFields,
  compileRe2,
  FilterSyntaxError,
  invalidFilterMessage,
  labelsAdaptor,
  parseFilter,
  parseFilters,
  type Adaptor,
} from '../src/filters/index.js';
import { Scanner, type TokenKind } from '../src/filters/scanner.js';

// ---------------------------------------------------------------------------------------------
// containerd filters/scanner_test.go. Positions are UTF-16 indices here (containerd counts
// bytes), which only changes the two cases with 牛.

type Tok = [pos: number, kind: TokenKind, text?: string, err?: string];
const scannerCases: [name: string, input: string, tokens: Tok[]][] = [
  ['Field', 'name', [[0, 'field', 'name'], [4, 'eof']]],
  ['SelectorsWithOperators', 'name==value,foo!=bar', [
    [0, 'field', 'name'], [4, 'operator', '=='], [6, 'value', 'value'], [11, 'separator', ','],
    [12, 'field', 'foo'], [15, 'operator', '!='], [17, 'value', 'bar'], [20, 'eof'],
  ]],
  ['SelectorsWithFieldPaths', 'name==value,labels.foo=value,other.bar~=match', [
    [0, 'field', 'name'], [4, 'operator', '=='], [6, 'value', 'value'], [11, 'separator', ','],
    [12, 'field', 'labels'], [18, 'separator', '.'], [19, 'field', 'foo'], [22, 'operator', '='],
    [23, 'value', 'value'], [28, 'separator', ','], [29, 'field', 'other'], [34, 'separator', '.'],
    [35, 'field', 'bar'], [38, 'operator', '~='], [40, 'value', 'match'], [45, 'eof'],
  ]],
  ['RegexpValue', 'name~=[abc]+,foo=test', [
    [0, 'field', 'name'], [4, 'operator', '~='], [6, 'value', '[abc]+'], [12, 'separator', ','],
    [13, 'field', 'foo'], [16, 'operator', '='], [17, 'value', 'test'], [21, 'eof'],
  ]],
  ['RegexpEscapedValue', 'name~=[abc]\\+,foo=test', [
    [0, 'field', 'name'], [4, 'operator', '~='], [6, 'value', '[abc]\\+'], [13, 'separator', ','],
    [14, 'field', 'foo'], [17, 'operator', '='], [18, 'value', 'test'], [22, 'eof'],
  ]],
  ['RegexpQuotedValue', 'name~=/[abc]{0,2}/,foo=test', [
    [0, 'field', 'name'], [4, 'operator', '~='], [6, 'quoted', '/[abc]{0,2}/'], [18, 'separator', ','],
    [19, 'field', 'foo'], [22, 'operator', '='], [23, 'value', 'test'], [27, 'eof'],
  ]],
  ['Cowsay', 'name~=牛,labels.moo=true', [
    [0, 'field', 'name'], [4, 'operator', '~='], [6, 'value', '牛'], [7, 'separator', ','],
    [8, 'field', 'labels'], [14, 'separator', '.'], [15, 'field', 'moo'], [18, 'operator', '='],
    [19, 'value', 'true'], [23, 'eof'],
  ]],
  ['CowsayRegexpQuoted', 'name~=|牛|,labels.moo=true', [
    [0, 'field', 'name'], [4, 'operator', '~='], [6, 'quoted', '|牛|'], [9, 'separator', ','],
    [10, 'field', 'labels'], [16, 'separator', '.'], [17, 'field', 'moo'], [20, 'operator', '='],
    [21, 'value', 'true'], [25, 'eof'],
  ]],
  ['Escapes', 'name~="asdf\\n\\tfooo"', [[0, 'field', 'name'], [4, 'operator', '~='], [6, 'quoted', '"asdf\\n\\tfooo"'], [20, 'eof']]],
  ['NullInput', 'foo\x00bar', [[0, 'field', 'foo'], [3, 'illegal', '', 'unexpected null'], [4, 'field', 'bar'], [7, 'eof']]],
  ['SpacesChomped', 'foo = bar    ', [[0, 'field', 'foo'], [4, 'operator', '='], [6, 'value', 'bar'], [13, 'eof']]],
  ['ValuesPunctuated', 'compound.labels==punctuated_value.foo-bar', [
    [0, 'field', 'compound'], [8, 'separator', '.'], [9, 'field', 'labels'], [15, 'operator', '=='],
    [17, 'value', 'punctuated_value.foo-bar'], [41, 'eof'],
  ]],
  ['PartialInput', 'interrupted=', [[0, 'field', 'interrupted'], [11, 'operator', '='], [12, 'eof']]],
  ['DoubleValue', 'doublevalue=value value', [[0, 'field', 'doublevalue'], [11, 'operator', '='], [12, 'value', 'value'], [18, 'field', 'value'], [23, 'eof']]],
  ['LeadingWithQuoted', '"leading quote".postquote==value', [
    [0, 'quoted', '"leading quote"'], [15, 'separator', '.'], [16, 'field', 'postquote'], [25, 'operator', '=='],
    [27, 'value', 'value'], [32, 'eof'],
  ]],
  ['MissingValue', 'input==,id!=ff', [
    [0, 'field', 'input'], [5, 'operator', '=='], [7, 'separator', ','], [8, 'field', 'id'], [10, 'operator', '!='],
    [12, 'value', 'ff'], [14, 'eof'],
  ]],
  ['QuotedRegexp', 'input~=/foo\\/bar/,id!=ff', [
    [0, 'field', 'input'], [5, 'operator', '~='], [7, 'quoted', '/foo\\/bar/'], [17, 'separator', ','],
    [18, 'field', 'id'], [20, 'operator', '!='], [22, 'value', 'ff'], [24, 'eof'],
  ]],
  ['QuotedRegexpAlt', 'input~=|foo/bar|,id!=ff', [
    [0, 'field', 'input'], [5, 'operator', '~='], [7, 'quoted', '|foo/bar|'], [16, 'separator', ','],
    [17, 'field', 'id'], [19, 'operator', '!='], [21, 'value', 'ff'], [23, 'eof'],
  ]],
  ['IllegalQuoted', 'labels.containerd.io/key==value', [
    [0, 'field', 'labels'], [6, 'separator', '.'], [7, 'field', 'containerd'], [17, 'separator', '.'], [18, 'field', 'io'],
    [20, 'illegal', '/key==value', 'quoted literal not terminated'], [31, 'eof'],
  ]],
  ['IllegalQuotedWithNewLine', 'labels."containerd.io\nkey"==value', [
    [0, 'field', 'labels'], [6, 'separator', '.'], [7, 'illegal', '"containerd.io\n', 'quoted literal not terminated'],
    [22, 'field', 'key'], [25, 'illegal', '"==value', 'quoted literal not terminated'], [33, 'eof'],
  ]],
  ['IllegalEscapeSequence', 'labels."\\g"', [[0, 'field', 'labels'], [6, 'separator', '.'], [7, 'illegal', '"\\g"', 'illegal escape sequence'], [11, 'eof']]],
  ['IllegalNumericEscapeSequence', 'labels."\\xaz"', [
    [0, 'field', 'labels'], [6, 'separator', '.'], [7, 'illegal', '"\\xaz"', 'illegal numeric escape sequence'], [13, 'eof'],
  ]],
];

for (const [name, input, expected] of scannerCases) {
  test(`scanner: ${name}`, () => {
    const scanner = new Scanner(input);
    const got: Tok[] = [];
    for (;;) {
      const { pos, kind, text } = scanner.scan();
      got.push(kind === 'eof' ? [pos, kind] : kind === 'illegal' ? [pos, kind, text, scanner.err] : [pos, kind, text]);
      if (kind === 'eof' || got.length > 50) break;
    }
    assert.deepEqual(got, expected);
    assert.equal(scanner.scan().kind, 'eof', 'must consume all input');
  });
}

// ---------------------------------------------------------------------------------------------
// containerd filters/filter_test.go: its corpus, adaptor, and every case.

interface Entry {
  name: string;
  other?: string;
  labels?: Record<string, string>;
}
const corpus: Entry[] = [
  { name: 'foo', labels: { foo: 'true' } },
  { name: 'bar' },
  { name: 'foo', labels: { foo: 'present', 'more complex label': 'present' } },
  { name: 'bar', labels: { bar: 'true' } },
  { name: 'fooer', labels: { 'more complex label with \\ and "': 'present' } },
  { name: 'fooer', labels: { 'more complex label with \\ and ".post': 'present' } },
  { name: 'baz', other: 'too complex, yo' },
  { name: 'bazo', other: 'abc' },
  { name: 'compound', labels: { foo: 'omg_asdf.asdf-qwer' } },
];
/** containerd's test adaptor: name and other are present when non-empty. */
const adapt = (e: Entry): Adaptor => adaptorFromFields({ name: e.name || undefined, other: e.other || undefined }, { labels: e.labels });
const matching = (input: string | string[]) => {
  const filter = typeof input === 'string' ? parseFilter(input) : parseFilters(input);
  return corpus.flatMap((e, i) => (filter.match(adapt(e)) ? [i] : []));
};
const ALL = [0, 1, 2, 3, 4, 5, 6, 7, 8];

const matchCases: [name: string, input: string, expected: number[]][] = [
  ['Empty', '', ALL],
  ['Present', 'name', ALL],
  ['LabelPresent', 'labels.foo', [0, 2, 8]],
  ['NameAndLabelPresent', 'labels.foo,name', [0, 2, 8]],
  ['LabelValue', 'labels.foo==true', [0]],
  ['LabelValuePunctuated', 'labels.foo==omg_asdf.asdf-qwer', [8]],
  ['Name', 'name==bar', [1, 3]],
  ['NameNotEqual', 'name!=bar', [0, 2, 4, 5, 6, 7, 8]],
  ['NameAndLabelPresent', 'name==bar,labels.bar', [3]],
  ['QuotedValue', 'other=="too complex, yo"', [6]],
  ['RegexpValue', 'other~=[abc]+,name!=foo', [6, 7]],
  ['RegexpQuotedValue', 'other~=/[abc]+/,name!=foo', [6, 7]],
  ['RegexpQuotedValue', 'other~=/[abc]{1,2}/,name!=foo', [6, 7]],
  ['RegexpQuotedValueGarbage', 'other~=/[abc]{0,1}"\\//,name!=foo', []],
  ['NameAndLabelValue', 'name==bar,labels.bar==true', [3]],
  ['NameAndLabelValueNoMatch', 'name==bar,labels.bar==wrong', []],
  ['LabelQuotedFieldPathPresent', 'name==foo,labels."more complex label"', [2]],
  ['LabelQuotedFieldPathPresentWithQuoted', 'labels."more complex label with \\\\ and \\""==present', [4]],
  ['LabelQuotedFieldPathPresentWithQuotedEmbed', 'labels."more complex label with \\\\ and \\"".post==present', [5]],
  // ours, on the same corpus
  ['AbsentNotEqual', 'other!=abc', [0, 1, 2, 3, 4, 5, 6, 8]],
  ['AbsentNotEqualEmpty', 'other!=""', [6, 7]],
  ['AbsentEqualEmpty', 'other==""', []],
  ['AbsentRegexpTestsEmpty', 'other~=^$', [0, 1, 2, 3, 4, 5, 8]],
  ['RegexpUnanchored', 'name~=oo', [0, 2, 4, 5]],
  ['RegexpAnchored', 'name~=^foo$', [0, 2]],
  ['RegexpPipeQuoted', 'name~=|^ba.$|', [1, 3, 6]],
  ['RegexpPipeQuotedWithSlash', 'other~=|x, ?y/?o|', [6]],
  ['RegexpDoubleQuoted', 'name~="^ba"', [1, 3, 6, 7]],
  ['RegexpCaseInsensitive', 'name~="(?i)^FOO$"', [0, 2]],
  ['RegexpAlternationInValue', 'name~=^(bar|baz)$', [1, 3, 6]],
  ['ValueWithEqualsAndSlashes', 'labels.foo==a=b/c', []],
  ['WhitespaceBeforeTokens', ' name == bar', [1, 3]],
  ['WhitespaceAfterComma', 'name==bar, labels.bar', [3]],
  ['QuotedFieldName', '"name"==bar', [1, 3]],
  ['LabelKeyWithDots', 'labels.foo.bar', []],
  ['NotEqualWithLabels', 'labels.foo!=true,labels.foo', [2, 8]],
  ['EscapedQuotedValue', 'labels.foo=="omg_asdf\\x2easdf-qwer"', [8]],
  ['UnicodeEscapeValue', 'labels.foo=="\\u0074rue"', [0]],
  ['OctalEscapeValue', 'labels.foo=="\\164rue"', [0]],
];
for (const [name, input, expected] of matchCases) {
  test(`filter ${name}: ${JSON.stringify(input)} matches ${JSON.stringify(expected)}`, () => {
    assert.deepEqual(matching(input), expected);
  });
}

const errorCases: [name: string, input: string, message: string][] = [
  ['LabelValueNoAltQuoting', 'labels.|foo|==omg_asdf.asdf-qwer', '[labels. >|||< foo|==omg_asdf.asdf-qwer]: invalid quote encountered'],
  [
    'LabelQuotedFieldPathPresentWithQuotedEmbedInvalid',
    'labels.?"more complex label with \\\\ and \\"".post==present',
    '[labels. >|?|< "more complex label with \\\\ and \\"".post==present]: expected field or quoted',
  ],
  ['TrailingComma', 'name==foo,', '[name==foo,]: expected field or quoted'],
  ['TrailingFieldSeparator', 'labels.', '[labels.]: expected field or quoted'],
  ['MissingValue', 'image~=,id?=?fbaq', '[image~= >|,|< id?=?fbaq]: expected value or quoted'],
  ['FieldQuotedLiteralNotTerminated', 'labels.ns/key==value', '[labels.ns >|/|< key==value]: quoted literal not terminated'],
  ['ValueQuotedLiteralNotTerminated', 'labels.key==/value', '[labels.key== >|/|< value]: quoted literal not terminated'],
  // the spec's: a topic must be quoted
  ['UnquotedTopic', 'topic==/tasks/exit', '[topic== >|/|< tasks/exit]: invalid quote encountered'],
  ['SlashQuotedEqual', 'name!=/bar/', '[name!= >|/|< bar/]: invalid quote encountered'],
  ['UnquotedLabelKeyWithSlash', 'labels.containerd.io/gc.root', '[labels.containerd.io >|/|< gc.root]: quoted literal not terminated'],
  ['SingleEquals', 'name=bar', '[name >|=|< bar]: unsupported operator "="'],
  ['TripleEquals', 'name===bar', '[name >|=|< ==bar]: unsupported operator "==="'],
  ['NoOperator', 'name<>x', '[name >|<|< >x]: expected an operator ("=="|"!="|"~=")'],
  ['SpaceBeforeComma', 'name ,other', '[name  >|,|< other]: expected an operator ("=="|"!="|"~=")'],
  ['SpaceAfterValue', 'name==bar ', '[name==bar >| |< ]: unexpected input:  '],
  ['SpaceInValue', 'name==bar baz', '[name==bar >| |< baz]: unexpected input:  '],
  ['JunkAfterQuotedValue', 'name=="bar"x', '[name=="bar" >|x|< ]: unexpected input: x'],
  ['OnlySpaces', '   ', '[   ]: expected field or quoted'],
  ['LeadingComma', ',name', '[ >|,|< name]: expected field or quoted'],
  ['EmptySelector', 'name,,other', '[name, >|,|< other]: expected field or quoted'],
  ['ValueStartsWithDot', 'name==.bar', '[name== >|.|< bar]: expected value or quoted'],
  ['MissingValueAtEnd', 'name==', '[name==]: expected value or quoted'],
  ['SingleQuotesAreNotQuotes', "labels.'a b'", "[labels. >|'|< a b']: expected field or quoted"],
  // containerd prints the illegal-token marker rune here, as U+FFFD
  ['NullByte', 'name==a\x00b', '[name==a >|\x00|< b]: unexpected input: \ufffd'],
  ['IllegalEscape', 'labels."\\g"', '[labels. >|"|< \\g"]: illegal escape sequence'],
  ['IllegalNumericEscape', 'labels."\\xaz"', '[labels. >|"|< \\xaz"]: illegal numeric escape sequence'],
  ['OctalTooLarge', 'labels."\\400"', '[labels. >|"|< \\400"]: unquoting failed: quote syntax error'],
  ['EscapedSingleQuote', 'name=="it\\\'s"', '[name== >|"|< it\\\'s"]: illegal escape sequence'],
  ['RegexpEscapeInSlashQuotes', 'name~=/\\d+/', '[name~= >|/|< \\d+/]: illegal escape sequence'],
  ['NewlineInQuotes', 'labels."a\nb"', '[labels. >|"|< a\nb"]: quoted literal not terminated'],
  ['RegexpUnclosedGroup', 'name~=/(unclosed/', '[name~= >|/|< (unclosed/]: error parsing regexp: '],
  ['RegexpLookahead', 'name~=foo(?=bar)', '[name~= >|f|< oo(?=bar)]: error parsing regexp: invalid or unsupported Perl syntax'],
  ['RegexpBackreference', 'name~="(a)\\\\1"', 'error parsing regexp: invalid escape sequence: `\\1`'],
  ['RegexpRepeatTooLarge', 'name~=a{1001}', 'error parsing regexp: invalid repeat count'],
  ['RegexpMissingBracket', 'name~=[abc', '[name~= >|[|< abc]: error parsing regexp: missing closing ]'],
];
for (const [name, input, message] of errorCases) {
  test(`filter ${name}: ${JSON.stringify(input)} is a syntax error`, () => {
    assert.throws(
      () => parseFilter(input),
      (err: unknown) => {
        assert.ok(err instanceof FilterSyntaxError);
        assert.equal(err.input, input);
        assert.ok(err.message.startsWith('filters: parse error: '), err.message);
        assert.ok(err.message.includes(message), `${JSON.stringify(err.message)} should contain ${JSON.stringify(message)}`);
        return true;
      },
    );
  });
}

test('error messages are exactly containerd’s', () => {
  const message = (input: string) => {
    try {
      parseFilter(input);
    } catch (err) {
      return (err as Error).message;
    }
    return 'no error';
  };
  assert.equal(message('topic==/tasks/exit'), 'filters: parse error: [topic== >|/|< tasks/exit]: invalid quote encountered');
  assert.equal(message('name==foo,'), 'filters: parse error: [name==foo,]: expected field or quoted');
  assert.equal(message('image~=,id?=?fbaq'), 'filters: parse error: [image~= >|,|< id?=?fbaq]: expected value or quoted');
  assert.throws(() => parseFilter('topic==/tasks/exit'), (err: unknown) => err instanceof FilterSyntaxError && err.pos === 7 && err.reason === 'invalid quote encountered');
  assert.throws(
    () => parseFilters(['name==foo', 'name==foo,']),
    (err: unknown) =>
      err instanceof FilterSyntaxError &&
      invalidFilterMessage(err) === 'filters: parse error: [name==foo,]: expected field or quoted: invalid argument',
  );
});

// ---------------------------------------------------------------------------------------------
// ORs and ANDs, and the spec's examples.

test('a request’s filters are ORed, the selectors of one are ANDed', () => {
  assert.deepEqual(matching(['name==bar', 'labels.foo==true']), [0, 1, 3]);
  assert.deepEqual(matching(['name==bar,labels.bar', 'name==baz']), [3, 6]);
  assert.deepEqual(matching(['name==nothing', 'other']), [6, 7]);
});

test('no filters, or one empty filter, match everything', () => {
  assert.deepEqual(matching([]), ALL);
  assert.deepEqual(matching(['']), ALL);
  assert.deepEqual(matching(['', 'name==nothing']), ALL);
});

test('one bad filter among several fails the whole request', () => {
  assert.throws(() => parseFilters(['name==bar', 'topic==/tasks/exit']), FilterSyntaxError);
});

test('envelope filters: topic must be quoted, label keys with dots and slashes too', () => {
  const envelope = adaptorFromFields(
    { namespace: 'default', topic: '/tasks/exit', 'event.container_id': 'c1' },
    { labels: { 'containerd.io/gc.root': 'x', 'containerd.io/gc.ref.content': 'sha256:1' } },
  );
  const yes = [
    'topic=="/tasks/exit"',
    'topic~=/^\\/tasks\\//',
    'topic~=|^/tasks/|',
    'topic~="^/tasks/"',
    'topic~=^/tasks/',
    'topic~=exit',
    'namespace==default,topic=="/tasks/exit"',
    'event.container_id==c1',
    'labels."containerd.io/gc.root"',
    'labels."containerd.io/gc.root"==x',
    'labels."containerd.io/gc.ref.content"~=^sha256:',
    'labels."containerd.io/gc.ref".content',
    'topic!="/tasks/start"',
  ];
  const no = ['topic=="/tasks/start"', 'topic!="/tasks/exit"', 'namespace==other,topic=="/tasks/exit"', 'labels."containerd.io/gc.expire"', 'event.pid'];
  for (const f of yes) assert.equal(parseFilter(f).match(envelope), true, f);
  for (const f of no) assert.equal(parseFilter(f).match(envelope), false, f);
  assert.equal(parseFilters(['topic=="/tasks/start"', 'topic=="/tasks/exit"']).match(envelope), true);
});

// ---------------------------------------------------------------------------------------------
// Adaptors.

test('adaptorFromFields: maps join the rest of the path with ".", scalars ignore extra components', () => {
  const a = adaptorFromFields({ id: 'c1', 'runtime.name': 'io.containerd.runc.v2', image: undefined }, { labels: { 'a.b': '1', '': 'empty key' }, annotations: undefined });
  assert.equal(a.field(['labels', 'a', 'b']), '1');
  assert.equal(a.field(['labels', 'a']), undefined);
  assert.equal(a.field(['labels']), 'empty key'); // containerd's checkMap looks up "" here
  assert.equal(a.field(['annotations', 'x']), undefined);
  assert.equal(a.field(['runtime', 'name']), 'io.containerd.runc.v2');
  assert.equal(a.field(['runtime']), undefined);
  assert.equal(a.field(['id']), 'c1');
  assert.equal(a.field(['id', 'x']), 'c1');
  assert.equal(a.field(['image']), undefined);
  assert.equal(a.field(['toString']), undefined);
  assert.equal(a.field(['labels', 'constructor']), undefined);
  assert.equal(parseFilter('runtime.name~=runc,labels."a.b"==1').match(a), true);
  const l = labelsAdaptor({ 'containerd.io/gc.root': '' });
  assert.equal(parseFilter('labels."containerd.io/gc.root"').match(l), true);
  assert.equal(parseFilter('labels."containerd.io/gc.root"==""').match(l), true);
});

// ---------------------------------------------------------------------------------------------
// ~= uses RE2 syntax; JS RegExp differs in places, which the translation covers.

const re2Cases: [pattern: string, matches: string[], misses: string[]][] = [
  ['a.c', ['abc', 'a\rc', 'a\u2028c', 'a😀c'], ['a\nc', 'ac']],
  ['(?s)a.c', ['a\nc'], ['ac']],
  ['(?s:a.)c.', ['a\ncx'], ['a\nc\n']],
  ['^a$', ['a'], ['a\n', '\na', 'ab']],
  ['(?m)^b$', ['a\nb\nc', 'b'], ['a\rb', 'a\u2028b\u2029c', 'ab']],
  ['\\Aab\\z', ['ab'], ['ab\n', 'xab']],
  ['^\\s+$', [' \t\r\n\f'], ['\v', '\u00a0', '\u2003']],
  ['^\\S+$', ['\u00a0\v'], [' ']],
  ['^[\\s]+$', [' \t'], ['\u00a0']],
  ['^[^\\S]$', ['\n'], ['\u00a0', 'x']],
  ['^\\d+$', ['0123'], ['١٢']],
  ['^\\w+$', ['a_Z9'], ['é']],
  ['^[[:alpha:]]+$', ['abcXYZ'], ['a1', 'é']],
  ['^[[:^digit:]x]+$', ['abc'], ['a1']],
  ['^[[:punct:][:space:]]+$', ['!@# \t~'], ['a']],
  ['^\\pL+$', ['héllo', 'Ωμέγα'], ['a1']],
  ['^\\p{Greek}+$', ['Ωμέγα'], ['abc']],
  ['^\\p{^L}+$', ['123'], ['a']],
  ['^\\PN$', ['a'], ['1']],
  ['^[\\p{Lu}\\d]+$', ['AB12'], ['ab']],
  ['^\\Qa.b*\\E$', ['a.b*'], ['axbb']],
  ['^(?P<name>x+)y$', ['xxy'], ['y']],
  ['^(?:ab)+$', ['abab'], ['aba']],
  ['^a{2}$', ['aa'], ['a', 'aaa']],
  ['^a{,2}$', ['a{,2}'], ['aa']],
  ['^a{$', ['a{'], ['a']],
  ['^[]a]+$', [']a]'], ['b']],
  ['^[^]a]$', ['b'], [']', 'a']],
  ['^[a-c-e]+$', ['abc-e'], ['d']],
  ['^\\x41\\x{1F600}\\101\\0$', ['A😀A\u0000'], ['A😀A']],
  ['^\\-\\!\\#\\,\\:$', ['-!#,:'], ['x']],
  ['(?i)^abc$', ['ABC', 'aBc'], ['abd']],
  ['(?U)^(a+)', ['aaa'], ['b']],
  ['^a+?$', ['aaa'], ['b']],
  ['\\bfoo\\b', ['a foo b'], ['afoob']],
  ['^.$', ['😀', '牛'], ['ab']],
  ['', ['', 'anything'], []],
];
for (const [pattern, matches, misses] of re2Cases) {
  test(`RE2 pattern ${JSON.stringify(pattern)}`, () => {
    const re = compileRe2(pattern);
    for (const s of matches) assert.equal(re.test(s), true, `${JSON.stringify(s)} should match (${re.source})`);
    for (const s of misses) assert.equal(re.test(s), false, `${JSON.stringify(s)} should not match (${re.source})`);
  });
}

test('(?U) makes quantifiers lazy and ? greedy again', () => {
  assert.equal(compileRe2('(?U)a+').exec('aaa')?.[0], 'a');
  assert.equal(compileRe2('(?U)a+?').exec('aaa')?.[0], 'aaa');
  assert.equal(compileRe2('(?U:a+)a+').exec('aaaa')?.[0], 'aaaa');
});

const re2Errors = [
  '(?=x)', '(?!x)', '(?<=x)y', '(?<!x)y', '(a)\\1', '\\1', 'a{1001}', 'a{2,1001}', '[a', '(a', 'a)', '*a', 'a**',
  '\\C', '\\e', '\\Z', '\\x{110000}', '[z-a]', '[a-\\d]', '[[:nope:]]', '\\p{Nope}', '(?P<a-b>x)', '(?i', '(?z)', 'a(?i)b',
  '(?i:a)', 'a\\', '\\pL\\p{', '(?)',
];
for (const pattern of re2Errors) {
  test(`RE2 pattern ${JSON.stringify(pattern)} is refused`, () => {
    assert.throws(() => compileRe2(pattern), /^Error: error parsing regexp: /);
    assert.throws(() => parseFilter(`name~=${JSON.stringify(pattern)}`), FilterSyntaxError);
  });
}
