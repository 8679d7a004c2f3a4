"""genlab.models.dcgan: SPEC 5's layers, parameter counts by hand, initialisation, batch-norm switch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genlab.models.dcgan import DCGAN, Discriminator, Generator, init_weights

BATCH = 3


def block_shapes(net, x: torch.Tensor) -> tuple[list[tuple[int, ...]], torch.Tensor]:
    """The output shape of each of a network's blocks in turn, and the last output."""
    shapes = []
    for block in net.blocks:
        x = block(x)
        shapes.append(tuple(x.shape))
    return shapes, x


def test_each_generator_layer_has_the_spec_output_shape():
    G = Generator()
    shapes, x = block_shapes(G, torch.randn(BATCH, 100, 1, 1))
    assert shapes == [(BATCH, 512, 4, 4), (BATCH, 256, 8, 8), (BATCH, 128, 16, 16), (BATCH, 64, 32, 32), (BATCH, 1, 64, 64)]
    assert -1 <= x.min() and x.max() <= 1  # tanh output
    assert G(torch.randn(BATCH, 100)).shape == (BATCH, 1, 64, 64)  # flat z is accepted too


def test_each_discriminator_layer_has_the_spec_output_shape():
    D = Discriminator()
    shapes, _ = block_shapes(D, torch.randn(BATCH, 1, 64, 64))
    assert shapes == [(BATCH, 64, 32, 32), (BATCH, 128, 16, 16), (BATCH, 256, 8, 8), (BATCH, 512, 4, 4), (BATCH, 1, 1, 1)]
    assert D(torch.randn(BATCH, 1, 64, 64)).shape == (BATCH,)  # one logit per image


def test_kernels_strides_and_paddings_are_the_specs():
    convs = lambda m, kind: [c for c in m.modules() if isinstance(c, kind)]  # noqa: E731
    g, d = convs(Generator(), nn.ConvTranspose2d), convs(Discriminator(), nn.Conv2d)
    assert [(c.kernel_size, c.stride, c.padding) for c in g] == [((4, 4), (1, 1), (0, 0))] + [((4, 4), (2, 2), (1, 1))] * 4
    assert [(c.kernel_size, c.stride, c.padding) for c in d] == [((4, 4), (2, 2), (1, 1))] * 4 + [((4, 4), (1, 1), (0, 0))]
    assert [c.out_channels for c in g] == [512, 256, 128, 64, 1] and [c.out_channels for c in d] == [64, 128, 256, 512, 1]
    activations = [m for m in DCGAN().modules() if isinstance(m, nn.LeakyReLU)]
    assert len(activations) == 8 and all(a.negative_slope == 0.2 for a in activations)
    assert any(isinstance(m, nn.Tanh) for m in Generator().modules())
    assert not any(isinstance(m, nn.Sigmoid) for m in Discriminator().modules())  # D returns a logit


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_with_batch_norm_match_the_spec_by_hand():
    # weights in*out*4*4; batch norm: scale and shift per channel; a bias only on the output layers
    g = (100 * 512 * 16 + 2 * 512) + (512 * 256 * 16 + 2 * 256) + (256 * 128 * 16 + 2 * 128) + (128 * 64 * 16 + 2 * 64) + (64 * 1 * 16 + 1)
    d = (1 * 64 * 16 + 2 * 64) + (64 * 128 * 16 + 2 * 128) + (128 * 256 * 16 + 2 * 256) + (256 * 512 * 16 + 2 * 512) + (512 * 1 * 16 + 1)
    assert (g, d) == (3_574_657, 2_763_649)
    assert count(Generator()) == g and count(Discriminator()) == d


def test_parameter_counts_without_batch_norm_match_the_spec_by_hand():
    # every convolution has a bias instead
    g = (100 * 512 * 16 + 512) + (512 * 256 * 16 + 256) + (256 * 128 * 16 + 128) + (128 * 64 * 16 + 64) + (64 * 16 + 1)
    d = (16 * 64 + 64) + (64 * 128 * 16 + 128) + (128 * 256 * 16 + 256) + (256 * 512 * 16 + 512) + (512 * 16 + 1)
    assert count(Generator(batchnorm=False)) == g == 3_573_697
    assert count(Discriminator(batchnorm=False)) == d == 2_762_689


