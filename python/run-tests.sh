#!/usr/bin/env bash
# Builds the chemgnn wheel (maturin, abi3) and runs its pytest suite in a fresh virtual environment
# with numpy, ase, safetensors and pytest from the package index. Needs the `chemgnn` binary to
# import the test weights and train a small model ($CHEMGNN, default: built here with cargo). CI
# (.ci/run) runs it after `cargo test --workspace`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${VENV:-$here/target/venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check 'maturin>=1.5,<2' numpy ase safetensors pytest openmm
(cd "$here" && "$venv/bin/maturin" build --release -o "$here/target/wheels")
"$venv/bin/pip" install -q --force-reinstall --no-deps "$here"/target/wheels/chemgnn-*.whl
if [ -z "${CHEMGNN:-}" ]; then
    (cd "$here/.." && cargo build -q --bin chemgnn)
    export CHEMGNN=$here/../target/debug/chemgnn
fi
# From the tests' directory, so that the installed package (not the source tree) is imported.
cd "$here/tests" && "$venv/bin/pytest" -q -s -W ignore::DeprecationWarning .
