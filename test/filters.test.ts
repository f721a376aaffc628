import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFilter, parseFilters, FilterSyntaxError, type Adaptor } from '../src/filters/index.js';

// The corpus and cases of containerd's filters/filter_test.go.
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
const adapt = (e: Entry): Adaptor => ({
  field([head, ...rest]) {
    if (head === 'name') return e.name || undefined;
    if (head === 'other') return e.other || undefined;
    if (head === 'labels') return e.labels?.[rest.join('.')];
    return undefined;
  },
});
const matching = (input: string) => corpus.flatMap((e, i) => (parseFilter(input).match(adapt(e)) ? [i] : []));

const cases: [string, number[]][] = [
  ['', [0, 1, 2, 3, 4, 5, 6, 7, 8]],
  ['name', [0, 1, 2, 3, 4, 5, 6, 7, 8]],
  ['labels.foo', [0, 2, 8]],
  ['labels.foo,name', [0, 2, 8]],
  ['labels.foo==true', [0]],
  ['labels.foo==omg_asdf.asdf-qwer', [8]],
  ['name==bar', [1, 3]],
  ['name!=bar', [0, 2, 4, 5, 6, 7, 8]],
  ['name==bar,labels.bar', [3]],
  ['other=="too complex, yo"', [6]],
  ['other~=[abc]+,name!=foo', [6, 7]],
  ['other~=/[abc]+/,name!=foo', [6, 7]],
  ['other~=/[abc]{1,2}/,name!=foo', [6, 7]],
  ['other~=/[abc]{0,1}"\\//,name!=foo', []],
  ['name==bar,labels.bar==true', [3]],
  ['name==bar,labels.bar==wrong', []],
  ['name==foo,labels."more complex label"', [2]],
  ['labels."more complex label with \\\\ and \\""==present', [4]],
  ['labels."more complex label with \\\\ and \\"".post==present', [5]],
  [' name == bar ', [1, 3]],
];
for (const [input, expected] of cases) {
  test(`filter ${JSON.stringify(input)} matches ${JSON.stringify(expected)}`, () => {
    assert.deepEqual(matching(input), expected);
  });
}

const errors: [string, string][] = [
  ['labels.|foo|==omg_asdf.asdf-qwer', 'filters: parse error: [labels. >|||< foo|==omg_asdf.asdf-qwer]: invalid quote encountered'],
  ['labels.?"more complex label with \\\\ and \\"".post==present', 'filters: parse error: [labels. >|?|< "more complex label with \\\\ and \\"".post==present]: expected field or quoted'],
  ['name==foo,', 'filters: parse error: [name==foo,]: expected field or quoted'],
  ['labels.', 'filters: parse error: [labels.]: expected field or quoted'],
  ['image~=,id?=?fbaq', 'filters: parse error: [image~= >|,|< id?=?fbaq]: expected value or quoted'],
  ['labels.ns/key==value', 'filters: parse error: [labels.ns >|/|< key==value]: quoted literal not terminated'],
  ['labels.key==/value', 'filters: parse error: [labels.key== >|/|< value]: quoted literal not terminated'],
  ['topic==/tasks/exit', 'filters: parse error: [topic== >|/|< tasks/exit]: invalid quote encountered'],
  ['name<>x', 'filters: parse error: [name >|<|< >x]: expected an operator ("=="|"!="|"~=")'],
  ['name~=/(unclosed/', 'invalid regular expression'],
];
for (const [input, message] of errors) {
  test(`filter ${JSON.stringify(input)} is a syntax error`, () => {
    assert.throws(() => parseFilter(input), (err: unknown) => err instanceof FilterSyntaxError && err.message.includes(message));
  });
}

test('a request’s filters are ORed; an empty list matches everything', () => {
  const f = parseFilters(['name==bar', 'labels.foo==true']);
  assert.deepEqual(corpus.flatMap((e, i) => (f.match(adapt(e)) ? [i] : [])), [0, 1, 3]);
  assert.equal(parseFilters([]).match(adapt(corpus[0]!)), true);
});

test('topics are compared with quoted values, label keys with dots and slashes are quoted', () => {
  const envelope: Adaptor = {
    field: (p) => (p[0] === 'topic' ? '/tasks/exit' : p[0] === 'labels' ? { 'containerd.io/gc.root': 'x' }[p.slice(1).join('.')] : undefined),
  };
  assert.equal(parseFilter('topic=="/tasks/exit"').match(envelope), true);
  assert.equal(parseFilter('topic~="^/tasks/"').match(envelope), true);
  assert.equal(parseFilter('labels."containerd.io/gc.root"').match(envelope), true);
  assert.equal(parseFilter('topic!="/tasks/exit"').match(envelope), false);
});
