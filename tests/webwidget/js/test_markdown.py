"""markdown.js: agents' Markdown becomes DOM nodes, never markup, and links only go to http(s)
and mailto. The XSS boundary of the widget: every construct below is also tried as an attack."""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page

RENDER = """async (source) => {
  const { renderMarkdown } = await import("/static/webwidget/frame/markdown.js");
  const { translator } = await import("/static/webwidget/frame/i18n.js");
  const { describe } = await import("/harness/dom.js");
  return describe(renderMarkdown(source, translator("en")));
}"""

LINK_ATTRIBUTES = 'target="_blank" rel="noopener noreferrer nofollow"'


@dataclass(frozen=True)
class Rendered:
    """What renderMarkdown built, as data: see harness/dom.js describe()."""

    html: str
    text: str
    tags: list[str]
    attributes: list[str]
    hrefs: list[str]
    titles: list[str]
    fragment: bool


Render = Callable[[str], Rendered]


@pytest.fixture
def render(shared_js: Page) -> Render:
    return lambda source: Rendered(**shared_js.evaluate(RENDER, source))


def link(href: str, text: str) -> str:
    """The markup of a link as the renderer builds it (its title names the new tab)."""
    return f'<a href="{href}" {LINK_ATTRIBUTES} title="{text} (opens in a new tab)">{text}</a>'


# ---- what it renders -----------------------------------------------------------------------


def test_plain_text_is_a_paragraph(render: Render) -> None:
    assert render("Hello there").html == "<p>Hello there</p>"


def test_the_result_is_a_fragment_of_nodes_not_a_string(render: Render) -> None:
    assert render("Hello").fragment


def test_double_stars_and_underscores_are_bold(render: Render) -> None:
    assert render("**a** __b__").html == "<p><strong>a</strong> <strong>b</strong></p>"


def test_single_stars_and_underscores_are_italic(render: Render) -> None:
    assert render("*a* _b_").html == "<p><em>a</em> <em>b</em></p>"


def test_double_tildes_strike_through(render: Render) -> None:
    assert render("~~gone~~").html == "<p><del>gone</del></p>"


def test_underscores_inside_words_stay_underscores(render: Render) -> None:
    assert render("snake_case_name").html == "<p>snake_case_name</p>"


def test_a_star_followed_by_a_space_is_not_emphasis(render: Render) -> None:
    assert render("2 * 3 * 4").html == "<p>2 * 3 * 4</p>"


def test_an_unclosed_marker_is_text(render: Render) -> None:
    assert render("**open and *never closed").html == "<p>**open and *never closed</p>"


def test_emphasis_of_every_kind_nests(render: Render) -> None:
    assert render("**__~~*_x_*~~__**").html == (
        "<p><strong><strong><del><em><em>x</em></em></del></strong></strong></p>"
    )


def test_backticks_are_inline_code_whose_content_is_not_parsed(render: Render) -> None:
    assert render("run `**x** <b>`").html == "<p>run <code>**x** &lt;b&gt;</code></p>"


def test_a_backslash_escapes_a_marker(render: Render) -> None:
    assert render(r"\*not italic\*").html == "<p>*not italic*</p>"


def test_a_newline_is_a_line_break(render: Render) -> None:
    assert render("one\ntwo").html == "<p>one<br>two</p>"


def test_windows_line_ends_are_newlines(render: Render) -> None:
    assert render("one\r\ntwo\rthree").html == "<p>one<br>two<br>three</p>"


def test_a_blank_line_starts_a_new_paragraph(render: Render) -> None:
    assert render("one\n\ntwo").html == "<p>one</p><p>two</p>"


def test_fenced_code_keeps_its_lines_as_text(render: Render) -> None:
    assert render("```\n<b>x</b>\n  **y**\n```").html == (
        "<pre><code>&lt;b&gt;x&lt;/b&gt;\n  **y**</code></pre>"
    )


def test_a_heading_is_an_emphasised_paragraph(render: Render) -> None:
    assert render("## Opening *hours*").html == '<p class="cb-md-h">Opening <em>hours</em></p>'


def test_dashes_stars_and_pluses_make_a_bulleted_list(render: Render) -> None:
    assert render("- one\n* **two**\n+ three").html == (
        "<ul><li>one</li><li><strong>two</strong></li><li>three</li></ul>"
    )


def test_numbers_make_a_numbered_list(render: Render) -> None:
    assert render("1. one\n2) two").html == "<ol><li>one</li><li>two</li></ol>"


def test_a_paragraph_ends_where_a_list_starts(render: Render) -> None:
    assert render("Choose:\n- tea\n- coffee").html == (
        "<p>Choose:</p><ul><li>tea</li><li>coffee</li></ul>"
    )


