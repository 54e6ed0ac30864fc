#!/usr/bin/env python3
"""Security from the outside (issue 7): what a hostile client can do to a live `keyward serve --demo`.

    python3 scripts/verify_security.py [--quick] [--binary PATH] [--workdir DIR] [--keep]

Checks, each a row with its figure:
- a. escaping: users whose names are markup joined to a Prepend letter (U+0D4E) or a combining mark, or plain; the
  web UI's pages that show them or echo a query (/users, /users?search=, /users/{login}, /sessions/history?login=,
  the login form, a 404) must show no raw `<b id=kwx`, `<meta http-equiv` or `"onmouseover`. Every HTML page's
  Content-Security-Policy has `base-uri 'none'` and `object-src 'none'`; every API answer carries
  `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` and `Cache-Control: no-store`.
- b. throttle memory: RSS before and after 1,600 failed or throttled logins, each with a different 200 KiB login;
  it must grow by less than 64 MiB (the status codes seen are reported: a fixed server refuses such bodies early).
- c. throttle race: 60 parallel wrong passwords for one login from one address; at most 5 may reach the password
  check (401), the others must be throttled (429).
- d. lock-out: after 5 wrong passwords for `admin` from 127.0.0.1, the right one from 127.0.0.2 still gets a token.
- e. timing: a wrong password for an existing login and a login for an unknown one take the same time (ratio of the
  medians within 0.67-1.5), each attempt from its own address so the throttle stays out of it.
- f. CPU: /health/live's p50 alone and while 16 clients send logins of unknown names (each from its own address);
  under 25 ms under that load.
- g. slowloris: a registry with 256 open files at most and `--header-timeout 3` (dropped, and said so, for a binary
  without the flag); 500 connections each send a request line, then one header line every 2 s for 20 s. Every
  probe of /health/live meanwhile (every 2 s, 15 s timeout) answers, at least 95% of the slow connections are
  closed by the server within the 20 s, and a last probe answers within 2 s.

Quick mode: 10 logins a side in e, 40 probes a series in f, and b stops after 30 s (its limit then in proportion to
the logins sent); the part takes about 2 minutes on the debug build.

Every client is on 127.0.0.0/8 (the registry throttles by the socket's peer address, `clientAddress`, so a client
bound to 127.0.0.N is a different address to it); every loop is bounded in count and time.

`run(binary, quick, workdir)` returns the table for `scripts/verify`; run standalone it prints it and exits 1 on
any failure.
"""
import collections
import errno
import html
import http.cookiejar
import os
import re
import selectors
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verifylib as v  # noqa: E402

TOKEN_PATH = "/api/v1/auth/token"
# Markup around a Prepend letter (U+0D4E joins the `<` after it into one grapheme cluster), a combining mark, plain.
PAYLOADS = [
    "\u0D4E<b id=kwx1>",
    "a\u0301<b id=kwx2>",
    "\"><b id=kwx3>",
    "x\u0D4E\"onmouseover=1",
    "\u0D4E<meta http-equiv=refresh content=0;url=http://127.0.0.1:9>",
]
MARKERS = ("<b id=kwx", "<meta http-equiv", "\"onmouseover")
CSP_DIRECTIVES = ("base-uri 'none'", "object-src 'none'")
API_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "cache-control": "no-store"}
PASSWORD = "verify-user-password-1"
WRONG = "not-the-password-42"


