#!/usr/bin/env python3
"""The registry's SCIM service driven by a SCIM client library from PyPI (scim2-client, with scim2-models' strict
validation of every answer), as an identity provider would drive it: discovery, users and groups created, searched,
patched, replaced and deleted; group members pushed onto a key with too few seats; errors in SCIM's format.

    python3 scripts/scim-client-test.py .build/debug/keyward

Starts `keyward serve --demo` in a temporary directory, makes a directory token through the API, and exits non-zero
on the first thing that is not as it should be. Needs scim2-client and httpx2 from PyPI (.ci/run installs them).
"""
import os
import sys
import tempfile

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import Email, EnterpriseUser, Error, Group, GroupMember, ListResponse, PatchOp, PatchOperation, SearchRequest, User

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verifylib as v  # noqa: E402

checks = 0


def check(condition, message):
    global checks
    checks += 1
    if not condition:
        raise AssertionError(message)


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else v.debug_binary()
    with tempfile.TemporaryDirectory() as directory:
        server, authority, operator = v.start_demo(binary, directory, log_path=os.path.join(directory, "registry.log"))
        try:
            run(server.base, authority, operator)
        except Exception:
            print(open(os.path.join(directory, "registry.log")).read()[-3000:], file=sys.stderr)
            raise
        finally:
            server.stop()
    print(f"scim-client-test: {checks} checks passed")


