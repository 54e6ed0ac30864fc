#!/usr/bin/env python3
"""Fuzzing (issue 7, part 6): libFuzzer on the three parsers of KeywardDomain, from the `Fuzz/` package.

    python3 scripts/verify_fuzz.py [--quick] [--seconds N] [--workdir DIR] [--keep]

Targets (Fuzz/Sources/Fuzz*/): the access key parser (FuzzAccessKey: AccessKeyVerifier.verify, so AccessKey.split,
Base64URL, PayloadReader/JSONScanner and Timestamp), the feed envelope (FuzzFeedEnvelope: the SignedDocument JSON,
verifiedPayload(for: .feed), the FeedEnvelope and every access key in it) and the activation certificate
(FuzzActivationCertificate). Input that is not already signed is signed with a fixed test key first, so mutated
payloads get past the signature check to the parser behind it. Invariants (canonical base64url, PayloadReader and
JSONDecoder agreeing, values surviving a re-issue) abort like crashes. Tests/KeywardDomainTests/FuzzHarness.swift
holds all of this, shared with the replay test.

Full mode builds the fuzzers (`swift build -c release --package-path Fuzz -Xswiftc -sanitize=fuzzer,address`, in
Fuzz/.build) and runs each for --seconds (default 300) from its seed corpus (Fuzz/Corpus/<target>/) and past
crashes (Fuzz/Regressions/<target>/), with its dictionary (Fuzz/Dictionaries/<target>.dict). Any crash, leak,
timeout or out-of-memory fails the part, and its input is copied to Fuzz/Regressions/<target>/, where
FuzzCorpusTests replays it from then on. Quick mode (CI) builds nothing: it runs FuzzCorpusTests, which replays
every corpus and regression file through the same harness.

`run(binary, quick, workdir, seconds=None)` returns the table for `scripts/verify`; standalone it prints it and
exits 1 on any failure.
"""
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verifylib as v  # noqa: E402

FUZZ = os.path.join(v.ROOT, "Fuzz")
TARGETS = [
    ("access-key", "FuzzAccessKey"),
    ("feed-envelope", "FuzzFeedEnvelope"),
    ("activation-certificate", "FuzzActivationCertificate"),
]
BUILD = ["swift", "build", "-c", "release", "--package-path", "Fuzz", "-Xswiftc", "-sanitize=fuzzer,address"]
HEADERS = ["target", "seconds", "executions", "corpus size", "crashes"]
NAME = "Fuzzing (libFuzzer)"
# What libFuzzer names the inputs it saves: crashes and sanitizer reports, leaks, slow units, out-of-memory.
ARTIFACTS = ("crash-", "leak-", "timeout-", "oom-", "slow-unit-")


def files(folder, target):
    directory = os.path.join(FUZZ, folder, target)
    if not os.path.isdir(directory):
        return []
    return sorted(name for name in os.listdir(directory) if not name.startswith(".") and not name.endswith(".md"))


def environment():
    env = dict(os.environ)
    # The Swift runtime's backtracer would take the crash signal before libFuzzer (the targets also set this).
    env["SWIFT_BACKTRACE"] = "enable=no"
    env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
    return env


def fuzz_one(target, executable, seconds, workdir):
    """Runs one target for `seconds`; returns (row, failures, notes)."""
    corpus = os.path.join(workdir, "fuzz-corpus", target)
    artifacts = os.path.join(workdir, "fuzz-artifacts", target)
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(artifacts, exist_ok=True)
    command = [
        os.path.join(FUZZ, ".build", "release", executable),
        f"-max_total_time={seconds}",
        f"-dict={os.path.join(FUZZ, 'Dictionaries', target + '.dict')}",
        "-timeout=10",          # one input taking 10 s is a hang
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        f"-artifact_prefix={artifacts}/",
        corpus,                 # new units go to the first directory; the committed ones stay as they are
        os.path.join(FUZZ, "Corpus", target),
    ]
    regressions = os.path.join(FUZZ, "Regressions", target)
    if files("Regressions", target):
        command.append(regressions)
    log_path = os.path.join(workdir, f"fuzz-{target}.log")
    started = time.monotonic()
    with open(log_path, "w") as log:
        # A hard stop well past -max_total_time, for a fuzzer that hangs outside an input.
        try:
            code = subprocess.run(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, env=environment(),
                                  timeout=seconds + 300).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    elapsed = time.monotonic() - started
    with open(log_path, errors="replace") as log:
        output = log.read()

    def stat(name):
        match = re.search(rf"stat::{name}:\s+(\d+)", output)
        return int(match.group(1)) if match else None

    executions = stat("number_of_executed_units")
    if executions is None:  # no final stats (a crash ends the run before them): the last status line
        counts = re.findall(r"^#(\d+)\s", output, re.MULTILINE)
        executions = int(counts[-1]) if counts else 0
    per_second = stat("average_exec_per_sec") or (round(executions / elapsed) if elapsed else 0)
    corpus_sizes = re.findall(r"corp: (\d+)/", output)
    coverage = re.findall(r"cov: (\d+) ft: (\d+)", output)
    saved = [name for name in sorted(os.listdir(artifacts)) if name.startswith(ARTIFACTS)]

    failures, notes = [], []
    for name in saved:
        # Kept where the replay test finds it; rename it `<CODE>-<what>-<name>` once the parser is fixed.
        os.makedirs(regressions, exist_ok=True)
        shutil.copy(os.path.join(artifacts, name), os.path.join(regressions, name))
        failures.append(f"{target}: {name} saved to Fuzz/Regressions/{target}/{name}")
    reasons = re.findall(r"^(INVARIANT BROKEN.*|==\d+==ERROR: .*|SUMMARY: .*)$", output, re.MULTILINE)
    if reasons:
        notes.append(f"{target}: " + "; ".join(dict.fromkeys(reasons))[:1500])
    if code not in (0,) and not saved:
        failures.append(f"{target}: the fuzzer exited with {code} without saving an input; see the log's end:\n```\n"
                        + "\n".join(output.splitlines()[-30:]) + "\n```")
    if code != 0 or saved:
        kept = os.path.join(FUZZ, ".build", f"fuzz-{target}.log")
        shutil.copy(log_path, kept)
        notes.append(f"{target}: log kept in {os.path.relpath(kept, v.ROOT)}")
    notes.append(f"{target}: {per_second} executions/s"
                 + (f", coverage {coverage[-1][0]} edges / {coverage[-1][1]} features" if coverage else "")
                 + f", {len(files('Corpus', target))} seeds")
    row = [target, round(elapsed), executions, int(corpus_sizes[-1]) if corpus_sizes else len(os.listdir(corpus)), len(saved)]
    return row, failures, notes


