#!/usr/bin/env python3
"""Fault injection (issue 7, part 4): synchronization against a real authority process that is killed, stalled
or restarted mid-run, and PostgreSQL stopped and restarted under load.

    python3 scripts/verify_faults.py [--quick] [--binary PATH] [--workdir DIR] [--keep]

Scenarios, each against the real `keyward` binary:
- authority killed (SIGKILL): a manual synchronization is answered 201 with outcome `failed` and the stable code
  `AUTHORITY_UNREACHABLE`, quickly, every time; keys unchanged; it succeeds once the authority is back.
- authority stalled (SIGSTOP), on an SQLite and a PostgreSQL registry at once: the synchronization ends with
  `AUTHORITY_TIMEOUT` within the documented 30 s client timeout (plus slack), is recorded in the history, a second
  request meanwhile gets `409 SYNC_IN_PROGRESS`, and the registry keeps answering `/health/live`, entitlement checks
  and the key list throughout.
- authority (or registry) killed in the middle of a synchronization of 2,000 keys: the registry holds all of them
  with the revision recorded, or none; the next run completes it.
- PostgreSQL stopped (immediate) and restarted under concurrent writes (user creation, session opens and logouts) and
  reads: `/health/ready` answers 503 while it is gone and 200 again by itself; no acknowledged (2xx) write is lost.

`run(binary, quick, workdir)` returns the table for `scripts/verify`; run standalone it prints it and exits 1 on
any failure.
"""
import glob
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verifylib as v  # noqa: E402

# The documented client timeout of every request to the authority (README: AUTHORITY_TIMEOUT (30 s)).
AUTHORITY_TIMEOUT = 30
SYNC_PATH = "/api/v1/license-keys/synchronizations"


