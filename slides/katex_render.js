// Render TeX with KaTeX for the deck builder (slides/deck_math.py).
// stdin: JSON list of {tex, display}; stdout: JSON list of {html} or {error},
// in the same order. One process renders every formula of a build.
'use strict';

const katex = require('katex');

const chunks = [];
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', () => {
  const items = JSON.parse(chunks.join('') || '[]');
  const results = items.map(({ tex, display }) => {
    try {
      const html = katex.renderToString(tex, {
        displayMode: Boolean(display),
        throwOnError: true,
        strict: 'ignore',
        output: 'htmlAndMathml',
      });
      return { html };
    } catch (err) {
      const message = err instanceof katex.ParseError ? err.message : `KaTeX failed: ${err}`;
      return { error: message.replace(/\s+/g, ' ') };
    }
  });
  process.stdout.write(JSON.stringify(results));
});
