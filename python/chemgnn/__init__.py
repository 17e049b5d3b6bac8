"""chemgnn: graph neural networks for molecules and crystals without PyTorch.

    import chemgnn
    model = chemgnn.Model.load("schnet-run/best")
    out = model.compute(numbers, positions, cell=None, pbc=None)   # energy, forces (and stress)

`chemgnn.ase.Calculator` wraps a model for ASE.
"""

from ._chemgnn import Model, __version__

__all__ = ["Model", "__version__"]
