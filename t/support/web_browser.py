#!/usr/bin/env python3
"""The web page (gobi_web) in headless Chromium, as a person would use it.

    web_browser.py URL USER PASSWORD VAULT SHOTS_DIR

URL is the server's root (http://127.0.0.1:PORT). The vault must exist and
hold hello.txt (version 1). Each step prints "ok - what" or "not ok - what
(why)"; the exit status is the number of failures (2 and more: could not
run at all). Screenshots go to SHOTS_DIR: web-login.png, web-vaults.png,
web-files.png, web-history.png. The REST checks use the same user's own
session, made with urllib.
"""

import base64
import json
import os
import re
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

URL, USER, PASSWORD, VAULT, SHOTS = sys.argv[1:6]
FAILS = 0


def report(ok, what, why=""):
    global FAILS
    if ok:
        print("ok - " + what, flush=True)
    else:
        FAILS += 1
        print("not ok - %s (%s)" % (what, why), flush=True)
    return ok


def rest(method, path, body=None, token=None, basic=False, headers=None):
    h = dict(headers or {})
    if basic:
        cred = base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode())
        h["Authorization"] = "Basic " + cred.decode()
    elif token:
        h["Authorization"] = "Bearer " + token
    data = body
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    req = urllib.request.Request(URL + "/api/v1/" + path, data=data,
                                 method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def fpath(path):
    return "vaults/%s/files/%s" % (urllib.parse.quote(VAULT, safe=""),
                                   urllib.parse.quote(path))


def manifest(token):
    st, body, _ = rest("GET", "vaults/%s/files" % VAULT, token=token)
    return {f["path"]: f for f in json.loads(body)["files"]
            if not f.get("deleted")}


def row(driver, path):
    rows = driver.find_elements(By.CSS_SELECTOR,
                                'tr[data-path="%s"]' % path)
    return rows[0] if rows else None


def shot(driver, name):
    driver.save_screenshot(os.path.join(SHOTS, name))


def main():
    st, body, _ = rest("POST", "sessions", basic=True)
    token = json.loads(body)["token"]

    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
              "--disable-gpu", "--window-size=1100,760",
              "--force-device-scale-factor=1", "--lang=en-US"):
        opts.add_argument(a)
    opts.binary_location = os.environ.get("GOBI_CHROMIUM",
                                          "/usr/bin/chromium")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(os.environ.get("GOBI_CHROMEDRIVER",
                                     "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=opts)
    wait = WebDriverWait(driver, 15)

    try:
        if os.environ.get("GOBI_WEB_MODE") == "origin-refused":
            run_refused(driver, wait)
        else:
            run(driver, wait, token)
    except Exception as e:                      # a step that threw
        report(False, "the run went to the end", "%s: %s" % (
            type(e).__name__, e))
        traceback.print_exc()
        try:
            shot(driver, "web-failure.png")
        except Exception:
            pass
    finally:
        try:
            for entry in driver.get_log("browser"):
                print("# console: %s %s" % (entry["level"], re.sub(
                    r"access_token=[^&\s'\"]+", "access_token=***",
                    entry["message"])))
        except Exception:
            pass
        driver.quit()


def run(driver, wait, token):
    # log in: a wrong password shows the server's JSON error first
    driver.get(URL + "/app/")
    wait.until(EC.visibility_of_element_located((By.ID, "login-user")))
    driver.find_element(By.ID, "login-user").send_keys(USER)
    driver.find_element(By.ID, "login-password").send_keys("not the password")
    driver.find_element(By.ID, "login-submit").click()
    err = wait.until(EC.visibility_of_element_located((By.ID, "login-error")))
    report("unauthorized" in err.text, "a wrong password shows the error",
           err.text)
    pw = driver.find_element(By.ID, "login-password")
    pw.clear()
    pw.send_keys(PASSWORD)
    shot(driver, "web-login.png")
    driver.find_element(By.ID, "login-submit").click()

    # the vault list
    link = wait.until(EC.element_to_be_clickable(
        (By.CSS_SELECTOR, '#vault-list a[data-vault="%s"]' % VAULT)))
    report(True, "logged in: the vault list shows " + VAULT)
    stored = driver.execute_script(
        "return sessionStorage.getItem('gobi.token')")
    report(bool(stored), "the token is kept in sessionStorage")
    shot(driver, "web-vaults.png")

    # a vault: the file list, and the live connection
    link.click()
    wait.until(lambda d: row(d, "hello.txt") is not None)
    report(True, "the vault shows hello.txt")
    try:
        wait.until(EC.text_to_be_present_in_element((By.ID, "live"), "live"))
        report(True, "the WebSocket is live")
    except TimeoutException:
        report(False, "the WebSocket is live",
               driver.find_element(By.ID, "live").text)

    # upload through the file <input> the drop zone shares
    tmp = tempfile.mkdtemp()
    up = os.path.join(tmp, "from-browser.txt")
    with open(up, "w") as f:
        f.write("uploaded by the browser\n")
    driver.find_element(By.ID, "upload-input").send_keys(up)
    wait.until(lambda d: row(d, "from-browser.txt") is not None)
    m = manifest(token)
    report(m.get("from-browser.txt", {}).get("size") == 24,
           "the upload is on the server (REST manifest)",
           json.dumps(m.get("from-browser.txt")))
    st, body, _ = rest("GET", fpath("from-browser.txt"), token=token)
    report(st == 200 and body == b"uploaded by the browser\n",
           "the uploaded bytes come back", "%s %r" % (st, body[:40]))

    # a drop: a synthetic drop event with a DataTransfer
    driver.execute_script("""
        const dt = new DataTransfer();
        dt.items.add(new File(["dropped\\n"], "dropped.md",
                              { type: "text/markdown" }));
        const zone = document.getElementById("drop");
        for (const t of ["dragenter", "dragover", "drop"]) {
            zone.dispatchEvent(new DragEvent(t, { dataTransfer: dt,
                bubbles: true, cancelable: true }));
        }
    """)
    try:
        wait.until(lambda d: row(d, "dropped.md") is not None)
        ok = manifest(token).get("dropped.md", {}).get("size") == 8
        report(ok, "a dropped file is uploaded")
    except TimeoutException:
        report(False, "a dropped file is uploaded", "no row")

    # a change made elsewhere (REST, another device) appears live
    url_before = driver.current_url
    driver.execute_script("window.__same_page = 1")
    st, body, _ = rest("PUT", fpath("notes/live.txt"), body=b"live!\n",
                       token=token, headers={"X-Gobi-Device": "laptop"})
    report(st == 201, "a REST upload from another device", st)
    try:
        folder = WebDriverWait(driver, 10).until(
            lambda d: d.find_elements(By.CSS_SELECTOR,
                                      'tr.folder[data-name="notes/"]'))
        report(bool(folder), "the new folder appears live")
    except TimeoutException:
        report(False, "the new folder appears live", "not within 10 s")
    st, _, _ = rest("PUT", fpath("hello.txt"), body=b"hello, edited\n",
                    token=token, headers={"If-Match": '"1"'})
    try:
        WebDriverWait(driver, 10).until(
            lambda d: (row(d, "hello.txt") is not None
                       and row(d, "hello.txt").get_attribute("data-version")
                       != "1"))
        report(True, "an edit of hello.txt appears live")
    except TimeoutException:
        report(False, "an edit of hello.txt appears live", "still version 1")
    rest("DELETE", fpath("dropped.md"), token=token)
    try:
        WebDriverWait(driver, 10).until(lambda d: row(d, "dropped.md") is None)
        report(True, "a delete appears live")
    except TimeoutException:
        report(False, "a delete appears live", "the row stays")
    report(driver.execute_script("return window.__same_page") == 1
           and driver.current_url == url_before,
           "without a reload")

    # into the folder, and back
    driver.find_element(By.CSS_SELECTOR,
                        'tr.folder[data-name="notes/"] a').click()
    wait.until(lambda d: row(d, "notes/live.txt") is not None)
    report(True, "a folder opens")
    driver.find_element(By.CSS_SELECTOR, "#crumbs a").click()
    wait.until(lambda d: row(d, "hello.txt") is not None)

    # rename over the WebSocket
    row(driver, "from-browser.txt").find_element(
        By.CSS_SELECTOR, "button.rename").click()
    box = wait.until(EC.visibility_of_element_located((By.ID, "ask-input")))
    box.clear()
    box.send_keys("renamed.txt")
    driver.find_element(By.ID, "ask-ok").click()
    try:
        wait.until(lambda d: row(d, "renamed.txt") is not None
                   and row(d, "from-browser.txt") is None)
        m = manifest(token)
        report("renamed.txt" in m and "from-browser.txt" not in m,
               "a rename (WebSocket op) is on the server")
    except TimeoutException:
        report(False, "a rename (WebSocket op)", "no renamed row")

    # delete through the page
    row(driver, "renamed.txt").find_element(
        By.CSS_SELECTOR, "button.delete").click()
    wait.until(EC.visibility_of_element_located((By.ID, "ask-ok"))).click()
    try:
        wait.until(lambda d: row(d, "renamed.txt") is None)
        report("renamed.txt" not in manifest(token),
               "a delete from the page is on the server")
    except TimeoutException:
        report(False, "a delete from the page", "the row stays")

    time.sleep(0.3)
    shot(driver, "web-files.png")

    # history: restore version 1 of hello.txt
    row(driver, "hello.txt").find_element(
        By.CSS_SELECTOR, "button.history").click()
    restore = wait.until(EC.element_to_be_clickable(
        (By.CSS_SELECTOR, '#history-rows tr[data-version="1"] button.restore')))
    versions = driver.find_elements(By.CSS_SELECTOR, "#history-rows tr")
    report(len(versions) == 2, "the history lists both versions",
           len(versions))
    shot(driver, "web-history.png")
    restore.click()
    try:
        wait.until(lambda d: len(d.find_elements(
            By.CSS_SELECTOR, "#history-rows tr")) == 3)
        report(True, "the restore shows as a new version")
    except TimeoutException:
        report(False, "the restore shows as a new version", "no third row")
    st, body, hdr = rest("GET", fpath("hello.txt"), token=token)
    report(st == 200 and body == b"hello gobi\n",
           "the restore is on the server (REST)", "%s %r" % (st, body))
    st, body, _ = rest("GET", "vaults/%s/versions/hello.txt" % VAULT,
                       token=token)
    v = json.loads(body)["versions"]
    report(len(v) == 3 and v[0]["hash"] == v[2]["hash"],
           "the newest version has the first one's content")
    time.sleep(0.3)
    shot(driver, "web-history.png")
    driver.find_element(By.CSS_SELECTOR, "#history .dialog-head button").click()

    # log out: the token is revoked
    driver.find_element(By.ID, "logout").click()
    wait.until(EC.visibility_of_element_located((By.ID, "login-user")))
    time.sleep(0.3)
    report(driver.execute_script(
        "return sessionStorage.getItem('gobi.token')") is None,
        "log out forgets the token")


def run_refused(driver, wait):
    """The page's origin is not in gobi_ws_allowed_origins: it still
    works, and says that live updates are off and why."""
    driver.get(URL + "/app/")
    wait.until(EC.visibility_of_element_located((By.ID, "login-user")))
    driver.find_element(By.ID, "login-user").send_keys(USER)
    driver.find_element(By.ID, "login-password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    wait.until(EC.element_to_be_clickable(
        (By.CSS_SELECTOR, '#vault-list a[data-vault="%s"]' % VAULT))).click()
    wait.until(lambda d: row(d, "hello.txt") is not None)
    report(True, "the files are listed without the WebSocket")
    try:
        WebDriverWait(driver, 20).until(EC.text_to_be_present_in_element(
            (By.ID, "live"), "no live updates"))
        text = driver.find_element(By.ID, "notice-text").text
        report("gobi_ws_allowed_origins" in text,
               "the page says live updates are off, and why", text)
    except TimeoutException:
        report(False, "the page says live updates are off",
               driver.find_element(By.ID, "live").text)


if __name__ == "__main__":
    try:
        main()
    except Exception:
        traceback.print_exc()
        sys.exit(2)
    sys.exit(min(FAILS, 1))
