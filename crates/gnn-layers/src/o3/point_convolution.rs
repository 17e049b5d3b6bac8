//! The point convolution of e3nn's models (gate_points, L1Net, NequIP, SevenNet) and the edge
//! embedding it reads:
//!
//! 1. **edges** ([`EdgeEmbedding`]): for each edge j → i with vector `r_ij`, the spherical
//!    harmonics `Y(r̂_ij)` (component normalisation) as attributes, and `number_of_basis` functions
//!    of `|r_ij|` (`soft_one_hot_linspace` on `[0, r_max]`, optionally scaled) as the radial input;
//!    e3nn's `smooth_cutoff(|r_ij| / r_max)` multiplies one of the two ([`Envelope`]);
//! 2. **convolution** ([`PointConvolution`]): a radial MLP (`FullyConnectedNet`, SiLU) maps the
//!    radial input to per-edge weights of a channel-wise (`uvu`) tensor product
//!    `TP(x_j, Y(r̂_ij), R(|r_ij|))`, summed at the receiver and divided by a neighbour
//!    normalisation (a number: e3nn's `√num_neighbors`, SevenNet's `avg_num_neigh`), then mixed into
//!    the output irreps ([`PointOutput`]: an `o3::Linear`, or a fully connected tensor product with
//!    node attributes as e3nn's gate_points).
//!
//! Self-connections and whatever runs before the convolution (gate_points' `lin1`, NequIP's
//! `linear_1`) are the model's: they differ between models.

use candle_core::{CpuStorage, CustomOp3, Device, Error, Layout, Result, Shape, Tensor, Var, D};
use candle_nn::VarBuilder;

use super::{
    smooth_cutoff, soft_one_hot_linspace, spherical_harmonics, FullyConnectedNet, FullyConnectedTensorProduct, Irreps,
    Linear, LinearConfig, SoftOneHotBasis, SphNormalization, TensorProduct, TensorProductConfig,
};
use crate::nn::Activation;
use crate::ops::SegmentIndex;

/// Where e3nn's smooth cutoff multiplies the edge embedding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Envelope {
    /// The spherical harmonics (gate_points: `edge_attr = smooth_cutoff · Y`).
    Harmonics,
    /// The radial basis (L1Net, NequIP: `basis · cutoff`).
    Basis,
}

/// How [`EdgeEmbedding::new`] embeds the edges (module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeEmbeddingConfig {
    /// Irreps of the harmonics, e.g. `Irreps::spherical_harmonics(2, Parity::Odd)`.
    pub irreps_sh: Irreps,
    /// The cutoff radius `r_max`.
    pub max_radius: f64,
    /// Functions of the radial basis.
    pub number_of_basis: usize,
    /// Their kind.
    pub basis: SoftOneHotBasis,
    /// e3nn's `cutoff` argument of `soft_one_hot_linspace`.
    pub basis_cutoff: bool,
    /// Factor on the basis (gate_points: `√number_of_basis`; 1 for none).
    pub basis_scale: f64,
    /// What the smooth cutoff multiplies.
    pub envelope: Envelope,
}

/// The per-edge inputs every convolution of a network shares.
#[derive(Clone, Debug)]
pub struct EdgeEmbedding {
    /// Sending node of each edge.
    pub source: SegmentIndex,
    /// Receiving node of each edge.
    pub target: SegmentIndex,
    /// Attributes, `[edges, irreps_sh.dim()]`: the harmonics (times the cutoff with
    /// [`Envelope::Harmonics`]).
    pub attributes: Tensor,
    /// Radial input, `[edges, number_of_basis]`: the basis (times the cutoff with
    /// [`Envelope::Basis`]).
    pub radial: Tensor,
}

impl EdgeEmbedding {
    /// Embeds the edges `source → target` with vectors `vectors` (`[edges, 3]`,
    /// `r_ij = pos[source] − pos[target]` plus any lattice shift); differentiable in `vectors`.
    pub fn new(
        vectors: &Tensor,
        source: &SegmentIndex,
        target: &SegmentIndex,
        config: &EdgeEmbeddingConfig,
    ) -> Result<Self> {
        let c = config;
        let harmonics = spherical_harmonics(&c.irreps_sh, vectors, true, SphNormalization::Component)?;
        let length = vectors.sqr()?.sum(D::Minus1)?.sqrt()?;
        let envelope = smooth_cutoff(&length.affine(1.0 / c.max_radius, 0.0)?)?.unsqueeze(1)?;
        let basis = soft_one_hot_linspace(&length, 0.0, c.max_radius, c.number_of_basis, c.basis, c.basis_cutoff)?;
        let basis = if c.basis_scale == 1.0 { basis } else { basis.affine(c.basis_scale, 0.0)? };
        let (attributes, radial) = match c.envelope {
            Envelope::Harmonics => (harmonics.broadcast_mul(&envelope)?, basis),
            Envelope::Basis => (harmonics, basis.broadcast_mul(&envelope)?),
        };
        Ok(Self { source: source.clone(), target: target.clone(), attributes, radial })
    }
}

