"""Choosing the torch device a run uses and its fast paths, and measuring its peak memory."""

from __future__ import annotations

import resource
import sys
from dataclasses import dataclass

import torch

from asib_sweeps.config import CompileMode, RuntimeConfig, amp_problem


@dataclass(frozen=True)
class FastPaths:
    """The runtime switches resolved for the device the run actually trains on."""

    autocast: bool
    channels_last: bool
    compile: CompileMode


def resolve_fast_paths(runtime: RuntimeConfig, device: torch.device) -> FastPaths:
    """`auto` means on for CUDA (bf16 autocast only where the GPU supports bf16), off elsewhere."""
    problem = amp_problem(runtime.amp, device.type)
    if problem:
        raise ValueError(problem)
    cuda = device.type == "cuda"
    autocast = runtime.amp is True or (runtime.amp == "auto" and cuda and torch.cuda.is_bf16_supported())
    channels_last = runtime.channels_last is True or (runtime.channels_last == "auto" and cuda)
    return FastPaths(autocast=autocast, channels_last=channels_last, compile=runtime.compile)


def resolve_device(name: str) -> torch.device:
    """`auto` is CUDA when present, else CPU; an explicit CUDA device must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={name!r} asks for CUDA, but torch sees no CUDA device; use device='cpu' or 'auto'")
    return device


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> float:
    """CUDA max allocated since the last reset, or on CPU the process's peak RSS.

    The CPU figure is the peak over the process's life (the OS offers no reset), so
    it is monotone across epochs.
    """
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10
