"""The documentation site covers the package: every library package has an API reference page
in the navigation (``mkdocs build --strict`` in the test command then fails on a reference
that does not resolve), and the README stays a front page."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
APPLICATIONS = {"apps"}  # the commands are documented by their guides, not by an API page


def _nav_pages(node) -> set[str]:
    if isinstance(node, str):
        return {node}
    if isinstance(node, list):
        return set().union(*(_nav_pages(item) for item in node)) if node else set()
    if isinstance(node, dict):
        return set().union(*(_nav_pages(value) for value in node.values()))
    return set()


def test_every_library_package_has_an_api_page_in_the_nav():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    nav = _nav_pages(config["nav"])
    packages = sorted(p.parent.name for p in (ROOT / "qdsformer").glob("*/__init__.py"))
    assert "ot" in packages and "train" in packages
    for name in packages:
        if name in APPLICATIONS:
            continue
        page = f"api/{name}.md"
        assert page in nav, f"{page} is not in mkdocs.yml's nav"
        assert f"::: qdsformer.{name}\n" in (ROOT / "docs" / page).read_text(), page


def test_every_docs_page_is_in_the_nav():
    nav = _nav_pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"])
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert pages == nav


def test_readme_is_a_front_page_whose_test_command_builds_the_site():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 200
    marker = next(i for i, line in enumerate(lines) if line.startswith("<!-- test-command"))
    command = lines[marker + 2]  # the first line of the fenced block after the marker
    assert lines[marker + 1].startswith("```")
    assert command.endswith("&& mkdocs build --strict") and '".[dev,docs]"' in command
