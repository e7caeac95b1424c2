"""Issue 20, Info: the portal's pages carry a Content-Security-Policy that runs no inline script
(so an injected <script> or onclick= does nothing), may not be framed by another site
(clickjacking), and the browser neither sniffs content types nor sends the page's address away."""

import re
from pathlib import Path

import httpx
import pytest

from gateway.main import create_app
from gateway.portal import STATIC_DIR
from gateway.portal.rendering import TEMPLATES_DIR
from gateway.settings import GatewaySettings


@pytest.fixture
async def browser_client():
    app = create_app(GatewaySettings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as client:
        yield client


def directives(policy: str) -> dict[str, list[str]]:
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {name: values for name, *values in parts}


@pytest.mark.parametrize("path", ["/sign-in", "/accept-invite", "/dashboard"])
async def test_every_portal_answer_forbids_inline_script_and_framing(browser_client, path):
    answer = await browser_client.get(path)  # /dashboard: the redirect to sign-in carries them too
    policy = directives(answer.headers["content-security-policy"])
    assert policy["script-src"] == ["'self'"], "no 'unsafe-inline', no 'unsafe-eval', no other origin"
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] in ("same-origin", "no-referrer", "strict-origin-when-cross-origin")


async def test_the_portal_scripts_are_served_as_scripts_only(browser_client):
    answer = await browser_client.get("/static/portal.js")
    assert answer.status_code == 200 and answer.headers["x-content-type-options"] == "nosniff"


def test_no_template_or_page_writes_inline_script_that_the_policy_would_block():
    """What the policy refuses would break the page: every behaviour lives in /static."""
    sources = [*TEMPLATES_DIR.rglob("*.html"), *(Path(STATIC_DIR).parent / "pages").rglob("*.py")]
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
    handler = re.compile(r"""\son[a-z]+\s*=\s*["']""", re.I)
    javascript_url = re.compile(r"""(href|action)\s*=\s*["']\s*javascript:""", re.I)
    offending = [f"{source.name}: {match.group(0)}" for source in sources
                 for pattern in (inline_script, handler, javascript_url)
                 for match in pattern.finditer(source.read_text())]
    assert offending == []
