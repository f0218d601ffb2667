"""One reader per format: files and news dumps in, cleaned ``Source`` records (with metadata) out.

Every reader returns the final stored text (``clean_text`` output): citation offsets point into
it, so nothing downstream may change it. A file that can't be used raises ``ReadError`` whose
message is the short reason shown to the user; bad records inside a good dump are skipped and
reported by ``read_file_report`` instead, because one broken line must not lose 600 articles.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.index.cleaning import clean_text, html_to_text, title_from_text
from assistant.index.dates import date_from_url, find_date_in_text, normalise_date
from assistant.types import Source, http_url

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".json", ".jsonl"}
)
SIDECAR_SUFFIX = ".meta.json"
# Files under this folder of the corpus came from strangers (the web UI, the API): what they
# say about themselves (a record's id or url, a canonical link, front matter) is only a claim.
UPLOAD_SUBDIR = "uploads"
# Far above any article; a bigger .json would need several GB of Python objects to parse.
MAX_FILE_BYTES = 256 * 1024 * 1024
# A .docx is a ZIP: its size on disk says nothing of what it unpacks to (a 143 KB file
# inflated to 28.7 M characters, 788 MB of memory). The sizes the package declares are
# checked before anything is parsed; zipfile never inflates a member past its declared size.
# Its XML is what gets parsed (about 20x its size in memory); pictures are only carried.
MAX_UNPACKED_XML_BYTES = 32 * 1024 * 1024
# Text a compressed format (PDF streams, DOCX) may yield: about 4,000 pages. Plain text,
# HTML and JSON are bounded by the file-size limit already.
MAX_TEXT_CHARS = 10_000_000

_TEXT_KEYS = ("body", "text", "content", "article")
_TITLE_KEYS = ("title", "headline")
_URL_KEYS = ("url", "link")
_DATE_KEYS = ("published_at", "publish_date", "published", "date", "pubDate")
_AUTHOR_KEYS = ("authors", "author", "byline")
_ID_KEYS = ("id", "doc_id")
_LIST_KEYS = ("articles", "items", "records", "data")
# Numbered records, per-record problems, and the reason to give if no record is usable.
_Parsed = tuple[list[tuple[int, Any]], list[tuple[int, str]], str | None]


class ReadError(Exception):
    """A file that can't be used; ``str(exc)`` is the short reason shown to the user."""


def doc_id_for(source: str) -> str:
    """Stable document id: the same source always maps to the same id across runs."""
    return "d" + hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]


def is_supported(path: Path) -> bool:
    """Whether ``path`` has a readable document format (sidecar metadata files are not)."""
    name = path.name.lower()
    return path.suffix.lower() in SUPPORTED_SUFFIXES and not name.endswith(SIDECAR_SUFFIX)


def iter_files(
    paths: list[Path], rejected: list[tuple[Path, Path, str]] | None = None
) -> Iterator[tuple[Path, Path]]:
    """Expand files and folders into ``(file, root)`` pairs, sorted, recursively.

    ``root`` is the folder given (a file given directly gets its parent). Hidden files and
    folders inside a given folder are skipped; symlinked folders are followed once, so a link
    loop or two links to the same folder can't repeat or hang. A link (to a file or a folder)
    that leads outside the folder given is not followed but rejected: a corpus or drop folder
    is a trust boundary, and whoever can write a link into it must not be able to publish any
    file the server may read. Every regular file is yielded:
    the caller reports the unsupported ones (see ``is_supported``). Entries that are not
    regular files (broken or looping links, pipes, sockets, devices: reading a pipe would
    block for ever) are never yielded; with ``rejected`` they are appended to it as
    ``(path, root, reason)`` so the caller can report them.

    Not llama-index's ``SimpleDirectoryReader``: at 0.14.25 it lists FIFOs and broken links as
    input files (reading a FIFO blocks for ever) and reports nothing about what it skipped.
    """
    for given in paths:
        if given.is_file():
            yield given, given.parent
            continue
        if not given.is_dir():
            raise FileNotFoundError(f"no such file or folder: {given}")
        base = os.path.realpath(given)
        visited = {base}
        for folder, dirnames, filenames in os.walk(given, followlinks=True):
            kept = []
            for name in sorted(dirnames):
                real = os.path.realpath(os.path.join(folder, name))
                if name.startswith(".") or real in visited:
                    continue
                if not _inside(real, base):
                    if rejected is not None:
                        rejected.append((Path(folder) / name, given, _OUTSIDE))
                    continue
                visited.add(real)
                kept.append(name)
            dirnames[:] = kept
            for name in sorted(filenames):
                file = Path(folder) / name
                if name.startswith("."):
                    continue
                if file.is_file():
                    if _inside(os.path.realpath(file), base):
                        yield file, given
                    elif rejected is not None:
                        rejected.append((file, given, _OUTSIDE))
                elif rejected is not None:
                    rejected.append((file, given, _not_regular_reason(file)))


