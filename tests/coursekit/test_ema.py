"""The generator's weight average: an exact exponential moving average after its warm-up."""

import pytest
import torch
from torch import nn

from reference_solution.coursekit.ema import WeightAverage


def _net(value: float) -> nn.Module:
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(value)
    return net


def test_average_follows_the_recursion_with_warm_up():
    net = _net(0.0)
    average = WeightAverage(net, decay=0.9)
    expected = 0.0
    for t in range(1, 40):
        with torch.no_grad():
            for p in net.parameters():
                p.fill_(float(t))
        average.update(net)
        beta = min(0.9, (1 + t) / (10 + t))
        expected = beta * expected + (1 - beta) * t
        for p in average.model.parameters():
            assert torch.allclose(p, torch.full_like(p, expected), atol=1e-4)


def test_average_is_a_frozen_copy_and_copies_buffers():
    net = _net(1.0)
    average = WeightAverage(net)
    assert all(not p.requires_grad for p in average.model.parameters())
    assert not average.model.training
    net.train()
    net(torch.randn(8, 2) * 3 + 5)  # moves the batch-norm statistics
    average.update(net)
    assert torch.equal(average.model[1].running_mean, net[1].running_mean)
    assert all(p.data_ptr() != q.data_ptr() for p, q in zip(average.model.parameters(), net.parameters()))


def test_state_round_trip_and_bad_decay():
    net = _net(2.0)
    average = WeightAverage(net, decay=0.5)
    average.update(_net(4.0))
    other = WeightAverage(_net(0.0), decay=0.99)
    other.load_state_dict(average.state_dict())
    assert other.decay == 0.5 and other.updates == 1
    assert all(torch.equal(p, q) for p, q in zip(other.model.parameters(), average.model.parameters()))
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(net, decay=1.0)
