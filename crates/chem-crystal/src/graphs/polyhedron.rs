//! A convex polyhedron around the origin, cut down by half-spaces: the Voronoi cell of one atom.
//!
//! # Representation
//! The polyhedron is a list of faces; each face is a convex polygon (its vertices in order around
//! the face) with a label saying which half-space made it (`None` for the faces of the starting
//! cube). Vertices are duplicated between the faces that share them, but always as bit-identical
//! copies: the intersection of an edge with a cutting plane is computed from the edge's inside end
//! towards its outside end, so both faces that share the edge get the same point.
//!
//! # Tolerances
//! With R the current distance of the farthest vertex from the origin, a vertex whose signed
//! distance from a cutting plane is within `PLANE_TOLERANCE · R` counts as lying on the plane: it is
//! kept, and a plane that has no vertex beyond that distance cuts nothing and makes no face. So a
//! plane that only touches the polyhedron at a vertex or along an edge (the corner neighbours of a
//! simple cubic lattice, the second neighbours in fcc) never produces a face.

use nalgebra::Vector3;

/// A vertex whose distance from a cutting plane is at most `PLANE_TOLERANCE · R` (R: the distance of
/// the polyhedron's farthest vertex from its atom) lies on the plane; a plane with no vertex farther
/// out cuts nothing.
pub const PLANE_TOLERANCE: f64 = 1e-10;

type V3 = Vector3<f64>;

/// One face: a convex polygon and the label of the half-space whose boundary it lies on.
#[derive(Debug, Clone)]
pub(crate) struct Face {
    /// Index of the cutting half-space (see [`Polyhedron::clip`]); `None` for the starting cube.
    pub(crate) label: Option<u32>,
    /// Vertices in order around the face.
    pub(crate) vertices: Vec<V3>,
}

impl Face {
    /// Area of the polygon (the length of half the sum of the fan's cross products).
    pub(crate) fn area(&self) -> f64 {
        let v = &self.vertices;
        if v.len() < 3 {
            return 0.0;
        }
        let mut sum = V3::zeros();
        for k in 1..v.len() - 1 {
            sum += (v[k] - v[0]).cross(&(v[k + 1] - v[0]));
        }
        0.5 * sum.norm()
    }

    /// Volume of the pyramid with this face as base and the origin as apex.
    fn pyramid_volume(&self) -> f64 {
        let v = &self.vertices;
        let mut sum = 0.0;
        for k in 1..v.len().saturating_sub(1) {
            sum += v[0].dot(&v[k].cross(&v[k + 1]));
        }
        sum.abs() / 6.0
    }
}

/// A convex polyhedron containing the origin.
#[derive(Debug, Clone)]
pub(crate) struct Polyhedron {
    faces: Vec<Face>,
    radius: f64,
}

impl Polyhedron {
    /// The cube `[-h, h]³`.
    pub(crate) fn cube(h: f64) -> Self {
        let corner = |x: f64, y: f64, z: f64| V3::new(x * h, y * h, z * h);
        let mut faces = Vec::with_capacity(6);
        for axis in 0..3 {
            for sign in [-1.0, 1.0] {
                // The four corners with coordinate `axis` = sign·h, in order around the face.
                let square = [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)];
                let vertices = square
                    .iter()
                    .map(|&(u, w)| {
                        let mut c = [0.0; 3];
                        c[axis] = sign;
                        c[(axis + 1) % 3] = u;
                        c[(axis + 2) % 3] = w;
                        corner(c[0], c[1], c[2])
                    })
                    .collect();
                faces.push(Face { label: None, vertices });
            }
        }
        Polyhedron { faces, radius: h * 3f64.sqrt() }
    }

    /// The faces.
    pub(crate) fn faces(&self) -> &[Face] {
        &self.faces
    }

    /// Distance of the farthest vertex from the origin.
    pub(crate) fn radius(&self) -> f64 {
        self.radius
    }

    /// Volume (the sum of the pyramids from the origin over the faces).
    pub(crate) fn volume(&self) -> f64 {
        self.faces.iter().map(Face::pyramid_volume).sum()
    }

    /// Keeps the part `{x : x · normal ≤ offset}` (`normal` of unit length); the new face, if any,
    /// gets `label`. Returns whether the plane cut anything off (see the module docs for the
    /// tolerance).
    pub(crate) fn clip(&mut self, normal: &V3, offset: f64, label: u32) -> bool {
        let eps = PLANE_TOLERANCE * self.radius;
        let side = |p: &V3| p.dot(normal) - offset;
        if !self.faces.iter().any(|f| f.vertices.iter().any(|p| side(p) > eps)) {
            return false;
        }
        let mut section: Vec<V3> = Vec::new();
        let mut faces = Vec::with_capacity(self.faces.len() + 1);
        for face in self.faces.drain(..) {
            let s: Vec<f64> = face.vertices.iter().map(side).collect();
            let n = s.len();
            let mut kept = Vec::with_capacity(n + 1);
            for k in 0..n {
                let (p, sp) = (&face.vertices[k], s[k]);
                let (q, sq) = (&face.vertices[(k + 1) % n], s[(k + 1) % n]);
                if sp <= eps {
                    kept.push(*p);
                    if sp >= -eps {
                        section.push(*p);
                    }
                }
                // An edge from strictly inside to strictly outside (or back) crosses the plane.
                let crossing = if sp < -eps && sq > eps {
                    Some(intersection(p, sp, q, sq))
                } else if sq < -eps && sp > eps {
                    Some(intersection(q, sq, p, sp))
                } else {
                    None
                };
                if let Some(x) = crossing {
                    kept.push(x);
                    section.push(x);
                }
            }
            // A face without a vertex strictly inside lies (numerically) in the plane or beyond it.
            if s.iter().any(|&x| x < -eps) && kept.len() >= 3 {
                faces.push(Face { label: face.label, vertices: kept });
            }
        }
        let section = polygon(section, normal, eps);
        if section.len() >= 3 {
            faces.push(Face { label: Some(label), vertices: section });
        }
        self.faces = faces;
        self.radius = self.faces.iter().flat_map(|f| &f.vertices).map(|p| p.norm()).fold(0.0, f64::max);
        true
    }
}