/// What mixes the normalised sum into the output irreps.
#[derive(Clone, Debug, PartialEq)]
pub enum PointOutput {
    /// An `o3::Linear` without biases (L1Net, NequIP's `linear_2`).
    Linear,
    /// A fully connected tensor product with node attributes of these irreps (e3nn's gate_points
    /// `lin2`); [`PointConvolution::forward`] then needs the attributes.
    NodeAttributes(Irreps),
}

/// The architecture of a [`PointConvolution`].
#[derive(Clone, Debug, PartialEq)]
pub struct PointConvolutionConfig {
    /// Node features in.
    pub irreps_in: Irreps,
    /// Edge attributes ([`EdgeEmbedding::attributes`]).
    pub irreps_edge: Irreps,
    /// Features out; also the filter of the channel-wise product's paths
    /// ([`TensorProductConfig::channelwise`]).
    pub irreps_out: Irreps,
    /// Inputs of the radial MLP ([`EdgeEmbedding::radial`]'s width).
    pub radial_basis: usize,
    /// Width of the radial MLP's hidden layers.
    pub radial_neurons: usize,
    /// Hidden layers of the radial MLP.
    pub radial_layers: usize,
    /// The summed messages are multiplied by `1 / divisor` (e3nn: `√num_neighbors`).
    pub divisor: f64,
    /// The product's paths (and the radial MLP's output columns) ordered by output block
    /// ([`TensorProductConfig::sorted_by_output`], SevenNet) rather than in creation order (e3nn).
    pub paths_by_output: bool,
    /// The mixing after the sum.
    pub output: PointOutput,
}

#[derive(Clone, Debug)]
enum Mixing {
    Linear(Linear),
    NodeAttributes(FullyConnectedTensorProduct),
}

/// `mix(Σ_{j → i} TP(x_j, Y_ij, R(radial_ij)) / divisor)` (module docs).
#[derive(Clone, Debug)]
pub struct PointConvolution {
    tp: TensorProduct,
    radial: FullyConnectedNet,
    mixing: Mixing,
    divisor: f64,
}

impl PointConvolution {
    /// Builds the convolution; the radial MLP's parameters come from `radial_vb`
    /// (`layer{i}.weight`, e3nn's `FullyConnectedNet`), the mixing's from `output_vb` (`weight`, or
    /// `o3::Linear`'s), so that models keep their checkpoint names.
    pub fn new(config: &PointConvolutionConfig, radial_vb: VarBuilder, output_vb: VarBuilder) -> Result<Self> {
        let c = config;
        if !(c.divisor.is_finite() && c.divisor > 0.0) {
            return Err(Error::Msg(format!("point convolution: the divisor {} must be positive", c.divisor)));
        }
        let paths = TensorProductConfig::channelwise(c.irreps_in.clone(), c.irreps_edge.clone(), &c.irreps_out);
        let tp = TensorProduct::new(if c.paths_by_output { paths.sorted_by_output() } else { paths })?;
        let mut hs = vec![c.radial_basis];
        hs.extend(std::iter::repeat_n(c.radial_neurons, c.radial_layers));
        hs.push(tp.weight_numel());
        let radial = FullyConnectedNet::new(&hs, Some(Activation::Silu), radial_vb)?;
        let summed = &tp.config().irreps_out;
        let mixing = match &c.output {
            PointOutput::Linear => Mixing::Linear(Linear::new(
                LinearConfig {
                    irreps_in: summed.clone(),
                    irreps_out: c.irreps_out.clone(),
                    instructions: None,
                    biases: false,
                    path_normalization: Default::default(),
                },
                output_vb,
            )?),
            PointOutput::NodeAttributes(attributes) => {
                Mixing::NodeAttributes(FullyConnectedTensorProduct::new(summed, attributes, &c.irreps_out, output_vb)?)
            }
        };
        Ok(Self { tp, radial, mixing, divisor: c.divisor })
    }

