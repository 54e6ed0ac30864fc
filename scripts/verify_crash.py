#!/usr/bin/env python3
"""Crash consistency (issue 7, part 5): SIGKILL the registry (SQLite) at random moments during concurrent writes, N
times, and check after each kill that nothing acknowledged was lost and nothing is inconsistent.

    python3 scripts/verify_crash.py [--quick] [--kills N] [--seed S] [--binary PATH] [--workdir DIR] [--keep]

The writes, all at once, each by its own thread: key registrations (pasting access keys issued by a real authority
process), group changes (two writers adding users to and removing them from two access groups bound to the same
8-seat nominative key, so they race for its seats), user creation, and session opens and logouts on a 4-seat
floating key, and an identity provider's SCIM provisioning of up to 10,000 users (one POST each, then PATCHes adding them
to a directory group linked to a third access group on the same 8-seat key, so the directory competes for its seats
too). Every 2xx answer is an acknowledged write, remembered with what it promised.

After each kill, with the registry stopped: `PRAGMA integrity_check` and `PRAGMA foreign_key_check` on the file;
every acknowledged write is there (users, keys, memberships added or removed, sessions opened, logouts, users and
directory memberships provisioned); no
nominative key has more seats assigned than its users; no floating key has more open sessions than its users. Then
the registry is restarted and the same is read through the API (groups and their users, keys, users).

`run(binary, quick, workdir, kills=None, seed=None)` returns the table for `scripts/verify`; standalone it prints it
and exits 1 on any failure.
"""
import os
import random
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verifylib as v  # noqa: E402

NOMINATIVE_SEATS = 8
FLOATING_SEATS = 4
MEMBER_POOL = [f"m{index}" for index in range(24)]
FLOATING_USERS = [f"f{index}" for index in range(10)]
GROUPS = ("GA", "GB")


class Transport(Exception):
    """No answer: the registry was killed (or the connection failed) while the request was in flight."""


def call(base, token, method, path, body=None):
    try:
        return v.call(base, method, path, token, body, timeout=30)[:2]
    except Exception as error:  # noqa: BLE001 - connection refused or reset: the kill
        raise Transport(repr(error)) from error


