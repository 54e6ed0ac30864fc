#!/usr/bin/env python3
"""API fuzzing with schemathesis: the registry's and the authority's OpenAPI descriptions, run against live servers.

Starts a registry with its demo authority (`keyward serve --demo`) and a separate authority
(`keyward authority serve`), gives both a realistic state (synchronized keys, users, access groups, open
sessions; organizations, agreements, keys and tokens), then runs `schemathesis run` against each server's own
`/openapi.yaml` with real tokens: every operation, in every phase (the description's examples, coverage,
fuzzing in positive and negative mode, and stateful sequences that follow the descriptions' `links`).

Checks (schemathesis names):
  not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
  response_schema_conformance: every answer is described (no 5xx, no undocumented status, content type,
  header or body).
  negative_data_rejection: whatever breaks the description is refused with a 4xx.
  keyward_positive_data_acceptance (defined below, in place of schemathesis' positive_data_acceptance): whatever
  the description allows is accepted; a 422 only with a code ACCEPTED_REFUSALS lists for the operation (what a
  schema cannot say: signatures, references to what must exist, UTF-8 byte lengths).
  ignored_auth: a route that needs a token refuses a request without one, or with a wrong one.
  use_after_free, ensure_resource_availability: what a link creates can be read, what it deletes is gone.
Left out, on purpose:
  unsupported_method, allow_header_conformance: both expect 405 with `Allow` for a method a path does not
  have; both descriptions document 404 NOT_FOUND for that instead.
  object_level_authorization: it needs two callers of one kind with different rights; the route security
  tests (Tests/*/RouteSecurityTests.swift) cover who may call what.
  missing_required_header: no operation has a required header besides Authorization, which ignored_auth covers.

`run(binary, quick, workdir)` is what `scripts/verify` calls; `python3 scripts/verify_api.py [--quick]` runs it
alone, prints the table and exits non-zero on failures.

This file is also the schemathesis hooks module of the runs it starts (SCHEMATHESIS_HOOKS=verify_api, with the
tokens in KEYWARD_API_FUZZ_AUTH): the auth provider at the end picks each request's token.
"""
import argparse
import glob
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verifylib  # noqa: E402

NAME = "API fuzzing (schemathesis)"
HEADERS = ["API", "operations", "requests", "kinds of failure", "schemathesis errors"]

CHECKS = [
    "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
    "response_schema_conformance", "negative_data_rejection", "keyward_positive_data_acceptance", "ignored_auth",
    "use_after_free", "ensure_resource_availability",
]

