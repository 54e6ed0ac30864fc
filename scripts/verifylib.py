"""Shared pieces of `scripts/verify` and its parts: free ports, JSON calls, starting a registry (with its demo
authority, or against a separate authority process), RSS, and wrk.

Every part of the verification imports this module instead of writing its own process handling, so a server
is always started the same way, waited for the same way ("listening on" on its first line) and stopped the same
way (SIGTERM, then SIGKILL after a grace period).
"""
import http.client
import json
import os
import queue
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADMIN_PASSWORD = "verify-admin-password"


def debug_binary():
    return os.path.join(ROOT, ".build", "debug", "keyward")


def release_binary():
    return os.path.join(ROOT, ".build", "release", "keyward")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, token=None, body=None, headers=None, timeout=60):
    """One HTTP call; returns (status, parsed JSON or None, response headers). Never raises on an HTTP status."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, method=method, data=data)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
            return response.status, _json(payload), dict(response.headers)
    except urllib.error.HTTPError as error:
        payload = error.read()
        return error.code, _json(payload), dict(error.headers)


def request(base, method, path, body=None, headers=None, token=None, source=None, timeout=60):
    """One HTTP call on a fresh connection, optionally from a given loopback source address (`source`, such as
    "127.0.0.2": the registry throttles by the address it sees); returns (status, raw body, headers with lowercase
    names). `body` is sent as JSON unless it is bytes. Raises OSError when the connection fails or is closed early."""
    host, port = base.split("://", 1)[1].rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout, source_address=(source, 0) if source else None)
    fields = dict(headers or {})
    if token:
        fields["Authorization"] = f"Bearer {token}"
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
        fields.setdefault("Content-Type", "application/json")
    try:
        connection.request(method, path, body=body, headers=fields)
        response = connection.getresponse()
        return response.status, response.read(), {name.lower(): value for name, value in response.getheaders()}
    finally:
        connection.close()


def _json(payload):
    if not payload:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return None


class Server:
    """A started keyward process. `base` is its URL; `stop()` ends it gracefully, `kill()` with SIGKILL."""

    def __init__(self, process, port, log_path=None):
        self.process, self.port, self.log_path = process, port, log_path
        self.base = f"http://127.0.0.1:{port}"

    @property
    def pid(self):
        return self.process.pid

    def stop(self, grace=30):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def pause(self):
        self.process.send_signal(signal.SIGSTOP)

    def resume(self):
        self.process.send_signal(signal.SIGCONT)


def start(arguments, port, environment=None, log_path=None, timeout=120, open_files=None):
    """Starts `keyward ARGUMENTS…` and waits for its "listening on" line. Its stderr (the log) goes to log_path.
    `open_files` lowers its limit of open files (RLIMIT_NOFILE), to see what it does when it runs out."""
    env = dict(os.environ, KEYWARD_ADMIN_PASSWORD=ADMIN_PASSWORD, KEYWARD_LOG_LEVEL="warning")
    env.update(environment or {})
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))) if open_files else None
    process = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=log, text=True, env=env, preexec_fn=limit)
    # stdout is read on a thread of its own (so a server that starts silently cannot hang the caller, and a chatty
    # one never blocks on a full pipe); its lines come here until "listening on".
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout] + [lines.put(None)], daemon=True).start()
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            line = None
        if line and "listening on" in line:
            return Server(process, port, log_path)
        if line:
            seen.append(line)
            continue
        process.kill()
        process.wait()
        raise RuntimeError(f"{arguments[0]} {arguments[1]} did not start within {timeout} s: {''.join(seen)[-500:]!r} (log: {log_path})")


def start_demo(binary, directory, database=None, log_path=None, port=None, authority_port=None, extra=(), open_files=None):
    """`keyward serve --demo`: a registry with a demo authority in the same process, synchronized with it.
    Returns (server, authority base URL, operator token of the demo authority)."""
    port, authority_port = port or free_port(), authority_port or free_port()
    arguments = [binary, "serve", "--demo", "--data-dir", directory, "--port", str(port), "--demo-authority-port", str(authority_port), *extra]
    if database:
        arguments += ["--database", database]
    server = start(arguments, port, log_path=log_path, open_files=open_files)
    operator = open(os.path.join(directory, "demo-authority", "operator-token")).read().strip()
    return server, f"http://127.0.0.1:{authority_port}", operator


class Authority:
    """A separate `keyward authority serve` process with one organization and its registry token."""

    def __init__(self, binary, directory, organization="verify", log_path=None):
        self.binary, self.directory, self.organization, self.log_path = binary, directory, organization, log_path
        init = json.loads(subprocess.run([binary, "authority", "init", "--data-dir", directory, "--json"],
                                         check=True, capture_output=True, text=True).stdout)
        self.public_key, self.operator = init["publicKey"], init["operatorToken"]
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server = None
        self.start()
        status, _, _ = call(self.base, "POST", "/v1/organizations", self.operator, {"id": organization, "legalName": "Verify Corp"})
        assert status == 201, status
        status, token, _ = call(self.base, "POST", f"/v1/organizations/{organization}/tokens", self.operator, {"name": "registry"})
        assert status == 201, token
        self.organization_token = token["token"]

    def start(self):
        self.server = start([self.binary, "authority", "serve", "--data-dir", self.directory, "--port", str(self.port)],
                            self.port, log_path=self.log_path)
        return self.server

    def issue(self, profile="manager", use_type="nominative", users=10, components=("DOC", "WF", "AUD", "CFG")):
        status, key, _ = call(self.base, "POST", f"/v1/organizations/{self.organization}/license-keys", self.operator,
                              {"profile": profile, "useType": use_type, "users": users, "purchaseType": "sale", "components": list(components)})
        assert status == 201, (status, key)
        return key


def start_registry(binary, directory, authority, database=None, log_path=None, port=None, extra=()):
    """A registry trusting `authority` and synchronizing with it (its token in a file in `directory`)."""
    os.makedirs(directory, exist_ok=True)
    token_file = os.path.join(directory, "organization-token")
    with open(token_file, "w") as handle:
        handle.write(authority.organization_token)
    port = port or free_port()
    arguments = [binary, "serve", "--data-dir", directory, "--port", str(port), "--organization", authority.organization,
                 "--legal-name", "Verify Corp", "--trust-key", authority.public_key, "--authority-url", authority.base,
                 "--organization-token-file", token_file, *extra]
    if database:
        arguments += ["--database", database]
    return start(arguments, port, log_path=log_path)


def admin_token(base, password=ADMIN_PASSWORD):
    status, body, _ = call(base, "POST", "/api/v1/auth/token", body={"login": "admin", "password": password})
    assert status in (200, 201), (status, body)
    return body["token"]


def accepts_option(binary, option, command=("serve",)):
    """Whether `keyward COMMAND --help` lists `option` (a flag a newer build has and an older one refuses)."""
    result = subprocess.run([binary, *command, "--help"], capture_output=True, text=True)
    return option in result.stdout + result.stderr


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# Each wrk run also hands back its latency distribution as this many quantiles (0.05 % apart), so runs of the same
# route can be pooled into one distribution (see `pooled`).
QUANTILES = 2000

_QUANTILE_SCRIPT = """
done = function(summary, latency, requests)
  local out = io.open("{path}", "w")
  for i = 1, {steps} do
    out:write(latency:percentile((i - 0.5) * 100 / {steps}), "\\n")
  end
  out:close()
