// Render the site's math with KaTeX (from node_modules, copied into the site by the deck hook).
//
// * Pages: pymdownx.arithmatex (generic mode) leaves <span class="arithmatex">\(...\)</span>
//   and <div class="arithmatex">\[...\]</div>.
// * Notebooks (mkdocs-jupyter): Markdown cells keep their TeX as written, $...$ and $$...$$
//   (nbconvert shields it from Markdown), inside .jp-RenderedMarkdown.
//
// Material's document$ emits on the first load and after every instant navigation, so pages
// reached without a full reload are rendered too.
(function () {
  'use strict';

  var pageOptions = {
    delimiters: [
      { left: '\\(', right: '\\)', display: false },
      { left: '\\[', right: '\\]', display: true }
    ],
    throwOnError: false
  };

  var notebookOptions = {
    delimiters: [
      { left: '$$', right: '$$', display: true },
      { left: '$', right: '$', display: false },
      { left: '\\(', right: '\\)', display: false },
      { left: '\\[', right: '\\]', display: true }
    ],
    throwOnError: false
  };

  function renderAll(selector, options) {
    var nodes = document.querySelectorAll(selector);
    for (var i = 0; i < nodes.length; i++) {
      if (!nodes[i].hasAttribute('data-katex-rendered')) {
        renderMathInElement(nodes[i], options);   // skips <code>, <pre>, <script> and the like
        nodes[i].setAttribute('data-katex-rendered', '');
      }
    }
  }

  function renderMath() {
    renderAll('.arithmatex', pageOptions);
    renderAll('.jp-RenderedMarkdown', notebookOptions);
  }

  if (typeof document$ !== 'undefined') {
    document$.subscribe(renderMath);
  } else if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', renderMath);
  } else {
    renderMath();
  }
})();
