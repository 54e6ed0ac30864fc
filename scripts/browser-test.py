#!/usr/bin/env python3
"""Walks the seed article in a real browser (Selenium, headless Chromium) against `keyward serve --demo`:

log in; create a key by pasting it (and see a tampered key refused, in words, beside the field); open its data
screen and see its components; edit its ID #; activate; see the activation banner disappear. Then the access
pages: users, an access group form driven by the chosen key, finding and adding users page by page, sessions
(each disconnection confirmed), the error page a browser gets. Wide lists are checked to fit a 1280 px window
(Status and the hover Edit link inside it, with a 50-character ID #) and a 390 px phone (ID #, status, actions).
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
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import verifylib  # noqa: E402
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
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"]:
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


def page_checks(driver, name, status=None, foreign=()):
    """No console errors, every visible form field has a label, and a screenshot. An error page names its own
    `status`, which the console reports for the page itself: that one is expected. `foreign` lists the origins of
    pages not ours the browser just came through (an identity provider's, loading its stylesheet from a CDN)."""
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"
              and not (status and entry.get("source") == "network" and f"status of {status} " in entry["message"])
              and not any(entry["message"].startswith(origin) for origin in foreign)]
    check(not errors, f"{name}: console errors {errors}")
    for field in driver.find_elements(By.CSS_SELECTOR, "input:not([type=hidden]):not([type=submit]), textarea, select"):
        identifier = field.get_attribute("id")
        labelled = identifier and driver.find_elements(By.CSS_SELECTOR, f"label[for='{identifier}']")
        check(bool(labelled), f"{name}: field {field.get_attribute('name')} has no label")
    driver.save_screenshot(os.path.join(SCREENSHOTS, f"{name}.png"))


def inside_viewport(driver, element):
    """Whether the element is drawn and its right edge is inside the window (nothing cut off to the right)."""
    box = driver.execute_script("var r = arguments[0].getBoundingClientRect(); return [r.left, r.right, r.width, window.innerWidth];", element)
    return box[2] > 0 and box[0] >= 0 and box[1] <= box[3]