class Ledger:
    """What the registry acknowledged, and what was in flight when it died (either outcome is then correct)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.users = set()
        self.keys = set()
        self.sessions = set()
        self.logouts = set()
        # group -> login -> member?  (only logins whose last change was acknowledged)
        self.members = {group: {} for group in GROUPS}
        self.uncertain = {group: set() for group in GROUPS}
        self.acknowledged = 0
        self.refused = {}
        # SCIM: provisioned logins, and the logins acknowledged as members of the directory group.
        self.provisioned = set()
        self.directory_members = set()

    def refusal(self, code):
        with self.lock:
            self.refused[code] = self.refused.get(code, 0) + 1

    def acknowledge(self, written, item):
        """Records a write the registry answered 2xx: `item` is now in `written` (one of the sets above)."""
        with self.lock:
            written.add(item)
            self.acknowledged += 1


class Workers:
    def __init__(self, base, token, ledger, pool, rng, round_, directory_token, directory_group):
        self.base, self.token, self.ledger, self.pool, self.round = base, token, ledger, pool, round_
        self.directory_token, self.directory_group = directory_token, directory_group
        self.rng = random.Random(rng.random())
        self.stopping = threading.Event()
        self.threads = []
        self.unexpected = []
        self.counter = 0

    def _loop(self, step):
        try:
            while not self.stopping.is_set():
                step()
        except Transport:
            pass
        except Exception as error:  # noqa: BLE001
            self.unexpected.append(repr(error))

    def _register(self):
        with self.ledger.lock:
            key = self.pool.pop() if self.pool else None
        if key is None:
            self.stopping.wait(0.05)  # outside the lock, which every other writer needs
            return
        status, body = call(self.base, self.token, "POST", "/api/v1/license-keys", {"idNumber": "R-" + key["serial"], "accessKey": key["accessKey"]})
        if status == 201:
            self.ledger.acknowledge(self.ledger.keys, key["serial"])
        else:
            self.unexpected.append(f"registering {key['serial']}: {status} {body}")

    def _create_user(self):
        with self.ledger.lock:
            self.counter += 1
            login = f"c{self.round}x{self.counter}"
        status, body = call(self.base, self.token, "POST", "/api/v1/users", {"login": login, "name": "Crash " + login, "email": login + "@example.com"})
        if status == 201:
            self.ledger.acknowledge(self.ledger.users, login)
        else:
            self.unexpected.append(f"creating {login}: {status} {body}")

    def _group_writer(self, group, rng):
        def step():
            with self.ledger.lock:
                current = [login for login, member in self.ledger.members[group].items() if member]
            if current and rng.random() < 0.45:
                logins, adding = rng.sample(current, min(len(current), rng.randint(1, 2))), False
            else:
                logins, adding = rng.sample(MEMBER_POOL, rng.randint(1, 3)), True
            with self.ledger.lock:
                self.ledger.uncertain[group].update(logins)
            status, body = call(self.base, self.token, "POST" if adding else "DELETE", f"/api/v1/access-groups/{group}/users", {"logins": logins})
            with self.ledger.lock:
                if status == 200:
                    for login in logins:
                        self.ledger.members[group][login] = adding
                    self.ledger.acknowledged += 1
                elif status == 409 and (body or {}).get("error", {}).get("code") == "SEAT_LIMIT_EXCEEDED":
                    self.ledger.refused["SEAT_LIMIT_EXCEEDED"] = self.ledger.refused.get("SEAT_LIMIT_EXCEEDED", 0) + 1  # the lock is held
                else:
                    self.unexpected.append(f"{'adding to' if adding else 'removing from'} {group} {logins}: {status} {body}")
                self.ledger.uncertain[group].difference_update(logins)
        return step

    def _provision(self):
        """The identity provider: users one POST each, then a PATCH adding the last five to the directory group."""
        made = []
        while len(made) < 5:
            with self.ledger.lock:
                self.counter += 1
                number = self.counter
            if number > 10_000 * (self.round + 1):
                self.stopping.wait(0.05)
                return
            login = f"s{self.round}x{number}"
            status, body = call(self.base, self.directory_token, "POST", "/scim/v2/Users",
                                {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": login, "displayName": "SCIM " + login})
            if status != 201:
                self.unexpected.append(f"provisioning {login}: {status} {body}")
                return
            self.ledger.acknowledge(self.ledger.provisioned, login)
            made.append((login, body["id"]))
        status, body = call(self.base, self.directory_token, "PATCH", f"/scim/v2/Groups/{self.directory_group}",
                            {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                             "Operations": [{"op": "add", "path": "members", "value": [{"value": id} for _, id in made]}]})
        if status != 200:
            self.unexpected.append(f"adding {len(made)} members: {status} {body}")
            return
        with self.ledger.lock:
            self.ledger.directory_members.update(login for login, _ in made)
            self.ledger.acknowledged += 1

    def _sessions(self, rng):
        def step():
            status, body = call(self.base, self.token, "POST", "/api/v1/sessions", {"login": rng.choice(FLOATING_USERS), "ip": "192.0.2.7"})
            if status == 201:
                session = body["sessionId"]
                self.ledger.acknowledge(self.ledger.sessions, session)
                if rng.random() < 0.8:
                    status, body = call(self.base, self.token, "DELETE", f"/api/v1/sessions/{session}")
                    if status == 200:
                        self.ledger.acknowledge(self.ledger.logouts, session)
                    else:
                        self.unexpected.append(f"ending {session}: {status} {body}")
            elif status == 409 and (body or {}).get("error", {}).get("code") == "NO_SEAT_AVAILABLE":
                self.ledger.refusal("NO_SEAT_AVAILABLE")
                self.stopping.wait(0.02)
            else:
                self.unexpected.append(f"opening a session: {status} {body}")
        return step

    def start(self):
        steps = [self._register, self._create_user, self._group_writer("GA", random.Random(self.rng.random())),
                 self._group_writer("GB", random.Random(self.rng.random())), self._sessions(random.Random(self.rng.random())),
                 self._provision]
        for step in steps:
            thread = threading.Thread(target=self._loop, args=(step,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(60)


def inspect_file(path, ledger, limits):
    """Checks on the stopped registry's database file. Returns (integrity, problems, figures)."""
    problems = []
    connection = sqlite3.connect(path)
    try:
        integrity = "; ".join(row[0] for row in connection.execute("PRAGMA integrity_check"))
        foreign = connection.execute("PRAGMA foreign_key_check").fetchall()
        if foreign:
            problems.append(f"foreign_key_check: {foreign[:5]}")
        users = {row[0] for row in connection.execute("SELECT login FROM registry_users")}
        keys = {row[0] for row in connection.execute("SELECT serial FROM registered_keys")}
        members = {group: set() for group in GROUPS}
        for group, login in connection.execute("SELECT g.id_number, u.login FROM group_members m JOIN access_groups g ON g.id = m.group_id "
                                               "JOIN registry_users u ON u.login_folded = m.login_folded"):
            members.setdefault(group, set()).add(login)
        sessions = dict(connection.execute("SELECT id, ended_at FROM user_sessions").fetchall())
        provisioned = {row[0] for row in connection.execute("SELECT login FROM registry_users WHERE directory_id IS NOT NULL")}
        directory_members = {row[0] for row in connection.execute(
            "SELECT u.login FROM directory_group_members m JOIN registry_users u ON u.login_folded = m.login_folded")}
        now_ms = int(time.time() * 1000)
        nominative = dict(connection.execute(
            "SELECT k.serial, COUNT(DISTINCT m.login_folded) FROM registered_keys k JOIN access_groups g ON g.key_serial = k.serial "
            "JOIN group_members m ON m.group_id = g.id JOIN registry_users u ON u.login_folded = m.login_folded "
            "WHERE k.use_type = 'nominative' AND u.active GROUP BY k.serial").fetchall())
        floating = dict(connection.execute(
            "SELECT key_serial, COUNT(*) FROM user_sessions WHERE floating AND ended_at IS NULL AND lease_expires_at > ? GROUP BY key_serial",
            (now_ms,)).fetchall())
    finally:
        connection.close()
    lost = []
    lost += [f"user {login}" for login in ledger.users - users]
    lost += [f"key {serial}" for serial in ledger.keys - keys]
    for group in GROUPS:
        for login, member in ledger.members[group].items():
            if login in ledger.uncertain[group]:
                continue
            if member != (login in members[group]):
                lost.append(f"{group}: {login} should {'be' if member else 'not be'} a member")
    lost += [f"session {session}" for session in ledger.sessions if session not in sessions]
    lost += [f"logout of {session}" for session in ledger.logouts if sessions.get(session) is None]
    lost += [f"provisioned user {login}" for login in ledger.provisioned - provisioned]
    lost += [f"directory member {login}" for login in ledger.directory_members - directory_members]
    over = [f"nominative {serial}: {count} seats > {limits[serial]}" for serial, count in nominative.items() if count > limits.get(serial, 0)]
    over += [f"floating {serial}: {count} open sessions > {limits[serial]}" for serial, count in floating.items() if count > limits.get(serial, 0)]
    return integrity, problems, lost, over, members, nominative, floating


