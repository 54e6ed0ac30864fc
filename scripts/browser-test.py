#!/usr/bin/env python3
"""Walks the seed article in a real browser (Selenium, headless Chromium) against `keyward serve --demo`:

log in; create a key by pasting it (and see a tampered key refused, in words, beside the field); open its data
screen and see its components; edit its ID #; activate; see the activation banner disappear.
Every page is checked for console errors and unlabelled form fields; screenshots go to docs/screenshots/.

    python3 scripts/browser-test.py [path/to/keyward]
"""
import json
import os
import urllib.error
import urllib.request
import re
import socket
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCREENSHOTS = os.path.join(ROOT, "docs", "screenshots")
passed = 0
failed = 0


def check(condition, what):
    global passed, failed
    if condition:
        passed += 1
    else:
        failed += 1
        print(f"FAILED: {what}", file=sys.stderr)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def browser():
    options = Options()
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"]:
        if os.path.exists(candidate):
            options.binary_location = candidate
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def click_and_wait(driver, element):
    """Clicks a link or submit button and waits until the next page has replaced this one."""
    old = driver.find_element(By.TAG_NAME, "html")
    element.click()

    def replaced(_):
        # The old page's root no longer answers once the next page has loaded; chromedriver says so in more
        # than one way (a stale reference, or a node that "does not belong to the document").
        try:
            old.is_enabled()
            return False
        except WebDriverException:
            return True

    WebDriverWait(driver, 15).until(replaced)
    WebDriverWait(driver, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")


def page_checks(driver, name):
    """No console errors, every visible form field has a label, and a screenshot."""
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    check(not errors, f"{name}: console errors {errors}")
    for field in driver.find_elements(By.CSS_SELECTOR, "input:not([type=hidden]):not([type=submit]), textarea, select"):
        identifier = field.get_attribute("id")
        labelled = identifier and driver.find_elements(By.CSS_SELECTOR, f"label[for='{identifier}']")
        check(bool(labelled), f"{name}: field {field.get_attribute('name')} has no label")
    driver.save_screenshot(os.path.join(SCREENSHOTS, f"{name}.png"))


def main(binary):
    os.makedirs(SCREENSHOTS, exist_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        port, authority_port = free_port(), free_port()
        environment = dict(os.environ, KEYWARD_ADMIN_PASSWORD="browser-test-password")
        server = subprocess.Popen([binary, "serve", "--demo", "--data-dir", directory, "--port", str(port),
                                   "--demo-authority-port", str(authority_port)],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=environment)
        try:
            line = server.stdout.readline()
            check("listening on" in line, f"the registry starts: {line!r}")
            base = f"http://127.0.0.1:{port}"
            with open(os.path.join(directory, "demo-authority", "sample-access-keys.txt")) as handle:
                keys = [line.strip() for line in handle if line.startswith("key/")]
            driver = browser()
            try:
                run(driver, base, keys)
            finally:
                driver.quit()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"browser: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def run(driver, base, keys):
    # 1. Log in.
    driver.get(base + "/license-keys")
    check(driver.current_url.endswith("/login"), "an anonymous visitor is sent to the login page")
    page_checks(driver, "login")
    driver.find_element(By.ID, "login").send_keys("admin")
    driver.find_element(By.ID, "password").send_keys("wrong password")
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    check("wrong" in driver.find_element(By.ID, "login-error").text, "a wrong password is refused in words")
    driver.find_element(By.ID, "password").send_keys("browser-test-password")
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    check(driver.current_url.endswith("/license-keys"), "logging in opens the License key page")
    check("No license key is registered yet" in driver.page_source, "an empty list says so")

    # 2. Create a key by pasting it; first a tampered one, refused beside the field.
    click_and_wait(driver, driver.find_element(By.ID, "create"))
    page_checks(driver, "create")
    key = keys[0]
    payload, signature = key.split(".")
    tampered = payload + "." + ("B" if signature[10] == "A" else "A").join([signature[:10], signature[11:]])
    driver.find_element(By.ID, "idNumber").send_keys("Engineering")
    driver.find_element(By.ID, "accessKey").send_keys(tampered)
    click_and_wait(driver, driver.find_element(By.ID, "save"))
    error = driver.find_element(By.ID, "accessKey-error").text
    check("BAD_SIGNATURE" in error and "altered" in error, f"a tampered key is refused beside the field: {error!r}")
    check(driver.find_element(By.ID, "idNumber").get_attribute("value") == "Engineering", "the form keeps what was typed")
    page_checks(driver, "create-refused")
    field = driver.find_element(By.ID, "accessKey")
    field.clear()
    # Pasted with line breaks, as keys arrive in e-mails.
    field.send_keys("\n".join(key[i:i + 70] for i in range(0, len(key), 70)))
    click_and_wait(driver, driver.find_element(By.ID, "save"))
    check(driver.current_url.endswith("/license-keys?flash=registered"), f"saving returns to the list: {driver.current_url} {driver.find_elements(By.CSS_SELECTOR, '.error')[0].text if driver.find_elements(By.CSS_SELECTOR, '.error') else ''}")
    rows = driver.find_elements(By.CSS_SELECTOR, "#keys tbody tr")
    check(len(rows) == 1 and "Engineering" in rows[0].text, "the new key is listed with its ID #")
    check(driver.find_elements(By.ID, "activation-banner"), "the activation banner appears after a key change")
    for other in keys[1:3]:
        driver.get(base + "/license-keys/new")
        driver.find_element(By.ID, "idNumber").send_keys("Key " + other[-12:-6])
        driver.find_element(By.ID, "accessKey").send_keys(other)
        click_and_wait(driver, driver.find_element(By.ID, "save"))
    page_checks(driver, "license-keys")

    # 3. The data screen: summary and components.
    click_and_wait(driver, driver.find_element(By.LINK_TEXT, "Engineering"))
    check(re.search(r"/license-keys/KW-", driver.current_url), "clicking a row opens the key's data screen")
    components = driver.find_element(By.ID, "components").text
    check("Document" in components and "Workflow" in components and "Configuration" in components, f"its components are listed: {components!r}")
    check("manager" in driver.find_element(By.ID, "summary").text, "its summary shows the profile")
    page_checks(driver, "key-data-screen")

    # 4. Edit the ID #.
    click_and_wait(driver, driver.find_element(By.ID, "edit"))
    field = driver.find_element(By.ID, "idNumber")
    field.clear()
    click_and_wait(driver, driver.find_element(By.ID, "save"))
    check("ID #" in driver.find_element(By.ID, "idNumber-error").text, "an empty ID # is refused in words")
    page_checks(driver, "edit")
    field = driver.find_element(By.ID, "idNumber")
    field.clear()
    field.send_keys("Engineering (SOX)")
    click_and_wait(driver, driver.find_element(By.ID, "save"))
    check(driver.find_element(By.TAG_NAME, "h1").text.startswith("Engineering (SOX)"), "the ID # is changed")

    # 5. Activate, and see the banner disappear.
    driver.get(base + "/activation")
    check(driver.find_element(By.ID, "activation-status").text in ("never", "required"), "activation is needed")
    check("+ key" in driver.find_element(By.ID, "changes").text, "the page shows what activating changes")
    page_checks(driver, "activation")
    click_and_wait(driver, driver.find_element(By.ID, "activate"))
    check(driver.find_element(By.ID, "activation-status").text == "active", "activating online makes it active")
    driver.get(base + "/license-keys")
    check(not driver.find_elements(By.ID, "activation-banner"), "the activation banner is gone")
    check(not driver.find_elements(By.CSS_SELECTOR, ".badge-pending"), "every key is covered by the activation")
    page_checks(driver, "license-keys-activated")

    # Delete with a confirmation; the banner comes back.
    click_and_wait(driver, driver.find_elements(By.CSS_SELECTOR, "#keys tbody tr a.row-link")[-1])
    click_and_wait(driver, driver.find_element(By.ID, "delete"))
    page_checks(driver, "delete-confirmation")
    click_and_wait(driver, driver.find_element(By.ID, "confirm-delete"))
    check(len(driver.find_elements(By.CSS_SELECTOR, "#keys tbody tr")) == 2, "the key is deleted after confirming")
    check(driver.find_elements(By.ID, "activation-banner"), "a deletion asks for activation again")

    # Synchronize access keys: the demo authority's other keys arrive, activation follows by itself.
    click_and_wait(driver, driver.find_element(By.ID, "synchronize"))
    flash = driver.find_element(By.ID, "flash").text
    check("added" in flash, f"the button says what the synchronization did: {flash!r}")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#keys tbody tr")) == 5, "every key of the organization is listed")
    check(not driver.find_elements(By.ID, "activation-banner"), "activation happened by itself")
    page_checks(driver, "license-keys-synchronized")
    click_and_wait(driver, driver.find_element(By.ID, "history"))
    check(len(driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr")) == 1, "the history shows the manual run")
    check("succeeded" in driver.find_element(By.ID, "runs").text, "the run succeeded")
    page_checks(driver, "synchronization-history")

    # Settings: the demo's authority comes from its start-up configuration, so it is shown read-only; the
    # connection test fetches and checks the feed.
    driver.get(base + "/settings")
    check(driver.find_elements(By.ID, "settings-locked"), "settings set at start-up are read-only")
    check("kw_" not in driver.page_source, "the organization token is never shown")
    click_and_wait(driver, driver.find_element(By.ID, "test-connection"))
    result = driver.find_element(By.ID, "test-result").text
    check("CONNECTED" in result and "revision" in result, f"Test connection says what it found: {result!r}")
    check("Every day at 02:00 UTC" in driver.find_element(By.ID, "schedule").text, "the daily schedule is shown")
    page_checks(driver, "settings")

    access(driver, base)

    # Narrow screens keep working.
    driver.set_window_size(390, 844)
    driver.get(base + "/license-keys")
    page_checks(driver, "license-keys-phone")


def api(base, method, path, token, body=None):
    """A JSON call to the registry's API; returns (status, body)."""
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def access(driver, base):
    """Users, an access group up to its seats and a refused assignment, sessions until a floating key is full,
    disconnections, entitlement checks, the dashboard and a migration preview."""
    _, login = api(base, "POST", "/api/v1/auth/token", None, {"login": "admin", "password": "browser-test-password"})
    token = login["token"]
    _, listed = api(base, "GET", "/api/v1/license-keys", token)
    keys = listed["items"]
    nominative = next(k for k in keys if k["useType"] == "nominative" and k["users"] == 50)
    manager = next(k for k in keys if k["useType"] == "nominative" and k["users"] == 25)
    floating = next(k for k in keys if k["useType"] == "floating" and k["users"] == 10)

    # Users: one through the form, fifty through the API.
    driver.get(base + "/users")
    page_checks(driver, "users-empty")
    click_and_wait(driver, driver.find_element(By.ID, "create-user"))
    driver.find_element(By.ID, "login").send_keys("ann")
    driver.find_element(By.ID, "name").send_keys("Ann Archer")
    driver.find_element(By.ID, "email").send_keys("not an address")
    click_and_wait(driver, driver.find_element(By.ID, "save"))
    check("e-mail" in driver.find_element(By.ID, "email-error").text, "a bad e-mail is refused beside the field")
    field = driver.find_element(By.ID, "email")
    field.clear()
    field.send_keys("ann@example.com")
    click_and_wait(driver, driver.find_element(By.ID, "save"))
    check(driver.current_url.endswith("/users/ann?flash=user-created"), f"the user is created: {driver.current_url}")
    page_checks(driver, "user")
    for number in range(1, 61):
        api(base, "POST", "/api/v1/users", token, {"login": f"user{number}", "name": f"User {number}", "email": f"user{number}@example.com"})
    driver.get(base + "/users?search=user1")
    rows = driver.find_elements(By.CSS_SELECTOR, "#users tbody tr")
    check(len(rows) == 11, f"the search finds user1 and user10..user19: {len(rows)}")
    page_checks(driver, "users")

    # An access group on the 50-seat key, filled, then one more refused with the figures.
    driver.get(base + "/access-groups/new")
    driver.find_element(By.ID, "idNumber").send_keys("Writers")
    driver.find_element(By.ID, "name").send_keys("Writers")
    Select(driver.find_element(By.ID, "keySerial")).select_by_value(nominative["serial"])
    Select(driver.find_element(By.ID, "component")).select_by_value("DOC")
    driver.find_element(By.ID, "menu-DC021").click()
    driver.find_element(By.ID, "menu-DC030").click()
    click_and_wait(driver, driver.find_element(By.ID, "save"))
    check("MENU_NOT_ALLOWED_FOR_PROFILE" in driver.find_element(By.ID, "form-error").text, "a menu above the key's profile is refused in words")
    page_checks(driver, "access-group-refused")
    driver.find_element(By.ID, "menu-DC030").click()
    click_and_wait(driver, driver.find_element(By.ID, "save"))
    check("/access-groups/Writers" in driver.current_url, f"the group is created: {driver.current_url}")
    status, _ = api(base, "POST", "/api/v1/access-groups/Writers/users", token, {"logins": [f"user{n}" for n in range(1, 51)]})
    check(status == 200, "fifty users fill the fifty seats")
    driver.get(base + "/access-groups/Writers?search=ann")
    driver.find_element(By.ID, "add-ann").click()
    click_and_wait(driver, driver.find_element(By.ID, "add-users"))
    refusal = driver.find_element(By.ID, "form-error").text
    check("SEAT_LIMIT_EXCEEDED" in refusal and "50 seats" in refusal and "50 are in use" in refusal, f"the 51st is refused with the figures: {refusal!r}")
    page_checks(driver, "access-group-seat-refusal")
    driver.get(base + "/access-groups")
    page_checks(driver, "access-groups")

    # Sessions on the 10-seat floating key until it is full; then disconnections.
    api(base, "POST", "/api/v1/access-groups", token, {"idNumber": "Maintenance", "name": "Maintenance", "keySerial": floating["serial"],
                                                      "component": "MNT", "menus": ["MT001"], "users": [f"user{n}" for n in range(51, 61)] + ["ann"]})
    opened = [api(base, "POST", "/api/v1/sessions", token, {"login": login, "ip": f"192.0.2.{i}"}) for i, login in
              enumerate([f"user{n}" for n in range(51, 61)] + ["ann"], start=1)]
    check([status for status, _ in opened] == [201] * 10 + [409] and opened[-1][1]["error"]["code"] == "NO_SEAT_AVAILABLE",
          "ten sessions fill the floating key; the eleventh login is refused")
    _, decision = api(base, "GET", "/api/v1/entitlements/check?login=user51&component=MNT&menu=MT001", token)
    check(decision.get("allowed") is True and decision.get("keySerial") == floating["serial"], f"a logged-in user may open the menu: {decision}")
    _, decision = api(base, "GET", "/api/v1/entitlements/check?login=user1&component=DOC&menu=DC021", token)
    check(decision.get("allowed") is True, f"a nominative seat grants the menu: {decision}")
    _, decision = api(base, "GET", "/api/v1/entitlements/check?login=ann&component=DOC&menu=DC021", token)
    check(decision.get("code") == "NO_ACCESS", f"a user outside the groups may not: {decision}")
    driver.get(base + "/sessions")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")) == 10, "the open sessions are listed")
    page_checks(driver, "sessions")
    click_and_wait(driver, driver.find_elements(By.CSS_SELECTOR, "#sessions tbody button")[0])
    check(len(driver.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")) == 9, "Disconnect ends one user's session")
    click_and_wait(driver, driver.find_element(By.ID, "disconnect-all"))
    check(not driver.find_elements(By.CSS_SELECTOR, "#sessions tbody tr"), "Disconnect all ends every session")
    click_and_wait(driver, driver.find_element(By.ID, "session-history"))
    check("disconnected" in driver.find_element(By.ID, "history").text, "the history says how each session ended")
    page_checks(driver, "session-history")

    # The dashboard, and a migration preview that cannot fit fifty users in twenty-five seats.
    driver.get(base + "/dashboard")
    check(driver.find_elements(By.ID, "seat-chart"), "the dashboard draws the seat use")
    check("50 / 50 assigned" in driver.page_source, "the full key is shown full")
    page_checks(driver, "dashboard")
    driver.get(base + f"/license-keys/{nominative['serial']}/migrate")
    Select(driver.find_element(By.ID, "to")).select_by_value(manager["serial"])
    click_and_wait(driver, driver.find_element(By.ID, "preview"))
    plan = driver.find_element(By.ID, "plan").text
    check("cannot move" in plan and "SEAT_LIMIT_EXCEEDED" in plan, f"the preview says why the accesses cannot move: {plan!r}")
    page_checks(driver, "migrate-accesses")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "keyward")))
