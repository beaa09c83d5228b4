"""Hostile responses come out inert.

``safe_markdown`` output is rendered by markdown-it-py, an independent CommonMark implementation,
set up the way Streamlit shows responses (raw HTML off) but made deliberately permissive about
links: its own link filter and URL encoding are switched off, so that every link target we let
through reaches the HTML as Markdown decoded it. The resulting HTML is then read with the standard
library's parser and every ``href``/``src`` is judged by the rules browsers use to find a URL's
scheme (WHATWG URL: strip leading and trailing C0 controls and spaces, drop tabs and newlines).
"""

from __future__ import annotations

import re
import string
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from pairwise.render import (
    BIDI_CONTROLS,
    SAFE_SCHEMES,
    ZERO_WIDTH_SPACE,
    escape_dollars,
    keep_line_breaks,
    literal_markdown,
    safe_markdown,
    target_scheme,
    visible_controls,
)


def render(markdown: str) -> str:
    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    md.validateLink = lambda url: True
    md.normalizeLink = lambda url: url
    return md.render(markdown)


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend((name, value or "") for name, value in attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html_text: str) -> _Collect:
    collected = _Collect()
    collected.feed(html_text)
    collected.close()
    return collected


def browser_scheme(url: str) -> str | None:
    """The scheme a browser finds in an attribute value (WHATWG URL parser, simplified)."""
    url = url.strip("".join(map(chr, range(0x21)))).replace("\t", "").replace("\n", "")
    url = url.replace("\r", "")
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.\-]*):", url)
    return match.group(1).lower() if match else None


def unsafe_urls(markdown: str) -> list[str]:
    collected = parse(render(markdown))
    return [
        value
        for name, value in collected.attrs
        if name in ("href", "src") and browser_scheme(value) not in (None, *SAFE_SCHEMES)
    ]


#: Markdown that a permissive CommonMark renderer turns into a link or image with a script,
#: data or VBScript URL: plain, case-mixed, entity-encoded, padded, split by tabs (which browsers
#: drop), as references, in lists, quotes and tables, and next to escapes and fake code.
UNSAFE_LINKS = [
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x]( javascript:alert(1) )",
    "[x](<javascript:alert(1)>)",
    "[x](java&#115;cript:alert(1))",
    "[x](&#106;avascript&colon;alert(1))",
    "[x](&#x6A;avascript:alert(1))",
    "[x](<java&Tab;script:alert(1)>)",
    "[x](<java\tscript:alert(1)>)",
    "[x](&#32;&#32;javascript:alert(1))",
    "[x](" + "&#0000032;" * 300 + "javascript:alert(1))",
    "[x](<j" + "\t" * 600 + "avascript:alert(1)>)",
    "[x](\njavascript:alert(1))",
    "![x](javascript:alert(1))",
    "![x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](vbscript:msgbox(1))",
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "[x]\n\n[x]: javascript:alert(1)",
    "[x][r]\n\n[r]:\n  <javascript:alert(1)>",
    "- [x]\n\n- [x]: javascript:alert(1)",
    "> [x](javascript:alert(1))",
    "| a | b |\n| - | - |\n| [x](javascript:alert(1)) | y |",
    "[a [b](javascript:1)](javascript:2)",
    "[x\\\\](javascript:alert(1))",
    "\\`[x](javascript:alert(1))\\`",
    "    ```\n[x](javascript:alert(1))\n```",
]
RAW_HTML = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<iframe src="javascript:alert(1)"></iframe>',
    "<svg onload=alert(1)>",
]


@pytest.mark.parametrize("text", UNSAFE_LINKS)
def test_unsafe_links_are_shown_as_text(text: str) -> None:
    assert unsafe_urls(text), "the case must be a live unsafe link without safe_markdown"
    assert unsafe_urls(safe_markdown(text)) == []


@pytest.mark.parametrize("text", RAW_HTML)
def test_raw_html_is_shown_as_text(text: str) -> None:
    collected = parse(render(safe_markdown(text)))
    assert collected.tags == ["p"] and collected.attrs == []
    assert "".join(collected.text).strip() == text


def test_safe_links_and_code_are_kept() -> None:
    text = (
        "See [docs](https://example.org/a?b=1), <https://example.org>, [mail](mailto:a@b.org)"
        " and [top](#top).\n\n```python\nprint('<b>' if x else [y](z))\n```\n\nInline `a < b`."
    )
    assert safe_markdown(text) == text
    collected = parse(render(text))
    hrefs = [value for name, value in collected.attrs if name == "href"]
    assert hrefs == ["https://example.org/a?b=1", "https://example.org", "mailto:a@b.org", "#top"]


