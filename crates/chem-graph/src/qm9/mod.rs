//! QM9 (Ramakrishnan et al., *Sci. Data* 2014): the original per-molecule files, the
//! `dsgdb9nsd.xyz.tar.bz2` archive, qm9pack's CSV tables, the 19 PyG targets, and
//! [`Qm9Dataset`], the compact cached form used for training.
//!
//! Of the 133,885 molecules, the 3,054 listed in `uncharacterized.txt` are excluded, leaving
//! 130,831 (the same set as PyG's `QM9`).

mod archive;
mod dataset;
#[cfg(feature = "download")]
mod fetch;
mod molecule;
mod qm9pack;
mod targets;

pub use archive::{read_qm9_archive, read_qm9_tar};
pub use dataset::{default_cache_path, uncharacterized, Qm9Dataset};
#[cfg(feature = "download")]
pub use fetch::{fetch_qm9, OFFICIAL_URL};
pub use molecule::{parse_qm9_xyz, Qm9Molecule};
pub use qm9pack::{read_qm9pack, read_qm9pack_csv};
pub use targets::{
    targets_from_raw, Qm9Target, RawProperties, ATOMREF_ELEMENTS, ATOMREF_HARTREE, HARTREE_TO_EV, RAW_PROPERTY_NAMES,
};

#[cfg(test)]
pub(crate) mod tests_support {
    pub(crate) use super::molecule::tests::METHANE;

    /// A bzip2-compressed tar archive holding `files` (name, text).
    pub(crate) fn tar_bz2(files: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast()));
        for (name, text) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, text.as_bytes()).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }
}
