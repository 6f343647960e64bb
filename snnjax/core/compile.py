"""jit with the fast CPU convolution option where the installed JAX accepts it.

jax 0.10's CPU backend routes the Nature-DQN convolutions to a slow path; the experimental
YNNPACK fusion option sends them to the matmul library instead (see PERF_NOTES: a batch-32
update 90 ms -> 46 ms). Of its values, INDIVIDUAL_DOT hands each dot and convolution to YNNPACK
on its own; DOT (used before) also fuses a dense layer's bias add into the library call, which
ran that matmul at half speed (measured side by side on this 2-core CPU, [512, 3136] x [3136, 512]
plus bias: 14-25 GFLOP/s with DOT, 55-60 with INDIVIDUAL_DOT; convolutions 47-54 with either,
18-21 without the option). The option is experimental, so it is tried and dropped cleanly if
the compiler rejects it, and never used off the CPU.

A program that takes int8 arrays (the int8 simulator, `snn.to_int8`) compiles WITHOUT it: the
option turns int8 convolutions into s32 x s32 ones at 2-7 GOP/s, while the default compile runs
them at 600-660 GOP/s (conv2/conv3 of the Nature-DQN at 64 rows, measured side by side), and
the default compile's float32 convolutions are within 0.5-0.9x of the option's.
"""

from __future__ import annotations

import functools
import os
import warnings

import jax

FAST_CPU_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}


@functools.cache
def fast_options_supported() -> bool:
    """Whether this JAX's CPU compiler accepts `FAST_CPU_OPTIONS` (checked once)."""
    if jax.default_backend() != "cpu":
        return False
    try:
        jax.jit(lambda x: x + 1).lower(1.0).compile(compiler_options=FAST_CPU_OPTIONS)
        return True
    except Exception:  # noqa: BLE001 - any rejection means "not supported here"
        return False


INT8_DOT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")  # /proc/cpuinfo flags of int8 dot-product units
INT8_ENV = "SNNJAX_INT8"  # "auto" (default), "int8" or "float32": how spikes x int8 kernels are summed


def cpu_has_int8_dots(flags: str) -> bool:
    """Whether a CPU with these /proc/cpuinfo `flags` has int8 dot-product units (VNNI or AMX)."""
    return bool(set(flags.split()) & set(INT8_DOT_FLAGS))


@functools.cache
def int8_dots_fast() -> bool:
    """Whether spikes x int8 kernels run faster as int8 x int8 -> int32 than as float32 here.

    Accelerators and CPUs with int8 dot-product units (`INT8_DOT_FLAGS`): yes (on a CPU with AMX,
    2.7-5.4x the float32 program, BENCHMARKS.md). A CPU without them (AVX2 only): no, XLA's int8
    products there ran at half the speed of the float32 ones (`bench/arithmetic.py`). The
    environment variable SNNJAX_INT8 = "int8" or "float32" overrides the choice; both are exact."""
    choice = os.environ.get(INT8_ENV, "auto")
    if choice not in ("auto", "int8", "float32"):
        raise ValueError(f"{INT8_ENV}={choice!r}; allowed: auto, int8, float32")
    if choice != "auto":
        return choice == "int8"
    if jax.default_backend() != "cpu":
        return True
    name, flags = cpu_info()
    if name is None:
        return True  # no /proc/cpuinfo (not Linux): keep the int8 program
    return cpu_has_int8_dots(flags)


def cpu_info() -> tuple[str | None, str]:
    """(the CPU's model name, its flags) from /proc/cpuinfo; (None, "") where there is none."""
    try:
        with open("/proc/cpuinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return None, ""
    field = lambda key: next((x.split(":", 1)[1].strip() for x in lines if x.startswith(key)), "")  # noqa: E731
    return field("model name") or "unknown CPU", field("flags")


def machine_kind() -> str:
    """The kind of machine a timing was measured on, as far as the simulator's speed goes:
    "<backend>:int8" where spikes x int8 kernels run as int8 products, "<backend>:float32" where
    they are summed in float32 (`int8_dots_fast`)."""
    return f"{jax.default_backend()}:{'int8' if int8_dots_fast() else 'float32'}"


def takes_int8(*args, **kwargs) -> bool:
    """Whether any array among the arguments is int8 (then `compile_fast` keeps the default)."""
    return any(str(getattr(x, "dtype", "")) == "int8" for x in jax.tree_util.tree_leaves((args, kwargs)))


def compile_fast(fn, *args, fast: bool = True, donate_argnums=(), **kwargs):
    """AOT-compile `jax.jit(fn)` for these argument shapes, with the fast CPU option if possible
    (never for int8 arguments, see the module docstring).

    Returns a compiled callable that accepts arguments of exactly these shapes and dtypes.
    """
    lowered = jax.jit(fn, donate_argnums=donate_argnums).lower(*args, **kwargs)
    if fast and fast_options_supported() and not takes_int8(*args, **kwargs):
        try:
            return lowered.compile(compiler_options=FAST_CPU_OPTIONS)
        except Exception as exc:  # noqa: BLE001
            warnings.warn(f"fast CPU compile option rejected ({exc}); using the default compile")
    return lowered.compile()


class FastJit:
    """Like `jax.jit`, but each new input signature is compiled with `compile_fast`.

    Static arguments are not supported: close over them instead.
    """

    def __init__(self, fn, fast: bool = True):
        self.fn = fn
        self.fast = fast
        self._cache: dict = {}

    def __call__(self, *args):
        sig = jax.tree_util.tree_structure(args), tuple(
            (getattr(x, "shape", ()), str(getattr(x, "dtype", type(x))))
            for x in jax.tree_util.tree_leaves(args)
        )
        compiled = self._cache.get(sig)
        if compiled is None:
            compiled = self._cache[sig] = compile_fast(self.fn, *args, fast=self.fast)
        return compiled(*args)

    def compiled_text(self) -> str:
        """The optimized HLO of the last signature compiled (for inspection, e.g. the bench)."""
        if not self._cache:
            raise RuntimeError("nothing compiled yet: call the function first")
        return list(self._cache.values())[-1].as_text()