def test_unsafe_link_in_code_changes_only_invisibly() -> None:
    text = "```md\n[x](javascript:alert(1))\n```\n`<javascript:x>`"
    out = safe_markdown(text)
    assert out != text and out.replace(ZERO_WIDTH_SPACE, "") == text


def test_rtl_emoji_and_zero_width_text_is_unchanged() -> None:
    text = (
        "שלום עולם, مرحبا بالعالم \u200f(RLM) \u200e(LRM); family 👨\u200d👩\u200d👧,"
        " flags 🇩🇪, skin 👋🏽, zero\u200bwidth, joiner\u200dnon\u200cjoiner, BOM\ufeff."
    )
    assert safe_markdown(text) == text


def test_bidi_overrides_are_made_visible() -> None:
    text = "Invoice total \u202e0001$\u202c and \u2066isolated\u2069 text"
    out = safe_markdown(text)
    assert not set(BIDI_CONTROLS) & set(out)
    assert "\u27e8U+202E\u27e9" in out and "\u27e8U+2066\u27e9" in out
    assert out.count("\u27e8U+") == 4


@pytest.mark.parametrize(
    ("target", "scheme"),
    [
        ("https://x.org)", "https"),
        ("page.html)", None),
        ("./a:b)", None),
        ("#top)", None),
        ("<JavaScript:x>)", "javascript"),
        ("java&#115;cript&colon;x", "javascript"),
        ("  \n  data:text/html,x", "data"),
        ("1http:x", None),  # a scheme starts with a letter
    ],
)
def test_target_scheme(target: str, scheme: str | None) -> None:
    assert target_scheme(target) == scheme


FRAGMENTS = [
    "[", "]", "(", ")", "<", ">", ":", "!", "\\", "`", "```", "\n", "\n\n", " ", "    ", "\t",
    "javascript", "JaVa", "script", "data", "http", "x", "&#106;", "&#x3A;", "&colon;",
    "&Tab;", "&NewLine;", "&#32;", "&amp;", "- ", "> ", "|", ZERO_WIDTH_SPACE, "\u202e",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40))
def test_no_unsafe_link_survives_any_mix(parts: list[str]) -> None:
    text = "".join(parts)
    out = safe_markdown(text)
    assert unsafe_urls(out) == []
    assert "img" not in parse(render(out)).tags
    if "![" not in text:
        # only zero-width spaces are added (and bidi controls shown), so nothing visible changes
        plain = visible_controls(text).replace(ZERO_WIDTH_SPACE, "")
        assert out.replace(ZERO_WIDTH_SPACE, "") == plain
    assert safe_markdown(out) == out


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.printable + "\u202e\u200b&#;", max_size=200))
def test_no_unsafe_link_survives_any_text(text: str) -> None:
    assert unsafe_urls(safe_markdown(text)) == []


# -- dollars -------------------------------------------------------------------------------------


def test_prices_in_prose_are_escaped_and_code_keeps_its_dollars() -> None:
    text = (
        "Two coffees cost $3.30 and one tea $3.00.\n"
        "Run `echo $HOME` or ``a `$x` b`` now.\n"
        "```bash\nexport PRICE=$5\n```\n"
        "~~~~\n$ not closed by ```\n~~~~\n"
        "Already \\$7."
    )
    assert escape_dollars(text) == (
        "Two coffees cost \\$3.30 and one tea \\$3.00.\n"
        "Run `echo $HOME` or ``a `$x` b`` now.\n"
        "```bash\nexport PRICE=$5\n```\n"
        "~~~~\n$ not closed by ```\n~~~~\n"
        "Already \\$7."
    )


def test_an_unclosed_fence_keeps_the_rest_as_code() -> None:
    assert escape_dollars("$1\n```\n$2\n$3") == "\\$1\n```\n$2\n$3"


@given(st.text(alphabet="$`~ ab\n\\", max_size=60))
def test_escaping_only_adds_backslashes_before_dollars(text: str) -> None:
    escaped = escape_dollars(text)
    assert escaped.replace("\\$", "$") == text.replace("\\$", "$")
    assert escape_dollars(escaped) == escaped  # idempotent: nothing is escaped twice


# -- images and one-line texts ------------------------------------------------------------------

#: Images in every syntax CommonMark knows: inline (bare, bracketed, titled), reference, collapsed
#: and shortcut references, nested in links, lists, quotes and tables.
IMAGES = [
    "![pixel](https://tracker.example/p.png?who=ann)",
    '![pixel](<https://tracker.example/a b.png> "a title")',
    "![](https://tracker.example/p.png)",
    "Text ![a `tick` *star*](https://tracker.example/p.png) more",
    "![pixel][r]\n\n[r]: https://tracker.example/p.png",
    "![pixel][]\n\n[pixel]: https://tracker.example/p.png",
    "![pixel]\n\n[pixel]: https://tracker.example/p.png",
    "[![badge](https://tracker.example/b.svg)](https://example.org)",
    "- ![x](//tracker.example/p.png)",
    "> ![x](https://tracker.example/p.png)",
    "| a |\n| - |\n| ![x](https://tracker.example/p.png) |",
    "![x [y]](https://tracker.example/p.png)",
]


