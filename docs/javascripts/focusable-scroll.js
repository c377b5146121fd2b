// Keyboard users scroll a region by focusing it (WCAG 2.1.1). Material makes its own
// code blocks focusable when they overflow; this does the same for every other region
// of a page that scrolls: notebook cells and outputs, wide display formulas, tables.
// A region gets tabindex="0" while its content overflows and loses it when it fits
// again (a narrower window, a font that finished loading), so the tab order holds
// no stops that do nothing.
(function () {
  'use strict';

  var MARK = 'data-scroll-focus';     // tabindex set here (not by the page or Material)
  var REGION = 'data-scroll-region';  // an element whose overflow is auto or scroll
  var observer = typeof ResizeObserver !== 'undefined' ? new ResizeObserver(onResize) : null;

  function scrolls(el) {
    var style = window.getComputedStyle(el);
    var canScroll = /auto|scroll/.test(style.overflowX + ' ' + style.overflowY);
    return canScroll && (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1);
  }

  function update(el) {
    if (scrolls(el)) {
      if (!el.hasAttribute('tabindex')) {
        el.setAttribute('tabindex', '0');
        el.setAttribute(MARK, '');
      }
    } else if (el.hasAttribute(MARK)) {
      el.removeAttribute('tabindex');
      el.removeAttribute(MARK);
    }
  }

  // Observed: each region and its first child (content growing inside a fixed box).
  function onResize(entries) {
    for (var i = 0; i < entries.length; i++) {
      var el = entries[i].target;
      if (el.hasAttribute(REGION)) {
        update(el);
      }
      if (el.parentElement && el.parentElement.hasAttribute(REGION)) {
        update(el.parentElement);
      }
    }
  }

  function scan() {
    var nodes = document.querySelectorAll('.md-content div, .md-content pre');
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      var style = window.getComputedStyle(el);
      if (!/auto|scroll/.test(style.overflowX + ' ' + style.overflowY)) {
        continue;
      }
      update(el);
      if (observer && !el.hasAttribute(REGION)) {
        el.setAttribute(REGION, '');
        observer.observe(el);
        if (el.firstElementChild) {
          observer.observe(el.firstElementChild);
        }
      }
    }
  }

  if (typeof document$ !== 'undefined') {
    document$.subscribe(scan);
  } else if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', scan);
  } else {
    scan();
  }
  // Web fonts (KaTeX's) widen formulas once they arrive, without resizing any box.
  if (document.fonts) {
    document.fonts.addEventListener('loadingdone', scan);
  }
  window.addEventListener('load', scan);
})();
