//! The `registry!` macro: one line per model kind generates [`super::ModelConfig`],
//! [`super::Network`] and [`super::KINDS`] with their dispatch.

/// Generates the kind-tagged [`super::ModelConfig`], the [`super::Network`] it builds and the
/// list [`super::KINDS`] from lines `Variant("kind", ConfigType) = preset, "help";` where `preset`
/// is an `Option<ConfigType>` (the configuration `chemgnn train --model kind` starts from).
macro_rules! registry {
    ($( $(#[$doc:meta])* $variant:ident($kind:literal, $config:ty) = $preset:expr, $help:literal; )*) => {
        /// A model architecture and its hyperparameters: `config.json`'s `model`, tagged by `kind`.
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "kind")]
        pub enum ModelConfig {
            $( $(#[$doc])* #[serde(rename = $kind)] $variant($config), )*
        }

        /// A built network of any registered kind.
        #[derive(Clone, Debug)]
        pub enum Network {
            $( $(#[$doc])* $variant(Box<<$config as Architecture>::Network>), )*
        }

        /// Every registered kind, in registry order.
        pub const KINDS: &[KindInfo] = &[
            $( KindInfo { name: $kind, help: $help }, )*
        ];

        impl ModelConfig {
            /// The model kind as written in `config.json` (`"schnet"`, `"mpnn"`, …).
            pub fn kind(&self) -> &'static str {
                match self { $( ModelConfig::$variant(_) => $kind, )* }
            }

            /// The preset configuration of `kind` (see [`KINDS`]); `None` for an unknown kind or
            /// one without preset.
            pub fn preset(kind: &str) -> Option<ModelConfig> {
                match kind {
                    $( $kind => { let preset: Option<$config> = $preset; preset.map(ModelConfig::$variant) } )*
                    _ => None,
                }
            }

            /// Number of values the model predicts per structure.
            pub fn outputs(&self) -> usize {
                match self { $( ModelConfig::$variant(c) => c.outputs(), )* }
            }

            /// The graphs the model reads.
            pub fn inputs(&self) -> GraphInputs {
                match self { $( ModelConfig::$variant(c) => c.inputs(), )* }
            }

            /// What the model can compute.
            pub fn capabilities(&self) -> Capabilities {
                match self { $( ModelConfig::$variant(c) => c.capabilities(), )* }
            }

            /// Buffers a checkpoint may carry besides the parameters.
            pub fn buffers(&self) -> Shapes {
                match self { $( ModelConfig::$variant(c) => c.buffers(), )* }
            }

            /// The irreps of an equivariant model's output vector, where they are not scalars.
            pub fn output_irreps(&self) -> Option<String> {
                match self { $( ModelConfig::$variant(c) => c.output_irreps(), )* }
            }

            /// The per-element energy shift tensor, if the model has one.
            pub fn species_shifts(&self) -> Option<SpeciesShifts> {
                match self { $( ModelConfig::$variant(c) => c.species_shifts(), )* }
            }

            /// Writes fitted target statistics into the configuration.
            pub fn set_target_scaling(&mut self, scaling: &TargetScaling) -> Result<()> {
                match self { $( ModelConfig::$variant(c) => c.set_target_scaling(scaling), )* }
            }
        }

        impl Network {
            /// Builds the network of `config` from `vb`.
            pub fn new(config: &ModelConfig, vb: VarBuilder) -> Result<Self> {
                Ok(match config { $( ModelConfig::$variant(c) => Network::$variant(Box::new(c.build(vb)?)), )* })
            }

            /// Predictions `[graphs, outputs]`; `positions` is the tensor forces are taken with
            /// respect to.
            pub fn forward(&self, g: &GraphTensors, positions: &Tensor) -> Result<Tensor> {
                match self { $( Network::$variant(n) => GraphModel::forward(n.as_ref(), g, positions), )* }
            }
        }
    };
}