# Schema-valid requests the server may still refuse with 422, by operation and error code: what a JSON schema cannot
# say (a signature, a reference to a key, menu, group or user that has to exist, a length in UTF-8 bytes). Any other
# refusal of a schema-valid request fails `keyward_positive_data_acceptance`, the stricter stand-in for schemathesis'
# positive_data_acceptance (which can only allow 422 for a whole operation, whatever its code).
ACCEPTED_REFUSALS = {
    "registry": {
        "registerLicenseKey": ["MALFORMED", "UNSUPPORTED_VERSION", "UNKNOWN_SIGNING_KEY", "BAD_SIGNATURE", "WRONG_ORGANIZATION",
                               "NOT_YET_VALID", "EXPIRED", "REVOKED"],
        "installCertificate": ["UNTRUSTED_CERTIFICATE", "MALFORMED_CERTIFICATE", "WRONG_INSTALLATION"],
        "activateOnline": ["UNTRUSTED_CERTIFICATE", "MALFORMED_CERTIFICATE", "WRONG_INSTALLATION"],
        # INVALID_LOGIN: a login is letters and digits of any alphabet, which a JSON Schema pattern cannot say in a
        # dialect every tool reads (Unicode categories), so the description gives only its length.
        "createAccessGroup": ["UNKNOWN_KEY", "COMPONENT_NOT_IN_KEY", "UNKNOWN_MENU", "MENU_NOT_ALLOWED_FOR_PROFILE", "UNKNOWN_USER", "INVALID_LOGIN",
                              "KEY_REVOKED"],
        "updateAccessGroup": ["UNKNOWN_KEY", "COMPONENT_NOT_IN_KEY", "UNKNOWN_MENU", "MENU_NOT_ALLOWED_FOR_PROFILE", "UNKNOWN_USER", "INVALID_LOGIN",
                              "KEY_REVOKED"],
        "addAccessGroupUsers": ["UNKNOWN_USER", "INVALID_LOGIN"],
        "removeAccessGroupUsers": ["UNKNOWN_USER", "INVALID_LOGIN"],
        # INVALID_REQUEST: exactly one of login and idToken, which the description says in words.
        "openSession": ["INVALID_LOGIN", "INVALID_REQUEST"],
        "disconnectSessions": ["INVALID_LOGIN"],
        "migrateAccesses": ["UNKNOWN_KEY", "SAME_KEY", "UNKNOWN_GROUP"],
        "saveAuthoritySettings": ["INVALID_URL", "TOKEN_REQUIRED"],
        "testAuthorityConnection": ["INVALID_URL", "TOKEN_REQUIRED"],
        "createUser": ["INVALID_PASSWORD", "INVALID_LOGIN"],
        "updateUser": ["INVALID_PASSWORD"],
        "linkAccessGroupDirectoryGroups": ["UNKNOWN_DIRECTORY_GROUP"],
        # The LDAP settings' rules that a JSON Schema cannot say: a CA file that must exist on the server, a saved
        # password that must exist for a blank one, fields required unless the URL is blank, StartTLS only with
        # ldap://, filters whose parentheses balance, attribute names and lengths counted after trimming.
        "saveDirectorySettings": ["INVALID_CA_FILE", "PASSWORD_REQUIRED", "INVALID_LDAP_URL", "INVALID_DN", "INVALID_LDAP_FILTER",
                                  "INVALID_ATTRIBUTE", "INVALID_PASSWORD"],
        "testDirectoryConnection": ["INVALID_CA_FILE", "PASSWORD_REQUIRED", "INVALID_LDAP_URL", "INVALID_DN", "INVALID_LDAP_FILTER",
                                    "INVALID_ATTRIBUTE", "INVALID_PASSWORD"],
        # The sign-in settings' rules that a JSON Schema cannot say: an https:// issuer (http:// on loopback only),
        # scopes that include openid, a saved secret for a blank one, lengths counted after trimming.
        "saveSignInSettings": ["INVALID_ISSUER", "INVALID_CLIENT_ID", "INVALID_SCOPES", "INVALID_USER_CLAIM", "INVALID_NAME", "INVALID_AUDIENCE",
                               "SECRET_REQUIRED", "INVALID_SECRET"],
        "testSignInConnection": ["INVALID_ISSUER", "INVALID_CLIENT_ID", "INVALID_SCOPES", "INVALID_USER_CLAIM", "INVALID_NAME",
                                 "INVALID_AUDIENCE"],
    },
    "authority": {
        "createAgreement": ["UNKNOWN_COMPONENT", "EXPIRY_REQUIRED", "EXPIRY_BEFORE_VALIDITY"],
        "issueLicenseKey": ["UNKNOWN_COMPONENT", "EXPIRY_REQUIRED", "EXPIRY_BEFORE_VALIDITY"],
        "switchLicenseKey": ["UNKNOWN_COMPONENT", "EXPIRY_REQUIRED", "EXPIRY_BEFORE_VALIDITY"],
        "renewLicenseKey": ["EXPIRY_BEFORE_VALIDITY"],
        "activateInstallation": ["UNKNOWN_KEY"],
        # A login's letters of any alphabet, a name without format characters and a password's 72 bytes: what a JSON
        # Schema pattern cannot say in a dialect every tool reads.
        "createOperator": ["INVALID_LOGIN", "INVALID_NAME", "INVALID_PASSWORD"],
    },
}
# The SCIM service's refusals of schema-valid requests, by operation and scimType: a login's characters, an attribute
# the schemas do not have (the description lets extension attributes through), a filter's or a PATCH path's grammar.
ACCEPTED_SCIM_REFUSALS = {
    "scimCreateUser": ["invalidValue", "invalidPath"],
    "scimReplaceUser": ["invalidValue", "invalidPath", "mutability"],
    "scimPatchUser": ["invalidValue", "invalidPath", "invalidSyntax", "noTarget", "mutability"],
    "scimCreateGroup": ["invalidValue", "invalidPath"],
    "scimReplaceGroup": ["invalidValue", "invalidPath"],
    "scimPatchGroup": ["invalidValue", "invalidPath", "invalidSyntax", "noTarget", "mutability"],
    "scimListUsers": ["invalidFilter", "invalidValue"],
    "scimListGroups": ["invalidFilter", "invalidValue"],
    "scimGetUser": ["invalidValue"],
    "scimGetGroup": ["invalidValue"],
}
ACCEPTED_REFUSALS["scim"] = ACCEPTED_SCIM_REFUSALS
# Statuses that answer a schema-valid request without refusing it.
ACCEPTED_STATUSES = {200, 201, 204, 304, 401, 403, 404, 409, 429}
# ... and for SCIM, a stale If-Match (412).
ACCEPTED_SCIM_STATUSES = ACCEPTED_STATUSES | {412}


