"""Deep Convolutional GAN for 64x64 single-channel images (SPEC task 5).

Generator G, from z ~ N(0, I) of ``latent`` values read as a ``latent x 1 x 1`` image,
transposed convolutions with kernel 4::

    z -> 512 (stride 1, pad 0) 4x4 -> 256 (s2 p1) 8x8 -> 128 (s2 p1) 16x16
      -> 64 (s2 p1) 32x32 -> 1 (s2 p1) 64x64, tanh            (images in [-1, 1])

Discriminator D, convolutions with kernel 4::

    x 64x64 -> 64 (s2 p1) 32x32 -> 128 (s2 p1) 16x16 -> 256 (s2 p1) 8x8
            -> 512 (s2 p1) 4x4 -> 1 (s1 p0) 1x1                (a logit)

D returns the logit l(x); D(x) = sigma(l(x)) is the probability that x is real.
The sigmoid is left to the loss (binary cross-entropy from logits is exact where
sigma(l) rounds to 0 or 1) and to the places that report a probability.

Reading of SPEC 5 for the hidden layers:

* "LeakyReLU with negative slope 0.2 in all other layers" — every layer other than
  the two output layers (tanh in G, sigmoid in D), so G's hidden layers use
  LeakyReLU(0.2) too. (Radford et al. 2016 use ReLU in G; the SPEC's lab does not.)
* "batch normalisation after the hidden layers" — after each of the four hidden
  convolutions of both networks, before the activation; none after an output layer.
  (Radford et al. also leave D's first layer without; the SPEC does not.)
* A convolution has a bias exactly when no batch normalisation follows it: the
  normalisation's shift plays the bias's role. So the output layers always have a
  bias, and the hidden layers have one when batch normalisation is switched off.

Initialisation (``init_weights``): convolution weights N(0, 0.02^2), biases 0,
batch-norm scales N(1, 0.02^2) and shifts 0.
"""

from __future__ import annotations

import torch
from torch import nn

from genlab.models.saved import Saveable
from genlab.rng import device_of

KERNEL = 4
LEAK = 0.2  # negative slope of the LeakyReLU
INIT_STD = 0.02
G_CHANNELS = (512, 256, 128, 64)  # the generator's hidden layers, 4x4 to 32x32
D_CHANNELS = (64, 128, 256, 512)  # the discriminator's hidden layers, 32x32 to 4x4
IMAGE_SIZE = 64


def hidden_block(conv: nn.Module, channels: int, batchnorm: bool) -> nn.Sequential:
    """convolution -> [batch norm] -> LeakyReLU(0.2)."""
    layers = [conv] + ([nn.BatchNorm2d(channels)] if batchnorm else []) + [nn.LeakyReLU(LEAK)]
    return nn.Sequential(*layers)


class Generator(nn.Module):
    """G(z): [n, latent] (or [n, latent, 1, 1]) noise -> [n, 1, 64, 64] images in [-1, 1]."""

    def __init__(self, latent: int = 100, batchnorm: bool = True, image_channels: int = 1) -> None:
        super().__init__()
        self.latent = latent
        blocks, c_in = [], latent
        for i, c in enumerate(G_CHANNELS):
            stride, padding = (1, 0) if i == 0 else (2, 1)
            conv = nn.ConvTranspose2d(c_in, c, KERNEL, stride, padding, bias=not batchnorm)
            blocks.append(hidden_block(conv, c, batchnorm))
            c_in = c
        blocks.append(nn.Sequential(nn.ConvTranspose2d(c_in, image_channels, KERNEL, 2, 1), nn.Tanh()))
        self.blocks = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.blocks(z.reshape(z.shape[0], self.latent, 1, 1))


class Discriminator(nn.Module):
    """l(x): [n, 1, 64, 64] images in [-1, 1] -> [n] logits; D(x) = sigma(l(x))."""

    def __init__(self, batchnorm: bool = True, image_channels: int = 1) -> None:
        super().__init__()
        blocks, c_in = [], image_channels
        for c in D_CHANNELS:
            blocks.append(hidden_block(nn.Conv2d(c_in, c, KERNEL, 2, 1, bias=not batchnorm), c, batchnorm))
            c_in = c
        blocks.append(nn.Conv2d(c_in, 1, KERNEL, 1, 0))
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x).reshape(x.shape[0])


@torch.no_grad()
def init_weights(module: nn.Module, generator: torch.Generator | None = None) -> nn.Module:
    """Convolution weights ~ N(0, 0.02^2) and biases 0; batch-norm scales ~ N(1, 0.02^2), shifts 0.

    Matches the layer types themselves (the lab template compared lower-case class
    names with 'conv' and 'bn', which never matched, so nothing was initialised).
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            m.weight.normal_(0.0, INIT_STD, generator=generator)
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.normal_(1.0, INIT_STD, generator=generator)
            m.bias.zero_()
    return module


class DCGAN(nn.Module, Saveable):
    """The generator ``G`` and the discriminator ``D`` of one run, initialised as in SPEC 5.

    ``gan(z)`` is G(z) as images in [0, 1] (:meth:`forward`).
    """

    family = "dcgan"

    def __init__(
        self,
        latent: int = 100,
        batchnorm: bool = True,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        drawn_on = device_of(generator, device)  # a CPU generator may initialise a CUDA model
        self.G = Generator(latent, batchnorm).to(drawn_on)
        self.D = Discriminator(batchnorm).to(drawn_on)
        init_weights(self, generator)
        self.to(device)

    @property
    def latent(self) -> int:
        return self.G.latent

    @property
    def device(self) -> torch.device:
        return next(self.G.parameters()).device

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws of z ~ N(0, I), shaped [n, latent, 1, 1]."""
        return torch.randn(n, self.latent, 1, 1, generator=generator, device=self.device)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """G(z) as images in [0, 1], in the module's mode: in training mode its batch norm uses the batch's
        statistics and updates its running ones; in evaluation mode (``gan.eval()``, as ``genlab.load``
        returns it) it is :meth:`generate`, with gradients.

        Args:
            z: Noise, [n, latent] or [n, latent, 1, 1] (:meth:`noise`).

        Returns:
            Images, [n, 1, 64, 64], pixel values in [0, 1] (float32).
        """
        return self.G(z).float().add(1).div(2)

    @torch.no_grad()
    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """G(z) as images in [0, 1], [n, 1, 64, 64], with batch norm's running statistics."""
        was_training = self.G.training
        self.G.eval()
        images = self(z)
        self.G.train(was_training)
        return images

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n new images G(z), z ~ N(0, I), in [0, 1]: [n, 1, 64, 64]."""
        return self.generate(self.noise(n, generator))

    def tensors(self) -> dict[str, torch.Tensor]:
        return dict(self.state_dict())

    def saved_config(self) -> dict[str, int | bool]:
        return {"latent": self.latent, "batchnorm": any(isinstance(m, nn.BatchNorm2d) for m in self.G.modules())}

    @staticmethod
    def shapes(latent: int, batchnorm: bool) -> dict[str, tuple[int, ...]]:
        """The names and shapes of ``tensors()`` for a config (built on the meta device: no memory, no init)."""
        with torch.device("meta"):
            nets = {"G": Generator(latent, batchnorm), "D": Discriminator(batchnorm)}
        return {f"{name}.{key}": tuple(t.shape) for name, net in nets.items() for key, t in net.state_dict().items()}
