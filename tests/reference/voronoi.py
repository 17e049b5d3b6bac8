"""Fixture for chem-crystal's periodic graphs: tests/fixtures/voronoi_graphs.json.

For a handful of crystals (one-atom simple cubic, bcc and fcc cells, NaCl, rutile, wurtzite, a seeded
random triclinic cell, perovskite and a 2×2×2 rutile supercell) this script records

* the Voronoi edges as kgcnn builds them (`add_voronoi_bonds` in kgcnn/crystal/graph_builder.py,
  v3.1.0): scipy's `Voronoi` (Qhull, default options) on the 3×3×3 block of images of the cell with
  the atoms wrapped into [0, 1), every ridge with one of its two points in the central image turned
  into the edge (other point → central point), and the ridge area taken as half the surface of
  `ConvexHull(ridge vertices, "QJ")` (the two sides of a flat hull). Edges are written as
  `[target, source, s0, s1, s2, area]`, sorted, keeping area > 1e-6 Å² (`MIN_AREA`);
* per-target neighbour counts of kNN with ties (kgcnn's `add_knn_bonds` with a tolerance: the k
  nearest plus every further image with distance ≤ d_k + tolerance; self-loops removed, an atom's
  own images count) for k = 12 and 24 with tolerance 1e-9, by brute force over images;
* per-target neighbour counts of radius graphs (distance < cutoff, strict) for 3 and 5 Å.

The convention is chem-graph's: an edge j → i with source image shift S (kgcnn's
`cell_translation`); `positions` are the wrapped fractional coordinates times the lattice, so the
shifts refer to exactly these positions.

As a self-check the volumes Σ area·d/6 of the central cells must add up to the cell volume (the 3×3×3
block is then large enough for every cell).

Run with the reference environment (numpy, scipy):
    python tests/reference/voronoi.py            # writes the fixture
    python tests/reference/voronoi.py --timing   # times scipy on a 192-atom cell, writes /tmp/voronoi_timing.json
"""
import itertools
import json
import pathlib
import sys
import time

import numpy as np
import scipy
from scipy.spatial import ConvexHull, Voronoi

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/fixtures/voronoi_graphs.json"
MIN_AREA = 1e-6
KNN = [(12, 1e-9), (24, 1e-9)]
RADII = [3.0, 5.0]


def hexagonal(a, c):
    return np.array([[a, 0.0, 0.0], [-a / 2, a * np.sqrt(3) / 2, 0.0], [0.0, 0.0, c]])


def from_parameters(lengths, angles):
    """Lattice rows in the standard orientation (a along x, b in the xy-plane)."""
    a, b, c = lengths
    ca, cb, cg = np.cos(np.radians(angles))
    sg = np.sin(np.radians(angles[2]))
    cy = (ca - cb * cg) / sg
    return np.array([[a, 0, 0], [b * cg, b * sg, 0], [c * cb, c * cy, c * np.sqrt(1 - cb**2 - cy**2)]])


def rutile():
    a, c, u = 4.594, 2.959, 0.305
    frac = [[0, 0, 0], [0.5, 0.5, 0.5], [u, u, 0], [1 - u, 1 - u, 0], [0.5 + u, 0.5 - u, 0.5], [0.5 - u, 0.5 + u, 0.5]]
    return np.diag([a, a, c]), np.array(frac), [22, 22, 8, 8, 8, 8]


def supercell(lattice, frac, numbers, reps):
    cells = list(itertools.product(*[range(r) for r in reps]))
    new_frac = np.array([(f + np.array(t)) / np.array(reps) for t in cells for f in frac])
    return lattice * np.array(reps)[:, None], new_frac, [z for _ in cells for z in numbers]


def random_triclinic(seed=7, n=5, min_distance=1.2):
    rng = np.random.default_rng(seed)
    while True:
        lattice = from_parameters(rng.uniform(3.5, 5.5, 3), rng.uniform(70, 110, 3))
        frac = rng.random((n, 3))
        if min_image_distance(lattice, frac) > min_distance:
            return lattice, frac, list(rng.integers(1, 30, n).tolist())


