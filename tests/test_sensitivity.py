"""The noise-sensitivity probe (hyflexpim.sim.sensitivity) and the ``sensitivity`` plan policy."""

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from hyflexpim.algo.plan_policy import sensitivity_policy
from hyflexpim.errors import UserError
from hyflexpim.models.layers import SVDLinear
from hyflexpim.plan import MatrixPlan
from hyflexpim.sim.config import HardwareConfig
from hyflexpim.sim.sensitivity import FLOOR, noise_sensitivity


class TwoPaths(nn.Module):
    """y = A x + B x with A's weights 30× B's: A's MLC noise (relative to its weights) costs far more loss."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        a, b = nn.Linear(32, 32), nn.Linear(32, 32)
        with torch.no_grad():
            a.weight.mul_(3.0)
            b.weight.mul_(0.1)
        self.a, self.b = SVDLinear.from_module(a), SVDLinear.from_module(b)

    def forward(self, x, y):
        out = self.a(x) + self.b(x)
        return SimpleNamespace(loss=nn.functional.mse_loss(out, y))


def test_the_probe_ranks_the_matrix_whose_noise_costs_more_first():
    model = TwoPaths()
    x = torch.randn(64, 32)
    with torch.no_grad():
        y = model.a(x) + model.b(x)
    batches = [{"x": x[i:i + 16], "y": y[i:i + 16]} for i in range(0, 64, 16)]
    sens = noise_sensitivity(model, batches, ["a", "b"], "component", HardwareConfig(), n_batches=4, draws=2)
    assert sens["a"] > 20 * sens["b"] >= 20 * FLOOR
    # the probe leaves the model as it was
    assert nn.functional.mse_loss(model.a(x) + model.b(x), y).item() < 1e-10
    ideal = HardwareConfig(noise={"kind": "paper", "sigma_mlc": 0.0})
    quant_only = noise_sensitivity(model, batches, ["a", "b"], "component", ideal, n_batches=2, draws=1)
    assert quant_only["a"] < 0.2 * sens["a"]  # INT8 alone costs little next to the MLC noise


def entry(name, n=10, d=16):
    return MatrixPlan(name=name, role="ffn_in", layer=0, shape=(d, d), analog=True, unit="component", rank=n,
                      importance=[float(n - k) for k in range(n)], scorer="grad_abs")


def test_the_budget_goes_where_the_sensitivity_is():
    a, b = entry("a"), entry("b")
    # 10 % of all weights = 2 of the 20 components (each costs 32 of the 640 weights)
    sensitivity_policy([a, b], 10, {"a": 1.0, "b": 0.01})
    assert a.slc == [0, 1] and b.slc == []
    a, b = entry("a"), entry("b")
    sensitivity_policy([a, b], 10, {"a": 1.0, "b": 1.0})
    assert a.slc == [0] and b.slc == [0]  # equal sensitivity: the top component of each
    with pytest.raises(UserError, match="no measured sensitivity for b"):
        sensitivity_policy([entry("a"), entry("b")], 10, {"a": 1.0})