def _log(message):
    verifylib.log(f"[verify_api] {message}")


# ---------------------------------------------------------------------------------------------------------------
# State: what the servers hold before schemathesis starts.
# ---------------------------------------------------------------------------------------------------------------

def _ok(result, *expected):
    status, body, _ = result
    if status not in expected:
        raise RuntimeError(f"setup call answered {status}: {body}")
    return body


def _registry_state(binary, directory, server, authority_url, operator, spare_tokens):
    """Synchronizes the demo keys and adds users, access groups and open sessions. Returns the tokens and the
    values schemathesis draws path parameters and body fields from."""
    base = server.base
    admin = verifylib.admin_token(base)
    # Tokens for `DELETE /api/v1/auth/token`, which revokes the token it is sent with.
    spares = [verifylib.admin_token(base) for _ in range(spare_tokens)]
    service = subprocess.run([binary, "tokens", "create", "--service", "api-fuzz", "--data-dir", directory],
                             check=True, capture_output=True, text=True).stdout.strip().split()[-1]
    assert service.startswith("kw_"), service
    _ok(verifylib.call(base, "POST", "/api/v1/license-keys/synchronizations", admin), 201)
    keys = _ok(verifylib.call(base, "GET", "/api/v1/license-keys", admin), 200)["items"]
    serials = [key["serial"] for key in keys]
    by_profile = {key["profile"]: key for key in keys}
    logins = []
    for index in range(6):
        login = f"user{index}.fuzz"
        _ok(verifylib.call(base, "POST", "/api/v1/users", admin,
                           {"login": login, "name": f"Fuzz User {index}", "email": f"{login}@example.com",
                            "password": "correct horse battery staple" if index % 2 else None}), 201)
        logins.append(login)
    groups = []
    manager, viewer = by_profile["manager"], by_profile["view"]
    for idNumber, key, component, menus, members in [
        ("Writers", manager, "DOC", ["DC021", "DC022"], logins[:3]),
        ("Auditors", manager, "AUD", ["AD001"], logins[2:4]),
        ("Viewers", viewer, "DOC", ["DC021"], logins[3:]),
    ]:
        _ok(verifylib.call(base, "POST", "/api/v1/access-groups", admin,
                           {"idNumber": idNumber, "name": idNumber, "keySerial": key["serial"], "component": component,
                            "menus": menus, "users": members}), 201)
        groups.append(idNumber)
    sessions = []
    for login in logins:
        status, body, _ = verifylib.call(base, "POST", "/api/v1/sessions", service, {"login": login, "ip": "192.0.2.10"})
        if status == 201:
            sessions.append(body["sessionId"])
    catalog = _ok(verifylib.call(authority_url, "GET", "/v1/catalog", operator), 200)
    components = [component["code"] for component in catalog["components"]]
    menus = [menu["code"] for component in catalog["components"] for menu in component["menus"]]
    directory_token = _ok(verifylib.call(base, "POST", "/api/v1/tokens", admin, {"kind": "directory", "name": "api-fuzz"}), 201)["token"]
    return {
        "tokens": {"admin": admin, "service": service, "spares": spares, "directory": directory_token},
        "dictionaries": {"serials": serials, "logins": logins, "groups": groups, "sessions": sessions,
                         "components": components, "menus": menus},
    }