def run(base, authority, operator):
    admin = v.admin_token(base)
    # A key of 3 seats, for the members the directory pushes beyond them.
    status, _, _ = v.call(authority, "POST", "/v1/organizations/demo/license-keys", operator,
                          {"profile": "staff", "useType": "nominative", "users": 3, "purchaseType": "sale", "components": ["DOC"]})
    check(status == 201, f"issued: {status}")
    status, synchronized, _ = v.call(base, "POST", "/api/v1/license-keys/synchronizations", admin)
    check(synchronized and synchronized.get("outcome") == "succeeded", f"synchronized: {status} {synchronized}")
    status, made, _ = v.call(base, "POST", "/api/v1/tokens", admin, {"kind": "directory", "name": "scim2-client"})
    check(status == 201, f"directory token: {status} {made}")
    http = httpx2.Client(base_url=f"{base}/scim/v2", headers={"Authorization": f"Bearer {made['token']}"}, timeout=30)
    scim = SyncSCIMClient(http)

    # Discovery: ServiceProviderConfig, ResourceTypes and Schemas, read and validated by the library, which then
    # builds its resource models from our schemas.
    scim.discover()
    config = scim.provider.config
    check(config.patch.supported and config.filter.supported and config.etag.supported, f"config: {config}")
    check(not config.bulk.supported, "bulk is not supported and says so")
    check({r.id for r in scim.provider.resource_types} == {"User", "Group"}, f"resource types: {scim.provider.resource_types}")
    UserModel = scim.get_resource_model("User")
    GroupModel = scim.get_resource_model("Group")
    check(UserModel is not None and GroupModel is not None, "models from the schemas")

    # Users: create (with the enterprise extension), read, search, patch, replace.
    users = []
    for n in range(6):
        user = User[EnterpriseUser](
            user_name=f"scim.user{n}@acme.example", display_name=f"SCIM User {n}", active=True, external_id=f"ext-{n}",
            emails=[Email(value=f"scim.user{n}@acme.example", type="work", primary=True)])
        user[EnterpriseUser] = EnterpriseUser(employee_number=str(700 + n), department="Quality")
        created = scim.create(user)
        check(created.id and created.meta.version and created.meta.location.endswith(f"/Users/{created.id}"), f"created: {created}")
        check(created[EnterpriseUser].department == "Quality", "the enterprise extension is stored")
        users.append(created)
    fetched = scim.query(User[EnterpriseUser], users[0].id)
    check(fetched.user_name == "scim.user0@acme.example" and fetched.external_id == "ext-0", f"fetched: {fetched}")

    found = scim.query(User[EnterpriseUser], query_parameters=SearchRequest(filter='userName eq "SCIM.USER3@acme.example"'))
    check(isinstance(found, ListResponse) and found.total_results == 1 and found.resources[0].id == users[3].id, f"search: {found}")
    page = scim.query(User[EnterpriseUser], query_parameters=SearchRequest(filter='emails.value co "acme.example"', start_index=3, count=2))
    check(page.total_results == 6 and page.start_index == 3 and len(page.resources) == 2, f"paged search: {page}")
    check(page.resources[0].user_name == "scim.user2@acme.example", "pages in the order the users were made")

    patch = PatchOp[User[EnterpriseUser]](operations=[
        PatchOperation(op=PatchOperation.Op.replace_, path="displayName", value="Renamed User"),
        PatchOperation(op=PatchOperation.Op.replace_, path='emails[type eq "work"].value', value="renamed@acme.example"),
    ])
    scim.modify(User[EnterpriseUser], users[1].id, patch)
    patched = scim.query(User[EnterpriseUser], users[1].id)
    check(patched.display_name == "Renamed User" and patched.emails[0].value == "renamed@acme.example", f"patched: {patched}")
    status, registry_user, _ = v.call(base, "GET", "/api/v1/users/scim.user1@acme.example", admin)
    check(status == 200 and registry_user["name"] == "Renamed User" and registry_user["source"] == "scim", f"registry user: {registry_user}")

    replacement = User[EnterpriseUser](
        id=users[2].id, user_name="scim.user2@acme.example", display_name="Replaced", active=False,
        emails=[Email(value="replaced@acme.example", primary=True)])
    replaced = scim.replace(replacement)
    check(replaced.active is False and replaced.display_name == "Replaced", f"replaced: {replaced}")

    # Errors come back as SCIM errors the library reads.
    duplicate = scim.create(User(user_name="scim.user0@acme.example"), raise_scim_errors=False)
    check(isinstance(duplicate, Error) and duplicate.status == 409 and duplicate.scim_type == "uniqueness", f"duplicate: {duplicate}")
    bad_filter = scim.query(User, query_parameters={"filter": 'userName eq'}, check_request_payload=False, raise_scim_errors=False)
    check(isinstance(bad_filter, Error) and bad_filter.scim_type == "invalidFilter", f"bad filter: {bad_filter}")

    # Groups: made with members, members pushed by PATCH onto an access group whose key has too few seats.
    group = scim.create(Group(display_name="Licensed staff", members=[GroupMember(value=users[0].id)]))
    check(group.id and [m.value for m in group.members] == [users[0].id], f"group: {group}")
    status, keys, _ = v.call(base, "GET", "/api/v1/license-keys", admin)
    small = [k for k in keys["items"] if k["users"] == 3 and k["useType"] == "nominative"]
    check(len(small) == 1, f"the 3-seat key: {keys}")
    key = small[0]
    status, access, _ = v.call(base, "POST", "/api/v1/access-groups", admin,
                               {"idNumber": "SCIM staff", "name": "SCIM staff", "keySerial": key["serial"], "component": "DOC", "menus": ["DC021"]})
    check(status == 201, f"access group: {status} {access}")
    status, linked, _ = v.call(base, "PUT", "/api/v1/access-groups/SCIM%20staff/directory-groups", admin, {"directoryGroups": [group.id]})
    check(status == 200 and linked["added"] == 1, f"linked: {status} {linked}")

    scim.modify(Group, group.id, PatchOp[Group](operations=[
        PatchOperation(op=PatchOperation.Op.add, path="members", value=[{"value": u.id} for u in users[1:]])]))
    members = scim.query(Group, group.id)
    check(len(members.members) == 6, f"the directory's members are stored as sent: {members.members}")
    status, errors, _ = v.call(base, "GET", "/api/v1/assignment-errors", admin)
    check(status == 200, f"assignment errors: {errors}")
    # User 2 was disabled by the PUT above: they hold no seat and get no error.
    held = [u for u in ("scim.user0@acme.example", "scim.user1@acme.example", "scim.user3@acme.example", "scim.user4@acme.example",
                        "scim.user5@acme.example")
            if v.call(base, "GET", f"/api/v1/entitlements/check?login={u}&component=DOC&menu=DC021", admin)[1].get("allowed")]
    in_errors = {e["login"] for e in errors["items"]}
    check(len(held) + len(in_errors) == 5, f"every active member holds a seat or has an assignment error: {held} {in_errors}")
    check(len(held) <= key["users"], f"no more seats held than the key has: {held}")
    for error in errors["items"]:
        check(error["code"] == "SEAT_LIMIT_EXCEEDED" and error["limit"] == key["users"], f"assignment error: {error}")

    # Removing members by a value filter (Entra's way) and deleting a user (disabled, kept).
    scim.modify(Group, group.id, PatchOp[Group](operations=[PatchOperation(op=PatchOperation.Op.remove, path=f'members[value eq "{users[0].id}"]')]))
    check(len(scim.query(Group, group.id).members) == 5, "one member removed")
    scim.delete(User, users[5].id)
    gone = scim.query(User, users[5].id, raise_scim_errors=False)
    check(isinstance(gone, Error) and gone.status == 404, f"deleted: {gone}")
    status, kept, _ = v.call(base, "GET", "/api/v1/users/scim.user5@acme.example", admin)
    check(status == 200 and kept["active"] is False and kept["inDirectory"] is False, f"a deleted user is disabled, never deleted: {kept}")
    scim.delete(Group, group.id)
    status, access_group, _ = v.call(base, "GET", "/api/v1/access-groups/SCIM%20staff", admin)
    check(access_group["users"] == [], f"the access group had its users only through the deleted group: {access_group}")
    status, errors, _ = v.call(base, "GET", "/api/v1/assignment-errors", admin)
    check(errors["items"] == [], f"no assignment error outlives its group: {errors}")


if __name__ == "__main__":
    main()
