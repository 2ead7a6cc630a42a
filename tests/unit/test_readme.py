"""The README is the user's manual: it must document every setting the service reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from system_under_test.settings import Settings

pytestmark = pytest.mark.unit

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_environment_variable_is_documented() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in text]
    assert not missing, f"README configuration reference lacks {missing}"


def test_readme_shows_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make drill" in text and "make test" in text