def _authority_state(authority):
    """A second organization, an agreement, single keys (one revoked) and spare organization tokens."""
    base, operator, organization = authority.base, authority.operator, authority.organization
    _ok(verifylib.call(base, "POST", "/v1/organizations", operator, {"id": "acme", "legalName": "ACME Industries Ltd."}), 201)
    agreement = _ok(verifylib.call(base, "POST", f"/v1/organizations/{organization}/agreements", operator, {
        "reference": "FUZZ-001", "signedOn": "2026-11-01",
        "lines": [
            {"profile": "manager", "useType": "nominative", "users": 25, "purchaseType": "sale", "components": ["DOC", "WF"]},
            {"profile": "staff", "useType": "floating", "users": 10, "purchaseType": "rental", "components": ["AUD"],
             "expiresAt": "2030-01-01"},
        ]}), 201)
    serials = list(agreement["serials"])
    for profile in ("basic", "view", "staff"):
        serials.append(authority.issue(profile=profile)["serial"])
    _ok(verifylib.call(base, "POST", f"/v1/license-keys/{serials[-1]}/revoke", operator, {"reason": "Fuzzing: a revoked key."}), 200)
    acme = _ok(verifylib.call(base, "POST", "/v1/organizations/acme/license-keys", operator,
                              {"profile": "staff", "useType": "floating", "users": 5, "purchaseType": "sale", "components": ["DOC"]}), 201)
    serials.append(acme["serial"])
    spare_tokens = [_ok(verifylib.call(base, "POST", f"/v1/organizations/{org}/tokens", operator, {"name": f"spare {index}"}), 201)["id"]
                    for index, org in enumerate([organization, "acme", "acme"])]
    _ok(verifylib.call(base, "POST", f"/v1/organizations/{organization}/activations", authority.organization_token,
                       {"installationId": "fuzz-prod-01", "environment": "production", "serials": serials[:2]}), 201)
    return {
        "tokens": {"operator": operator, "organization": authority.organization_token, "organizationId": organization},
        "dictionaries": {"organizations": [organization, "acme"], "serials": serials, "agreements": [agreement["id"]],
                         "tokens": spare_tokens, "installations": ["fuzz-prod-01", "fuzz-test-01"]},
    }


# ---------------------------------------------------------------------------------------------------------------
# schemathesis configuration and runs
# ---------------------------------------------------------------------------------------------------------------

def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(key)} = {_toml_value(item)}" for key, item in value.items()) + " }"
    raise TypeError(value)


