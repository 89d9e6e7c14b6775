"""Aligner (Ji et al. 2024): a small corrector that reads a question and an upstream model's answer and writes a
corrected answer; trained once by supervised learning, then stacked on any upstream model.

- ``template``  the upstream template (question, answer, correction), encoding with the loss on the correction only
- ``data``      the released question/answer/correction format through ``datasets``; the world's questions
                split into training and held-out ones; triples from the PKU-SafeRLHF world, filtered by its judge
- ``model``     two-stage training (identity warm-up on Q-A-A, then Q-A-C), the cached Aligner, ``correct``
                over any text-in/text-out upstream function, win rates by the world's truth
"""