def min_image_distance(lattice, frac):
    best = np.inf
    shifts = np.array(list(itertools.product(range(-2, 3), repeat=3)))
    for i, j in itertools.product(range(len(frac)), repeat=2):
        d = np.linalg.norm((frac[j] - frac[i] + shifts) @ lattice, axis=1)
        if i == j:
            d = d[np.any(shifts != 0, axis=1)]
        best = min(best, d.min())
    return best


def crystals():
    yield "Po_sc", np.eye(3) * 3.35, np.zeros((1, 3)), [84]
    yield "Fe_bcc_primitive", 2.87 / 2 * np.array([[-1.0, 1, 1], [1, -1, 1], [1, 1, -1]]), np.zeros((1, 3)), [26]
    yield "Cu_fcc_primitive", 3.61 / 2 * np.array([[0.0, 1, 1], [1, 0, 1], [1, 1, 0]]), np.zeros((1, 3)), [29]
    fcc = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    yield "NaCl_conventional", np.eye(3) * 5.64, np.vstack([fcc, fcc + 0.5]), [11] * 4 + [17] * 4
    yield ("TiO2_rutile", *rutile())
    u = 0.382
    frac = [[1 / 3, 2 / 3, 0], [2 / 3, 1 / 3, 0.5], [1 / 3, 2 / 3, u], [2 / 3, 1 / 3, 0.5 + u]]
    yield "ZnO_wurtzite", hexagonal(3.25, 5.207), np.array(frac), [30, 30, 8, 8]
    yield ("random_triclinic", *random_triclinic())
    frac = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    yield "SrTiO3_perovskite", np.eye(3) * 3.905, np.array(frac), [38, 22, 8, 8, 8]
    yield ("TiO2_rutile_222", *supercell(*rutile(), (2, 2, 2)))


def ridge_area(vertices):
    """Half the surface of the joggled convex hull of a flat polygon (kgcnn's recipe)."""
    points = np.asarray(vertices)
    while len(points) < 4:  # Qhull needs four points in 3D
        points = np.vstack([points, points[:1]])
    return ConvexHull(points, qhull_options="QJ").area / 2