    /// The convolution of node features `x` (`[nodes, irreps_in.dim()]`) over `edges`, with node
    /// attributes `z` for [`PointOutput::NodeAttributes`]: `[nodes, irreps_out.dim()]`.
    ///
    /// On the CPU, when the per-edge weights `[edges, weight_numel]` would take more than
    /// 256 MiB, with a frozen radial MLP and no higher-order gradients requested, those
    /// weights are never kept: the sum is
    /// computed chunk by chunk, and the backward pass recomputes each chunk's weights (memory
    /// linear in the atoms with a small constant, at the price of one more radial MLP and product
    /// per chunk); gradients with respect to `x`, the attributes and the radial input are exact
    /// but, in that mode, not differentiable again.
    pub fn forward(&self, x: &Tensor, z: Option<&Tensor>, edges: &EdgeEmbedding) -> Result<Tensor> {
        let weight_bytes = edges.source.len() * self.tp.weight_numel() * x.dtype().size_in_bytes();
        let recompute = x.device().is_cpu()
            && weight_bytes > RECOMPUTE_BYTES
            && !self.radial.trains()
            && !crate::autograd::higher_order_requested();
        let summed = self.summed(x, edges, recompute)?.affine(1.0 / self.divisor, 0.0)?;
        match (&self.mixing, z) {
            (Mixing::Linear(linear), _) => linear.forward(&summed),
            (Mixing::NodeAttributes(product), Some(z)) => product.forward(&summed, z),
            (Mixing::NodeAttributes(_), None) => {
                Err(Error::Msg("point convolution: the output mixing reads node attributes, none given".into()))
            }
        }
    }
}

impl PointConvolution {
    /// The summed messages (not yet divided), chunked with a recomputing backward pass when
    /// `recompute` ([`PointConvolution::forward`]).
    fn summed(&self, x: &Tensor, edges: &EdgeEmbedding, recompute: bool) -> Result<Tensor> {
        if recompute {
            let op =
                Recomputed { convolution: self.clone(), source: edges.source.clone(), target: edges.target.clone() };
            x.contiguous()?.apply_op3(&edges.attributes.contiguous()?, &edges.radial.contiguous()?, op)
        } else {
            self.messages(x, &edges.source, &edges.attributes, &edges.radial, &edges.target)
        }
    }

    /// `Σ_{j → i} TP(x_j, attributes_ij, R(radial_ij))` (not yet divided).
    fn messages(
        &self,
        x: &Tensor,
        source: &SegmentIndex,
        attributes: &Tensor,
        radial: &Tensor,
        target: &SegmentIndex,
    ) -> Result<Tensor> {
        let weights = self.radial.forward(radial)?;
        self.tp.convolve(x, source, attributes, &weights, target)
    }
}

/// Size of the per-edge weights of one convolution above which [`PointConvolution::forward`]
/// recomputes them chunk by chunk instead of keeping them: below it, keeping them is cheaper than
/// the recomputation (an e3nn gate_points network on 32 QM9 molecules, 9,420 edges, ran its
/// forces 2× slower chunked); above it, memory decides (SevenNet-0 on 10,648 atoms: 5.9 GB).
const RECOMPUTE_BYTES: usize = 256 << 20;

/// Least edges per chunk of the memory-bounded mode.
const CHUNK_EDGES: usize = 4096;

/// Most chunks: each one also costs node-sized sums (`[nodes, irreps_out]` forward, `[nodes,
/// irreps_in]` backward), so larger systems get larger chunks (`edges / 8`: `[37,000, 960]` weights,
/// 140 MB, for SevenNet-0 on 10,000 atoms).
const MAX_CHUNKS: usize = 8;

/// [`PointConvolution::messages`] of node features, edge attributes and radial inputs, chunk by
/// chunk over the edges, as one op whose backward pass recomputes each chunk.
struct Recomputed {
    convolution: PointConvolution,
    source: SegmentIndex,
    target: SegmentIndex,
}

impl Recomputed {
    /// The edge ranges of the chunks.
    fn chunks(&self) -> impl Iterator<Item = std::ops::Range<usize>> {
        let edges = self.source.len();
        // Every chunk writes node-sized sums: at most MAX_CHUNKS of them.
        let size = CHUNK_EDGES.max(edges.div_ceil(MAX_CHUNKS));
        (0..edges).step_by(size).map(move |start| start..(start + size).min(edges))
    }

    /// The source and target indices of the edges in `range`.
    fn indices(&self, range: &std::ops::Range<usize>) -> Result<(SegmentIndex, SegmentIndex)> {
        let index =
            |i: &SegmentIndex| SegmentIndex::new(i.values()[range.clone()].to_vec(), i.num_segments(), i.device());
        Ok((index(&self.source)?, index(&self.target)?))
    }