class WebClient:
    """A browser-like client of the web UI: cookies kept, redirects followed; answers as (status, text, headers)."""

    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def fetch(self, path, form=None, headers=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.read().decode("utf-8", "replace"), {k.lower(): val for k, val in response.headers.items()}
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace"), {k.lower(): val for k, val in error.headers.items()}

    def log_in(self, login, password):
        """GET /login for the CSRF cookie and field, then POST the form; returns the answer to the POST."""
        _, page, _ = self.fetch("/login")
        csrf = html.unescape(re.search(r'name="_csrf" value="([^"]*)"', page).group(1))
        return self.fetch("/login", form={"_csrf": csrf, "login": login, "password": password})


def attempt(base, login, password, source, timeout=60):
    """One POST /api/v1/auth/token from `source`; returns (status or the error's name, seconds)."""
    started = time.monotonic()
    try:
        status, _, _ = v.request(base, "POST", TOKEN_PATH, body={"login": login, "password": password}, source=source, timeout=timeout)
    except OSError as error:
        status = type(error).__name__
    return status, time.monotonic() - started


def p50(values):
    return statistics.median(values) if values else float("nan")


def counts(statuses):
    return ", ".join(f"{status}: {count}" for status, count in sorted(collections.Counter(statuses).items(), key=lambda item: str(item[0])))


# ---------------------------------------------------------------------------------------------------------------


def check_escaping(report, server, admin):
    """a: payload names through the API, then every page that shows them or echoes them, as a logged-in browser."""
    created = 0
    for number, payload in enumerate(PAYLOADS, 1):
        status, body, _ = v.call(server.base, "POST", "/api/v1/users", admin,
                                 {"login": f"a0xss{number}", "name": payload, "email": f"xss{number}@example.com"})
        created += status == 201
        if status != 201:
            report.notes.append(f"a: the name {payload!r} was refused: {status} {body}")
    report.row("a. escaping", "users with a payload name created", f"{created}/{len(PAYLOADS)}", f"{len(PAYLOADS)}", created == len(PAYLOADS))

    browser = WebClient(server.base)
    status, _, _ = browser.log_in("admin", v.ADMIN_PASSWORD)
    pages = []  # (what, status, text, headers)
    pages.append(("/users", *browser.fetch("/users")))
    for number, payload in enumerate(PAYLOADS, 1):
        quoted = urllib.parse.quote(payload, safe="")
        pages.append((f"/users?search=#{number}", *browser.fetch(f"/users?search={quoted}")))
        pages.append((f"/users/a0xss{number}", *browser.fetch(f"/users/a0xss{number}")))
        pages.append((f"/sessions/history?login=#{number}", *browser.fetch(f"/sessions/history?login={quoted}")))
        pages.append((f"404 /nothing-here-#{number}", *browser.fetch(f"/nothing-here-{quoted}", headers={"Accept": "text/html"})))
        # The login form shows the login again after a failure (a page anyone can be sent to).
        pages.append((f"POST /login login=#{number}", *WebClient(server.base).log_in(payload, WRONG)))
    logged_in = any(what == "/users" and status == 200 and "a0xss" in text for what, status, text, _ in pages)
    report.check(logged_in, f"a: the web login as admin did not work (POST /login answered {status}); the escaping figures are of error pages")

    html_pages = [page for page in pages if page[3].get("content-type", "").startswith("text/html")]
    leaks = [(what, marker) for what, _, text, _ in html_pages for marker in MARKERS if marker in text]
    report.row("a. escaping", "raw markup in the HTML pages", f"{len(leaks)} in {len({what for what, _ in leaks})} of {len(html_pages)} pages",
               "0", not leaks)
    if leaks:
        report.notes.append("a: raw markup: " + "; ".join(f"{what}: {marker}" for what, marker in leaks))
    if len(html_pages) != len(pages):
        report.notes.append("a: not HTML (not scanned): " + ", ".join(f"{page[0]} ({page[1]}, {page[3].get('content-type')})" for page in pages if page not in html_pages))
    weak = [what for what, _, _, headers in html_pages
            if not all(directive in headers.get("content-security-policy", "") for directive in CSP_DIRECTIVES)]
    report.row("a. headers", "HTML pages whose CSP lacks base-uri 'none' or object-src 'none'", f"{len(weak)}/{len(html_pages)}", "0", not weak)
    if html_pages:
        report.notes.append(f"a: CSP of the pages: {html_pages[0][3].get('content-security-policy')!r}")

    answers = [("GET /api/v1/users", v.request(server.base, "GET", "/api/v1/users", token=admin)),
               ("GET /api/v1/users without a token", v.request(server.base, "GET", "/api/v1/users")),
               ("GET /api/v1/nothing-here", v.request(server.base, "GET", "/api/v1/nothing-here", token=admin)),
               ("POST /api/v1/auth/token (401)", v.request(server.base, "POST", TOKEN_PATH, body={"login": "nobody", "password": WRONG}, source="127.0.5.1"))]
    missing = collections.Counter()
    lacking = 0
    for what, (_, _, headers) in answers:
        absent = [name for name, value in API_HEADERS.items() if value not in headers.get(name, "").lower()]
        missing.update(absent)
        lacking += bool(absent)
    report.row("a. headers", "API answers without nosniff, no-referrer or no-store", f"{lacking}/{len(answers)}"
               + (f" (missing: {', '.join(f'{name} in {count}' for name, count in missing.items())})" if missing else ""), "0", not lacking)


def check_throttle_memory(report, server, logins, seconds, size=200 * 1024, threads=4):
    """b: distinct huge logins, each failing or throttled; the registry's RSS before and after. The limit is 64 MiB per
    1,600 logins, in proportion to the logins sent when the time bound stops them earlier (quick mode)."""
    filler = "k" * size
    answers = []  # (status, time.monotonic() when it came back)
    deadline = time.monotonic() + seconds

    def worker(index):
        for number in range(index, logins, threads):
            if time.monotonic() > deadline:
                return
            body = ('{"login":"%08d%s","password":"%s"}' % (number, filler, WRONG)).encode()
            try:
                status, _, _ = v.request(server.base, "POST", TOKEN_PATH, body=body, headers={"Content-Type": "application/json"},
                                         source=f"127.0.2.{index + 1}", timeout=60)
            except OSError as error:
                status = type(error).__name__
            answers.append((status, time.monotonic()))

    time.sleep(1)
    before = v.rss_mib(server.pid)
    started = time.monotonic()
    pool = [threading.Thread(target=worker, args=(index,)) for index in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    took = time.monotonic() - started
    time.sleep(1)
    after = v.rss_mib(server.pid)
    sent = len(answers)
    limit = 64 * sent / 1600
    report.row("b. throttle memory", f"RSS growth after {sent:,} logins of {size // 1024} KiB", f"{after - before:+.0f} MiB ({before:.0f} → {after:.0f})",
               f"< {limit:.0f} MiB" + ("" if sent == 1600 else " (64 per 1,600)"), after - before < limit and sent >= min(logins, 200))
    report.row("b. throttle memory", "answers", counts([status for status, _ in answers]), "401/429, or 413/400 refused early", True)
    times = sorted(arrived for _, arrived in answers)
    tenth = max(2, sent // 10)
    rate = lambda part: (len(part) - 1) / max(1e-9, part[-1] - part[0])  # noqa: E731
    report.notes.append(f"b: {sent:,} of {logins:,} logins over {threads} clients in {took:.0f} s (bound {seconds} s)"
                        + (f"; {rate(times[:tenth]):.0f}/s over the first tenth, {rate(times[-tenth:]):.0f}/s over the last." if sent >= 20 else "."))


def check_throttle_race(report, server, login, parallel=60):
    """c: wrong passwords for one login from one address, all at once."""
    statuses = []
    gate = threading.Barrier(parallel)

    def worker():
        gate.wait()
        statuses.append(attempt(server.base, login, WRONG, "127.0.0.3", timeout=120)[0])

    pool = [threading.Thread(target=worker) for _ in range(parallel)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    reached = statuses.count(401)
    report.row("c. throttle race", f"of {parallel} parallel wrong passwords: 401 (password checked) / 429",
               f"{reached} / {statuses.count(429)}" + (f" (other: {counts([s for s in statuses if s not in (401, 429)])})" if len(statuses) - reached - statuses.count(429) else ""),
               "401 at most 5", reached <= 5)


def check_lockout(report, server):
    """d: 5 wrong passwords for admin from 127.0.0.1, then the right one from 127.0.0.2."""
    wrong = [attempt(server.base, "admin", WRONG, "127.0.0.1")[0] for _ in range(5)]
    status, _ = attempt(server.base, "admin", v.ADMIN_PASSWORD, "127.0.0.2")
    report.row("d. lock-out", "admin's right password from 127.0.0.2 after 5 wrong from 127.0.0.1",
               f"{status} (the wrong ones: {counts(wrong)})", "200 or 201", status in (200, 201))


def check_timing(report, server, existing):
    """e: one wrong password per existing login and one login per unknown name, alternating, each from its own address."""
    known, unknown = [], []
    for number, login in enumerate(existing):
        known.append(attempt(server.base, login, WRONG, f"127.0.3.{2 * number + 1}")[1] * 1000)
        unknown.append(attempt(server.base, f"nobody-{number}", WRONG, f"127.0.3.{2 * number + 2}")[1] * 1000)
    ratio = p50(known) / p50(unknown)
    report.row("e. timing", f"median ms of a wrong password, existing / unknown login ({len(known)} each)",
               f"{p50(known):.0f} / {p50(unknown):.0f} = {ratio:.2f}", "0.67-1.5", 0.67 <= ratio <= 1.5)


def check_cpu(report, server, probes, clients=16, seconds=120):
    """f: /health/live alone, then while `clients` threads send logins of unknown names from distinct addresses."""
    def probe_series():
        times, deadline = [], time.monotonic() + seconds
        for _ in range(probes):
            if time.monotonic() > deadline:
                break
            started = time.monotonic()
            try:
                v.request(server.base, "GET", "/health/live", timeout=15)
            except OSError:
                pass  # a probe that fails counts by its time (at most the timeout)
            times.append((time.monotonic() - started) * 1000)
        return times

    alone = probe_series()
    stop, sent, statuses, lock = threading.Event(), [0], [], threading.Lock()

    def load(index):
        while not stop.is_set():
            with lock:
                number = sent[0]
                sent[0] += 1
            # 250 addresses round-robin: the per-address limit (20 in 15 minutes) allows 5,000 attempts.
            statuses.append(attempt(server.base, f"ghost-{index}-{number}", WRONG, f"127.0.1.{number % 250 + 1}", timeout=30)[0])

    pool = [threading.Thread(target=load, args=(index,), daemon=True) for index in range(clients)]
    for thread in pool:
        thread.start()
    time.sleep(1)
    loaded = probe_series()
    stop.set()
    for thread in pool:
        thread.join(timeout=40)
    report.row("f. CPU", f"/health/live p50 ms alone / with {clients} clients logging in", f"{p50(alone):.1f} / {p50(loaded):.1f}",
               "under load < 25", p50(loaded) < 25)
    report.notes.append(f"f: {len(loaded)} probes under load (max {max(loaded):.0f} ms); {len(statuses)} logins meanwhile: {counts(statuses)}.")


def check_slowloris(report, binary, directory, quick, connections=500, seconds=20, interval=2):
    """g: slow request heads against a registry with 256 open files, probed meanwhile."""
    extra = ("--header-timeout", "3") if v.accepts_option(binary, "--header-timeout") else ()
    if not extra:
        report.notes.append("g: this binary has no --header-timeout; its registry ran without it.")
    server, _, _ = v.start_demo(binary, directory, log_path=os.path.join(directory, "registry.log"), extra=extra, open_files=256)
    selector = selectors.DefaultSelector()
    sockets, connected, closed, refused = [], {}, {}, {}
    probes, probe_threads, probing = [], [], threading.Event()
    try:
        def probe():
            sent = time.monotonic()
            try:
                status, _, _ = v.request(server.base, "GET", "/health/live", timeout=15)
            except OSError as error:
                status = type(error).__name__
            probes.append((status, time.monotonic() - sent))

        def prober():
            # One probe every `interval` on a thread of its own, so one that hangs does not put off the next.
            while not probing.wait(interval):
                thread = threading.Thread(target=probe, daemon=True)
                thread.start()
                probe_threads.append(thread)

        started = time.monotonic()
        for _ in range(connections):
            client = socket.socket()
            client.setblocking(False)
            client.connect_ex(("127.0.0.1", server.port))
            sockets.append(client)
            selector.register(client, selectors.EVENT_WRITE)
        watcher = threading.Thread(target=prober, daemon=True)
        watcher.start()
        line = 0
        next_send = started
        while time.monotonic() - started < seconds:
            if time.monotonic() >= next_send and connected:
                line += 1
                for client in list(connected):
                    if client not in closed:
                        try:
                            client.send(f"X-Slow-{line}: {line}\r\n".encode())
                        except OSError:
                            closed[client] = time.monotonic() - started
                            selector.unregister(client)
                next_send += interval
            for key, events in selector.select(timeout=max(0.01, min(next_send, started + seconds) - time.monotonic())):
                client = key.fileobj
                if events & selectors.EVENT_WRITE and client not in connected:
                    if client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        refused[client] = time.monotonic() - started  # refused or reset before the head: not a close
                        selector.unregister(client)
                        continue
                    connected[client] = time.monotonic() - started
                    try:
                        client.send(b"GET /health/live HTTP/1.1\r\n")
                    except OSError:
                        closed[client] = time.monotonic() - started
                        selector.unregister(client)
                        continue
                    selector.modify(client, selectors.EVENT_READ)
                elif events & selectors.EVENT_READ:
                    try:
                        data = client.recv(65536)
                    except OSError as error:
                        data = b"" if error.errno in (errno.ECONNRESET, errno.EPIPE) else None
                    if data == b"":  # an answer (such as 408) before the close is read on and counts at the close
                        closed[client] = time.monotonic() - started
                        selector.unregister(client)
        probing.set()
        watcher.join()
        final_started = time.monotonic()
        try:
            final, _, _ = v.request(server.base, "GET", "/health/live", timeout=2)
        except OSError as error:
            final = type(error).__name__
        final_seconds = time.monotonic() - final_started
        for thread in probe_threads:  # the last ones still within their 15 s
            thread.join(timeout=20)
    finally:
        for client in sockets:
            client.close()
        selector.close()
        server.stop()
    answered = [seconds_ for status, seconds_ in probes if status == 200]
    share = len(closed) / connections
    report.row("g. slowloris", f"probes answered during {seconds} s of {connections} slow connections",
               f"{len(answered)}/{len(probes)}" + (f" (slowest {max(s for _, s in probes):.1f} s)" if probes else ""),
               "all", bool(probes) and len(answered) == len(probes))
    report.row("g. slowloris", f"slow connections closed by the server within {seconds} s",
               f"{len(closed)}/{connections} ({share:.0%}; {len(connected)} got connected, {len(refused)} refused)"
               + (f"; median close at {p50(list(closed.values())):.1f} s" if closed else ""), ">= 95%", share >= 0.95)
    report.row("g. slowloris", "last probe (2 s timeout) after the slow connections", f"{final} in {final_seconds:.1f} s", "200", final == 200)
    report.notes.append("g: probes (status, s): " + ", ".join(f"{status}:{s:.1f}" for status, s in probes)
                        + f"; registry started with {' '.join(extra) or 'no --header-timeout'} under RLIMIT_NOFILE 256.")


# ---------------------------------------------------------------------------------------------------------------


def run(binary, quick, workdir):
    report = v.Report()
    workdir = os.path.join(workdir, "security")
    os.makedirs(workdir, exist_ok=True)
    started = time.monotonic()
    users = 10 if quick else 20
    directory = tempfile.mkdtemp(prefix="registry-", dir=workdir)
    server = None
    try:
        server, _, _ = v.start_demo(binary, directory, log_path=os.path.join(directory, "registry.log"))
        admin = v.admin_token(server.base)
        existing = [f"timing{number}" for number in range(users)]
        for login in existing + ["racer"]:
            status, body, _ = v.call(server.base, "POST", "/api/v1/users", admin,
                                     {"login": login, "name": login.title(), "email": f"{login}@example.com", "password": PASSWORD})
            assert status == 201, (login, status, body)
        # Every check runs whatever the ones before it found; d comes after the others on this server, because on a
        # server that locks the login out it keeps admin from logging in for 15 minutes.
        for check in (lambda: check_escaping(report, server, admin),
                      lambda: check_throttle_race(report, server, "racer"),
                      lambda: check_timing(report, server, existing),
                      lambda: check_cpu(report, server, probes=40 if quick else 200, seconds=30 if quick else 120),
                      lambda: check_throttle_memory(report, server, logins=800 if quick else 1600, seconds=30 if quick else 300),
                      lambda: check_lockout(report, server)):
            check()
            v.log(f"  {report.rows[-1][0]}: {report.rows[-1][2]} ({time.monotonic() - started:.0f} s)")
        status, _, _ = v.call(server.base, "GET", "/health/live")
        report.check(status == 200, f"after the checks /health/live answers {status}")
    finally:
        if server:
            server.stop()
    check_slowloris(report, binary, tempfile.mkdtemp(prefix="slowloris-", dir=workdir), quick)
    report.notes.append(f"took {time.monotonic() - started:.0f} s; build: " + ("release" if "/release/" in binary else "debug") + f"; logs in {workdir}")
    return report.section("security", ["check", "figure", "value", "expected", "result"])


def main():
    return v.standalone(run, __doc__.split("\n\n")[0], "keyward-security-")


if __name__ == "__main__":
    sys.exit(main())
