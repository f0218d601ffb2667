import io
import json
import os
from datetime import datetime
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader, PdfWriter

from assistant.index.readers import (
    SUPPORTED_SUFFIXES,
    ReadError,
    doc_id_for,
    is_supported,
    iter_files,
    read_file,
    read_file_report,
)
from assistant.types import Source
from tests.support.documents import make_pdf
from tests.support.samples import ROOT, SAMPLE_CORPUS

CORPUS = SAMPLE_CORPUS
BENCHMARK = ROOT.parent / "shared" / "datasets" / "realtimeqa" / "corpus.jsonl"


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def read_one(path: Path, root: Path | None = None) -> Source:
    sources = read_file(path, root or path.parent)
    assert len(sources) == 1
    return sources[0]


def reason(path: Path) -> str:
    with pytest.raises(ReadError) as info:
        read_file(path, path.parent)
    return str(info.value)


# ---------------------------------------------------------------- ids, suffixes, walking


def test_doc_id_is_stable_and_short() -> None:
    assert doc_id_for("a/b.txt") == doc_id_for("a/b.txt")
    assert doc_id_for("a/b.txt") != doc_id_for("a/c.txt")
    assert doc_id_for("x").startswith("d") and len(doc_id_for("x")) == 17
    assert doc_id_for("x") == "d11f6ad8ec52a2984"  # sha1("x")[:16]: must never change


def test_is_supported() -> None:
    expected = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".json", ".jsonl"}
    assert expected == SUPPORTED_SUFFIXES
    assert is_supported(Path("a/b.TXT")) and is_supported(Path("x.jsonl"))
    assert not is_supported(Path("a.txt.meta.json"))
    assert not is_supported(Path("photo.png")) and not is_supported(Path("Makefile"))


def test_iter_files_sorted_recursive_skips_hidden(tmp_path: Path) -> None:
    for name in ["b.txt", "a.md", "sub/c.pdf", "sub/deeper/d.xyz", ".hidden.txt", ".git/x.txt"]:
        write(tmp_path / name, "x")
    pairs = list(iter_files([tmp_path]))
    assert [p.relative_to(tmp_path).as_posix() for p, _ in pairs] == [
        "a.md", "b.txt", "sub/c.pdf", "sub/deeper/d.xyz",
    ]  # fmt: skip
    assert all(root == tmp_path for _, root in pairs)


def test_iter_files_file_given_directly_has_its_parent_as_root(tmp_path: Path) -> None:
    file = write(tmp_path / "dir" / ".explicit.txt", "x")
    assert list(iter_files([file])) == [(file, tmp_path / "dir")]


def test_iter_files_survives_symlink_loops(tmp_path: Path) -> None:
    write(tmp_path / "docs" / "a.txt", "x")
    os.symlink(tmp_path / "docs", tmp_path / "docs" / "loop")
    os.symlink(tmp_path / "docs", tmp_path / "again")
    os.symlink(tmp_path / "missing", tmp_path / "docs" / "broken.txt")
    files = [p.relative_to(tmp_path).as_posix() for p, _ in iter_files([tmp_path])]
    assert files.count("docs/a.txt") + files.count("again/a.txt") == 1
    assert len(files) == 1


def test_iter_files_missing_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        list(iter_files([tmp_path / "nope"]))


# ---------------------------------------------------------------- text and markdown


def test_sample_corpus_titles_and_dates() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus/ missing")
    by_name = {p.name: read_one(p, root) for p, root in iter_files([CORPUS]) if is_supported(p)}
    nato = by_name["000_7f57f19b72752444.txt"]
    live = by_name["004_b2e554588cd8baa4.txt"]
    assert nato.title == "NATO Reaffirms Long-Term Support to Ukraine Amid Security Crisis"
    assert live.title == "Live updates: Russia’s war in Ukraine"
    assert (nato.published, live.published) == ("2023-11-27", "2022-11-25")
    assert nato.extra["date_inferred"] and live.extra["date_inferred"]
    assert nato.source == "000_7f57f19b72752444.txt" and nato.doc_id == doc_id_for(nato.source)
    assert "Leave a Reply" not in live.text and "HealthyLine" not in live.text
    assert "Mirage.News" not in nato.text


def test_txt_plain(tmp_path: Path) -> None:
    path = write(tmp_path / "news" / "a.txt", "\ufeffStorm hits coast\r\n\r\nPower was cut.\r\n")
    source = read_one(path, tmp_path)
    assert source.source == "news/a.txt"
    assert source.text == "Storm hits coast\n\nPower was cut."
    assert source.title == "Storm hits coast"
    assert source.published is None and source.extra["date_inferred"] is False
    assert source.extra["file"] == "news/a.txt"