def table_fits(driver, table_id):
    """Whether the table is no wider than the window and than its box (no column pushed off-screen)."""
    return driver.execute_script(
        "var t = document.getElementById(arguments[0]); if (!t) return false; var w = t.parentElement;"
        "return t.getBoundingClientRect().right <= window.innerWidth && t.scrollWidth <= w.clientWidth + 1;", table_id)


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
    check(table_fits(driver, "runs"), "the synchronization history fits a 1280 px window")
    page_checks(driver, "synchronization-history")

    # The key list at 1280 px with a 50-character ID #: it wraps, Status and the hover Edit link stay on screen,
    # and a synchronized key (whose ID # is its serial) shows the serial once.
    driver.get(base + "/license-keys")
    rows = driver.find_elements(By.CSS_SELECTOR, "#keys tbody tr")
    check(any(not r.find_elements(By.CSS_SELECTOR, "small.serial") for r in rows), "a key named by its serial shows it once")
    check(all(r.find_element(By.CSS_SELECTOR, "a.row-link").text not in
              [s.text for s in r.find_elements(By.CSS_SELECTOR, "small.serial")] for r in rows), "no row repeats its serial")
    last = driver.find_elements(By.CSS_SELECTOR, "#keys tbody tr a.row-link")[-1]
    click_and_wait(driver, last)
    click_and_wait(driver, driver.find_element(By.ID, "edit"))
    long_name = "Engineering and quality, Curitiba plant 2026 (SOX)"
    check(len(long_name) == 50, "the long ID # has 50 characters")
    field = driver.find_element(By.ID, "idNumber")
    field.clear()
    field.send_keys(long_name)
    click_and_wait(driver, driver.find_element(By.ID, "save"))
    driver.get(base + "/license-keys")
    row = next(r for r in driver.find_elements(By.CSS_SELECTOR, "#keys tbody tr") if long_name in r.text)
    ActionChains(driver).move_to_element(row.find_element(By.CSS_SELECTOR, "td.status")).perform()
    edit = row.find_element(By.CSS_SELECTOR, "a.edit")
    check(edit.is_displayed(), "hovering the row shows Edit")
    check(inside_viewport(driver, row.find_element(By.CSS_SELECTOR, "td.status")), "at 1280 px the Status cell of a key with a 50-character ID # is on screen")
    check(inside_viewport(driver, edit), "at 1280 px the Edit link of a key with a 50-character ID # is on screen")
    check(table_fits(driver, "keys"), "the key list fits its box at 1280 px")
    check(row.find_element(By.CSS_SELECTOR, "td.col-id").size["height"] > row.find_element(By.CSS_SELECTOR, "td.col-id a").size["height"] - 1,
          "the long ID # wraps inside its cell")
    driver.save_screenshot(os.path.join(SCREENSHOTS, "license-keys-1280.png"))

    # Settings: the demo's authority comes from its start-up configuration, so it is shown read-only; the
    # connection test fetches and checks the feed.
    driver.get(base + "/settings")
    check(driver.find_elements(By.ID, "settings-locked"), "settings set at start-up are read-only")
    check("kw_" not in driver.page_source, "the organization token is never shown")
    click_and_wait(driver, driver.find_element(By.ID, "test-connection"))
    result = driver.find_element(By.ID, "test-result").text
    check("CONNECTED" in result and "revision" in result, f"Test connection says what it found: {result!r}")
    check("Connected:" not in result, f"the result does not say CONNECTED twice: {result!r}")
    check("Every day at 02:00 UTC" in driver.find_element(By.ID, "schedule").text, "the daily schedule is shown")
    page_checks(driver, "settings")

    # Tokens for other systems: a directory token for the identity provider, shown once, then only listed.
    driver.find_element(By.CSS_SELECTOR, "#token-kind option[value=directory]").click()
    driver.find_element(By.ID, "token-name").send_keys("entra-id")
    click_and_wait(driver, driver.find_element(By.ID, "create-token"))
    made = driver.find_element(By.ID, "new-token-value").text.strip()
    check(made.startswith("kw_") and len(made) == 48, f"the new token is shown, whole, once: {made[:8]!r}…")
    check("not shown again" in driver.find_element(By.ID, "new-token").text, "the page says to copy it now")
    driver.save_screenshot(os.path.join(SCREENSHOTS, "settings-token-made.png"))
    driver.get(base + "/settings")
    check(made not in driver.page_source, "the token is not shown again")
    row = [r for r in driver.find_elements(By.CSS_SELECTOR, "#tokens tbody tr") if "entra-id" in r.text][0]
    check("directory" in row.text and "active" in row.text, f"the token is listed with its kind: {row.text!r}")
    row.find_element(By.TAG_NAME, "summary").click()
    click_and_wait(driver, row.find_element(By.CSS_SELECTOR, "button.danger"))
    check("token was revoked" in driver.find_element(By.ID, "flash").text, "revoking says so")
    row = [r for r in driver.find_elements(By.CSS_SELECTOR, "#tokens tbody tr") if "entra-id" in r.text][0]
    check("revoked" in row.text, f"the token is listed as revoked: {row.text!r}")
    driver.find_element(By.ID, "token-name").send_keys("   ")
    click_and_wait(driver, driver.find_element(By.ID, "create-token"))
    check("1 to 100 characters" in driver.find_element(By.ID, "token-name-error").text, "a blank name is refused beside its field")
    page_checks(driver, "settings-tokens")

    access(driver, base)
    directory(driver, base)
    ldap(driver, base)
    oidc(driver, base)
    errors(driver, base)

    # Narrow screens keep working: a phone shows each key's ID #, its status and its actions.
    driver.set_window_size(390, 844)
    driver.get(base + "/license-keys")
    for row in driver.find_elements(By.CSS_SELECTOR, "#keys tbody tr"):
        for selector, what in [("td.col-id a", "ID #"), ("td.status .badge", "status"), ("a.edit", "Edit")]:
            element = row.find_element(By.CSS_SELECTOR, selector)
            check(element.is_displayed() and inside_viewport(driver, element), f"at 390 px the {what} of every key is on screen")
        check(not row.find_element(By.CSS_SELECTOR, "td.opt").is_displayed(), "at 390 px the secondary columns are left out")
    page_checks(driver, "license-keys-phone")
    for path, table in [("/users", "users"), ("/access-groups", "groups"), ("/sessions/history", "history"),
                        ("/license-keys/synchronizations?trigger=all", "runs")]:
        driver.get(base + path)
        check(table_fits(driver, table), f"at 390 px {path} fits the screen")
    driver.get(base + "/access-groups")
    page_checks(driver, "access-groups-phone")
    driver.set_window_size(1280, 1000)