@pytest.mark.parametrize("text", IMAGES)
def test_images_are_never_loaded(text: str) -> None:
    assert "img" in parse(render(text)).tags, "the case must be a live image without safe_markdown"
    collected = parse(render(safe_markdown(text)))
    assert "img" not in collected.tags
    assert not [value for name, value in collected.attrs if name == "src"]


def test_an_inline_image_shows_its_alt_text_and_address() -> None:
    out = safe_markdown("See ![a chart of $5 costs](https://tracker.example/p.png?u=1) here")
    collected = parse(render(out))
    assert collected.tags == ["p", "code"]
    text = "".join(collected.text).strip()
    assert text == "See [image: a chart of $5 costs] https://tracker.example/p.png?u=1 here"


def test_images_in_code_change_only_invisibly() -> None:
    text = "```md\n![x](https://tracker.example/p.png)\n```\n`![y](z)`"
    out = safe_markdown(text)
    assert out.replace(ZERO_WIDTH_SPACE, "") == text


@pytest.mark.parametrize(
    "text",
    [
        "Pilot [Session expired: sign in again](https://evil.example/login)",
        "# Heading *bold* `code` :red[red] :material/lock: $x$ &amp; <b>b</b>\nsecond line",
        "![pixel](https://tracker.example/p.png) \\[x\\]",
    ],
)
def test_literal_markdown_shows_the_text_as_it_is(text: str) -> None:
    collected = parse(render(literal_markdown(text)))
    assert collected.tags == ["p"] and collected.attrs == []
    assert "".join(collected.text).strip() == " ".join(text.split())


@pytest.mark.parametrize("text", ["1. Which is better?", "- a list?", "7) seven", "+ plus", "-"])
def test_literal_markdown_starts_no_list(text: str) -> None:
    collected = parse(render(literal_markdown(text)))
    assert collected.tags == ["p"] and "".join(collected.text).strip() == text


def test_literal_markdown_keeps_plain_questions_readable() -> None:
    assert literal_markdown("Which response is more helpful?") == "Which response is more helpful?"


# -- line breaks ---------------------------------------------------------------------------------


def _without_breaks(html_text: str) -> str:
    return html_text.replace("<br />\n", "\n")


def test_single_line_breaks_in_prose_are_kept() -> None:
    text = "Subtract 3.00 from both sides:\n2x = 3.30 - 3.00\n2x = 0.30\n\nSo x = 0.15."
    assert render(keep_line_breaks(text)) == (
        "<p>Subtract 3.00 from both sides:<br />\n2x = 3.30 - 3.00<br />\n2x = 0.30</p>\n"
        "<p>So x = 0.15.</p>\n"
    )


def test_code_blocks_and_tables_are_unchanged() -> None:
    text = (
        "A table:\n| a | b |\n| - | - |\n| 1 | 2 |\n\n"
        "```python\nx = 1\ny = 2\n```\n"
        "Then:\n\n    indented = 1\n    code = 2\n\n"
        "Inline `a\nb` spans lines.\n"
    )
    out = keep_line_breaks(text)
    shown, plain = render(out), render(text)
    assert _without_breaks(shown) == plain
    assert '<pre><code class="language-python">x = 1\ny = 2\n</code></pre>' in shown
    assert "<pre><code>indented = 1\ncode = 2\n</code></pre>" in shown
    assert "<table>" in shown and "<code>a b</code>" in shown
    assert "<br />" not in shown  # the lines before the table and the code end their blocks


BREAK_FRAGMENTS = [
    "a", "b", "x y", " ", "  ", "    ", "\t", "\n", "\n", "\n\n", "\r\n", "`", "```", "~~~",
    "|", "| - |", "---", "===", "- ", "* ", "+", "1. ", "1)", "> ", ">", "# ", "\\", "\\`", "[x]",
    "(u)", "[x]: /u", "<", "<http://a`b>",
]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(BREAK_FRAGMENTS), max_size=40))
def test_breaks_only_turn_soft_breaks_into_hard_ones(parts: list[str]) -> None:
    """Whatever the Markdown, only line breaks change: every block, code and table is the same."""
    text = "".join(parts)
    out = keep_line_breaks(text)
    assert out.replace("  \n", "\n").replace("  \r\n", "\r\n") == text.replace(
        "  \n", "\n"
    ).replace("  \r\n", "\r\n")
    assert _without_breaks(render(out)) == _without_breaks(render(text))
    assert keep_line_breaks(out) == out
