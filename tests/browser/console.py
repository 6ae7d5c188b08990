"""The console in a real browser (headless Chromium through Playwright), run by tests/api/browser.rs.

Reads from the environment: KYC_TEST_CHROMIUM (the browser), KYC_BASE (https://127.0.0.1:PORT), KYC_CA (the
receiver's certificate; the browser is told to ignore certificate errors since it is self-signed),
KYC_REVIEWER / KYC_REVIEWER_PASSWORD (reviewer,pii,images, one-time password), KYC_MASKED /
KYC_MASKED_PASSWORD (reviewer,auditor), KYC_PERSONAL (personal values, newline-separated, that must never
reach the masked person), KYC_SHOTS (where screenshots go). Exits non-zero naming the first failed check.
"""

import base64
import hashlib
import hmac
import os
import struct
import sys
import time

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import sync_playwright

BASE = os.environ["KYC_BASE"]
SHOTS = os.environ["KYC_SHOTS"]
PERSONAL = [v for v in os.environ["KYC_PERSONAL"].split("\n") if v]
NEW_PASSWORD = "correct horse battery staple"
axe = Axe()


def totp(secret_b32, at=None):
    """RFC 6238 with SHA-1, 6 digits, 30-second steps (written here, not taken from the service)."""
    key = base64.b32decode(secret_b32.replace(" ", "") + "=" * (-len(secret_b32.replace(" ", "")) % 8))
    counter = int((at or time.time()) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def accessible(page, name):
    """axe-core on the page: no serious or critical violation; and a screenshot."""
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)
    violations = axe.run(page).response["violations"]
    bad = [(v["id"], v["impact"], len(v["nodes"])) for v in violations if v["impact"] in ("serious", "critical")]
    check(not bad, f"{name}: axe violations {bad}")


def sign_in(page, user, password, enrol):
    page.goto(f"{BASE}/console/login")
    accessible(page, "login")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/password")
    accessible(page, "password-change")
    page.fill("#password", NEW_PASSWORD)
    page.fill("#again", NEW_PASSWORD)
    page.click("main button[type=submit]")
    if enrol:
        page.wait_for_url("**/console/totp/enrol")
        accessible(page, "totp-enrol")
        secret = page.inner_text(".secret")
        page.fill("#code", totp(secret))
        page.click("main form.stack button[type=submit]")
    page.wait_for_url("**/console/queue")


