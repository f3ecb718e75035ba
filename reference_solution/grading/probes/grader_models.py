"""The grader's own networks, which the student's training loops train in the convergence checks.

Kernel side, they are built from the weights the challenge sends; grader side (this source
executed by ``protocol.probe_scope``) the verdict loads the weights that came back into the same
classes and samples them itself, on latents and data the kernel never saw.
"""

import math

import torch.nn as nn


def _width(size, resolution, base):
    return min(256, base * size // resolution)


class GraderGenerator(nn.Module):
    """z (N, n_inputs) -> (N, 2, size, size) in [0, 1]: a linear map to 4 x 4, then per doubling
    nearest upsampling, a 3 x 3 convolution, batch norm and ReLU; a 3 x 3 convolution and a sigmoid."""

    def __init__(self, n_inputs, size, base=8):
        super().__init__()
        self.n_inputs, self.size = n_inputs, size
        w = lambda r: _width(size, r, base)  # noqa: E731
        self.project = nn.Linear(n_inputs, w(4) * 16)
        self.start = nn.Sequential(nn.BatchNorm2d(w(4)), nn.ReLU())
        blocks, r = [], 4
        for _ in range(int(math.log2(size // 4))):
            blocks += [nn.Upsample(scale_factor=2), nn.Conv2d(w(r), w(2 * r), 3, padding=1),
                       nn.BatchNorm2d(w(2 * r)), nn.ReLU()]
            r *= 2
        self.blocks = nn.Sequential(*blocks)
        self.to_image = nn.Conv2d(w(size), 2, 3, padding=1)

    def forward(self, z):
        x = self.project(z).view(z.shape[0], -1, 4, 4)  # (N, C, 4, 4)
        return torch.sigmoid(self.to_image(self.blocks(self.start(x))))  # (N, 2, size, size)


class GraderCritic(nn.Module):
    """(N, 2, size, size) -> (N, 1): per halving a 4 x 4 stride-2 convolution and LeakyReLU, then a
    linear head (no batch statistics: the gradient penalty is per sample)."""

    def __init__(self, size, base=8):
        super().__init__()
        layers, c_in, r = [], 2, size
        for _ in range(int(math.log2(size // 4))):
            r //= 2
            layers += [nn.Conv2d(c_in, _width(size, r, base), 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c_in = _width(size, r, base)
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in * 16, 1)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))  # (N, 1)


class GraderScoreNet(nn.Module):
    """A score network R^2 -> R^2: three SiLU layers of ``hidden`` units."""

    def __init__(self, hidden):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 2))

    def forward(self, x):
        return self.net(x)


def load_state(module, state):
    """``module`` with the weights of ``state`` ({name: array}); the names and shapes must match."""
    own = module.state_dict()
    if set(state) != set(own):
        raise ProbeFailure("the weights do not belong to the grader's network")
    module.load_state_dict({k: torch.as_tensor(np.array(v)).to(own[k].dtype).reshape(own[k].shape)
                            for k, v in state.items()})
    return module


def state_of(module):
    """The module's weights as plain arrays."""
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