class Postgres:
    """A throw-away PostgreSQL server on a fixed loopback port, which can be stopped (immediate) and started again
    on the same port and data directory. Same commands as scripts/with-postgres."""

    def __init__(self, directory):
        bins = sorted(path for path in glob.glob("/usr/lib/postgresql/*/bin") if os.path.exists(os.path.join(path, "initdb")))
        if not bins:
            raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
        self.bin = bins[-1]
        self.directory = directory
        self.port = v.free_port()
        self.run_as = []
        if os.getuid() == 0:
            if subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
                subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
            self.run_as = ["runuser", "-u", "postgres", "--"]
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o755)
        if self.run_as:
            shutil.chown(directory, "postgres")
        self.data = os.path.join(directory, "data")
        result = subprocess.run(self.run_as + [os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "keyward", "--auth=trust", "-E", "UTF8"],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError("initdb failed: " + result.stdout + result.stderr)
        self.url = f"postgres://keyward@127.0.0.1:{self.port}/postgres?sslmode=disable"

    def start(self):
        subprocess.run(self.run_as + [os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", os.path.join(self.directory, "server.log"), "-w",
                                      "-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off",
                                      "start"], check=True, capture_output=True)

    def stop(self):
        subprocess.run(self.run_as + [os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate", "stop"], capture_output=True)

    def query(self, sql):
        """Rows of a query (tab-separated columns) through psql."""
        result = subprocess.run(["psql", f"postgres://keyward@127.0.0.1:{self.port}/postgres", "-At", "-F", "\t", "-c", sql],
                                capture_output=True, text=True, check=True)
        return [line.split("\t") for line in result.stdout.splitlines() if line]


Report = v.Report


def synchronize(server, token, timeout=120):
    """POST a manual synchronization; returns (status, body, seconds). A transport failure is status None."""
    started = time.monotonic()
    try:
        status, body, _ = v.call(server.base, "POST", SYNC_PATH, token, timeout=timeout)
    except Exception as error:  # noqa: BLE001 - a hang or a dropped connection is a finding, not a crash of the script
        status, body = None, {"transport": repr(error)}
    return status, body, time.monotonic() - started


def keys_state(server, token):
    """serial -> (status, source, users) of every registered key, through the API."""
    status, body, _ = v.call(server.base, "GET", "/api/v1/license-keys", token)
    assert status == 200, (status, body)
    return {item["serial"]: (item["status"], item["source"], item["users"]) for item in body["items"]}


def history(server, token):
    status, body, _ = v.call(server.base, "GET", SYNC_PATH + "?trigger=all&limit=100", token)
    assert status == 200, (status, body)
    return body["items"]


class Prober(threading.Thread):
    """Calls `paths` round-robin on a server until stopped, recording (path, status, seconds, arrived) of each answer
    (`arrived`: time.monotonic() when it came back)."""

    def __init__(self, server, token, paths, interval=0.2, timeout=15):
        super().__init__(daemon=True)
        self.server, self.token, self.paths, self.interval, self.timeout = server, token, paths, interval, timeout
        self.results, self.stopping = [], threading.Event()

    def run(self):
        index = 0
        while not self.stopping.is_set():
            path = self.paths[index % len(self.paths)]
            index += 1
            started = time.monotonic()
            try:
                status, _, _ = v.call(self.server.base, "GET", path, self.token, timeout=self.timeout)
            except Exception:  # noqa: BLE001
                status = None
            arrived = time.monotonic()
            self.results.append((path, status, arrived - started, arrived))
            self.stopping.wait(self.interval)

    def stop(self):
        self.stopping.set()
        self.join()
        return self.results


def setup_access(server, token, nominative, floating, users=40, prefix="u"):
    """Users prefix0..N-1, group `Docs` on the nominative key (first 5 users), group `Floaters` on the floating key
    (all users). Returns the logins."""
    logins = [f"{prefix}{index}" for index in range(users)]
    for login in logins:
        status, body, _ = v.call(server.base, "POST", "/api/v1/users", token, {"login": login, "name": f"User {login}", "email": f"{login}@example.com"})
        assert status == 201, (status, body)
    status, body, _ = v.call(server.base, "POST", "/api/v1/access-groups", token,
                             {"idNumber": "Docs", "name": "Docs", "keySerial": nominative, "component": "DOC", "menus": ["DC021", "DC022"], "users": logins[:5]})
    assert status == 201, (status, body)
    status, body, _ = v.call(server.base, "POST", "/api/v1/access-groups", token,
                             {"idNumber": "Floaters", "name": "Floaters", "keySerial": floating, "component": "WF", "menus": ["WF001"], "users": logins[5:]})
    assert status == 201, (status, body)
    return logins


def check_path(login="u0"):
    return f"/api/v1/entitlements/check?login={login}&component=DOC&menu=DC021"


# ---------------------------------------------------------------------------------------------------------------
# Scenario (a): the authority killed


def scenario_killed(report, authority, registries, token_of):
    scenario = "authority killed"
    new_key = authority.issue(profile="staff", use_type="nominative", users=3, components=("DOC",))
    before = {name: keys_state(server, token_of[name]) for name, server in registries.items()}
    authority.server.kill()
    for name, server in registries.items():
        token = token_of[name]
        codes, worst = [], 0.0
        for _ in range(3):
            status, body, seconds = synchronize(server, token)
            worst = max(worst, seconds)
            codes.append((status, (body or {}).get("outcome"), (body or {}).get("errorCode")))
        stable = len(set(codes)) == 1 and codes[0] == (201, "failed", "AUTHORITY_UNREACHABLE")
        report.row(f"{scenario} ({name})", "answer to 3 manual synchronizations", f"{codes[0][0]} {codes[0][1]} {codes[0][2]}" + ("" if stable else f" / {codes}"),
                   "201 failed AUTHORITY_UNREACHABLE, every time", stable)
        report.row(f"{scenario} ({name})", "slowest answer", f"{worst:.2f} s", "< 5 s", worst < 5)
        after = keys_state(server, token)
        report.row(f"{scenario} ({name})", "keys unchanged", "yes" if after == before[name] else f"changed: {len(before[name])} -> {len(after)}",
                   "yes", after == before[name])
        runs = history(server, token)
        recorded = runs and runs[0]["outcome"] == "failed" and runs[0].get("errorCode") == "AUTHORITY_UNREACHABLE"
        report.row(f"{scenario} ({name})", "history records the failure", "yes" if recorded else repr(runs[:1]), "yes", bool(recorded))
    authority.start()
    synchronizes_again(report, scenario, "after the restart", registries, token_of, new_key)


def synchronizes_again(report, scenario, when, registries, token_of, new_key):
    """Once the authority is back, each registry's next synchronization succeeds and brings the key issued meanwhile."""
    for name, server in registries.items():
        status, body, seconds = synchronize(server, token_of[name])
        after = keys_state(server, token_of[name])
        ok = status == 201 and body.get("outcome") == "succeeded" and body.get("added") == 1 and new_key["serial"] in after
        report.row(f"{scenario} ({name})", when, f"{status} {body.get('outcome')} added {body.get('added')} in {seconds:.2f} s",
                   "201 succeeded added 1", ok)


# ---------------------------------------------------------------------------------------------------------------
# Scenario (b): the authority stalled with SIGSTOP


def scenario_stalled(report, authority, registries, token_of):
    scenario = "authority stalled"
    new_key = authority.issue(profile="staff", use_type="nominative", users=3, components=("DOC",))
    before = {name: keys_state(server, token_of[name]) for name, server in registries.items()}
    probers = {name: Prober(server, token_of[name], ["/health/live", check_path(), "/api/v1/license-keys", "/health/ready"])
               for name, server in registries.items()}
    answers = {}

    def sync_in_background(name, server):
        answers[name] = synchronize(server, token_of[name], timeout=AUTHORITY_TIMEOUT * 4)

    authority.server.pause()
    try:
        threads = [threading.Thread(target=sync_in_background, args=(name, server), daemon=True) for name, server in registries.items()]
        for prober in probers.values():
            prober.start()
        for thread in threads:
            thread.start()
        time.sleep(2)
        second = {name: v.call(server.base, "POST", SYNC_PATH, token_of[name], timeout=10) for name, server in registries.items()}
        for thread in threads:
            thread.join(AUTHORITY_TIMEOUT * 4 + 10)
        results = {name: prober.stop() for name, prober in probers.items()}
        for name, server in registries.items():
            token = token_of[name]
            status, body, seconds = answers.get(name, (None, {"transport": "no answer"}, float("inf")))
            body = body or {}
            report.row(f"{scenario} ({name})", "answer", f"{status} {body.get('outcome')} {body.get('errorCode') or body.get('transport')}",
                       "201 failed AUTHORITY_TIMEOUT", status == 201 and body.get("outcome") == "failed" and body.get("errorCode") == "AUTHORITY_TIMEOUT")
            report.row(f"{scenario} ({name})", "time to answer", f"{seconds:.1f} s", f"{AUTHORITY_TIMEOUT} s to {AUTHORITY_TIMEOUT + 5} s",
                       AUTHORITY_TIMEOUT - 1 <= seconds <= AUTHORITY_TIMEOUT + 5)
            second_status, second_body, _ = second[name]
            second_code = ((second_body or {}).get("error") or {}).get("code")
            report.row(f"{scenario} ({name})", "second request meanwhile", f"{second_status} {second_code}", "409 SYNC_IN_PROGRESS",
                       second_status == 409 and second_code == "SYNC_IN_PROGRESS")
            after = keys_state(server, token)
            report.row(f"{scenario} ({name})", "keys unchanged", "yes" if after == before[name] else "changed", "yes", after == before[name])
            runs = history(server, token)
            recorded = runs and runs[0]["outcome"] == "failed" and runs[0].get("errorCode") == "AUTHORITY_TIMEOUT"
            report.row(f"{scenario} ({name})", "history records the failure", "yes" if recorded else repr(runs[:1]), "yes", bool(recorded))
            for path, label in (("/health/live", "/health/live"), (check_path(), "entitlement check"), ("/api/v1/license-keys", "key list"),
                                ("/health/ready", "/health/ready")):
                answered = [(status, seconds) for probed, status, seconds, _ in results[name] if probed == path]
                good = [seconds for status, seconds in answered if status == 200]
                worst = max((seconds for _, seconds in answered), default=float("nan"))
                ok = len(answered) > 0 and len(good) == len(answered) and worst < 2
                report.row(f"{scenario} ({name})", f"{label} during the stall", f"{len(good)}/{len(answered)} x 200, slowest {worst * 1000:.0f} ms",
                           "all 200, < 2 s", ok)
            allowed = v.call(server.base, "GET", check_path(), token)[1] or {}
            report.check(allowed.get("code") == "ALLOWED", f"{scenario} ({name}): the entitlement check answered {allowed} instead of ALLOWED")
    finally:
        authority.server.resume()
    synchronizes_again(report, scenario, "after SIGCONT", registries, token_of, new_key)


# ---------------------------------------------------------------------------------------------------------------
# Scenario (c): killed in the middle of a synchronization of many keys


def sqlite_state(path):
    """(key count, applied revision or None, integrity_check) of a stopped registry's database file."""
    connection = sqlite3.connect(path)
    try:
        count = connection.execute("SELECT COUNT(*) FROM registered_keys").fetchone()[0]
        row = connection.execute("SELECT revision FROM sync_state").fetchone()
        integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
        return count, row[0] if row else None, integrity
    finally:
        connection.close()


def scenario_mid_run(report, binary, workdir, quick):
    scenario = "killed mid-synchronization"
    total = 2000
    bulk = v.Authority(binary, os.path.join(workdir, "bulk-authority"), organization="bulk", log_path=os.path.join(workdir, "bulk-authority.log"))
    try:
        line = {"profile": "view", "useType": "floating", "users": 1, "purchaseType": "sale", "components": ["DOC"]}
        for batch in range(total // 100):
            status, body, _ = v.call(bulk.base, "POST", f"/v1/organizations/{bulk.organization}/agreements", bulk.operator,
                                     {"reference": f"BULK-{batch}", "lines": [line] * 100})
            assert status == 201, (status, body)
        # A full run on a scratch registry, to aim the kills over it.
        scratch = v.start_registry(binary, os.path.join(workdir, "bulk-scratch"), bulk, log_path=os.path.join(workdir, "bulk-scratch.log"),
                                   extra=("--no-sync-auto-activate",))
        status, body, duration = synchronize(scratch, v.admin_token(scratch.base))
        scratch.stop()
        report.check(status == 201 and body.get("added") == total, f"{scenario}: the scratch run answered {status} {body}")
        report.row(scenario, f"one full synchronization of {total} keys", f"{duration:.2f} s", "(reference)")

        rounds = 4 if quick else 16
        outcomes = {"authority": {"none": 0, "all": 0}, "registry": {"none": 0, "all": 0}}
        partial, integrity_failures, incomplete_followups = [], [], []
        rng = random.Random(7)
        for round_ in range(rounds):
            victim = "authority" if round_ % 2 == 0 else "registry"
            directory = os.path.join(workdir, f"bulk-registry-{round_}")
            # The authority matters while the feed is fetched, early in a run; the registry all along.
            offset = duration * (rng.uniform(0.0, 0.4) if victim == "authority" else rng.uniform(0.2, 1.1))
            registry = v.start_registry(binary, directory, bulk, log_path=directory + ".log", extra=("--no-sync-auto-activate",))
            token = v.admin_token(registry.base)
            answer = {}
            thread = threading.Thread(target=lambda: answer.update(result=synchronize(registry, token)), daemon=True)
            thread.start()
            time.sleep(offset)
            if victim == "authority":
                bulk.server.kill()
                thread.join(AUTHORITY_TIMEOUT * 3)
                status, body, _ = answer.get("result", (None, None, 0))
                count = len(keys_state(registry, token))
                runs = history(registry, token)
                revision = runs[0].get("revision") if runs and runs[0]["outcome"] == "succeeded" else None
                registry.stop()
                count_file, applied, integrity = sqlite_state(os.path.join(directory, "registry.sqlite"))
                registry = v.start_registry(binary, directory, bulk, log_path=directory + ".log", extra=("--no-sync-auto-activate",))
                bulk.start()
            else:
                registry.kill()
                thread.join(30)
                count_file, applied, integrity = sqlite_state(os.path.join(directory, "registry.sqlite"))
                count = count_file
                registry = v.start_registry(binary, directory, bulk, log_path=directory + ".log", extra=("--no-sync-auto-activate",))
            if count_file not in (0, total) or (count_file == total) != (applied is not None) or count != count_file:
                partial.append(f"round {round_} ({victim} killed at {offset:.2f} s): {count_file} keys in the file, {count} through the API, revision {applied}")
            else:
                outcomes[victim]["all" if count_file == total else "none"] += 1
            if integrity != "ok":
                integrity_failures.append(f"round {round_}: {integrity}")
            # The next run completes it (or finds it complete).
            token = v.admin_token(registry.base)
            status, body, _ = synchronize(registry, token)
            final = keys_state(registry, token)
            if not (status == 201 and body.get("outcome") in ("succeeded", "unchanged") and len(final) == total):
                incomplete_followups.append(f"round {round_}: next run {status} {body} with {len(final)} keys")
            # A killed registry leaves its run without an outcome: the history must still read.
            try:
                history(registry, token)
            except AssertionError as error:
                incomplete_followups.append(f"round {round_}: history unreadable after the kill: {error}")
            registry.stop()
            shutil.rmtree(directory, ignore_errors=True)
        for victim in ("authority", "registry"):
            report.row(scenario, f"{victim} killed: rounds all / none applied", f"{outcomes[victim]['all']} / {outcomes[victim]['none']}",
                       "no partial round")
        report.row(scenario, "rounds with a partial application", len(partial), 0, not partial)
        report.row(scenario, "integrity_check after the rounds", "ok" if not integrity_failures else "; ".join(integrity_failures), "ok", not integrity_failures)
        report.row(scenario, "next run completes", f"{rounds - len(incomplete_followups)}/{rounds}", f"{rounds}/{rounds}", not incomplete_followups)
        report.failures += partial + incomplete_followups
    finally:
        if bulk.server:
            bulk.server.stop()


# ---------------------------------------------------------------------------------------------------------------
# PostgreSQL stopped and restarted under load


class Load:
    """Concurrent writers (user creation, session opens and logouts) and readers against one registry, recording every
    acknowledged write and every answer's status and time."""

    def __init__(self, server, token, session_logins, prefix):
        self.server, self.token, self.session_logins, self.prefix = server, token, session_logins, prefix
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.users, self.sessions, self.logouts = [], [], []
        self.answers = []  # (kind, started monotonic, seconds, status)
        self.counter = 0
        self.threads = []

    def _call(self, kind, method, path, body=None):
        started = time.monotonic()
        try:
            status, answer, _ = v.call(self.server.base, method, path, self.token, body, timeout=60)
        except Exception:  # noqa: BLE001
            status, answer = None, None
        with self.lock:
            self.answers.append((kind, started, time.monotonic() - started, status))
        return status, answer

    def _user_writer(self, worker):
        while not self.stopping.is_set():
            with self.lock:
                self.counter += 1
                login = f"{self.prefix}{worker}x{self.counter}"
            status, _ = self._call("write", "POST", "/api/v1/users", {"login": login, "name": "Load " + login, "email": login + "@example.com"})
            if status == 201:
                with self.lock:
                    self.users.append(login)
            elif status is None or status >= 500:
                self.stopping.wait(0.05)

    def _session_writer(self, worker):
        rng = random.Random(worker)
        while not self.stopping.is_set():
            status, answer = self._call("write", "POST", "/api/v1/sessions", {"login": rng.choice(self.session_logins), "ip": "192.0.2.1"})
            if status == 201:
                with self.lock:
                    self.sessions.append(answer["sessionId"])
                if rng.random() < 0.7:
                    status, _ = self._call("write", "DELETE", f"/api/v1/sessions/{answer['sessionId']}")
                    if status == 200:
                        with self.lock:
                            self.logouts.append(answer["sessionId"])
            elif status is None or status >= 500:
                self.stopping.wait(0.05)

    def _reader(self, worker):
        paths = ["/api/v1/license-keys", check_path(), "/api/v1/users?limit=20", "/api/v1/access-groups/Docs"]
        index = worker
        while not self.stopping.is_set():
            status, _ = self._call("read", "GET", paths[index % len(paths)])
            index += 1
            if status is None or status >= 500:
                self.stopping.wait(0.05)

    def start(self):
        for target, count in ((self._user_writer, 2), (self._session_writer, 2), (self._reader, 2)):
            for worker in range(count):
                thread = threading.Thread(target=target, args=(worker,), daemon=True)
                thread.start()
                self.threads.append(thread)

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(120)


def scenario_postgres_outage(report, pg, server, token, session_logins, quick):
    scenario = "PostgreSQL restarted under load"
    load = Load(server, token, session_logins, prefix="pgload")
    prober = Prober(server, None, ["/health/ready"], interval=0.1, timeout=30)
    load.start()
    prober.start()
    time.sleep(3 if quick else 5)
    # Outages of several lengths; the short ones land while writes are in flight, where a query could be written to a
    # connection the server had just closed (that hung every later write until the fix).
    outages = [8] if quick else [20, 3, 8, 1, 12]
    cycles = []
    for outage in outages:
        stopped_at = time.monotonic()
        pg.stop()
        time.sleep(outage)
        started_at = time.monotonic()
        pg.start()
        back_at = time.monotonic()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(status == 200 and arrived > back_at for _, status, _, arrived in list(prober.results)):
            time.sleep(0.1)
        time.sleep(2)
        # A write of our own, with a short timeout: the load's writers could all be stuck without anyone noticing.
        begun = time.monotonic()
        try:
            fresh, _, _ = v.call(server.base, "POST", "/api/v1/users", token,
                                 {"login": f"fresh{len(cycles)}", "name": "Fresh", "email": f"fresh{len(cycles)}@example.com"}, timeout=15)
        except Exception:  # noqa: BLE001
            fresh = None
        if fresh == 201:
            load.users.append(f"fresh{len(cycles)}")
        cycles.append((outage, stopped_at, started_at, back_at, fresh, time.monotonic() - begun))
        time.sleep(3 if quick else 4)
    load.stop()
    answers = prober.stop()

    for index, (outage, stopped_at, started_at, back_at, fresh, fresh_seconds) in enumerate(cycles):
        label = f"{scenario} ({outage} s down)"
        first_503 = next((arrived for _, status, _, arrived in answers if status == 503 and arrived > stopped_at), None)
        first_503 = first_503 if first_503 and first_503 < started_at + 3 else None
        ready_during = [status for _, status, _, arrived in answers if (first_503 or stopped_at) < arrived < started_at]
        first_200 = next((arrived for _, status, _, arrived in answers if status == 200 and arrived > back_at), None)
        slowest_probe = max((seconds for _, _, seconds, arrived in answers if stopped_at < arrived - seconds < back_at + 5), default=0)
        if outage >= 5:
            report.row(label, "time to 503 after the stop", f"{first_503 - stopped_at:.2f} s" if first_503 else "never", "< 6 s",
                       first_503 is not None and first_503 - stopped_at < 6)
            not_503 = [status for status in ready_during if status != 503]
            report.row(label, "/health/ready while PostgreSQL is gone", f"{len(ready_during) - len(not_503)}/{len(ready_during)} x 503",
                       "all 503", len(ready_during) > 0 and not not_503)
        report.row(label, "slowest /health/ready during the outage", f"{slowest_probe:.2f} s", "< 6 s", slowest_probe < 6)
        report.row(label, "time to 200 after the restart", f"{first_200 - back_at:.2f} s (pg_ctl start took {back_at - started_at:.1f} s)" if first_200 else "never",
                   "< 15 s, without restarting the registry", first_200 is not None and first_200 - back_at < 15)
        report.row(label, "a new write 2 s after recovery", f"{fresh} in {fresh_seconds:.2f} s", "201 in < 5 s", fresh == 201 and fresh_seconds < 5)
        during = [(kind, seconds, status) for kind, begun, seconds, status in load.answers if stopped_at <= begun < started_at]
        statuses = {}
        for kind, _, status in during:
            statuses[f"{kind} {status}"] = statuses.get(f"{kind} {status}", 0) + 1
        report.notes.append(f"{label}: answers to requests sent while the database was gone: " + ", ".join(f"{k}: {n}" for k, n in sorted(statuses.items())))
        slowest = max((seconds for _, seconds, _ in during), default=0)
        report.row(label, "slowest API answer during the outage", f"{slowest:.2f} s", f"< {outage + 15} s (waits for the database, no hang)",
                   slowest < outage + 15)
        bad_during = [status for _, _, status in during if status is not None and 300 <= status < 500 and status != 409]
        report.row(label, "answers during the outage that are neither 2xx nor 5xx", len(bad_during), 0, not bad_during)
        next_stop = cycles[index + 1][1] if index + 1 < len(cycles) else float("inf")
        # Sent after recovery and answered before the next stop (what that stop interrupts is the next cycle's).
        after = [(kind, status) for kind, begun, seconds, status in load.answers if (first_200 or back_at) + 1 < begun and begun + seconds < next_stop]
        writes_after = [status for kind, status in after if kind == "write"]
        good_after = sum(1 for status in writes_after if status in (200, 201))
        report.row(label, "load's writes acknowledged after recovery", f"{good_after}/{len(writes_after)}", "> 0, no 5xx",
                   good_after > 0 and not any(status is None or status >= 500 for status in writes_after))

    # Every acknowledged write is there.
    users = {row[0] for row in pg.query("SELECT login FROM registry_users")}
    sessions = {row[0]: row[1] for row in pg.query("SELECT id, COALESCE(end_reason, '') FROM user_sessions")}
    lost_users = [login for login in load.users if login not in users]
    lost_sessions = [sid for sid in load.sessions if sid not in sessions]
    # Ended by an administrator's token, so recorded as `disconnected`: ended is what counts.
    lost_logouts = [sid for sid in load.logouts if not sessions.get(sid)]
    checked = len(load.users) + len(load.sessions) + len(load.logouts)
    report.row(scenario, "acknowledged writes checked", f"{checked} ({len(load.users)} users, {len(load.sessions)} session opens, {len(load.logouts)} logouts)",
               "> 0", checked > 0)
    lost = len(lost_users) + len(lost_sessions) + len(lost_logouts)
    report.row(scenario, "acknowledged writes lost", lost, 0, lost == 0)
    if lost:
        report.failures.append(f"{scenario}: lost users {lost_users[:5]}, sessions {lost_sessions[:5]}, logouts {lost_logouts[:5]}")
    report.row(scenario, "registry process", "same process, still running" if server.process.poll() is None else f"exited {server.process.returncode}",
               "still running", server.process.poll() is None)


# ---------------------------------------------------------------------------------------------------------------


def run(binary, quick, workdir):
    report = Report()
    workdir = os.path.join(workdir, "faults")
    os.makedirs(workdir, exist_ok=True)
    started = time.monotonic()
    authority = v.Authority(binary, os.path.join(workdir, "authority"), log_path=os.path.join(workdir, "authority.log"))
    # In a directory of its own under /tmp, like scripts/with-postgres: the server runs as `postgres`, which may not
    # enter the work directory.
    pg = Postgres(tempfile.mkdtemp(prefix="keyward-faults-pg-"))
    pg.start()
    registries, token_of = {}, {}
    try:
        nominative = authority.issue(profile="manager", use_type="nominative", users=10)
        floating = authority.issue(profile="manager", use_type="floating", users=500, components=("WF", "DOC"))
        authority.issue(profile="basic", use_type="floating", users=5, components=("AUD",))
        registries["sqlite"] = v.start_registry(binary, os.path.join(workdir, "registry-sqlite"), authority,
                                                log_path=os.path.join(workdir, "registry-sqlite.log"))
        # A second installation of the organization: a test one, so both activate.
        registries["postgres"] = v.start_registry(binary, os.path.join(workdir, "registry-postgres"), authority, database=pg.url,
                                                  log_path=os.path.join(workdir, "registry-postgres.log"), extra=("--environment", "test"))
        session_logins = {}
        for name, server in registries.items():
            token_of[name] = v.admin_token(server.base)
            status, body, _ = synchronize(server, token_of[name])
            assert status == 201 and body["outcome"] == "succeeded" and not body.get("activationError"), (name, status, body)
            session_logins[name] = setup_access(server, token_of[name], nominative["serial"], floating["serial"])[5:]
            allowed = v.call(server.base, "GET", check_path(), token_of[name])[1]
            assert allowed["code"] == "ALLOWED", (name, allowed)

        scenario_killed(report, authority, registries, token_of)
        scenario_stalled(report, authority, registries, token_of)
        scenario_postgres_outage(report, pg, registries["postgres"], token_of["postgres"], session_logins["postgres"], quick)
        scenario_mid_run(report, binary, workdir, quick)
    finally:
        for server in registries.values():
            server.stop()
        if authority.server:
            authority.server.resume()
            authority.server.stop()
        pg.stop()
        shutil.rmtree(pg.directory, ignore_errors=True)
    report.notes.append(f"took {time.monotonic() - started:.0f} s; logs in {workdir}")
    return report.section("faults", ["scenario", "figure", "value", "expected", "result"])


def main():
    return v.standalone(run, __doc__.split("\n\n")[0], "keyward-faults-")


if __name__ == "__main__":
    sys.exit(main())