def _config(api, dictionaries, quick):
    """schemathesis.toml for one API: checks, phases, and where path parameters and body fields come from."""
    lines = [
        f"workers = 1",
        f"max-time = {50 if quick else 420}",
        "",
        "[generation]",
        f"max-examples = {8 if quick else 120}",
        "mode = \"all\"",
        "database = \"none\"",
        # The servers refuse U+0000 in any text, anywhere in a request (400 NUL_IN_TEXT, described in the conventions),
        # which no schema of a field can say; SecurityTests covers that refusal.
        "allow-x00 = false",
        "",
        "[phases.stateful]",
        f"max-steps = {6 if quick else 20}",
        "",
        "[checks]",
        "enabled = false",
    ]
    for check in CHECKS:
        lines += [f"[checks.{check}]", "enabled = true"]
        if check == "negative_data_rejection":
            # schemathesis' list plus 413: a body over the size limit (10,001 SCIM operations of random text pass
            # 1 MiB) is refused for its size before its schema is read, which is as much a refusal.
            lines += ['expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]']
    lines += [""]
    for name, values in dictionaries.items():
        if values:
            lines += [f"[dictionaries.{name}]", f"values = {_toml_value(values)}", ""]

    def binding(dictionary, probability=0.5):
        return {"dictionary": dictionary, "probability": probability}

    if api == "scim":
        operations = []
    elif api == "registry":
        parameters = {
            "path.serial": binding("serials"), "path.login": binding("logins"), "path.idNumber": binding("groups"),
            "path.id": binding("sessions"), "query.login": binding("logins"), "query.component": binding("components"),
            "query.menu": binding("menus"), "body.keySerial": binding("serials"), "body.component": binding("components"),
            "body.menus[*]": binding("menus"), "body.users[*]": binding("logins"), "body.logins[*]": binding("logins"),
            "body.login": binding("logins"), "body.from": binding("serials"), "body.to": binding("serials"),
            "body.groups[*]": binding("groups"), "body.checks[*].login": binding("logins"),
            "body.checks[*].component": binding("components"), "body.checks[*].menu": binding("menus"),
        }
        lines += ["[parameters]"] + [f"{json.dumps(key)} = {_toml_value(value)}" for key, value in parameters.items()] + [""]
        operations = []
    else:  # authority
        lines += ["[parameters]"] + [f"{json.dumps(key)} = {_toml_value(value)}" for key, value in {
            "path.serial": binding("serials"), "body.serials[*]": binding("serials"),
            "body.installationId": binding("installations"),
        }.items()] + [""]
        operations = [
            ("^/v1/organizations/", {"path.id": binding("organizations")}),
            ("^/v1/tokens/", {"path.id": binding("tokens", 0.3)}),
            ("^/v1/agreements/", {"path.id": binding("agreements")}),
        ]
    for regex, parameters in operations:
        lines += ["[[operations]]", f"include-path-regex = {json.dumps(regex)}",
                  f"parameters = {_toml_value(parameters)}", ""]
    return "\n".join(lines) + "\n"


def _schemathesis(api, base, schema, directory, config_text, auth, log_path):
    """Runs `schemathesis run` and returns its process; the results land in directory/report."""
    os.makedirs(directory, exist_ok=True)
    config_path = os.path.join(directory, "schemathesis.toml")
    with open(config_path, "w") as handle:
        handle.write(config_text)
    environment = dict(os.environ, SCHEMATHESIS_HOOKS="verify_api", KEYWARD_API_FUZZ_AUTH=json.dumps(auth),
                       PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.abspath(__file__)), os.environ.get("PYTHONPATH", "")]),
                       NO_COLOR="1", COLUMNS="160")
    arguments = [sys.executable, "-m", "schemathesis.cli", "--config-file", config_path, "--no-color", "run", schema,
                 "--url", base, "--report", "json,ndjson", "--report-dir", os.path.join(directory, "report"),
                 "--output-truncate", "true", "--continue-on-failure"]
    log = open(log_path, "w")
    return subprocess.Popen(arguments, cwd=directory, stdout=log, stderr=subprocess.STDOUT, env=environment)


