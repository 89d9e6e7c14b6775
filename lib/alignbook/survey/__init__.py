"""The survey chapter's demos: one small, fast experiment per part of the alignment cycle.

- ``cycle``:             the alignment cycle and RICE, drawn (home page and chapter)
- ``feedback``:          learning from feedback: a Bradley-Terry reward model recovers a hidden utility
- ``misgeneralisation``: learning under distribution shift: goal misgeneralisation in a grid world
"""
