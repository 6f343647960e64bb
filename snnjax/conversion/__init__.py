"""DQN -> SNN conversion: data-based weight normalization by the p-th percentile of each
layer's activations (eq. 16, layer- or channel-wise; `normalize`), the conversion methods behind
one interface (`methods`: percentile, auto-p, QCFS), QCFS fine-tuning (`qcfs`) and the NIR
export (`nir`). May import `snnjax.core`, `snnjax.nets` and `snnjax.snn`.
"""
