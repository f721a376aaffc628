export { parseFilter, parseFilters, FilterSyntaxError } from './parser.js';
export { adaptorFromFields, always, type Adaptor, type Filter } from './filter.js';
