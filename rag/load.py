"""Files and records → Documents.

Formats: .txt, .md, .html/.htm (main text via trafilatura, not page boilerplate), .pdf (pypdf),
.json / .jsonl / .jsonl.gz / .json.gz records with the usual news field names (RealTimeQA and
MultiHop-RAG files load as they are). A text file may carry metadata in a sidecar
`<file>.meta.json`. Every failure is a LoadError naming the file (and line) and the problem.

The document id is a hash of the text, so loading the same content twice gives the same id and
re-ingesting is a no-op; `path` records where it came from, so a changed file can replace itself.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rag.errors import LoadError
from rag.guess import guess_date, guess_title, stated_title
from rag.instructions import is_instruction
from rag.types import Document

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
RECORD_SUFFIXES = {".json", ".jsonl", ".ndjson"}
SUPPORTED = [
    *sorted(TEXT_SUFFIXES | HTML_SUFFIXES | RECORD_SUFFIXES),
    ".pdf",
    ".jsonl.gz",
    ".json.gz",
]

FIELDS = {
    "text": ("text", "body", "content", "article", "context", "maintext"),
    "title": ("title", "headline", "name"),
    "source": ("source", "outlet", "publisher", "site", "sitename", "source_name"),
    "published_at": (
        "published_at",
        "publish_date",
        "published",
        "date",
        "pubDate",
        "pub_date",
        "date_publish",
        "datetime",
    ),
    "url": ("url", "link", "href"),
    "authors": ("authors", "author", "byline"),
    "key": ("doc_id", "id", "paragraph_id", "guid", "uuid"),
}

# WordPress-style shortcodes left in scraped text ("[embedpost slug=...]") are not article text.
_SHORTCODE_LINE = re.compile(r"^\s*\[[a-z_]+(\s[^\]]*)?\]\s*$", re.MULTILINE)
_SIDECAR = ".meta.json"


def doc_id_for(text: str) -> str:
    return "d" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:15]


def normalize_text(text: str) -> str:
    """Line endings, shortcodes, trailing blank space: the text spans will index into."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = _SHORTCODE_LINE.sub("", text)
    lines = [ln.rstrip() for ln in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def normalize_date(value: Any) -> str | None:
    """Any common date form → YYYY-MM-DD, or None when it cannot be read."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime | date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value)).strftime("%Y-%m-%d")
        except (OverflowError, OSError, ValueError):
            return None
    s = str(value).strip()
    m = re.match(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})", s)
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        except ValueError:
            return None
    try:
        from dateutil import parser as dateparser

        return dateparser.parse(s, fuzzy=True).date().isoformat()
    except (ValueError, OverflowError, ImportError):
        return None


def _pick(record: dict[str, Any], field: str) -> Any:
    for name in FIELDS[field]:
        if name in record and record[name] not in (None, ""):
            return record[name]
    return None


def _authors(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(a.strip() for a in re.split(r",| and ", value) if a.strip())
    if isinstance(value, list | tuple):
        return tuple(str(a.get("name", a) if isinstance(a, dict) else a) for a in value)
    return (str(value),)


def make_document(
    text: str,
    *,
    path: str,
    title: Any = None,
    source: Any = None,
    published_at: Any = None,
    url: Any = None,
    authors: Any = None,
    file: Path | None = None,
) -> Document:
    """A Document. For a file (`file`: text, HTML, PDF), a title or date its metadata lacks is
    read from the text, the modification day being the last-resort date, and marked guessed.
    Records of a JSON file (file=None) are structured data: what they lack is left empty, so
    the measured benches, which load records, see exactly what the data says.
    """
    clean = normalize_text(text)
    if not clean:
        raise LoadError(path, "no text (the document is empty)")
    # metadata is shown, embedded and read by the models: a field that instructs the assistant
    # ("SYSTEM: say ...") is not metadata, and is left out like a missing one
    title, source = (None if is_instruction(str(v or "")) else v for v in (title, source))
    names = tuple(a for a in _authors(authors) if not is_instruction(a))
    guessed: list[str] = []
    if file is not None and not str(title or "").strip():
        title = guess_title(clean) or file.stem.replace("_", " ").replace("-", " ")
        if not stated_title(clean):
            guessed.append("title")
    if file is not None and normalize_date(published_at) is None:
        published_at = guess_date(clean, file)
        if published_at:
            guessed.append("published_at")
    return Document(
        id=doc_id_for(clean),
        text=clean,
        title=str(title).strip() if title else "",
        source=str(source).strip() if source else "",
        published_at=normalize_date(published_at),
        url=str(url).strip() if url else "",
        authors=names,
        path=path,
        guessed=tuple(guessed),
    )


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise LoadError(str(path), f"cannot read file ({e.strerror or e})") from e
    return decode_text(raw, str(path))


def decode_text(raw: bytes, name: str) -> str:
    """UTF-8 text or a LoadError saying why not (binary, other encoding)."""
    if b"\x00" in raw[:8192]:
        raise LoadError(name, "binary file, not text (contains NUL bytes)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise LoadError(
            name,
            f"not UTF-8 text (invalid byte 0x{raw[e.start]:02x} at offset {e.start}); "
            "re-save it as UTF-8",
        ) from e


def _sidecar(path: Path) -> dict[str, Any]:
    meta_path = path.with_name(path.name + _SIDECAR)
    if not meta_path.exists():
        return {}
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LoadError(str(meta_path), f"malformed metadata sidecar ({e})") from e
    if not isinstance(meta, dict):
        raise LoadError(str(meta_path), "metadata sidecar must be a JSON object")
    return meta


def _fields(record: dict[str, Any]) -> dict[str, Any]:
    return {f: _pick(record, f) for f in ("title", "source", "published_at", "url", "authors")}


def load_text(path: Path) -> list[Document]:
    text = _read_text(path)
    return [make_document(text, path=str(path), file=path, **_fields(_sidecar(path)))]


def load_html(path: Path) -> list[Document]:
    import trafilatura

    html = _read_text(path)
    if "<" not in html:
        raise LoadError(str(path), "not HTML (no markup found)")
    try:
        html = _visible_html(html)
        body = trafilatura.extract(
            html, include_comments=False, include_tables=False, favor_precision=True
        )
        meta = trafilatura.extract_metadata(html)
    except Exception as e:  # trafilatura raises many parser types on broken markup
        raise LoadError(str(path), f"malformed HTML ({type(e).__name__}: {e})") from e
    if not body or not body.strip():
        raise LoadError(str(path), "no article text found in the HTML")
    side = _fields(_sidecar(path))
    return [
        make_document(
            body,
            path=str(path),
            title=side["title"] or (meta.title if meta else None),
            source=side["source"] or (meta.sitename if meta else None),
            published_at=side["published_at"] or (meta.date if meta else None),
            url=side["url"] or (meta.url if meta else None),
            authors=side["authors"] or (meta.author if meta else None),
            file=path,
        )
    ]


_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


def _visible_html(html: str) -> str:
    """The page less what a reader never sees (comments, `hidden`, `aria-hidden`, display:none),
    where text aimed at a model rather than a reader hides; trafilatura keeps some of it."""
    import lxml.html

    tree = lxml.html.fromstring(html)
    for el in tree.xpath("//comment() | //template | //*[@hidden] | //*[@aria-hidden='true']"):
        el.drop_tree()
    for el in tree.xpath("//*[@style]"):
        if _HIDDEN_STYLE.search(el.get("style", "")):
            el.drop_tree()
    return lxml.html.tostring(tree, encoding="unicode")


def load_pdf(path: Path) -> list[Document]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except (PdfReadError, ValueError, KeyError, OSError, TypeError) as e:
        raise LoadError(str(path), f"malformed PDF ({type(e).__name__}: {e})") from e
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text.strip():
        raise LoadError(str(path), "no extractable text in the PDF (scanned images?)")
    side = _fields(_sidecar(path))
    return [
        make_document(
            text,
            path=str(path),
            title=side["title"] or (info.title if info and info.title else None),
            source=side["source"],
            published_at=side["published_at"]
            or (info.creation_date if info and info.get("/CreationDate") else None),
            url=side["url"],
            authors=side["authors"] or (info.author if info else None),
            file=path,
        )
    ]


def _records_from_json(data: Any, path: Path) -> Iterator[tuple[str, Any]]:
    if isinstance(data, dict):
        for key in ("articles", "documents", "data", "items", "records"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            yield "1", data
            return
    if not isinstance(data, list):
        raise LoadError(
            str(path), "JSON must be an object, a list of objects, or {articles: [...]}"
        )
    for i, rec in enumerate(data):
        yield f"item {i}", rec


def _open_maybe_gz(path: Path, max_unpacked_mb: float) -> bytes:
    """The file's bytes, a .gz unpacked in blocks and stopped at the limit (a small file can
    unpack to gigabytes: a gzip bomb must fail with a message, not fill memory)."""
    if path.suffix != ".gz":
        try:
            return path.read_bytes()
        except OSError as e:
            raise LoadError(str(path), f"cannot read file ({e.strerror or e})") from e
    limit = int(max_unpacked_mb * 1e6)
    parts: list[bytes] = []
    size = 0
    try:
        with gzip.open(path, "rb") as f:
            while block := f.read(1 << 20):
                size += len(block)
                if size > limit:
                    raise LoadError(
                        str(path),
                        f"unpacks to more than {max_unpacked_mb:g} MB (setting "
                        "max_unpacked_mb): split it, or raise the limit if it is genuine",
                    )
                parts.append(block)
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
        raise LoadError(str(path), f"cannot read compressed file ({e})") from e
    return b"".join(parts)


def load_records(path: Path, max_unpacked_mb: float = 500.0) -> list[Document]:
    raw = _open_maybe_gz(path, max_unpacked_mb)
    text = decode_text(raw, str(path))
    name = path.name.removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson")):
        items: Iterable[tuple[str, Any]] = _jsonl_items(text, path)
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise LoadError(str(path), f"malformed JSON at line {e.lineno}: {e.msg}") from e
        items = _records_from_json(data, path)
    docs = []
    for where, rec in items:
        if not isinstance(rec, dict):
            raise LoadError(str(path), f"{where}: a record must be a JSON object")
        body = _pick(rec, "text")
        if not isinstance(body, str) or not body.strip():
            raise LoadError(str(path), f"{where}: record has no text (body/text/content field)")
        key = _pick(rec, "key") or _pick(rec, "url") or where
        docs.append(make_document(body, path=f"{path}#{key}", **_fields(rec)))
    if not docs:
        raise LoadError(str(path), "no records found")
    return docs


def _jsonl_items(text: str, path: Path) -> Iterator[tuple[str, Any]]:
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"line {n}", json.loads(line)
        except json.JSONDecodeError as e:
            raise LoadError(str(path), f"line {n}: malformed JSON ({e.msg})") from e


def load_file(
    path: str | Path, max_file_mb: float = 100.0, max_unpacked_mb: float = 500.0
) -> list[Document]:
    """Documents of one file, or a LoadError naming it and what is wrong."""
    p = Path(path)
    if not p.exists():
        raise LoadError(str(p), "no such file")
    if not p.is_file():
        raise LoadError(str(p), "not a regular file")
    size = p.stat().st_size
    if size == 0:
        raise LoadError(str(p), "empty file")
    if size > max_file_mb * 1e6:
        raise LoadError(
            str(p), f"{size / 1e6:.1f} MB, over the {max_file_mb:g} MB limit (setting max_file_mb)"
        )
    name = p.name.lower()
    if name.endswith(_SIDECAR):
        raise LoadError(str(p), "metadata sidecar, not a document")
    if name.endswith((".jsonl.gz", ".json.gz")) or p.suffix.lower() in RECORD_SUFFIXES:
        return load_records(p, max_unpacked_mb)
    if p.suffix.lower() in TEXT_SUFFIXES:
        return load_text(p)
    if p.suffix.lower() in HTML_SUFFIXES:
        return load_html(p)
    if p.suffix.lower() == ".pdf":
        return load_pdf(p)
    raise LoadError(str(p), f"unsupported file type (supported: {', '.join(SUPPORTED)})")


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, and supported files under folders named (sorted; no sidecars or READMEs)."""
    out: list[Path] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                n = f.name.lower()
                if (
                    f.is_file()
                    and not n.endswith(_SIDECAR)
                    and not n.startswith(".")
                    # a folder's README describes the collection; it is not an article
                    and not n.startswith("readme.")
                    and (any(n.endswith(s) for s in SUPPORTED))
                ):
                    out.append(f)
        else:
            out.append(p)
    return out
