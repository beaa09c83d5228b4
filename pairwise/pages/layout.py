"""How the annotate page sits in the browser: the style and the one small script it adds.

Streamlit lays pages out well on its own; four things an annotator meets need help:

- code in responses wraps instead of scrolling sideways inside each half of the page, a table
  wraps its cells to fit and scrolls inside its own box only when it cannot (it never pushes the
  page sideways), and the scale's buttons keep their words whole at every width (on a phone
  Streamlit stacks columns);
- each new item starts at its top, with the question and the prompt in view, rather than where
  the previous one ended (at its buttons);
- a select box (the study chooser) gives the keyboard back once a choice is made, so that the
  next key rates instead of searching the box. A box being typed in keeps its keys;
- a shortcut key is never lost without a word. The script takes the item's keys itself and
  presses the button only while the item is on the page and no run is under way; a key pressed
  while the next item is still loading (the server busy, a slow network, the page just opened)
  is not used for an item the annotator has not seen: the page says so and asks for the key
  again. A key pressed twice before the page answers the first presses once.

The script holds no data from the page: fixed code and the keys' buttons by their widget keys.
It is installed once per page and watches the page for new items.
"""

from __future__ import annotations

import json

import streamlit as st

#: Key of the container holding the scale's buttons (its class is ``st-key-<key>``).
SCALE_KEY = "annotate-scale"
#: Key of the container holding Skip and Flag (and the flag reasons).
ACTIONS_KEY = "annotate-actions"