def test_txt_front_matter_is_metadata_not_text(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.md",
        '---\ntitle: "Storm: the aftermath"\ndate: 2022/06/12\nurl: https://x.example/s\n'
        "authors: [Jane Doe, John Roe]\n---\n# Heading in body\n\nBody text.\n",
    )
    source = read_one(path)
    assert source.text == "# Heading in body\n\nBody text."
    assert source.title == "Storm: the aftermath"
    assert source.published == "2022-06-12" and source.extra["date_inferred"] is False
    assert source.url == "https://x.example/s"
    assert source.authors == ["Jane Doe", "John Roe"]


def test_markdown_title_strips_hashes(tmp_path: Path) -> None:
    source = read_one(write(tmp_path / "a.markdown", "\n## Budget passes\n\nText here."))
    assert source.title == "Budget passes"


def test_sidecar_overrides_metadata(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "---\ntitle: Front\n---\nFirst line\n\nBody.")
    write(
        tmp_path / "a.txt.meta.json",
        json.dumps({"title": "Sidecar", "published": "June 12, 2022", "author": "By Ann Lee"}),
    )
    source, problems = read_file_report(path, tmp_path)
    assert problems == []
    assert source[0].title == "Sidecar"
    assert source[0].published == "2022-06-12"
    assert source[0].authors == ["Ann Lee"]


def test_bad_sidecar_is_reported_not_fatal(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "Title\n\nBody.")
    write(tmp_path / "a.txt.meta.json", "{not json")
    sources, problems = read_file_report(path, tmp_path)
    assert sources[0].title == "Title"
    assert len(problems) == 1 and problems[0].startswith("ignored sidecar a.txt.meta.json")


def test_date_inferred_from_text(tmp_path: Path) -> None:
    source = read_one(write(tmp_path / "a.txt", "Title\n\nOfficials met on Monday (27 November)."))
    assert source.published == "2023-11-27"
    assert source.extra["date_inferred"] is True
    assert source.extra["date_source"] == "text-weekday"


def test_utf16_text_with_bom(tmp_path: Path) -> None:
    source = read_one(write(tmp_path / "a.txt", "Café opens\n\nBody.".encode("utf-16")))
    assert source.title == "Café opens"


# ---------------------------------------------------------------- bad input reasons


def test_empty_file(tmp_path: Path) -> None:
    assert reason(write(tmp_path / "a.txt", b"")) == "empty file"
    assert reason(write(tmp_path / "b.txt", "  \n\n\t ")) == "empty file"
    assert reason(write(tmp_path / "c.json", b"")) == "empty file"
    assert reason(write(tmp_path / "d.jsonl", "\n\n")) == "empty file"


def test_only_boilerplate(tmp_path: Path) -> None:
    assert reason(write(tmp_path / "a.txt", "Source link\n\nLeave a Reply\n")) == (
        "no text after cleaning"
    )


