// Start a remark presentation built by slides/deck_builder.py.
//
// The page carries the deck source and the KaTeX HTML of every formula in
// <script id="deck-data">. In the source each formula is an empty
// <span class="deck-math" data-math="N"></span>, which remark's Markdown
// parser copies verbatim; we fill those spans with the pre-rendered HTML
// once remark has built the slides, and again whenever remark copies slide
// or notes HTML around (presenter mode, preview of the next slide).
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('deck-data').textContent);

  function progressNumber(current, total) {
    var percent = total > 1 ? ((current - 1) / (total - 1)) * 100 : 100;
    return '<div class="deck-progress" aria-hidden="true">' +
      '<div class="deck-progress-bar" style="width: ' + percent.toFixed(2) + '%"></div></div>' +
      '<span class="deck-number">' + current + ' / ' + total + '</span>';
  }

  function fillMath(root) {
    var spans = root.querySelectorAll('span.deck-math:empty');
    for (var i = 0; i < spans.length; i++) {
      var html = data.math[Number(spans[i].getAttribute('data-math'))];
      if (html !== undefined) {
        spans[i].innerHTML = html;
      }
    }
  }

  window.slideshow = remark.create({
    source: data.source,
    ratio: '16:9',
    highlightStyle: 'github',
    highlightLines: true,
    countIncrementalSlides: false,
    slideNumberFormat: progressNumber
  });

  fillMath(document);
  new MutationObserver(function () { fillMath(document); })
    .observe(document.body, { childList: true, subtree: true });
  if (data.title) {
    document.title = data.title;
  }
})();
