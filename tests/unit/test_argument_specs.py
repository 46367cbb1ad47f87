"""Argument specs cannot drift from defaults: every default is specified, no spec restates a default's value
(defaults/main.yml is the one source), and every option is a default or required."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.parent.parent for p in ROOT.glob("roles/*/meta/argument_specs.yml"))


def load(role: Path) -> tuple[dict, dict]:
    defaults_file = role / "defaults" / "main.yml"
    defaults = (yaml.safe_load(defaults_file.read_text()) or {}) if defaults_file.exists() else {}
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    return defaults, specs


def test_every_role_with_defaults_has_a_spec():
    with_defaults = {p.parent.parent.name for p in ROOT.glob("roles/*/defaults/main.yml")}
    assert with_defaults <= {r.name for r in ROLES}


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_every_default_is_an_option_of_the_main_entry_point(role):
    defaults, specs = load(role)
    options = specs["main"].get("options") or {}
    missing = sorted(set(defaults) - set(options))
    assert not missing, f"{role.name}: defaults/main.yml has {missing}, meta/argument_specs.yml main does not"


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_no_spec_restates_a_default(role):
    """defaults/main.yml is the one source of a default (a copy in the spec drifted before); READMEs show them."""
    _, specs = load(role)
    restated = [f"{entry}.{name}" for entry, spec in specs.items()
                for name, option in (spec.get("options") or {}).items() if "default" in option]
    assert not restated, f"{role.name}: meta/argument_specs.yml restates defaults of {restated}"


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_every_option_of_an_entry_point_is_a_default_or_required(role):
    defaults, specs = load(role)
    loose = [f"{entry}.{name}" for entry, spec in specs.items() for name, option in (spec.get("options") or {}).items()
             if name not in defaults and not option.get("required", False)]
    assert not loose, f"{role.name}: options with no default and not required: {loose}"