def errors(driver, base):
    """A browser gets the site's error page, not the API's JSON: an unknown address, and a paste over 1 MiB."""
    driver.get(base + "/no-such-page")
    check(driver.find_elements(By.ID, "error-page"), "an unknown address shows the error page")
    check("nothing at this address" in driver.find_element(By.ID, "error-page").text, "it says there is nothing there")
    check('"error"' not in driver.page_source, "no raw JSON is shown")
    page_checks(driver, "error-page", status=404)
    driver.get(base + "/license-keys/new")
    driver.find_element(By.ID, "idNumber").send_keys("Too big")
    driver.execute_script("document.getElementById('accessKey').value = 'key/' + 'A'.repeat(1100000);")
    click_and_wait(driver, driver.find_element(By.ID, "save"))
    check(driver.find_elements(By.ID, "error-page") and "413" in driver.find_element(By.TAG_NAME, "h1").text,
          "a paste over 1 MiB is refused on the error page")
    check('"error"' not in driver.page_source, "no raw JSON for the large paste")
    page_checks(driver, "error-too-large", status=413)


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

    # The key is named by its ID #, which the administrator chose.
    status, _ = api(base, "PATCH", f"/api/v1/license-keys/{nominative['serial']}", token, {"idNumber": "Documents (50 seats)"})
    check(status == 200, "the nominative key gets an ID #")
    status, _ = api(base, "PATCH", f"/api/v1/license-keys/{floating['serial']}", token, {"idNumber": "Maintenance floating"})
    check(status == 200, "the floating key gets an ID #")

    # An access group on the 50-seat key: the form offers only the chosen key's components and the menus its
    # profile allows, at once (the script); a refusal is still explained; then filled, and one more refused.
    driver.get(base + "/access-groups/new")
    check(not driver.find_element(By.ID, "group-step-2").is_displayed(), "before a key is chosen, no component or menu is offered")
    check(not driver.find_element(By.ID, "choose-key").is_displayed(), "with the script, no Next step is needed")
    driver.find_element(By.ID, "idNumber").send_keys("Writers")
    driver.find_element(By.ID, "name").send_keys("Writers")
    Select(driver.find_element(By.ID, "keySerial")).select_by_value(nominative["serial"])
    check(driver.find_element(By.ID, "group-step-2").is_displayed(), "choosing the key offers its components and menus at once")
    offered = [o.get_attribute("value") for o in Select(driver.find_element(By.ID, "component")).options if o.is_enabled()]
    check(sorted(offered) == ["DOC", "TRN", "WF"], f"only the key's components are offered: {offered}")
    Select(driver.find_element(By.ID, "component")).select_by_value("DOC")
    check(driver.find_element(By.ID, "menu-DC021").is_displayed() and driver.find_element(By.ID, "menu-DC023").is_displayed(),
          "the menus the staff profile allows are offered")
    check(not driver.find_element(By.ID, "menu-DC030").is_displayed(), "a menu above the key's profile is not offered")
    check(not driver.find_element(By.ID, "menu-WF001").is_displayed(), "menus of another component are not offered")
    page_checks(driver, "access-group-form")
    click_and_wait(driver, driver.find_element(By.ID, "save"))
    check("at least one menu" in driver.find_element(By.ID, "menus-error").text, "a group without menus is refused in words")
    check(not driver.find_element(By.ID, "menu-DC030").is_displayed(), "after a refusal the form still offers only the key's menus")
    page_checks(driver, "access-group-refused")
    driver.find_element(By.ID, "menu-DC021").click()
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

    # Finding users pages through every match with the total; "Add all matching" takes the whole set, the seat
    # check applies to it, and a refusal keeps the ticks; "Add selected" with nothing ticked says so.
    for number in range(1, 121):
        api(base, "POST", "/api/v1/users", token, {"login": f"clerk{number}", "name": f"Clerk {number}", "email": f"clerk{number}@example.com"})
    status, _ = api(base, "POST", "/api/v1/access-groups", token, {"idNumber": "Clerks", "name": "Clerks", "keySerial": manager["serial"],
                                                                   "component": "DOC", "menus": ["DC021"]})
    check(status == 201, "a group on the 25-seat key")
    driver.get(base + "/access-groups/Clerks?search=clerk")
    check("1–50 of 120 users" in driver.find_element(By.ID, "candidate-count").text, "the search says how many users match")
    click_and_wait(driver, driver.find_element(By.ID, "candidates-next"))
    check("51–100 of 120 users" in driver.find_element(By.ID, "candidate-count").text, "the next page of matches")
    logins = [box.get_attribute("value") for box in driver.find_elements(By.CSS_SELECTOR, "#candidates input")]
    check(logins[:3] == ["clerk51", "clerk52", "clerk53"], f"matches in natural order: {logins[:3]}")
    driver.find_element(By.ID, "add-clerk51").click()
    driver.find_element(By.ID, "add-clerk52").click()
    click_and_wait(driver, driver.find_element(By.ID, "add-all-matching"))
    refusal = driver.find_element(By.ID, "form-error").text
    check("SEAT_LIMIT_EXCEEDED" in refusal and "25 seats" in refusal, f"adding all 120 to 25 seats is refused with the figures: {refusal!r}")
    check(driver.find_element(By.ID, "add-clerk51").is_selected() and driver.find_element(By.ID, "add-clerk52").is_selected(),
          "the refusal keeps the ticks")
    check("51–100 of 120 users" in driver.find_element(By.ID, "candidate-count").text, "and the page")
    page_checks(driver, "access-group-add-users")
    driver.find_element(By.ID, "add-clerk51").click()
    driver.find_element(By.ID, "add-clerk52").click()
    click_and_wait(driver, driver.find_element(By.ID, "add-users"))
    check("No user was ticked" in driver.find_element(By.ID, "form-error").text, "Add selected with nothing ticked says so")
    driver.find_element(By.ID, "add-clerk51").click()
    driver.find_element(By.ID, "add-clerk52").click()
    click_and_wait(driver, driver.find_element(By.ID, "add-users"))
    check(driver.find_element(By.ID, "user-count").text == "2", "the ticked users are added")

    driver.get(base + "/access-groups")
    groups = driver.find_element(By.ID, "groups").text
    check("Documents (50 seats)" in groups, f"the groups list names the key by its ID #: {groups!r}")
    check(table_fits(driver, "groups"), "the groups list fits a 1280 px window")
    page_checks(driver, "access-groups")
    driver.get(base + "/users")
    check("of 181 users" in driver.find_element(By.ID, "user-count").text, f"the users list says how many there are")
    check(table_fits(driver, "users"), "the users list fits a 1280 px window")

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
    check("Maintenance floating" in driver.find_element(By.ID, "sessions").text, "sessions name the key by its ID #")
    check(re.search(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC", driver.find_element(By.ID, "sessions").text), "times are readable, with the zone")
    check(table_fits(driver, "sessions"), "the sessions list fits a 1280 px window")
    page_checks(driver, "sessions")
    click_and_wait(driver, driver.find_elements(By.CSS_SELECTOR, "#sessions tbody a.disconnect")[0])
    check(driver.find_element(By.ID, "disconnect-question").text.startswith("Disconnect user"), "Disconnect asks first")
    page_checks(driver, "disconnect-confirmation")
    click_and_wait(driver, driver.find_element(By.ID, "confirm-disconnect"))
    check(len(driver.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")) == 9, "Disconnect ends one user's session")
    check(re.match(r"User user\d+ was disconnected\.", driver.find_element(By.ID, "flash").text), "it says who was disconnected")
    click_and_wait(driver, driver.find_element(By.ID, "disconnect-all"))
    check("all 9 open sessions" in driver.find_element(By.ID, "disconnect-question").text, "Disconnect all asks first, with the number")
    click_and_wait(driver, driver.find_element(By.ID, "confirm-disconnect"))
    check(not driver.find_elements(By.CSS_SELECTOR, "#sessions tbody tr"), "Disconnect all ends every session")
    check(driver.find_element(By.ID, "flash").text == "9 sessions were disconnected.", "it says how many")
    click_and_wait(driver, driver.find_element(By.ID, "session-history"))
    check("disconnected" in driver.find_element(By.ID, "history").text, "the history says how each session ended")
    check("Maintenance floating" in driver.find_element(By.ID, "history").text, "the history names the key by its ID #")
    check(table_fits(driver, "history"), "the session history fits a 1280 px window")
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



def scim(base, method, path, token, body=None):
    """A SCIM call with a directory token; returns (status, body)."""
    request = urllib.request.Request(base + "/scim/v2" + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def directory(driver, base):
    """Users and a group provisioned through SCIM; the group linked to an access group on its page, members beyond
    the key's seats waiting for one; the group pushed empty by mistake, held, and discarded from the dashboard."""
    _, login = api(base, "POST", "/api/v1/auth/token", None, {"login": "admin", "password": "browser-test-password"})
    token = login["token"]
    _, made = api(base, "POST", "/api/v1/tokens", token, {"kind": "directory", "name": "entra-id"})
    directory_token = made["token"]
    _, listed = api(base, "GET", "/api/v1/license-keys", token)
    manager = next(k for k in listed["items"] if k["useType"] == "nominative" and k["users"] == 25)
    ids = []
    for number in range(1, 31):
        status, user = scim(base, "POST", "/Users", directory_token, {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"q.member{number}@acme.example",
            "displayName": f"Quality Member {number}", "active": "True",
            "emails": [{"type": "work", "primary": True, "value": f"q.member{number}@acme.example"}]})
        check(status == 201, f"SCIM provisions a user: {status} {user}")
        ids.append(user["id"])
    status, group = scim(base, "POST", "/Groups", directory_token, {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                                                      "displayName": "Quality team", "members": [{"value": i} for i in ids]})
    check(status == 201, f"SCIM provisions a group: {status}")
    status, _ = api(base, "POST", "/api/v1/access-groups", token, {"idNumber": "Quality", "name": "Quality", "keySerial": manager["serial"],
                                                                   "component": "DOC", "menus": ["DC021"]})
    check(status == 201, "an access group on the 25-seat key")

    driver.get(base + "/access-groups/Quality")
    check("Quality team" in driver.find_element(By.ID, "directory-groups").text, "the group's page offers the directory group by name")
    driver.find_element(By.ID, f"dg-{group['id']}").click()
    click_and_wait(driver, driver.find_element(By.ID, "save-directory-groups"))
    check("too few seats" in driver.find_element(By.ID, "flash").text, "linking says the key is short of seats")
    waiting = driver.find_element(By.ID, "waiting").text
    check("has 25 seats" in waiting, f"those left out are listed with the key's figures: {waiting[:200]!r}")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#waiting li")) == 7, "the 7 members beyond the free seats wait")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#members .badge-directory")) == 23, "members from the directory are marked")
    page_checks(driver, "access-group-directory")

    driver.get(base + "/users/q.member1@acme.example")
    check("from the directory (SCIM)" in driver.page_source and not driver.find_elements(By.ID, "save"),
          "a directory user's page says where they come from and offers no edit")
    page_checks(driver, "user-from-directory")

    # The classic accident: the identity provider pushes the group empty. Nobody loses access; the dashboard asks.
    status, _ = scim(base, "PUT", f"/Groups/{group['id']}", directory_token,
                     {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Quality team", "members": []})
    check(status == 200, "the empty push is not refused")
    driver.get(base + "/dashboard")
    held = driver.find_element(By.CSS_SELECTOR, ".card-warning").text
    check("Directory change held" in held and "23 of its 23 users" in held, f"the dashboard says a change is held: {held[:200]!r}")
    page_checks(driver, "dashboard-held-change")
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button[id^=discard-held-]"))
    check("keep their access" in driver.find_element(By.ID, "flash").text, "discarding says they keep their access")
    _, quality = api(base, "GET", "/api/v1/access-groups/Quality", token)
    check(len(quality["users"]) == 23, f"nobody lost access: {len(quality['users'])}")


def ldap(driver, base):
    """Settings > Directory: an administrator types a slapd's address, tests it (told how many users and groups it
    finds), saves, synchronizes, and sees the outcome and the history; a typo is refused beside its field."""
    if not os.path.exists("/usr/sbin/slapd"):
        check(False, "slapd is installed (.ci/run installs it)")
        return
    with tempfile.TemporaryDirectory() as directory:
        slapd = verifylib.Slapd(directory, 6, 2, group_names=["Engineering", "Finance"])
        try:
            driver.get(base + "/settings")
            click_and_wait(driver, driver.find_element(By.ID, "open-directory"))
            check("Off: no LDAP server is set" in driver.find_element(By.ID, "directory-schedule").text, "the page says it is off")
            driver.find_element(By.ID, "ldap-url").send_keys("http://" + slapd.url[len("ldap://"):])
            driver.find_element(By.ID, "ldap-bindDN").send_keys(verifylib.Slapd.ROOT_DN)
            driver.find_element(By.ID, "ldap-baseDN").send_keys(verifylib.Slapd.SUFFIX)
            driver.find_element(By.ID, "ldap-password").send_keys(verifylib.Slapd.ROOT_PASSWORD)
            click_and_wait(driver, driver.find_element(By.ID, "save-directory"))
            check("ldaps://" in driver.find_element(By.ID, "ldap-url-error").text, "an http:// URL is refused beside its field")
            url = driver.find_element(By.ID, "ldap-url")
            url.clear()
            url.send_keys(slapd.url)
            click_and_wait(driver, driver.find_element(By.ID, "test-directory"))
            result = driver.find_element(By.ID, "directory-test-result").text
            check("CONNECTED" in result and "finds 6 users and 2 groups" in result, f"the test says what it finds: {result!r}")
            check(driver.find_element(By.ID, "ldap-password").get_attribute("value") != "", "the typed password is kept for Save")
            click_and_wait(driver, driver.find_element(By.ID, "save-directory"))
            check("saved" in driver.find_element(By.ID, "flash").text, "saving says so")
            check(verifylib.Slapd.ROOT_PASSWORD not in driver.page_source, "the saved password is never shown")
            check("Every day at 03:00 UTC, plus up to 30 minutes" in driver.find_element(By.ID, "directory-schedule").text, "the daily time is shown")
            click_and_wait(driver, driver.find_element(By.ID, "synchronize-directory"))
            flash = driver.find_element(By.ID, "flash").text
            check("6 users added" in flash and "2 groups added" in flash, f"the outcome in words: {flash!r}")
            rows = driver.find_elements(By.CSS_SELECTOR, "#directory-runs tbody tr")
            check(len(rows) == 1 and "succeeded" in rows[0].text, "the history lists the run")
            page_checks(driver, "settings-directory")
            driver.get(base + "/users/user1")
            check("LDAP" in driver.page_source, "a user from LDAP says where they come from")
        finally:
            slapd.stop()


def oidc_python():
    """The Python with oidc-provider-mock: KEYWARD_OIDC_PYTHON, else the venv scripts/oidc-provider-venv makes."""
    given = os.environ.get("KEYWARD_OIDC_PYTHON")
    if given:
        return given
    made = subprocess.run([os.path.join(ROOT, "scripts", "oidc-provider-venv")], capture_output=True, text=True)
    return made.stdout.strip() if made.returncode == 0 else None


def oidc(driver, base):
    """Settings > Sign-in with a real OpenID Connect provider (oidc-provider-mock on loopback): an administrator types
    the issuer, tests it (told what it found), saves; then a user signs in with the provider (PKCE, state, nonce),
    lands on the License key page, signs out and is offered the provider's sign-out; someone the registry does not
    know is told so, in words."""
    python = oidc_python()
    if not python:
        check(False, "a Python 3.12 with oidc-provider-mock (scripts/oidc-provider-venv; .ci/run makes it)")
        return
    # A member of Clerks holds a seat on the manager key; a group of its Configuration component lets them administer.
    _, login = api(base, "POST", "/api/v1/auth/token", None, {"login": "admin", "password": "browser-test-password"})
    token = login["token"]
    _, clerks = api(base, "GET", "/api/v1/access-groups/Clerks", token)
    member = sorted(u["login"] if isinstance(u, dict) else u for u in clerks["users"])[0]
    status, made = api(base, "POST", "/api/v1/access-groups", token, {"idNumber": "Keepers", "name": "Keepers", "keySerial": clerks["keySerial"],
                                                                      "component": "CFG", "menus": ["CM009"], "users": [member]})
    check(status == 201, f"{member} administers License key: {status} {made}")
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    # The provider's own pages load a stylesheet from a CDN (unreachable here) and have no icon: not the registry's errors.
    provider_pages = (issuer + "/", "https://cdn.jsdelivr.net/")
    provider = subprocess.Popen(
        [python, "-m", "oidc_provider_mock", "--port", str(port), "--require-nonce",
         "--user-claims", json.dumps({"sub": "c1-4f2a", "preferred_username": member, "email": f"{member}@example.com"}),
         "--user-claims", json.dumps({"sub": "s-9b1c", "preferred_username": "stranger", "email": "stranger@example.com"})],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(issuer + "/.well-known/openid-configuration", timeout=2):
                    break
            except OSError:
                time.sleep(0.1)
        driver.get(base + "/settings")
        check("Now: passwords only" in driver.page_source, "the Settings page says sign-in uses passwords only")
        click_and_wait(driver, driver.find_element(By.ID, "open-sign-in"))
        check(driver.find_element(By.ID, "redirect-uri").text == base + "/login/oidc/callback", "the page gives the redirect URI to register")
        driver.find_element(By.ID, "oidc-issuer").send_keys("ftp://" + issuer[len("http://"):])
        driver.find_element(By.ID, "oidc-clientId").send_keys("keyward-browser-walk")
        driver.find_element(By.ID, "oidc-clientSecret").send_keys("walk-secret-1")
        driver.find_element(By.ID, "oidc-providerName").send_keys("Acme Login")
        click_and_wait(driver, driver.find_element(By.ID, "save-sign-in"))
        check("https://" in driver.find_element(By.ID, "oidc-issuer-error").text, "an ftp:// issuer is refused beside its field")
        field = driver.find_element(By.ID, "oidc-issuer")
        field.clear()
        field.send_keys(issuer)
        click_and_wait(driver, driver.find_element(By.ID, "test-sign-in"))
        result = driver.find_element(By.ID, "sign-in-test-result").text
        check("CONNECTED" in result and f"Found {issuer}" in result and "/oauth2/authorize" in result and "(RSA)" in result,
              f"the test says what it found: {result!r}")
        check(driver.find_element(By.ID, "oidc-clientSecret").get_attribute("value") == "walk-secret-1", "the typed secret is kept for Save")
        click_and_wait(driver, driver.find_element(By.ID, "save-sign-in"))
        check("saved" in driver.find_element(By.ID, "flash").text, "saving says so")
        check("walk-secret-1" not in driver.page_source, "the saved secret is never shown")
        page_checks(driver, "settings-sign-in")
        driver.execute_script("document.getElementById('save-sign-in').scrollIntoView({block: 'end'})")
        driver.save_screenshot(os.path.join(SCREENSHOTS, "settings-sign-in-claims.png"))
        driver.get(base + "/settings")
        card = driver.find_element(By.ID, "open-sign-in")
        check("Acme Login" in driver.find_element(By.CSS_SELECTOR, "section[aria-labelledby=sign-in-heading]").text, "Settings names the provider")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", card)
        driver.save_screenshot(os.path.join(SCREENSHOTS, "settings-sign-in-card.png"))
        driver.get(base + "/settings/sign-in")

        # A user signs in with the provider and lands on the License key page.
        click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form.logout button"))
        button = driver.find_element(By.ID, "sign-in-with-provider")
        check(button.text == "Sign in with Acme Login", f"the login page offers the provider: {button.text!r}")
        page_checks(driver, "login-with-provider")
        click_and_wait(driver, button)
        check(driver.current_url.startswith(issuer + "/oauth2/authorize?"), f"the browser is at the provider: {driver.current_url[:80]}")
        check("code_challenge_method=S256" in driver.current_url and "nonce=" in driver.current_url, "with PKCE and a nonce")
        click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button[name=sub][value='c1-4f2a']"))
        check(driver.current_url == base + "/license-keys", f"signing in lands on the License key page: {driver.current_url}")
        check(member in driver.find_element(By.TAG_NAME, "header").text, "every page shows who is signed in")

        # Signing out ends the registry's session and offers the provider's own sign-out.
        click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form.logout button"))
        offer = driver.find_element(By.ID, "provider-sign-out").text
        check("still signed in to Acme Login" in offer, f"the provider's sign-out is offered: {offer!r}")
        page_checks(driver, "login-provider-sign-out", foreign=provider_pages)
        click_and_wait(driver, driver.find_element(By.ID, "provider-sign-out-link"))
        check(driver.current_url.startswith(issuer + "/oauth2/end_session"), f"at the provider's sign-out: {driver.current_url[:80]}")
        click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form button[type=submit], form button"))
        check(driver.current_url.startswith(base + "/login"), f"back at the registry's login: {driver.current_url}")
        driver.get(base + "/license-keys")
        check(driver.current_url.endswith("/login"), "the registry's session is over")

        # Someone the provider knows and the registry does not: told so, in words, and whom to ask.
        click_and_wait(driver, driver.find_element(By.ID, "sign-in-with-provider"))
        click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button[name=sub][value='s-9b1c']"))
        refusal = driver.find_element(By.ID, "login-error").text
        check("stranger at Acme Login is not a user of this registry" in refusal and "administrator" in refusal, f"the refusal in words: {refusal!r}")
        page_checks(driver, "login-provider-refused", foreign=provider_pages)
        _, events = api(base, "GET", "/api/v1/audit-events?action=sign-in.refused", token)
        check(any(e["details"].get("code") == "OIDC_USER_UNKNOWN" for e in events["items"]), "the refusal is in the audit log")

        # Back in as the built-in administrator, with the password, for what follows.
        driver.find_element(By.ID, "login").send_keys("admin")
        driver.find_element(By.ID, "password").send_keys("browser-test-password")
        click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button[type=submit]"))
        check(driver.current_url.endswith("/license-keys"), "the built-in administrator keeps the password")
    finally:
        provider.terminate()
        provider.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "keyward")))
