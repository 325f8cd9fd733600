"""The deployment's reverse proxy sends the security headers Streamlit cannot send itself (issue 10, item 8)."""

from __future__ import annotations

import re

from helpers.paths import ROOT

CADDYFILE = ROOT / "deploy" / "Caddyfile"


def header_block() -> dict[str, str]:
    """The Caddyfile's ``header { ... }`` block as {field: value}; a removed field maps to ""."""
    match = re.search(r"^\s*header \{\n(.*?)^\s*\}", CADDYFILE.read_text(), re.MULTILINE | re.DOTALL)
    assert match, "deploy/Caddyfile has no header { ... } block"
    fields = {}
    for line in match.group(1).splitlines():
        line = line.strip()
        if line.startswith("-"):
            fields[line[1:]] = ""
        elif line and not line.startswith("#"):
            name, value = line.split(" ", 1)
            fields[name] = value.strip('"')
    return fields


def test_the_proxy_refuses_framing_by_other_sites_and_hides_the_server():
    fields = header_block()
    assert fields["Content-Security-Policy"] == "frame-ancestors 'self'"
    assert fields["X-Frame-Options"] == "SAMEORIGIN"
    assert fields["X-Content-Type-Options"] == "nosniff"
    assert fields["Referrer-Policy"] == "same-origin"
    assert fields["Server"] == ""  # removed: Tornado names itself and its version


def test_the_deploy_guide_shows_the_same_headers():
    guide = (ROOT / "docs" / "deploy.md").read_text()
    for field, value in header_block().items():
        assert field in guide and value in guide