def run(binary, quick, workdir, kills=None, seed=None):
    kills = kills or (5 if quick else 100)
    seed = seed if seed is not None else int(time.time())
    rng = random.Random(seed)
    failures, notes = [], [f"seed {seed} (--seed {seed} repeats the kill times)"]
    workdir = os.path.join(workdir, "crash")
    os.makedirs(workdir, exist_ok=True)
    started = time.monotonic()
    authority = v.Authority(binary, os.path.join(workdir, "authority"), log_path=os.path.join(workdir, "authority.log"))
    registry = None
    try:
        nominative = authority.issue(profile="manager", use_type="nominative", users=NOMINATIVE_SEATS, components=("DOC", "WF"))
        floating = authority.issue(profile="staff", use_type="floating", users=FLOATING_SEATS, components=("WF",))
        limits = {nominative["serial"]: NOMINATIVE_SEATS, floating["serial"]: FLOATING_SEATS}
        # Keys to paste: about twenty per round are registered before the kill.
        pool = []
        line = {"profile": "view", "useType": "floating", "users": 1, "purchaseType": "sale", "components": ["DOC"]}
        for batch in range((kills * 25 + 99) // 100 + 1):
            status, body, _ = v.call(authority.base, "POST", f"/v1/organizations/{authority.organization}/agreements", authority.operator,
                                     {"reference": f"CRASH-{batch}", "lines": [line] * 100})
            assert status == 201, (status, body)
            pool += [{"serial": key["serial"], "accessKey": key["accessKey"]} for key in body["keys"]]
            for key in body["keys"]:
                limits[key["serial"]] = 1
        rng.shuffle(pool)

        directory = os.path.join(workdir, "registry")
        database = os.path.join(directory, "registry.sqlite")
        log_path = os.path.join(workdir, "registry.log")
        registry = v.start_registry(binary, directory, authority, log_path=log_path)
        token = v.admin_token(registry.base)
        for key, name in ((nominative, "Engineering"), (floating, "Floating")):
            status, body = call(registry.base, token, "POST", "/api/v1/license-keys", {"idNumber": name, "accessKey": key["accessKey"]})
            assert status == 201, (status, body)
        status, body = call(registry.base, token, "POST", "/api/v1/activation")
        assert status in (200, 201), (status, body)
        for login in MEMBER_POOL + FLOATING_USERS:
            status, body = call(registry.base, token, "POST", "/api/v1/users", {"login": login, "name": "User " + login, "email": login + "@example.com"})
            assert status == 201, (status, body)
        for group in GROUPS:
            status, body = call(registry.base, token, "POST", "/api/v1/access-groups",
                                {"idNumber": group, "name": group, "keySerial": nominative["serial"], "component": "DOC", "menus": ["DC021"], "users": []})
            assert status == 201, (status, body)
        status, body = call(registry.base, token, "POST", "/api/v1/access-groups",
                            {"idNumber": "GF", "name": "GF", "keySerial": floating["serial"], "component": "WF", "menus": ["WF001"], "users": FLOATING_USERS})
        assert status == 201, (status, body)

        # The identity provider: a directory token, a directory group linked to GS, on the same 8-seat key.
        status, made = call(registry.base, token, "POST", "/api/v1/tokens", {"kind": "directory", "name": "crash-idp"})
        assert status == 201, (status, made)
        directory_token = made["token"]
        status, directory_group = call(registry.base, directory_token, "POST", "/scim/v2/Groups",
                                       {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Crash directory"})
        assert status == 201, (status, directory_group)
        status, body = call(registry.base, token, "POST", "/api/v1/access-groups",
                            {"idNumber": "GS", "name": "GS", "keySerial": nominative["serial"], "component": "DOC", "menus": ["DC022"]})
        assert status == 201, (status, body)
        status, body = call(registry.base, token, "PUT", "/api/v1/access-groups/GS/directory-groups", {"directoryGroups": [directory_group["id"]]})
        assert status == 200, (status, body)

        ledger = Ledger()
        ledger.users.update(MEMBER_POOL + FLOATING_USERS)
        ledger.keys.update(limits.keys() & {nominative["serial"], floating["serial"]})
        restarts, integrity_results, lost_total, over_total, api_mismatches, unexpected = [], {}, [], [], [], []
        max_nominative, max_floating, checked_total = 0, 0, 0
        for round_ in range(kills):
            workers = Workers(registry.base, token, ledger, pool, rng, round_, directory_token, directory_group["id"])
            workers.start()
            time.sleep(rng.uniform(0.2, 1.5 if quick else 2.0))
            registry.kill()
            workers.stop()
            unexpected += [f"round {round_}: {text}" for text in workers.unexpected]

            integrity, problems, lost, over, members, seats, sessions_open = inspect_file(database, ledger, limits)
            integrity_results[integrity] = integrity_results.get(integrity, 0) + 1
            if integrity != "ok" or problems:
                failures.append(f"round {round_}: integrity {integrity}; {problems}")
            lost_total += [f"round {round_}: {text}" for text in lost]
            over_total += [f"round {round_}: {text}" for text in over]
            max_nominative = max([max_nominative] + list(seats.values()))
            max_floating = max([max_floating] + list(sessions_open.values()))
            checked_total += len(ledger.users) + len(ledger.keys) + len(ledger.sessions) + len(ledger.logouts) + sum(len(m) for m in ledger.members.values())
            checked_total += len(ledger.provisioned) + len(ledger.directory_members)

            begun = time.monotonic()
            registry = v.start_registry(binary, directory, authority, log_path=log_path)
            restarts.append(time.monotonic() - begun)
            # Through the API: the groups as stored, the keys, the token still valid.
            status, body = call(registry.base, token, "GET", "/api/v1/access-groups")
            if status != 200:
                failures.append(f"round {round_}: GET /api/v1/access-groups after the restart answered {status} {body}")
            else:
                for group in body["items"]:
                    if group["idNumber"] in GROUPS and set(group["users"]) != members.get(group["idNumber"], set()):
                        api_mismatches.append(f"round {round_}: {group['idNumber']} API {sorted(group['users'])} file {sorted(members[group['idNumber']])}")
            status, body = call(registry.base, token, "GET", "/api/v1/license-keys")
            if status != 200 or not ledger.keys <= {item["serial"] for item in body["items"]}:
                api_mismatches.append(f"round {round_}: GET /api/v1/license-keys {status} lacks acknowledged keys")
            # What was in flight is now settled: take the stored memberships as the new truth, and free the seats the
            # killed sessions still hold so the next round has some.
            with ledger.lock:
                for group in GROUPS:
                    ledger.members[group] = {login: login in members[group] for login in MEMBER_POOL}
                    ledger.uncertain[group].clear()
            status, body = call(registry.base, token, "POST", "/api/v1/sessions/disconnect", {})
            if status != 200:
                failures.append(f"round {round_}: disconnecting everyone answered {status} {body}")
            v.log(f"crash round {round_ + 1}/{kills}: integrity {integrity}, {ledger.acknowledged} acknowledged so far, "
                  f"seats {dict(seats)}, restart {restarts[-1]:.2f} s")

        restarts.sort()
        rows = [
            ["kills (SIGKILL during concurrent writes)", kills, f"{kills}", "ok"],
            ["acknowledged writes (2xx) in all", ledger.acknowledged, "> 0", "ok" if ledger.acknowledged else "FAIL"],
            ["  users / keys pasted / sessions / logouts", f"{len(ledger.users) - len(MEMBER_POOL + FLOATING_USERS)} / {len(ledger.keys) - 2} / "
             f"{len(ledger.sessions)} / {len(ledger.logouts)}", "", ""],
            ["  SCIM users provisioned / directory memberships", f"{len(ledger.provisioned)} / {len(ledger.directory_members)}", "", ""],
            ["acknowledged writes checked after kills (cumulative)", checked_total, "", ""],
            ["acknowledged writes lost", len(lost_total), 0, "ok" if not lost_total else "FAIL"],
            ["integrity_check", ", ".join(f"{result}: {count}" for result, count in integrity_results.items()), f"ok: {kills}",
             "ok" if integrity_results == {"ok": kills} else "FAIL"],
            [f"max seats assigned on the nominative key (limit {NOMINATIVE_SEATS})", max_nominative, f"<= {NOMINATIVE_SEATS}",
             "ok" if not any("nominative" in text for text in over_total) else "FAIL"],
            [f"max open sessions on the floating key (limit {FLOATING_SEATS})", max_floating, f"<= {FLOATING_SEATS}",
             "ok" if not any("floating" in text for text in over_total) else "FAIL"],
            ["refusals seen", ", ".join(f"{code}: {count}" for code, count in sorted(ledger.refused.items())) or "none", "", ""],
            ["API agrees with the file after restart", "yes" if not api_mismatches else f"{len(api_mismatches)} mismatches", "yes",
             "ok" if not api_mismatches else "FAIL"],
            ["unexpected answers", len(unexpected), 0, "ok" if not unexpected else "FAIL"],
            ["restart time p50 / max", f"{restarts[len(restarts) // 2]:.2f} s / {restarts[-1]:.2f} s", "", ""],
        ]
        failures += lost_total[:20] + over_total[:20] + api_mismatches[:20] + unexpected[:20]
        notes.append(f"took {time.monotonic() - started:.0f} s; logs in {workdir}")
    finally:
        if registry:
            registry.stop()
        if authority.server:
            authority.server.stop()
    return {"name": "crash", "headers": ["figure", "value", "expected", "result"], "rows": rows, "failures": failures, "notes": notes}


def main():
    def add_arguments(parser):
        parser.add_argument("--kills", type=int, help="how many kills (default 100, or 5 with --quick)")
        parser.add_argument("--seed", type=int, help="random seed for the kill times and the writes")
    return v.standalone(run, __doc__.split("\n\n")[0], "keyward-crash-", add_arguments, lambda a: {"kills": a.kills, "seed": a.seed})


if __name__ == "__main__":
    sys.exit(main())