def voronoi_edges(lattice, frac):
    """kgcnn's Voronoi edges: (target, source, shift, area, distance), every ridge touching the centre."""
    n = len(frac)
    blocks = np.array(list(itertools.product(range(3), repeat=3)))  # image index 0..2 per axis
    points = ((frac[None, :, :] + blocks[:, None, :] - 1) @ lattice).reshape(-1, 3)
    vor = Voronoi(points)
    centre = 13  # block (1, 1, 1)
    edges = []
    for (p, q), ridge in zip(vor.ridge_points, vor.ridge_vertices):
        for s, t in ((p, q), (q, p)):
            if t // n != centre:
                continue
            if -1 in ridge:
                raise RuntimeError("unbounded ridge touches the central cell")
            shift = [int(x) for x in blocks[s // n] - 1]
            area = ridge_area(vor.vertices[ridge])
            edges.append((int(t % n), int(s % n), shift, float(area), float(np.linalg.norm(points[s] - points[t]))))
    return edges


def image_distances(lattice, frac, i, radius):
    """Distances from atom i to every image (self excluded) within `radius`, with room to spare."""
    spacing = abs(np.linalg.det(lattice)) / np.linalg.norm(np.cross(np.roll(lattice, -1, 0), np.roll(lattice, -2, 0)), axis=1)
    reach = np.ceil(radius / spacing).astype(int) + 1
    shifts = np.array(list(itertools.product(*[range(-r, r + 1) for r in reach])))
    pos = frac @ lattice
    d = np.linalg.norm(pos[None, :, :] + (shifts @ lattice)[:, None, :] - pos[i], axis=2).ravel()
    return np.sort(d[d > 0])


def knn_counts(lattice, frac, k, tol):
    counts = []
    for i in range(len(frac)):
        radius = 4.0
        while True:
            d = image_distances(lattice, frac, i, radius)
            d = d[d < radius]
            if len(d) >= k and d[k - 1] + tol < radius:
                break
            radius *= 2
        counts.append(int(np.sum(d <= d[k - 1] + tol)))
    return counts


def radius_counts(lattice, frac, cutoff):
    counts = []
    for i in range(len(frac)):
        d = image_distances(lattice, frac, i, cutoff)
        if np.any(np.abs(d - cutoff) < 1e-6):
            raise RuntimeError(f"a distance lies on the cutoff {cutoff}")
        counts.append(int(np.sum(d < cutoff)))
    return counts


def record(name, lattice, frac, numbers):
    frac = np.asarray(frac, dtype=float) % 1.0 % 1.0
    edges = voronoi_edges(lattice, frac)
    volume = abs(np.linalg.det(lattice))
    total = sum(area * d / 6 for _, _, _, area, d in edges)
    if abs(total - volume) > 1e-6 * volume:
        raise RuntimeError(f"{name}: Voronoi volumes add up to {total}, cell volume {volume}")
    kept = sorted((t, s, sh, a) for t, s, sh, a, _ in edges if a > MIN_AREA)
    return {
        "name": name,
        "lattice": lattice.tolist(),
        "frac": frac.tolist(),
        "positions": (frac @ lattice).tolist(),
        "numbers": [int(z) for z in numbers],
        "voronoi": [[t, s, *sh, a] for t, s, sh, a in kept],
        "voronoi_all_ridges": len(edges),
        "knn": [{"k": k, "tolerance": tol, "counts": knn_counts(lattice, frac, k, tol)} for k, tol in KNN],
        "radius": [{"cutoff": c, "counts": radius_counts(lattice, frac, c)} for c in RADII],
    }


def timing():
    """scipy on a 192-atom cell (4×4×2 rutile, atoms displaced by up to 0.1 Å, seed 3)."""
    lattice, frac, numbers = supercell(*rutile(), (4, 4, 2))
    rng = np.random.default_rng(3)
    positions = frac @ lattice + rng.uniform(-0.1, 0.1, (len(frac), 3))
    frac = (positions @ np.linalg.inv(lattice)) % 1.0
    start = time.perf_counter()
    blocks = np.array(list(itertools.product(range(3), repeat=3)))
    Voronoi(((frac[None] + blocks[:, None] - 1) @ lattice).reshape(-1, 3))
    qhull = time.perf_counter() - start
    start = time.perf_counter()
    edges = voronoi_edges(lattice, frac)
    full = time.perf_counter() - start
    print(f"{len(frac)} atoms: scipy Voronoi (Qhull only) {qhull * 1e3:.1f} ms, with ridge areas {full * 1e3:.1f} ms, "
          f"{len(edges)} edges")
    out = {"lattice": lattice.tolist(), "positions": (frac @ lattice).tolist(), "numbers": numbers,
           "edges": len([e for e in edges if e[3] > MIN_AREA])}
    pathlib.Path("/tmp/voronoi_timing.json").write_text(json.dumps(out))


def main():
    if "--timing" in sys.argv:
        timing()
        return
    data = {
        "generator": "tests/reference/voronoi.py",
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "min_area": MIN_AREA,
        "crystals": [record(*c) for c in crystals()],
    }
    OUT.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    for c in data["crystals"]:
        print(f"{c['name']}: {len(c['numbers'])} atoms, {len(c['voronoi'])} Voronoi edges "
              f"({c['voronoi_all_ridges']} ridges), knn {[sum(k['counts']) for k in c['knn']]}, "
              f"radius {[sum(r['counts']) for r in c['radius']]}")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