    /// The summed messages of every chunk, each through `chunk(range, source, target)`.
    fn sum(
        &self,
        mut chunk: impl FnMut(&std::ops::Range<usize>, &SegmentIndex, &SegmentIndex) -> Result<Tensor>,
    ) -> Result<Option<Tensor>> {
        let mut sum: Option<Tensor> = None;
        for range in self.chunks() {
            let (source, target) = self.indices(&range)?;
            let y = chunk(&range, &source, &target)?;
            sum = Some(match sum {
                Some(s) => s.add(&y)?,
                None => y,
            });
        }
        Ok(sum)
    }
}

impl CustomOp3 for Recomputed {
    fn name(&self) -> &'static str {
        "chemgnn-point-convolution"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let device = Device::Cpu;
        let tensor = |s: &CpuStorage, l: &Layout| -> Result<Tensor> {
            let (start, end) =
                l.contiguous_offsets().ok_or_else(|| Error::Msg("point convolution: strided input".into()))?;
            match s {
                CpuStorage::F32(v) => Tensor::from_slice(&v[start..end], l.dims(), &device),
                CpuStorage::F64(v) => Tensor::from_slice(&v[start..end], l.dims(), &device),
                other => Err(Error::Msg(format!(
                    "point convolution: unsupported dtype {:?}",
                    candle_core::backend::BackendStorage::dtype(other)
                ))),
            }
        };
        let (x, attributes, radial) = (tensor(s1, l1)?, tensor(s2, l2)?, tensor(s3, l3)?);
        let c = &self.convolution;
        let sum = self.sum(|range, source, target| {
            let (start, len) = (range.start, range.len());
            c.messages(&x, source, &attributes.narrow(0, start, len)?, &radial.narrow(0, start, len)?, target)
        })?;
        let sum = match sum {
            Some(sum) => sum,
            None => Tensor::zeros((x.dim(0)?, c.tp.config().irreps_out.dim()), x.dtype(), &device)?,
        };
        let shape = sum.shape().clone();
        let (storage, layout) = sum.storage_and_layout();
        let storage = match &*storage {
            candle_core::Storage::Cpu(cpu) => cpu.clone(),
            _ => return Err(Error::Msg("point convolution: expected CPU storage".into())),
        };
        if !layout.is_contiguous() || layout.start_offset() != 0 {
            return Err(Error::Msg("point convolution: non-contiguous sum".into()));
        }
        Ok((storage, shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        attributes: &Tensor,
        radial: &Tensor,
        _out: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = grad.detach();
        let var = |t: Tensor, wanted: bool| -> Result<(Tensor, Option<Var>)> {
            if wanted {
                let v = Var::from_tensor(&t)?;
                Ok((v.as_tensor().clone(), Some(v)))
            } else {
                Ok((t, None))
            }
        };
        let (xt, xv) = var(x.detach(), x.track_op())?;
        let (mut grad_attributes, mut grad_radial) = (Vec::new(), Vec::new());
        let c = &self.convolution;
        let grad_x = self.sum(|range, source, target| {
            let (start, len) = (range.start, range.len());
            let (a, av) = var(attributes.narrow(0, start, len)?.detach(), attributes.track_op())?;
            let (r, rv) = var(radial.narrow(0, start, len)?.detach(), radial.track_op())?;
            let y = c.messages(&xt, source, &a, &r, target)?;
            let grads = y.mul(&grad)?.sum_all()?.backward()?;
            // Detached: a leaf's gradient would otherwise keep the chunk's graph (its weights) alive.
            let of = |v: &Option<Var>| -> Result<Option<Tensor>> {
                v.as_ref()
                    .map(|v| grads.get(v.as_tensor()).map_or_else(|| v.zeros_like(), |g| Ok(g.detach())))
                    .transpose()
            };
            grad_attributes.extend(of(&av)?);
            grad_radial.extend(of(&rv)?);
            Ok(of(&xv)?.unwrap_or_else(|| xt.zeros_like().expect("zeros")))
        })?;
        let cat = |parts: Vec<Tensor>, wanted: bool| -> Result<Option<Tensor>> {
            Ok(if wanted && !parts.is_empty() { Some(Tensor::cat(&parts, 0)?) } else { None })
        };
        Ok((
            grad_x.filter(|_| x.track_op()),
            cat(grad_attributes, attributes.track_op())?,
            cat(grad_radial, radial.track_op())?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::o3::Parity;
    use crate::test_support::{max_abs_diff, tensor};
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    fn edges() -> EdgeEmbedding {
        let dev = Device::Cpu;
        let source = SegmentIndex::new(vec![1, 2, 0, 2], 3, &dev).unwrap();
        let target = SegmentIndex::new(vec![0, 0, 1, 1], 3, &dev).unwrap();
        let config = EdgeEmbeddingConfig {
            irreps_sh: Irreps::spherical_harmonics(1, Parity::Odd),
            max_radius: 3.0,
            number_of_basis: 4,
            basis: SoftOneHotBasis::Bessel,
            basis_cutoff: true,
            basis_scale: 1.0,
            envelope: Envelope::Basis,
        };
        EdgeEmbedding::new(&tensor(&[4, 3], 1), &source, &target, &config).unwrap()
    }

    fn convolution(divisor: f64, output: PointOutput, varmap: &VarMap) -> Result<PointConvolution> {
        let config = PointConvolutionConfig {
            irreps_in: "2x0e+1x1o".parse()?,
            irreps_edge: Irreps::spherical_harmonics(1, Parity::Odd),
            irreps_out: "3x0e+2x1o".parse()?,
            radial_basis: 4,
            radial_neurons: 5,
            radial_layers: 1,
            divisor,
            paths_by_output: false,
            output,
        };
        let vb = VarBuilder::from_varmap(varmap, DType::F64, &Device::Cpu);
        PointConvolution::new(&config, vb.pp("radial"), vb.pp("linear"))
    }

    #[test]
    fn the_chunked_mode_recomputing_its_backward_equals_the_direct_sum() {
        let dev = Device::Cpu;
        let (nodes, count) = (300, 2 * CHUNK_EDGES + 123);
        let source: Vec<u32> = (0..count).map(|e| (e * 7 % nodes) as u32).collect();
        let target: Vec<u32> = (0..count).map(|e| ((e / 3 + e % 5) % nodes) as u32).collect();
        let source = SegmentIndex::new(source, nodes, &dev).unwrap();
        let target = SegmentIndex::new(target, nodes, &dev).unwrap();
        let (x, a, r) = (
            Var::from_tensor(&tensor(&[nodes, 5], 2)).unwrap(),
            Var::from_tensor(&tensor(&[count, 4], 3)).unwrap(),
            Var::from_tensor(&tensor(&[count, 4], 4)).unwrap(),
        );
        let edges = EdgeEmbedding {
            source: source.clone(),
            target: target.clone(),
            attributes: a.as_tensor().clone(),
            radial: r.as_tensor().clone(),
        };
        let conv = convolution(3.0, PointOutput::Linear, &VarMap::new()).unwrap();
        let (chunked, direct) = (conv.summed(&x, &edges, true).unwrap(), conv.summed(&x, &edges, false).unwrap());
        assert!(max_abs_diff(&chunked, &direct) < 1e-12);
        assert!(direct.abs().unwrap().max_all().unwrap().to_scalar::<f64>().unwrap() > 1e-3);
        let weights = tensor(chunked.dims(), 5);
        let grads = |y: &Tensor| y.mul(&weights).unwrap().sum_all().unwrap().backward().unwrap();
        let (gc, gd) = (grads(&chunked), grads(&direct));
        for v in [&x, &a, &r] {
            let (c, d) = (gc.get(v.as_tensor()).unwrap(), gd.get(v.as_tensor()).unwrap());
            assert!(max_abs_diff(c, d) < 1e-12, "gradients differ");
        }
    }

    #[test]
    fn the_sum_is_divided_by_the_divisor_and_bad_settings_are_errors() {
        let (edges, x) = (edges(), tensor(&[3, 5], 2));
        let varmap = VarMap::new();
        let one = convolution(1.0, PointOutput::Linear, &varmap).unwrap().forward(&x, None, &edges).unwrap();
        // Same parameters (shared varmap), divisor 4: a quarter of the output (the mixing is linear).
        let four = convolution(4.0, PointOutput::Linear, &varmap).unwrap().forward(&x, None, &edges).unwrap();
        assert_eq!(one.dims(), [3, 3 + 2 * 3]);
        assert!(max_abs_diff(&one.affine(0.25, 0.0).unwrap(), &four) < 1e-15);
        assert!(one.abs().unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap() > 1e-6);
        assert!(convolution(0.0, PointOutput::Linear, &varmap).unwrap_err().to_string().contains("divisor"));
        let attributes = PointOutput::NodeAttributes("1x0e".parse().unwrap());
        let with_attributes = convolution(1.0, attributes, &VarMap::new()).unwrap();
        let err = with_attributes.forward(&x, None, &edges).unwrap_err().to_string();
        assert!(err.contains("node attributes"), "{err}");
        let z = Tensor::ones((3, 1), DType::F64, &Device::Cpu).unwrap();
        assert_eq!(with_attributes.forward(&x, Some(&z), &edges).unwrap().dims(), [3, 9]);
    }
}