_OUTSIDE = "symbolic link to outside the folder (not followed)"


def _inside(real: str, base: str) -> bool:
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def _not_regular_reason(path: Path) -> str:
    if path.is_symlink():
        try:
            path.stat()
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return "symbolic link loop"
            return f"broken symbolic link ({exc.strerror or exc})"
    return "not a regular file (pipe, socket or device)"


def read_file(path: Path, root: Path, untrusted: bool = False) -> list[Source]:
    """Parse one file into cleaned ``Source`` records; raises ``ReadError`` if it can't be used."""
    return read_file_report(path, root, untrusted)[0]


def is_upload(rel: str) -> bool:
    """Whether a file at ``rel`` (relative to the corpus folder) is an upload."""
    return rel.startswith(UPLOAD_SUBDIR + "/")


def read_file_report(
    path: Path, root: Path, untrusted: bool = False
) -> tuple[list[Source], list[str]]:
    """Like ``read_file``, also returning the problems that did not stop the file.

    For dumps these are skipped records ("record 7: no text field"); for documents, an
    unreadable sidecar. Raises ``ReadError`` when nothing usable comes out of the file.

    ``untrusted`` (an upload): every document is named by the file it is in (records as
    ``file#id`` or ``file#number``), never by an id or URL its content gives, and a URL it
    claims is kept as ``extra["claimed_url"]``, not as the document's link.
    """
    suffix = path.suffix.lower()
    if not is_supported(path):
        raise ReadError(f"unsupported file type {suffix or '(no suffix)'}")
    relpath = _relpath(path, root)
    try:
        size = path.stat().st_size
        if size == 0:
            raise ReadError("empty file")
        if suffix == ".jsonl":  # streamed line by line, so its size doesn't matter
            with path.open("rb") as handle:
                return _read_dump(_parse_lines(enumerate(handle, start=1)), relpath, untrusted)
        if size > MAX_FILE_BYTES:
            limit = MAX_FILE_BYTES // 2**20
            raise ReadError(f"file too large ({size // 2**20} MB; limit {limit} MB)")
        data = path.read_bytes()
    except OSError as exc:
        raise ReadError(f"cannot read file: {exc.strerror or exc}") from exc
    if not data.strip():
        raise ReadError("empty file")
    if suffix == ".json":
        return _read_dump(_json_records(data), relpath, untrusted)
    problems: list[str] = []
    meta: dict[str, Any] = {}
    decoded: dict[str, Any] = {}
    if suffix in (".txt", ".md", ".markdown"):
        raw, meta = _split_front_matter(_decode_text(data, decoded))
    elif suffix in (".html", ".htm"):
        raw, meta = _read_html(data)
    elif suffix == ".pdf":
        raw, meta = _read_pdf(data)
    else:
        raw, meta = _read_docx(path)
    meta.update(_read_sidecar(path, problems))
    text = clean_text(raw)
    if not text:
        raise ReadError("no text after cleaning")
    meta["published"], dating = _dating(meta, text)
    extra = {"file": relpath, "format": suffix.lstrip("."), **dating, **decoded}
    return [_make_source(relpath, text, meta, extra, untrusted)], problems


