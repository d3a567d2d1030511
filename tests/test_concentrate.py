"""The concentration regulariser (hyflexpim.algo.concentrate)."""

import pytest
import torch
from torch import nn

from hyflexpim.algo.concentrate import CONCENTRATORS, ConcentrationConfig, concentration_penalty, sigma_tail
from hyflexpim.config.base import ConfigError
from hyflexpim.models.layers import SVDLinear


def svd_model(seed=0, d=40):
    torch.manual_seed(seed)
    return nn.Sequential(SVDLinear.from_module(nn.Linear(d, d)), nn.Tanh(), SVDLinear.from_module(nn.Linear(d, d)))


def test_sigma_tail_is_the_share_outside_the_top_components():
    m = svd_model()
    layer = m[0]
    with torch.no_grad():
        layer.S.copy_(torch.tensor([4.0, 3.0, 2.0, 1.0] + [0.0] * 36))
    # top 10 % of 40 = 4 components: all the mass is in them
    assert sigma_tail({"a": layer}, 10).item() == 0.0
    # top 5 % = 2 components: (2 + 1) / 10 of the mass is outside
    assert sigma_tail({"a": layer}, 5).item() == pytest.approx(0.3)


@pytest.mark.slow  # a training
def test_the_penalty_concentrates_sigma_while_the_task_is_fitted():
    torch.manual_seed(1)
    x = torch.randn(256, 40)
    y = torch.tanh(x @ torch.randn(40, 40) / 6)

    def train(strength):
        model = svd_model()
        reg = concentration_penalty(model, ConcentrationConfig(strength=strength, top=10))
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        for _ in range(300):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            if reg is not None:
                loss = loss + reg()
            loss.backward()
            opt.step()
        layers = {str(i): m for i, m in enumerate(model) if isinstance(m, SVDLinear)}
        return sigma_tail(layers, 10).item(), nn.functional.mse_loss(model(x), y).item()

    plain_tail, plain_mse = train(0.0)
    tail, mse = train(0.5)
    assert tail < 0.5 * plain_tail  # the tail's share of Σ mass at least halves
    assert mse < 2 * plain_mse + 0.02  # and the task is still fitted


def test_off_and_bad_settings():
    assert concentration_penalty(svd_model(), ConcentrationConfig()) is None  # strength 0: off
    assert concentration_penalty(nn.Linear(3, 3), ConcentrationConfig(strength=1)) is None  # no SVD layer
    with pytest.raises(ConfigError, match="sigma_tail"):
        ConcentrationConfig(kind="nope")
    with pytest.raises(ConfigError):
        ConcentrationConfig(top=100)
    assert "sigma_tail" in CONCENTRATORS.names()
