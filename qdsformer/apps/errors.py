"""The failures the CLI reports as one line on stderr (exit 2) instead of a traceback.

Expected failures are bad input and damaged or missing files: ``ValueError`` (bad values,
damaged checkpoints: :class:`qdsformer.models.CheckpointError`), ``OSError`` (missing,
unreadable or unwritable files, a folder where a file was expected, non-gzip data files,
offline downloads: ``urllib.error.URLError``), ``EOFError`` and ``zlib.error`` (truncated
``.gz`` files), YAML syntax errors. Anything else is a bug and keeps its traceback. Kept
free of torch so building the parser stays fast.
"""

from __future__ import annotations

import zlib

import yaml

EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, OSError, EOFError, zlib.error, yaml.YAMLError,
)


def one_line(err: BaseException) -> str:
    """``err`` as one line: its message with line breaks folded, and the file when known."""
    text = " ".join(part.strip() for part in str(err).splitlines() if part.strip())
    filename = getattr(err, "filename", None)
    if isinstance(err, OSError) and filename and str(filename) not in text:
        text = f"{filename}: {text}"
    return text or type(err).__name__