def test_batch_norm_switch():
    bn = lambda m: [x for x in m.modules() if isinstance(x, nn.BatchNorm2d)]  # noqa: E731
    assert [b.num_features for b in bn(DCGAN())] == [512, 256, 128, 64, 64, 128, 256, 512]
    off = DCGAN(batchnorm=False)
    assert bn(off) == []
    assert all(c.bias is not None for c in off.modules() if isinstance(c, nn.Conv2d | nn.ConvTranspose2d))
    hidden_convs = [b[0] for net in (DCGAN().G, DCGAN().D) for b in net.blocks[:-1]]
    assert all(c.bias is None for c in hidden_convs)  # batch norm's shift replaces the bias


def stats(t: torch.Tensor) -> tuple[float, float]:
    return t.mean().item(), t.std().item()


def test_initialisation_is_actually_applied():
    gan = DCGAN(generator=torch.Generator().manual_seed(0))
    convs = [m for m in gan.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
    norms = [m for m in gan.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(convs) == 10 and len(norms) == 8
    for c in convs:
        mean, std = stats(c.weight)
        n = c.weight.numel()  # the standard error of a sample std is about std / sqrt(2n)
        assert abs(mean) < 5 * 0.02 / n**0.5 and std == pytest.approx(0.02, rel=5 / (2 * n) ** 0.5), c
        assert c.bias is None or torch.all(c.bias == 0)
    for b in norms:
        mean, std = stats(b.weight)
        n = b.weight.numel()
        assert mean == pytest.approx(1.0, abs=5 * 0.02 / n**0.5) and std == pytest.approx(0.02, rel=5 / (2 * n) ** 0.5)
        assert torch.all(b.bias == 0)


def test_the_checks_above_would_catch_a_missing_initialisation():
    """PyTorch's default initialisation differs: batch-norm scales are all 1, conv weights not N(0, 0.02^2)."""
    G = Generator()
    assert all(torch.all(b.weight == 1) for b in G.modules() if isinstance(b, nn.BatchNorm2d))
    big = G.blocks[1][0].weight
    assert stats(big)[1] != pytest.approx(0.02, rel=0.05)
    init_weights(G, torch.Generator().manual_seed(0))
    assert stats(big)[1] == pytest.approx(0.02, rel=0.01)


def test_initialisation_is_reproducible_from_the_generator():
    a, b = DCGAN(generator=torch.Generator().manual_seed(1)), DCGAN(generator=torch.Generator().manual_seed(1))
    c = DCGAN(generator=torch.Generator().manual_seed(2))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.G.blocks[0][0].weight, c.G.blocks[0][0].weight)


def test_generate_gives_images_in_the_unit_interval_and_keeps_the_mode():
    gan = DCGAN(generator=torch.Generator().manual_seed(0))
    images = gan.generate(gan.noise(4, torch.Generator().manual_seed(1)))
    assert images.shape == (4, 1, 64, 64) and 0 <= images.min() and images.max() <= 1
    assert gan.G.training  # back in training mode afterwards
    assert set(DCGAN.shapes(100, True)) == set(gan.state_dict())


def test_calling_the_gan_is_generate_in_evaluation_mode_with_gradients():
    gan = DCGAN(generator=torch.Generator().manual_seed(0))
    z = gan.noise(3, torch.Generator().manual_seed(1))
    gan.eval()
    images = gan(z)
    assert torch.equal(images, gan.generate(z)) and images.shape == (3, 1, 64, 64)
    images.sum().backward()
    assert gan.G.blocks[0][0].weight.grad is not None
    gan.train()
    assert gan(z.flatten(1)).shape == (3, 1, 64, 64) and 0 <= gan(z).min() and gan(z).max() <= 1
