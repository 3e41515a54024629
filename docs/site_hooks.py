"""MkDocs hooks (mkdocs.yml `hooks:`): the site shows the package's version and repository.

The version is `tinygrad_xor.__version__`, in the header (after the site's name) and in the
footer. The repository link, at the top right, is the project's URL in pyproject.toml
(`[project.urls]`: Repository, Source or Homepage); without one the site shows none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tinygrad_xor

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
URL_NAMES = ("repository", "source", "source code", "code", "github", "homepage")


def repository_url(pyproject: Path = PYPROJECT) -> str | None:
    """The repository's URL in ``pyproject``'s [project.urls], or None."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: no TOML reader in the standard library
        return None
    if not pyproject.is_file():
        return None
    urls = tomllib.loads(pyproject.read_text()).get("project", {}).get("urls", {})
    by_name = {name.lower(): url for name, url in urls.items()}
    return next((by_name[name] for name in URL_NAMES if name in by_name), None)


def on_config(config: Any, **kwargs: Any) -> Any:
    """Put the version into the site's name and footer, and link the repository if known."""
    version = tinygrad_xor.__version__
    config["site_name"] = f"{config['site_name']} {version}"
    config["copyright"] = f"tinygrad_xor {version}, MIT License"
    url = config.get("repo_url") or repository_url(PYPROJECT)
    if url:
        config["repo_url"] = url
        config["repo_name"] = config.get("repo_name") or "/".join(
            url.rstrip("/").split("/")[-2:])
    return config