def full(workdir, seconds):
    v.log("fuzz: building the fuzzers (" + " ".join(BUILD) + ")")
    started = time.monotonic()
    build = subprocess.run(BUILD, cwd=v.ROOT, capture_output=True, text=True)
    if build.returncode != 0:
        tail = "\n".join((build.stdout + build.stderr).splitlines()[-30:])
        return {"name": NAME, "headers": HEADERS, "rows": [], "notes": [],
                "failures": [f"building the fuzzers failed (exit {build.returncode}):\n```\n{tail}\n```"]}
    rows, failures = [], []
    notes = [f"Built with `{' '.join(BUILD)}` in {(time.monotonic() - started) / 60:.1f} min; each target ran "
             f"{seconds} s (-max_total_time) with its dictionary, -timeout=10, -rss_limit_mb=2048, AddressSanitizer."]
    for target, executable in TARGETS:
        v.log(f"fuzz: {executable} for {seconds} s")
        row, target_failures, target_notes = fuzz_one(target, executable, seconds, workdir)
        rows.append(row)
        failures += target_failures
        notes += target_notes
    return {"name": NAME, "headers": HEADERS, "rows": rows, "failures": failures, "notes": notes}


def quick(workdir):
    """Replays every corpus and regression file in the Swift test: no fuzzer build, no fuzzing."""
    command = ["swift", "test", "--filter", "FuzzCorpusTests"]
    v.log("fuzz: " + " ".join(command))
    started = time.monotonic()
    result = subprocess.run(command, cwd=v.ROOT, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    failing = set(re.findall(r"Fuzz/(?:Corpus|Regressions)/([a-z-]+)/", "\n".join(
        line for line in output.splitlines() if "recorded an issue" in line or "failed" in line)))
    rows, failures = [], []
    for target, _ in TARGETS:
        seeds, regressions = files("Corpus", target), files("Regressions", target)
        rows.append([target, "replay", len(seeds) + len(regressions), len(seeds),
                     "see failures" if target in failing else 0])
    summary = next((line.strip() for line in reversed(output.splitlines()) if "Test run with" in line), None)
    if result.returncode != 0 or summary is None or "passed" not in summary:
        with open(os.path.join(workdir, "fuzz-replay.log"), "w") as handle:
            handle.write(output)
        failures.append(f"`{' '.join(command)}` exit {result.returncode}:\n```\n" + "\n".join(output.splitlines()[-40:]) + "\n```")
    notes = [f"Quick mode builds no fuzzer: FuzzCorpusTests replayed every file of Fuzz/Corpus/ and Fuzz/Regressions/ "
             f"through the fuzz harness ({elapsed:.0f} s, {summary or 'no summary'}). 'executions' counts replayed files."]
    return {"name": NAME, "headers": HEADERS, "rows": rows, "failures": failures, "notes": notes}


def run(binary, quick_mode, workdir, seconds=None):
    """`binary` (the keyward executable) is unused: the fuzzers link KeywardDomain themselves."""
    return quick(workdir) if quick_mode else full(workdir, seconds or 300)


def main():
    def add_arguments(parser):
        parser.add_argument("--seconds", type=int, help="how long each target runs in full mode (default 300)")
    return v.standalone(run, __doc__.split("\n\n")[0], "keyward-fuzz-", add_arguments, lambda a: {"seconds": a.seconds})


if __name__ == "__main__":
    sys.exit(main())
