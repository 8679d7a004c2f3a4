"""The hand-in format: a lab report printed to ``report.pdf`` by headless Chromium (``genlab lab ... --pdf``).

The PDF is the report page as a browser prints it: the table of contents on the first page(s), each task
of ``lab all`` from a new page, no figure or table cut across pages (the page's ``@media print`` rules,
:data:`genlab.lab.report.CSS`). Chromium (or Google Chrome) is found on ``PATH``, or where
``$GENLAB_CHROME`` points; genlab needs nothing else for it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from genlab.errors import ConfigError, GenlabError

ENV = "GENLAB_CHROME"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_browser() -> str:
    """The Chromium or Chrome executable that prints the PDF: ``$GENLAB_CHROME``, else the first on PATH."""
    named = os.environ.get(ENV)
    if named:
        found = shutil.which(named)
        if found is None:
            raise ConfigError(f"--pdf: ${ENV}={named!r} is not an executable")
        return found
    for name in BROWSERS:
        found = shutil.which(name)
        if found is not None:
            return found
    raise ConfigError(f"--pdf: needs Chromium or Google Chrome to print the report, and none of {', '.join(BROWSERS)} "
                      f"is on PATH (install one, e.g. apt install chromium, or set ${ENV} to its path)")


def print_pdf(page: Path, pdf: Path, browser: str | None = None, timeout_s: float = 600.0) -> Path:
    """Print the HTML ``page`` (with its linked figures beside it) to ``pdf``, which appears only when complete."""
    browser = browser or find_browser()
    part = pdf.with_name(f".{pdf.name}.{os.getpid()}.part")
    with tempfile.TemporaryDirectory(prefix="genlab-chrome-") as profile:
        command = [browser, "--headless", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                   "--disable-background-networking", "--no-pdf-header-footer", f"--user-data-dir={profile}",
                   f"--print-to-pdf={part}", page.resolve().as_uri()]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            part.unlink(missing_ok=True)
            raise GenlabError(f"--pdf: {browser} did not print {page} within {timeout_s:.0f} s") from None
    if done.returncode != 0 or not part.exists() or part.stat().st_size == 0:
        part.unlink(missing_ok=True)
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise GenlabError(f"--pdf: {browser} failed to print {page} (exit {done.returncode}: {last})")
    os.replace(part, pdf)
    return pdf
