"""Devices and processes: one mesh helper, each process's share of the envs, the gather.

Within a process, a batch axis is sharded over every local device along one mesh axis
("batch"), padded to a multiple of the device count. Across processes (`jax.distributed`),
each process plays a contiguous share of the envs; `gather` all-gathers the per-env results
so every process holds the whole table and process 0 writes it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.core.validate import ValidationError


class ParallelError(ValidationError):
    """Bad device or process setup."""


def local_mesh() -> jax.sharding.Mesh:
    """A 1-D mesh ("batch",) over this process's devices."""
    return jax.sharding.Mesh(np.asarray(jax.local_devices()), ("batch",))


def shard(x, axis: int = 0) -> tuple[jax.Array, int]:
    """Put `axis` of `x` across all local devices, zero-padded to a multiple of their count.

    Returns (x, original length of `axis`). One device: x unchanged (as a jax array)."""
    x = jnp.asarray(x)
    n = x.shape[axis]
    d = jax.local_device_count()
    if d == 1:
        return x, n
    pad = (-n) % d
    if pad:
        widths = [(0, 0)] * x.ndim
        widths[axis] = (0, pad)
        x = jnp.pad(x, widths)
    spec = [None] * x.ndim
    spec[axis] = "batch"
    sharding = jax.sharding.NamedSharding(local_mesh(), jax.sharding.PartitionSpec(*spec))
    return jax.device_put(x, sharding), n


def process_share(n: int, index: int | None = None, count: int | None = None) -> tuple[int, int]:
    """[lo, hi): the contiguous share of n items of process `index` of `count` (default: this one)."""
    index = jax.process_index() if index is None else index
    count = jax.process_count() if count is None else count
    if n < count:
        raise ParallelError(f"{n} episodes cannot be shared by {count} processes; use at least {count}")
    base, extra = divmod(n, count)
    lo = index * base + min(index, extra)
    return lo, lo + base + (1 if index < extra else 0)


def gather(local: np.ndarray, n: int, axis: int = 1) -> np.ndarray:
    """All processes' shares of `axis` (length n in all), in process order. One process: `local`."""
    count = jax.process_count()
    if count == 1:
        return np.asarray(local)
    from jax.experimental import multihost_utils

    size = -(-n // count)  # every process sends the same shape
    local = np.asarray(local)
    widths = [(0, 0)] * local.ndim
    widths[axis] = (0, size - local.shape[axis])
    every = np.asarray(multihost_utils.process_allgather(np.pad(local, widths)))  # [count, ...]
    parts = []
    for i in range(count):
        lo, hi = process_share(n, i, count)
        parts.append(np.take(every[i], np.arange(hi - lo), axis=axis))
    return np.concatenate(parts, axis=axis)


def broadcast(x: np.ndarray) -> np.ndarray:
    """Process 0's `x` on every process (one process: `x`)."""
    if jax.process_count() == 1:
        return np.asarray(x)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.broadcast_one_to_all(np.asarray(x)))


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
    """Start `jax.distributed` before the first JAX computation.

    With no arguments JAX detects the cluster (TPU slices, SLURM, ...). On CPU hosts the
    collectives use gloo. Call once per process."""
    if (num_processes is None) != (process_id is None):
        raise ParallelError("give both --num-processes and --process-id, or neither")
    if num_processes is not None and not 0 <= process_id < num_processes:
        raise ParallelError(f"--process-id must be in [0, {num_processes}), got {process_id}")
    try:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except (AttributeError, ValueError):  # option absent in this JAX: CPU collectives unavailable
        pass
    kwargs = {k: v for k, v in dict(coordinator_address=coordinator, num_processes=num_processes,
                                    process_id=process_id).items() if v is not None}
    jax.distributed.initialize(**kwargs)
