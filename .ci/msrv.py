#!/usr/bin/env python3
"""Fails when a locked dependency that the published crates build declares a
rust-version above theirs.

Reads `cargo metadata --locked --format-version 1` (for the host platform, so
Windows-only crates are left out) and walks the resolved graph from each
published crate over its normal and build dependencies (proc macros and build
scripts included: they are compiled too). Dev-dependencies are not followed:
users never build them.

    python3 .ci/msrv.py                # the workspace's declared rust-version
    python3 .ci/msrv.py --msrv 1.80    # pretend another one (shows the check failing)
"""
import argparse
import json
import subprocess
import sys

PUBLISHED = ("tpp-rpc", "tpp-rpc-macros", "tpp-rpc-cli")


def version_tuple(text):
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--msrv", help="check against this version instead of the declared one")
    args = parser.parse_args()

    host = next(
        line.split(": ", 1)[1]
        for line in subprocess.run(
            ["rustc", "-vV"], check=True, capture_output=True, text=True
        ).stdout.splitlines()
        if line.startswith("host: ")
    )
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--locked", "--format-version", "1", "--filter-platform", host],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    roots = [p for p in meta["packages"] if p["name"] in PUBLISHED and p["source"] is None]
    missing = set(PUBLISHED) - {p["name"] for p in roots}
    if missing:
        sys.exit(f"msrv: published crates not in the workspace: {sorted(missing)}")

    failures = []
    for root in roots:
        declared = args.msrv or root.get("rust_version")
        if not declared:
            failures.append(f"{root['name']} declares no rust-version")
            continue
        limit = version_tuple(declared)
        seen, stack, path = set(), [root["id"]], {root["id"]: None}
        while stack:
            node = nodes[stack.pop()]
            for dep in node["deps"]:
                kinds = {k["kind"] for k in dep["dep_kinds"]}
                if not kinds & {None, "build"} or dep["pkg"] in seen:
                    continue
                seen.add(dep["pkg"])
                path[dep["pkg"]] = node["id"]
                stack.append(dep["pkg"])
        for pkg_id in sorted(seen, key=lambda i: packages[i]["name"]):
            pkg = packages[pkg_id]
            needs = pkg.get("rust_version")
            if needs and version_tuple(needs) > limit:
                chain, at = [], pkg_id
                while at is not None:
                    chain.append(packages[at]["name"])
                    at = path[at]
                failures.append(
                    f"{root['name']} (rust-version {declared}) builds {pkg['name']} "
                    f"{pkg['version']}, which needs {needs}: {' <- '.join(chain)}"
                )
        print(f"msrv: {root['name']}: {len(seen)} dependencies built, rust-version {declared}")

    if failures:
        sys.stdout.flush()
        print("\n".join(f"msrv: FAIL {f}" for f in failures), file=sys.stderr)
        sys.exit(1)
    print("msrv: every locked dependency the published crates build fits their rust-version")


if __name__ == "__main__":
    main()
