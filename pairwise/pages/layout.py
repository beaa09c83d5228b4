"""How the annotate page sits in the browser: the style and the one small script it adds.

Streamlit lays pages out well on its own; three things an annotator meets need help:

- code in responses wraps instead of scrolling sideways inside each half of the page, and the
  scale's buttons keep their words whole at every width (on a phone Streamlit stacks columns);
- each new item starts at its top, with the question and the prompt in view, rather than where
  the previous one ended (at its buttons);
- a select box (the study chooser) gives the keyboard back once a choice is made, so that the
  next key rates instead of searching the box. A box being typed in keeps its keys.

The script holds no data from the page: only fixed code and the item's random nonce, which makes
Streamlit run it again for each new item (and only then).
"""

from __future__ import annotations

import re

import streamlit as st

#: Key of the container holding the scale's buttons (its class is ``st-key-<key>``).
SCALE_KEY = "annotate-scale"

STYLE = f"""<style>
/* code wraps at the response's edge instead of scrolling sideways */
[data-testid="stMarkdownContainer"] pre,
[data-testid="stMarkdownContainer"] pre code {{
  white-space: pre-wrap !important;
  overflow-wrap: anywhere;
}}
/* the scale's labels break between words only, and stay on one row of even buttons */
.st-key-{SCALE_KEY} button p {{
  word-break: normal !important;
  overflow-wrap: normal !important;
  hyphens: none;
}}
.st-key-{SCALE_KEY} button {{
  min-height: 3.2rem;
}}
@media (max-width: 1100px) {{
  .st-key-{SCALE_KEY} button {{
    padding-left: 0.3rem;
    padding-right: 0.3rem;
  }}
  .st-key-{SCALE_KEY} button p {{
    font-size: 0.8rem;
  }}
  .st-key-{SCALE_KEY} [data-testid="stHorizontalBlock"] {{
    gap: 0.4rem;
  }}
}}
</style>"""

_SCRIPT = """<script>
/* item %(item)s */
(() => {
  // A new item starts at its top; a rerun for the same item (a note, the flag choice) stays put.
  if (window.__pairwiseItem === '%(item)s') return;
  window.__pairwiseItem = '%(item)s';
  const scrollers = document.querySelectorAll(
    '[data-testid="stMain"], [data-testid="stAppViewContainer"], [data-testid="stAppScrollToBottomContainer"]'
  );
  for (const el of scrollers) el.scrollTop = 0;
  window.scrollTo(0, 0);
  // A select box closed on a choice gives the keyboard back (installed once per page).
  const blurClosed = (el) => {
    if (el && el.getAttribute('role') === 'combobox' && el.getAttribute('aria-expanded') !== 'true'
        && el === document.activeElement) el.blur();
  };
  blurClosed(document.activeElement);
  if (window.__pairwiseSelectBlur) return;
  window.__pairwiseSelectBlur = new MutationObserver((changes) => {
    for (const change of changes) {
      if (change.oldValue === 'true') setTimeout(() => blurClosed(change.target), 0);
    }
  });
  window.__pairwiseSelectBlur.observe(document.body, {
    subtree: true, attributes: true, attributeFilter: ['aria-expanded'], attributeOldValue: true,
  });
})();
</script>"""

_NONCE = re.compile(r"[0-9a-zA-Z_-]{1,64}")


def annotate_style() -> None:
    """The annotate page's style (Streamlit puts a style-only block out of the layout)."""
    st.html(STYLE)


def start_item(item: str) -> None:
    """Run the page's script for a new item (``item``: its nonce, or any name of the state)."""
    if not _NONCE.fullmatch(item):
        raise ValueError(f"not an item nonce: {item!r}")
    # in the sidebar: the main area holds only the study's and the responses' text
    with st.sidebar, st.container(key="annotate-script", height=1, border=False):
        st.html(_SCRIPT % {"item": item}, unsafe_allow_javascript=True)
