declare module 'hpack.js/lib/hpack/huffman.js' {
  /** HPACK's Huffman code (RFC 7541 appendix B): per symbol 0-256, [bit length, code]. */
  export const encode: readonly (readonly [number, number])[];
}
