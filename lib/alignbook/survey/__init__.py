"""The survey's demos: one small, fast experiment per part of the alignment cycle.

The overview chapter (notebooks/survey):

- ``cycle``:             the alignment cycle and RICE, drawn (home page and chapter)
- ``feedback``:          learning from feedback: a Bradley-Terry reward model recovers a hidden utility
- ``misgeneralisation``: learning under distribution shift: goal misgeneralisation in a grid world

The demonstrations of the parts (notebooks/demo_*):

- ``dpo``:               direct preference optimisation against RLHF on the Bradley-Terry world of ``feedback``
- ``debate``:            scalable oversight: a judge who reads one digit decides debates about long sums
- ``shift``:             ERM, risk extrapolation and group DRO on a task whose shortcut reverses at test time
- ``probing``:           interpretability: a linear probe and activation patching on a tiny Baichuan-style decoder
"""
