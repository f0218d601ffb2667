from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from assistant.index.cleaning import clean_text, html_to_text, is_boilerplate_line, title_from_text

CORPUS = Path(__file__).resolve().parents[2] / "corpus"

SAMPLES = {
    "000_7f57f19b72752444.txt": [
        "NATO",  # the section label repeated under the headline
        "/Public Release. This material from the originating organization/author(s) might be",
    ],
    "004_b2e554588cd8baa4.txt": [
        "HealthyLine Products For Natural Gemstone Therapy!",
        "Source link",
        "Leave a Reply",
    ],
}


def _is_listed(line: str, boilerplate: list[str]) -> bool:
    # Short entries must match the whole line ("NATO" also starts real paragraphs).
    return any(line.strip() == b or (len(b) > 20 and line.startswith(b)) for b in boilerplate)


def _sample(name: str) -> str:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"sample {name} not in corpus/")
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_samples_keep_every_real_paragraph_and_lose_the_boilerplate(name: str) -> None:
    raw = _sample(name)
    cleaned = clean_text(raw)
    kept_lines = cleaned.split("\n")
    boilerplate = SAMPLES[name]
    real = [
        line.replace("\u00a0", " ").rstrip()
        for line in raw.split("\n")
        if line.strip() and not _is_listed(line, boilerplate)
    ]
    assert len(real) >= 7
    for line in real:
        assert line in kept_lines, line
    for line in boilerplate:
        assert not any(_is_listed(kept, [line]) for kept in kept_lines[1:]), line
    assert "\u00a0" not in cleaned
    assert "\n\n\n" not in cleaned
    assert cleaned == cleaned.strip()


def test_sample_000_disclaimer_removed_entirely() -> None:
    cleaned = clean_text(_sample("000_7f57f19b72752444.txt"))
    assert "Mirage.News" not in cleaned
    assert "View in full here" not in cleaned
    last = 'we must work together to respond," he said.'
    assert cleaned.endswith(last)


def test_whitespace_normalisation() -> None:
    raw = "Title\r\n\r\nA\u00a0b   \r\nc\u200bd\t\n\n\n\n\nLast\u202fline  \n\n"
    assert clean_text(raw) == "Title\n\nA b\ncd\n\nLast line"
    assert clean_text("old\rmac") == "old\nmac"
    assert clean_text("   \n\n  ") == ""


@pytest.mark.parametrize(
    "line",
    [
        "Source link",
        "Leave a Reply",
        "Leave a comment",
        "Share this article",
        "Share on Facebook",
        "Facebook Twitter Email",
        "Facebook | Twitter | LinkedIn | Print",
        "ADVERTISEMENT",
        "Advertisement:",
        "Story continues below advertisement",
        "Read more",
        "READ MORE:",
        "Read more: Meet the space trailblazers of color",
        "Related Articles",
        "Related:",
        "View in full here.",
        "Sign up for our newsletter to get the latest news.",
        "Get CNN Health's weekly newsletter Sign up here to get The Results Are In.",
        "(You can get this delivered to your inbox daily. Sign up here.)",
        "Click here to subscribe",
        "© 2022 Daily News. All rights reserved.",
        "Copyright 2022 The Associated Press. All rights reserved.",
        "Copyright © 2021 Example Media",
        "We use cookies to improve your experience. By continuing you accept our policy.",
        "This website uses cookies.",
        "Follow us on Twitter for updates",
        "1. How relevant is this ad to you?",
        "Skip to main content",
        "/Public Release. This material from the originating organization/author(s) might be of "
        "the point-in-time nature. Mirage.News does not take institutional positions or sides, "
        "and all views are solely those of the author(s).View in full here.",
        "HealthyLine Products For Natural Gemstone Therapy!",
        "Get Your Free Trial Today!",
    ],
)
def test_boilerplate_lines(line: str) -> None:
    assert is_boilerplate_line(line)
    assert clean_text(f"Headline here\n\n{line}\n\nBody sentence of the article.") == (
        "Headline here\n\nBody sentence of the article."
    )


@pytest.mark.parametrize(
    "line",
    [
        "Share prices fell 3% on Monday after the report.",
        "Advertisement revenue fell by half last year, the company said.",
        "Read more about the reforms in the report, the minister said.",
        "Copyright lawsuits are piling up against AI companies.",
        "“We Will Never Surrender!”",
        "The crowd shouted for more!",
        "Stop!",
        "NATO Secretary General Jens Stoltenberg speaks during a news conference in Brussels.",
        "The company says it uses cookies and tracking pixels in ways regulators now question, "
        "and the inquiry will decide whether those practices broke the law across the bloc.",
        "Related coverage from our partners is linked below, and the full investigation runs to "
        "twelve chapters over the coming weeks.",
        "Facebook",
        "Comments from residents were mixed.",
    ],
)
def test_real_sentences_survive(line: str) -> None:
    assert not is_boilerplate_line(line)
    text = f"Headline here\n\n{line}\n\nAnother paragraph."
    assert line in clean_text(text)


def test_single_word_label_after_title_dropped_only_when_it_repeats_the_title() -> None:
    assert clean_text("NATO meets in Brussels\n\nNATO\n\nMinisters met.") == (
        "NATO meets in Brussels\n\nMinisters met."
    )
    # A one-word line that isn't in the headline, or isn't the second line, stays.
    kept = "NATO meets in Brussels\n\nUkraine\n\nMinisters met."
    assert clean_text(kept) == kept
    later = "NATO meets in Brussels\n\nMinisters met.\n\nNATO\n\nMore text."
    assert clean_text(later) == later


def test_html_to_text_blocks_and_furniture() -> None:
    tree = LexborHTMLParser(
        "<html><body><nav>Home | World</nav><header>Site</header>"
        "<div><h1>Title</h1><p>One  <b>bold</b>\n word.</p><p>Two<br>lines</p>"
        "<ul><li>a</li><li>b</li></ul><script>x=1</script><aside>Ad</aside></div>"
        "<footer>Footer</footer></body></html>"
    )
    assert html_to_text(tree.body) == "Title\n\nOne bold word.\n\nTwo\nlines\n\na\n\nb"
    assert html_to_text(None) == ""


def test_html_to_text_survives_deep_nesting() -> None:
    html = "<div>" * 5000 + "deep text" + "</div>" * 5000
    assert html_to_text(LexborHTMLParser(html).body) == "deep text"


def test_title_from_text() -> None:
    assert title_from_text("\n\n# Storm hits coast\n\nBody") == "Storm hits coast"
    assert (
        title_from_text("Washington CNN —\n\nSenators agreed a deal.") == "Senators agreed a deal."
    )
    long = "word " * 60
    title = title_from_text(long)
    assert len(title) <= 151 and title.endswith("…")
    assert title_from_text("") == ""
