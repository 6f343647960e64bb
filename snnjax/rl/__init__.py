"""Reinforcement learning: envpool Atari and CartPole under the training and evaluation
protocols (`envs`, the only module that imports envpool), the replay buffer, DQN and SNN agents
(`agents`), the one play loop sharded over devices and processes (`play`: scores, calibration
frames), the DQN and PQN trainers (`dqn`, `pqn`) and their settings (`config`). May import
`snnjax.core`, `snnjax.nets`, `snnjax.snn` and `snnjax.conversion`.
"""
