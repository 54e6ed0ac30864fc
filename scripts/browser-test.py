#!/usr/bin/env python3
"""Walks the seed article in a real browser (Selenium, headless Chromium) against `keyward serve --demo`:

log in; create a key by pasting it (and see a tampered key refused, in words, beside the field); open its data
screen and see its components; edit its ID #; activate; see the activation banner disappear.
Every page is checked for console errors and unlabelled form fields; screenshots go to docs/screenshots/.

    python3 scripts/browser-test.py [path/to/keyward]
"""
import os
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

    # Narrow screens keep working.
    driver.set_window_size(390, 844)
    driver.get(base + "/license-keys")
    page_checks(driver, "license-keys-phone")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "keyward")))
