"""genlab.devices: --device parsing."""

import pytest
import torch

from genlab.devices import resolve_device
from genlab.errors import ConfigError


def test_auto_is_cuda_when_available_else_cpu():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(ConfigError, match="--device cuda:1: CUDA is not available"):
        resolve_device("cuda:1")


def test_unknown_device_is_rejected():
    with pytest.raises(ConfigError, match="expected auto, cpu, cuda, cuda:N or mps, got 'tpu'"):
        resolve_device("tpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("family", ["rbm", "vae", "dcgan"])
def test_a_model_built_on_cuda_from_a_cpu_generator_equals_the_cpu_model_moved(family):
    from genlab.models.dcgan import DCGAN
    from genlab.models.rbm import RBM
    from genlab.models.vae import VAE

    build = {"rbm": lambda **kw: RBM(784, 100, 0.1, **kw), "vae": lambda **kw: VAE(784, 20, (200, 200), "softplus", **kw),
             "dcgan": lambda **kw: DCGAN(**kw)}[family]
    on_cpu = build(generator=torch.Generator().manual_seed(0))
    on_cuda = build(generator=torch.Generator().manual_seed(0), device="cuda")
    for (name, a), b in zip(on_cpu.state_dict().items(), on_cuda.state_dict().values()):
        assert b.device.type == "cuda" and torch.equal(a, b.cpu()), name