def test_angle_brackets_quote_and_quotes_hold_markdown(render: Render) -> None:
    assert render("> said\n> **loud**").html == (
        "<blockquote><p>said<br><strong>loud</strong></p></blockquote>"
    )


def test_a_link_opens_in_a_new_tab_without_the_opener_and_says_so(render: Render) -> None:
    assert render("[our shop](https://shop.example/kettles)").html == (
        f"<p>{link('https://shop.example/kettles', 'our shop')}</p>"
    )


def test_a_link_target_may_be_in_angle_brackets(render: Render) -> None:
    assert render("[a](<https://a.example/x>)").hrefs == ["https://a.example/x"]


def test_a_link_label_may_hold_emphasis_markers_as_text(render: Render) -> None:
    rendered = render("[**bold**](https://a.example/)")
    assert rendered.tags == ["p", "a"]
    assert rendered.text == "**bold**"


def test_a_bare_web_address_is_a_link_without_the_sentence_end(render: Render) -> None:
    assert render("See https://a.example/faq?q=1.").html == (
        f"<p>See {link('https://a.example/faq?q=1', 'https://a.example/faq?q=1')}.</p>"
    )


def test_a_bare_mailto_address_is_a_link(render: Render) -> None:
    assert render("Write to mailto:help@a.example").hrefs == ["mailto:help@a.example"]


def test_allowed_schemes_are_recognised_in_any_case(render: Render) -> None:
    assert render("[a](HTTPS://A.EXAMPLE/Path)").hrefs == ["https://a.example/Path"]


def test_a_web_address_inside_a_word_is_not_a_link(render: Render) -> None:
    assert render("xhttps://a.example").hrefs == []


def test_a_link_inside_bold_is_a_link(render: Render) -> None:
    rendered = render("**see [faq](https://a.example/faq)**")
    assert rendered.tags == ["p", "strong", "a"]
    assert rendered.hrefs == ["https://a.example/faq"]


# ---- what it refuses: markup, scripts and dangerous links ------------------------------------

NO_MARKUP = [
    "<script>pwned()</script>",
    '<img src=x onerror="pwned()">',
    "<svg onload=pwned()>",
    "<iframe srcdoc='<script>pwned()</script>'></iframe>",
    '<a href="javascript:pwned()">a</a>',
    "<style>*{display:none}</style>",
    "<!-- comment --><b>bold?</b>",
    "**<img src=x onerror=pwned()>**",
    "- <script>pwned()</script>\n- `<script>`",
    "> <img src=x onerror=pwned()>",
    "# <script>pwned()</script>",
    "```\n</code></pre><script>pwned()</script>\n```",
]


@pytest.mark.parametrize("source", NO_MARKUP)
def test_html_in_a_message_stays_text(render: Render, source: str) -> None:
    rendered = render(source)
    assert set(rendered.tags) <= {"p", "strong", "em", "ul", "li", "code", "blockquote", "pre"}
    assert not [a for a in rendered.attributes if " on" in a]
    assert "pwned()" not in "".join(rendered.hrefs)


def test_html_shows_as_the_characters_typed(render: Render) -> None:
    source = '<img src=x onerror="pwned()">'
    assert render(source).text == source


def test_entities_are_not_decoded(render: Render) -> None:
    assert render("&lt;script&gt; &#106;").text == "&lt;script&gt; &#106;"


REFUSED_TARGETS = [
    "javascript:pwned()",
    "JaVaScRiPt:pwned()",
    "  javascript:pwned()",
    "\tjavascript:pwned()",
    "\x01javascript:pwned()",
    "javascript://a.example/%0Apwned()",
    "data:text/html,<script>pwned()</script>",
    "data:text/html;base64,PHNjcmlwdD5wd25lZCgpPC9zY3JpcHQ+",
    "DATA:image/svg+xml,x",
    "vbscript:msgbox(1)",
    "VBScript:msgbox(1)",
    "file:///etc/passwd",
    "&#106;avascript:pwned()",
    "javascript&#58;pwned()",
    "javascript&colon;pwned()",
    "jav&#x09;ascript:pwned()",
    "javascript%3Apwned()",
    "//evil.example/x",
    "/relative/path",
    "blob:https://a.example/x",
]


@pytest.mark.parametrize("target", REFUSED_TARGETS)
def test_a_link_to_anything_but_http_or_mailto_is_no_link(render: Render, target: str) -> None:
    rendered = render(f"[click me]({target}) after")
    assert rendered.hrefs == []
    assert rendered.tags == ["p"]
    assert "click me" in rendered.text


def test_a_refused_link_keeps_its_label(render: Render) -> None:
    assert render("[click me](javascript:pwned()) after").html == "<p>click me after</p>"


