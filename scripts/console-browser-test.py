#!/usr/bin/env python3
"""The vendor's licensing clerk at work in a real browser (Selenium, headless Chromium) against `keyward authority serve`:

log in; create an organization (a bad id refused beside its field first); record an agreement of three lines (every
problem of every line shown at once, then fixed); renew one key, switch one, revoke one (each confirmed); make the
organization's token (shown once); activate an installation offline from its request file and download the
certificate; promote another installation with a reason; read the audit log filtered by the organization and export
it as CSV; read the signing keys. Then an auditor, who reads and is offered no change, and an admin who signs in with
the identity provider (oidc-provider-mock) and manages the operators. Every page is checked for console errors and
unlabelled form fields; screenshots go to docs/screenshots/console-*.png.

    python3 scripts/console-browser-test.py [path/to/keyward]
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The registry's walk holds the shared helpers: the browser, the checks, waiting for a page, the provider's venv.
_spec = importlib.util.spec_from_file_location("browser_walk", os.path.join(ROOT, "scripts", "browser-test.py"))
walk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(walk)
check, click_and_wait, page_checks = walk.check, walk.click_and_wait, walk.page_checks
SCREENSHOTS = walk.SCREENSHOTS

ADMIN_PASSWORD = "walk-admin-password-1"
CLERK_PASSWORD = "walk-clerk-password-1"


def run_cli(binary, arguments, password=None):
    environment = dict(os.environ)
    if password:
        environment["KEYWARD_OPERATOR_PASSWORD"] = password
    done = subprocess.run([binary] + arguments, capture_output=True, text=True, env=environment)
    check(done.returncode == 0, f"keyward {' '.join(arguments[:3])}: {done.stderr.strip()}")
    return done.stdout


def main(binary):
    os.makedirs(SCREENSHOTS, exist_ok=True)
    python = walk.oidc_python()
    with tempfile.TemporaryDirectory() as directory:
        data = ["--data-dir", os.path.join(directory, "authority")]
        run_cli(binary, ["authority", "init"] + data, ADMIN_PASSWORD)
        run_cli(binary, ["authority", "operator", "create", "--login", "clara", "--name", "Clara Clerk", "--role", "clerk"] + data, CLERK_PASSWORD)
        run_cli(binary, ["authority", "operator", "create", "--login", "otto", "--name", "Otto Auditor", "--role", "auditor"] + data, CLERK_PASSWORD)
        provider = None
        environment = dict(os.environ)
        if python:
            provider_port = walk.free_port()
            issuer = f"http://127.0.0.1:{provider_port}"
            provider = subprocess.Popen(
                [python, "-m", "oidc_provider_mock", "--port", str(provider_port), "--require-nonce",
                 "--user-claims", json.dumps({"sub": "op-1", "preferred_username": "admin", "email": "admin@vendor.example"}),
                 "--user-claims", json.dumps({"sub": "op-2", "preferred_username": "mallory", "email": "mallory@vendor.example"})],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(100):
                try:
                    with urllib.request.urlopen(issuer + "/.well-known/openid-configuration", timeout=2):
                        break
                except OSError:
                    time.sleep(0.1)
            environment.update(KEYWARD_OIDC_ISSUER=issuer, KEYWARD_OIDC_CLIENT_ID="keyward-console", KEYWARD_OIDC_CLIENT_SECRET="console-secret-1",
                               KEYWARD_OIDC_PROVIDER_NAME="Vendor Login")
        else:
            check(False, "a Python 3.12 with oidc-provider-mock (scripts/oidc-provider-venv; .ci/run makes it)")
        port = walk.free_port()
        server = subprocess.Popen([binary, "authority", "serve", "--port", str(port)] + data,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=environment)
        try:
            line = server.stdout.readline()
            check("console at /" in line, f"the authority starts and says where the console is: {line!r}")
            driver = walk.browser()
            try:
                clerk(driver, f"http://127.0.0.1:{port}", directory)
                auditor(driver, f"http://127.0.0.1:{port}")
                if provider:
                    admin(driver, f"http://127.0.0.1:{port}", issuer)
            finally:
                driver.quit()
        finally:
            server.terminate()
            server.wait(timeout=30)
            if provider:
                provider.terminate()
                provider.wait(timeout=30)
    print(f"console browser: {walk.passed} passed, {walk.failed} failed")
    return 0 if walk.failed == 0 else 1


def log_in(driver, base, login, password):
    driver.get(base + "/login")
    driver.find_element(By.ID, "login").send_keys(login)
    driver.find_element(By.ID, "password").send_keys(password)
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form[action^='/login'] button[type=submit]"))


def log_out(driver):
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form.logout button"))


def fill_line(driver, index, profile, use_type, users, purchase, components, expires=""):
    prefix = f"lines[{index}]."
    Select(driver.find_element(By.ID, prefix + "profile")).select_by_value(profile)
    Select(driver.find_element(By.ID, prefix + "useType")).select_by_value(use_type)
    field = driver.find_element(By.ID, prefix + "users")
    field.clear()
    field.send_keys(users)
    Select(driver.find_element(By.ID, prefix + "purchaseType")).select_by_value(purchase)
    if expires:
        driver.execute_script("arguments[0].value = arguments[1]", driver.find_element(By.ID, prefix + "expiresAt"), expires)
    for code in components:
        box = driver.find_element(By.CSS_SELECTOR, f"input[name='{prefix}components'][value='{code}']")
        if not box.is_selected():
            driver.execute_script("arguments[0].click()", box)


def set_date(driver, element_id, value):
    driver.execute_script("arguments[0].value = arguments[1]", driver.find_element(By.ID, element_id), value)


def clerk(driver, base, directory):
    # 1. The clerk logs in and lands on the dashboard.
    driver.get(base + "/")
    check(driver.current_url.startswith(base + "/login"), "the console asks for a login")
    check(driver.find_element(By.TAG_NAME, "h1").text == "Log in to the licensing console", "the login page says where it is")
    page_checks(driver, "console-login")
    log_in(driver, base, "clara", CLERK_PASSWORD)
    check(driver.current_url == base + "/", f"logging in lands on the dashboard: {driver.current_url}")
    check("clara" in driver.find_element(By.TAG_NAME, "header").text, "every page shows who is signed in")

    # 2. An organization: a bad id is refused beside its field, with what was typed kept.
    click_and_wait(driver, driver.find_element(By.LINK_TEXT, "Organizations"))
    driver.find_element(By.ID, "new-id").send_keys("ACME Corp")
    driver.find_element(By.ID, "new-legal-name").send_keys("ACME Corporation <Ltd>")
    click_and_wait(driver, driver.find_element(By.ID, "create-organization-button"))
    check("lowercase slug" in driver.find_element(By.ID, "id-error").text, "a bad id is refused beside its field")
    check(driver.find_element(By.ID, "new-legal-name").get_attribute("value") == "ACME Corporation <Ltd>", "the legal name typed is kept")
    field = driver.find_element(By.ID, "new-id")
    field.clear()
    field.send_keys("acme-corp")
    click_and_wait(driver, driver.find_element(By.ID, "create-organization-button"))
    check(driver.current_url.startswith(base + "/organizations/acme-corp"), f"the organization's page: {driver.current_url}")
    check("ACME Corporation <Ltd>" in driver.find_element(By.TAG_NAME, "h1").text, "the legal name is shown as typed (escaped, not markup)")

    # 3. An agreement of three lines: every problem of every line at once, then fixed.
    click_and_wait(driver, driver.find_element(By.ID, "new-agreement"))
    click_and_wait(driver, driver.find_element(By.ID, "add-line"))
    click_and_wait(driver, driver.find_element(By.ID, "add-line"))
    check(len(driver.find_elements(By.CSS_SELECTOR, "section[id^=line-]")) == 3, "three lines")
    driver.find_element(By.ID, "reference").send_keys("2026-ACME-001")
    fill_line(driver, 0, "manager", "nominative", "25", "sale", ["DOC", "WF", "CFG"])
    fill_line(driver, 1, "basic", "floating", "10", "rental", ["AUD"])
    fill_line(driver, 2, "staff", "nominative", "many", "sale", ["DOC"])
    click_and_wait(driver, driver.find_element(By.ID, "save-agreement"))
    check("Nothing was saved" in driver.find_element(By.ID, "agreement-problems").text, "nothing saved, said at the top")
    line2 = driver.find_element(By.ID, "line-2").text
    line3 = driver.find_element(By.ID, "line-3").text
    check("expir" in line2.lower(), f"line 2's missing expiry is shown on line 2: {line2[-200:]!r}")
    check("number of users" in line3, "line 3's users are shown on line 3")
    check(driver.find_element(By.ID, "reference").get_attribute("value") == "2026-ACME-001", "the reference typed is kept")
    page_checks(driver, "console-agreement-problems")
    set_date(driver, "lines[1].expiresAt", "2027-06-30")
    field = driver.find_element(By.ID, "lines[2].users")
    field.clear()
    field.send_keys("5")
    click_and_wait(driver, driver.find_element(By.ID, "save-agreement"))
    check("agreement was recorded" in driver.find_element(By.ID, "flash").text, "the agreement is recorded")
    serials = [link.text for link in driver.find_elements(By.CSS_SELECTOR, "#agreement-keys a.mono")]
    check(len(serials) == 3, f"the three keys it made: {serials}")
    page_checks(driver, "console-agreement")
    if len(serials) != 3:
        return

    # 4. Renew the first (refused until confirmed), switch the second, revoke the third.
    click_and_wait(driver, driver.find_element(By.LINK_TEXT, serials[0]))
    check(driver.find_element(By.ID, "access-key").get_attribute("value").startswith("key/"), "the access key to copy")
    check(driver.find_element(By.ID, "copy-access-key").is_displayed(), "with a Copy button where the script runs")
    page_checks(driver, "console-key")
    set_date(driver, "renew-expires", "2028-12-31")
    click_and_wait(driver, driver.find_element(By.ID, "renew-button"))
    check("Tick the box" in driver.find_element(By.ID, "renew").text, "renewing needs the confirmation")
    set_date(driver, "renew-expires", "2028-12-31")
    driver.find_element(By.ID, "renew-confirm").click()
    click_and_wait(driver, driver.find_element(By.ID, "renew-button"))
    check("renewed" in driver.find_element(By.ID, "flash").text and "2028" in driver.find_element(By.ID, "expires").text, "renewed to 2028")

    driver.get(base + "/keys/" + serials[1])
    driver.find_element(By.CSS_SELECTOR, "#switch summary").click()
    field = driver.find_element(By.ID, "users")
    field.clear()
    field.send_keys("20")
    driver.find_element(By.ID, "switch-confirm").click()
    click_and_wait(driver, driver.find_element(By.ID, "switch-button"))
    check("switched" in driver.find_element(By.ID, "flash").text, "switched: this is the new key")
    new_serial = driver.current_url.split("/keys/")[1].split("?")[0]
    driver.get(base + "/keys/" + serials[1])
    check(driver.find_element(By.ID, "key-status").text == "Revoked", "the old key is revoked")
    check(driver.find_element(By.ID, "replaced-by").text == new_serial, "switched to the new serial")

    driver.get(base + "/keys/" + serials[2])
    driver.find_element(By.ID, "revoke-reason").send_keys("The customer ended the staff line on 2026-11-30")
    driver.find_element(By.ID, "revoke-confirm").click()
    click_and_wait(driver, driver.find_element(By.ID, "revoke-button"))
    check("revoked" in driver.find_element(By.ID, "flash").text, "revoked")
    check("ended the staff line" in driver.find_element(By.ID, "revocation-reason").text, "with its reason")

    # 5. The organization's token, shown once.
    driver.get(base + "/organizations/acme-corp")
    driver.find_element(By.ID, "token-name").send_keys("production registry")
    click_and_wait(driver, driver.find_element(By.ID, "create-token"))
    token = driver.find_element(By.ID, "new-token-value").text
    check(token.startswith("kw_"), "the new token is shown")
    page_checks(driver, "console-organization")
    driver.get(base + "/organizations/acme-corp")
    check(token not in driver.page_source, "and only once")

    # 6. Offline activation of one installation, then another promoted to production with a reason.
    for installation, promote in [("inst-test-1", False), ("inst-prod-1", True)]:
        request = os.path.join(directory, f"{installation}.json")
        with open(request, "w") as handle:
            json.dump({"v": 1, "organizationId": "acme-corp", "installationId": installation, "environment": "test",
                       "serials": [serials[0], serials[1], new_serial, serials[2]], "promote": False}, handle)
        driver.get(base + "/activation")
        driver.find_element(By.ID, "request-file").send_keys(request)
        click_and_wait(driver, driver.find_element(By.ID, "read-request"))
        summary = driver.find_element(By.ID, "request-key-count").text
        check("2 revoked" in summary, f"the request's revoked keys are named: {summary!r}")
        if not promote:
            page_checks(driver, "console-activation-request")
        else:
            driver.find_element(By.ID, "promote").click()
            driver.find_element(By.ID, "promote-reason").send_keys("Go-live of the new data center")
        click_and_wait(driver, driver.find_element(By.ID, "activate-button"))
        check("covers 2 key(s)" in driver.find_element(By.ID, "activation-result").text, f"{installation}: the certificate covers the valid keys")
        certificate = json.loads(driver.find_element(By.ID, "certificate-text").get_attribute("value"))
        check(set(certificate) == {"kid", "payload", "signature"}, "a signed certificate to send back")
        if promote:
            check("as a production installation" in driver.find_element(By.ID, "activation-result").text, "promoted: activated as production")
            page_checks(driver, "console-activation-done")
    driver.get(base + "/organizations/acme-corp")
    check("3 of 3 environment changes left" in driver.find_element(By.ID, "changes-left").text, "a first production installation is no change")
    # Promote the test installation back from the organization's page, with a reason.
    driver.find_element(By.ID, "promote-reason-inst-test-1").send_keys("The new data center failed its audit")
    click_and_wait(driver, driver.find_element(By.ID, "promote-inst-test-1"))
    check("Tick the box" in driver.find_element(By.ID, "promote-error-inst-test-1").text, "promoting needs the confirmation")
    driver.find_element(By.ID, "promote-reason-inst-test-1").send_keys("The new data center failed its audit")
    driver.find_element(By.ID, "promote-confirm-inst-test-1").click()
    click_and_wait(driver, driver.find_element(By.ID, "promote-inst-test-1"))
    check("production installation now" in driver.find_element(By.ID, "flash").text, "promoted from the organization's page")
    check("1 of 3 environment changes left" in driver.find_element(By.ID, "changes-left").text, "two changes: one promoted, one demoted")
    check("The new data center failed its audit" in driver.find_element(By.ID, "environment-history").text, "the history keeps the reason")

    # 7. The dashboard, the audit log (filtered, exported) and the signing keys.
    driver.get(base + "/")
    check(driver.find_element(By.ID, "valid-count").text == "2", "two valid keys")
    check(driver.find_element(By.ID, "revoked-count").text == "2", "two revoked")
    check("inst-prod-1" in driver.find_element(By.ID, "latest-activations").text, "the latest activations")
    page_checks(driver, "console-dashboard")
    driver.get(base + "/audit")
    driver.find_element(By.ID, "filter-organization").send_keys("acme-corp")
    click_and_wait(driver, driver.find_element(By.ID, "apply-filters"))
    events = driver.find_element(By.ID, "events").text
    check("license-key.switched" in events and "operator:clara" in events and "installation.activated" in events, "the organization's events")
    page_checks(driver, "console-audit")
    export = driver.find_element(By.ID, "export-csv").get_attribute("href")
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    with urllib.request.urlopen(urllib.request.Request(export, headers={"Cookie": cookie}), timeout=30) as response:
        csv = response.read().decode()
        check(response.headers["Content-Type"].startswith("text/csv"), "the export is CSV")
    check(csv.startswith("id,occurred_at,actor,action,target,details") and "license-key.revoked" in csv, "with the filtered events")
    driver.get(base + "/signing-keys")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#signing-keys tbody tr")) == 1, "the active signing key")
    page_checks(driver, "console-signing-keys")
    log_out(driver)


def auditor(driver, base):
    """An auditor reads everything and is offered no change."""
    log_in(driver, base, "otto", CLERK_PASSWORD)
    driver.get(base + "/organizations")
    check(not driver.find_elements(By.ID, "create-organization"), "no Create form for an auditor")
    driver.get(base + "/organizations/acme-corp")
    check(not driver.find_elements(By.ID, "create-token") and not driver.find_elements(By.ID, "new-agreement"), "no change offered")
    link = driver.find_element(By.CSS_SELECTOR, "#keys a.row-link")
    click_and_wait(driver, link)
    check(not driver.find_elements(By.ID, "revoke-button"), "no Revoke for an auditor")
    log_out(driver)


def admin(driver, base, issuer):
    """The admin signs in with the identity provider and manages the operators; a stranger is told, in words."""
    provider_pages = (issuer + "/", "https://cdn.jsdelivr.net/")
    driver.get(base + "/login")
    button = driver.find_element(By.ID, "sign-in-with-provider")
    check(button.text == "Sign in with Vendor Login", f"the login page offers the provider: {button.text!r}")
    click_and_wait(driver, button)
    check(driver.current_url.startswith(issuer + "/oauth2/authorize?") and "code_challenge_method=S256" in driver.current_url, "PKCE to the provider")
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button[name=sub][value='op-1']"))
    check(driver.current_url == base + "/", f"signed in with the provider, on the dashboard: {driver.current_url}")
    driver.get(base + "/operators")
    driver.find_element(By.ID, "operator-login").send_keys("bruno")
    driver.find_element(By.ID, "operator-name").send_keys("Bruno Lima")
    Select(driver.find_element(By.ID, "operator-role")).select_by_value("clerk")
    click_and_wait(driver, driver.find_element(By.ID, "create-operator-button"))
    check(len(driver.find_element(By.ID, "new-operator-password").text) == 24, "the new operator's password, shown once")
    page_checks(driver, "console-operators", foreign=provider_pages)
    # Rotate the signing key: a new one signs, the old one stays trusted; it still signs live keys, so retiring it is refused.
    driver.get(base + "/signing-keys")
    old = driver.find_element(By.CSS_SELECTOR, "#signing-keys tbody td.mono").text
    driver.find_element(By.ID, "rotate-confirm").click()
    click_and_wait(driver, driver.find_element(By.ID, "rotate-button"))
    check("new signing key signs from now on" in driver.find_element(By.ID, "flash").text, "rotated")
    rows = driver.find_elements(By.CSS_SELECTOR, "#signing-keys tbody tr")
    check(len(rows) == 2 and "active" in rows[0].text and old in rows[1].text and "trusted" in rows[1].text, "the new key is active, the old trusted")
    driver.find_element(By.ID, f"retire-confirm-{old}").click()
    click_and_wait(driver, driver.find_element(By.ID, f"retire-{old}"))
    check("still signs" in driver.find_element(By.ID, "signing-key-error").text, "a key that still signs live keys is not retired")
    page_checks(driver, "console-signing-keys-rotated")
    log_out(driver)
    check(driver.find_elements(By.ID, "provider-sign-out"), "the provider's sign-out is offered")
    click_and_wait(driver, driver.find_element(By.ID, "sign-in-with-provider"))
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button[name=sub][value='op-2']"))
    refusal = driver.find_element(By.ID, "login-error").text
    check("mallory at Vendor Login is not an operator of this authority" in refusal, f"a stranger is refused in words: {refusal!r}")
    page_checks(driver, "console-login-refused", foreign=provider_pages)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "keyward")))