def test_binary_renamed_txt(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10" + bytes(range(256))
    assert reason(write(tmp_path / "image.txt", png)).startswith("binary file, not text")
    controls = bytes([1, 2, 3, 4, 5, 6, 7, 8, 14, 15]) * 50
    assert reason(write(tmp_path / "ctl.md", controls)).startswith("binary file, not text")


def test_non_utf8_text(tmp_path: Path) -> None:
    # Latin-1 / Windows-1252 is read (issue 22); bytes no one-byte encoding fits are not.
    (source,) = read_file(
        write(tmp_path / "latin.txt", "Café prices rose.".encode("latin-1")), tmp_path
    )
    assert source.text == "Café prices rose." and source.extra["encoding"] == "cp1252"


def test_unsupported_suffix(tmp_path: Path) -> None:
    assert reason(write(tmp_path / "a.xyz", "text")) == "unsupported file type .xyz"


# ---------------------------------------------------------------- HTML

ARTICLE_HTML = """<!doctype html><html><head><title>Storm hits coast - Daily News</title>
<meta property="og:title" content="Storm hits coast">
<meta property="article:published_time" content="2022-06-12T10:00:00Z">
<meta name="author" content="Jane Doe">
<link rel="canonical" href="https://news.example.com/storm">
<style>.x{color:red}</style><script>var tracking = 1;</script></head>
<body><nav><a href="/">Home</a> <a href="/world">World</a></nav><header>Daily News</header>
<article><h1>Storm hits coast</h1><p>Thousands   lost
power on <b>Monday</b>.</p><div>Crews worked overnight.<br>Roads stayed closed.</div>
<p>Share this article</p><aside>Related: other stories</aside>
<form>Subscribe form</form></article>
<footer>© 2022 Daily News. All rights reserved.</footer></body></html>"""


def test_html_article(tmp_path: Path) -> None:
    source = read_one(write(tmp_path / "page.html", ARTICLE_HTML))
    assert source.text == (
        "Storm hits coast\n\nThousands lost power on Monday.\n\n"
        "Crews worked overnight.\nRoads stayed closed."
    )
    assert source.title == "Storm hits coast"
    assert source.published == "2022-06-12" and source.extra["date_inferred"] is False
    assert source.url == "https://news.example.com/storm"
    assert source.authors == ["Jane Doe"]


def test_html_fallbacks_body_title_time_and_url_date(tmp_path: Path) -> None:
    html = (
        "<html><head><title>Page title</title>"
        '<meta property="og:url" content="https://n.example/2021/03/04/x"></head><body>'
        "<h1>Big heading</h1><p>Para one.</p><p>Para <time datetime='2021-03-05'>5 March</time>"
        "</p></body></html>"
    )
    source = read_one(write(tmp_path / "page.htm", html))
    assert source.text == "Big heading\n\nPara one.\n\nPara 5 March"
    assert source.title == "Page title"
    assert source.published == "2021-03-05"  # <time datetime> beats the URL
    no_time = read_one(write(tmp_path / "b.html", html.replace("datetime='2021-03-05'", "")))
    assert no_time.published == "2021-03-04" and no_time.extra["date_source"] == "url"
    h1_only = read_one(write(tmp_path / "c.html", "<body><h1>Only heading</h1><p>x</p></body>"))
    assert h1_only.title == "Only heading"


def test_html_json_ld_metadata(tmp_path: Path) -> None:
    ld = {"@type": "NewsArticle", "headline": "LD headline", "datePublished": "2020-01-02",
          "author": [{"@type": "Person", "name": "Ann Lee"}]}  # fmt: skip
    html = f'<html><head><script type="application/ld+json">{json.dumps(ld)}</script></head>'
    html += "<body><p>Body text.</p></body></html>"
    source = read_one(write(tmp_path / "ld.html", html))
    assert (source.title, source.published, source.authors) == (
        "LD headline", "2020-01-02", ["Ann Lee"],
    )  # fmt: skip
    assert source.text == "Body text."


def test_html_declared_charset(tmp_path: Path) -> None:
    html = '<html><head><meta charset="windows-1252"></head><body><p>Café “open”</p></body></html>'
    source = read_one(write(tmp_path / "cp.html", html.encode("cp1252")))
    assert source.text == "Café “open”"


# ---------------------------------------------------------------- PDF


def test_pdf_pages_and_title(tmp_path: Path) -> None:
    pdf = make_pdf([["Storm hits coast", "Power cut on 12 June 2022."], ["Second page."]], "Storm")
    source = read_one(write(tmp_path / "a.pdf", pdf))
    assert source.text == "Storm hits coast\nPower cut on 12 June 2022.\n\nSecond page."
    assert source.title == "Storm"
    assert source.published == "2022-06-12" and source.extra["date_source"] == "text"


def test_pdf_title_falls_back_to_first_line(tmp_path: Path) -> None:
    pdf = make_pdf([["Council votes", "Body."]], "Microsoft Word - draft3.docx")
    assert read_one(write(tmp_path / "a.pdf", pdf)).title == "Council votes"


def test_truncated_pdf(tmp_path: Path) -> None:
    pdf = make_pdf([["Storm hits coast", "Body."]])
    why = reason(write(tmp_path / "cut.pdf", pdf[: len(pdf) // 2]))
    assert why.startswith("truncated or damaged PDF")


def test_damaged_pdf(tmp_path: Path) -> None:
    assert reason(write(tmp_path / "x.pdf", b"not a pdf at all")).startswith("not a PDF file")
    garbage = b"%PDF-1.4\n" + b"\x00garbage" * 100 + b"\n%%EOF\n"
    assert reason(write(tmp_path / "g.pdf", garbage)).startswith(
        ("truncated or damaged PDF", "no extractable text")
    )


def _encrypt(pdf: bytes, user: str, owner: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=user, owner_password=owner, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_encrypted_pdf(tmp_path: Path) -> None:
    pdf = make_pdf([["Secret memo", "Body."]])
    assert reason(write(tmp_path / "locked.pdf", _encrypt(pdf, "secret", "owner"))) == (
        "encrypted PDF"
    )
    # Only an owner password (no password to open): readable like any PDF.
    opened = read_one(write(tmp_path / "owner.pdf", _encrypt(pdf, "", "owner")))
    assert opened.text == "Secret memo\nBody."


def test_pdf_without_text(tmp_path: Path) -> None:
    assert reason(write(tmp_path / "scan.pdf", make_pdf([[]]))) == (
        "no extractable text (scanned PDF?)"
    )


# ---------------------------------------------------------------- DOCX


def test_docx(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Council approves budget", 1)
    document.add_paragraph("The council approved the budget.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Item"
    table.rows[0].cells[1].text = "Cost"
    document.add_paragraph("")
    document.add_paragraph("Second paragraph.")
    props = document.core_properties
    props.title, props.author, props.created = "Budget vote", "Ann Lee", datetime(2022, 6, 14)
    document.save(str(tmp_path / "a.docx"))
    source = read_one(tmp_path / "a.docx")
    assert source.text == (
        "Council approves budget\n\nThe council approved the budget.\n\nItem | Cost\n\n"
        "Second paragraph."
    )
    assert (source.title, source.authors, source.published) == (
        "Budget vote", ["Ann Lee"], "2022-06-14",
    )  # fmt: skip


def test_docx_template_defaults_are_not_metadata(tmp_path: Path) -> None:
    document = docx.Document()  # stamps author "python-docx", created 2013-12-23
    document.add_paragraph("Title line")
    document.add_paragraph("Talks resumed on Friday, November 25.")
    document.save(str(tmp_path / "b.docx"))
    source = read_one(tmp_path / "b.docx")
    assert source.title == "Title line" and source.authors == []
    assert source.published == "2022-11-25" and source.extra["date_inferred"] is True


def test_broken_docx(tmp_path: Path) -> None:
    assert reason(write(tmp_path / "a.docx", b"PK\x03\x04 not really")).startswith(
        ("not a valid .docx file", "damaged .docx file")
    )
    assert reason(write(tmp_path / "b.docx", "plain text")).startswith("not a valid .docx file")


# ---------------------------------------------------------------- JSON / JSONL dumps


def record(n: int, **fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "doc_id": f"rtqa-{n:04d}",
        "url": f"https://www.example.com/2022/06/{n:02d}/story-{n}/index.html",
        "title": f"Story {n}",
        "text": f"CNN —\n\nParagraph one of story {n}.\n\nRead More\n\nParagraph two.",
        "authors": ["Ann Lee"],
        "publish_date": f"2022/06/{n:02d}",
        "origin": "gold",
    }
    base.update(fields)
    return base


def test_jsonl_dump_like_the_benchmark(tmp_path: Path) -> None:
    lines = [json.dumps(record(1)), json.dumps(record(2, title="")), ""]
    lines.append(json.dumps(record(3, text="1. How relevant is this ad to you?", title="Ad page")))
    path = write(tmp_path / "dump" / "corpus.jsonl", "\n".join(lines))
    sources, problems = read_file_report(path, tmp_path)
    assert problems == []
    first, second, third = sources
    assert first.source == "https://www.example.com/2022/06/01/story-1/index.html"
    assert first.doc_id == doc_id_for(first.source)
    assert first.text == "CNN —\n\nParagraph one of story 1.\n\nParagraph two."
    assert (first.title, first.published, first.authors) == ("Story 1", "2022-06-01", ["Ann Lee"])
    assert first.extra == {
        "file": "dump/corpus.jsonl", "record": 1, "record_id": "rtqa-0001",
        "date_inferred": False, "date_source": "metadata",
    }  # fmt: skip
    assert second.title == "Paragraph one of story 2."  # dateline skipped
    assert third.extra["record"] == 4 and third.extra["headline_only"] is True
    assert third.text == "Ad page"


def test_jsonl_bad_records_are_skipped_and_reported(tmp_path: Path) -> None:
    lines = [
        json.dumps(record(1)),
        "{not json",
        json.dumps({"title": "no body"}),
        json.dumps([1, 2]),
        json.dumps(record(5, text="Source link", title="")),
        "[" * 100_000 + "]" * 100_000,
        json.dumps(record(1, title="dup")),
        json.dumps(record(8)),
    ]
    path = write(tmp_path / "d.jsonl", "\n".join(lines))
    sources, problems = read_file_report(path, tmp_path)
    assert [s.title for s in sources] == ["Story 1", "Story 8"]
    assert problems[0].startswith("record 2: invalid JSON")
    assert problems[1] == "record 3: no text field (body/text/content/article)"
    assert problems[2] == "record 4: not a JSON object (list)"
    assert problems[3] == "record 5: no text after cleaning"
    assert problems[4] == "record 6: JSON nested too deeply"
    assert problems[5] == "record 7: same source as record 1, skipped"
    assert read_file(path, tmp_path) == sources


def test_json_shapes_and_field_aliases(tmp_path: Path) -> None:
    items = [
        {"headline": "H1", "body": "Body one.", "link": "https://a.example/1",
         "pubDate": "Fri, 25 Nov 2022 10:00:00 GMT", "byline": "By Ann Lee and Bo Chen"},
        {"id": 42, "content": ["Para A.", "Para B."], "published_at": "2022-11-25T10:00:00Z",
         "author": {"name": "Cy Dee"}},
        {"article": "No ids here.", "date": "25 November 2022"},
    ]  # fmt: skip
    for key in ("articles", "items", "records", "data"):
        path = write(tmp_path / f"{key}.json", json.dumps({key: items}))
        sources = read_file(path, tmp_path)
        assert [s.source for s in sources] == ["https://a.example/1", "42", f"{key}.json#3"]
        assert [s.published for s in sources] == ["2022-11-25"] * 3
        assert sources[0].authors == ["Ann Lee", "Bo Chen"]
        assert sources[1].text == "Para A.\n\nPara B." and sources[1].authors == ["Cy Dee"]
        assert sources[1].extra["record_id"] == "42" and sources[1].title == "Para A."
    single = read_file(write(tmp_path / "one.json", json.dumps(items[0])), tmp_path)
    assert len(single) == 1 and single[0].title == "H1"
    as_list = read_file(write(tmp_path / "list.json", json.dumps(items)), tmp_path)
    assert len(as_list) == 3


def test_json_lines_saved_as_json(tmp_path: Path) -> None:
    path = write(tmp_path / "x.json", json.dumps(record(1)) + "\n" + json.dumps(record(2)))
    assert len(read_file(path, tmp_path)) == 2


def test_invalid_json(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.json", '[\n  {"text": "ok"},\n  {"text": }\n]')
    assert reason(path).startswith("invalid JSON at line 3:")
    assert reason(write(tmp_path / "bad.jsonl", "{oops\n{also bad")).startswith(
        "invalid JSON at line 1:"
    )
    assert reason(write(tmp_path / "num.json", "42")).startswith("no news records found")
    assert reason(write(tmp_path / "none.json", '[{"title": "x"}]')) == (
        "no usable records (record 1: no text field (body/text/content/article))"
    )


def test_deeply_nested_json(tmp_path: Path) -> None:
    deep = "[" * 200_000 + "]" * 200_000
    assert reason(write(tmp_path / "deep.json", deep)) == "JSON nested too deeply"
    assert reason(write(tmp_path / "deep.jsonl", deep)) == "JSON nested too deeply at line 1"


def test_non_utf8_json(tmp_path: Path) -> None:
    data = json.dumps({"text": "Café"}, ensure_ascii=False).encode("latin-1")
    assert reason(write(tmp_path / "a.json", data)).startswith("not valid UTF-8 text")


@pytest.mark.skipif(not BENCHMARK.exists(), reason="benchmark corpus not present")
def test_benchmark_corpus_reads_as_is() -> None:
    sources, problems = read_file_report(BENCHMARK, BENCHMARK.parent)
    assert len(sources) + len(problems) == 638
    assert len(problems) < 10 and all("no text after cleaning" in p for p in problems)
    assert all(s.title and s.text and s.published for s in sources)
    assert all(s.extra["record_id"].startswith("rtqa-") for s in sources)
    assert len({s.doc_id for s in sources}) == len(sources)


def test_leading_rule_is_not_front_matter(tmp_path: Path) -> None:
    text = "---\nA real first paragraph without fields.\n---\nMore text."
    assert read_one(write(tmp_path / "a.txt", text)).text == text


def test_oversized_file_is_refused_but_jsonl_streams(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("assistant.index.readers.MAX_FILE_BYTES", 1024)
    big = json.dumps([record(n) for n in range(1, 20)])
    assert reason(write(tmp_path / "big.json", big)).startswith("file too large")
    lines = "\n".join(json.dumps(record(n)) for n in range(1, 20))
    assert len(read_file(write(tmp_path / "big.jsonl", lines), tmp_path)) == 19
