"""Sphinx configuration of the contacts-api documentation.

Build it with ``just docs`` (it installs docs/requirements.txt into .venv-docs, writes the
OpenAPI document to docs/_generated/openapi.json and runs sphinx-build with warnings as
errors). The HTML lands in docs/_build/html.
"""

import os
import shutil
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

project = "contacts-api"
author = "the contacts-api developers"
copyright = "the contacts-api developers, MIT licence"
release = "0.1.0"

extensions = [
    "sphinxcontrib_rust",
    "sphinxcontrib.openapi",
    "myst_parser",
]

# Hand-written pages are reStructuredText; myst-parser is loaded because sphinxcontrib-rust
# requires it, and it lets a page be written in Markdown if that is ever wanted.
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "requirements.txt"]

# --- API reference: the crates' `///` docs, extracted by sphinx-rustdocgen -------------------
# Paths are absolute, so the build works from any working directory. Every library crate of
# the workspace is listed; the generated reStructuredText goes to _generated/crates/<crate>/
# (git-ignored) and api/index.rst links each crate's `lib` page.
rust_crates = {
    "contacts_domain": str(ROOT / "crates/domain"),
    "contacts_postgres": str(ROOT / "crates/adapters/postgres"),
    "contacts_smtp": str(ROOT / "crates/adapters/smtp"),
    "contacts_crypto": str(ROOT / "crates/adapters/crypto"),
    "contacts_cache": str(ROOT / "crates/adapters/cache"),
    "contacts_avatars": str(ROOT / "crates/adapters/avatars"),
    "contacts_http": str(ROOT / "crates/http"),
    "contacts_carddav": str(ROOT / "crates/carddav"),
    "contacts_api": str(ROOT / "crates/server"),
    "contacts_test_support": str(ROOT / "crates/test-support"),
}
rust_doc_dir = str(DOCS / "_generated" / "crates")
# "md" (with myst-parser) crashed on a file name built from a signature; "rst" renders.
rust_rustdoc_fmt = "rst"
# The extractor that `pip install sphinxcontrib-rust` builds with cargo lands in cargo's bin
# folder, which is not always on PATH.
rust_rustdocgen = shutil.which("sphinx-rustdocgen") or str(
    Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo")) / "bin" / "sphinx-rustdocgen"
)
# Regenerate every build: the sources change often and the extraction takes seconds.
rust_generate_mode = "always"

# --- REST reference ----------------------------------------------------------------------------
openapi_default_renderer = "httpdomain:old"

# --- HTML --------------------------------------------------------------------------------------
html_theme = "furo"
html_title = "contacts-api"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "navigation_with_keys": True,
}
# Everything the pages need is shipped with the theme: no CDN, so the site works offline.
html_show_sourcelink = False

nitpicky = False
# The crates' doc comments are Markdown read as reStructuredText: render their `code` spans as
# code rather than as the default role's italics.
default_role = "code"
