"""Showing prompts and model responses without letting them act on the page.

Responses are untrusted text. Streamlit's Markdown (with ``unsafe_allow_html=False``, as used
here) already shows raw HTML such as ``<script>`` as literal text and disarms ``javascript:``
link targets; :func:`safe_markdown` does not rely on that alone. Every link, image, reference
definition or autolink whose target is not ``http``, ``https``, ``mailto`` or relative is broken
by a zero-width space between the characters that make it a link, so that it shows as the text
it is. The space is invisible in prose and in code alike, so no Markdown parser is needed to tell
the two apart. Bidirectional-override characters are made visible, so that a response cannot
make text read in another order than it is stored.

Very long responses (degenerate repetition can produce megabytes) are shown as plain text: a
browser takes about half a minute to lay out 1 MB of Markdown, but a moment for plain text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator, Sequence

import streamlit as st

#: Responses longer than this many characters are shown as plain text, not Markdown.
MARKDOWN_LIMIT = 50_000
#: Link schemes a response may link to; anything else is shown as text.
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
#: Characters that embed, override or isolate text direction (Unicode bidi controls), and would
#: let text display in another order than it is stored. Marks (LRM, RLM, ALM) are harmless and kept.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
ZERO_WIDTH_SPACE = "\u200b"

ROLE_LABELS = {"system": "System prompt", "user": "User", "assistant": "Assistant"}
_AVATARS = {"system": ":material/settings:", "user": "user", "assistant": "assistant"}

_BIDI = re.compile(f"[{BIDI_CONTROLS}]")
# What makes a link: "](" before an inline target, "]:" before a reference definition's target,
# "<scheme:" opening an autolink (whose scheme is literal: no entities, no spaces).
_LINK_OPENING = re.compile(r"\](?=[(:])|<(?=[a-zA-Z][a-zA-Z0-9+.\-]{1,31}:[^\s<>]*>)")
# one character of a link target as Markdown decodes it: an entity, a backslash escape, or itself
_TARGET_CHAR = re.compile(
    r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});|\\.|.", re.S
)
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789+.-")


def visible_controls(text: str) -> str:
    """Replace bidi control characters by a visible ``⟨U+202E⟩`` marker."""
    return _BIDI.sub(lambda m: f"\u27e8U+{ord(m.group()):04X}\u27e9", text)


def target_scheme(text: str, start: int = 0) -> str | None:
    """The scheme of the link target at ``text[start:]`` as a browser would see it, or ``None``.

    The target is decoded the way Markdown does (entities, backslash escapes), then read the
    way a browser does, only more suspiciously: whitespace, control and invisible characters and
    a leading ``<`` are skipped everywhere, not only where browsers drop them. Reading stops at
    the first character that cannot be part of a scheme, which keeps the cost linear: ``]`` is
    such a character, so the reads from two link openings never overlap.
    """
    scheme: list[str] = []
    for token in _TARGET_CHAR.finditer(text, start):
        piece = token.group()
        decoded = html.unescape(piece) if piece[0] == "&" else piece[-1]
        for ch in decoded:
            if not ch.isprintable() or ch.isspace() or (ch == "<" and not scheme):
                continue
            if ch == ":":
                return "".join(scheme) if scheme and scheme[0].isalpha() else None
            if ch.lower() not in _SCHEME_CHARS:
                return None
            scheme.append(ch.lower())
    return None


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.S)
_DOLLAR = re.compile(r"(?<!\\)\$")
_PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]")  # ASCII punctuation, any of which Markdown may escape
# what can open inline Markdown (or Streamlit's :icons: and :colour[text]); a list marker at the start
_MARKUP = re.compile(r"[\\`*_\[\]<>!&$~:#|{}()^=+]")
_LIST_MARKER = re.compile(r"^(\d*)([-.)])(?=\s|$)")
# an inline image: ![alt](address "optional title"), the address bare or in <...>
_INLINE_IMAGE = re.compile(
    r"(?<!\\)!\[(?P<alt>[^\[\]\n]*)\]\(\s*(?P<url><[^<>\n]*>|[^\s()<>]*)"
    r"(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?\s*\)"
)
_BACKTICKS = re.compile(r"`+")
_ESCAPE = re.compile(r"\\.")
# quote and list markers that may open a line
_CONTAINERS = r"^(?: {0,3}(?:>|[-*+]|\d{1,9}[.)]) ?)*"
# a line that may be indented code: four columns of indentation after any quote or list markers
_INDENTED_CODE = re.compile(_CONTAINERS + r"(?: {4}| {0,3}\t)")
# a fence, maybe inside a quote or a list item; a blank line, maybe inside them
_NESTED_FENCE = re.compile(_CONTAINERS + r" {0,3}(`{3,}|~{3,})")
_BLANK = re.compile(_CONTAINERS + r"\s*$")


def _fenced(text: str, fence_at: re.Pattern[str] = _FENCE) -> Iterator[tuple[str, bool]]:
    """Each line of ``text`` (ends kept) with whether it belongs to a fenced code block."""
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        opening = fence_at.match(line)
        if fence is None and opening:
            fence = opening.group(1)
            yield line, True
        elif fence is not None:
            yield line, True
            closing = fence_at.match(line)
            if (
                closing
                and closing.group(1)[0] == fence[0]
                and len(closing.group(1)) >= len(fence)
                and not line[closing.end() :].strip()
            ):
                fence = None
        else:
            yield line, False


def outside_code(text: str, change: Callable[[str], str]) -> str:
    """``text`` with ``change`` applied to its prose: fenced code blocks and inline code spans
    are kept as they are."""
    out: list[str] = []
    prose: list[str] = []

    def flush() -> None:
        chunk = "".join(prose)
        prose.clear()
        last = 0
        for span in _CODE_SPAN.finditer(chunk):
            out.append(change(chunk[last : span.start()]))
            out.append(span.group())
            last = span.end()
        out.append(change(chunk[last:]))

    for line, in_code in _fenced(text):
        if in_code:
            flush()
            out.append(line)
        else:
            prose.append(line)
    flush()
    return "".join(out)


def escape_dollars(text: str) -> str:
    """Escape ``$`` outside code, so that prices do not turn into maths.

    Streamlit's Markdown reads ``$…$`` as LaTeX: "$3.30 and $3.00" would show a formula.
    Responses are prose and code, not maths, so every ``$`` in prose is shown as it is. Fenced
    code blocks and inline code spans keep theirs (a backslash there would show).
    """
    return outside_code(text, lambda prose: _DOLLAR.sub(r"\\$", prose))


def code_span(text: str) -> str:
    """``text`` as an inline code span, whatever backticks it holds."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    ticks = "`" * (longest + 1)
    return f"{ticks} {text} {ticks}"


def images_as_text(text: str) -> str:
    """Show images as text, so that opening a page loads nothing from elsewhere.

    An image in a response, the guidelines or a study's text would be fetched by the browser of
    whoever opens the item (a tracking pixel learns who looked, and when). An inline image in
    prose becomes "[image: its alt text]" and its address as code; any other image syntax
    (reference images, images inside code) loses the ``!`` that makes it an image, by a
    zero-width space, and shows as a link or as the text it is.
    """

    def as_text(m: re.Match[str]) -> str:
        alt = _PUNCTUATION.sub(r"\\\g<0>", m.group("alt").strip())
        url = m.group("url").strip("<>")
        label = f"\\[image: {alt or 'no description'}\\]"
        return f"{label} {code_span(url)}" if url else label

    text = outside_code(text, lambda prose: _INLINE_IMAGE.sub(as_text, prose))
    return text.replace("![", "!" + ZERO_WIDTH_SPACE + "[")


def literal_markdown(text: str) -> str:
    """Markdown that shows ``text`` as the one line of plain text it is: no link, emphasis,
    heading or icon; for names and questions, which have no business formatting the page."""
    text = _MARKUP.sub(r"\\\g<0>", " ".join(visible_controls(text).split()))
    return _LIST_MARKER.sub(r"\g<1>\\\g<2>", text, count=1)


def code_spans(text: str) -> list[tuple[int, int]]:
    """Where inline code spans are in ``text``, as CommonMark finds them: a run of backticks not
    escaped by a backslash opens one, and the next run of the same length closes it; a run
    without a closing match is literal text."""
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(text)]
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(runs):
        start, end = runs[i]
        before = text[:start]
        if (len(before) - len(before.rstrip("\\"))) % 2:
            start += 1  # an escaped backtick is text; the rest of its run may open a span
        closing = next(
            (j for j in range(i + 1, len(runs)) if runs[j][1] - runs[j][0] == end - start), None
        )
        if start < end and closing is not None:
            spans.append((start, runs[closing][1]))
            i = closing + 1
        else:
            i += 1
    return spans


def _open_backticks(line: str) -> bool:
    """Whether ``line`` has a backtick that no code span on the line closes (so that a span may
    run on to the next line). Autolinks and HTML tags come before code spans and may take a
    backtick, so a line with ``<`` and a backtick counts as open."""
    if "`" in line and "<" in line:
        return True
    rest, last = [], 0
    for start, end in code_spans(line):
        rest.append(line[last:start])
        last = end
    rest.append(line[last:])
    return "`" in _ESCAPE.sub("", "".join(rest))


