"""Reference for the real-world CIF corpus: tests/fixtures/cif_corpus/expected.json.

For every `tests/fixtures/cif_corpus/*.cif` (sources and licences in SOURCES.md there) this records what
pymatgen's `CifParser(path).parse_structures(primitive=False)` makes of it, with the helpers of
`crystals.py` (imported): per file {file, n_blocks, n_structures, warnings, error, blocks: [{block,
hm_symbol, n_symops_in_file, n_atom_site_rows, warnings, error, structure}]}, where `structure` is
`structure_summary` (formula, n_sites, is_ordered, abc, angles, volume, sorted sites with species,
elements and wrapped fractional coordinates) and each block is parsed alone with
`CifParser.from_str(str(block))`.

Where pymatgen refuses a file that can be read (a `?` number of attached hydrogens), or reads one without the symmetry
it states (an H-M symbol it does not recognise, so it falls back to P 1), `FIXUPS` names a minimal text
edit; the entry then also has `fixup: {edit, entry}` with pymatgen's reading of the edited text, which
the Rust test compares against instead. The edits change no coordinate, cell parameter or element.

Deterministic. Run with the crystal reference environment:
    ~/.cache/chemgnn-ref/bin/python tests/reference/cif_corpus.py
"""
import json
import pathlib
import re
import sys
import tempfile

import pymatgen.core

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from crystals import cif_entry  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests/fixtures/cif_corpus"


def attached_hydrogens_unknown_to_zero(text):
    """`?` in the _atom_site_attached_hydrogens column replaced by 0 (pymatgen's CifParser cannot convert
    it and refuses the file). Enough for the corpus files: one loop row per line."""
    out, columns, rows = [], [], False
    for line in text.splitlines(keepends=True):
        fields = line.split()
        if fields[:1] == ["loop_"]:
            columns, rows = [], False
        elif fields and fields[0].startswith("_"):
            if rows:
                columns, rows = [], False
            columns.append(fields[0].lower())
        elif fields and columns and not fields[0].startswith("#"):
            rows = True
            if "_atom_site_attached_hydrogens" in columns and len(fields) == len(columns):
                k = columns.index("_atom_site_attached_hydrogens")
                if fields[k] == "?":
                    fields[k] = "0"
                    line = " ".join(fields) + "\n"
        out.append(line)
    return "".join(out)


def symbol(old, new):
    def edit(text):
        assert old in text, old
        return text.replace(old, new)
    return edit


# file: (description of the edit, edit)
FIXUPS = {
    "codtools_1000002-occupancy-questionmarks.cif": (
        "_atom_site_attached_hydrogens '?' -> 0", attached_hydrogens_unknown_to_zero),
    "codtools_1000002-test-hall.cif": ("_atom_site_attached_hydrogens '?' -> 0", attached_hydrogens_unknown_to_zero),
    "codtools_1000002-test-hm.cif": ("_atom_site_attached_hydrogens '?' -> 0", attached_hydrogens_unknown_to_zero),
    "codtools_2000380-example-of-R3-H.cif": (
        "_symmetry_space_group_name_H-M 'R 3 :H' -> 'R 3' (pymatgen's name of the hexagonal setting)",
        symbol("'R 3 :H'", "'R 3'")),
}


def sorted_dicts(message):
    """pymatgen prints some element dicts in set order ("ratios={'O': 2.0, 'H': ...}"): sort them so
    reruns give the same text."""
    def ordered(m):
        items = sorted(x.strip() for x in m[2].split(","))
        return m[1] + "{" + ", ".join(items) + "}"
    return re.sub(r"(\w+=)\{([^{}]*)\}", ordered, message)


def entry(path):
    """crystals.py's manifest entry, or only the error when CifParser refuses the text outright."""
    try:
        e = cif_entry(path)
        for part in [e] + e["blocks"]:
            part["warnings"] = [sorted_dicts(w) for w in part["warnings"]]
        return e
    except Exception as exc:  # CifParser's constructor raised: the whole file is refused
        return {"file": path.name, "n_blocks": None, "n_structures": 0, "warnings": [],
                "error": f"{type(exc).__name__}: {exc}", "blocks": []}


def main():
    files = sorted(CORPUS.glob("*.cif"))
    out = {
        "generator": "tests/reference/cif_corpus.py",
        "versions": {"pymatgen": pymatgen.core.__version__},
        "parser": "CifParser(path).parse_structures(primitive=False); per block: CifParser.from_str(str(block))",
        "files": {},
    }
    for path in files:
        e = entry(path)
        if path.name in FIXUPS:
            description, edit = FIXUPS[path.name]
            with tempfile.TemporaryDirectory() as tmp:
                edited = pathlib.Path(tmp) / path.name
                edited.write_text(edit(path.read_text()))
                e["fixup"] = {"edit": description, "entry": entry(edited)}
        out["files"][path.name] = e
        shown = e.get("fixup", {}).get("entry", e)
        print(f"{path.name}: {shown['n_structures']} structure(s)"
              f"{' (after fixup)' if 'fixup' in e else ''}, error {shown['error']}")
    (CORPUS / "expected.json").write_text(dumps(out))


def dumps(value):
    """JSON with one line per site and numbers cut to 10 decimals: small enough to commit and review."""
    sites = []

    def placeholder(v):
        if isinstance(v, dict) and "frac" in v:
            sites.append(json.dumps(v, separators=(",", ":")))
            return f"@site{len(sites) - 1}@"
        if isinstance(v, dict):
            return {k: placeholder(x) for k, x in v.items()}
        if isinstance(v, list):
            return [placeholder(x) for x in v]
        return v

    text = json.dumps(placeholder(value), indent=1) + "\n"
    text = re.sub(r'"@site(\d+)@"', lambda m: sites[int(m[1])], text)
    return re.sub(r"(-?\d+\.\d{10})\d+", r"\1", text)


if __name__ == "__main__":
    main()