def reviewer_flow(browser):
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    sign_in(page, os.environ["KYC_REVIEWER"], os.environ["KYC_REVIEWER_PASSWORD"], enrol=True)
    accessible(page, "queue")

    # Keyboard only: the first case link is reached with Tab and opened with Enter.
    first = page.locator("table.queue tbody tr a").first
    reference = first.inner_text().strip()
    first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/console/cases/{reference}")
    accessible(page, "case")

    page.click("text=Show the images")
    page.wait_for_url("**show=images")
    for kind in ["selfie", "portrait", "front", "back"]:
        img = page.locator(f"#img-{kind}")
        img.wait_for()
        page.wait_for_function(f"document.getElementById('img-{kind}').complete")
        width = img.evaluate("i => i.naturalWidth")
        if width == 0:
            again = page.request.get(img.get_attribute("src"))
            raise AssertionError(f"image {kind} not rendered (naturalWidth 0); fetched again: HTTP {again.status}, "
                                 f"{again.headers.get('content-type')}, {len(again.body())} bytes")
    accessible(page, "case-images")

    page.click("text=Reveal personal data")
    page.select_option("#purpose", "Manual review of this case")
    page.click("form[action$='/reveal'] button[type=submit]")
    content = page.content()
    for value in PERSONAL:
        check(value in content, "a revealed value is missing")
    accessible(page, "case-revealed")

    page.goto(f"{BASE}/console/cases/{reference}")
    page.check("input[name=decision][value=approved]")
    page.fill("#note", "Portrait and selfie match; document checked.")
    page.click("form[action$='/review'] button[type=submit]")
    page.wait_for_url(f"**/console/cases/{reference}**")
    check("Approved" in page.inner_text("h1"), "the case is not approved")
    history = page.inner_text("main")
    name = os.environ["KYC_REVIEWER_NAME"]
    check(history.count(name) >= 2, "the person's name is not on the review and the reveal")
    for kind in ["submission_reviewed", "personal_data_read"]:
        check(kind in history, f"{kind} not in the case's timeline")
    accessible(page, "case-approved")

    # A form posted without the session's token is refused.
    answer = page.request.post(f"{BASE}/console/cases/{reference}/claim", form={"x": "1"},
                               headers={"Origin": BASE})
    check(answer.status == 403, f"a form without CSRF token got {answer.status}")

    page.goto(f"{BASE}/console/cases/{reference}")
    version = page.locator("a[href^='/console/mappings/']").first.get_attribute("href")
    for path, name in [("/console/search", "search"), ("/console/audit", "audit"),
                       ("/console/overview", "overview"), ("/console/admin/mappings", "mappings"),
                       ("/console/admin/quarantine", "quarantine"), (version, "mapping-version")]:
        page.goto(f"{BASE}{path}")
        accessible(page, name)
    page.goto(f"{BASE}/console/admin/quarantine")
    page.locator("button:has-text('Dry run')").first.click()
    page.wait_for_url("**/console/admin/quarantine?message=**")
    check("still refused" in page.inner_text("main"), "the dry run's outcome is not shown")
    accessible(page, "quarantine-dry-run")
    page.goto(f"{BASE}/console/audit")
    page.click("text=Verify the trail")
    check("Chain intact" in page.inner_text("#verify-result"), "the trail does not verify")
    accessible(page, "audit-verified")
    context.close()


def masked_flow(browser):
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    sign_in(page, os.environ["KYC_MASKED"], os.environ["KYC_MASKED_PASSWORD"], enrol=False)
    seen = [page.content()]
    page.goto(f"{BASE}/console/search")
    seen.append(page.content())
    links = [a.get_attribute("href") for a in page.locator("a.mono").all()]
    for href in links[:5]:
        page.goto(f"{BASE}{href}")
        seen.append(page.content())
    for path in ["/console/audit", "/console/overview", "/console/queue"]:
        page.goto(f"{BASE}{path}")
        seen.append(page.content())
    for html in seen:
        for value in PERSONAL:
            check(value not in html, "a personal value reached a person without the pii role")
    context.close()


def oidc_flow(browser):
    """Single sign-on through a real OpenID provider whose groups claim maps to console roles."""
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(f"{BASE}/console/login")
    page.click(f"text={os.environ['KYC_OIDC_LABEL']}")
    page.wait_for_selector("input[name=login]")
    page.fill("input[name=login]", "olivia")
    page.fill("input[name=password]", "any")
    page.click("button[type=submit]")
    # The provider's consent page, then back through the callback into the console.
    for _ in range(3):
        page.wait_for_load_state()
        if "/console/" in page.url:
            break
        if page.locator("button[type=submit]").count():
            page.click("button[type=submit]")
    page.wait_for_url("**/console/queue", timeout=15000)
    header = page.inner_text("header")
    check("Olivia Oidc" in header, f"the person's name is not shown: {header}")
    for role in ["reviewer", "pii", "images"]:
        check(role in header, f"role {role} not mapped from the groups claim: {header}")
    accessible(page, "oidc-signed-in")
    context.close()


def main():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=os.environ["KYC_TEST_CHROMIUM"], args=["--no-sandbox"])
        try:
            if sys.argv[1:] == ["oidc"]:
                oidc_flow(browser)
                print("console OIDC browser checks: 1 passed, 0 failed")
            else:
                reviewer_flow(browser)
                masked_flow(browser)
                print("console browser checks: 2 passed, 0 failed")
        finally:
            browser.close()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the Rust test shows this line
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