end
"""


def wrk(url, seconds, connections, threads=2, headers=(), script=None):
    """Runs wrk and returns {rate, p50, p99, max (ms), requests, seconds, errors, quantiles (ms)}. errors counts
    socket errors and non-2xx/3xx answers together."""
    arguments = ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for header in headers:
        arguments += ["-H", header]
    with tempfile.TemporaryDirectory(prefix="wrk-") as directory:
        quantiles_path = os.path.join(directory, "quantiles")
        combined = os.path.join(directory, "script.lua")
        with open(combined, "w") as handle:
            if script:
                handle.write(open(script).read() + "\n")
            handle.write(_QUANTILE_SCRIPT.format(path=quantiles_path, steps=QUANTILES))
        output = subprocess.run(arguments + ["-s", combined, url], capture_output=True, text=True, check=True).stdout
        with open(quantiles_path) as handle:
            quantiles = [float(line) / 1000 for line in handle if line.strip()]

    def milliseconds(text, unit):
        value = float(text)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value * 60000 if unit == "m" else value

    def percentile(label):
        match = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s|m)\b", output)
        return milliseconds(*match.groups())

    latency = re.search(r"Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m)\b", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    finished = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", output)
    return {
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "requests": int(finished.group(1)), "seconds": milliseconds(*finished.groups()[1:]) / 1000,
        "p50": percentile("50"), "p99": percentile("99"), "max": milliseconds(*latency.groups()),
        "errors": (sum(int(n) for n in socket_errors.groups()) if socket_errors else 0) + (int(non_2xx.group(1)) if non_2xx else 0),
        "quantiles": quantiles, "output": output,
    }


def pooled(runs):
    """One figure for several wrk runs of the same route (rounds taking turns with other routes, so a busier moment
    of the shared machine falls on every route alike): the rate over all their requests and time, and p50/p99 over
    all their requests, each run's distribution weighted by its number of requests."""
    requests = sum(run["requests"] for run in runs)
    points = sorted((value, run["requests"] / len(run["quantiles"])) for run in runs for value in run["quantiles"])

    def quantile(fraction):
        target, seen = fraction * requests, 0.0
        for value, weight in points:
            seen += weight
            if seen >= target:
                return value
        return points[-1][0] if points else float("nan")

    return {
        "rate": requests / sum(run["seconds"] for run in runs), "requests": requests, "p50": quantile(0.50), "p99": quantile(0.99),
        "max": max(run["max"] for run in runs), "errors": sum(run["errors"] for run in runs), "rounds": [run["rate"] for run in runs],
    }


