//! [`SegmentIndex`]: an index that maps rows (edges, nodes) to segments (nodes, graphs), with the
//! host-side grouping that lets CPU kernels reduce every segment in parallel and deterministically.

use candle_core::{Device, Error, Result, Tensor};
use std::sync::Arc;

/// Rows `0..len` assigned to segments `0..num_segments` (e.g. edge → target node, node → graph).
///
/// Holds the index as a `u32` tensor on its device and, on the host, the rows grouped by segment
/// (a stable counting sort: within a segment, rows keep their order, so sums run in the same order
/// as PyTorch's `index_add_`). Cloning is cheap.
#[derive(Clone, Debug)]
pub struct SegmentIndex {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tensor: Tensor,
    index: Vec<u32>,
    num_segments: usize,
    /// `offsets[s]..offsets[s + 1]` are the positions in `order` of the rows of segment `s`.
    offsets: Vec<usize>,
    /// Rows grouped by segment; `None` when the index is already sorted (identity order).
    order: Option<Vec<u32>>,
    /// The index and its grouping on the GPU, for the CUDA kernels.
    #[cfg(feature = "cuda")]
    cuda: Option<crate::kernels::cuda::DeviceIndex>,
}

impl SegmentIndex {
    /// Builds the index from host values; errors when a value is `>= num_segments`.
    pub fn new(index: Vec<u32>, num_segments: usize, device: &Device) -> Result<Self> {
        if let Some((row, &value)) = index.iter().enumerate().find(|(_, &v)| v as usize >= num_segments) {
            return Err(Error::Msg(format!(
                "segment index {value} at row {row} is out of range for {num_segments} segments"
            )));
        }
        let mut offsets = vec![0usize; num_segments + 1];
        for &s in &index {
            offsets[s as usize + 1] += 1;
        }
        for s in 0..num_segments {
            offsets[s + 1] += offsets[s];
        }
        let sorted = index.windows(2).all(|w| w[0] <= w[1]);
        let order = (!sorted).then(|| {
            let mut next = offsets.clone();
            let mut order = vec![0u32; index.len()];
            for (row, &s) in index.iter().enumerate() {
                order[next[s as usize]] = row as u32;
                next[s as usize] += 1;
            }
            order
        });
        Self::assemble(index, num_segments, offsets, order, device)
    }

    /// The index with its grouping already computed, placed on `device`.
    fn assemble(
        index: Vec<u32>,
        num_segments: usize,
        offsets: Vec<usize>,
        order: Option<Vec<u32>>,
        device: &Device,
    ) -> Result<Self> {
        let tensor = Tensor::from_slice(&index, index.len(), device)?;
        #[cfg(feature = "cuda")]
        let cuda = match device {
            Device::Cuda(gpu) => Some(crate::kernels::cuda::DeviceIndex::new(gpu, &index, &offsets, order.as_deref())?),
            _ => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                tensor,
                index,
                num_segments,
                offsets,
                order,
                #[cfg(feature = "cuda")]
                cuda,
            }),
        })
    }

    /// The same index on `device` (the grouping is reused, not recomputed; a clone when it is
    /// already there).
    pub fn to_device(&self, device: &Device) -> Result<Self> {
        if self.device().same_device(device) {
            return Ok(self.clone());
        }
        let inner = &self.inner;
        Self::assemble(inner.index.clone(), inner.num_segments, inner.offsets.clone(), inner.order.clone(), device)
    }

    /// Builds the index from a 1-D integer tensor (any device).
    pub fn from_tensor(index: &Tensor, num_segments: usize) -> Result<Self> {
        let values = index.flatten_all()?.to_dtype(candle_core::DType::U32)?.to_vec1::<u32>()?;
        Self::new(values, num_segments, index.device())
    }

    /// Number of rows (length of the index).
    pub fn len(&self) -> usize {
        self.inner.index.len()
    }

    /// Whether the index has no rows.
    pub fn is_empty(&self) -> bool {
        self.inner.index.is_empty()
    }

    /// Number of segments.
    pub fn num_segments(&self) -> usize {
        self.inner.num_segments
    }

    /// The index as a `u32` tensor of shape `[len]`.
    pub fn tensor(&self) -> &Tensor {
        &self.inner.tensor
    }

    /// The index values on the host.
    pub fn values(&self) -> &[u32] {
        &self.inner.index
    }

    /// The device the index tensor lives on.
    pub fn device(&self) -> &Device {
        self.inner.tensor.device()
    }

    /// Rows per segment.
    pub fn counts(&self) -> Vec<usize> {
        self.inner.offsets.windows(2).map(|w| w[1] - w[0]).collect()
    }

    /// Number of rows of segment `s`.
    pub(crate) fn segment_len(&self, s: usize) -> usize {
        self.inner.offsets[s + 1] - self.inner.offsets[s]
    }

    /// All rows grouped by segment (each segment's rows in their original order), or `None` when
    /// the index is sorted and the grouping is the identity.
    pub(crate) fn grouped_order(&self) -> Option<&[u32]> {
        self.inner.order.as_deref()
    }

    /// The index on the GPU, when it lives on a CUDA device.
    #[cfg(feature = "cuda")]
    pub(crate) fn on_cuda(&self) -> Option<&crate::kernels::cuda::DeviceIndex> {
        self.inner.cuda.as_ref()
    }

    /// The rows of segment `s`, in their original order.
    pub(crate) fn rows(&self, s: usize) -> SegmentRows<'_> {
        let range = self.inner.offsets[s]..self.inner.offsets[s + 1];
        match &self.inner.order {
            Some(order) => SegmentRows::Listed(order[range].iter()),
            None => SegmentRows::Range(range),
        }
    }
}

/// Iterator over the rows of one segment.
pub(crate) enum SegmentRows<'a> {
    Range(std::ops::Range<usize>),
    Listed(std::slice::Iter<'a, u32>),
}

impl Iterator for SegmentRows<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        match self {
            SegmentRows::Range(range) => range.next(),
            SegmentRows::Listed(rows) => rows.next().map(|&r| r as usize),
        }
    }
}
