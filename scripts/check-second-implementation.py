#!/usr/bin/env python3
"""Checks Keyward's access keys with a second, independent Ed25519 implementation (pyca/cryptography).

Keys issued by the `keyward` CLI must verify from the public key hex alone, the PEM files must load in
OpenSSL's reader, and a key signed here by Python must be accepted by `keyward key inspect`.

    python3 scripts/check-second-implementation.py .build/debug/keyward
"""
import base64
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

passed = 0
failed = 0


def check(condition, what):
    global passed, failed
    if condition:
        passed += 1
    else:
        failed += 1
        print(f"FAILED: {what}", file=sys.stderr)


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def keyward(binary, *arguments, expect=0):
    result = subprocess.run([binary, *arguments], capture_output=True, text=True)
    if result.returncode != expect:
        raise SystemExit(f"keyward {' '.join(arguments)} exited {result.returncode}, expected {expect}:\n{result.stderr}")
    return result.stdout


def verify(public_key, access_key):
    """True when `access_key` is signed by `public_key` per the ED25519_SIGN layout."""
    signed, _, signature = access_key.rpartition(".")
    try:
        public_key.verify(b64url_decode(signature), signed.encode("ascii"))
        return True
    except InvalidSignature:
        return False


def main(binary):
    with tempfile.TemporaryDirectory() as directory:
        init = json.loads(keyward(binary, "authority", "init", "--data-dir", directory, "--json"))
        kid, public_hex = init["kid"], init["publicKey"]
        public_key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex))
        check(hashlib.sha256(bytes.fromhex(public_hex)).hexdigest()[:16] == kid, "kid is the first 8 bytes of SHA-256 of the public key")

        # The PEM files must be what OpenSSL writes and reads.
        private_pem = (Path(directory) / "signing-keys" / f"{kid}.pem").read_bytes()
        private_key = serialization.load_pem_private_key(private_pem, password=None)
        raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        check(raw.hex() == public_hex, "the private key PEM loads and matches the published public key")
        public_pem = keyward(binary, "authority", "public-key", "--data-dir", directory, "--pem").encode()
        loaded = serialization.load_pem_public_key(public_pem)
        check(loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex() == public_hex, "the public key PEM loads")

        specifications = [
            ["--profile", "manager", "--use-type", "nominative", "--users", "25", "--purchase-type", "sale", "--components", "DOC,WF"],
            ["--profile", "view", "--use-type", "floating", "--users", "1", "--purchase-type", "trial", "--components", "AUD", "--expires", "2030-01-31"],
            ["--profile", "staff", "--use-type", "floating", "--users", "500", "--purchase-type", "rental", "--components", "DOC,WF,AUD,CFG",
             "--valid-from", "2026-01-01T08:30:00Z", "--expires", "2031-01-01", "--suite-version", "3.0"],
        ]
        keyward(binary, "authority", "organization", "create", "--data-dir", directory, "--id", "acme",
                "--legal-name", "ACME Industries Ltd. – Ünïcode")
        for arguments in specifications:
            issued = json.loads(keyward(binary, "authority", "issue", "--data-dir", directory, "--organization", "acme",
                                        *arguments, "--json"))
            access_key = issued["accessKey"]
            check(access_key.startswith("key/"), "access keys start with key/")
            check(verify(public_key, access_key), f"cryptography verifies {issued['serial']}")
            payload = json.loads(b64url_decode(access_key[4:].partition(".")[0]))
            check(payload["v"] == 1 and payload["kid"] == kid, "the payload carries v=1 and the kid")
            check(payload["serial"] == issued["serial"], "the payload carries the serial")
            check(payload["organization"] == {"id": "acme", "legalName": "ACME Industries Ltd. – Ünïcode"}, "the payload carries the organization")
            check(payload["users"] == int(arguments[arguments.index("--users") + 1]), "the payload carries the number of users")
            check(payload["components"] == arguments[arguments.index("--components") + 1].split(","), "the payload carries the components")

            signed, _, signature = access_key.rpartition(".")
            flipped = bytearray(b64url_decode(signature))
            flipped[5] ^= 0x01
            check(not verify(public_key, signed + "." + base64.urlsafe_b64encode(bytes(flipped)).decode()), "a flipped bit is refused")
            payload_bytes = bytearray(b64url_decode(signed[4:]))
            payload_bytes[-2] ^= 0x01
            forged = "key/" + base64.urlsafe_b64encode(bytes(payload_bytes)).decode() + "." + signature
            check(not verify(public_key, forged), "an edited payload is refused")

        # The other direction: a key signed by Python, unpadded, must be VALID for keyward.
        python_key = Ed25519PrivateKey.generate()
        python_hex = python_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
        payload = {
            "v": 1, "kid": hashlib.sha256(bytes.fromhex(python_hex)).hexdigest()[:16], "serial": "KW-PY00-0000-0000-0001",
            "organization": {"id": "acme", "legalName": "ACME"}, "profile": "basic", "useType": "floating", "users": 3,
            "purchaseType": "sale", "suiteVersion": "2.1", "validFrom": "2026-01-01T00:00:00Z", "components": ["DOC"],
            "issuedAt": "2026-01-01T00:00:00Z", "fieldFromTheFuture": {"ignored": True},
        }
        encoded = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
        signed = "key/" + encoded
        signature = base64.urlsafe_b64encode(python_key.sign(signed.encode())).decode().rstrip("=")
        report = json.loads(keyward(binary, "key", "inspect", "--trust", python_hex, "--organization", "acme",
                                    "--at", "2027-01-01", "--json", signed + "." + signature))
        check(report["code"] == "VALID", "keyward accepts a key signed by pyca/cryptography")
        wrong = json.loads(keyward(binary, "key", "inspect", "--trust", public_hex, "--json", signed + "." + signature, expect=1))
        check(wrong["code"] == "UNKNOWN_SIGNING_KEY", "keyward refuses it without trusting Python's key")

    print(f"second-implementation: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1]))
