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