def _results(api, directory, log_path):
    """Counts from the run's reports: operations, requests, failures (the first example of each kind), errors."""
    reports = sorted(glob.glob(os.path.join(directory, "report", "json-*.json")))
    if not reports:
        tail = open(log_path).read()[-3000:]
        return {"operations": 0, "requests": 0, "failures": [f"{api}: schemathesis produced no report:\n{tail}"], "errors": 1, "error_kinds": 1}
    report = json.load(open(reports[-1]))
    requests, statuses, examples = 0, {}, {}
    for path in glob.glob(os.path.join(directory, "report", "ndjson-*.ndjson")):
        for line in open(path):
            finished = json.loads(line).get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished["recorder"]
            interactions = recorder.get("interactions", {})
            for interaction in interactions.values():
                requests += 1
                code = (interaction.get("response") or {}).get("status_code")
                statuses[code] = statuses.get(code, 0) + 1
            for case_id, checks in recorder.get("checks", {}).items():
                for check in checks:
                    if check["status"] != "failure":
                        continue
                    failure = (check.get("failure_info") or {}).get("failure") or {}
                    key = (failure.get("code") or check["name"], failure.get("operation") or recorder["label"])
                    if key in examples:
                        examples[key]["count"] += 1
                        continue
                    interaction = interactions.get(case_id) or {}
                    request, response = interaction.get("request") or {}, interaction.get("response") or {}
                    message = " ".join(line for line in (failure.get("message") or "").splitlines() if line.strip())
                    examples[key] = {
                        "count": 1, "title": failure.get("title") or check["name"], "message": message,
                        "request": f"{request.get('method')} {request.get('uri')} {_decode(request.get('body'))}".strip(),
                        "response": f"{response.get('status_code')} {_decode(response.get('content'))}".strip(),
                    }
    failures = [f"{api}: {code} {value['title']}: {operation} x{value['count']}: {_short(value['message'], 400)} "
                f"[{_short(value['request'])} -> {_short(value['response'])}]"
                for (code, operation), value in sorted(examples.items())]
    errors = report.get("errors", [])
    failures += [f"{api}: schemathesis error: {error.get('title')} x{error.get('count')} (see {log_path})" for error in errors]
    return {
        "operations": report["operations"]["tested"], "selected": report["operations"]["selected"], "requests": requests,
        "failures": failures, "errors": sum(error.get("count", 1) for error in errors), "error_kinds": len(errors), "statuses": statuses,
        "phases": report.get("phases", {}), "exit_code": report.get("exit_code"),
    }


def _decode(body):
    if isinstance(body, dict) and "$base64" in body:
        import base64
        try:
            return base64.b64decode(body["$base64"]).decode("utf-8", "replace")
        except ValueError:
            return "<binary>"
    if not body:
        return ""
    return body if isinstance(body, str) else json.dumps(body)


def _short(text, limit=300):
    text = str(text).replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"


# ---------------------------------------------------------------------------------------------------------------
# The part `scripts/verify` runs
# ---------------------------------------------------------------------------------------------------------------