def _relpath(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return Path(os.path.relpath(path, root)).as_posix()


# metadata helpers
def _first_string(record: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = record.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        # Some exports split the body into a list of paragraphs.
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            joined = "\n\n".join(v.strip() for v in value if v.strip())
            if joined:
                return joined
    return None


def _authors(value: Any) -> list[str]:
    if isinstance(value, str):
        value = re.sub(r"^\s*by\s+", "", value, flags=re.IGNORECASE)
        items: list[Any] = re.split(r"\s*(?:;|&|\band\b|,)\s*", value)
    elif isinstance(value, list):
        items = value
    elif isinstance(value, dict):
        items = [value]
    else:
        return []
    names: list[str] = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str) and name.strip() and name.strip() not in names:
            names.append(name.strip())
    return names


def _meta_from_mapping(record: dict[str, Any]) -> dict[str, Any]:
    """The metadata fields a record, sidecar or front matter may carry, normalised."""
    meta: dict[str, Any] = {}
    if title := _first_string(record, _TITLE_KEYS):
        meta["title"] = title
    # Only http(s): a "url: javascript:..." would otherwise become a link in every front end.
    if url := http_url(_first_string(record, _URL_KEYS)):
        meta["url"] = url
    value = next((record[k] for k in _DATE_KEYS if str(record.get(k) or "").strip()), None)
    if isinstance(value, str | int | float):
        if published := normalise_date(str(value)):
            meta["published"] = published
        else:
            meta["bad_date"] = str(value)
    for key in _AUTHOR_KEYS:
        if authors := _authors(record.get(key)):
            meta["authors"] = authors
            break
    return meta


def _read_sidecar(path: Path, problems: list[str]) -> dict[str, Any]:
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if not sidecar.is_file():
        return {}
    try:
        value = json.loads(sidecar.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        problems.append(f"ignored sidecar {sidecar.name}: {exc}")
        return {}
    if not isinstance(value, dict):
        problems.append(f"ignored sidecar {sidecar.name}: not a JSON object")
        return {}
    meta = _meta_from_mapping(value)
    if "bad_date" in meta:
        problems.append(f"sidecar {sidecar.name}: unrecognised date {meta['bad_date']!r}")
    return meta


def _dating(meta: dict[str, Any], text: str | None) -> tuple[str | None, dict[str, Any]]:
    """The published date and how we know it: metadata, the URL, or (if given) the text."""
    published = meta.get("published")
    how = "metadata" if published else None
    if not published and meta.get("url"):
        published = date_from_url(meta["url"])
        how = "url" if published else None
    if not published and text is not None:
        published, year_inferred = find_date_in_text(text)
        how = ("text-weekday" if year_inferred else "text") if published else None
    inferred = how is not None and how != "metadata"
    return published, {"date_inferred": inferred, "date_source": how}


def _make_source(
    source: str, text: str, meta: dict[str, Any], extra: dict[str, Any], untrusted: bool = False
) -> Source:
    url = http_url(meta.get("url"))
    if untrusted and url:
        extra["claimed_url"], url = url, None
    return Source(
        doc_id=doc_id_for(source),
        source=source,
        text=text,
        title=meta.get("title") or title_from_text(text),
        url=url,
        published=meta.get("published"),
        authors=list(meta.get("authors", [])),
        extra=extra,
    )


# plain text and markdown
def _decode_text(data: bytes, extra: dict[str, Any] | None = None) -> str:
    """The text of a plain-text file: UTF-8 (or UTF-16 with its mark); otherwise the encoding
    charset-normalizer finds (newsroom archives are full of Windows-1252), written into
    ``extra["encoding"]`` so the document says how it was read."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 as Windows Notepad saves it
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ReadError("not valid UTF-16 text") from exc
    if b"\x00" in data:
        raise ReadError("binary file, not text (contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        legacy = _legacy_decode(data)
        if legacy is None:
            raise ReadError(
                f"not valid UTF-8 text, and no other encoding fits (binary?): byte "
                f"0x{data[exc.start]:02x} at offset {exc.start}"
            ) from exc
        encoding, text = legacy
        if extra is not None:
            extra["encoding"] = encoding
        log.info("read as %s (not UTF-8)", encoding)
    sample = text[:4096]
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\r\t\f")
    if control > len(sample) * 0.05:
        raise ReadError("binary file, not text (mostly control characters)")
    return text


# One byte a character, the encodings of legacy newsroom systems; multi-byte guesses on a
# file that is not UTF-8 turn binary into plausible CJK text.
_LEGACY = ["cp1252", "iso8859_15", "cp1250", "cp1251", "cp1257", "iso8859_2", "mac_roman"]


def _legacy_decode(data: bytes) -> tuple[str, str] | None:
    """(encoding, text) of a text file that is not UTF-8: Windows-1252 when every byte is one
    of its characters (what "Latin-1" files nearly always are, in English and Western European
    news), else charset-normalizer's choice among the one-byte encodings."""
    try:
        return "cp1252", data.decode("cp1252")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:1_000_000], cp_isolation=_LEGACY).best()
    return (best.encoding, data.decode(best.encoding)) if best is not None else None


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_FIELD_LINE = re.compile(r"^\s*(?:#|-\s|[A-Za-z_][\w-]*\s*:)")