def test_a_bare_javascript_address_is_not_a_link(render: Render) -> None:
    assert render("javascript:pwned() and data:text/html,x").hrefs == []


def test_markup_in_a_link_label_is_the_links_text(render: Render) -> None:
    rendered = render("[<img src=x onerror=pwned()>](https://a.example/)")
    assert rendered.tags == ["p", "a"]
    assert rendered.text == "<img src=x onerror=pwned()>"
    assert rendered.titles == ["<img src=x onerror=pwned()> (opens in a new tab)"]


def test_a_quote_in_a_link_target_cannot_add_an_attribute(render: Render) -> None:
    rendered = render('[a](https://a.example/"onmouseover="pwned())')
    assert rendered.hrefs == ["https://a.example/%22onmouseover=%22pwned()"]
    assert [a.split("=")[0] for a in rendered.attributes] == [
        "a href",
        "a target",
        "a rel",
        "a title",
    ]


def test_a_link_title_is_not_markdown_the_address_alone_is_linked(render: Render) -> None:
    source = '[a](https://a.example/ "x onmouseover=pwned()")'
    rendered = render(source)
    assert rendered.hrefs == ["https://a.example/"]
    assert rendered.text == source
    assert not [a for a in rendered.attributes if " on" in a]


def test_an_image_is_never_loaded_only_linked(render: Render) -> None:
    rendered = render("![pic](https://a.example/p.png) ![x](javascript:pwned())")
    assert "img" not in rendered.tags
    assert rendered.hrefs == ["https://a.example/p.png"]


def test_a_dangerous_link_inside_other_constructs_is_refused_too(render: Render) -> None:
    source = (
        "**[a](javascript:pwned())**\n\n- [b](data:text/html,x)\n\n> [c](vbscript:x)\n\n"
        "# [d](JAVASCRIPT:pwned())\n\n~~_[e](javascript:pwned())_~~"
    )
    rendered = render(source)
    assert rendered.hrefs == []
    assert "a" not in rendered.tags


def test_a_link_after_an_allowed_one_is_checked_on_its_own(render: Render) -> None:
    rendered = render("[a](https://a.example/)(javascript:pwned())")
    assert rendered.hrefs == ["https://a.example/"]
    assert rendered.text == "a(javascript:pwned())"


def test_deep_quote_nesting_stops_at_four_levels(render: Render) -> None:
    rendered = render(">" * 50 + " deep <b>")
    assert rendered.tags.count("blockquote") == 4
    assert rendered.text.endswith("deep <b>")


def test_rendering_never_parses_a_string_as_html(js: Page) -> None:
    sources = [*NO_MARKUP, *(f"[x]({t})" for t in REFUSED_TARGETS), "**[a](https://a.example)**"]
    calls = js.evaluate(
        """async (sources) => {
          const { watchHtmlParsing } = await import("/harness/dom.js");
          const calls = watchHtmlParsing();
          const { renderMarkdown } = await import("/static/webwidget/frame/markdown.js");
          const { translator } = await import("/static/webwidget/frame/i18n.js");
          for (const source of sources) document.body.append(renderMarkdown(source, translator("en")));
          return calls;
        }""",
        sources,
    )
    assert calls == []
    assert js.locator("script, img, iframe, svg, style, [onerror], [onload]").count() == 0


# ---- plain text: its web addresses as links ------------------------------------------------

LINKIFY = """async (source) => {
  const { linkify } = await import("/static/webwidget/frame/markdown.js");
  const { translator } = await import("/static/webwidget/frame/i18n.js");
  const { describe } = await import("/harness/dom.js");
  return describe(linkify(source, translator("en")));
}"""


@pytest.fixture
def linkify(shared_js: Page) -> Render:
    return lambda source: Rendered(**shared_js.evaluate(LINKIFY, source))


def test_a_web_address_in_plain_text_is_a_safe_link_to_a_new_tab(linkify: Render) -> None:
    assert linkify("Track it at https://a.example/t?id=7, thanks.").html == (
        f"Track it at {link('https://a.example/t?id=7', 'https://a.example/t?id=7')}, thanks."
    )


def test_plain_text_links_only_http_and_https(linkify: Render) -> None:
    rendered = linkify("mailto:a@b.example javascript:alert(1) ftp://a.example http://b.example")
    assert rendered.hrefs == ["http://b.example/"]


def test_plain_text_stays_as_typed_around_its_links(linkify: Render) -> None:
    rendered = linkify("**not bold** <b>x</b> (see https://a.example/x)")
    assert rendered.text == "**not bold** <b>x</b> (see https://a.example/x)"
    assert rendered.tags == ["a"]


def test_a_web_address_inside_a_word_is_not_linked_in_plain_text(linkify: Render) -> None:
    assert linkify("xhttps://a.example").hrefs == []
