"""The network of PyG's examples/qm9_nn_conv.py, shared by the fixture script and the benchmark."""
import torch
from torch_geometric.nn import NNConv, Set2Set


class QM9Net(torch.nn.Module):
    """PyG examples/qm9_nn_conv.py's Net."""

    def __init__(self, dim=64):
        super().__init__()
        self.lin0 = torch.nn.Linear(11, dim)
        nn = torch.nn.Sequential(torch.nn.Linear(5, 128), torch.nn.ReLU(), torch.nn.Linear(128, dim * dim))
        self.conv = NNConv(dim, dim, nn, aggr="mean")
        self.gru = torch.nn.GRU(dim, dim)
        self.set2set = Set2Set(dim, processing_steps=3)
        self.lin1 = torch.nn.Linear(2 * dim, dim)
        self.lin2 = torch.nn.Linear(dim, 1)

    def forward(self, data):
        out = torch.relu(self.lin0(data.x))
        h = out.unsqueeze(0)
        for _ in range(3):
            m = torch.relu(self.conv(out, data.edge_index, data.edge_attr))
            out, h = self.gru(m.unsqueeze(0), h)
            out = out.squeeze(0)
        out = self.set2set(out, data.batch)
        out = torch.relu(self.lin1(out))
        return self.lin2(out).view(-1)
