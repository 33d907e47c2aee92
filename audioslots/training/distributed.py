"""Running on clusters: many processes through ``torchrun``, and preemption signals.

One process per GPU (or per CPU worker), started by PyTorch's own launcher; the command is the
one-process command with ``torchrun`` in front::

    torchrun --standalone --nproc-per-node 8 -m audioslots train --preset paper \\
        --data /data/Libri2Mix --out results/paper/audioslots_0.5s

On several machines, the same command on every node, meeting at a rendezvous (torchrun's c10d
rendezvous; the endpoint is any free port on one of the nodes, the id any name shared by the job)::

    torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint node01:29500 \\
        --rdzv-id audioslots-paper -m audioslots train --preset paper --data /data/Libri2Mix --out R

Every node must see the data and the run folder at the same paths (a shared file system): every
process reads the checkpoint when it resumes; rank 0 alone writes the log, checkpoint, config
and progress bar.

What the processes share:

- The global batch of step ``k`` is the preset's batch. Every process draws the whole batch's
  mixtures and offsets from ``(seed, k)`` and reads only its own slice (:func:`batch_part`), so a
  run gives the same batches, and resumes, with any number of processes.
- Gradients are averaged over processes (``DistributedDataParallel``: NCCL on CUDA, gloo on the
  CPU), so an update is the update of the global batch.
- BatchNorm: on CUDA, ``SyncBatchNorm`` normalises over the global batch. torch has no
  SyncBatchNorm on the CPU ("SyncBatchNorm layers only work with GPU modules"), so there each
  process normalises its own part of the batch: a CPU run with N processes is close to, not equal
  to, the one-process run.

Preemption (:class:`StopSignals`): SIGTERM (what SLURM sends before it kills a job) or SIGUSR1
(``sbatch --signal=USR1@120``) makes training finish its step, checkpoint and stop; re-running
the same command resumes. Under torchrun, send SIGTERM to torchrun (it forwards it to every
process) or the signal to the training processes themselves: torchrun does not forward SIGUSR1.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist

from audioslots.errors import ConfigError

#: The signals that ask a run to checkpoint and stop.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


@dataclass(frozen=True)
class Ranks:
    """Where this process stands in a torchrun job; one process alone is rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0  # index of this process on its machine: its GPU

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the process that writes files and shows progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def ranks_from_environment(environ: dict | None = None) -> Ranks:
    """The ranks ``torchrun`` sets in ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; one process without them."""
    environ = os.environ if environ is None else environ
    try:
        return Ranks(int(environ.get("RANK", 0)), int(environ.get("WORLD_SIZE", 1)), int(environ.get("LOCAL_RANK", 0)))
    except ValueError:
        raise ConfigError(
            "RANK, WORLD_SIZE or LOCAL_RANK is set but not a whole number; start several processes with "
            "torchrun, or unset these variables to train in one process."
        ) from None


def process_device(device: torch.device, ranks: Ranks) -> torch.device:
    """This process's device: ``cuda:LOCAL_RANK`` for CUDA under torchrun, ``device`` otherwise."""
    if device.type == "cuda" and ranks.distributed:
        if ranks.local_rank >= torch.cuda.device_count():
            raise ConfigError(
                f"Process {ranks.rank} has LOCAL_RANK {ranks.local_rank} but this machine has "
                f"{torch.cuda.device_count()} GPU(s); use --nproc-per-node {torch.cuda.device_count()} or fewer."
            )
        return torch.device("cuda", ranks.local_rank)
    return device


def batch_part(batch_size: int, ranks: Ranks) -> slice:
    """The crops of the global batch this process trains on: an equal, contiguous share."""
    if batch_size % ranks.world_size:
        raise ConfigError(
            f"The batch of {batch_size} crops cannot be split evenly across {ranks.world_size} processes; "
            f"use --batch-size a multiple of {ranks.world_size} or another --nproc-per-node."
        )
    size = batch_size // ranks.world_size
    return slice(ranks.rank * size, (ranks.rank + 1) * size)


@contextmanager
def process_group(device: torch.device, ranks: Ranks):
    """Join the torchrun job for the duration of a run (NCCL on CUDA, gloo on the CPU).

    Yields the group for host-side agreement (:func:`any_rank`): gloo, so that agreeing costs no
    GPU synchronisation. Nothing happens for one process or when the caller already joined.
    """
    if not ranks.distributed:
        yield None
        return
    joined_here = not dist.is_initialized()
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if joined_here:
        if device.type == "cuda":
            dist.init_process_group("nccl", device_id=device)
        else:
            dist.init_process_group("gloo")
    control = None if dist.get_backend() == "gloo" else dist.new_group(backend="gloo")
    try:
        yield control
    finally:
        if joined_here:
            dist.destroy_process_group()


def synchronise_batch_norm(model: torch.nn.Module, device: torch.device, ranks: Ranks) -> torch.nn.Module:
    """BatchNorm over the global batch (``SyncBatchNorm``) on CUDA under torchrun; ``model`` otherwise.

    The parameters and buffers are the same tensors, and the state dict has the same keys, so a
    checkpoint loads into the plain model.
    """
    if ranks.distributed and device.type == "cuda":
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model  # CPU: SyncBatchNorm is CUDA-only, each process normalises its own crops


def data_parallel(model: torch.nn.Module, device: torch.device, ranks: Ranks) -> torch.nn.Module:
    """``model`` whose gradients are averaged over all processes (DDP); ``model`` itself for one process."""
    if not ranks.distributed:
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def mean_over_ranks(value: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """The mean of a scalar over all processes, the same on each (no host sync on CUDA)."""
    if not ranks.distributed:
        return value
    total = value.detach().clone()
    dist.all_reduce(total)  # gloo has no AVG: sum, then divide
    return total / ranks.world_size


def any_rank(flag: bool, ranks: Ranks, group=None) -> bool:
    """``True`` on every process when ``flag`` is true on any, so that all stop at the same step.

    A CPU all-reduce over gloo: it waits for the other processes, not for the GPU.
    """
    if not ranks.distributed:
        return flag
    value = torch.tensor([int(flag)])
    dist.all_reduce(value, op=dist.ReduceOp.MAX, group=group)
    return bool(value.item())


class StopSignals:
    """Remembers SIGTERM/SIGUSR1 instead of dying, so the loop can finish its step and checkpoint.

    Used as a context manager; the previous handlers come back on exit. Outside the main thread
    (where Python cannot install handlers) it does nothing.
    """

    def __init__(self):
        self.received: signal.Signals | None = None
        self._previous: dict = {}

    def _handle(self, signum, frame) -> None:
        self.received = signal.Signals(signum)

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in STOP_SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}
