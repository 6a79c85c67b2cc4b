"""Reading a PDF's text back as a reader's program does: poppler's ``pdftotext`` (Debian
package poppler-utils), which maps the embedded fonts' glyphs back to characters."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path


def pdf_pages(data: bytes) -> list[list[str]]:
    """The lines of text on each page of a PDF, in reading order."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "document.pdf"
        path.write_bytes(data)
        shown = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", "-layout", str(path), "-"],
            check=True,
            capture_output=True,
        ).stdout.decode("utf-8")
    # pdftotext ends every page with a form feed.
    pages = shown.split("\f")
    if pages and not pages[-1].strip():
        pages.pop()
    return [[line.strip() for line in page.splitlines() if line.strip()] for page in pages]


def pdf_texts(data: bytes) -> list[str]:
    """The lines a PDF shows, in order."""
    return [line for page in pdf_pages(data) for line in page]
