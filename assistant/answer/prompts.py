"""Prompt templates as files, checked when the assistant starts, and rendered safely.

Each template in ``prompts/`` is a ``str.format`` template with a fixed set of variables.
A typo in a variable would otherwise surface as a KeyError on the first question (or, worse,
as a literal "{evidnce}" sent to the model), so every file is parsed at start and an unknown
or missing variable is an error that names the file.

Documents are data, never instructions: evidence goes between ``<evidence ...>`` and
``</evidence>`` tags, and anything inside a document (or a question, or the conversation)
that looks like one of our tags or like a citation marker is neutralised first, so a
document cannot close its own block and speak to the model as if it were the prompt.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import ConfigError
from assistant.text import neutralise_markers

# The repository's prompts/ folder, shipped inside the package as assistant/_prompts (a
# symlink in the repository, real files in a wheel), so both kinds of install find it.
PROMPTS_DIR = Path(__file__).resolve().parents[1] / "_prompts"

# file -> (variables it must use, variables it may use)
TEMPLATES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "system.txt": (frozenset({"refusal"}), frozenset({"refusal", "today"})),
    "answer.txt": (
        frozenset({"evidence", "question"}),
        frozenset({"evidence", "question", "refusal", "today"}),
    ),
    "condense.txt": (frozenset({"history", "question"}), frozenset({"history", "question"})),
    "refusal.txt": (frozenset(), frozenset()),
}

# Tags our prompts use as delimiters; a look-alike inside untrusted text loses its angle
# brackets. Case, spaces and a slash anywhere in the tag do not help it through.
_TAG = re.compile(
    r"[<＜]\s*/?\s*(evidence|conversation|question|system|instructions?)\b[^<>＜＞]*[>＞]?", re.I
)


class PromptError(ConfigError):
    """A prompt template is missing or uses variables it may not."""


@dataclass(frozen=True)
class Prompts:
    system: str
    answer: str
    condense: str
    refusal: str
    folder: Path


def load_prompts(folder: Path | None = None) -> Prompts:
    """Read and check every template; errors name the file and the variable."""
    folder = folder or PROMPTS_DIR
    if not folder.is_dir():
        raise PromptError(
            f"prompt folder {folder} not found: set prompts_dir to a folder holding "
            + ", ".join(TEMPLATES)
        )
    texts: dict[str, str] = {}
    for name, (required, allowed) in TEMPLATES.items():
        path = folder / name
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise PromptError(f"{path}: cannot read the prompt template ({exc})") from exc
        if not text:
            raise PromptError(f"{path}: the prompt template is empty")
        used = template_variables(text, path)
        unknown = used - allowed
        if unknown:
            raise PromptError(
                f"{path}: unknown variable {', '.join('{' + v + '}' for v in sorted(unknown))}"
                f" (this template may use: {_names(allowed)}; write a literal brace as {{{{ }}}})"
            )
        missing = required - used
        if missing:
            raise PromptError(f"{path}: the template must use {_names(missing)}")
        texts[name] = text
    return Prompts(
        system=texts["system.txt"],
        answer=texts["answer.txt"],
        condense=texts["condense.txt"],
        refusal=texts["refusal.txt"],
        folder=folder,
    )


def template_variables(text: str, path: Path) -> set[str]:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:  # "Single '}' encountered", "unexpected '{'"
        raise PromptError(f"{path}: {exc} (write a literal brace as {{{{ or }}}})") from exc
    out: set[str] = set()
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            shown = (
                "{"
                + field
                + (f"!{conversion}" if conversion else "")
                + (f":{spec}" if spec else "")
                + "}"
            )
            raise PromptError(
                f"{path}: unknown variable {shown} (use plain names like {{question}})"
            )
        out.add(field)
    return out


def _names(names: frozenset[str]) -> str:
    return ", ".join("{" + n + "}" for n in sorted(names)) or "no variables"


def neutralise(text: str) -> str:
    """Untrusted text made unable to pose as our delimiters or citation markers."""
    text = _TAG.sub(lambda m: re.sub("[<＜]", "‹", re.sub("[>＞]", "›", m.group(0))), text)
    # "[3]" inside a document would read as a citation marker of ours.
    return neutralise_markers(text)


def attribute(value: str) -> str:
    """A metadata value safe inside a tag attribute's double quotes, on one line."""
    value = " ".join(value.split())
    return neutralise(value).replace('"', "'").replace("<", "‹").replace(">", "›")