def run(binary=None, quick=False, workdir=None, local_schema=False):
    binary = binary or verifylib.debug_binary()
    workdir = workdir or tempfile.mkdtemp(prefix="keyward-verify-api-")
    os.makedirs(workdir, exist_ok=True)
    result = {"name": NAME, "headers": HEADERS, "rows": [], "failures": [], "notes": []}
    servers = []
    try:
        registry_directory = os.path.join(workdir, "registry")
        registry, authority_url, operator = verifylib.start_demo(binary, registry_directory, log_path=os.path.join(workdir, "registry.log"))
        servers.append(registry)
        authority = verifylib.Authority(binary, os.path.join(workdir, "authority"), organization="verify",
                                        log_path=os.path.join(workdir, "authority.log"))
        servers.append(authority.server)

        registry_state = _registry_state(binary, registry_directory, registry, authority_url, operator, spare_tokens=5 if quick else 40)
        authority_state = _authority_state(authority)
        _log(f"state ready: registry {registry.base}, authority {authority.base}")

        root = verifylib.ROOT
        runs = {}
        started = time.monotonic()
        scim_state = {"tokens": {"directory": registry_state["tokens"]["directory"]}, "dictionaries": {}}
        for api, base, state in [("registry", registry.base, registry_state), ("authority", authority.base, authority_state),
                                 ("scim", registry.base + "/scim/v2", scim_state)]:
            local = os.path.join(root, "Sources", "KeywardAuthorityHTTP" if api == "authority" else "KeywardRegistryHTTP", "Resources", f"{api}.yaml")
            schema = local if local_schema else base + "/openapi.yaml"
            directory = os.path.join(workdir, f"schemathesis-{api}")
            log_path = os.path.join(workdir, f"schemathesis-{api}.log")
            auth = dict(state["tokens"], api=api, pool=os.path.join(workdir, f"{api}-spare-tokens.json"))
            with open(auth["pool"], "w") as handle:
                json.dump(state["tokens"].get("spares", []), handle)
            process = _schemathesis(api, base, schema, directory, _config(api, state["dictionaries"], quick), auth, log_path)
            runs[api] = (process, directory, log_path)
        for api, (process, directory, log_path) in runs.items():
            try:
                process.wait(timeout=(240 if quick else 900))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                result["failures"].append(f"{api}: schemathesis did not finish in time (see {log_path})")
        _log(f"schemathesis runs took {time.monotonic() - started:.0f} s")

        for api, (process, directory, log_path) in runs.items():
            counts = _results(api, directory, log_path)
            result["rows"].append([api, f"{counts['operations']}/{counts.get('selected', counts['operations'])}",
                                   counts["requests"], len(counts["failures"]) - counts["error_kinds"], counts["errors"]])
            result["failures"] += counts["failures"]
            if counts.get("statuses"):
                spread = ", ".join(f"{code}: {count}" for code, count in sorted(counts["statuses"].items(), key=lambda kv: str(kv[0])))
                result["notes"].append(f"{api}: answers by status: {spread}")
            phases = counts.get("phases", {})
            if phases:
                result["notes"].append(f"{api}: phases: " + ", ".join(f"{name} {value.get('status')}" for name, value in phases.items()))
            if process.returncode not in (0, 1):
                result["failures"].append(f"{api}: schemathesis exited with {process.returncode} (see {log_path})")
            elif process.returncode == 1 and not counts["failures"]:
                result["failures"].append(f"{api}: schemathesis reported a failure the report does not name (see {log_path})")
        for server in servers:
            log_path = server.log_path
            if log_path and os.path.exists(log_path):
                errors = [line for line in open(log_path, errors="replace") if "request failed" in line]
                if errors:
                    result["failures"].append(f"server log {os.path.basename(log_path)}: {len(errors)} unexpected errors, e.g. {_short(errors[0])}")
        result["notes"].append("checks: " + ", ".join(CHECKS) + "; a schema-valid request may be refused (422) only with the codes "
                               "in ACCEPTED_REFUSALS (signatures, references to what must exist, UTF-8 byte lengths)")
        result["notes"].append("not run: unsupported_method and allow_header_conformance (the descriptions document 404 NOT_FOUND, "
                               "not 405, for a method a path lacks), object_level_authorization (RouteSecurityTests cover it)")
        result["notes"].append("operations: those of the served description but GET /openapi.yaml, which schemathesis "
                               "loads the description from")
        result["notes"].append(f"logs and reports in {workdir}")
    finally:
        for server in servers:
            server.stop()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few examples per operation, about 2 minutes")
    parser.add_argument("--binary", default=verifylib.debug_binary())
    parser.add_argument("--workdir", help="keep logs and reports here (default: a temporary directory)")
    parser.add_argument("--local-schema", action="store_true",
                        help="fuzz with openapi/*.yaml from the source tree instead of what the servers serve (to try "
                             "description changes without a rebuild)")
    arguments = parser.parse_args()
    result = run(arguments.binary, arguments.quick, arguments.workdir, local_schema=arguments.local_schema)
    widths = [max(len(str(row[i])) for row in [result["headers"]] + result["rows"]) for i in range(len(result["headers"]))]
    print(result["name"])
    for row in [result["headers"]] + result["rows"]:
        print("  " + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))
    for note in result["notes"]:
        print(f"  note: {note}")
    for failure in result["failures"]:
        print(f"  FAIL: {failure}")
    sys.exit(1 if result["failures"] else 0)


