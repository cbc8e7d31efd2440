"""Tests of the provider metadata Airflow discovers (airflow_s3_batch_tagging/get_provider_info.py)."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from airflow_s3_batch_tagging import __version__
from airflow_s3_batch_tagging.get_provider_info import get_provider_info


def _named_modules(info: dict[str, Any]) -> list[str]:
    modules = []
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in info.get(section, []):
            modules.extend(entry.get("python-modules", []))
    return modules


def _named_classes(info: dict[str, Any]) -> list[str]:
    classes = list(info.get("extra-links", []))
    classes.extend(entry["hook-class-name"] for entry in info.get("connection-types", []))
    return classes


def test_provider_info_has_the_required_fields() -> None:
    info = get_provider_info()
    assert info["package-name"] == "airflow-s3-batch-tagging"
    assert info["versions"] == [__version__]
    assert info["name"]
    assert info["description"]


def test_providers_list_shows_the_description_verbatim() -> None:
    """``airflow providers list`` strips RST characters (`_<>), which turned put_object_tagging into
    putobjecttagging; the description must survive Airflow's own rendering unchanged."""
    from airflow.cli.commands.provider_command import _remove_rst_syntax

    description = get_provider_info()["description"]
    assert _remove_rst_syntax(description) == description.strip(" \n.")


def test_every_named_module_imports() -> None:
    for module in _named_modules(get_provider_info()):
        assert module.startswith("airflow_s3_batch_tagging."), module
        importlib.import_module(module)


def test_every_named_class_imports() -> None:
    for path in _named_classes(get_provider_info()):
        module, _, name = path.rpartition(".")
        assert getattr(importlib.import_module(module), name), path


def test_entry_point_points_at_get_provider_info() -> None:
    (entry,) = [
        ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("airflow_s3")
    ]
    assert entry.load() is get_provider_info


def test_airflow_providers_manager_lists_the_provider() -> None:
    from airflow.providers_manager import ProvidersManager

    providers = ProvidersManager().providers
    assert "airflow-s3-batch-tagging" in providers
    assert providers["airflow-s3-batch-tagging"].version == __version__


def test_docs_url_is_what_airflow_shows_as_documentation() -> None:
    """Airflow reads the Documentation URL from the package metadata; docs-url reads the same entry."""
    from airflow.providers_manager import ProvidersManager

    info = get_provider_info()
    assert info["docs-url"].startswith("https://")
    data = ProvidersManager().providers["airflow-s3-batch-tagging"].data
    # Airflow 2.11 does not read the metadata URL; 3.x puts it in the provider data.
    assert data.get("documentation-url", info["docs-url"]) == info["docs-url"]


def test_how_to_guides_are_docs_pages() -> None:
    root = Path(__file__).resolve().parents[1]
    for integration in get_provider_info()["integrations"]:
        assert integration["how-to-guide"]
        for guide in integration["how-to-guide"]:
            assert guide.startswith("/docs/"), guide  # Airflow's provider.yaml schema asks for it
            assert (root / guide.lstrip("/")).is_file(), guide