STYLE = f"""<style>
/* code wraps at the response's edge instead of scrolling sideways */
[data-testid="stMarkdownContainer"] pre,
[data-testid="stMarkdownContainer"] pre code {{
  white-space: pre-wrap !important;
  overflow-wrap: anywhere;
}}
/* a table wraps its cells to fit its response; one that still cannot fit scrolls inside its
   own box instead of pushing the whole page sideways */
[data-testid="stMarkdownContainer"] table {{
  display: block;
  max-width: 100%;
  overflow-x: auto;
}}
/* below a desktop's width, a table's type and cells are a little smaller, so that a table of a
   few columns (such as the demo's five) fits half of a 760 px window without scrolling */
@media (max-width: 1100px) {{
  [data-testid="stMarkdownContainer"] table {{
    font-size: 0.875rem;
  }}
  [data-testid="stMarkdownContainer"] th,
  [data-testid="stMarkdownContainer"] td {{
    padding: 0.25rem 0.4rem;
  }}
}}
/* whatever scrolls inside a response (a wide table, a long formula) shows its scroll bar
   (Streamlit shows scroll bars only under the pointer): no one rates it without its end */
[data-testid="stMarkdownContainer"] * {{
  scrollbar-width: thin;
  scrollbar-color: rgba(128, 128, 128, 0.7) transparent;
}}
/* the item's buttons show once the page's script takes their keys (until then a key would go
   unheard): a key pressed before is refused in words, never dropped without a trace */
body:not(.pairwise-keys) .st-key-{SCALE_KEY},
body:not(.pairwise-keys) .st-key-{ACTIONS_KEY} {{
  visibility: hidden;
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

#: What the page says when a key comes while the next item is loading.
LOADING = "Still loading the next comparison: key {key} was not used. Press it again once it shows."
LOADING_ID = "pairwise-key-notice"

_SCRIPT = """<script>
(() => {
  if (window.__pairwiseKeys) return;  // once per page
  window.__pairwiseKeys = true;
  const SHORTCUTS = %(shortcuts)s;
  const LOADING = %(loading)s;
  const patterns = Object.fromEntries(Object.entries(SHORTCUTS).map(([key, name]) => [
    key, new RegExp('^st-key-' + name.replace('*', '[0-9a-f]+') + '$')]));
  const state = () => document.querySelector('[data-testid="stApp"]')
    ?.getAttribute('data-test-script-state');
  // Messages the page has sent to the server: a press is heard once one more has left.
  let sent = 0;
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (...args) {
    sent += 1;
    return send.apply(this, args);
  };
  // The item on the page: the nonce in the class of its Skip button.
  const itemNow = () => {
    for (const el of document.querySelectorAll('[class*="st-key-skip-"]')) {
      if (el.closest('[data-stale="true"]')) continue;
      const name = [...el.classList].find((c) => /^st-key-skip-[0-9a-f]+$/.test(c));
      if (name) return name;
    }
    return null;
  };
  // The press under way: the page takes no other key until its run has ended.
  let pressed = null, sawRun = false;
  const settled = () => state() === 'notRunning' && !document.querySelector('[data-stale="true"]');
  const ready = () => {
    if (pressed) {
      const now = performance.now();
      if (pressed.heardAt === null && sent > pressed.sent) pressed.heardAt = now;
      const done = pressed.heardAt !== null && settled() && (sawRun || itemNow() !== pressed.item
        || now - pressed.heardAt > 1500);  // a run too short to show its state
      if (!done && now - pressed.at < 30000) return false;
      pressed = null;
    }
    return settled();
  };
  // The element holding the key's button (whose code may not be loaded yet), or null when the
  // page has none: a key the page does not use (a flag reason with the choice closed) passes.
  const holderFor = (key) => {
    for (const el of document.querySelectorAll('[class*="st-key-"]')) {
      const name = [...el.classList].find((c) => patterns[key].test(c));
      if (name) return el;
    }
    return null;
  };
  const notice = document.createElement('div');
  notice.id = '%(notice_id)s';
  notice.setAttribute('role', 'status');
  notice.style.cssText = 'position:fixed;left:50%%;bottom:1.5rem;transform:translateX(-50%%);'
    + 'z-index:1000100;padding:0.6rem 1rem;border-radius:0.5rem;background:#31333f;'
    + 'color:#fff;font:0.95rem sans-serif;box-shadow:0 2px 8px rgba(0,0,0,.3);display:none';
  document.body.appendChild(notice);
  document.body.classList.add('pairwise-keys');  // the item's buttons show from now on
  const refuse = (key) => {
    notice.textContent = LOADING.replace('{key}', key);
    notice.style.display = 'block';
  };
  const editable = (el) => el && (el.isContentEditable
    || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName));
  // Press the button whose holder has class ``name``; a click that sends nothing (Streamlit
  // now and then lets one pass while it redraws the button) is made again on the same item's
  // button, then refused in words.
  const press = (key, name, tries) => {
    const button = document.querySelector('.' + name + ' button');
    if (tries === 0 || !button || button.disabled) {
      pressed = null;
      refuse(key);
      return;
    }
    pressed.sent = sent;
    button.click();
    setTimeout(() => {
      if (pressed && pressed.heardAt === null && sent === pressed.sent) {
        press(key, name, tries - 1);
      }
    }, 300);
  };
  window.addEventListener('keydown', (event) => {
    if (!(event.key in patterns) || event.ctrlKey || event.metaKey || event.altKey
        || editable(event.target)) return;
    const holder = ready() ? holderFor(event.key) : undefined;
    if (holder === null) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    const button = holder?.querySelector('button');
    if (!button || button.disabled) {
      refuse(event.key);
      return;
    }
    if (event.repeat) return;  // a key held down presses once
    pressed = {at: performance.now(), heardAt: null, item: itemNow(), sent};
    sawRun = false;
    press(event.key, [...holder.classList].find((c) => patterns[event.key].test(c)), 3);
  }, true);
  // New items start at their top; the notice goes once the page is ready again.
  let item = null;
  const blurClosed = (el) => {
    if (el && el.getAttribute('role') === 'combobox' && el.getAttribute('aria-expanded') !== 'true'
        && el === document.activeElement) el.blur();
  };
  new MutationObserver((changes) => {
    for (const change of changes) {
      if (change.attributeName === 'data-test-script-state'
          && (change.oldValue !== 'notRunning' || state() !== 'notRunning')) sawRun = true;
      if (change.attributeName === 'aria-expanded' && change.oldValue === 'true') {
        setTimeout(() => blurClosed(change.target), 0);
      }
    }
    if (notice.style.display !== 'none' && ready()) notice.style.display = 'none';
    const now = itemNow();
    if (now === null || now === item) return;
    item = now;
    const scrollers = document.querySelectorAll(
      '[data-testid="stMain"], [data-testid="stAppViewContainer"],'
      + ' [data-testid="stAppScrollToBottomContainer"]');
    for (const el of scrollers) el.scrollTop = 0;
    window.scrollTo(0, 0);
  }).observe(document.body, {subtree: true, childList: true, attributes: true,
    attributeFilter: ['aria-expanded', 'data-test-script-state', 'data-stale', 'class'],
    attributeOldValue: true});
  blurClosed(document.activeElement);
})();
</script>"""


def annotate_style(shortcuts: dict[str, str]) -> None:
    """The annotate page's style (Streamlit puts a style-only block out of the layout) and its
    script (in the sidebar: the main area holds only the study's and the responses' text).

    ``shortcuts`` maps each key to the widget key of the button it presses, ``*`` standing for
    the item's nonce (``{"s": "skip-*"}``)."""
    st.html(STYLE)
    script = _SCRIPT % {
        "shortcuts": json.dumps(shortcuts),
        "loading": json.dumps(LOADING),
        "notice_id": LOADING_ID,
    }
    with st.sidebar, st.container(key="annotate-script", height=1, border=False):
        st.html(script, unsafe_allow_javascript=True)
