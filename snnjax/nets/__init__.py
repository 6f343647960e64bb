"""Q-networks and their files: the Nature-DQN and MLP in Flax with their layer specs
(`models`), Q-network files (`.npz` + metadata, float or int8) and trainer checkpoints
(`checkpoint`, the only module that imports orbax). May import `snnjax.core`.
"""
