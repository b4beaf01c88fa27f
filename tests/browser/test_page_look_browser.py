"""How the page looks on a bare machine: the emoji icons come from the shipped font when the system
has no emoji font (this test machine has none)."""
from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.browser


def test_icons_render_from_the_shipped_emoji_font(page, webui_server):
    r = requests.get(webui_server.base + "/file=html/fonts/noto-emoji/noto-emoji-3.woff2", timeout=30)
    assert r.status_code == 200 and r.headers["content-type"] == "font/woff2" and r.content[:4] == b"wOF2"
    # the random seed button's 🎲: its glyph comes from a face of the shipped font, loaded and decoded
    loaded = page.evaluate("""async () => {
        const faces = await document.fonts.load('16px "WebUI Emoji"', '\\u{1F3B2}');
        return faces.map(f => f.status);
    }""")
    assert loaded and set(loaded) == {"loaded"}
    family = page.locator("#txt2img_random_seed").evaluate("b => getComputedStyle(b).fontFamily")
    assert "WebUI Emoji" in family
