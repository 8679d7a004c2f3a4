"""Choosing the device: ``auto`` (CUDA when available, else the CPU), ``cpu``, ``cuda``, ``cuda:N``, ``mps``."""

from __future__ import annotations

import os
import re

import torch

from genlab.errors import ConfigError


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    if isinstance(name, torch.device):
        return name
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", name)
    if match:
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {name}: CUDA is not available on this machine (use --device cpu or auto)")
        index = int(match.group(1) or 0)
        if index >= torch.cuda.device_count():
            raise ConfigError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) present")
        return torch.device("cuda", index)
    if name == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError("--device mps: Apple's MPS backend is not available on this machine")
        return torch.device("mps")
    raise ConfigError(f"--device: expected auto, cpu, cuda, cuda:N or mps, got {name!r}")


def describe(device: torch.device) -> str:
    """A human-readable device name for reports, e.g. 'cuda (NVIDIA H100 80GB HBM3)'."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        import platform

        threads = torch.get_num_threads()
        return f"cpu ({platform.processor() or platform.machine()}, {threads} thread{'' if threads == 1 else 's'})"
    return device.type


def memory_of(device: torch.device) -> int:
    """The bytes of memory a device has in all: the GPU's own, or the machine's."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_fits(nbytes: int, device: torch.device, what: str, advice: str) -> None:
    """Refuse, before anything is allocated, work whose estimated memory exceeds the device's."""
    have = memory_of(device)
    if nbytes > have:
        raise ConfigError(f"{what} would need about {nbytes / 1e9:,.1f} GB, more than the {have / 1e9:,.1f} GB "
                          f"of {describe(device)}; {advice}")
