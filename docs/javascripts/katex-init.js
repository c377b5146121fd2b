// Render the math that pymdownx.arithmatex (generic mode) leaves in pages:
// <span class="arithmatex">\(...\)</span> and <div class="arithmatex">\[...\]</div>.
// Material's document$ emits on the first load and after every instant
// navigation, so pages reached without a full reload are rendered too.
(function () {
  'use strict';

  var options = {
    delimiters: [
      { left: '\\(', right: '\\)', display: false },
      { left: '\\[', right: '\\]', display: true }
    ],
    throwOnError: false
  };

  function renderMath() {
    var nodes = document.querySelectorAll('.arithmatex');
    for (var i = 0; i < nodes.length; i++) {
      if (!nodes[i].querySelector('.katex')) {
        renderMathInElement(nodes[i], options);
      }
    }
  }

  if (typeof document$ !== 'undefined') {
    document$.subscribe(renderMath);
  } else if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', renderMath);
  } else {
    renderMath();
  }
})();
