"""Every setting is documented in the README, under its own name or its environment variable."""

from __future__ import annotations

from assistant.settings import Settings
from tests.conftest import ROOT


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    undocumented = []
    for name, field in Settings.model_fields.items():
        names = {f"`{name}`", f"ASSISTANT_{name.upper()}"}
        names |= {str(a) for a in _aliases(field)}
        if not any(n in readme for n in names):
            undocumented.append(name)
        assert field.description, f"setting {name} has no description"
    assert undocumented == [], f"settings missing from README.md: {undocumented}"


def _aliases(field: object) -> list[str]:
    alias = getattr(field, "validation_alias", None)
    choices = getattr(alias, "choices", None)
    if choices:
        return [str(c) for c in choices]
    return [str(alias)] if alias else []
