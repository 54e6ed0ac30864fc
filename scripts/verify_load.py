#!/usr/bin/env python3
"""Load and soak (issue 7, part 3): wrk against a live `keyward serve --demo` on SQLite.

Routes, each at 16, 64 and 256 connections: the trivial route (/health/live), the entitlement check, the key list,
the authority's feed (200, and 304 with If-None-Match), session open and heartbeat. Reported: req/s, p50/p99/max,
errors (socket errors and non-2xx/3xx), and the ratio to the trivial route of the same server at the same number of
connections (sent with the same token as the routes it is compared with). The routes take turns at each connection
count, so a busier moment of the shared machine falls on all.

Full mode adds a 10-minute soak: the check, the key list, heartbeats and the trivial route at once, plus a steady
open/close of sessions, with the registry's RSS sampled every 10 s. It must show no errors and no growth trend.

    python3 scripts/verify_load.py [--quick] [--binary PATH] [--seconds N] [--soak-minutes M]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verifylib as v  # noqa: E402

CONNECTIONS = (16, 64, 256)
USERS = 200


def prepare(binary, directory):
    """A demo registry with a 1,000-seat manager key, USERS users in one group, a service token and a session."""
    server, authority, operator = v.start_demo(binary, directory, log_path=os.path.join(directory, "registry.log"))
    admin = v.admin_token(server.base)
    status, _, _ = v.call(authority, "POST", "/v1/organizations/demo/license-keys", operator,
                          {"profile": "manager", "useType": "nominative", "users": 1000, "purchaseType": "sale", "components": ["CFG", "DOC", "WF", "AUD"]})
    assert status == 201, status
    status, run, _ = v.call(server.base, "POST", "/api/v1/license-keys/synchronizations", admin)
    assert run and run.get("outcome") == "succeeded", (status, run)
    _, keys, _ = v.call(server.base, "GET", "/api/v1/license-keys", admin)
    serial = next(key["serial"] for key in keys["items"] if key["users"] == 1000)
    for number in range(USERS):
        status, body, _ = v.call(server.base, "POST", "/api/v1/users", admin, {"login": f"load{number}", "name": f"Load {number}", "email": f"load{number}@example.com"})
        assert status == 201, body
    status, body, _ = v.call(server.base, "POST", "/api/v1/access-groups", admin,
                             {"idNumber": "Load", "name": "Load", "keySerial": serial, "component": "DOC", "menus": ["DC021"],
                              "users": [f"load{number}" for number in range(USERS)]})
    assert status == 201, body
    service = subprocess.run([binary, "tokens", "create", "--service", "verify-load", "--data-dir", directory],
                             check=True, capture_output=True, text=True).stdout.strip()
    status, session, _ = v.call(server.base, "POST", "/api/v1/sessions", service, {"login": "load1"})
    assert status == 201, session
    organization_token = open(os.path.join(directory, "demo-authority", "organization-token")).read().strip()
    status, _, headers = v.call(authority, "GET", "/v1/organizations/demo/feed", organization_token)
    assert status == 200, status
    return server, authority, admin, service, session["sessionId"], organization_token, headers.get("ETag") or headers.get("Etag")


def post_script(directory, name, path, body):
    """A wrk Lua script that POSTs `body` as JSON to `path`."""
    script = os.path.join(directory, f"{name}.lua")
    with open(script, "w") as handle:
        handle.write(f'wrk.method = "POST"\nwrk.path = "{path}"\nwrk.body = {json.dumps(json.dumps(body))}\n'
                     'wrk.headers["Content-Type"] = "application/json"\n')
    return script


def routes(directory, server, authority, admin, service, session, organization_token, etag):
    bearer = lambda token: [f"Authorization: Bearer {token}"]  # noqa: E731
    return [
        # (name, url, headers, script, the trivial route it is compared with)
        # The trivial routes carry the token their side's other routes send, so a request differs from the one it is
        # compared with only in what the route does (as in scripts/bench-access).
        ("GET /health/live", server.base + "/health/live", bearer(service), None, "registry"),
        ("GET /api/v1/entitlements/check", server.base + "/api/v1/entitlements/check?login=load42&component=DOC&menu=DC021", bearer(service), None, "registry"),
        ("GET /api/v1/license-keys", server.base + "/api/v1/license-keys", bearer(admin), None, "registry"),
        ("POST /api/v1/sessions (open)", server.base + "/api/v1/sessions", bearer(service),
         post_script(directory, "open", "/api/v1/sessions", {"login": "load7"}), "registry"),
        ("POST /api/v1/sessions/{id}/heartbeat", server.base + f"/api/v1/sessions/{session}/heartbeat", bearer(service),
         post_script(directory, "heartbeat", f"/api/v1/sessions/{session}/heartbeat", {}), "registry"),
        ("GET authority /health/live", authority + "/health/live", bearer(organization_token), None, "authority"),
        ("GET authority feed (200)", authority + "/v1/organizations/demo/feed", bearer(organization_token), None, "authority"),
        ("GET authority feed (304)", authority + "/v1/organizations/demo/feed", bearer(organization_token) + [f"If-None-Match: {etag}"], None, "authority"),
    ]


def load(targets, seconds, rounds):
    """Every route at every connection count, in `rounds` turns of seconds / rounds each: the routes take turns
    round after round, so a busier moment of the shared machine falls on all of them, and each cell is pooled over
    its rounds (rate over all its requests and time, percentiles over all its requests)."""
    results = {}
    for connections in CONNECTIONS:
        runs = {name: [] for name, _, _, _, _ in targets}
        for _ in range(rounds):
            for name, url, headers, script, _ in targets:
                runs[name].append(v.wrk(url, max(1, round(seconds / rounds)), connections, headers=headers, script=script))
        for name in runs:
            results[(name, connections)] = v.pooled(runs[name])
            v.log(f"  {name} @ {connections}: {results[(name, connections)]['rate']:.0f} req/s, errors {results[(name, connections)]['errors']}")
    return results


def soak(server, targets, minutes, failures):
    """Several wrk processes at once for `minutes`, a Python loop opening and closing sessions, RSS every 10 s."""
    seconds = int(minutes * 60)
    chosen = {name: (url, headers, script) for name, url, headers, script, _ in targets}
    plan = [("GET /api/v1/entitlements/check", 32), ("GET /health/live", 8), ("GET /api/v1/license-keys", 4), ("POST /api/v1/sessions/{id}/heartbeat", 4)]
    outcomes = {}

    def run(name, connections):
        url, headers, script = chosen[name]
        outcomes[name] = v.wrk(url, seconds, connections, threads=1, headers=headers, script=script)

    threads = [threading.Thread(target=run, args=item) for item in plan]
    stop = threading.Event()
    cycles = {"opened": 0, "errors": 0}

    def sessions():
        service = chosen["GET /api/v1/entitlements/check"][1][0].split(" ", 2)[2]
        number = 0
        while not stop.is_set():
            number += 1
            status, body, _ = v.call(server.base, "POST", "/api/v1/sessions", service, {"login": f"load{number % USERS}"})
            if status != 201:
                cycles["errors"] += 1
                continue
            status, _, _ = v.call(server.base, "DELETE", f"/api/v1/sessions/{body['sessionId']}", service)
            cycles["opened"] += 1
            cycles["errors"] += status != 200
            time.sleep(0.05)

    cycler = threading.Thread(target=sessions)
    for thread in threads + [cycler]:
        thread.start()
    samples = []
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        samples.append((time.monotonic() - started, v.rss_mib(server.pid)))
        time.sleep(10)
    for thread in threads:
        thread.join()
    stop.set()
    cycler.join()
    samples.append((time.monotonic() - started, v.rss_mib(server.pid)))
    # The trend after the first minute (warm-up: caches, pools, the allocator's arenas filling). Single samples swing by
    # tens of MiB with the requests in flight, so growth is judged two ways that both have to show it: the slope over
    # every sample, significant (t = slope / its standard error >= 3), and the floor (each minute's lowest sample,
    # which in-flight work does not inflate) higher at the end than after the first minute by more than 10%.
    settled = [(t, rss) for t, rss in samples if t >= 60] or samples
    times, values = [t for t, _ in settled], [rss for _, rss in settled]
    mean_t, mean_v = statistics.fmean(times), statistics.fmean(values)
    denominator = sum((t - mean_t) ** 2 for t in times) or 1
    slope = sum((t - mean_t) * (rss - mean_v) for t, rss in settled) / denominator
    residuals = [rss - (mean_v + slope * (t - mean_t)) for t, rss in settled]
    error = (sum(r * r for r in residuals) / max(1, len(settled) - 2) / denominator) ** 0.5 or 1e-9
    floors = {}
    for t, rss in settled:
        minute = int(t // 60)
        floors[minute] = min(floors.get(minute, rss), rss)
    floor_first, floor_last = floors[min(floors)], floors[max(floors)]
    errors = sum(outcome["errors"] for outcome in outcomes.values()) + cycles["errors"]
    requests = sum(outcome["requests"] for outcome in outcomes.values()) + cycles["opened"] * 2
    if errors:
        failures.append(f"soak: {errors} errors")
    if slope / error >= 3 and floor_last > 1.1 * floor_first:
        failures.append(f"soak: RSS grows {slope * 60:.2f} ± {error * 60:.2f} MiB/min, floor {floor_first:.0f} → {floor_last:.0f} MiB")
    return {"minutes": minutes, "requests": requests, "errors": errors, "sessions opened and closed": cycles["opened"],
            "rss first": samples[0][1], "rss at 1 min": values[0], "rss last": values[-1], "rss max": max(rss for _, rss in samples),
            "slope MiB/min": slope * 60, "slope error": error * 60, "floors": [floors[m] for m in sorted(floors)], "samples": samples}


def run(binary, quick, workdir, seconds=None, soak_minutes=None):
    seconds = seconds or (2 if quick else 10)
    rounds = 1 if quick else 5
    soak_minutes = 0 if quick else (soak_minutes if soak_minutes is not None else 10)
    failures, notes = [], []
    directory = tempfile.mkdtemp(prefix="load-", dir=workdir)
    server = None
    try:
        server, authority, admin, service, session, organization_token, etag = prepare(binary, directory)
        targets = routes(directory, server, authority, admin, service, session, organization_token, etag)
        results = load(targets, seconds, rounds)
        rows = []
        for connections in CONNECTIONS:
            trivial = {"registry": results[("GET /health/live", connections)]["rate"], "authority": results[("GET authority /health/live", connections)]["rate"]}
            for name, _, _, _, side in targets:
                result = results[(name, connections)]
                rows.append([name, connections, f"{result['rate']:,.0f}", f"{result['p50']:.2f}", f"{result['p99']:.2f}", f"{result['max']:.1f}",
                             result["errors"], f"{result['rate'] / trivial[side]:.2f}"])
                if result["errors"]:
                    failures.append(f"{name} @ {connections}: {result['errors']} errors")
                if result["requests"] == 0:
                    failures.append(f"{name} @ {connections}: no request finished in {seconds} s")
        notes.append(f"wrk, 2 threads, {seconds} s per route and connection count in {rounds} rounds taking turns with the other routes "
                     "(rate and percentiles pooled over the rounds), on one 2-core machine shared by wrk and the server; "
                     "build: " + ("release" if "/release/" in binary else "debug") + "; SQLite. Ratio = req/s over the same server's /health/live "
                     "at the same connections (the feed's over the authority's).")
        status, _, _ = v.call(server.base, "GET", "/api/v1/entitlements/check?login=load42&component=DOC&menu=DC021", service)
        if status != 200:
            failures.append(f"after the load the check answers {status}")
        if soak_minutes:
            figures = soak(server, targets, soak_minutes, failures)
            notes.append(f"Soak {figures['minutes']} min: {figures['requests']:,} requests, {figures['errors']} errors, "
                         f"{figures['sessions opened and closed']:,} sessions opened and closed; RSS {figures['rss first']:.0f} MiB at start, "
                         f"{figures['rss at 1 min']:.0f} MiB at 1 min, {figures['rss last']:.0f} MiB at the end (max {figures['rss max']:.0f}); "
                         f"trend after the first minute {figures['slope MiB/min']:+.2f} ± {figures['slope error']:.2f} MiB/min; "
                         f"each minute's lowest sample (MiB): {', '.join(f'{floor:.0f}' for floor in figures['floors'])}.")
            notes.append("RSS samples (s, MiB): " + ", ".join(f"{t:.0f}:{rss:.0f}" for t, rss in figures["samples"]))
    finally:
        if server:
            server.stop()
    return {"name": "Load and soak (wrk)", "headers": ["route", "connections", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "ratio to trivial"],
            "rows": rows, "failures": failures, "notes": notes}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--binary", default=None)
    parser.add_argument("--seconds", type=int)
    parser.add_argument("--soak-minutes", type=float)
    arguments = parser.parse_args()
    binary = arguments.binary or (v.debug_binary() if arguments.quick else v.release_binary())
    with tempfile.TemporaryDirectory() as workdir:
        section = run(binary, arguments.quick, workdir, arguments.seconds, arguments.soak_minutes)
    v.print_section(section)
    return 1 if section["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