def _split_front_matter(text: str) -> tuple[str, dict[str, Any]]:
    """Strip a ``---`` header of ``key: value`` lines (values may be ``[a, b]`` lists)."""
    match = _FRONT_MATTER.match(text)
    # A text opening with a "---" rule is not front matter unless every line is "key: value".
    lines = [line for line in match.group(1).split("\n") if line.strip()] if match else []
    if not match or len(lines) > 50 or not all(_FIELD_LINE.match(line) for line in lines):
        return text, {}
    fields: dict[str, Any] = {}
    for line in lines:
        key, sep, value = (part.strip() for part in line.partition(":"))
        if not sep or not value or key.startswith(("#", "-")):
            continue
        if value.startswith("[") and value.endswith("]"):
            fields[key] = [v.strip().strip("'\"") for v in value[1:-1].split(",") if v.strip()]
        else:
            fields[key] = value.strip("'\"")
    return text[match.end() :], _meta_from_mapping(fields)


# HTML
def _decode_html(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    declared = re.search(rb"""<meta[^>]+charset=["']?([\w-]+)""", data[:4096], re.IGNORECASE)
    if declared:
        try:
            return data.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    raise ReadError("not valid UTF-8 text (binary?) and no usable charset declared")


def _json_ld(tree: Any) -> dict[str, Any]:
    for script in tree.css('script[type="application/ld+json"]'):
        try:
            value = json.loads(script.text() or "")
        except (ValueError, RecursionError):
            continue
        items = value.get("@graph", [value]) if isinstance(value, dict) else value
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and ("datePublished" in item or "headline" in item):
                return item
    return {}


def _read_html(data: bytes) -> tuple[str, dict[str, Any]]:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(_decode_html(data))

    def attr(selector: str, name: str = "content") -> str | None:
        node = tree.css_first(selector)
        value = node.attributes.get(name) if node is not None else None
        return value.strip() if value and value.strip() else None

    ld = _json_ld(tree)
    title = attr('meta[property="og:title"]')
    for selector in ("title", "h1"):
        node = tree.css_first(selector)
        title = title or (node.text(strip=True) if node is not None else None)
    dates = [
        attr('meta[property="article:published_time"]'),
        attr('meta[name="date"]'),
        attr('[itemprop="datePublished"]') or attr('[itemprop="datePublished"]', "datetime"),
        ld.get("datePublished") if isinstance(ld.get("datePublished"), str) else None,
        attr("time[datetime]", "datetime"),
    ]
    published = next((d for d in map(normalise_date, filter(None, dates)) if d), None)
    headline = ld.get("headline")
    title = title or (headline if isinstance(headline, str) else None)
    meta: dict[str, Any] = {"title": title, "published": published}
    meta["url"] = http_url(attr('link[rel="canonical"]', "href") or attr('meta[property="og:url"]'))
    meta["authors"] = _authors(attr('meta[name="author"]') or ld.get("author"))
    return html_to_text(tree.css_first("article") or tree.body), meta


# PDF and DOCX
def _read_pdf(data: bytes) -> tuple[str, dict[str, Any]]:
    import io

    from pypdf import PdfReader

    if not data.lstrip().startswith(b"%PDF-"):
        raise ReadError("not a PDF file (no %PDF header)")
    # pypdf quietly "repairs" a cut-off file into fewer pages; a missing end marker is the tell.
    if b"%%EOF" not in data[-4096:]:
        raise ReadError("truncated or damaged PDF: no end-of-file marker")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ReadError("encrypted PDF")
        pages = []
        chars = 0
        for page in reader.pages:  # one page at a time: a flate bomb stops at the limit
            pages.append(page.extract_text() or "")
            chars += len(pages[-1])
            _check_text_length(chars)
        info = reader.metadata
        pdf_title = info.title if info is not None else None
    except ReadError:
        raise
    except Exception as exc:  # pypdf raises many types for broken files, and some bare ones
        if "decrypt" in str(exc).lower() or "encrypt" in str(exc).lower():
            raise ReadError("encrypted PDF") from exc
        raise ReadError(f"truncated or damaged PDF: {exc}") from exc
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text.strip():
        raise ReadError("no extractable text (scanned PDF?)")
    meta: dict[str, Any] = {}
    # Generators stamp titles like "Microsoft Word - draft3.docx"; those are not headlines.
    if isinstance(pdf_title, str) and pdf_title.strip():
        clean_title = pdf_title.strip()
        if not re.search(r"(?i)^(untitled|microsoft \w+ - )|\.(docx?|pdf|odt|rtf)$", clean_title):
            meta["title"] = clean_title
    return text, meta


def _check_text_length(chars: int) -> None:
    if chars > MAX_TEXT_CHARS:
        raise ReadError(
            f"text too long (over {chars / 1e6:.1f} M characters; limit {MAX_TEXT_CHARS / 1e6:g} M)"
        )


# python-docx's blank template stamps every new file with these; they say nothing about the news.
_DOCX_TEMPLATE_AUTHOR = "python-docx"
_DOCX_TEMPLATE_CREATED = datetime(2013, 12, 23, 23, 15).date()


def _read_docx(path: Path) -> tuple[str, dict[str, Any]]:
    import zipfile

    import docx
    from docx.table import Table

    if not zipfile.is_zipfile(path):
        raise ReadError("not a valid .docx file (not a ZIP package)")
    try:
        with zipfile.ZipFile(path) as package:
            members = package.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ReadError(f"not a valid .docx file: {exc}") from exc
    xml = sum(m.file_size for m in members if m.filename.endswith((".xml", ".rels")))
    total = sum(m.file_size for m in members)
    if xml > MAX_UNPACKED_XML_BYTES or total > MAX_FILE_BYTES:
        limit = MAX_UNPACKED_XML_BYTES // 2**20
        raise ReadError(
            f"unpacks to {max(xml, total) / 2**20:.0f} MB (limit {limit} MB of XML);"
            " a ZIP bomb or not an article"
        )
    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ReadError(f"not a valid .docx file: {exc}") from exc
    except Exception as exc:  # python-docx surfaces lxml and package errors unwrapped
        raise ReadError(f"damaged .docx file: {exc}") from exc
    blocks: list[str] = []
    chars = 0
    for item in document.iter_inner_content():
        before = len(blocks)
        if isinstance(item, Table):
            for row in item.rows:
                cells = [cell.text.strip() for cell in row.cells if cell.text.strip()]
                if cells:
                    blocks.append(" | ".join(dict.fromkeys(cells)))
        elif item.text.strip():
            blocks.append(item.text)
        chars += sum(map(len, blocks[before:]))
        _check_text_length(chars)
    props = document.core_properties
    meta: dict[str, Any] = {}
    if props.title and props.title.strip():
        meta["title"] = props.title.strip()
    if props.author and props.author.strip() != _DOCX_TEMPLATE_AUTHOR:
        meta["authors"] = _authors(props.author)
    created = props.created
    if isinstance(created, datetime) and created.date() != _DOCX_TEMPLATE_CREATED:
        meta["published"] = created.date().isoformat()
    return "\n\n".join(blocks), meta


# JSON / JSONL news dumps
def _read_dump(
    parsed: _Parsed, relpath: str, untrusted: bool = False
) -> tuple[list[Source], list[str]]:
    records, bad, fatal = parsed
    sources: list[Source] = []
    seen: dict[str, int] = {}
    for number, record in records:
        try:
            source = _record_source(record, relpath, number, untrusted)
        except ReadError as exc:
            bad.append((number, str(exc)))
            continue
        if source.source in seen:
            bad.append((number, f"same source as record {seen[source.source]}, skipped"))
            continue
        seen[source.source] = number
        sources.append(source)
    problems = [f"record {number}: {why}" for number, why in sorted(bad)]
    if not sources:
        if fatal:
            raise ReadError(fatal)
        raise ReadError(f"no usable records ({problems[0]})" if problems else "empty file")
    return sources, problems


def _records_of(value: Any) -> list[tuple[int, Any]]:
    if isinstance(value, dict):
        for key in _LIST_KEYS:
            if isinstance(value.get(key), list):
                return list(enumerate(value[key], start=1))
        return [(1, value)]
    if isinstance(value, list):
        return list(enumerate(value, start=1))
    raise ReadError("no news records found (expected an object or a list of objects)")


def _json_records(data: bytes) -> _Parsed:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReadError(f"not valid UTF-8 text (binary?): byte offset {exc.start}") from exc
    try:
        return _records_of(json.loads(text)), [], None
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise ReadError(f"invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise ReadError("JSON nested too deeply") from exc
    # "Extra data" after the first value: JSON Lines saved under a .json name.
    return _parse_lines(enumerate(data.split(b"\n"), start=1))


def _parse_lines(lines: Iterator[tuple[int, bytes]]) -> _Parsed:
    """Records by line number; bad lines become problems, the first also the fatal reason."""
    records: list[tuple[int, Any]] = []
    problems: list[tuple[int, str]] = []
    first_error: str | None = None
    for number, raw in lines:
        line = raw.removeprefix(b"\xef\xbb\xbf") if number == 1 else raw
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line.decode("utf-8"))))
            continue
        except UnicodeDecodeError:
            reason, fatal = "not valid UTF-8 text", f"not valid UTF-8 text at line {number}"
        except json.JSONDecodeError as exc:
            reason, fatal = f"invalid JSON: {exc.msg}", f"invalid JSON at line {number}: {exc.msg}"
        except RecursionError:
            reason, fatal = "JSON nested too deeply", f"JSON nested too deeply at line {number}"
        problems.append((number, reason))
        first_error = first_error or fatal
    return records, problems, first_error


