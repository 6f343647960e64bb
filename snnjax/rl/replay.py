"""Replay buffer of single frames; frame stacks and n-step returns rebuilt on sampling.

Layout: one circular stream per env, `frames[E, C, *frame_shape]` (uint8 for Atari), so a
frame is stored once, not four times: 1M Atari transitions take 84*84 B = 7.1 GB instead of
26 GB for stored stacks. Each slot also holds the transition that leaves it (action, clipped
reward, terminal flag) and whether that transition exists (`has_next`: false for the last
frame of an episode and for the newest frame).

Episode boundaries: envpool fills a new episode's stack with copies of its first frame, so a
rebuilt stack never reaches back past a frame flagged `first`; it repeats that frame instead.
After a lost life (episodic life) envpool keeps the older frames in its stack while we repeat
the first frame: the first 3 stacks after a life loss differ slightly from what the agent saw.
"""

from __future__ import annotations

import numpy as np


class ReplayBuffer:
    """Per-env circular frame streams with stack and n-step return rebuilding.

    Args:
      num_envs: E, parallel env streams.
      capacity: total transitions over all streams (each stream holds capacity // E).
      frame_shape: shape of one stored frame ((84, 84) for Atari, (4,) for CartPole).
      stack: frames per observation (4 for Atari, 1 for vector observations).
      dtype: frame dtype.
    """

    def __init__(self, num_envs: int, capacity: int, frame_shape, stack: int, dtype=np.uint8):
        per_env = capacity // num_envs
        if per_env < stack + 2:
            raise ValueError(f"replay capacity {capacity} too small for {num_envs} envs")
        self.E, self.C, self.stack = num_envs, per_env, stack
        self.frames = np.zeros((num_envs, per_env, *frame_shape), dtype)
        self.first = np.zeros((num_envs, per_env), bool)
        self.action = np.zeros((num_envs, per_env), np.int32)
        self.reward = np.zeros((num_envs, per_env), np.float32)
        self.terminal = np.zeros((num_envs, per_env), bool)
        self.has_next = np.zeros((num_envs, per_env), bool)
        self.count = np.zeros(num_envs, np.int64)  # frames ever written per stream

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.frames, self.first, self.action, self.reward,
                                      self.terminal, self.has_next))

    def __len__(self) -> int:
        return int(np.minimum(self.count, self.C).sum())

    def add_frames(self, frames: np.ndarray, first: np.ndarray, envs: np.ndarray | None = None):
        """Append one frame to each stream in `envs` (all by default). frames: [len(envs), ...]."""
        envs = np.arange(self.E) if envs is None else np.asarray(envs)
        slot = self.count[envs] % self.C
        self.frames[envs, slot] = frames
        self.first[envs, slot] = first
        self.has_next[envs, slot] = False
        self.count[envs] += 1

    def add_transition(self, frames, action, reward, terminal, envs=None):
        """Record (action, reward, terminal) leaving each stream's newest frame, then append the
        frame it led to. frames: [len(envs), ...]; the others [len(envs)]."""
        envs = np.arange(self.E) if envs is None else np.asarray(envs)
        prev = (self.count[envs] - 1) % self.C
        self.action[envs, prev] = action
        self.reward[envs, prev] = reward
        self.terminal[envs, prev] = terminal
        self.has_next[envs, prev] = True
        self.add_frames(frames, np.zeros(len(envs), bool), envs)

    def _stack(self, env: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Observations [B, stack, *frame] ending at absolute positions `pos` of streams `env`."""
        if self.stack == 1:
            return self.frames[env, pos % self.C]
        idx = [pos]
        for _ in range(self.stack - 1):
            cur = idx[-1]
            idx.append(np.where(self.first[env, cur % self.C], cur, cur - 1))
        idx = np.stack(idx[::-1], axis=1)  # [B, stack], oldest first
        return self.frames[env[:, None], idx % self.C]

    def _valid_range(self, n_step: int):
        lo = np.maximum(self.count - self.C + self.stack - 1, 0)
        hi = self.count - 1 - n_step  # inclusive: the bootstrap frame must exist
        return lo, hi

    def can_sample(self, n_step: int = 1) -> bool:
        lo, hi = self._valid_range(n_step)
        return bool(np.any(hi >= lo))

    def sample(self, rng: np.random.Generator, batch_size: int, n_step: int = 1, gamma: float = 0.99):
        """Uniform sample of transitions with n-step returns.

        Returns dict: obs [B, stack, *frame] (or [B, *frame] for stack 1), action [B],
        ret [B] = sum_k gamma^k r_{t+k} up to n steps or the episode's end, discount [B] =
        gamma^m (0 if the episode terminated within the m <= n steps), next_obs like obs.
        """
        lo, hi = self._valid_range(n_step)
        weights = np.maximum(hi - lo + 1, 0).astype(np.float64)
        if weights.sum() <= 0:
            raise ValueError("replay buffer holds no complete transition yet")
        env_out, pos_out = [], []
        need = batch_size
        while need > 0:
            m = 2 * need + 8
            env = rng.choice(self.E, size=m, p=weights / weights.sum())
            pos = lo[env] + (rng.random(m) * (hi[env] - lo[env] + 1)).astype(np.int64)
            ok = self.has_next[env, pos % self.C]
            env_out.append(env[ok][:need])
            pos_out.append(pos[ok][:need])
            need -= len(env_out[-1])
        env = np.concatenate(env_out)
        pos = np.concatenate(pos_out)
        ret = np.zeros(batch_size, np.float32)
        alive = np.ones(batch_size, bool)  # still inside the episode, bootstrapping ahead
        steps = np.zeros(batch_size, np.int64)
        disc_terminal = np.zeros(batch_size, bool)
        for k in range(n_step):
            slot = (pos + k) % self.C
            ret += np.where(alive, (gamma ** k) * self.reward[env, slot], 0.0).astype(np.float32)
            steps += alive
            term = self.terminal[env, slot]
            disc_terminal |= alive & term
            # Continue only while a next transition exists (not terminal, not truncated end).
            alive &= ~term & self.has_next[env, (pos + k + 1) % self.C]
        discount = np.where(disc_terminal, 0.0, gamma ** steps).astype(np.float32)
        return dict(
            obs=self._stack(env, pos),
            action=self.action[env, pos % self.C],
            ret=ret,
            discount=discount,
            next_obs=self._stack(env, pos + steps),
        )