def keep_line_breaks(text: str) -> str:
    """Show single line breaks in prose as breaks, as chat interfaces do.

    Markdown joins the lines of a paragraph ("2x = 0.30" would follow "2x = 3.30 - 3.00" on the
    same line). Two trailing spaces make a hard break; they are invisible wherever they are not
    one (table rows, headings, the last line of a block), so no parser is needed. Code is left as
    it is: fenced blocks, lines indented as code (after any quote or list marker), and a block
    with a backtick whose code span may run over a line break (the break would show inside the
    code). A line already ending in a break (two spaces or a backslash) is left alone too.
    """
    out: list[str] = []
    block: list[str] = []  # prose lines between blank lines and fences

    def flush() -> None:
        inline_code_stays_on_its_line = not any(map(_open_backticks, block))
        for n, line in enumerate(block):
            body = line.rstrip("\r\n")
            if (
                inline_code_stays_on_its_line
                and n < len(block) - 1
                and not body.endswith(("  ", "\\"))
                and not _INDENTED_CODE.match(body)
            ):
                line = body + "  " + line[len(body) :]
            out.append(line)
        block.clear()

    for line, in_fence in _fenced(text, _NESTED_FENCE):
        if in_fence or _BLANK.match(line):
            flush()
            out.append(line)
        else:
            block.append(line)
    flush()
    return "".join(out)


