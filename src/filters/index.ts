export { parseFilter, parseFilters, FilterSyntaxError, invalidFilterMessage } from './parser.js';
export { adaptorFromFields, labelsAdaptor, always, type Adaptor, type Filter } from './filter.js';
export { compileRe2 } from './regexp.js';