def _record_source(record: Any, relpath: str, number: int, untrusted: bool = False) -> Source:
    if not isinstance(record, dict):
        raise ReadError(f"not a JSON object ({type(record).__name__})")
    raw = _first_string(record, _TEXT_KEYS)
    if raw is None:
        raise ReadError("no text field (" + "/".join(_TEXT_KEYS) + ")")
    meta = _meta_from_mapping(record)
    ids = (record.get(key) for key in _ID_KEYS)
    record_id = next((str(v) for v in ids if isinstance(v, str | int) and str(v).strip()), None)
    if untrusted:  # named by its file, so it can only ever replace a record of the same file
        source = f"{relpath}#{record_id or number}"
    else:
        source = meta.get("url") or record_id or f"{relpath}#{number}"
    text = clean_text(raw)
    headline_only = False
    if not text:
        # Pages whose whole body was an ad widget still have a real headline worth finding.
        if not meta.get("title"):
            raise ReadError("no text after cleaning")
        text, headline_only = clean_text(meta["title"]), True
    # Dumps carry their own dates; guessing one from a record's text would be noise.
    meta["published"], dating = _dating(meta, None)
    extra: dict[str, Any] = {"file": relpath, "record": number, **dating}
    if record_id is not None:
        extra["record_id"] = record_id
    if headline_only:
        extra["headline_only"] = True
    return _make_source(source, text, meta, extra, untrusted)
