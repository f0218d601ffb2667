"""A corpus folder full of broken and hostile files: each is reported with a reason and
skipped, every good file beside them is indexed, nothing hangs or escapes."""

from __future__ import annotations

import base64
import io
import json
import os
import time
from pathlib import Path

from pypdf import PdfReader, PdfWriter

from assistant.app import Assistant
from assistant.index.ingestion import IngestReport
from tests.support.corpusgen import article
from tests.support.documents import make_pdf
from tests.support.samples import make_settings

GOOD_TEXT = article(1)[1]


def _encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([["Budget vote secret."]]))))
    writer.encrypt(user_password="hunter22", owner_password="o", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _hostile_html() -> str:
    blob = base64.b64encode(os.urandom(3_750_000)).decode()  # a 5 MB data: URI
    script = "var s='" + "x" * 100_000 + "'; document.write('<p>injected</p>');"
    return (
        "<html><head><title>Harbour quotas row in Oban</title>"
        f"<script>{script}</script><style>p{{color:red}}</style></head><body>"
        f'<img src="data:image/png;base64,{blob}" alt="chart">'
        "<article><h1>Harbour quotas row in Oban</h1>"
        "<p>Fishermen in Oban protested on Friday against the new harbour quotas.</p>"
        f"<script>alert('{'y' * 1000}')</script>"
        "<p>The harbour master said the quotas would be reviewed in the spring.</p>"
        "<noscript>Enable JavaScript to read this article.</noscript></article></body></html>"
    )


def build_hostile_corpus(corpus: Path) -> tuple[dict[str, str], set[str]]:
    """Writes the corpus; returns (expected skip reason fragment by path, good paths)."""
    corpus.mkdir(parents=True)
    good = {
        "good.txt": GOOD_TEXT,
        "good.md": article(2)[1],
        "sub/good.json": json.dumps({"title": "Tenby bridge repairs", "text": article(3)[1]}),
        "hostile.html": _hostile_html(),
        "name\x1b[31mwith escape.txt": article(4)[1],  # odd name, good content
        "two..dots..in-name.txt": article(5)[1],
    }
    bad = {
        "empty.txt": (b"", "empty file"),
        "blank.md": (b" \n\n\t \n", "empty file"),
        "binary.txt": (b"\x89PNG\r\n\x1a\n" + os.urandom(4000), "binary file"),
        "nul.md": (b"Title\n\x00\x00\x00binary", "binary file"),
        "truncated.pdf": (make_pdf([["Half a page."]])[:200], "truncated or damaged PDF"),
        "encrypted.pdf": (_encrypted_pdf(), "encrypted PDF"),
        "fake.docx": (os.urandom(2000), "not a valid .docx"),
        "invalid.json": (b'{"title": "x", "text": ', "invalid JSON"),
        "deep.json": (b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
        "scripts-only.html": (b"<html><script>alert(1)</script></html>", "no text"),
        "big.txt": (b"word " * 1_900_000, "file too large"),
        "line\nbreak.txt": (b"", "empty file"),
        "photo.png": (b"\x89PNG\r\n", "unsupported file type"),
    }
    for name, text in good.items():
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        (corpus / name).write_text(text, encoding="utf-8")
    for name, (data, _) in bad.items():
        (corpus / name).write_bytes(data)
    # Not UTF-8 but Latin-1 / Windows-1252, as old newsroom systems write: read (issue 22).
    (corpus / "latin1.txt").write_bytes("Café crème brûlée à la carte".encode("latin-1"))
    # A JSON Lines dump with one good record, one nested too deeply, one not an object.
    dump = [json.dumps({"id": "ok-1", "title": "Kelso market rents", "text": article(6)[1]}),
            "[" * 100_000 + "]" * 100_000, "42"]  # fmt: skip
    (corpus / "dump.jsonl").write_text("\n".join(dump), encoding="utf-8")
    # Links: a loop of two, a link to itself, a dangling one, a folder loop, and a link to a
    # good article outside the corpus (not followed: the folder is a trust boundary).
    os.symlink("loop_b.txt", corpus / "loop_a.txt")
    os.symlink("loop_a.txt", corpus / "loop_b.txt")
    os.symlink("self.txt", corpus / "self.txt")
    os.symlink("missing.txt", corpus / "dangling.txt")
    os.symlink("..", corpus / "sub" / "up")
    outside = corpus.parent / "outside"
    outside.mkdir()
    (outside / "elsewhere.txt").write_text(article(7)[1], encoding="utf-8")
    os.symlink(outside / "elsewhere.txt", corpus / "linked.txt")
    os.mkfifo(corpus / "pipe.txt")  # reading it would block for ever
    expected = {name: why for name, (_, why) in bad.items()}
    expected |= {
        "loop_a.txt": "symbolic link loop",
        "loop_b.txt": "symbolic link loop",
        "self.txt": "symbolic link loop",
        "dangling.txt": "broken symbolic link",
        "pipe.txt": "not a regular file",
        "linked.txt": "symbolic link to outside the folder (not followed)",
        "dump.jsonl": "record 2: JSON nested too deeply",
    }
    return expected, {*good, "latin1.txt"}


def test_every_bad_file_is_reported_every_good_one_indexed_once(tmp_path: Path) -> None:
    expected, good = build_hostile_corpus(tmp_path / "corpus")
    a = Assistant(make_settings(tmp_path, max_file_mb=8.0))
    t0 = time.perf_counter()
    report = a.ingest()
    elapsed = time.perf_counter() - t0

    reasons: dict[str, list[str]] = {}
    for path, why in report.skipped:
        reasons.setdefault(path, []).append(why)
    assert set(reasons) == set(expected), report.summary()
    for path, fragment in expected.items():
        assert any(fragment in why for why in reasons[path]), (path, reasons[path])
    assert any("record 3: not a JSON object" in why for why in reasons["dump.jsonl"])

    sources = {d["source"] for d in a.documents()}
    # Records of dumps are named by their id, or file#number.
    assert sources == (good - {"sub/good.json"}) | {"sub/good.json#1", "ok-1"}
    assert report.docs_added == len(good) + 1
    html = next(d for d in a.documents() if d["source"] == "hostile.html")
    text = a.store.doc_texts([html["doc_id"]])[html["doc_id"]]
    assert "quotas would be reviewed" in text
    assert not any(bad in text for bad in ("alert", "document.write", "base64", "xxxx", "red}"))
    assert len(text) < 1000
    # The loop through sub/up did not index anything twice.
    assert len(sources) == len(a.documents())
    assert elapsed < 120  # generous: only guards against a hang, not a timing claim

    summary = report.summary()
    assert "\x1b" not in summary
    assert "skipped line\\nbreak.txt: empty file" in summary
    assert all(line.startswith(("files:", "documents:", "chunks:", "time:", "skipped ",
                                "added “", "... and "))
               for line in summary.splitlines())  # fmt: skip

    again = a.ingest()
    assert again.docs_added == again.docs_updated == again.chunks_added == 0
    assert again.files_unchanged == report.files_read
    # Whole files are reported again; bad records inside an unchanged dump were reported when
    # it was read, and it is not read again.
    assert sorted(again.skipped) == sorted(
        (path, why) for path, why in report.skipped if not why.startswith("record ")
    )


def test_odd_names_are_escaped_in_the_summary() -> None:
    report = IngestReport(skipped=[("a\x1b]0;pwned\x07b.txt", "bad\nreason")])
    summary = report.summary()
    assert "\x1b" not in summary and "\x07" not in summary
    assert "skipped a\\x1b]0;pwned\\x07b.txt: bad\\nreason" in summary
