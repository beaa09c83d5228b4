"""Untrusted text (model, study, category and annotator names, rationales, responses) made inert
in the files pairwise writes.

- **CSV**: a spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula
  (and one that starts with a tab or carriage return, which it skips first), so a rationale
  ``=HYPERLINK(...)`` becomes a live link. As OWASP's "CSV Injection" page recommends, such a text
  cell is written with a leading apostrophe, which spreadsheets read as "this is text". Numbers
  are data, not formulas: numeric cells, and text that is a plain decimal number such as ``-3``,
  are written as they are. A text that already starts with an apostrophe gets one more, so that
  :func:`csv_text` is undone exactly by :func:`csv_original`.
- **Markdown**: raw HTML (``<img onerror=...>``), links, images and emphasis in a name would act
  in a rendered report or dataset card. :func:`markdown_text` escapes them so that the text shows
  as itself.
"""

from __future__ import annotations

import html
import re
from typing import Any

#: First characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# CommonMark punctuation that can start inline syntax (code, emphasis, links, images, tables,
# strikethrough, autolinks are already gone with "<"), and the escape character itself.
_MARKDOWN_SYNTAX = re.compile(r"[\\`*_\[\]|~!]")
_PROSE_SYNTAX = re.compile(r"[\\`*_|~]|\](?=\()|!(?=\[)")


def csv_text(value: Any) -> Any:
    """``value`` as a CSV cell a spreadsheet will not run; anything but text is returned as is."""
    if not isinstance(value, str) or not value:
        return value
    if value[0] == "'" or (value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value)):
        return "'" + value
    return value


def csv_original(value: Any) -> Any:
    """The text :func:`csv_text` was given: one leading apostrophe it added is taken off."""
    if isinstance(value, str) and value[:1] == "'" and value[1:2] in ("'", *FORMULA_STARTS):
        return value[1:]
    return value


def markdown_prose(text: Any) -> str:
    """A line of prose that may hold names, as Markdown that shows it as written but keeps it
    readable: like :func:`markdown_text`, except that square brackets stay as they are unless
    they would close a link (``](``) or open an image (``![``), so that "79% [55%, 92%]" reads
    as such in the Markdown file."""
    escaped = html.escape(str(text), quote=False)
    escaped = _PROSE_SYNTAX.sub(lambda match: "\\" + match.group(), escaped)
    return re.sub(r"[\r\n]+", " ", escaped)


def markdown_text(text: Any) -> str:
    """``text`` as Markdown that renders as exactly that text, on one line.

    HTML special characters become entities, so no tag survives (renderers that allow raw
    HTML included); Markdown punctuation is backslash-escaped, so a name makes no link, image,
    emphasis or table cell; line breaks become spaces.
    """
    escaped = html.escape(str(text), quote=False)
    escaped = _MARKDOWN_SYNTAX.sub(lambda match: "\\" + match.group(), escaped)
    return re.sub(r"[\r\n]+", " ", escaped)