class Report:
    """A part's rows (scenario, figure, value, expected, ok/FAIL), its failures (one per failed row or check) and notes."""

    def __init__(self):
        self.rows, self.failures, self.notes = [], [], []

    def row(self, scenario, figure, value, expected, ok=True):
        self.rows.append([scenario, figure, value, expected, "ok" if ok else "FAIL"])
        if not ok:
            self.failures.append(f"{scenario}: {figure} = {value} (expected {expected})")

    def check(self, condition, message):
        if not condition:
            self.failures.append(message)
        return condition

    def section(self, name, headers):
        """The part's result for `scripts/verify`: its table, failures and notes under `name`."""
        return {"name": name, "headers": headers, "rows": self.rows, "failures": self.failures, "notes": self.notes}


def log(message):
    print(message, file=sys.stderr, flush=True)


def section_markdown(section):
    """A part's result as Markdown: its table, then its notes and failures."""
    lines = [f"## {section['name']}", ""]
    if section.get("rows"):
        lines.append("| " + " | ".join(str(header) for header in section["headers"]) + " |")
        lines.append("|" + "---|" * len(section["headers"]))
        lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in section["rows"]]
        lines.append("")
    lines += [f"- {note}" for note in section.get("notes", [])]
    lines += [f"- **FAILED:** {failure}" for failure in section.get("failures", [])]
    if not section.get("failures"):
        lines.append("- No failures.")
    lines.append("")
    return "\n".join(lines)


def print_section(section):
    print(section_markdown(section), flush=True)


def standalone(run, description, prefix, add_arguments=None, keywords=lambda arguments: {}):
    """What `python3 scripts/verify_<part>.py` does for every part: --quick, --binary, --workdir and --keep, plus the
    part's own arguments (`add_arguments(parser)`, handed to `run` through `keywords(arguments)`); prints the
    part's table and returns the exit status (1 on failures). The work directory goes unless kept or given."""
    import argparse
    import shutil
    import tempfile
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="the small run CI makes")
    parser.add_argument("--binary", default=debug_binary())
    parser.add_argument("--workdir", help="where data and logs go (default: a temporary directory, removed unless --keep)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    if add_arguments:
        add_arguments(parser)
    arguments = parser.parse_args()
    workdir = arguments.workdir or tempfile.mkdtemp(prefix=prefix)
    result = run(arguments.binary, arguments.quick, workdir, **keywords(arguments))
    print_section(result)
    if arguments.keep or arguments.workdir:
        print(f"work directory: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if result["failures"] else 0


class Slapd:
    """A throw-away OpenLDAP server (Debian's slapd) on a loopback port, its directory loaded with slapadd:
    `users` inetOrgPerson entries under ou=people (uid userN), `groups` groupOfNames under ou=groups, each user in
    group N modulo `groups`. Stopped by `stop()`."""

    SUFFIX = "dc=acme,dc=example"
    ROOT_DN = "cn=admin,dc=acme,dc=example"
    ROOT_PASSWORD = "slapd-verify-password"

    def __init__(self, directory, users, groups, group_names=None):
        os.makedirs(os.path.join(directory, "db"))
        self.config = os.path.join(directory, "slapd.conf")
        with open(self.config, "w") as handle:
            handle.write(f"""include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {directory}/slapd.pid
database mdb
maxsize 4294967296
suffix "{self.SUFFIX}"
rootdn "{self.ROOT_DN}"
rootpw {self.ROOT_PASSWORD}
directory {directory}/db
sizelimit unlimited
index objectClass eq
""")
        ldif = os.path.join(directory, "directory.ldif")
        names = group_names or [f"group{number}" for number in range(groups)]
        with open(ldif, "w") as out:
            out.write(f"dn: {self.SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: ACME\ndc: acme\n\n")
            out.write(f"dn: ou=people,{self.SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n")
            out.write(f"dn: ou=groups,{self.SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n")
            for number in range(users):
                out.write(f"dn: uid=user{number},ou=people,{self.SUFFIX}\nobjectClass: inetOrgPerson\nuid: user{number}\n"
                          f"cn: User Number {number}\nsn: Number{number}\nmail: user{number}@acme.example\n\n")
            for group, name in enumerate(names):
                out.write(f"dn: cn={name},ou=groups,{self.SUFFIX}\nobjectClass: groupOfNames\ncn: {name}\n")
                for number in range(group, users, len(names)):
                    out.write(f"member: uid=user{number},ou=people,{self.SUFFIX}\n")
                out.write("\n")
        started = time.monotonic()
        subprocess.run(["/usr/sbin/slapadd", "-q", "-f", self.config, "-l", ldif], check=True, capture_output=True)
        self.load_seconds = time.monotonic() - started
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(["/usr/sbin/slapd", "-f", self.config, "-h", self.url + "/", "-d", "0"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("slapd did not start")

    def modify(self, ldif):
        subprocess.run(["ldapmodify", "-x", "-H", self.url, "-D", self.ROOT_DN, "-w", self.ROOT_PASSWORD], input=ldif, text=True,
                       check=True, capture_output=True)

    def stop(self):
        self.process.kill()
        self.process.wait()