def safe_markdown(text: str) -> str:
    """Markdown that shows ``text`` with unsafe links, images, bidi overrides and maths made
    inert."""
    text = escape_dollars(images_as_text(visible_controls(text)))

    def disarm(m: re.Match[str]) -> str:
        scheme = target_scheme(text, m.end() + (1 if m.group() == "]" else 0))
        return (
            m.group() if scheme is None or scheme in SAFE_SCHEMES else m.group() + ZERO_WIDTH_SPACE
        )

    return _LINK_OPENING.sub(disarm, text)


# -- Streamlit ------------------------------------------------------------------------------


def show_text(text: str, *, empty: str = "(empty)") -> None:
    """Show one response or message: Markdown with code highlighting, or plain text if huge.

    Blank text shows ``empty`` in words, so that nothing on screen looks like a loading error.
    """
    if not text.strip():
        st.caption(empty)
    elif len(text) > MARKDOWN_LIMIT:
        st.caption(f"Very long: {len(text):,} characters, shown as plain text.")
        st.code(visible_controls(text), language=None, wrap_lines=True, height=560)
    else:
        st.markdown(keep_line_breaks(safe_markdown(text)), anchors=False)


def show_conversation(messages: Sequence[dict[str, str]]) -> None:
    """Every turn of the prompt, system prompt included, each labelled with its role."""
    for message in messages:
        role = message.get("role", "user")
        label = ROLE_LABELS.get(role, role.title())
        with st.chat_message(label, avatar=_AVATARS.get(role, "user")):
            st.markdown(f"**{label}**")
            show_text(message.get("content", ""))


EMPTY_RESPONSE = "(empty response)"


def show_responses(left: str, right: str, *, tall: int = 3_000) -> None:
    """The two responses side by side, labelled only "Response 1" and "Response 2".

    A model that returned nothing (or only white space) shows as :data:`EMPTY_RESPONSE`.

    When either is long both get the same scrolling height, so that they stay level.
    """
    height = 620 if max(len(left), len(right)) > tall else "content"
    for column, label, text in zip(
        st.columns(2, gap="medium"), ("Response 1", "Response 2"), (left, right), strict=True
    ):
        with column:
            st.subheader(label, anchor=False)
            with st.container(border=True, height=height):
                show_text(text, empty=EMPTY_RESPONSE)