/// The point where the edge from `inside` (side `si < 0`) to `outside` (side `so > 0`) meets the
/// plane, always computed from the inside end so that both faces sharing the edge agree exactly.
fn intersection(inside: &V3, si: f64, outside: &V3, so: f64) -> V3 {
    let t = si / (si - so);
    inside + (outside - inside) * t
}

/// The distinct points of `points` (closer than `eps` counts as the same) ordered by angle around
/// their centroid in the plane with normal `normal`.
fn polygon(points: Vec<V3>, normal: &V3, eps: f64) -> Vec<V3> {
    let mut distinct: Vec<V3> = Vec::with_capacity(points.len());
    for p in points {
        if !distinct.iter().any(|q| (p - q).amax() <= eps) {
            distinct.push(p);
        }
    }
    if distinct.len() < 3 {
        return distinct;
    }
    let centre = distinct.iter().sum::<V3>() / distinct.len() as f64;
    let Some(u) = distinct.iter().map(|p| p - centre).max_by(|a, b| a.norm_squared().total_cmp(&b.norm_squared()))
    else {
        return Vec::new();
    };
    let u = u.normalize();
    let w = normal.cross(&u);
    let mut keyed: Vec<(f64, V3)> = distinct
        .into_iter()
        .map(|p| {
            let d = p - centre;
            (d.dot(&w).atan2(d.dot(&u)), p)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    keyed.into_iter().map(|(_, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn cube_measures() {
        let p = Polyhedron::cube(1.5);
        assert_eq!(p.faces().len(), 6);
        assert!(p.faces().iter().all(|f| close(f.area(), 9.0)));
        assert!(close(p.volume(), 27.0));
        assert!(close(p.radius(), 1.5 * 3f64.sqrt()));
    }

    #[test]
    fn cutting_a_corner_and_touching_planes() {
        let mut p = Polyhedron::cube(1.0);
        // A plane through three corners' neighbours cuts off the corner (1, 1, 1): a tetrahedron of
        // volume 1/6 · 1³ and a new equilateral triangle of side √2.
        let n = V3::new(1.0, 1.0, 1.0).normalize();
        assert!(p.clip(&n, 2.0 / 3f64.sqrt(), 7));
        assert!(close(p.volume(), 8.0 - 1.0 / 6.0));
        let new = p.faces().iter().find(|f| f.label == Some(7)).unwrap();
        assert_eq!(new.vertices.len(), 3);
        assert!(close(new.area(), 3f64.sqrt() / 4.0 * 2.0));
        assert_eq!(p.faces().len(), 7);
        // A plane touching along an edge or at a vertex cuts nothing.
        let touch_edge = V3::new(1.0, 1.0, 0.0).normalize();
        assert!(!p.clip(&touch_edge, 2f64.sqrt(), 8));
        let touch_vertex = V3::new(1.0, -1.0, 1.0).normalize();
        assert!(!p.clip(&touch_vertex, 3f64.sqrt(), 9));
        // A plane through the face centres' level halves the cube.
        assert!(p.clip(&V3::new(0.0, 0.0, 1.0), 0.0, 10));
        let top = p.faces().iter().find(|f| f.label == Some(10)).unwrap();
        assert!(close(top.area(), 4.0));
        assert!(close(p.volume(), 4.0));
        // Every remaining face of the old top was cut away.
        assert!(p.faces().iter().all(|f| f.label != Some(7)));
    }

    #[test]
    fn coplanar_plane_replaces_the_face() {
        let mut p = Polyhedron::cube(1.0);
        // The plane z = 1 coincides with the top face: it cuts nothing.
        assert!(!p.clip(&V3::new(0.0, 0.0, 1.0), 1.0, 3));
        // z = 0.5 takes the top off; the new face has the cube's cross-section.
        assert!(p.clip(&V3::new(0.0, 0.0, 1.0), 0.5, 4));
        assert_eq!(p.faces().len(), 6);
        assert!(close(p.volume(), 6.0));
    }
}