# ---------------------------------------------------------------------------------------------------------------
# schemathesis hooks: loaded by the runs above (SCHEMATHESIS_HOOKS=verify_api), never when imported by verify.
# ---------------------------------------------------------------------------------------------------------------

if os.environ.get("KEYWARD_API_FUZZ_AUTH") and __name__ != "__main__":
    import schemathesis

    _AUTH = json.loads(os.environ["KEYWARD_API_FUZZ_AUTH"])
    _LOCK = threading.Lock()
    _ALTERNATE = itertools.count()
    # The registry's suite-facing routes take the service token a suite module would send.
    _SERVICE_ROUTES = {"POST /api/v1/sessions", "POST /api/v1/sessions/{id}/heartbeat", "GET /api/v1/entitlements/check",
                       "POST /api/v1/entitlements/check", "GET /api/v1/users/{login}/entitlements"}
    # The authority's routes an organization's registry calls with its organization token.
    _ORGANIZATION_ROUTES = {"GET /v1/organizations/{id}/feed", "POST /v1/organizations/{id}/activations"}

    def _spare_token():
        """A fresh administrator token for `DELETE /api/v1/auth/token`, which revokes the token it is sent with
        (the last one again once they are used up: it is then refused with 401, as described)."""
        with _LOCK:
            with open(_AUTH["pool"]) as handle:
                pool = json.load(handle)
            if not pool:
                return "kw_aaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            token = pool[0]
            if len(pool) > 1:
                with open(_AUTH["pool"], "w") as handle:
                    json.dump(pool[1:], handle)
            return token

    def _token_for(case):
        label = f"{case.method.upper()} {case.operation.path}"
        if _AUTH["api"] == "scim":
            return _AUTH["directory"]
        if _AUTH["api"] == "registry":
            if label == "DELETE /api/v1/auth/token":
                return _spare_token()
            if label in _SERVICE_ROUTES:
                return _AUTH["service"]
            if label == "DELETE /api/v1/sessions/{id}":
                # A logout (service token) or a disconnection (administrator), in turn.
                return _AUTH["service"] if next(_ALTERNATE) % 2 else _AUTH["admin"]
            return _AUTH["admin"]
        if label in _ORGANIZATION_ROUTES and (case.path_parameters or {}).get("id") == _AUTH["organizationId"]:
            return _AUTH["organization"]
        return _AUTH["operator"]

    _ACCEPTED_REFUSALS = ACCEPTED_REFUSALS[_AUTH["api"]]

    @schemathesis.check
    def keyward_positive_data_acceptance(ctx, response, case):
        """A request the description allows is not refused, except 422 with a code ACCEPTED_REFUSALS lists."""
        meta = case.meta
        scim = _AUTH["api"] == "scim"
        accepted = ACCEPTED_SCIM_STATUSES if scim else ACCEPTED_STATUSES
        if meta is None or not meta.generation.mode.is_positive or response.status_code in accepted:
            return None
        operation_id = case.operation.definition.raw.get("operationId")
        code = None
        try:
            body = response.json()
            code = body.get("scimType") if scim else body["error"]["code"]
        except Exception:
            pass
        if response.status_code == (400 if scim else 422) and code in _ACCEPTED_REFUSALS.get(operation_id, ()):
            return None
        raise AssertionError(f"Schema-valid request refused with {response.status_code} {code}: the description allows "
                             f"what the server refuses (accepted: {sorted(ACCEPTED_STATUSES)}, or 422 with "
                             f"{_ACCEPTED_REFUSALS.get(operation_id, [])})")

    @schemathesis.auth(refresh_interval=None, retry_on=[])
    class _KeywardTokens:
        def get(self, case, context):
            return _token_for(case)

        def set(self, case, data, context):
            case.headers = dict(case.headers or {})
            case.headers["Authorization"] = f"Bearer {data}"


if __name__ == "__main__":
    main()
