"""Every setting is documented in the README, under its own name or its environment variable."""

from __future__ import annotations

from assistant.settings import Settings, env_name
from tests.support.samples import ROOT


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    undocumented = []
    for name, field in Settings.flat_fields().items():
        names = {f"`{name}`", env_name(name)}
        if not any(n in readme for n in names):
            undocumented.append(name)
        assert field.description, f"setting {name} has no description"
    assert undocumented == [], f"settings missing from README.md: {undocumented}"
